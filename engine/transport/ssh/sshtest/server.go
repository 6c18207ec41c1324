// Package sshtest is an in-process SSH server for tests of the SSH transport
// and of everything above it (the PVE simulator plugs in as a [Handler]).
//
// It speaks real SSH (golang.org/x/crypto/ssh) on 127.0.0.1:0 with an
// ephemeral ed25519 host key pinned into a temporary known_hosts file, so host
// key verification is exercised, not bypassed. Exec requests go to a
// [Handler]; "scp -t" uploads are served by a built-in sink writing into a
// [MemFS]. Knobs inject the faults the transport must survive: stalls, dropped
// connections, a session limit like sshd's MaxSessions and slow output.
//
// StartRealSSHD (realsshd.go) starts a real OpenSSH sshd for the tests that
// only real OpenSSH can answer (login-shell quoting, real scp, MaxSessions).
package sshtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Handler runs one exec request. cmdline is the raw command line the client
// sent (use [SplitCommand] to get argv). ctx ends when the client sends a
// signal, closes the session or the connection drops. The return value is
// the exit status sent to the client.
type Handler interface {
	Exec(ctx context.Context, cmdline string, stdin io.Reader, stdout, stderr io.Writer) int
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(ctx context.Context, cmdline string, stdin io.Reader, stdout, stderr io.Writer) int

// Exec calls f.
func (f HandlerFunc) Exec(ctx context.Context, cmdline string, stdin io.Reader, stdout, stderr io.Writer) int {
	return f(ctx, cmdline, stdin, stdout, stderr)
}

// Option configures a [Server].
type Option func(*Server)

// WithHandler sets the exec handler. The default answers "true" with 0,
// "false" with 1 and anything else with 127.
func WithHandler(h Handler) Option { return func(s *Server) { s.handler = h } }

// WithRejectAuth makes the server reject every public key from the start.
func WithRejectAuth() Option { return func(s *Server) { s.rejectAuth.Store(true) } }

// WithStallBeforeHandshake makes the server accept TCP connections and then
// say nothing for d (the client's dial timeout should fire).
func WithStallBeforeHandshake(d time.Duration) Option {
	return func(s *Server) { s.stallBefore = d }
}

// WithStallAfterHandshake makes the server complete the handshake and then
// ignore every request and channel for d (keepalives go unanswered).
func WithStallAfterHandshake(d time.Duration) Option {
	return func(s *Server) { s.stallAfter = d }
}

// WithDropAfter makes the server drop each connection abruptly once n exec
// commands have finished on it.
func WithDropAfter(n int) Option { return func(s *Server) { s.dropAfter = n } }

// WithSessionLimit makes the server refuse session channels beyond n open at
// once on one connection, as sshd does beyond MaxSessions.
func WithSessionLimit(n int) Option { return func(s *Server) { s.sessionLimit = n } }

// WithSlowOutput delays every write to stdout and stderr by d.
func WithSlowOutput(d time.Duration) Option { return func(s *Server) { s.slowOutput = d } }

// WithFS sets the file system the scp sink writes to (default: a new MemFS).
func WithFS(fs *MemFS) Option { return func(s *Server) { s.fs = fs } }

// Server is a running in-process SSH server. Its methods are safe for
// concurrent use.
type Server struct {
	t        testing.TB
	ln       net.Listener
	handler  Handler
	fs       *MemFS
	dir      string
	hostKey  ssh.Signer
	clientPK ssh.PublicKey
	knownHF  string
	identity string

	rejectAuth   atomic.Bool
	stallBefore  time.Duration
	stallAfter   time.Duration
	dropAfter    int
	sessionLimit int
	slowOutput   time.Duration

	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	commands  []string
	active    int
	maxActive int
	accepted  int
	wg        sync.WaitGroup
	closed    bool
	done      chan struct{} // closed by Close
}

// Start starts a server on 127.0.0.1:0 and stops it in t.Cleanup.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, dir: t.TempDir(), conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	if s.handler == nil {
		s.handler = HandlerFunc(defaultHandler)
	}
	if s.fs == nil {
		s.fs = NewMemFS()
	}
	var err error
	s.hostKey, err = newSigner()
	if err != nil {
		t.Fatalf("sshtest: host key: %v", err)
	}
	s.identity, s.clientPK, err = WriteClientKey(s.dir, "id_ed25519")
	if err != nil {
		t.Fatalf("sshtest: client key: %v", err)
	}
	s.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sshtest: listen: %v", err)
	}
	s.knownHF = filepath.Join(s.dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.hostKey.PublicKey())
	if err := os.WriteFile(s.knownHF, []byte(line+"\n"), 0o600); err != nil {
		t.Fatalf("sshtest: known_hosts: %v", err)
	}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

