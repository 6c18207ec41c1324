// Package ssh is lxcplan's SSH transport: one connection per host for the
// whole run, shared by every goroutine, with many sessions on it under a
// per-host limit, keepalives, one transparent reconnect for read-only
// commands, host keys checked against known_hosts, and uploads via scp.
//
// It and its sshtest subpackage are the only packages that import
// golang.org/x/crypto/ssh and go-scp.
package ssh

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/lxcplan/lxcplan/engine/transport"
)

// ErrClosed is returned by a Client used after Close.
var ErrClosed = errors.New("ssh client closed")

// Signal grace periods on cancellation: TERM first, KILL if the command is
// still there, then the session is closed regardless.
const (
	termGrace   = 300 * time.Millisecond
	killGrace   = 100 * time.Millisecond
	killTimeout = 3 * time.Second
)

// HostInfo is what a successful dial learned; `lxcplan hosts check` prints it.
type HostInfo struct {
	Name    string // Config.Name (or Address)
	Address string // host:port dialled, after ssh_config
	User    string
	Jump    string // host:port of the ProxyJump host, if any
	// ServerVersion is the server's identification string, e.g. "SSH-2.0-OpenSSH_9.2p1 Debian-2".
	ServerVersion string
	// HostKeyType and HostKeyFingerprint (SHA256:...) identify the verified host key.
	HostKeyType        string
	HostKeyFingerprint string
	// HostKeyAdded reports that accept-new mode just recorded the key.
	HostKeyAdded bool
}

// Client is a live connection to one host. It is safe for concurrent use;
// Run blocks while the host's session limit is reached.
type Client struct {
	r   *resolved
	log transport.Logger // nil: silent
	sem chan struct{}

	dialMu sync.Mutex // one (re)dial at a time
	mu     sync.Mutex
	cur    *conn
	closed bool
	info   HostInfo

	// inflight and peak count sessions under the limit; tests read peak.
	inflight, peak atomic.Int64
}

// conn is one generation of the TCP connection; a reconnect makes a new one.
type conn struct {
	client *gossh.Client
	jump   *gossh.Client
	dead   chan struct{}
	once   sync.Once
	err    error
}

func (k *conn) kill(err error) {
	k.once.Do(func() {
		k.err = err
		close(k.dead)
		k.client.Close()
		if k.jump != nil {
			k.jump.Close()
		}
	})
}

func (k *conn) isDead() bool {
	select {
	case <-k.dead:
		return true
	default:
		return false
	}
}

// probe sends one keepalive and reports whether the server answered in time.
func (k *conn) probe(timeout time.Duration) bool {
	done := make(chan error, 1)
	go func() {
		_, _, err := k.client.SendRequest("keepalive@openssh.com", true, nil)
		done <- err
	}()
	select {
	case err := <-done:
		return err == nil
	case <-k.dead:
		return false
	case <-time.After(timeout):
		return false
	}
}

var _ transport.Runner = (*Client)(nil)

// logf sends one record to the configured Logger, labelled with the host.
// Callers pass only redacted values.
func (c *Client) logf(level transport.LogLevel, msg string, fields ...transport.Field) {
	if c.log == nil {
		return
	}
	c.log.Log(level, msg, append([]transport.Field{transport.F("host", c.r.name)}, fields...)...)
}

// Dial connects to the host, verifies its key, authenticates, and returns a
// Client that keeps the connection for the whole run. Errors wrap
// transport.ErrUnreachable, ErrAuth, ErrHostKeyUnknown, ErrHostKeyChanged or
// ErrCancelled.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	r, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	c := &Client{r: r, log: cfg.Logger, sem: make(chan struct{}, r.maxSessions)}
	k, info, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.cur, c.info = k, info
	return c, nil
}

// Info describes the connection made by Dial.
func (c *Client) Info() HostInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// Name is the host's display name.
func (c *Client) Name() string { return c.r.name }

// Close ends the connection; later Runs fail with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.cur != nil {
		c.cur.kill(ErrClosed)
	}
	return nil
}

