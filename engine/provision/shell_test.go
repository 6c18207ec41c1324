package provision

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The constant scripts run inside containers; here they run under the local
// /bin/sh (dash or bash) to prove their syntax and behaviour. Steps that
// need root (useradd, /etc/apt) are only syntax-checked.

func sh(t *testing.T, script, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{"-c", script}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func needShell(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range append([]string{"/bin/sh"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not available", tool)
		}
	}
}

func TestScriptsParse(t *testing.T) {
	needShell(t)
	for name, s := range map[string]string{
		"run": runWrapper, "write": pushScript, "repo": repoScript, "user": userScript,
		"alpine user": alpineUserScript, "alpine group": alpineGroupScript, "download": downloadScript,
	} {
		if out, err := exec.Command("/bin/sh", "-n", "-c", s).CombinedOutput(); err != nil {
			t.Errorf("%s script: %v\n%s", name, err, out)
		}
		if strings.Contains(s, "\n") {
			t.Errorf("%s script spans lines; keep traces one line per command", name)
		}
	}
}

func TestRunWrapperWithShell(t *testing.T) {
	needShell(t, "mktemp", "timeout")
	dir := t.TempDir()
	_, vals := testValues(t, "debian")
	env := &stepEnv{vmid: 1, vals: vals}
	body := string(env.scriptBody("cat >/dev/null; echo \"pw=$LXCPLAN_PARAM_PASSWORD dir=$(pwd) x=$X\"; exit 7\n", []string{"X=a b'c"}, dir))

	// Script on stdin, its own stdin empty, exports and cwd applied, exit
	// status passed on.
	out, err := sh(t, runWrapper, body, "lxcplan-run", "", "0", "")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("exit = %v, output %q", err, out)
	}
	if want := "pw=" + testSecret + " dir=" + dir + " x=a b'c\n"; out != want {
		t.Errorf("output = %q, want %q", out, want)
	}

	// creates: skipped when the path exists.
	done := filepath.Join(dir, ".done")
	os.WriteFile(done, nil, 0o644)
	out, err = sh(t, runWrapper, "exit 1\n", "lxcplan-run", "", "0", done)
	if err != nil || !strings.Contains(out, "skipped") {
		t.Errorf("creates: %v %q", err, out)
	}

	// timeout: the inner limit stops a hanging script.
	_, err = sh(t, runWrapper, "sleep 30\n", "lxcplan-run", "", "1", "")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 124 {
		t.Errorf("timeout: err = %v, want exit 124", err)
	}
}

func TestPushScriptWithShell(t *testing.T) {
	needShell(t, "mktemp")
	dest := filepath.Join(t.TempDir(), "new", "dir", "app.conf")
	if out, err := sh(t, pushScript, "k=v\n", "lxcplan-write", dest, "0640", ""); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	b, err := os.ReadFile(dest)
	fi, _ := os.Stat(dest)
	if err != nil || string(b) != "k=v\n" || fi.Mode().Perm() != 0o640 {
		t.Errorf("file = %q, %v, mode %v", b, err, fi.Mode())
	}
	if di, _ := os.Stat(filepath.Dir(dest)); di.Mode().Perm()&0o005 == 0 {
		t.Errorf("parent dir mode %v: umask 077 leaked into mkdir", di.Mode())
	}
	if left, _ := filepath.Glob(dest + ".lxcplan-*"); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestDownloadScriptWithShell(t *testing.T) {
	needShell(t, "curl", "sha256sum", "tar", "install")
	dir := t.TempDir()
	// A tarball with one file, served as a file:// URL.
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "bin/app", Mode: 0o755, Size: 3})
	tw.Write([]byte("hi\n"))
	tw.Close()
	gz.Close()
	src := filepath.Join(dir, "app.tar.gz")
	os.WriteFile(src, tgz.Bytes(), 0o644)
	sum := sha256.Sum256(tgz.Bytes())
	hexsum := hex.EncodeToString(sum[:])

	file := filepath.Join(dir, "out", "app.tar.gz")
	if out, err := sh(t, downloadScript, "", "lxcplan-download", "file://"+src, hexsum, file, "0", "0600", ""); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("downloaded file: %v %v", fi, err)
	}
	// Already there with the right sum: nothing fetched (the source is gone).
	os.Rename(src, src+".moved")
	if out, err := sh(t, downloadScript, "", "lxcplan-download", "file://"+src, hexsum, file, "0", "", ""); err != nil {
		t.Errorf("second run should skip: %v: %s", err, out)
	}
	os.Rename(src+".moved", src)

	tree := filepath.Join(dir, "tree")
	if out, err := sh(t, downloadScript, "", "lxcplan-download", "file://"+src, hexsum, tree, "1", "", ""); err != nil {
		t.Fatalf("extract: %v: %s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(tree, "bin", "app")); err != nil || string(b) != "hi\n" {
		t.Errorf("extracted = %q, %v", b, err)
	}

	bad := strings.Repeat("0", 64)
	if out, err := sh(t, downloadScript, "", "lxcplan-download", "file://"+src, bad, filepath.Join(dir, "bad"), "0", "", ""); err == nil {
		t.Errorf("checksum mismatch accepted: %s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); err == nil {
		t.Error("a file with the wrong checksum was installed")
	}
}