func defaultHandler(_ context.Context, cmdline string, _ io.Reader, _, stderr io.Writer) int {
	switch cmdline {
	case "true":
		return 0
	case "false":
		return 1
	}
	fmt.Fprintf(stderr, "sshtest: %s: command not found\n", cmdline)
	return 127
}

// Addr is "127.0.0.1:PORT".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host is "127.0.0.1".
func (s *Server) Host() string { return s.ln.Addr().(*net.TCPAddr).IP.String() }

// Port is the listening port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// KnownHostsFile is a known_hosts file that pins this server's host key.
func (s *Server) KnownHostsFile() string { return s.knownHF }

// IdentityFile is an unencrypted private key the server accepts.
func (s *Server) IdentityFile() string { return s.identity }

// HostKey is the server's public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.hostKey.PublicKey() }

// FS is where scp uploads land.
func (s *Server) FS() *MemFS { return s.fs }

// SetRejectAuth switches public-key rejection on or off for new connections.
func (s *Server) SetRejectAuth(reject bool) { s.rejectAuth.Store(reject) }

// Commands returns every exec command line received, in arrival order.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// MaxConcurrentSessions is the highest number of session channels that were
// open at the same time, over all connections.
func (s *Server) MaxConcurrentSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxActive
}

// Connections is the number of TCP connections accepted so far.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// DropConnections closes every open TCP connection abruptly, as a network
// failure or a host reboot would.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// Close stops the server and waits for its goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.ln.Close()
	s.DropConnections()
	s.wg.Wait()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.accepted++
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
			s.handleConn(c)
		}()
	}
}

func (s *Server) config() *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if s.rejectAuth.Load() {
				return nil, errors.New("sshtest: rejecting all keys")
			}
			if !bytes.Equal(key.Marshal(), s.clientPK.Marshal()) {
				return nil, errors.New("sshtest: unknown key")
			}
			return &ssh.Permissions{}, nil
		},
		ServerVersion: "SSH-2.0-sshtest",
	}
	cfg.AddHostKey(s.hostKey)
	return cfg
}

// connState is per-connection bookkeeping.
type connState struct {
	mu       sync.Mutex
	open     int
	finished int
}

func (s *Server) handleConn(c net.Conn) {
	if s.stallBefore > 0 && !s.sleepOrClosed(s.stallBefore) {
		return
	}
	sc, chans, reqs, err := ssh.NewServerConn(c, s.config())
	if err != nil {
		return
	}
	defer sc.Close()
	if s.stallAfter > 0 && !s.sleepOrClosed(s.stallAfter) {
		return
	}
	go ssh.DiscardRequests(reqs) // keepalive@openssh.com gets a (negative) reply
	st := &connState{}
	var wg sync.WaitGroup
	defer wg.Wait()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		st.mu.Lock()
		if s.sessionLimit > 0 && st.open >= s.sessionLimit {
			st.mu.Unlock()
			_ = nc.Reject(ssh.Prohibited, "open failed")
			continue
		}
		st.open++
		st.mu.Unlock()
		ch, creqs, err := nc.Accept()
		if err != nil {
			st.mu.Lock()
			st.open--
			st.mu.Unlock()
			continue
		}
		s.mu.Lock()
		s.active++
		s.maxActive = max(s.maxActive, s.active)
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			drop := false
			// The accounting runs before the channel is closed: a client may
			// open its next session as soon as it sees the close.
			s.handleSession(ch, creqs, func(ran bool) {
				s.mu.Lock()
				s.active--
				s.mu.Unlock()
				st.mu.Lock()
				st.open--
				if ran {
					st.finished++
				}
				drop = s.dropAfter > 0 && st.finished >= s.dropAfter
				st.mu.Unlock()
			})
			if drop {
				c.Close()
			}
		}()
	}
}