func (c *Client) dial(ctx context.Context) (*conn, HostInfo, error) {
	dctx, cancel := context.WithTimeout(ctx, c.r.dialTimeout)
	defer cancel()
	start := time.Now()
	k := &conn{dead: make(chan struct{})}
	info := HostInfo{Name: c.r.name, Address: c.r.target.addr(), User: c.r.target.user}
	var (
		nc  net.Conn
		err error
	)
	if j := c.r.jump; j != nil {
		info.Jump = j.addr()
		var jc *gossh.Client
		jc, _, err = c.handshake(ctx, dctx, *j, nil)
		if err != nil {
			return nil, info, fmt.Errorf("via jump host %s: %w", j.addr(), err)
		}
		nc, err = jc.DialContext(dctx, "tcp", c.r.target.addr())
		if err != nil {
			jc.Close()
			return nil, info, c.dialErr(ctx, dctx, fmt.Errorf("%w: connect to %s via jump host %s: %w",
				transport.ErrUnreachable, c.r.target.addr(), j.addr(), err))
		}
		k.jump = jc
	}
	var hk *hostKeyCheck
	k.client, hk, err = c.handshake(ctx, dctx, c.r.target, nc)
	if err != nil {
		if k.jump != nil {
			k.jump.Close()
		}
		return nil, info, err
	}
	info.ServerVersion = string(k.client.ServerVersion())
	info.HostKeyType = hk.key.Type()
	info.HostKeyFingerprint = gossh.FingerprintSHA256(hk.key)
	info.HostKeyAdded = hk.added
	if hk.added {
		c.logf(transport.LogInfo, "trusted new host key (accept-new)", transport.F("address", info.Address),
			transport.F("host_key", info.HostKeyType+" "+info.HostKeyFingerprint), transport.F("known_hosts", c.r.knownHosts))
	}
	c.logf(transport.LogDebug, "ssh connected", transport.F("address", info.Address), transport.F("server", info.ServerVersion),
		transport.F("host_key", info.HostKeyFingerprint), transport.F("host_key_added", hk.added),
		transport.F("took", time.Since(start)))
	go func() {
		err := k.client.Wait()
		k.kill(fmt.Errorf("%w: connection to %s closed: %v", transport.ErrUnreachable, c.r.name, err))
	}()
	if c.r.keepAlive > 0 {
		go c.keepalive(k)
	}
	return k, info, nil
}

// handshake dials e (or uses nc, a connection through a jump host) and runs
// the SSH handshake and authentication.
func (c *Client) handshake(ctx, dctx context.Context, e endpoint, nc net.Conn) (*gossh.Client, *hostKeyCheck, error) {
	cr, err := loadCredentials(e)
	if err != nil {
		if nc != nil {
			nc.Close()
		}
		return nil, nil, fmt.Errorf("ssh %s@%s: %w", e.user, e.addr(), err)
	}
	defer cr.close()
	if nc == nil {
		var d net.Dialer
		nc, err = d.DialContext(dctx, "tcp", e.addr())
		if err != nil {
			return nil, nil, c.dialErr(ctx, dctx, fmt.Errorf("%w: dial %s: %w", transport.ErrUnreachable, e.addr(), err))
		}
	}
	hk := &hostKeyCheck{}
	cfg := &gossh.ClientConfig{
		User:              e.user,
		Auth:              []gossh.AuthMethod{gossh.PublicKeys(cr.signers...)},
		HostKeyCallback:   hostKeyCallback(c.r.knownHosts, c.r.acceptNew, hk),
		HostKeyAlgorithms: hostKeyAlgorithms(c.r.knownHosts, e.addr()),
		ClientVersion:     "SSH-2.0-lxcplan",
	}
	// The handshake has no context of its own: closing the socket is how a
	// deadline or a cancel interrupts it.
	stop := context.AfterFunc(dctx, func() { nc.Close() })
	sc, chans, reqs, err := gossh.NewClientConn(nc, e.addr(), cfg)
	interrupted := !stop()
	if err == nil && interrupted {
		sc.Close()
		err = dctx.Err()
	}
	if err != nil {
		nc.Close()
		switch {
		case hk.err != nil:
			return nil, nil, fmt.Errorf("ssh %s: %w", e.addr(), hk.err)
		case interrupted:
			return nil, nil, c.dialErr(ctx, dctx, fmt.Errorf("%w: ssh handshake with %s: %w", transport.ErrUnreachable, e.addr(), dctx.Err()))
		case hk.key != nil && isAuthFailure(err):
			return nil, nil, fmt.Errorf("%w: ssh %s@%s: the host rejected every key offered (%s)",
				transport.ErrAuth, e.user, e.addr(), strings.Join(cr.sources, ", "))
		default:
			return nil, nil, fmt.Errorf("%w: ssh handshake with %s: %w", transport.ErrUnreachable, e.addr(), err)
		}
	}
	return gossh.NewClient(sc, chans, reqs), hk, nil
}

