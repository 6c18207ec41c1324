// Package transport defines how lxcplan runs a command on a host: argv (and
// optional stdin) in; stdout, stderr and exit code out. Everything that must
// see every command — dry-run, the -x trace, redaction of secrets — is a
// [Middleware] around a [Runner], so there is exactly one choke point and no
// "if dryRun" branches anywhere else.
//
// The only place that turns argv into shell text is [Quote]. Implementations
// (transport/ssh, transport/local) live in subpackages.
package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Command is one program invocation. Argv is passed as separate words; the
// SSH transport quotes it with [Quote] just before the exec request.
type Command struct {
	// Argv is the program and its arguments; it must not be empty and no word
	// may contain a NUL byte (no remote or local exec can carry one).
	Argv []string
	// Stdin, if non-nil, is streamed to the command's standard input.
	Stdin io.Reader
	// Redact lists secret values to replace with "***" in every displayed or
	// logged form of this command (trace, dry-run record, logs, errors). The
	// wire form is never changed.
	Redact []string
	// ReadOnly marks a command without side effects: the SSH transport may
	// retry it once, transparently, after the connection dropped mid-command.
	ReadOnly bool
}

// Result is what a finished command produced. ExitCode is the remote or local
// exit status; 0 means success.
type Result struct {
	Stdout, Stderr []byte
	ExitCode       int
}

// Runner runs commands on one host. Implementations are safe for concurrent
// use. A command that ran and exited non-zero returns its Result together with
// an [*ExitError] (which wraps [ErrCommandFailed]).
type Runner interface {
	Run(ctx context.Context, c Command) (Result, error)
}

// RunFunc adapts a function to [Runner].
type RunFunc func(ctx context.Context, c Command) (Result, error)

// Run calls f.
func (f RunFunc) Run(ctx context.Context, c Command) (Result, error) { return f(ctx, c) }

// Middleware wraps a run function with cross-cutting behaviour.
type Middleware func(next RunFunc) RunFunc

// Chain returns r wrapped in mws. The first middleware is the outermost: it
// sees the command first and the result last. Put [Redact] first so that every
// inner layer (trace, dry-run) already knows the secrets.
func Chain(r Runner, mws ...Middleware) Runner {
	f := RunFunc(r.Run)
	for i := len(mws) - 1; i >= 0; i-- {
		if mws[i] != nil {
			f = mws[i](f)
		}
	}
	return f
}

// Uploader copies content to a path on the host, with the given mode.
// Implementations verify size (and, where they can, a digest) before they
// report success, and never leave partial files at remotePath.
type Uploader interface {
	Upload(ctx context.Context, r io.Reader, size int64, remotePath string, mode os.FileMode) error
}

// Error classes. Every error a transport returns wraps exactly the classes
// that apply, so callers branch with errors.Is and never on message text.
var (
	// ErrUnreachable: the host could not be reached or the connection broke.
	ErrUnreachable = errors.New("host unreachable")
	// ErrAuth: the host rejected every credential offered (or none was available).
	ErrAuth = errors.New("authentication failed")
	// ErrHostKeyUnknown: the host key is not in known_hosts and accept-new is off.
	ErrHostKeyUnknown = errors.New("host key unknown")
	// ErrHostKeyChanged: known_hosts holds a different key for this host. Always
	// fatal and never retried: it can mean a man-in-the-middle.
	ErrHostKeyChanged = errors.New("host key changed")
	// ErrCommandFailed: the command ran and exited non-zero (see [ExitError]).
	ErrCommandFailed = errors.New("command failed")
	// ErrCancelled: the context ended before the command finished; the command
	// was told to stop.
	ErrCancelled = errors.New("cancelled")
	// ErrConnectionLost: the connection broke while a command that is not
	// read-only was running, so it may or may not have taken effect. Errors of
	// this class also wrap [ErrUnreachable].
	ErrConnectionLost = errors.New("connection lost; the command may or may not have run")
	// ErrInvalidCommand: the argv cannot be sent (empty, or a NUL byte in a word).
	ErrInvalidCommand = errors.New("invalid command")
)

// ExitError reports a command that ran and exited non-zero. Argv and Stderr
// are already redacted: this value is safe to log and display.
type ExitError struct {
	Host string
	// Argv is the redacted argv, for display only.
	Argv []string
	Code int
	// Stderr is the command's full standard error, redacted. Branch on it (or
	// on Code), never on Error().
	Stderr []byte
}

// maxStderrInError bounds how much stderr Error() shows; the full text stays
// in the Stderr field.
const maxStderrInError = 512

func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s: exit status %d", Quote(e.Argv), e.Host, e.Code)
	if s := strings.TrimSpace(string(e.Stderr)); s != "" {
		if len(s) > maxStderrInError {
			s = s[:maxStderrInError] + "…"
		}
		b.WriteString(": ")
		b.WriteString(s)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrCommandFailed) true.
func (e *ExitError) Unwrap() error { return ErrCommandFailed }

// Validate checks that c can be sent to a host at all.
func (c Command) Validate() error {
	if len(c.Argv) == 0 {
		return fmt.Errorf("%w: empty argv", ErrInvalidCommand)
	}
	for i, w := range c.Argv {
		if strings.IndexByte(w, 0) >= 0 {
			return fmt.Errorf("%w: argument %d contains a NUL byte", ErrInvalidCommand, i)
		}
	}
	return nil
}

// Display is the redacted, quoted form of c for logs, traces and errors.
func (c Command) Display() string {
	return Quote(NewRedactor(c.Redact...).Argv(c.Argv))
}
