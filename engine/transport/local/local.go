// Package local runs transport commands on this machine with os/exec, for
// hosts declared `local: true` (lxcplan running on the Proxmox node itself).
// Argv is executed directly, without a shell.
package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"github.com/lxcplan/lxcplan/engine/transport"
)

// termGrace is how long a cancelled command's process group gets between
// SIGTERM and SIGKILL.
const termGrace = 500 * time.Millisecond

// Runner runs commands locally. The zero value is ready to use.
type Runner struct {
	// Name labels the host in errors ("local" when empty).
	Name string
	// Env, if non-nil, replaces the environment of every command.
	Env []string
	// Dir is the working directory ("" = the current one).
	Dir string
}

var _ transport.Runner = (*Runner)(nil)

// Run executes c.Argv. A cancelled context kills the command's whole process
// group (TERM, then KILL) and returns an error wrapping transport.ErrCancelled.
func (r *Runner) Run(ctx context.Context, c transport.Command) (transport.Result, error) {
	name := r.Name
	if name == "" {
		name = "local"
	}
	red := transport.NewRedactor(c.Redact...)
	display := transport.Quote(red.Argv(c.Argv))
	if err := c.Validate(); err != nil {
		return transport.Result{}, fmt.Errorf("run %s on %s: %w", display, name, err)
	}
	if err := ctx.Err(); err != nil {
		return transport.Result{}, fmt.Errorf("%w: %s on %s: %w", transport.ErrCancelled, display, name, err)
	}
	cmd := exec.Command(c.Argv[0], c.Argv[1:]...)
	cmd.Env, cmd.Dir, cmd.Stdin = r.Env, r.Dir, c.Stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Own process group, so cancellation reaches the children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A daemon started by the command may keep our pipes open forever.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		// Not found / not executable: report like a shell would (127/126),
		// as a command failure, so callers treat local and remote alike.
		code := 127
		if errors.Is(err, syscall.EACCES) {
			code = 126
		}
		res := transport.Result{Stderr: []byte(red.String(err.Error()) + "\n"), ExitCode: code}
		return res, &transport.ExitError{Host: name, Argv: red.Argv(c.Argv), Code: code, Stderr: res.Stderr}
	}
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-waitDone:
	case <-ctx.Done():
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-waitDone:
		case <-time.After(termGrace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-waitDone
		}
		// Leftover group members that ignored TERM (and kept no pipe open).
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		res := transport.Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: -1}
		return res, fmt.Errorf("%w: %s on %s: %w", transport.ErrCancelled, display, name, ctx.Err())
	}
	res := transport.Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if werr == nil {
		return res, nil
	}
	var ee *exec.ExitError
	if !errors.As(werr, &ee) {
		return res, fmt.Errorf("run %s on %s: %w", display, name, werr)
	}
	res.ExitCode = ee.ExitCode()
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.ExitCode = 128 + int(ws.Signal())
	}
	return res, &transport.ExitError{Host: name, Argv: red.Argv(c.Argv), Code: res.ExitCode, Stderr: red.Bytes(res.Stderr)}
}
