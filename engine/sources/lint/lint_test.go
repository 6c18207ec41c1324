package lint

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func lines(r *Result) string {
	var b strings.Builder
	for _, d := range r.Diags {
		b.WriteString(d.Error())
		b.WriteByte('\n')
	}
	return b.String()
}

// TestBroken lints testdata/broken, one folder per defect, against a golden
// list of diagnostics; each defect must be reported and name its recipe.
func TestBroken(t *testing.T) {
	r, err := Dir("testdata/broken")
	if err != nil {
		t.Fatal(err)
	}
	got := lines(r)
	golden := filepath.Join("testdata", "broken.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("diagnostics differ from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
	// Every fixture folder is a defect, so each must be named at least once.
	for _, folder := range r.Recipes {
		if !strings.Contains(got, "recipes/"+folder+"/") && !strings.Contains(got, "recipes/"+folder+":") {
			t.Errorf("fixture %s produced no diagnostic", folder)
		}
	}
	for _, defect := range []string{
		`unknown field "frobnicate"`, "memory", // schema
		"duplicate recipe name",                     // duplicates
		"must be a semantic version",                // non-semver
		"does not exist in the recipe folder",       // shipped file missing
		`without ".." segments`,                     // path escape
		"sha256",                                    // download without sha256
		"the folder must be named after the recipe", // folder name
		"has no recipe.yaml",
	} {
		if !strings.Contains(got, defect) {
			t.Errorf("no diagnostic mentions %q", defect)
		}
	}
	for _, d := range r.Diags {
		if d.Pos.File == "" {
			t.Errorf("diagnostic names no recipe: %s", d.Error())
		}
	}
}

func TestGoodAndRootForms(t *testing.T) {
	for _, dir := range []string{"testdata/good", "testdata/good/recipes"} {
		r, err := Dir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Diags) != 0 || len(r.Recipes) != 1 || r.Folder != filepath.Clean("testdata/good/recipes") {
			t.Errorf("Dir(%s) = %+v\n%s", dir, r, lines(r))
		}
	}
	if _, err := Dir("testdata/nothing-here"); err == nil {
		t.Error("a missing folder linted without error")
	}
}

// TestBuiltinLibrary: the shipped library must pass its own linter.
func TestBuiltinLibrary(t *testing.T) {
	r, err := Dir(filepath.Join("..", "..", "..", "recipes"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Recipes) == 0 {
		t.Fatal("no built-in recipes found")
	}
	if len(r.Diags) != 0 {
		t.Errorf("built-in recipes fail lint:\n%s", lines(r))
	}
}

func TestEscapingSymlink(t *testing.T) {
	dir := t.TempDir()
	rdir := filepath.Join(dir, "recipes", "linked")
	if err := os.MkdirAll(filepath.Join(rdir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	recipe := "apiVersion: lxcplan/v1\nkind: Recipe\nname: linked\nversion: 1.0.0\ncontainer: {os: debian, version: \"12\"}\n" +
		"install:\n  - file: {path: /etc/x, source: files/x}\n"
	if err := os.WriteFile(filepath.Join(rdir, "recipe.yaml"), []byte(recipe), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(dir, "secret")
	if err := os.WriteFile(outside, []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(rdir, "files", "x")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	r, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(r); !strings.Contains(got, "recipes/linked/recipe.yaml: files/x is a symbolic link that escapes the recipe folder") {
		t.Errorf("got:\n%s", got)
	}
}
