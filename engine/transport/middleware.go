package transport

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
)

// Redact adds secrets to every command's Redact list (so inner middleware and
// the transport mask them in traces, records and logs) and masks them in the
// returned error's message. It never changes argv, stdin or the Result.
// Put it first in [Chain].
func Redact(secrets ...string) Middleware {
	base := NewRedactor(secrets...)
	return func(next RunFunc) RunFunc {
		return func(ctx context.Context, c Command) (Result, error) {
			r := base.With(c.Redact...)
			c.Redact = r.Secrets()
			res, err := next(ctx, c)
			return res, r.Error(err)
		}
	}
}

// Trace prints each command to w, as it starts, in the form
// "+ PREFIX: quoted argv" (the -x / --trace flag; cmd/go's -x style). Secrets
// are masked. prefix is usually the host name; empty omits it.
func Trace(w io.Writer, prefix string) Middleware {
	var mu sync.Mutex // one whole line per command even with concurrent runs
	return func(next RunFunc) RunFunc {
		return func(ctx context.Context, c Command) (Result, error) {
			line := c.Display()
			mu.Lock()
			if prefix != "" {
				fmt.Fprintf(w, "+ %s: %s\n", prefix, line)
			} else {
				fmt.Fprintf(w, "+ %s\n", line)
			}
			mu.Unlock()
			return next(ctx, c)
		}
	}
}

// Recorded is one command a [Recorder] saw, already redacted.
type Recorded struct {
	// Host is the Recorder's Host at the time.
	Host string
	// Argv is the redacted argv.
	Argv []string
	// Line is the redacted, quoted command line, exactly what would be sent
	// modulo the masked secrets.
	Line string
	// Stdin reports whether the command had standard input.
	Stdin bool
	// Passed reports that the command really ran (read-only pass-through).
	Passed bool
}

// Recorder collects the commands a dry run would have sent. It is safe for
// concurrent use.
type Recorder struct {
	// Host labels the records (one Recorder per host, or shared with "").
	Host string
	// PassReadOnly lets commands marked ReadOnly really run, so a dry run can
	// still observe the host; everything else is only recorded.
	PassReadOnly bool
	// Out, if set, receives each record as "HOST: LINE\n" as it is made.
	Out io.Writer

	mu   sync.Mutex
	cmds []Recorded
}

// Commands returns the records so far, in order.
func (r *Recorder) Commands() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.cmds)
}

// Lines returns the recorded command lines, in order.
func (r *Recorder) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.cmds))
	for i, c := range r.cmds {
		out[i] = c.Line
	}
	return out
}

// DryRun records each command in rec instead of running it and returns an
// empty successful Result (read-only commands run when rec.PassReadOnly).
// Stdin of a recorded command is drained, not sent, so writers feeding a pipe
// do not block.
func DryRun(rec *Recorder) Middleware {
	return func(next RunFunc) RunFunc {
		return func(ctx context.Context, c Command) (Result, error) {
			if err := c.Validate(); err != nil {
				return Result{}, err
			}
			red := NewRedactor(c.Redact...).Argv(c.Argv)
			pass := rec.PassReadOnly && c.ReadOnly
			e := Recorded{Host: rec.Host, Argv: red, Line: Quote(red), Stdin: c.Stdin != nil, Passed: pass}
			rec.mu.Lock()
			rec.cmds = append(rec.cmds, e)
			if rec.Out != nil {
				if e.Host != "" {
					fmt.Fprintf(rec.Out, "%s: %s\n", e.Host, e.Line)
				} else {
					fmt.Fprintf(rec.Out, "%s\n", e.Line)
				}
			}
			rec.mu.Unlock()
			if pass {
				return next(ctx, c)
			}
			if c.Stdin != nil {
				_, _ = io.Copy(io.Discard, c.Stdin)
			}
			return Result{}, nil
		}
	}
}
