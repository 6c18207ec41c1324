package ssh

// Tests and benchmarks against a real OpenSSH sshd (sshtest.StartRealSSHD):
// they skip without /usr/sbin/sshd or root unless LXCPLAN_REQUIRE_SSHD=1.

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/lxcplan/lxcplan/engine/transport"
	"github.com/lxcplan/lxcplan/engine/transport/ssh/sshtest"
)

func realCfg(d *sshtest.RealSSHD) Config {
	return Config{
		Name:           "real",
		Address:        d.Addr(),
		User:           d.User(),
		IdentityFile:   d.IdentityFile(),
		KnownHostsFile: d.KnownHostsFile(),
		SSHConfigFile:  "none",
	}
}

func dialReal(tb testing.TB, cfg Config) *Client {
	tb.Helper()
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("Dial: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func TestRealQuotingRoundTrip(t *testing.T) {
	d := sshtest.StartRealSSHD(t)
	c := dialReal(t, realCfg(d))
	if v := c.Info().ServerVersion; !strings.HasPrefix(v, "SSH-2.0-OpenSSH") {
		t.Errorf("server version %q", v)
	}
	args := []string{
		"plain", "with space", "  lead and trail  ", "it's", `"double"`, `'single'`, "$HOME", "${PATH}", "$(id)", "`id`",
		"a;b", "a|b&c", "a&&b||c", "<in", ">out", "new\nline", "tab\there", "cr\rx", "ünïcødé ✓ 日本", "", "*", "?", "[a-z]",
		"~", "~root", "#comment", "back\\slash", "\\", "--", "-n", "-e", "!bang", "{a,b}", "x=y", "%s", "\x01\x7f", "'\"'\"'",
	}
	argv := append([]string{"printf", `%s\0`}, args...)
	res, err := c.Run(context.Background(), transport.Command{Argv: argv})
	if err != nil {
		t.Fatalf("printf: %v", err)
	}
	got := strings.Split(string(res.Stdout), "\x00")
	got = got[:len(got)-1] // the trailing NUL
	if !slices.Equal(got, args) {
		for i := range max(len(got), len(args)) {
			var g, w string
			if i < len(got) {
				g = got[i]
			}
			if i < len(args) {
				w = args[i]
			}
			if g != w {
				t.Errorf("arg %d: got %q, want %q", i, g, w)
			}
		}
	}
	// NAME=value in command position is quoted, so the shell looks for a
	// command of that name instead of treating it as an assignment.
	res, err = c.Run(context.Background(), transport.Command{Argv: []string{"FOO=bar", "true"}})
	if !errors.Is(err, transport.ErrCommandFailed) || res.ExitCode != 127 {
		t.Errorf("FOO=bar true: exit %d, %v", res.ExitCode, err)
	}
}

func TestRealExitCodesAndStderr(t *testing.T) {
	d := sshtest.StartRealSSHD(t)
	c := dialReal(t, realCfg(d))
	ctx := context.Background()
	res, err := c.Run(ctx, transport.Command{Argv: []string{"sh", "-c", "echo out; echo err >&2; exit 7"}})
	var ee *transport.ExitError
	if !errors.As(err, &ee) || res.ExitCode != 7 || ee.Code != 7 || string(res.Stdout) != "out\n" ||
		string(res.Stderr) != "err\n" || string(ee.Stderr) != "err\n" || ee.Host != "real" {
		t.Errorf("exit 7: %+v, %v", res, err)
	}
	if res, err := c.Run(ctx, transport.Command{Argv: []string{"no-such-command-lxcplan"}}); res.ExitCode != 127 || !errors.Is(err, transport.ErrCommandFailed) {
		t.Errorf("missing command: %+v, %v", res, err)
	}
	res, err = c.Run(ctx, transport.Command{Argv: []string{"cat"}, Stdin: strings.NewReader("through stdin\n")})
	if err != nil || string(res.Stdout) != "through stdin\n" {
		t.Errorf("stdin: %q, %v", res.Stdout, err)
	}
}

func TestRealHostKeys(t *testing.T) {
	d := sshtest.StartRealSSHD(t)
	dir := t.TempDir()

	cfg := realCfg(d)
	cfg.KnownHostsFile = filepath.Join(dir, "unknown")
	os.WriteFile(cfg.KnownHostsFile, []byte("# nothing yet\n"), 0o600)
	_, err := Dial(context.Background(), cfg)
	if !errors.Is(err, transport.ErrHostKeyUnknown) || !strings.Contains(err.Error(), gossh.FingerprintSHA256(d.HostKey())) ||
		!strings.Contains(err.Error(), fmt.Sprintf("ssh-keyscan -p %d 127.0.0.1 >> %s", d.Port(), cfg.KnownHostsFile)) {
		t.Errorf("unknown: %v", err)
	}

	cfg.AcceptNewHostKeys = true
	c := dialReal(t, cfg)
	if !c.Info().HostKeyAdded || c.Info().HostKeyFingerprint != gossh.FingerprintSHA256(d.HostKey()) {
		t.Errorf("accept-new: %+v", c.Info())
	}
	b, _ := os.ReadFile(cfg.KnownHostsFile)
	want := fmt.Sprintf("# nothing yet\n[127.0.0.1]:%d %s", d.Port(), gossh.MarshalAuthorizedKey(d.HostKey()))
	if string(b) != want {
		t.Errorf("known_hosts after accept-new:\n%q\nwant\n%q", b, want)
	}

	cfg.KnownHostsFile = filepath.Join(dir, "changed")
	other, _, _ := sshtest.WriteClientKey(dir, "other")
	pub, _ := os.ReadFile(other + ".pub")
	os.WriteFile(cfg.KnownHostsFile, []byte(fmt.Sprintf("[127.0.0.1]:%d %s", d.Port(), pub)), 0o600)
	_, err = Dial(context.Background(), cfg)
	if !errors.Is(err, transport.ErrHostKeyChanged) || !strings.Contains(err.Error(), "changed") {
		t.Errorf("changed (accept-new on): %v", err)
	}
}

func TestRealAuthFailure(t *testing.T) {
	d := sshtest.StartRealSSHD(t)
	cfg := realCfg(d)
	cfg.IdentityFile, _, _ = sshtest.WriteClientKey(t.TempDir(), "stranger")
	_, err := Dial(context.Background(), cfg)
	if !errors.Is(err, transport.ErrAuth) || errors.Is(err, transport.ErrUnreachable) {
		t.Fatalf("want ErrAuth, got %v", err)
	}
}

// processRunning reports whether a process with exactly this argv exists.
func processRunning(argv ...string) bool {
	want := []byte(strings.Join(argv, "\x00") + "\x00")
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Equal(b, want) {
			return true
		}
	}
	return false
}

