package render_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/lxcplan/lxcplan/engine/internal/golden"
	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/render"
)

// Another test file of this module may define -update too; define it only
// once and read it by name.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func configGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
}

// loadConfigStack resolves testdata/config/stack.yaml through every layer:
// built-in defaults, the user defaults file, the recipe, stack defaults, the
// container and --set.
func loadConfigStack(t *testing.T) *model.Desired {
	t.Helper()
	o := manifest.Options{
		Env:              map[string]string{},
		Sets:             []string{"db.memory=4096", "web.network.firewall=true", "web.tags=[a, b]"},
		UserDefaultsFile: "testdata/config/defaults.yaml",
		BuiltinRecipes:   os.DirFS("testdata/config/builtin"),
	}
	st, ds := manifest.LoadStackFile("testdata/config/stack.yaml", o)
	if ds.HasErrors() {
		t.Fatalf("load: %v", ds.Err())
	}
	d, ds := manifest.Resolve(st, o)
	if ds.HasErrors() {
		t.Fatalf("resolve: %v", ds.Err())
	}
	return d
}

func TestConfigGolden(t *testing.T) {
	d := loadConfigStack(t)
	for _, tt := range []struct {
		golden string
		fn     func(*bytes.Buffer, *model.Desired) error
	}{
		{"config_explain.golden", func(b *bytes.Buffer, d *model.Desired) error { return render.ConfigExplain(b, d) }},
		{"config_yaml.golden", func(b *bytes.Buffer, d *model.Desired) error { return render.ConfigYAML(b, d) }},
		{"config_json.golden", func(b *bytes.Buffer, d *model.Desired) error { return render.ConfigJSON(b, d) }},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.fn(&b, d); err != nil {
				t.Fatal(err)
			}
			configGolden(t, tt.golden, b.Bytes())
			// Deterministic: a second rendering is byte-identical.
			var again bytes.Buffer
			if err := tt.fn(&again, loadConfigStack(t)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Bytes(), again.Bytes()) {
				t.Errorf("%s: output differs between runs", tt.golden)
			}
		})
	}
}

// The YAML rendering must read back as the same document: manifest's YAML
// reader is the judge (render itself has no YAML library).
func TestConfigYAMLRoundTrip(t *testing.T) {
	d := loadConfigStack(t)
	var y, j bytes.Buffer
	if err := render.ConfigYAML(&y, d); err != nil {
		t.Fatal(err)
	}
	if err := render.ConfigJSON(&j, d); err != nil {
		t.Fatal(err)
	}
	fromYAML, err := manifest.YAMLToJSON(y.Bytes())
	if err != nil {
		t.Fatalf("rendered YAML does not parse: %v\n%s", err, y.Bytes())
	}
	fromJSON, err := manifest.YAMLToJSON(j.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fromYAML, fromJSON) {
		t.Errorf("YAML and JSON renderings differ:\nyaml: %s\njson: %s", fromYAML, fromJSON)
	}
}

// Strings that YAML would read as something else must come back unchanged
// from the YAML rendering.
func TestConfigYAMLQuoting(t *testing.T) {
	tricky := []string{"", "true", "True", "no", "off", "null", "~", "1", "-1", "+1", ".5", "1e3", "0x10", "0o17", "1_000",
		"2024-01-01", ".inf", ".nan", "a: b", "#x", "x #y", "- x", "@x", "`x", "'q'", "\"q\"", "ünïcode", "tab\there",
		"line\nbreak", "{a}", "[a]", "*alias", "&anchor", "!tag", "%x", "|", ">", "?", "a,b", "trailing ", " leading", "plain/path", "10.0.0.5/24"}
	for _, s := range tricky {
		d := &model.Desired{Stack: &model.Stack{Name: s}, Containers: []*model.Container{{
			Name: "c", Description: s, Tags: []string{s}, Hostname: s,
			Params: map[string]model.ResolvedParam{"p": {Value: s}},
		}}}
		var y, j bytes.Buffer
		if err := render.ConfigYAML(&y, d); err != nil {
			t.Fatal(err)
		}
		if err := render.ConfigJSON(&j, d); err != nil {
			t.Fatal(err)
		}
		fromYAML, err := manifest.YAMLToJSON(y.Bytes())
		if err != nil {
			t.Errorf("%q: rendered YAML does not parse: %v\n%s", s, err, y.Bytes())
			continue
		}
		fromJSON, err := manifest.YAMLToJSON(j.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fromYAML, fromJSON) {
			t.Errorf("%q: YAML reads back as %s, want %s", s, fromYAML, fromJSON)
		}
	}
}
