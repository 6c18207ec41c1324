package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/exec"
	"github.com/lxcplan/lxcplan/engine/journal"
	"github.com/lxcplan/lxcplan/engine/lock"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/render"
	"github.com/lxcplan/lxcplan/engine/secrets"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// interrupts is where apply hears Ctrl-C; tests replace it.
var interrupts = func() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	return ch, func() { signal.Stop(ch) }
}

func applyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "apply",
		Usage: "make the hosts match a stack (or a saved plan)",
		UsageText: "lxcplan apply STACK|PLANFILE [--yes] [--dry-run] [--parallelism N] [--per-host N] [--on-failure rollback|keep]\n" +
			"    [--allow-unprotected] [--lock-timeout DURATION] [--target NAME]...\n" +
			"lxcplan apply --resume-rollback JOURNAL STACK",
		Description: `Takes the stack's cluster-wide lock, observes the hosts, plans, and applies the plan:
containers run in parallel as soon as their dependencies are started or healthy. On a
failure (or the first Ctrl-C) the run stops and everything it did is rolled back (exit 1);
if the rollback cannot finish, exit 4 lists what is left and the journal to resume with
--resume-rollback. A second Ctrl-C stops the rollback and leaves the journal (exit 130).`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "allow destroys and replaces without asking"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the exact commands that would run; change nothing"},
			&cli.IntFlag{Name: "parallelism", Value: exec.DefaultParallelism, Usage: "containers worked on at once"},
			&cli.IntFlag{Name: "per-host", Value: exec.DefaultPerHost, Usage: "containers worked on at once per host"},
			&cli.StringFlag{Name: "on-failure", Value: string(exec.Rollback), Usage: "rollback or keep"},
			&cli.BoolFlag{Name: "allow-unprotected", Usage: "reprovision or upgrade on storage without snapshots"},
			&cli.DurationFlag{Name: "lock-timeout", Value: lock.DefaultTimeout, Usage: "how long to wait for the stack lock"},
			&cli.StringSliceFlag{Name: "target", Usage: "apply only this container and what it depends on (repeatable)"},
			&cli.StringFlag{Name: "resume-rollback", Usage: "finish the rollback recorded in `JOURNAL`"},
			setFlag(),
		},
		Action: func(c *cli.Context) error { return applyAction(c, e) },
	}
}

func applyAction(c *cli.Context, e *env) error {
	arg, err := oneArg(c, "STACK or PLANFILE")
	if err != nil {
		return err
	}
	mode := exec.FailureMode(c.String("on-failure"))
	if mode != exec.Rollback && mode != exec.Keep {
		return usagef("apply: --on-failure %q: want rollback or keep", mode)
	}
	if c.Int("parallelism") < 1 || c.Int("per-host") < 1 {
		return usagef("apply: --parallelism and --per-host must be at least 1")
	}
	jsonEvents := c.String("log-format") == "json"

	stackPath, saved, err := readApplyInput(arg)
	if err != nil {
		return err
	}
	d, err := loadDesired(e, stackPath, manifestOptions(c))
	if err != nil {
		return err
	}
	if saved != nil && saved.Stack != d.Stack.Name {
		return fmt.Errorf("plan %s is for stack %q, but %s is stack %q", arg, saved.Stack, stackPath, d.Stack.Name)
	}

	reg := secrets.NewRegistry()
	hs := newHostSet(e, d.Stack)
	defer hs.Close()
	var rec *transport.Recorder
	if c.Bool("dry-run") {
		rec = &transport.Recorder{PassReadOnly: true, Out: &syncWriter{w: e.out}}
	}
	hosts, direct, err := connectAll(c.Context, hs, d.Stack, reg, rec)
	if err != nil {
		return err
	}

	pr := newApplyProgress(e, jsonEvents, reg)
	defer pr.close()
	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	sigs, stop := interrupts()
	defer stop()
	abort := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
			return
		}
		pr.note("interrupted: stopping and rolling back (press Ctrl-C again to stop the rollback and keep the journal)")
		cancel()
		select {
		case <-sigs:
			close(abort)
		case <-c.Context.Done():
		}
	}()

	if jp := c.String("resume-rollback"); jp != "" {
		return resumeRollback(ctx, e, d, hosts, jp, lockTimeout(c), pr, abort)
	}

	dir, err := journal.DefaultDir()
	if err != nil {
		return fmt.Errorf("journal directory: %w", err)
	}
	runID := journal.NewRunID(time.Now())
	journalPath := journal.PathFor(dir, d.Stack.Name, runID)
	o := exec.RunOptions{
		Options: exec.Options{
			Parallelism: c.Int("parallelism"), PerHost: c.Int("per-host"), OnFailure: mode,
			AllowUnprotected: c.Bool("allow-unprotected"), Yes: c.Bool("yes"), DryRun: c.Bool("dry-run"),
			Observer: pr.event, JournalDir: dir, RunID: runID, Secrets: reg,
		},
		LockTimeout: lockTimeout(c),
		Targets:     c.StringSlice("target"),
		StackFile:   stackPath,
		Saved:       saved,
		Lock:        lock.Options{Holder: lock.CurrentHolder(version, "lxcplan apply")},
		LockRunner:  direct[d.Stack.HostNames()[0]],
		OnLockWait: func(h *lock.Holder) {
			who := "another run"
			if h != nil {
				who = h.String()
			}
			pr.note(fmt.Sprintf("stack %s is locked by %s; waiting up to %s", d.Stack.Name, who, c.Duration("lock-timeout")))
		},
		OnPlan: func(p *plan.Plan, opts *exec.Options) error {
			pr.note(render.SummaryLine(p))
			if !p.Destructive || opts.Yes || opts.DryRun {
				return nil
			}
			ok, err := confirm(e, p)
			if err != nil {
				return err
			}
			opts.Yes = ok
			return nil
		},
	}

	o.Abort = abort
	_, res, err := exec.RunApply(ctx, d, hosts, o)
	if errors.Is(err, exec.ErrAborted) {
		return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted again: rollback stopped; finish it with: lxcplan apply --resume-rollback %s %s", journalPath, stackPath)}
	}
	pr.close()
	if res != nil {
		writeSummary(e, res, reg, rec != nil)
	}
	return applyExit(e, err, res)
}

