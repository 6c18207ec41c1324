package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// ajvScript compiles each schema with ajv in draft 2020-12 strict mode (which
// rejects unknown keywords, ambiguous types and required fields no
// properties declare) and validates every document given on stdin.
const ajvScript = `
const Ajv2020 = require("ajv/dist/2020");
const fs = require("fs");
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const out = {compile: {}, results: {}};
const validators = {};
for (const [kind, file] of Object.entries(input.schemas)) {
  const ajv = new Ajv2020({strict: true, allErrors: true});
  try {
    validators[kind] = ajv.compile(JSON.parse(fs.readFileSync(file, "utf8")));
    out.compile[kind] = "";
  } catch (e) {
    out.compile[kind] = e.message;
  }
}
for (const d of input.docs) {
  const v = validators[d.kind];
  if (!v) continue;
  const ok = v(d.doc);
  out.results[d.name] = {valid: ok, errors: ok ? [] : v.errors.map(e => e.instancePath + " " + e.message)};
}
process.stdout.write(JSON.stringify(out));
`

// TestAjvAgrees runs the schemas and every fixture through ajv, the
// validator most editors and CI tools use. It needs node, npm and the npm
// registry, and skips with a reason when any is missing.
func TestAjvAgrees(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the ajv cross-check in -short mode")
	}
	for _, tool := range []string{"node", "npm", "npx"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping the ajv cross-check: %s not found", tool)
		}
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--no-save", "--silent", "ajv@8")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Skipf("skipping the ajv cross-check: npm install ajv@8 failed (registry unavailable?): %v\n%s", err, out)
	}

	type docIn struct {
		Name string `json:"name"`
		Kind Kind   `json:"kind"`
		Doc  any    `json:"doc"`
	}
	in := struct {
		Schemas map[Kind]string `json:"schemas"`
		Docs    []docIn         `json:"docs"`
	}{Schemas: map[Kind]string{}}
	for _, k := range Kinds() {
		text, err := Text(k)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, string(k)+".schema.json")
		if err := os.WriteFile(f, text, 0o644); err != nil {
			t.Fatal(err)
		}
		in.Schemas[k] = f
	}
	docs := corpus(t)
	for _, d := range docs {
		in.Docs = append(in.Docs, docIn{d.name, d.kind, decodeYAML(t, d.src)})
	}
	stdin, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "check.js")
	if err := os.WriteFile(script, []byte(ajvScript), 0o644); err != nil {
		t.Fatal(err)
	}
	run := exec.CommandContext(ctx, "node", script)
	run.Dir = dir
	run.Stdin = bytes.NewReader(stdin)
	run.Stderr = os.Stderr
	out, err := run.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var res struct {
		Compile map[Kind]string `json:"compile"`
		Results map[string]struct {
			Valid  bool     `json:"valid"`
			Errors []string `json:"errors"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ajv output: %v\n%s", err, out)
	}
	for _, k := range Kinds() {
		if msg := res.Compile[k]; msg != "" {
			t.Errorf("ajv (draft 2020-12, strict) rejects the %s schema: %s", k, msg)
		}
	}
	if len(res.Compile) == len(Kinds()) && len(res.Results) != len(docs) {
		t.Errorf("ajv checked %d documents, want %d", len(res.Results), len(docs))
	}
	for _, d := range docs {
		r, ok := res.Results[d.name]
		if !ok {
			continue // its schema failed to compile; reported above
		}
		if r.Valid != d.valid {
			t.Errorf("%s: want valid=%v, ajv says valid=%v %v", d.name, d.valid, r.Valid, r.Errors)
		}
	}
}
