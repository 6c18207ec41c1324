package journal

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// Defaults for [RollbackWith].
const (
	// DefaultUndoTimeout bounds one undo command: long enough for a
	// shutdown (60 s by default in PVE) or a destroy of a large volume.
	DefaultUndoTimeout = 5 * time.Minute
	// DefaultAttempts is how often an undo command is tried when it fails
	// transiently (CT locked by a backup, flock timeout, dropped connection).
	DefaultAttempts = 3
)

// ErrIncomplete: some steps could not be undone; the [Report] lists them.
var ErrIncomplete = errors.New("rollback incomplete")

// EventKind says what happened to a step during rollback.
type EventKind string

const (
	// EventUndoStart: the step's undo commands are about to run.
	EventUndoStart EventKind = "undo-start"
	// EventUndone: every undo command succeeded (or failed in a tolerated way).
	EventUndone EventKind = "undone"
	// EventUndoFailed: an undo command failed; the step is left as it is.
	EventUndoFailed EventKind = "undo-failed"
	// EventSkipped: the step was undone by an earlier (interrupted) rollback.
	EventSkipped EventKind = "skipped"
	// EventManual: the step can only be undone by a person.
	EventManual EventKind = "manual"
)

// Event reports progress; Err is set for EventUndoFailed.
type Event struct {
	Kind  EventKind
	Entry *Entry
	// Argv is the undo command that failed, for EventUndoFailed.
	Argv []string
	Err  error
}

// Left is a step rollback could not undo: exit 4 material.
type Left struct {
	Seq         int
	Host        string
	Container   string
	Step        string
	Description string
	// Argv is the undo command that failed (nil when the step needs a person).
	Argv []string
	// Error is why (already masked).
	Error string
	// Err is the error itself, for errors.Is (nil for manual steps).
	Err error
	// Manual tells a person what to do, when the journal says.
	Manual string
}

// String is one line for the "what is left" list.
func (l Left) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", l.Host)
	if l.Container != "" {
		fmt.Fprintf(&b, " %s", l.Container)
	}
	fmt.Fprintf(&b, " (%s", l.Step)
	if l.Description != "" {
		fmt.Fprintf(&b, ": %s", l.Description)
	}
	b.WriteString(")")
	// Transport errors already start with the command; say it only once.
	if l.Argv != nil && !strings.HasPrefix(l.Error, quoteArgv(l.Argv)) {
		fmt.Fprintf(&b, ": %s failed", quoteArgv(l.Argv))
	}
	if l.Error != "" {
		fmt.Fprintf(&b, ": %s", l.Error)
	}
	if l.Manual != "" {
		fmt.Fprintf(&b, "; to do by hand: %s", l.Manual)
	}
	return b.String()
}

// Report says what a rollback did.
type Report struct {
	Journal string
	// Undone are the steps reverted by this rollback, in the order it
	// reverted them (reverse of how they began).
	Undone []*Entry
	// Skipped are steps a previous rollback of this journal had reverted.
	Skipped []*Entry
	// Left is exactly what could not be undone.
	Left []Left
}

// Complete reports whether nothing is left.
func (r *Report) Complete() bool { return len(r.Left) == 0 }

