package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/lxcplan/lxcplan/engine/transport"
	"github.com/lxcplan/lxcplan/engine/transport/ssh/sshtest"
)

func TestMain(m *testing.M) {
	// Never let the developer's agent or keys take part in a test.
	os.Unsetenv("SSH_AUTH_SOCK")
	os.Exit(m.Run())
}

// argvHandler runs a tiny command set against SplitCommand's argv:
// echo ARGS (prints them NUL-separated), cat (copies stdin), fail CODE MSG,
// sleep (until cancelled), and anything else exits 127.
func argvHandler(ctx context.Context, cmdline string, stdin io.Reader, stdout, stderr io.Writer) int {
	argv, err := sshtest.SplitCommand(cmdline)
	if err != nil || len(argv) == 0 {
		fmt.Fprintf(stderr, "bad command line: %v\n", err)
		return 2
	}
	switch argv[0] {
	case "true":
		return 0
	case "echo":
		io.WriteString(stdout, strings.Join(argv[1:], "\x00"))
		return 0
	case "cat":
		io.Copy(stdout, stdin)
		return 0
	case "fail":
		code, _ := strconv.Atoi(argv[1])
		fmt.Fprintln(stderr, strings.Join(argv[2:], " "))
		return code
	case "sleep":
		<-ctx.Done()
		return 143
	}
	fmt.Fprintf(stderr, "%s: command not found\n", argv[0])
	return 127
}

func cfgFor(s *sshtest.Server) Config {
	return Config{
		Name:           "pve1",
		Address:        s.Addr(),
		IdentityFile:   s.IdentityFile(),
		KnownHostsFile: s.KnownHostsFile(),
		SSHConfigFile:  "none",
		KeepAlive:      -1,
	}
}