// waitFor polls cond for up to 10 s (a correctness bound, not a timing check).
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

func TestRealCancel(t *testing.T) {
	d := sshtest.StartRealSSHD(t)
	c := dialReal(t, realCfg(d))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, transport.Command{Argv: []string{"sleep", "31.4159"}})
		errc <- err
	}()
	if !waitFor(func() bool { return processRunning("sleep", "31.4159") }) {
		t.Fatal("remote sleep never started")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, transport.ErrCancelled) {
			t.Fatalf("want ErrCancelled, got %v", err)
		}
		t.Logf("Run returned %v after cancel", time.Since(start).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !waitFor(func() bool { return !processRunning("sleep", "31.4159") }) {
		t.Error("the remote sleep is still running after cancel")
	}
	if _, err := c.Run(context.Background(), transport.Command{Argv: []string{"true"}}); err != nil {
		t.Errorf("connection unusable after cancel: %v", err)
	}
}

func TestRealReconnect(t *testing.T) {
	d := sshtest.StartRealSSHD(t)
	c := dialReal(t, realCfg(d))
	ctx := context.Background()
	if _, err := c.Run(ctx, transport.Command{Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	d.DropConnections()
	// Between commands: the session never opens on the dead connection, so
	// even a mutating command is retried on a new one.
	if res, err := c.Run(ctx, transport.Command{Argv: []string{"echo", "again"}}); err != nil || string(res.Stdout) != "again\n" {
		t.Fatalf("after drop: %q, %v", res.Stdout, err)
	}

	// Mid-command, not read-only: "may or may not have run".
	errc := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, transport.Command{Argv: []string{"sleep", "27.182"}})
		errc <- err
	}()
	if !waitFor(func() bool { return processRunning("sleep", "27.182") }) {
		t.Fatal("sleep never started")
	}
	d.DropConnections()
	if err := <-errc; !errors.Is(err, transport.ErrConnectionLost) || !errors.Is(err, transport.ErrUnreachable) {
		t.Fatalf("mutating command across a drop: %v", err)
	}

	// Mid-command, read-only: retried once, transparently.
	go func() {
		res, err := c.Run(ctx, transport.Command{Argv: []string{"sh", "-c", "sleep 1.5; echo done"}, ReadOnly: true})
		if err == nil && string(res.Stdout) != "done\n" {
			err = fmt.Errorf("stdout %q", res.Stdout)
		}
		errc <- err
	}()
	if !waitFor(func() bool { return processRunning("sleep", "1.5") }) {
		t.Fatal("sleep 1.5 never started")
	}
	d.DropConnections()
	if err := <-errc; err != nil {
		t.Fatalf("read-only command across a drop: %v", err)
	}
}

