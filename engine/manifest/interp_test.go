package manifest

import (
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/diag"
)

func TestInterpolate(t *testing.T) {
	env := map[string]string{"A": "alpha", "EMPTY": "", "N": "42"}
	tests := []struct {
		in, want string
		errs     []string // substrings of the diagnostics, in order
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "alpha"},
		{in: "$A-$N", want: "alpha-42"},
		{in: "x${A}y", want: "xalphay"},
		{in: "$$", want: "$"},
		{in: "$${A}", want: "${A}"},
		{in: "cost: 5$", want: "cost: 5$"},
		{in: "pa$5word", want: "pa$5word"},
		{in: "${EMPTY:-d}", want: "d"},
		{in: "${EMPTY-d}", want: ""},
		{in: "${UNSET-d}", want: "d"},
		{in: "${UNSET:-${A}}", want: "alpha"},
		{in: "${UNSET:-a ${N} b}", want: "a 42 b"},
		{in: "${A:+set}", want: "set"},
		{in: "${UNSET:+set}", want: ""},
		{in: "${EMPTY+set}", want: "set"},
		{in: "${A:?needed}", want: "alpha"},
		{in: "${containers.db.ip}", want: "${containers.db.ip}"},
		{in: "${containers.my-db.outputs.url}/x", want: "${containers.my-db.outputs.url}/x"},
		{in: "${UNSET}", want: "", errs: []string{"warning: p: variable UNSET is not set; using an empty string"}},
		{in: "${UNSET:?give it}", errs: []string{"variable UNSET is not set: give it"}},
		{in: "${EMPTY:?}", errs: []string{"variable EMPTY is empty: it is required"}},
		{in: "${A", errs: []string{`unterminated ${ in "${A"`}},
		{in: "${}", errs: []string{"invalid variable name in ${}"}},
		{in: "${A:x}", errs: []string{"invalid interpolation ${A:x}"}},
		{in: "${containers..ip}", errs: []string{"invalid reference ${containers..ip}"}},
		{in: "${containers.db.ip:-x}", errs: []string{"invalid reference ${containers.db.ip:-x}"}},
	}
	for _, tt := range tests {
		ip := newInterpolator("f.yaml", env)
		got, ok := ip.expand(tt.in, diag.Pos{File: "f.yaml", Line: 3, Col: 7}, "p")
		if len(tt.errs) == 0 || !ip.ds.HasErrors() {
			if got != tt.want {
				t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		}
		if ok != !ip.ds.HasErrors() {
			t.Errorf("expand(%q): ok = %v with diagnostics %v", tt.in, ok, ip.ds)
		}
		if len(ip.ds) != len(tt.errs) {
			t.Errorf("expand(%q): diagnostics %q, want %q", tt.in, lines(ip.ds), tt.errs)
			continue
		}
		for i, d := range ip.ds {
			if !strings.Contains(d.Error(), tt.errs[i]) || !strings.HasPrefix(d.Error(), "f.yaml:3:7: ") {
				t.Errorf("expand(%q): diagnostic %q, want it to contain %q", tt.in, d.Error(), tt.errs[i])
			}
		}
	}
}

func TestDotEnv(t *testing.T) {
	data := "# comment\n\nA=1\nexport B = two words \nC=\"quoted # not a comment\\n\"\nD='single $x'\nE=value # comment\nbad line\n9X=1\nF=\"open\n"
	env, ds := parseDotEnv(".env", []byte(data))
	want := map[string]string{"A": "1", "B": "two words", "C": "quoted # not a comment\n", "D": "single $x", "E": "value"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if len(env) != len(want) {
		t.Errorf("env = %q, want %q", env, want)
	}
	wantDiags := []string{
		".env:8:1: invalid line: expected KEY=VALUE",
		".env:9:1: invalid line: expected KEY=VALUE",
		".env:10:1: F: unterminated double quote",
	}
	if got := lines(ds); strings.Join(got, "\n") != strings.Join(wantDiags, "\n") {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantDiags, "\n"))
	}
}

func TestReferences(t *testing.T) {
	got := references("a ${containers.db.ip} $${containers.x.ip} $$${params.p} ${HOME} ${bad..x}")
	want := []string{"containers.db.ip", "params.p"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("references = %q, want %q", got, want)
	}
}