func dial(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRunResults(t *testing.T) {
	s := sshtest.Start(t, sshtest.WithHandler(sshtest.HandlerFunc(argvHandler)))
	c := dial(t, cfgFor(s))
	ctx := context.Background()

	res, err := c.Run(ctx, transport.Command{Argv: []string{"echo", "a b", "", "it's", "$x"}})
	if err != nil || string(res.Stdout) != "a b\x00\x00it's\x00$x" || res.ExitCode != 0 {
		t.Fatalf("echo: %q, %v", res.Stdout, err)
	}
	res, err = c.Run(ctx, transport.Command{Argv: []string{"cat"}, Stdin: strings.NewReader("hello stdin")})
	if err != nil || string(res.Stdout) != "hello stdin" {
		t.Fatalf("cat: %q, %v", res.Stdout, err)
	}
	res, err = c.Run(ctx, transport.Command{Argv: []string{"fail", "3", "no", "such", "thing"}})
	var ee *transport.ExitError
	if !errors.Is(err, transport.ErrCommandFailed) || !errors.As(err, &ee) {
		t.Fatalf("fail: want ExitError, got %v", err)
	}
	if res.ExitCode != 3 || ee.Code != 3 || ee.Host != "pve1" || string(ee.Stderr) != "no such thing\n" ||
		!slices.Equal(ee.Argv, []string{"fail", "3", "no", "such", "thing"}) {
		t.Errorf("fail: res %+v, err %+v", res, ee)
	}
	if want := "fail 3 no such thing on pve1: exit status 3: no such thing"; err.Error() != want {
		t.Errorf("error text %q, want %q", err.Error(), want)
	}
	if _, err := c.Run(ctx, transport.Command{Argv: []string{"echo", "a\x00b"}}); !errors.Is(err, transport.ErrInvalidCommand) {
		t.Errorf("NUL argv: %v", err)
	}
	info := c.Info()
	if info.ServerVersion != "SSH-2.0-sshtest" || info.HostKeyFingerprint != gossh.FingerprintSHA256(s.HostKey()) ||
		info.HostKeyType != "ssh-ed25519" || info.User != "root" || info.Address != s.Addr() || info.HostKeyAdded {
		t.Errorf("Info = %+v", info)
	}
	if got := s.Commands(); !slices.Contains(got, "echo 'a b' '' 'it'\\''s' '$x'") {
		t.Errorf("wire command lines: %q", got)
	}
}

func TestHostKeys(t *testing.T) {
	s := sshtest.Start(t)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	otherKey, _ := gossh.NewPublicKey(other)
	hostport := knownhosts.Normalize(s.Addr())

	t.Run("unknown", func(t *testing.T) {
		cfg := cfgFor(s)
		cfg.KnownHostsFile = filepath.Join(t.TempDir(), "empty_known_hosts")
		os.WriteFile(cfg.KnownHostsFile, nil, 0o600)
		_, err := Dial(context.Background(), cfg)
		if !errors.Is(err, transport.ErrHostKeyUnknown) || errors.Is(err, transport.ErrHostKeyChanged) {
			t.Fatalf("want ErrHostKeyUnknown, got %v", err)
		}
		for _, want := range []string{
			gossh.FingerprintSHA256(s.HostKey()), "--accept-new-host-keys",
			fmt.Sprintf("ssh-keyscan -p %d 127.0.0.1 >> %s", s.Port(), cfg.KnownHostsFile),
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	})
	t.Run("accept-new", func(t *testing.T) {
		cfg := cfgFor(s)
		cfg.KnownHostsFile = filepath.Join(t.TempDir(), "sub", "known_hosts") // neither exists yet
		cfg.AcceptNewHostKeys = true
		c := dial(t, cfg)
		if !c.Info().HostKeyAdded {
			t.Error("HostKeyAdded = false on first use")
		}
		got, _ := os.ReadFile(cfg.KnownHostsFile)
		want := fmt.Sprintf("[127.0.0.1]:%d %s", s.Port(), strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.HostKey()))))
		if strings.TrimSpace(string(got)) != want {
			t.Errorf("known_hosts = %q, want %q", got, want)
		}
		c2 := dial(t, cfg)
		if c2.Info().HostKeyAdded {
			t.Error("second dial added the key again")
		}
		if got2, _ := os.ReadFile(cfg.KnownHostsFile); !bytes.Equal(got, got2) {
			t.Errorf("known_hosts changed on second dial: %q", got2)
		}
	})
	t.Run("changed", func(t *testing.T) {
		for _, acceptNew := range []bool{false, true} {
			cfg := cfgFor(s)
			cfg.AcceptNewHostKeys = acceptNew
			cfg.KnownHostsFile = filepath.Join(t.TempDir(), "known_hosts")
			os.WriteFile(cfg.KnownHostsFile, []byte(knownhosts.Line([]string{hostport}, otherKey)+"\n"), 0o600)
			_, err := Dial(context.Background(), cfg)
			if !errors.Is(err, transport.ErrHostKeyChanged) || errors.Is(err, transport.ErrHostKeyUnknown) {
				t.Fatalf("accept-new=%v: want ErrHostKeyChanged, got %v", acceptNew, err)
			}
			for _, want := range []string{"changed", gossh.FingerprintSHA256(s.HostKey()), gossh.FingerprintSHA256(otherKey), cfg.KnownHostsFile + ":1"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if b, _ := os.ReadFile(cfg.KnownHostsFile); strings.Count(string(b), "\n") != 1 {
				t.Errorf("known_hosts was modified: %q", b)
			}
		}
	})
}