// isAuthFailure is the one place that reads x/crypto's message text: the
// library has no typed error for "every method was rejected".
func isAuthFailure(err error) bool {
	s := err.Error()
	return strings.Contains(s, "unable to authenticate") || strings.Contains(s, "no supported methods remain")
}

// dialErr turns a dial failure under a cancelled parent into ErrCancelled and
// names the timeout when the dial deadline fired.
func (c *Client) dialErr(ctx, dctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: connect to %s: %w", transport.ErrCancelled, c.r.name, ctx.Err())
	}
	if errors.Is(dctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w (timed out after %s)", err, c.r.dialTimeout)
	}
	return err
}

// keepalive pings the server every interval and kills the connection after
// keepAliveMaxMissed intervals without an answer, so a silently dead network
// fails sessions instead of hanging them.
func (c *Client) keepalive(k *conn) {
	t := time.NewTicker(c.r.keepAlive)
	defer t.Stop()
	replies := make(chan error, 1)
	pending, missed := false, 0
	for {
		select {
		case <-k.dead:
			return
		case err := <-replies:
			pending = false
			if err != nil {
				k.kill(fmt.Errorf("%w: keepalive to %s: %v", transport.ErrUnreachable, c.r.name, err))
				return
			}
			missed = 0 // any reply, even "unsupported", proves the peer is alive
		case <-t.C:
			if pending {
				missed++
				if missed >= keepAliveMaxMissed {
					c.logf(transport.LogDebug, "ssh keepalive: connection dead", transport.F("missed", missed))
					k.kill(fmt.Errorf("%w: %s did not answer %d keepalives", transport.ErrUnreachable, c.r.name, missed))
					return
				}
				continue
			}
			pending = true
			go func() {
				_, _, err := k.client.SendRequest("keepalive@openssh.com", true, nil)
				replies <- err
			}()
		}
	}
}

// conn returns the live connection, redialling if the last one died.
func (c *Client) conn(ctx context.Context) (*conn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", c.r.name, ErrClosed)
	}
	if k := c.cur; k != nil && !k.isDead() {
		c.mu.Unlock()
		return k, nil
	}
	c.mu.Unlock()
	c.dialMu.Lock()
	defer c.dialMu.Unlock()
	c.mu.Lock()
	if k := c.cur; k != nil && !k.isDead() {
		c.mu.Unlock()
		return k, nil
	}
	c.mu.Unlock()
	c.logf(transport.LogDebug, "ssh reconnecting")
	k, info, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		k.kill(ErrClosed)
		return nil, fmt.Errorf("%s: %w", c.r.name, ErrClosed)
	}
	c.cur = k
	c.info = info
	return k, nil
}

func (c *Client) acquire(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
		n := c.inflight.Add(1)
		for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) release() {
	c.inflight.Add(-1)
	<-c.sem
}

