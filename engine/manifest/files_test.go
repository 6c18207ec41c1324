package manifest

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/lxcplan/lxcplan/engine/diag"
)

// TestReadFileErrors pins the message for each way a file cannot be read;
// readFile's fast path and its stat-first fallback must agree.
func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := filepath.Join(dir, "ok.yaml")
	if err := os.WriteFile(ok, []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exact := filepath.Join(dir, "exact.yaml")
	if err := os.WriteFile(exact, make([]byte, bytesMinReadProbe), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want string
		size       int
	}{
		{filepath.Join(dir, "missing.yaml"), "file does not exist", 0},
		{dir, "is a directory, not a file", 0},
		{big, "file is too large (4194305 bytes, the limit is 4194304)", 0},
		{ok, "", 5},
		{exact, "", bytesMinReadProbe},
	}
	reads := map[string]func(string) ([]byte, diag.Diagnostics){"readFile": readFile, "readFileChecked": readFileChecked}
	for _, tt := range tests {
		for name, read := range reads {
			data, ds := read(tt.path)
			want := []string{}
			if tt.want != "" {
				want = []string{tt.path + ": " + tt.want}
			}
			if got := lines(ds); !reflect.DeepEqual(got, want) {
				t.Errorf("%s(%s) = %q, want %q", name, filepath.Base(tt.path), got, want)
			}
			if len(data) != tt.size {
				t.Errorf("%s(%s) read %d bytes, want %d", name, filepath.Base(tt.path), len(data), tt.size)
			}
		}
	}
}

// bytesMinReadProbe is a size at which a buffer sized exactly to the file
// would have to grow to see EOF.
const bytesMinReadProbe = 4096

// TestValidateFiles checks the parallel form gives, file by file, what
// ValidateFile gives, in argument order.
func TestValidateFiles(t *testing.T) {
	var paths []string
	for _, pattern := range []string{"testdata/valid/*.yaml", "testdata/invalid/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	paths = append(paths, "testdata/no-such-file.yaml", "testdata")
	o := Options{Env: map[string]string{}, UserDefaultsFile: "-"}
	got := ValidateFiles(paths, o)
	if len(got) != len(paths) {
		t.Fatalf("ValidateFiles returned %d results for %d files", len(got), len(paths))
	}
	for i, p := range paths {
		if want := ValidateFile(p, o); !reflect.DeepEqual(lines(got[i]), lines(want)) {
			t.Errorf("%s: ValidateFiles gave\n%s\nValidateFile gives\n%s", p, strings.Join(lines(got[i]), "\n"), strings.Join(lines(want), "\n"))
		}
	}
	if got := ValidateFiles(nil, o); len(got) != 0 {
		t.Errorf("ValidateFiles(nil) = %v", got)
	}
}

// TestReadFSFileErrors is TestReadFileErrors for a recipe library.
func TestReadFSFileErrors(t *testing.T) {
	fsys := fstest.MapFS{
		"ok/recipe.yaml":  {Data: []byte("a: 1\n")},
		"big/recipe.yaml": {Data: make([]byte, MaxFileSize+1)},
		"dir/recipe.yaml": {Mode: fs.ModeDir | 0o755},
	}
	tests := []struct {
		name, want string
		size       int
	}{
		{"ok/recipe.yaml", "", 5},
		{"missing/recipe.yaml", "file does not exist", 0},
		{"dir/recipe.yaml", "is a directory, not a file", 0},
		{"big/recipe.yaml", "file is too large (4194305 bytes, the limit is 4194304)", 0},
	}
	reads := map[string]func(fs.FS, string, string) ([]byte, diag.Diagnostics){"readFSFile": readFSFile, "readFSFileChecked": readFSFileChecked}
	for _, tt := range tests {
		for name, read := range reads {
			data, ds := read(fsys, tt.name, "recipes/"+tt.name)
			want := []string{}
			if tt.want != "" {
				want = []string{"recipes/" + tt.name + ": " + tt.want}
			}
			if got := lines(ds); !reflect.DeepEqual(got, want) {
				t.Errorf("%s(%s) = %q, want %q", name, tt.name, got, want)
			}
			if len(data) != tt.size {
				t.Errorf("%s(%s) read %d bytes, want %d", name, tt.name, len(data), tt.size)
			}
		}
	}
}