func TestAuth(t *testing.T) {
	t.Run("rejected", func(t *testing.T) {
		s := sshtest.Start(t, sshtest.WithRejectAuth())
		_, err := Dial(context.Background(), cfgFor(s))
		if !errors.Is(err, transport.ErrAuth) {
			t.Fatalf("want ErrAuth, got %v", err)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		s := sshtest.Start(t)
		cfg := cfgFor(s)
		cfg.IdentityFile = filepath.Join(t.TempDir(), "missing")
		_, err := Dial(context.Background(), cfg)
		if !errors.Is(err, transport.ErrAuth) || !strings.Contains(err.Error(), "missing") {
			t.Fatalf("want ErrAuth naming the file, got %v", err)
		}
	})
	t.Run("encrypted key", func(t *testing.T) {
		s := sshtest.Start(t)
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		block, err := gossh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("passphrase"))
		if err != nil {
			t.Fatal(err)
		}
		keyFile := filepath.Join(t.TempDir(), "id_enc")
		os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
		cfg := cfgFor(s)
		cfg.IdentityFile = keyFile
		_, err = Dial(context.Background(), cfg)
		if !errors.Is(err, transport.ErrAuth) || !strings.Contains(err.Error(), "encrypted") || !strings.Contains(err.Error(), "ssh-add") {
			t.Fatalf("want a clear ErrAuth about the encrypted key, got %v", err)
		}
		// With the key in an agent, the encrypted file is fine. The server
		// only accepts its own client key, so load that one into the agent
		// too and check the dial succeeds through the agent.
		sock := startAgent(t, priv, readKey(t, s.IdentityFile()))
		t.Setenv("SSH_AUTH_SOCK", sock)
		c := dial(t, cfg)
		if _, err := c.Run(context.Background(), transport.Command{Argv: []string{"true"}}); err != nil {
			t.Fatal(err)
		}
	})
}

func readKey(t *testing.T, file string) any {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gossh.ParseRawPrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// startAgent serves an in-memory ssh-agent holding keys on a unix socket.
func startAgent(t *testing.T, keys ...any) string {
	kr := agent.NewKeyring()
	for _, k := range keys {
		if pk, ok := k.(*ed25519.PrivateKey); ok {
			k = *pk
		}
		if err := kr.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); agent.ServeAgent(kr, c) }()
		}
	}()
	return sock
}

func TestUnreachable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	s := sshtest.Start(t)
	cfg := cfgFor(s)
	cfg.Address = addr
	if _, err := Dial(context.Background(), cfg); !errors.Is(err, transport.ErrUnreachable) {
		t.Errorf("closed port: want ErrUnreachable, got %v", err)
	}

	stalled := sshtest.Start(t, sshtest.WithStallBeforeHandshake(time.Minute))
	cfg = cfgFor(stalled)
	cfg.DialTimeout = 200 * time.Millisecond
	_, err := Dial(context.Background(), cfg)
	if !errors.Is(err, transport.ErrUnreachable) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("stalled handshake: want ErrUnreachable (timed out), got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	cfg.DialTimeout = time.Minute
	if _, err := Dial(ctx, cfg); !errors.Is(err, transport.ErrCancelled) {
		t.Errorf("cancelled dial: want ErrCancelled, got %v", err)
	}
}

func TestCancelRunningCommand(t *testing.T) {
	stopped := make(chan struct{})
	h := sshtest.HandlerFunc(func(ctx context.Context, cmdline string, stdin io.Reader, stdout, stderr io.Writer) int {
		if cmdline != "sleep 30" {
			return 0
		}
		<-ctx.Done() // ends on the client's signal or channel close
		close(stopped)
		return 143
	})
	s := sshtest.Start(t, sshtest.WithHandler(h))
	c := dial(t, cfgFor(s))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Run(ctx, transport.Command{Argv: []string{"sleep", "30"}})
	if !errors.Is(err, transport.ErrCancelled) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want ErrCancelled, got %v", err)
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the remote handler never saw the cancellation")
	}
	// The connection is still usable.
	if _, err := c.Run(context.Background(), transport.Command{Argv: []string{"true"}}); err != nil {
		t.Fatalf("after cancel: %v", err)
	}
}