// lockTimeout is --lock-timeout for lock.Acquire, where 0 means its
// default: on the command line 0 means "do not wait".
func lockTimeout(c *cli.Context) time.Duration {
	if d := c.Duration("lock-timeout"); d > 0 {
		return d
	}
	return -1
}

// readApplyInput tells a plan file (JSON) from a stack file.
func readApplyInput(arg string) (stackPath string, saved *plan.Plan, err error) {
	b, err := os.ReadFile(arg)
	if err != nil {
		return "", nil, fmt.Errorf("read %s: %w", arg, err)
	}
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return arg, nil, nil
	}
	p, err := plan.ReadPlan(bytes.NewReader(b))
	if err != nil {
		return "", nil, fmt.Errorf("read plan %s: %w", arg, err)
	}
	if p.StackFile == "" {
		return "", nil, fmt.Errorf("plan %s does not name its stack file", arg)
	}
	return p.StackFile, p, nil
}

// connectAll dials every host of the stack once; every runner masks the
// run's secrets, and in a dry run records instead of changing anything.
//
// direct are the same runners without the dry-run recorder, for the stack
// lock, which a dry run takes for real.
func connectAll(ctx context.Context, hs *hostSet, st *model.Stack, reg *secrets.Registry, rec *transport.Recorder) (hosts, direct map[string]transport.Runner, err error) {
	hosts, direct = map[string]transport.Runner{}, map[string]transport.Runner{}
	for _, name := range st.HostNames() {
		r, err := hs.dialer(name)(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("connect to %s (%s): %w", name, hs.address(name), err)
		}
		direct[name] = transport.Chain(r, reg.Middleware())
		hosts[name] = direct[name]
		if rec != nil {
			hr := &transport.Recorder{Host: name, PassReadOnly: true, Out: rec.Out}
			hosts[name] = transport.Chain(r, reg.Middleware(), transport.DryRun(hr))
		}
	}
	return hosts, direct, nil
}

// confirm asks before destroying or replacing; without a terminal it
// refuses and says how to proceed.
func confirm(e *env, p *plan.Plan) (bool, error) {
	f, ok := e.in.(*os.File)
	if !ok || !isTerminal(f) || !isTerminal(e.errOut) {
		var what []string
		for _, ch := range p.Changes {
			if ch.Action.Destructive() {
				what = append(what, fmt.Sprintf("%s %s", ch.Action, ch.Container))
			}
		}
		return false, &exitError{code: exitFailed, err: fmt.Errorf("%w: %s; rerun with --yes", exec.ErrNeedsConfirmation, strings.Join(what, ", "))}
	}
	fmt.Fprint(e.errOut, "This plan destroys data. Type 'yes' to apply it: ")
	line, _ := bufio.NewReader(e.in).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return false, &exitError{code: exitFailed, err: errors.New("apply cancelled")}
	}
	return true, nil
}