// Summary lists what is left, one line each, for the exit-4 message.
func (r *Report) Summary() string {
	if r.Complete() {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rollback left %d step(s) as they are (journal %s):\n", len(r.Left), r.Journal)
	for _, l := range r.Left {
		b.WriteString("  - " + l.String() + "\n")
	}
	return b.String()
}

// RollbackOptions tune [RollbackWith].
type RollbackOptions struct {
	// Timeout bounds each undo command (0: [DefaultUndoTimeout]).
	Timeout time.Duration
	// Attempts per undo command when failures are transient (0: [DefaultAttempts]).
	Attempts int
	// Observer, if set, sees every event (called from the rollback's goroutine).
	Observer func(Event)
	// Sleep replaces the back-off wait in tests.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Rollback is [RollbackWith] with default options and obs as observer.
func Rollback(ctx context.Context, log *Log, runners map[string]transport.Runner, obs func(Event)) (*Report, error) {
	return RollbackWith(ctx, log, runners, RollbackOptions{Observer: obs})
}

// RollbackWith replays the undos of every step that began — done, failed or
// in flight — in reverse order (LIFO), running them on runners[entry.Host].
// Each result is appended to the journal as it happens, so an interrupted
// rollback resumed later (lxcplan apply --resume-rollback) skips what is
// already undone and retries what failed.
//
// The rollback ignores ctx's cancellation (the first Ctrl-C is what started
// it) and bounds each command by a timeout instead. It keeps going after a
// failure, since later-begun steps of other containers are independent,
// and returns an error wrapping [ErrIncomplete] when anything is left.
func RollbackWith(ctx context.Context, log *Log, runners map[string]transport.Runner, o RollbackOptions) (*Report, error) {
	ctx = context.WithoutCancel(ctx)
	if o.Timeout <= 0 {
		o.Timeout = DefaultUndoTimeout
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	emit := func(e Event) {
		if o.Observer != nil {
			o.Observer(e)
		}
	}
	j := log.j
	var errs []error
	if j == nil && log.Path != "" {
		// A journal that cannot be reopened must not stop the undos: they
		// run anyway, and the error says that a resume would not know.
		oj, err := Open(log.Path)
		if err != nil {
			errs = append(errs, fmt.Errorf("undo results not journaled: %w", err))
		} else {
			j = oj
			defer oj.Close()
		}
	}
	record := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	rep := &Report{Journal: log.Path}
	for i := len(log.Entries) - 1; i >= 0; i-- {
		e := log.Entries[i]
		left := Left{Seq: e.Seq, Host: e.Host, Container: e.Container, Step: e.Step, Description: e.Description, Manual: e.Manual}
		switch {
		case e.Undone == UndoDone:
			rep.Skipped = append(rep.Skipped, e)
			emit(Event{Kind: EventSkipped, Entry: e})
			continue
		case len(e.Undo) == 0 && e.Manual == "":
			continue // nothing to undo
		case len(e.Undo) == 0 || e.Redacted:
			if left.Manual == "" {
				left.Manual = "revert this step by hand"
			}
			rep.Left = append(rep.Left, left)
			emit(Event{Kind: EventManual, Entry: e})
			continue
		}
		r := runners[e.Host]
		if r == nil {
			err := fmt.Errorf("no connection to host %q", e.Host)
			left.Error, left.Err = err.Error(), err
			rep.Left = append(rep.Left, left)
			emit(Event{Kind: EventUndoFailed, Entry: e, Err: err})
			if j != nil {
				record(j.UndoFailed(e.Seq, err))
			}
			continue
		}
		emit(Event{Kind: EventUndoStart, Entry: e})
		argv, err := undoEntry(ctx, r, e, o)
		if err != nil {
			left.Argv, left.Error, left.Err = argv, err.Error(), err
			if j != nil {
				left.Error = j.redactor(nil).String(left.Error)
				record(j.UndoFailed(e.Seq, err))
			}
			e.Undone, e.UndoError = UndoFailed, left.Error
			rep.Left = append(rep.Left, left)
			emit(Event{Kind: EventUndoFailed, Entry: e, Argv: argv, Err: err})
			continue
		}
		if j != nil {
			record(j.Undone(e.Seq))
		}
		e.Undone, e.UndoError = UndoDone, ""
		rep.Undone = append(rep.Undone, e)
		emit(Event{Kind: EventUndone, Entry: e})
	}
	if !rep.Complete() {
		errs = append([]error{fmt.Errorf("%w: %d step(s) could not be undone", ErrIncomplete, len(rep.Left))}, errs...)
	}
	if len(errs) > 0 {
		return rep, fmt.Errorf("rollback: %w", errors.Join(errs...))
	}
	return rep, nil
}

// undoEntry runs e's undo commands in order and stops at the first one
// that fails in a way [Tolerated] does not accept; it returns that argv.
func undoEntry(ctx context.Context, r transport.Runner, e *Entry, o RollbackOptions) ([]string, error) {
	for _, argv := range e.Undo {
		if err := runUndo(ctx, r, e.Host, argv, o); err != nil {
			return argv, err
		}
	}
	return nil, nil
}

func runUndo(ctx context.Context, r transport.Runner, host string, argv []string, o RollbackOptions) error {
	backoff := 2 * time.Second
	var err error
	for attempt := 1; ; attempt++ {
		err = runOnce(ctx, r, host, argv, o.Timeout)
		if err == nil || Tolerated(argv, err) {
			return nil
		}
		if attempt >= o.Attempts || !retryable(err) {
			return err
		}
		if serr := o.Sleep(ctx, backoff); serr != nil {
			return err
		}
		backoff *= 2
	}
}

func runOnce(ctx context.Context, r transport.Runner, host string, argv []string, timeout time.Duration) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := r.Run(cctx, transport.Command{Argv: argv})
	var ee *transport.ExitError
	switch {
	case err == nil:
		// Some pct/pveam commands exit 0 although their task failed.
		if ce := pve.CheckResult(argv, 0, res.Stdout, res.Stderr); ce != nil {
			return &UndoError{Host: host, Argv: argv, Err: ce}
		}
		return nil
	case errors.As(err, &ee):
		stderr := res.Stderr
		if len(stderr) == 0 {
			stderr = ee.Stderr
		}
		ce := pve.CheckResult(argv, ee.Code, res.Stdout, stderr)
		return &UndoError{Host: host, Argv: argv, Err: err, PVE: asCmdError(ce)}
	default:
		return &UndoError{Host: host, Argv: argv, Err: err}
	}
}

func asCmdError(err error) *pve.CmdError {
	var ce *pve.CmdError
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}

// UndoError is a failed undo command. It matches the transport classes of
// Err and, when the command's stderr was classified, the pve sentinels.
type UndoError struct {
	Host string
	Argv []string
	Err  error
	// PVE is the classified stderr, when there was one.
	PVE *pve.CmdError
}

func (e *UndoError) Error() string {
	var ee *transport.ExitError
	if errors.As(e.Err, &ee) {
		return e.Err.Error() // already names the command, host and stderr
	}
	return fmt.Sprintf("%s on %s: %v", quoteArgv(e.Argv), e.Host, e.Err)
}

func (e *UndoError) Unwrap() []error {
	if e.PVE != nil {
		return []error{e.Err, e.PVE}
	}
	return []error{e.Err}
}

// retryable: the same undo may succeed later.
func retryable(err error) bool {
	return pve.IsTransient(err) || errors.Is(err, transport.ErrUnreachable)
}

// Tolerated reports whether an undo command's failure means its work is
// already done, so the rollback may go on. These rules make undos
// idempotent; everything else counts as a failure:
//
//   - pct destroy of a container that does not exist: it is gone.
//   - pct stop / pct shutdown of a container that is not running or does
//     not exist: it is stopped.
//   - pct start of a running container.
//   - pct delsnapshot of a missing snapshot, or of a container that is gone.
//   - pct unlock of a container that is gone.
//
// A pct rollback to a missing snapshot is NOT tolerated: the container was
// not restored, and someone must look at it.
func Tolerated(argv []string, err error) bool {
	if err == nil {
		return true
	}
	if len(argv) < 2 || path.Base(argv[0]) != "pct" {
		return false
	}
	is := func(targets ...error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
	switch argv[1] {
	case "destroy", "unlock":
		return is(pve.ErrConfigMissing)
	case "stop", "shutdown":
		return is(pve.ErrNotRunning, pve.ErrConfigMissing)
	case "start":
		return is(pve.ErrAlreadyRunning)
	case "delsnapshot":
		return is(pve.ErrSnapshotMissing, pve.ErrConfigMissing)
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