// Run runs argv on the host as one exec request of transport.Quote(argv),
// which the login shell parses back into argv. See transport.Runner.
func (c *Client) Run(ctx context.Context, cmd transport.Command) (transport.Result, error) {
	red := transport.NewRedactor(cmd.Redact...)
	display := transport.Quote(red.Argv(cmd.Argv))
	if err := cmd.Validate(); err != nil {
		return transport.Result{}, fmt.Errorf("run %s on %s: %w", display, c.r.name, err)
	}
	// Checked first: select below may pick a free slot over a done context.
	if err := ctx.Err(); err != nil {
		return transport.Result{}, fmt.Errorf("%w: run %s on %s: %w", transport.ErrCancelled, display, c.r.name, err)
	}
	if err := c.acquire(ctx); err != nil {
		return transport.Result{}, fmt.Errorf("%w: run %s on %s: waiting for a session slot: %w", transport.ErrCancelled, display, c.r.name, err)
	}
	defer c.release()
	start := time.Now()
	c.logf(transport.LogDebug, "run", transport.F("cmd", display))
	res, err := c.run(ctx, cmd, red, display)
	fields := []transport.Field{transport.F("cmd", display), transport.F("exit", res.ExitCode), transport.F("took", time.Since(start))}
	if err != nil && !errors.Is(err, transport.ErrCommandFailed) {
		fields = append([]transport.Field{transport.F("error", red.String(err.Error()))}, fields...)
	}
	c.logf(transport.LogDebug, "done", fields...)
	return res, red.Error(err)
}

// run tries once, and once more after a redial when the first attempt never
// reached the host, or when the command is read-only and the connection
// dropped under it.
func (c *Client) run(ctx context.Context, cmd transport.Command, red *transport.Redactor, display string) (transport.Result, error) {
	for attempt := 0; ; attempt++ {
		res, retry, err := c.runOnce(ctx, cmd, red, display)
		if !retry || attempt > 0 {
			return res, err
		}
		if cmd.Stdin != nil {
			s, ok := cmd.Stdin.(io.Seeker)
			if !ok {
				return res, err
			}
			if _, serr := s.Seek(0, io.SeekStart); serr != nil {
				return res, err
			}
		}
		c.logf(transport.LogDebug, "connection lost; retrying on a new connection", transport.F("cmd", display))
	}
}

// startError marks a failure of the exec request itself, as opposed to a
// session that ended without an exit status.
type startError struct{ err error }

func (e startError) Error() string { return e.err.Error() }

func (c *Client) runOnce(ctx context.Context, cmd transport.Command, red *transport.Redactor, display string) (res transport.Result, retry bool, err error) {
	cancelled := func(err error) error {
		return fmt.Errorf("%w: %s on %s: %w", transport.ErrCancelled, display, c.r.name, err)
	}
	k, err := c.conn(ctx)
	if err != nil {
		return res, false, err
	}
	// NewSession has no context; a dead network would block it until the
	// keepalive gives up, so wait for it in a goroutine.
	type opened struct {
		s   *gossh.Session
		err error
	}
	och := make(chan opened, 1)
	go func() {
		s, err := k.client.NewSession()
		och <- opened{s, err}
	}()
	var sess *gossh.Session
	select {
	case o := <-och:
		if o.err != nil {
			var oce *gossh.OpenChannelError
			if errors.As(o.err, &oce) {
				return res, false, fmt.Errorf("%w: %s on %s: the host refused a session: %w", transport.ErrUnreachable, display, c.r.name, o.err)
			}
			// The connection is gone; the command never started, so a
			// retry on a new connection is safe whatever the command.
			k.kill(fmt.Errorf("%w: open session: %v", transport.ErrUnreachable, o.err))
			return res, true, fmt.Errorf("%w: %s on %s: open session: %w", transport.ErrUnreachable, display, c.r.name, o.err)
		}
		sess = o.s
	case <-ctx.Done():
		go func() {
			if o := <-och; o.s != nil {
				o.s.Close()
			}
		}()
		return res, false, cancelled(ctx.Err())
	}
	defer sess.Close()
	// Locked buffers: after a cancel we read them while the session's copy
	// goroutines may still be writing.
	var stdout, stderr lockedBuffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	if cmd.Stdin != nil {
		sess.Stdin = cmd.Stdin
	}
	line := transport.Quote(cmd.Argv)
	// Tag the session so cancellation can find its processes (see stop).
	// No reply wanted: this costs no round trip, and a server that does not
	// accept LC_* variables simply ignores it.
	tag := newCancelTag()
	_, _ = sess.SendRequest("env", false, gossh.Marshal(struct{ Name, Value string }{cancelEnv, tag}))
	done := make(chan error, 1)
	go func() {
		if err := sess.Start(line); err != nil {
			done <- startError{err}
			return
		}
		done <- sess.Wait()
	}()
	var werr error
	select {
	case werr = <-done:
	case <-ctx.Done():
		c.stop(ctx, k, sess, done, tag)
		res = transport.Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: -1}
		return res, false, cancelled(ctx.Err())
	}
	res = transport.Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var ee *gossh.ExitError
	switch {
	case werr == nil:
		return res, false, nil
	case errors.As(werr, &ee):
		res.ExitCode = ee.ExitStatus()
		return res, false, &transport.ExitError{Host: c.r.name, Argv: red.Argv(cmd.Argv), Code: res.ExitCode, Stderr: red.Bytes(res.Stderr)}
	}
	// No exit status: the channel ended without one, which in practice means
	// the connection broke. Find out, so the next command redials.
	res.ExitCode = -1
	alive := !k.isDead() && k.probe(2*time.Second)
	var se startError
	if alive && errors.As(werr, &se) {
		// The server answered the exec request with a refusal: nothing ran.
		return res, false, fmt.Errorf("%w: %s on %s: the host refused the exec request: %v", transport.ErrUnreachable, display, c.r.name, se.err)
	}
	if !alive {
		k.kill(fmt.Errorf("%w: connection lost", transport.ErrUnreachable))
		if cmd.ReadOnly {
			return res, true, fmt.Errorf("%w: %w: %s on %s: %v", transport.ErrConnectionLost, transport.ErrUnreachable, display, c.r.name, werr)
		}
	}
	return res, false, fmt.Errorf("%w: %w: %s on %s: %v", transport.ErrConnectionLost, transport.ErrUnreachable, display, c.r.name, werr)
}