func TestRealConcurrency(t *testing.T) {
	d := sshtest.StartRealSSHD(t)
	c := dialReal(t, realCfg(d)) // default limit 8, sshd MaxSessions 20
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Run(context.Background(), transport.Command{Argv: []string{"true"}})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if p := c.peak.Load(); p > defaultMaxSessions {
		t.Errorf("peak sessions %d > limit %d", p, defaultMaxSessions)
	}
}

const fakePct = `#!/bin/sh
# stand-in for pct push VMID FILE DEST ...: logs its argv, copies FILE under ROOT/VMID
printf '%%s\n' "$@" > %[1]s/pct.args
[ "$1" = push ] || exit 2
mkdir -p "%[1]s/ct/$2$(dirname "$4")" && cp "$3" "%[1]s/ct/$2$4"
`

func TestRealUploadAndPush(t *testing.T) {
	d := sshtest.StartRealSSHD(t)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(d.BinDir(), "pct"), []byte(fmt.Sprintf(fakePct, root)), 0o755); err != nil {
		t.Fatal(err)
	}
	var logs bufLogger
	cfg := realCfg(d)
	cfg.Logger = &logs
	c := dialReal(t, cfg)
	ctx := context.Background()
	content := make([]byte, 300_000)
	rand.Read(content)

	if err := c.Push(ctx, 105, bytes.NewReader(content), int64(len(content)), "/etc/app/key.bin", 0o600, "root", "root"); err != nil {
		t.Fatalf("Push: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(root, "ct/105/etc/app/key.bin")); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("pushed file differs (%v)", err)
	}
	args, _ := os.ReadFile(filepath.Join(root, "pct.args"))
	lines := strings.Split(strings.TrimSpace(string(args)), "\n")
	if len(lines) != 10 || !slices.Equal(lines[:2], []string{"push", "105"}) ||
		!slices.Equal(lines[3:], []string{"/etc/app/key.bin", "--perms", "0600", "--user", "root", "--group", "root"}) {
		t.Errorf("pct argv = %q", lines)
	}
	if _, err := os.Stat(filepath.Dir(lines[2])); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s not removed: %v", filepath.Dir(lines[2]), err)
	}

	dest := filepath.Join(root, "uploaded.bin")
	if err := c.Upload(ctx, bytes.NewReader(content), int64(len(content)), dest, 0o640); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("uploaded file mode: %v, %v", fi, err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, content) {
		t.Error("uploaded content differs")
	}

	// A short body fails, and its temp dir is still removed.
	logs.Reset()
	err := c.Push(ctx, 105, bytes.NewReader(content[:100]), int64(len(content)), "/etc/x", 0o644, "", "")
	if err == nil || !strings.Contains(err.Error(), "short") {
		t.Fatalf("short content: %v", err)
	}
	m := regexp.MustCompile(`rm -rf -- (/[^"\s]+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no cleanup logged:\n%s", logs.String())
	}
	if _, err := os.Stat(m[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s left after a failed push", m[1])
	}
}

func TestRealRedaction(t *testing.T) {
	const secret = "correct horse battery staple"
	d := sshtest.StartRealSSHD(t)
	var logs bufLogger
	var trace bytes.Buffer
	cfg := realCfg(d)
	cfg.Logger = &logs
	c := dialReal(t, cfg)
	r := transport.Chain(c, transport.Redact(secret), transport.Trace(&trace, "real"))
	_, err := r.Run(context.Background(), transport.Command{Argv: []string{"sh", "-c", `echo "denied: $1" >&2; exit 1`, "sh", secret}})
	var ee *transport.ExitError
	if !errors.As(err, &ee) || string(ee.Stderr) != "denied: ***\n" {
		t.Fatalf("want a redacted ExitError, got %v", err)
	}
	for name, s := range map[string]string{"logs": logs.String(), "trace": trace.String(), "error": err.Error()} {
		if strings.Contains(s, "horse") {
			t.Errorf("%s leaks the secret: %s", name, s)
		}
	}
}

func TestRealProxyJump(t *testing.T) {
	d := sshtest.StartRealSSHD(t)
	conf := filepath.Join(t.TempDir(), "config")
	os.WriteFile(conf, []byte(fmt.Sprintf(`Host target
  HostName 127.0.0.1
  Port %[1]d
  ProxyJump %[2]s@jumphost
Host jumphost
  HostName 127.0.0.1
  Port %[1]d
Host *
  User %[2]s
  IdentityFile %[3]s
`, d.Port(), d.User(), d.IdentityFile())), 0o600)
	c := dialReal(t, Config{Address: "target", SSHConfigFile: conf, KnownHostsFile: d.KnownHostsFile()})
	if info := c.Info(); info.Jump != d.Addr() || info.Address != d.Addr() {
		t.Errorf("Info = %+v", info)
	}
	if res, err := c.Run(context.Background(), transport.Command{Argv: []string{"echo", "via jump"}}); err != nil || string(res.Stdout) != "via jump\n" {
		t.Errorf("run via jump: %q, %v", res.Stdout, err)
	}
}

// reportMedian records each op's duration and reports the median, which
// the targets are stated in (ns/op is the mean).
func reportMedian(b *testing.B, op func()) {
	var ds []time.Duration
	for b.Loop() {
		start := time.Now()
		op()
		ds = append(ds, time.Since(start))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	if len(ds) > 0 {
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "median-ms/op")
	}
}

// BenchmarkSharedConnection: the per-command cost of `true` on the one
// shared connection (session open, exec through the login shell, exit).
func BenchmarkSharedConnection(b *testing.B) {
	d := sshtest.StartRealSSHD(b)
	c := dialReal(b, realCfg(d))
	ctx := context.Background()
	reportMedian(b, func() {
		if _, err := c.Run(ctx, transport.Command{Argv: []string{"true"}}); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkFreshConnection: what the shared connection saves — dial,
// handshake, auth, `true` and close for every command.
func BenchmarkFreshConnection(b *testing.B) {
	d := sshtest.StartRealSSHD(b)
	cfg := realCfg(d)
	cfg.KeepAlive = -1
	ctx := context.Background()
	reportMedian(b, func() {
		c, err := Dial(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Run(ctx, transport.Command{Argv: []string{"true"}}); err != nil {
			b.Fatal(err)
		}
		c.Close()
	})
}