// sleepOrClosed waits d without touching the connection; it returns false
// if the server was closed meanwhile.
func (s *Server) sleepOrClosed(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

// handleSession serves one session channel; finish is called (with whether
// an exec ran) just before the channel is closed.
func (s *Server) handleSession(ch ssh.Channel, reqs <-chan *ssh.Request, finish func(ran bool)) {
	started := false
	defer ch.Close()
	defer func() { finish(started) }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	execDone := make(chan int, 1)
	for {
		select {
		case req, ok := <-reqs:
			if !ok {
				// The client closed the channel or the connection dropped.
				cancel()
				if started {
					<-execDone
				}
				return
			}
			switch req.Type {
			case "exec":
				if started {
					_ = req.Reply(false, nil)
					continue
				}
				var p struct{ Command string }
				if err := ssh.Unmarshal(req.Payload, &p); err != nil {
					_ = req.Reply(false, nil)
					continue
				}
				started = true
				_ = req.Reply(true, nil)
				s.mu.Lock()
				s.commands = append(s.commands, p.Command)
				s.mu.Unlock()
				go func() { execDone <- s.exec(ctx, ch, p.Command) }()
			case "signal":
				cancel()
				if req.WantReply {
					_ = req.Reply(true, nil)
				}
			case "env":
				_ = req.Reply(true, nil)
			default:
				if req.WantReply {
					_ = req.Reply(false, nil)
				}
			}
		case code := <-execDone:
			status := make([]byte, 4)
			binary.BigEndian.PutUint32(status, uint32(code))
			_ = ch.CloseWrite()
			_, _ = ch.SendRequest("exit-status", false, status)
			return
		}
	}
}

func (s *Server) exec(ctx context.Context, ch ssh.Channel, cmdline string) int {
	var stdout, stderr io.Writer = ch, ch.Stderr()
	if s.slowOutput > 0 {
		stdout = &slowWriter{w: stdout, d: s.slowOutput, ctx: ctx}
		stderr = &slowWriter{w: stderr, d: s.slowOutput, ctx: ctx}
	}
	if argv, err := SplitCommand(cmdline); err == nil && len(argv) > 0 && argv[0] == "scp" {
		return scpSink(ctx, s.fs, argv, ch, stdout, stderr)
	}
	return s.handler.Exec(ctx, cmdline, ch, stdout, stderr)
}

type slowWriter struct {
	w   io.Writer
	d   time.Duration
	ctx context.Context
}

func (w *slowWriter) Write(p []byte) (int, error) {
	t := time.NewTimer(w.d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.ctx.Done():
		return 0, w.ctx.Err()
	}
	return w.w.Write(p)
}

// newSigner makes an ephemeral ed25519 signer.
func newSigner() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
}

// WriteClientKey generates an ed25519 key pair, writes the private key in
// OpenSSH format to dir/name (mode 0600) and the public key to dir/name.pub,
// and returns the private key path and the public key.
func WriteClientKey(dir, name string) (string, ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "sshtest")
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", nil, err
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(sp), 0o644); err != nil {
		return "", nil, err
	}
	return path, sp, nil
}