// cancelEnv names the variable that tags each session's processes. Debian's
// (and so Proxmox's) stock sshd_config has "AcceptEnv LANG LC_*".
const cancelEnv = "LC_LXCPLAN_SESSION"

func newCancelTag() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// killTagged is a fixed script (user values only ever arrive as "$1"): it
// finds every process whose environment carries the session tag, sends TERM,
// and KILL to whatever is left after a second.
const killTagged = `pids=$(grep -lzx -- "$1" /proc/[0-9]*/environ 2>/dev/null | sed 's,^/proc/\([0-9]*\)/environ$,\1,')
[ -n "$pids" ] || exit 0
kill -TERM $pids 2>/dev/null
i=0
while [ $i -lt 10 ]; do
  alive=
  for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ -n "$alive" ] || exit 0
  sleep 0.1
  i=$((i+1))
done
kill -KILL $pids 2>/dev/null
exit 0`

// stop ends a running remote command after its context ended. It sends TERM
// (then KILL) as "signal" requests, which OpenSSH honours for ordinary users
// but refuses for root logins ("session signalling requires privilege
// separation"), the normal case on Proxmox. So if the command is still there
// after a short grace, the session is closed (sshd does not kill a pty-less
// command when its channel closes) and a second session kills every process
// tagged with this session's cancelEnv value.
func (c *Client) stop(ctx context.Context, k *conn, sess *gossh.Session, done <-chan error, tag string) {
	_ = sess.Signal(gossh.SIGTERM)
	select {
	case <-done:
		return
	case <-time.After(termGrace):
	}
	_ = sess.Signal(gossh.SIGKILL)
	select {
	case <-done:
		return
	case <-time.After(killGrace):
	}
	sess.Close()
	if k.isDead() {
		return
	}
	// We still hold this command's session slot, so the killer cannot
	// exceed the limit; the caller's context is over, so use a fresh one.
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	ks, err := k.client.NewSession()
	if err != nil {
		return
	}
	defer ks.Close()
	kdone := make(chan error, 1)
	go func() {
		kdone <- ks.Run(transport.Quote([]string{"sh", "-c", killTagged, "sh", cancelEnv + "=" + tag}))
	}()
	select {
	case err := <-kdone:
		if err != nil {
			c.logf(transport.LogDebug, "kill cancelled command", transport.F("error", err.Error()))
		}
	case <-kctx.Done():
		c.logf(transport.LogDebug, "kill cancelled command: timed out")
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Bytes returns a copy of what was written so far.
func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}
