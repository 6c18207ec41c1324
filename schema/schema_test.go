package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	jsonschema6 "github.com/santhosh-tekuri/jsonschema/v6"
)

// yamlDecoder is manifest.DecodeYAML, set by yamlhook_test.go: this package's
// tests cannot import engine/manifest (it imports schema), and only manifest
// may import the YAML library.
var yamlDecoder func([]byte) (any, error)

// yamlUnmarshal decodes YAML into *v, turning a decoder panic into an error:
// the fuzz target feeds it arbitrary bytes.
func yamlUnmarshal(b []byte, v *any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml panic: %v", r)
		}
	}()
	if yamlDecoder == nil {
		return fmt.Errorf("no YAML decoder: yamlhook_test.go did not run")
	}
	*v, err = yamlDecoder(b)
	return err
}

// decodeYAML decodes YAML into plain values, the way the loader does.
func decodeYAML(t testing.TB, src string) any {
	t.Helper()
	var v any
	if err := yamlUnmarshal([]byte(src), &v); err != nil {
		t.Fatalf("bad test YAML: %v\n%s", err, src)
	}
	return v
}

// fixtures returns the valid documents under testdata/valid, by kind.
func fixtures(t testing.TB) map[string]Kind {
	t.Helper()
	files, err := filepath.Glob("testdata/valid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	out := map[string]Kind{}
	for _, f := range files {
		k := Recipe
		if strings.HasPrefix(filepath.Base(f), "stack") {
			k = Stack
		}
		out[f] = k
	}
	return out
}

func TestKinds(t *testing.T) {
	if got := Kinds(); !slices.Equal(got, []Kind{Plan, Recipe, Stack}) {
		t.Fatalf("Kinds() = %v", got)
	}
	if _, err := Text("plan-nope"); err == nil {
		t.Fatal("Text of an unknown kind succeeded")
	}
	vs := Validate("nope", map[string]any{})
	if len(vs) != 1 || vs[0].Keyword != "schema" {
		t.Fatalf("Validate of an unknown kind = %v", vs)
	}
}

// TestText checks each schema is a self-contained draft 2020-12 document.
func TestText(t *testing.T) {
	for _, k := range Kinds() {
		b, err := Text(k)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema = %v", k, doc["$schema"])
		}
		if want := "https://lxcplan.dev/schema/" + string(k) + ".schema.json"; doc["$id"] != want {
			t.Errorf("%s: $id = %v, want %s", k, doc["$id"], want)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, b, "", "  "); err != nil || !bytes.HasSuffix(b, []byte("}\n")) {
			t.Errorf("%s: not pretty JSON ending in a newline", k)
		}
		defs, _ := doc["$defs"].(map[string]any)
		walkJSON(doc, "", func(ptr string, obj map[string]any) {
			ref, ok := obj["$ref"].(string)
			if !ok {
				return
			}
			name, ok := strings.CutPrefix(ref, "#/$defs/")
			if !ok {
				t.Errorf("%s %s: $ref %q is not local to $defs", k, ptr, ref)
			} else if _, ok := defs[name]; !ok {
				t.Errorf("%s %s: $ref %q names no $defs entry", k, ptr, ref)
			}
		})
	}
}

// walkJSON calls fn for every object in a decoded JSON document.
func walkJSON(v any, ptr string, fn func(ptr string, obj map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(ptr, x)
		for k, e := range x {
			walkJSON(e, ptr+"/"+k, fn)
		}
	case []any:
		for i, e := range x {
			walkJSON(e, fmt.Sprintf("%s/%d", ptr, i), fn)
		}
	}
}

// schemaObjects calls fn for every subschema (not for property maps such as
// "properties" or "$defs", whose keys are names).
func schemaObjects(v any, ptr string, fn func(ptr string, s map[string]any)) {
	s, ok := v.(map[string]any)
	if !ok {
		return
	}
	fn(ptr, s)
	for k, e := range s {
		switch k {
		case "properties", "$defs", "patternProperties", "dependentSchemas":
			if m, ok := e.(map[string]any); ok {
				for name, sub := range m {
					schemaObjects(sub, ptr+"/"+k+"/"+name, fn)
				}
			}
		case "allOf", "anyOf", "oneOf", "prefixItems":
			if l, ok := e.([]any); ok {
				for i, sub := range l {
					schemaObjects(sub, fmt.Sprintf("%s/%s/%d", ptr, k, i), fn)
				}
			}
		case "items", "additionalProperties", "propertyNames", "if", "then", "else", "not", "contains":
			schemaObjects(e, ptr+"/"+k, fn)
		}
	}
}