func TestReconnect(t *testing.T) {
	t.Run("dropped between commands", func(t *testing.T) {
		s := sshtest.Start(t, sshtest.WithDropAfter(1))
		c := dial(t, cfgFor(s))
		for i := 0; i < 3; i++ {
			// Not read-only: the retry is safe because the session never opened.
			if _, err := c.Run(context.Background(), transport.Command{Argv: []string{"true"}}); err != nil {
				t.Fatalf("command %d: %v", i, err)
			}
		}
		if s.Connections() < 2 {
			t.Errorf("connections = %d, want a redial", s.Connections())
		}
	})
	t.Run("dropped mid-command", func(t *testing.T) {
		var s *sshtest.Server
		var mu sync.Mutex
		seen := map[string]bool{}
		h := sshtest.HandlerFunc(func(ctx context.Context, cmdline string, stdin io.Reader, stdout, stderr io.Writer) int {
			mu.Lock()
			// Each command drops the connection the first time it runs.
			drop := strings.Contains(cmdline, "drop") && !seen[cmdline]
			seen[cmdline] = true
			mu.Unlock()
			if drop {
				s.DropConnections()
				<-ctx.Done()
				return 1
			}
			io.WriteString(stdout, "ran: "+cmdline)
			return 0
		})
		s = sshtest.Start(t, sshtest.WithHandler(h))
		c := dial(t, cfgFor(s))
		// Read-only: one transparent retry.
		res, err := c.Run(context.Background(), transport.Command{Argv: []string{"cat", "drop"}, ReadOnly: true})
		if err != nil || string(res.Stdout) != "ran: cat drop" {
			t.Fatalf("read-only after a drop: %q, %v", res.Stdout, err)
		}
		// Not read-only: a clear error, and the next command redials.
		_, err = c.Run(context.Background(), transport.Command{Argv: []string{"pct", "start", "drop"}})
		if !errors.Is(err, transport.ErrConnectionLost) || !errors.Is(err, transport.ErrUnreachable) ||
			!strings.Contains(err.Error(), "may or may not have run") {
			t.Fatalf("mutating command after a drop: %v", err)
		}
		if _, err := c.Run(context.Background(), transport.Command{Argv: []string{"true"}}); err != nil {
			t.Fatalf("next command: %v", err)
		}
		if s.Connections() != 3 {
			t.Errorf("connections = %d, want 3", s.Connections())
		}
	})
	t.Run("silent network", func(t *testing.T) {
		s := sshtest.Start(t, sshtest.WithStallAfterHandshake(time.Minute))
		cfg := cfgFor(s)
		cfg.KeepAlive = 50 * time.Millisecond
		c := dial(t, cfg)
		_, err := c.Run(context.Background(), transport.Command{Argv: []string{"true"}})
		if !errors.Is(err, transport.ErrUnreachable) {
			t.Fatalf("want ErrUnreachable after missed keepalives, got %v", err)
		}
	})
}

func TestSessionLimit(t *testing.T) {
	const limit = 4
	h := sshtest.HandlerFunc(func(ctx context.Context, cmdline string, stdin io.Reader, stdout, stderr io.Writer) int {
		time.Sleep(5 * time.Millisecond)
		return 0
	})
	s := sshtest.Start(t, sshtest.WithHandler(h), sshtest.WithSessionLimit(limit))
	cfg := cfgFor(s)
	cfg.MaxSessions = limit
	c := dial(t, cfg)
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
	if got := s.MaxConcurrentSessions(); got > limit || got < 1 {
		t.Errorf("server saw %d concurrent sessions, limit %d", got, limit)
	}
	if got := c.peak.Load(); got > limit {
		t.Errorf("client peak %d > limit %d", got, limit)
	}
	if s.Connections() != 1 {
		t.Errorf("connections = %d, want 1 shared", s.Connections())
	}
	if n := len(s.Commands()); n != 100 {
		t.Errorf("commands = %d", n)
	}
}

// pctHandler stands in for `pct push` on a MemFS: it copies the staged file to
// /ct/<vmid><dest> and records its options.
type pctHandler struct {
	fs   *sshtest.MemFS
	mu   sync.Mutex
	args [][]string
	fail bool
}

