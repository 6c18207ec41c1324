package manifest

import (
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestScalarValue(t *testing.T) {
	tests := []struct {
		in   string
		want any
		err  string
	}{
		{"a: 12", int64(12), ""},
		{"a: 0x1F", int64(31), ""},
		{"a: 0o17", int64(15), ""},
		{"a: -3", int64(-3), ""},
		{"a: 1.5", 1.5, ""},
		{"a: 1e3", 1000.0, ""},
		{"a: true", true, ""},
		{"a: False", false, ""},
		{"a: yes", "yes", ""}, // YAML 1.2: a string
		{"a: null", nil, ""},
		{"a: ~", nil, ""},
		{"a: 2024-01-02", "2024-01-02", ""},
		{"a: !!binary aGk=", "aGk=", ""},
		{"a: !!str 12", "12", ""},
		{"a: .inf", nil, `".inf" is not a finite number`},
		{"a: .nan", nil, `".nan" is not a finite number`},
		{"a: !!int x", nil, `invalid integer "x"`},
		{"a: !!bool x", nil, `invalid boolean "x"`},
		{"a: !!float x", nil, `invalid number "x"`},
		{"a: !thing x", nil, "unsupported YAML tag !thing"},
		{"a: 99999999999999999999", 1e20, ""},
	}
	for _, tt := range tests {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(tt.in), &n); err != nil {
			t.Fatal(err)
		}
		got, err := scalarValue(n.Content[0].Content[1])
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%s: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
	if f, err := scalarValue(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: "-.inf"}); err == nil {
		t.Errorf("-.inf = %v, want an error", f)
	}
}

func TestRetype(t *testing.T) {
	for in, want := range map[string]string{"8080": "!!int", "1.5": "!!float", "true": "!!bool", "": "!!null", "web": "!!str", "0x10": "!!int"} {
		n := &yaml.Node{Kind: yaml.ScalarNode, Value: in}
		retype(n)
		if n.Tag != want {
			t.Errorf("retype(%q) = %s, want %s", in, n.Tag, want)
		}
	}
	quoted := &yaml.Node{Kind: yaml.ScalarNode, Value: "8080", Style: yaml.DoubleQuotedStyle}
	if retype(quoted); quoted.Tag != "!!str" {
		t.Errorf("a quoted scalar stays a string, got %s", quoted.Tag)
	}
}

func TestBuiltinLibraryAPI(t *testing.T) {
	o := testOptions()
	r, ds := LoadBuiltinRecipe("db", o)
	if len(ds) != 0 || r == nil || r.Name != "db" || !r.Builtin || r.File != "recipes/db/recipe.yaml" {
		t.Errorf("LoadBuiltinRecipe(db) = %+v, %v", r, ds)
	}
	if _, ds := LoadBuiltinRecipe("nope", o); len(ds) != 1 || ds[0].Error() != "recipes/nope/recipe.yaml: file does not exist" {
		t.Errorf("LoadBuiltinRecipe(nope): %v", lines(ds))
	}
	if _, ds := LoadBuiltinRecipe("../etc", o); !ds.HasErrors() {
		t.Error("LoadBuiltinRecipe accepted a path")
	}
	names, err := BuiltinRecipeNames(Options{}.builtin())
	if err != nil || len(names) == 0 {
		t.Fatalf("shipped library: %v %v", names, err)
	}
	src, err := BuiltinRecipeSource(names[0])
	if err != nil || !strings.Contains(string(src), "kind: Recipe") {
		t.Errorf("BuiltinRecipeSource(%s) = %.40q, %v", names[0], src, err)
	}
	if _, err := BuiltinRecipeSource("no-such-recipe"); err == nil {
		t.Error("BuiltinRecipeSource of a missing recipe")
	}
	d := BuiltinDefaults()
	d["os"] = d["arch"] // a copy: changing it must not leak into resolution
	if builtinDefaults["os"].Value != "debian" {
		t.Error("BuiltinDefaults returned the shared map")
	}
}

func TestEnvironmentDefault(t *testing.T) {
	t.Setenv("LXCPLAN_TEST_PORT", "1234")
	env := Options{}.environ()
	if env["LXCPLAN_TEST_PORT"] != "1234" {
		t.Errorf("nil Env must read the process environment")
	}
}

// Without the schema, the decoder alone must still reject every invalid
// manifest (it never relies on the schema for safety) and never panic.
func TestDecoderWithoutSchema(t *testing.T) {
	saved := schemaValidate
	schemaValidate = nil
	defer func() { schemaValidate = saved }()
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	missed := 0
	for _, f := range files {
		if !ValidateFile(f, testOptions()).HasErrors() {
			missed++
			t.Logf("%s: accepted without the schema", f)
		}
	}
	// Ranges, patterns and enums are the schema's job; everything else is
	// the decoder's too.
	if missed > 6 {
		t.Errorf("%d of %d invalid manifests pass without the schema", missed, len(files))
	}
	for _, f := range []string{"testdata/valid/full.yaml", "testdata/valid/recipe.yaml", "testdata/valid/anchors.yaml"} {
		if ds := ValidateFile(f, testOptions()); ds.HasErrors() {
			t.Errorf("%s without the schema: %v", f, ds.Err())
		}
	}
}
