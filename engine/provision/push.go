package provision

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// Pusher copies content into a running container at dest with mode, user
// and group (resolved inside the container; empty keeps root). The parent
// directory exists when Push is called. (*ssh.Client).Push satisfies it.
type Pusher interface {
	Push(ctx context.Context, vmid int, content io.Reader, size int64, dest string, mode os.FileMode, user, group string) error
}

// pushScript writes stdin to $1 with mode $2 and owner $3 ("user",
// "user:group", ":group" or empty): into a private temp file beside the
// destination first, then renamed over it, so a reader never sees half a
// file and a failed write leaves the old one in place. The parent
// directory is created with the usual permissions before umask 077 applies.
var pushScript = oneLine(
	`set -eu`,
	`dest=$1 mode=$2 owner=$3`,
	`mkdir -p "$(dirname "$dest")"`,
	`umask 077`,
	`tmp=$(mktemp "$dest.lxcplan-XXXXXX")`,
	`trap 'rm -f "$tmp"' EXIT`,
	`trap 'exit 129' HUP INT TERM`,
	`cat >"$tmp"`,
	`chmod "$mode" "$tmp"`,
	`if [ -n "$owner" ]; then chown "$owner" "$tmp"; fi`,
	`mv -f "$tmp" "$dest"`,
)

// ExecPusher streams file content into a container through the standard
// input of `pct exec VMID -- sh -c ...`. It works with any Runner (the PVE
// simulator included), never stages the content on the host's disk, and,
// unlike `pct push`, reports failures through its exit code
// (pve-reference §1.3: pct push exits 0 when its task fails).
type ExecPusher struct {
	Runner transport.Runner
	// Redact lists secrets to mask in the displayed command and errors.
	Redact []string
}

// Push implements [Pusher].
func (p ExecPusher) Push(ctx context.Context, vmid int, content io.Reader, size int64, dest string, mode os.FileMode, user, group string) error {
	argv := pushArgv(vmid, dest, mode, user, group)
	// Count what went in: a short reader is a caller bug that would
	// otherwise leave a truncated file.
	cr := &countingReader{r: content}
	_, err := p.Runner.Run(ctx, transport.Command{Argv: argv, Stdin: cr, Redact: p.Redact})
	if err != nil {
		return fmt.Errorf("write %s in container %d: %w", dest, vmid, err)
	}
	if size >= 0 && cr.n != size {
		return fmt.Errorf("write %s in container %d: sent %d bytes, expected %d", dest, vmid, cr.n, size)
	}
	return nil
}

func pushArgv(vmid int, dest string, mode os.FileMode, user, group string) []string {
	owner := user
	if group != "" {
		owner += ":" + group
	}
	return pve.PctExec(vmid, pve.Unset, "sh", "-c", pushScript, "lxcplan-write", dest, fmt.Sprintf("%04o", mode.Perm()), owner)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// pushOp turns a PushSpec into the ExecPusher's command, for display.
func pushOp(ps *PushSpec) Op {
	return Op{Argv: pushArgv(ps.VMID, ps.Dest, ps.Mode, ps.User, ps.Group), Stdin: ps.Content}
}

// contentReader returns a fresh reader over a push's content.
func contentReader(ps *PushSpec) io.Reader { return bytes.NewReader(ps.Content) }
