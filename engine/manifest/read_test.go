package manifest

import (
	"strings"
	"testing"
)

func TestYAMLSyntaxPositions(t *testing.T) {
	tests := []struct{ in, want string }{
		{"x:\n  a: 1\n  b: 2\n c: 3\n", "f.yaml:4:2: invalid YAML: did not find expected key"},
		{"a: 1\nb:\n  c: 1\n   d: 2\n", "f.yaml:4:4: invalid YAML: mapping values are not allowed in this context"},
		{"a: 1\nb: \"open\nc: 2\n", "f.yaml:2:1: invalid YAML: found unexpected end of stream"},
		{"a: 1\nb: x: y\nc: 2\n", "f.yaml:2:1: invalid YAML: mapping values are not allowed in this context"},
		{"a: 1\nb:\n\t- x\n", "f.yaml:3:1: invalid YAML: found character that cannot start any token"},
		{"a: 1\nb: [1, 2\nc: 3\n", "f.yaml:2:1: invalid YAML: did not find expected ',' or ']'"},
		{"a: 1\nb: *nope\n", "f.yaml: invalid YAML: unknown anchor 'nope' referenced"},
		{"a: 1\n---\nb: 2\n", "f.yaml:2:1: file contains more than one YAML document; put each recipe or stack in its own file"},
		{"---\n# only a comment\n", "f.yaml: file is empty"},
		{"~\n", "f.yaml: file is empty"},
		{"a: caf\xc3\n", "f.yaml:1:7: file is not valid UTF-8"},
		{"\xef\xbb\xbfa: 1\n", ""},
	}
	for _, tt := range tests {
		_, ds := parseYAML("f.yaml", []byte(tt.in))
		if got := strings.Join(lines(ds), "\n"); got != tt.want {
			t.Errorf("parseYAML(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAliasBombAndDepth(t *testing.T) {
	deep := strings.Repeat("[", 300) + strings.Repeat("]", 300)
	for _, in := range []string{deep, "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"} {
		root, ds := parseYAML("f.yaml", []byte(in))
		if ds.HasErrors() {
			t.Fatalf("parse: %v", ds)
		}
		d, ds := convert("f.yaml", root)
		if d != nil || !ds.HasErrors() {
			t.Errorf("convert(%.20q...) accepted it", in)
		}
	}
}
