package manifest

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/diag"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testOptions isolates tests from the machine: fixed environment, no user
// defaults file, the test recipe library.
func testOptions() Options {
	return Options{
		Env:              map[string]string{"PORT": "8080", "EMPTY": "", "NAME": "web"},
		UserDefaultsFile: "-",
		BuiltinRecipes:   os.DirFS("testdata/builtin"),
	}
}

const wantPrefix = "# want: "

// wants reads the expected diagnostics from the "# want: " comments at the
// end of a test file (at the end, so they never shift positions); FILE
// stands for the file's path.
func wants(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, wantPrefix); ok {
			out = append(out, strings.ReplaceAll(rest, "FILE", path))
		}
	}
	return out
}

func rewriteWants(t *testing.T, path string, got []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if !strings.HasPrefix(line, wantPrefix) {
			keep = append(keep, line)
		}
	}
	for _, g := range got {
		keep = append(keep, wantPrefix+strings.ReplaceAll(g, path, "FILE"))
	}
	if err := os.WriteFile(path, []byte(strings.Join(keep, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func lines(ds diag.Diagnostics) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Error())
	}
	return out
}

func checkWants(t *testing.T, path string, ds diag.Diagnostics) {
	t.Helper()
	got := lines(ds)
	if *update {
		rewriteWants(t, path, got)
		return
	}
	want := wants(t, path)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot:\n  %s\nwant:\n  %s", path, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestInvalidManifests(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Errorf("only %d invalid manifests; the suite promises at least 40", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ds := ValidateFile(f, testOptions())
			if !ds.HasErrors() {
				t.Errorf("%s: no error reported", f)
			}
			sorted := append(diag.Diagnostics(nil), ds...)
			sorted.Sort()
			if strings.Join(lines(sorted), "\n") != strings.Join(lines(ds), "\n") {
				t.Errorf("%s: diagnostics are not sorted by position", f)
			}
			for _, d := range ds {
				if d.Class != diag.ClassInput {
					t.Errorf("%s: %s has class %v, want input", f, d.Error(), d.Class)
				}
			}
			checkWants(t, f, ds)
		})
	}
}

func TestValidManifests(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ds := ValidateFile(f, testOptions())
			if ds.HasErrors() {
				t.Errorf("%s: unexpected errors:\n  %s", f, strings.Join(lines(ds.Errors()), "\n  "))
			}
			checkWants(t, f, ds) // warnings, if any
		})
	}
}

func TestReadProblems(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("# padding\n"), MaxFileSize/10+1), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.yaml")
	tests := []struct {
		path string
		want string
	}{
		{dir, dir + ": is a directory, not a file"},
		{missing, missing + ": file does not exist"},
		{big, big + ": file is too large (" + strconv.Itoa(MaxFileSize/10*10+10) + " bytes, the limit is 4194304)"},
	}
	for _, tt := range tests {
		got := lines(ValidateFile(tt.path, testOptions()))
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("ValidateFile(%s) = %q, want %q", tt.path, got, tt.want)
		}
		if _, ds := LoadStackFile(tt.path, testOptions()); len(ds) != 1 || ds[0].Class != diag.ClassInput {
			t.Errorf("LoadStackFile(%s) = %v, want one input diagnostic", tt.path, ds)
		}
	}
}
