package sources_test

// The lock file format is tested here, outside package sources, because the
// YAML codec lives in engine/manifest (the only importer of the YAML
// library), which imports sources.

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/engine/sources"
)

var update = flag.Bool("update", false, "rewrite golden files")

var yc = manifest.YAMLCodec

func sampleLock() *sources.Lock {
	l := sources.NewLock()
	l.Sources["community"] = &sources.LockedSource{Git: "https://git.example.org/recipes.git", Ref: "v1.4.0", Kind: sources.KindTag,
		Commit: strings.Repeat("ab", 20), Recipes: map[string]*sources.LockedRecipe{
			"web": {Version: "1.2.0", Files: map[string]string{
				"recipe.yaml": "sha256:" + strings.Repeat("1", 64), "files/site.conf": "sha256:" + strings.Repeat("2", 64)}},
			"db": {Version: "2.0.0", Files: map[string]string{"recipe.yaml": "sha256:" + strings.Repeat("3", 64)}},
		}}
	l.Sources["edge"] = &sources.LockedSource{Git: "file:///srv/edge", Ref: "main", Kind: sources.KindBranch, Commit: strings.Repeat("cd", 20),
		Recipes: map[string]*sources.LockedRecipe{}}
	return l
}

// TestLockGolden pins the file format: header, sorted keys, stable bytes.
func TestLockGolden(t *testing.T) {
	data, err := sampleLock().Marshal(yc)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "sample.lock")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("lock bytes differ from %s (go test -update rewrites it):\n%s", golden, data)
	}
	for range 5 {
		again, _ := sampleLock().Marshal(yc)
		if !bytes.Equal(again, data) {
			t.Fatal("Marshal is not stable")
		}
	}
	back, err := sources.ReadLock(golden, yc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, sampleLock()) {
		t.Errorf("round trip: %+v", back)
	}
}

func TestReadLockErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ text, want string }{
		{"version: 2\n", "lock format version 2 is not supported"},
		{"version: 1\nsources: {a: {bogus: x}}\n", "field bogus not found"},
		{"version: 1\nsources: {a: {recipes: {r: {version: 1.0.0}}}}\n", "recipe a/r has no files"},
		{"version: 1\nsources: {a: null}\n", "source a is empty"},
		{"{{{", "read "},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, "lxcplan.lock")
		if err := os.WriteFile(p, []byte(tt.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := sources.ReadLock(p, yc); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.text, err, tt.want)
		}
	}
}

func TestDiff(t *testing.T) {
	old := sampleLock()
	changed := sampleLock()
	changed.Sources["community"].Recipes["web"] = &sources.LockedRecipe{Version: "1.3.0", Files: map[string]string{
		"recipe.yaml": "sha256:" + strings.Repeat("9", 64), "files/site.conf": "sha256:" + strings.Repeat("2", 64)}}
	delete(changed.Sources["community"].Recipes, "db")
	changed.Sources["edge"].Recipes["cache"] = &sources.LockedRecipe{Version: "0.1.0", Files: map[string]string{"recipe.yaml": "sha256:0"}}
	tamperedOnly := sampleLock()
	tamperedOnly.Sources["community"].Recipes["db"].Files["extra.txt"] = "sha256:1"
	tests := []struct {
		name     string
		old, new *sources.Lock
		want     []string
	}{
		{"same", old, sampleLock(), nil},
		{"first lock", nil, old, []string{"added    community/db 2.0.0", "added    community/web 1.2.0"}},
		{"changes", old, changed, []string{
			"removed  community/db 2.0.0",
			"changed  community/web 1.2.0 -> 1.3.0 (recipe.yaml)",
			"added    edge/cache 0.1.0",
		}},
		{"a new file", old, tamperedOnly, []string{"changed  community/db 2.0.0 (extra.txt)"}},
	}
	for _, tt := range tests {
		var got []string
		for _, c := range sources.Diff(tt.old, tt.new) {
			got = append(got, c.String())
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// FuzzReadLock: any lock file is read without panicking, and what reads
// back writes and reads again to the same value.
func FuzzReadLock(f *testing.F) {
	data, _ := sampleLock().Marshal(yc)
	f.Add(data)
	f.Add([]byte("version: 1\n"))
	f.Add([]byte("version: 1\nsources: {a: {recipes: {r: {version: x, files: {a: b}}}}}\n"))
	f.Add([]byte("version: 1\nsources: [1, 2]\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "fuzz.lock")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := sources.ReadLock(p, yc)
		if err != nil {
			return
		}
		if err := sources.WriteLock(p, l, yc); err != nil {
			t.Fatal(err)
		}
		back, err := sources.ReadLock(p, yc)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if !reflect.DeepEqual(back, l) {
			t.Fatalf("round trip changed the lock: %+v vs %+v", back, l)
		}
	})
}