// applyExit maps the outcome to the exit codes of design.md §5.
func applyExit(e *env, err error, res *exec.Result) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, exec.ErrRollbackIncomplete):
		var b strings.Builder
		fmt.Fprintf(&b, "%v\nrollback incomplete; left to do:", err)
		if res != nil {
			for _, l := range res.Left {
				fmt.Fprintf(&b, "\n  %s", l.String())
			}
		}
		return &exitError{code: exitRollbackPartial, err: errors.New(b.String())}
	case errors.Is(err, exec.ErrFailed):
		msg := err.Error()
		if res != nil && res.RolledBack {
			msg += "\neverything this run changed was rolled back"
		}
		return &exitError{code: exitFailed, err: errors.New(msg)}
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	if _, ok := diag.From(err); ok {
		return err // exit code from the diagnostics' class (65 for input)
	}
	return &exitError{code: exitFailed, err: err}
}

func resumeRollback(ctx context.Context, e *env, d *model.Desired, hosts map[string]transport.Runner, path string, timeout time.Duration, pr *applyProgress, abort <-chan struct{}) error {
	log, err := journal.Read(path)
	if err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	if log.Meta.Stack != "" && log.Meta.Stack != d.Stack.Name {
		return fmt.Errorf("journal %s is for stack %q, not %q", path, log.Meta.Stack, d.Stack.Name)
	}
	keys := d.Stack.HostNames()
	lk, err := lock.Acquire(ctx, hosts[keys[0]], d.Stack.Name, lock.Options{Timeout: timeout, Holder: lock.CurrentHolder(version, "lxcplan apply --resume-rollback")})
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("lock stack %s: %w", d.Stack.Name, err)}
	}
	defer lk.Release(context.WithoutCancel(ctx))
	type outcome struct {
		rep *journal.Report
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		rep, err := exec.ResumeRollback(ctx, path, hosts, func(ev journal.Event) {
			x := exec.Event{Phase: exec.PhaseRollingBack, Err: ev.Err}
			if ev.Entry != nil {
				x.Container, x.Host, x.Message = ev.Entry.Container, ev.Entry.Host, ev.Entry.Description
			}
			if ev.Kind == journal.EventUndone {
				x.Phase = exec.PhaseRolledBack
			}
			x.Time = time.Now()
			pr.event(x)
		})
		done <- outcome{rep, err}
	}()
	var out outcome
	select {
	case out = <-done:
	case <-abort:
		return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted again: the journal %s is left", path)}
	}
	if out.err != nil {
		msg := out.err.Error()
		if out.rep != nil {
			msg += "\nleft to do:\n" + out.rep.Summary()
		}
		return &exitError{code: exitRollbackPartial, err: errors.New(msg)}
	}
	fmt.Fprintf(e.out, "rollback complete (%d steps undone)\n", len(out.rep.Undone))
	return nil
}

// syncWriter serialises writes from the per-host recorders, which run
// concurrently.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// applyProgress shows the executor's events: live lines on a terminal, one
// line per event otherwise, JSON events with --log-format json (see
// newProgressView). Notes (lock waits, interrupts) print above the live block.
type applyProgress struct {
	pv   *render.Progress
	reg  *secrets.Registry
	once sync.Once
}

func newApplyProgress(e *env, jsonEvents bool, reg *secrets.Registry) *applyProgress {
	return &applyProgress{pv: newProgressView(e.stderr(), e.errOut, jsonEvents, e.color, reg), reg: reg}
}

func (p *applyProgress) event(ev exec.Event) { p.pv.Event(progressEvent(ev, p.reg)) }

func (p *applyProgress) note(s string) { p.pv.Note(p.reg.String(s)) }

// close draws the final frame; it is safe to call more than once.
func (p *applyProgress) close() { p.once.Do(func() { p.pv.Close() }) }

// writeSummary prints the table at the end of an apply: container, host,
// vmid, IP, outputs (secret ones as "(secret)"), time taken.
func writeSummary(e *env, res *exec.Result, reg *secrets.Registry, dry bool) {
	if len(res.Containers) == 0 {
		return
	}
	if dry {
		fmt.Fprintln(e.out, "\n(dry run: nothing was changed)")
	}
	fmt.Fprintln(e.out)
	render.Summary(e.out, summaryRows(res), render.SummaryOptions{Color: e.color, Redact: reg.String})
	if res.JournalPath != "" && len(res.Left) > 0 {
		fmt.Fprintf(e.out, "journal: %s\n", res.JournalPath)
	}
}
