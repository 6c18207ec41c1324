package ssh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	scp "github.com/bramvdbogaerde/go-scp"

	"github.com/lxcplan/lxcplan/engine/transport"
)

var _ transport.Uploader = (*Client)(nil)

// cleanupTimeout bounds the removal of temporary files, which runs even
// when the caller's context has ended.
const cleanupTimeout = 30 * time.Second

// safeTempPath is what we accept back from mktemp: go-scp writes the path
// into the scp command with Go %q quoting, not shell quoting, so it must not
// contain anything a shell would treat specially.
var safeTempPath = regexp.MustCompile(`^/[A-Za-z0-9._/-]+$`)

// Upload copies size bytes from r to remotePath on the host with mode: into a
// private temp dir first, verified by size and sha256, then installed with
// install(1). The temp dir is removed even on failure.
func (c *Client) Upload(ctx context.Context, r io.Reader, size int64, remotePath string, mode os.FileMode) error {
	return c.staged(ctx, r, size, remotePath, func(tmp string) error {
		argv := []string{"install", "-m", fmt.Sprintf("%04o", mode.Perm()), "--", tmp, remotePath}
		_, err := c.Run(ctx, transport.Command{Argv: argv})
		return err
	})
}

// Push copies content into container vmid at dest, with mode, user and group
// (resolved inside the container): it uploads to a private temp dir on the
// host, verifies size and sha256 there, runs `pct push`, and removes the temp
// dir even on failure. Empty user or group leaves pct's default (root).
func (c *Client) Push(ctx context.Context, vmid int, content io.Reader, size int64, dest string, mode os.FileMode, user, group string) error {
	return c.staged(ctx, content, size, dest, func(tmp string) error {
		argv := pctPushArgv(vmid, tmp, dest, mode, user, group)
		res, err := c.Run(ctx, transport.Command{Argv: argv})
		if err != nil {
			return err
		}
		// pct push runs its work as a task that is not wired to the exit code:
		// it exits 0 even when the copy failed (pve-reference §1.3), leaving
		// the reason on stderr. A successful push prints nothing there.
		if msg := bytes.TrimSpace(res.Stderr); len(msg) > 0 {
			return &transport.ExitError{Host: c.Name(), Argv: argv, Code: res.ExitCode, Stderr: res.Stderr}
		}
		return nil
	})
}

// pctPushArgv builds `pct push VMID FILE DEST --perms MODE [--user U] [--group G]`
// (pve-reference §2.6). Kept local: engine/pve owns the general builders and
// the transport must not import it.
func pctPushArgv(vmid int, file, dest string, mode os.FileMode, user, group string) []string {
	argv := []string{"pct", "push", strconv.Itoa(vmid), file, dest, "--perms", fmt.Sprintf("%04o", mode.Perm())}
	if user != "" {
		argv = append(argv, "--user", user)
	}
	if group != "" {
		argv = append(argv, "--group", group)
	}
	return argv
}

// staged uploads r into a fresh temp dir, verifies it, calls install with the
// temp file's path, and removes the temp dir whatever happened.
func (c *Client) staged(ctx context.Context, r io.Reader, size int64, dest string, install func(tmp string) error) (err error) {
	wrap := func(err error) error {
		if err == nil {
			return nil
		}
		return fmt.Errorf("upload %s (%d bytes) to %s: %w", dest, size, c.r.name, err)
	}
	if size < 0 {
		return wrap(errors.New("negative size"))
	}
	res, err := c.Run(ctx, transport.Command{Argv: []string{"mktemp", "-d"}})
	if err != nil {
		return wrap(err)
	}
	dir := strings.TrimSpace(string(res.Stdout))
	if !safeTempPath.MatchString(dir) {
		return wrap(fmt.Errorf("mktemp -d printed an unusable path %q", dir))
	}
	defer func() {
		// The caller's context may be over; cleanup still must happen.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if _, rerr := c.Run(cctx, transport.Command{Argv: []string{"rm", "-rf", "--", dir}}); rerr != nil {
			err = errors.Join(err, wrap(fmt.Errorf("remove temp dir %s: %w", dir, rerr)))
		}
	}()
	tmp := path.Join(dir, "upload")

	h := sha256.New()
	body := &exactReader{r: io.TeeReader(r, h), left: size}
	if err := c.scp(ctx, body, size, tmp); err != nil {
		return wrap(err)
	}
	if body.err != nil {
		return wrap(body.err)
	}
	// More content than announced is a caller bug; refuse rather than truncate.
	var one [1]byte
	if n, _ := r.Read(one[:]); n > 0 {
		return wrap(fmt.Errorf("content is longer than the declared %d bytes", size))
	}
	want := hex.EncodeToString(h.Sum(nil))

	res, err = c.Run(ctx, transport.Command{Argv: []string{"stat", "-c", "%s", "--", tmp}, ReadOnly: true})
	if err != nil {
		return wrap(err)
	}
	if got := strings.TrimSpace(string(res.Stdout)); got != strconv.FormatInt(size, 10) {
		return wrap(fmt.Errorf("size check: host has %s bytes, sent %d", got, size))
	}
	res, err = c.Run(ctx, transport.Command{Argv: []string{"sha256sum", "--", tmp}, ReadOnly: true})
	if err != nil {
		return wrap(err)
	}
	if f := strings.Fields(string(res.Stdout)); len(f) == 0 || f[0] != want {
		return wrap(fmt.Errorf("sha256 check: host computed %q, sent %s", strings.Join(f[:min(len(f), 1)], ""), want))
	}
	return wrap(install(tmp))
}

// scp sends the body with go-scp on a session of the shared connection,
// within the session limit.
func (c *Client) scp(ctx context.Context, r io.Reader, size int64, remote string) error {
	if err := c.acquire(ctx); err != nil {
		return fmt.Errorf("%w: scp to %s: %w", transport.ErrCancelled, c.r.name, err)
	}
	defer c.release()
	k, err := c.conn(ctx)
	if err != nil {
		return err
	}
	sc, err := scp.NewClientBySSH(k.client)
	if err != nil {
		return fmt.Errorf("scp to %s: %w", c.r.name, err)
	}
	if err := sc.Copy(ctx, r, remote, "0600", size); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: scp to %s: %w", transport.ErrCancelled, c.r.name, ctx.Err())
		}
		if k.isDead() {
			return fmt.Errorf("%w: scp to %s: %w", transport.ErrUnreachable, c.r.name, err)
		}
		return fmt.Errorf("scp to %s: %w", c.r.name, err)
	}
	return nil
}

// exactReader yields exactly left bytes. Ending early is an error, not EOF:
// scp has announced the size, and a short body would leave the remote side
// waiting for the rest.
type exactReader struct {
	r    io.Reader
	left int64
	err  error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		e.err = fmt.Errorf("content ended %d bytes short of the declared size", e.left)
		return n, e.err
	}
	if err != nil && err != io.EOF {
		e.err = fmt.Errorf("read content: %w", err)
		return n, e.err
	}
	return n, nil
}