func (p *pctHandler) Exec(ctx context.Context, cmdline string, stdin io.Reader, stdout, stderr io.Writer) int {
	argv, err := sshtest.SplitCommand(cmdline)
	if err != nil || len(argv) < 5 || argv[0] != "pct" || argv[1] != "push" {
		fmt.Fprintf(stderr, "unexpected %q\n", cmdline)
		return 127
	}
	p.mu.Lock()
	p.args = append(p.args, argv)
	p.mu.Unlock()
	if p.fail {
		fmt.Fprintln(stderr, "can only push files to a running CT")
		return 2
	}
	f, ok := p.fs.ReadFile(argv[3])
	if !ok {
		fmt.Fprintf(stderr, "failed to open %s for reading\n", argv[3])
		return 0
	}
	p.fs.Mkdir("/ct")
	p.fs.Mkdir("/ct/" + argv[2])
	p.fs.WriteFile("/ct/"+argv[2]+"/"+filepath.Base(argv[4]), f.Data, 0o644)
	return 0
}

func TestPush(t *testing.T) {
	fs := sshtest.NewMemFS()
	pct := &pctHandler{fs: fs}
	s := sshtest.Start(t, sshtest.WithFS(fs), sshtest.WithHandler(sshtest.Coreutils(fs, pct)))
	c := dial(t, cfgFor(s))
	content := bytes.Repeat([]byte("lxcplan\n"), 1000)
	err := c.Push(context.Background(), 101, bytes.NewReader(content), int64(len(content)), "/etc/app.conf", 0o640, "www-data", "adm")
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if f, ok := fs.ReadFile("/ct/101/app.conf"); !ok || !bytes.Equal(f.Data, content) {
		t.Errorf("pushed content wrong (found=%v)", ok)
	}
	if len(pct.args) != 1 || !slices.Equal(pct.args[0][4:], []string{"/etc/app.conf", "--perms", "0640", "--user", "www-data", "--group", "adm"}) {
		t.Errorf("pct args = %q", pct.args)
	}
	assertNoTemp(t, fs)

	// Failures still remove the temp dir.
	pct.fail = true
	err = c.Push(context.Background(), 101, bytes.NewReader(content), int64(len(content)), "/etc/app.conf", 0o640, "", "")
	if !errors.Is(err, transport.ErrCommandFailed) {
		t.Errorf("failing pct push: %v", err)
	}
	assertNoTemp(t, fs)
	pct.fail = false
	err = c.Push(context.Background(), 101, bytes.NewReader(content[:10]), int64(len(content)), "/etc/app.conf", 0o640, "", "")
	if err == nil || !strings.Contains(err.Error(), "short") {
		t.Errorf("short content: %v", err)
	}
	assertNoTemp(t, fs)
	err = c.Push(context.Background(), 101, bytes.NewReader(content), 10, "/etc/app.conf", 0o640, "", "")
	if err == nil || !strings.Contains(err.Error(), "longer") {
		t.Errorf("long content: %v", err)
	}
	assertNoTemp(t, fs)
	if len(pct.args) != 2 {
		t.Errorf("pct push ran %d times, want 2 (never for bad content)", len(pct.args))
	}
}

func assertNoTemp(t *testing.T, fs *sshtest.MemFS) {
	t.Helper()
	for _, p := range fs.Paths() {
		if strings.HasPrefix(p, "/tmp/") {
			t.Errorf("temp file left behind: %s", p)
		}
	}
}

