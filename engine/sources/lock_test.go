package sources

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	c1, c2, tagObj := strings.Repeat("1", 40), strings.Repeat("2", 40), strings.Repeat("7", 40)
	tests := []struct {
		out, ref         string
		kind             Kind
		full, wantCommit string
	}{
		{c1 + "\trefs/tags/v1\n", "v1", KindTag, "refs/tags/v1", c1},
		{tagObj + "\trefs/tags/v1\n" + c1 + "\trefs/tags/v1^{}\n", "v1", KindTag, "refs/tags/v1", c1},
		{c2 + "\trefs/heads/v1\n" + c1 + "\trefs/tags/v1\n", "v1", KindTag, "refs/tags/v1", c1},
		{c2 + "\trefs/heads/main\n", "main", KindBranch, "refs/heads/main", c2},
		{c2 + "\trefs/heads/feature/main\n", "main", "", "", ""}, // a longer name only ends the same
		{c2 + "\tHEAD\n", "HEAD", KindBranch, "HEAD", c2},
		{"", "v1", "", "", ""},
		{"garbage\n\tno id\n", "v1", "", "", ""},
	}
	for _, tt := range tests {
		kind, full, commit := classify([]byte(tt.out), tt.ref)
		if kind != tt.kind || full != tt.full || commit != tt.wantCommit {
			t.Errorf("classify(%q, %s) = %s %s %s, want %s %s %s", tt.out, tt.ref, kind, full, commit, tt.kind, tt.full, tt.wantCommit)
		}
	}
}

func TestDigestDirAndMismatch(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "files", "x"), []byte("b"), 0o644)
	got, err := DigestDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"recipe.yaml": "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
		"files/x":     "sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DigestDir = %v", got)
	}
	if err := os.Symlink("x", filepath.Join(dir, "files", "link")); err == nil {
		got, _ = DigestDir(dir)
		if _, ok := got["files/link"]; !ok {
			t.Error("a symbolic link is not part of the digest")
		}
	}
	tests := []struct {
		locked, found map[string]string
		want          string
	}{
		{want, want, ""},
		{want, map[string]string{"recipe.yaml": want["recipe.yaml"]}, "file files/x is missing (lxcplan.lock expects sha256:3e23e8160039594a)"},
		{map[string]string{"recipe.yaml": want["recipe.yaml"]}, want, "file files/x is not in lxcplan.lock (found sha256:3e23e8160039594a)"},
		{want, map[string]string{"recipe.yaml": want["files/x"], "files/x": want["files/x"]},
			"file recipe.yaml has sha256:3e23e8160039594a, lxcplan.lock expects sha256:ca978112ca1bbdca"},
	}
	for _, tt := range tests {
		if got := FileMismatch(tt.locked, tt.found); got != tt.want {
			t.Errorf("FileMismatch = %q, want %q", got, tt.want)
		}
	}
}

// FuzzUntar: a hostile archive never writes outside the destination.
func FuzzUntar(f *testing.F) {
	f.Add([]byte{})
	f.Add(hostileTar(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dst := filepath.Join(parent, "dst")
		os.Mkdir(dst, 0o755)
		_ = untar(bytes.NewReader(data), dst)
		entries, _ := os.ReadDir(parent)
		if len(entries) != 1 {
			t.Fatalf("untar wrote outside its destination: %v", entries)
		}
	})
}

// hostileTar holds entries that must not land outside the destination: a
// parent path, an absolute path, a link out, and one ordinary file.
func hostileTar(t testing.TB) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range []*tar.Header{
		{Name: "../escape", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
		{Name: "/abs", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
		{Name: "a/../../up", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
		{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
		{Name: "recipes/ok/run.sh", Typeflag: tar.TypeReg, Mode: 0o755, Size: 1},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte("x"))
		}
	}
	tw.Close()
	return b.Bytes()
}

func TestUntarStaysInside(t *testing.T) {
	parent := t.TempDir()
	dst := filepath.Join(parent, "dst")
	os.Mkdir(dst, 0o755)
	if err := untar(bytes.NewReader(hostileTar(t)), dst); err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.WalkDir(parent, func(p string, d os.DirEntry, err error) error {
		if !d.IsDir() {
			rel, _ := filepath.Rel(parent, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	// "/abs" is cleaned to an absolute path and skipped; only the ordinary file remains.
	if want := []string{"dst/recipes/ok/run.sh"}; !reflect.DeepEqual(got, want) {
		t.Errorf("files written: %q, want %q", got, want)
	}
	if fi, err := os.Stat(filepath.Join(dst, "recipes/ok/run.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("executable bit lost: %v %v", fi, err)
	}
}