func schemaDoc(t testing.TB, k Kind) map[string]any {
	t.Helper()
	b, err := Text(k)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestPatterns checks every pattern means the same in RE2 (Go, v5) and
// ECMA-262 (editors, ajv): it compiles in Go and uses no syntax only one of
// the two dialects knows.
func TestPatterns(t *testing.T) {
	forbidden := []string{
		`(?`,             // flags, named groups, lookarounds
		`\A`, `\z`, `\Z`, // Go/PCRE anchors
		`\p{`, `\P{`, // Unicode classes: need the u flag in ECMA
		`\Q`, `\E`, `[[:`, `\x{`, `\k<`, `\C`,
		`\u`, `\c`, `\h`, // ECMA-only escapes
		`\1`, `\2`, `\3`, `\4`, `\5`, `\6`, `\7`, `\8`, `\9`, // backreferences
		`\d`, `\D`, `\w`, `\W`, `\b`, `\B`, // differ with Unicode; spelled out instead
	}
	n := 0
	for _, k := range Kinds() {
		schemaObjects(schemaDoc(t, k), "", func(ptr string, s map[string]any) {
			p, ok := s["pattern"].(string)
			if !ok {
				return
			}
			n++
			if _, err := regexp.Compile(p); err != nil {
				t.Errorf("%s %s: pattern does not compile as RE2: %v", k, ptr, err)
			}
			for _, f := range forbidden {
				if strings.Contains(p, f) {
					t.Errorf("%s %s: pattern %q uses %q", k, ptr, p, f)
				}
			}
			if !strings.HasPrefix(p, "^") {
				t.Errorf("%s %s: pattern %q is not anchored", k, ptr, p)
			}
		})
	}
	if n < 20 {
		t.Fatalf("found only %d patterns; is the walk broken?", n)
	}
}

// TestRuleDescriptions checks that every subschema whose failure cannot be
// explained from its keywords (a pattern, a union, a one-key step) carries a
// "must …" description for Validate and editors to show.
func TestRuleDescriptions(t *testing.T) {
	for _, k := range Kinds() {
		schemaObjects(schemaDoc(t, k), "", func(ptr string, s map[string]any) {
			_, pat := s["pattern"]
			_, one := s["oneOf"]
			_, any := s["anyOf"]
			_, minp := s["minProperties"]
			if _, isString := s["pattern"].(string); pat && !isString {
				pat = false
			}
			if !pat && !one && !any && !(minp && s["maxProperties"] != nil) {
				return
			}
			d, _ := s["description"].(string)
			if !strings.HasPrefix(d, "must ") || strings.HasSuffix(d, ".") {
				t.Errorf("%s %s: description %q is not a rule (\"must …\", no period)", k, ptr, d)
			}
		})
	}
}

// TestSharedDefs checks the $defs both files carry are identical, and that
// the stack's defaults and containers accept the settings formats.md says.
func TestSharedDefs(t *testing.T) {
	r := schemaDoc(t, Recipe)["$defs"].(map[string]any)
	s := schemaDoc(t, Stack)["$defs"].(map[string]any)
	shared := 0
	for name, rd := range r {
		sd, ok := s[name]
		if !ok {
			continue
		}
		shared++
		a, _ := json.Marshal(rd)
		b, _ := json.Marshal(sd)
		if !bytes.Equal(a, b) {
			t.Errorf("$defs/%s differs between recipe and stack schemas:\n%s\n%s", name, a, b)
		}
	}
	if shared < 15 {
		t.Errorf("only %d shared $defs", shared)
	}
	keys := func(def string) []string {
		props := s[def].(map[string]any)["properties"].(map[string]any)
		var ks []string
		for k := range props {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	var want []string
	for _, k := range keys("container") {
		if !slices.Contains([]string{"recipe", "vmid", "hostname", "depends_on", "params"}, k) {
			want = append(want, k)
		}
	}
	if got := keys("defaults"); !slices.Equal(got, want) {
		t.Errorf("defaults fields = %v\nwant container fields minus recipe/vmid/hostname/depends_on/params = %v", got, want)
	}
	if got, want := keys("extra_network"), append(keys("network"), "name"); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("extra_network fields = %v, want network fields + name", got)
	}
	recipeContainer := r["recipe_container"].(map[string]any)["properties"].(map[string]any)
	for _, k := range []string{"os", "version", "arch", "unprivileged", "features", "tun", "gpu", "tags", "nameserver", "searchdomain", "timezone"} {
		if _, ok := recipeContainer[k]; !ok {
			t.Errorf("recipe container lacks %q", k)
		}
		if !slices.Contains(keys("container"), k) {
			t.Errorf("stack container lacks %q", k)
		}
	}
}

func TestValidFixtures(t *testing.T) {
	for f, k := range fixtures(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if vs := Validate(k, decodeYAML(t, string(b))); len(vs) != 0 {
				for _, v := range vs {
					t.Errorf("%v [%s] %s", v.Path, v.Keyword, v.Message)
				}
			}
		})
	}
}

// TestGoValues checks documents built in Go (typed slices, every integer
// type, json.Number, NaN) validate without panicking.
func TestGoValues(t *testing.T) {
	doc := map[string]any{
		"apiVersion": "lxcplan/v1", "kind": "Recipe", "name": "x", "version": "1.0.0",
		"container": map[any]any{
			"os": "debian", "version": "12", "cores": uint8(2), "memory": int32(512),
			"swap": uint64(0), "disk": float32(4), "tags": []string{"a", "b"},
			"ports": []int{80, 443},
		},
		"outputs": map[string]string{"url": "http://x"},
	}
	if vs := Validate(Recipe, doc); len(vs) != 0 {
		t.Fatalf("got %v", vs)
	}
	doc["container"].(map[any]any)["disk"] = json.Number("0")
	doc["container"].(map[any]any)["memory"] = struct{}{}
	got := Validate(Recipe, doc)
	want := []Violation{
		{Path: []string{"container", "disk"}, Keyword: "exclusiveMinimum", Message: "must be greater than 0"},
		{Path: []string{"container", "memory"}, Keyword: "type", Message: "has a value of unsupported Go type struct {}"},
	}
	if !equalViolations(got, want) {
		t.Fatalf("got  %s\nwant %s", show(got), show(want))
	}
}