func TestRedactionEverywhere(t *testing.T) {
	const secret = "Tr0ub4dor&3"
	s := sshtest.Start(t, sshtest.WithHandler(sshtest.HandlerFunc(func(ctx context.Context, cmdline string, stdin io.Reader, stdout, stderr io.Writer) int {
		fmt.Fprintf(stderr, "chpasswd: rejected %s\n", cmdline)
		return 1
	})))
	var logs bufLogger
	cfg := cfgFor(s)
	cfg.Logger = &logs
	c := dial(t, cfg)
	var trace bytes.Buffer
	r := transport.Chain(c, transport.Redact(secret), transport.Trace(&trace, "pve1"))
	_, err := r.Run(context.Background(), transport.Command{Argv: []string{"chpasswd", "root:" + secret}})
	if !errors.Is(err, transport.ErrCommandFailed) {
		t.Fatalf("want a command failure, got %v", err)
	}
	// Also with the secret only on the Command (no middleware).
	_, err2 := c.Run(context.Background(), transport.Command{Argv: []string{"chpasswd", "root:" + secret}, Redact: []string{secret}})
	var ee *transport.ExitError
	errors.As(err2, &ee)
	for name, text := range map[string]string{
		"logs": logs.String(), "trace": trace.String(), "error": err.Error(), "error2": err2.Error(),
		"argv": strings.Join(ee.Argv, " "), "stderr": string(ee.Stderr),
	} {
		if strings.Contains(text, secret) || strings.Contains(text, "Tr0ub4dor") {
			t.Errorf("%s leaks the secret: %s", name, text)
		}
	}
	if !strings.Contains(logs.String(), `root:***`) {
		t.Errorf("logs do not show the masked command: %s", logs.String())
	}
	if got := s.Commands(); len(got) != 2 || !strings.Contains(got[0], secret) {
		t.Errorf("the wire form must carry the real secret: %q", got)
	}
}

func TestSSHConfig(t *testing.T) {
	s := sshtest.Start(t, sshtest.WithHandler(sshtest.HandlerFunc(argvHandler)))
	dir := t.TempDir()
	conf := filepath.Join(dir, "config")
	os.WriteFile(conf, []byte(fmt.Sprintf(`Host pve-lab
  HostName %s
  Port %d
  User admin
  IdentityFile %s

Host *
  User nobody
`, s.Host(), s.Port(), s.IdentityFile())), 0o600)
	c := dial(t, Config{Address: "pve-lab", SSHConfigFile: conf, KnownHostsFile: s.KnownHostsFile(), KeepAlive: -1})
	info := c.Info()
	if info.Address != s.Addr() || info.User != "admin" || info.Name != "pve-lab" {
		t.Errorf("Info = %+v", info)
	}
	if _, err := Dial(context.Background(), Config{Address: "pve-lab", SSHConfigFile: filepath.Join(dir, "nope")}); err == nil {
		t.Error("a missing explicit ssh config must be an error")
	}
	r, err := resolve(Config{Address: "x", SSHConfigFile: conf, User: "root", Port: 2222})
	if err != nil || r.target.user != "root" || r.target.port != 2222 || r.target.host != "x" {
		t.Errorf("explicit values must win: %+v, %v", r, err)
	}
	os.WriteFile(conf, []byte("Host j\n  ProxyJump a,b\n"), 0o600)
	if _, err := resolve(Config{Address: "j", SSHConfigFile: conf}); err == nil || !strings.Contains(err.Error(), "one jump host") {
		t.Errorf("two jump hosts: %v", err)
	}
}

func TestPool(t *testing.T) {
	s := sshtest.Start(t)
	p := NewPool(cfgFor(s))
	defer p.Close()
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Runner("pve1").Run(context.Background(), transport.Command{Argv: []string{"true"}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if s.Connections() != 1 {
		t.Errorf("connections = %d, want 1", s.Connections())
	}
	if _, err := p.Client(context.Background(), "nope"); err == nil {
		t.Error("unknown host must fail")
	}
}

// BenchmarkInProcessShared isolates the transport's own per-command cost
// (no process is started on the server side), for comparison with the
// real-sshd benchmarks, where sshd's fork and the login shell dominate.
func BenchmarkInProcessShared(b *testing.B) {
	s := sshtest.Start(b)
	c, err := Dial(context.Background(), cfgFor(s))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	reportMedian(b, func() {
		if _, err := c.Run(context.Background(), transport.Command{Argv: []string{"true"}}); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkInProcessFresh: dial, handshake, auth, `true`, close per op.
func BenchmarkInProcessFresh(b *testing.B) {
	s := sshtest.Start(b)
	reportMedian(b, func() {
		c, err := Dial(context.Background(), cfgFor(s))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Run(context.Background(), transport.Command{Argv: []string{"true"}}); err != nil {
			b.Fatal(err)
		}
		c.Close()
	})
}