func equalViolations(a, b []Violation) bool {
	return slices.EqualFunc(a, b, func(x, y Violation) bool {
		return slices.Equal(x.Path, y.Path) && x.Keyword == y.Keyword && x.Message == y.Message
	})
}

func show(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "\n\t{Path: %#v, Keyword: %q, Message: %q},", v.Path, v.Keyword, v.Message)
	}
	return b.String()
}

// toJSONValue round-trips a decoded YAML value through JSON, the form the
// second validator and ajv take.
func toJSONValue(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// validator6 compiles the schema with jsonschema v6, an independent
// implementation, to check the schema text and not just our reading of it.
func validator6(t testing.TB, k Kind) *jsonschema6.Schema {
	t.Helper()
	text, err := Text(k)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema6.UnmarshalJSON(bytes.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema6.NewCompiler()
	c.DefaultDraft(jsonschema6.Draft2020)
	url := "https://lxcplan.dev/schema/" + string(k) + ".schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("v6 rejects the %s schema: %v", k, err)
	}
	return sch
}

// corpus is every fixture of the package: the valid files and the invalid
// table, with whether each is valid.
type corpusDoc struct {
	name  string
	kind  Kind
	src   string
	valid bool
}

func corpus(t testing.TB) []corpusDoc {
	var out []corpusDoc
	for f, k := range fixtures(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, corpusDoc{filepath.Base(f), k, string(b), true})
	}
	for _, c := range invalidCases {
		out = append(out, corpusDoc{c.name, c.kind, c.src, false})
	}
	slices.SortFunc(out, func(a, b corpusDoc) int { return strings.Compare(a.name, b.name) })
	return out
}

func TestSecondValidatorAgrees(t *testing.T) {
	v6 := map[Kind]*jsonschema6.Schema{}
	for _, k := range Kinds() {
		v6[k] = validator6(t, k)
	}
	for _, d := range corpus(t) {
		doc := decodeYAML(t, d.src)
		inst, err := jsonschema6.UnmarshalJSON(bytes.NewReader(toJSONValue(t, doc)))
		if err != nil {
			t.Fatal(err)
		}
		err = v6[d.kind].Validate(inst)
		ours := Validate(d.kind, doc)
		if (err == nil) != d.valid || (len(ours) == 0) != d.valid {
			t.Errorf("%s: want valid=%v; v6 says %v; we say %v", d.name, d.valid, err, ours)
		}
	}
}

type invalidCase struct {
	name string
	kind Kind
	src  string
	want []Violation
}

// p builds a path.
func p(tokens ...string) []string {
	if tokens == nil {
		return []string{}
	}
	return tokens
}

func TestInvalid(t *testing.T) {
	if len(invalidCases) < 30 {
		t.Fatalf("only %d invalid cases", len(invalidCases))
	}
	seen := map[string]bool{}
	for _, c := range invalidCases {
		if seen[c.name] {
			t.Fatalf("duplicate case name %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			got := Validate(c.kind, decodeYAML(t, c.src))
			if !equalViolations(got, c.want) {
				t.Errorf("got:%s\nwant:%s", show(got), show(c.want))
			}
			for _, v := range got {
				checkMessage(t, v)
			}
		})
	}
}

// checkMessage enforces the message style the loader relies on.
func checkMessage(t testing.TB, v Violation) {
	t.Helper()
	m := v.Message
	if m == "" || strings.ToLower(m[:1]) != m[:1] || strings.HasSuffix(m, ".") || strings.Contains(m, "\n") {
		t.Errorf("%v: message %q: want one lowercase line without a trailing period", v.Path, m)
	}
	for _, bad := range []string{"jsonschema", "#/", "$defs", "^", "doesn't validate", "oneOf failed", "additionalProperties '"} {
		if strings.Contains(m, bad) {
			t.Errorf("%v: message %q leaks validator internals (%q)", v.Path, m, bad)
		}
	}
	if v.Keyword == "" || v.Path == nil {
		t.Errorf("violation without keyword or path: %+v", v)
	}
}

// TestConcurrentValidate runs first use (compilation) and validation from
// many goroutines; run with -race.
func TestConcurrentValidate(t *testing.T) {
	b, err := os.ReadFile("testdata/valid/stack-full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := decodeYAML(t, string(b))
	done := make(chan []Violation)
	for range 8 {
		go func() { done <- Validate(Stack, doc) }()
	}
	for range 8 {
		if vs := <-done; len(vs) != 0 {
			t.Errorf("got %v", vs)
		}
	}
}
