package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/exec"
	"github.com/lxcplan/lxcplan/engine/journal"
	"github.com/lxcplan/lxcplan/engine/lock"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/secrets"
	"github.com/lxcplan/lxcplan/engine/transport"
)

func destroyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "destroy",
		Usage:     "destroy the stack's containers (all, or the targets and what depends on them)",
		UsageText: "lxcplan destroy STACK [--yes] [--lock-timeout DURATION] [--target NAME]...",
		Description: `Takes the stack's cluster-wide lock, finds every container marked for this stack and
destroys it, dependents first: HA resource removed, stopped, pct destroy --purge, and its
generated secrets removed from the cluster (with the whole stack, the stack's key too).

--target NAME selects that container and everything that DEPENDS on it (not what it
depends on, as for plan and apply): destroying a dependency under a running dependent
would break the dependent, so the dependents go too.

Needs --yes, or a confirmation when stdin is a terminal. Protected containers are never
destroyed: when the selection holds any, nothing is done (exit 1, naming them).
Exit 0 when everything selected was destroyed, 1 otherwise.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "destroy without asking"},
			&cli.DurationFlag{Name: "lock-timeout", Value: lock.DefaultTimeout, Usage: "how long to wait for the stack lock"},
			&cli.StringSliceFlag{Name: "target", Usage: "destroy only this container and what depends on it (repeatable)"},
			setFlag(),
		},
		Action: func(c *cli.Context) error { return destroyAction(c, e) },
	}
}

func destroyAction(c *cli.Context, e *env) error {
	return runOnStack(c, e, "lxcplan destroy", func(rs *runSetup, d *model.Desired, hosts map[string]transport.Runner, o exec.RunOptions) error {
		o.Yes = c.Bool("yes")
		o.OnPlan = func(p *plan.Plan, opts *exec.Options) error {
			if !p.HasChanges() {
				return nil
			}
			var list []string
			for _, ch := range p.Changes {
				host := ch.Host
				if host == "" {
					host = "node " + ch.Node
				}
				list = append(list, fmt.Sprintf("  %s (%d on %s)", ch.Container, ch.VMID, host))
			}
			rs.pr.note("to destroy, in this order:\n" + strings.Join(list, "\n"))
			if opts.Yes {
				return nil
			}
			ok, err := askYesNo(e, fmt.Sprintf("Destroy %d containers? [y/N] ", len(p.Changes)))
			if err != nil {
				return err
			}
			if !ok {
				return &exitError{code: exitFailed, err: errors.New("destroy cancelled")}
			}
			opts.Yes = true
			return nil
		}
		p, res, err := exec.RunDestroy(rs.ctx, d, hosts, o)
		if err == nil && p != nil && !p.HasChanges() {
			fmt.Fprintf(e.out, "nothing to destroy: no container of stack %s on the hosts\n", d.Stack.Name)
			return nil
		}
		return rs.finish(res, err)
	})
}

// askYesNo asks question on stderr when stdin and stderr are terminals and
// reads y/yes; without a terminal it refuses and says to use --yes.
func askYesNo(e *env, question string) (bool, error) {
	f, ok := e.in.(*os.File)
	if !ok || !isTerminal(f) || !isTerminal(e.errOut) {
		return false, &exitError{code: exitFailed, err: fmt.Errorf("%w; stdin is not a terminal to ask: rerun with --yes", exec.ErrNeedsConfirmation)}
	}
	fmt.Fprint(e.errOut, question)
	line, _ := bufio.NewReader(e.in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// runSetup is what destroy and update share with apply: the secret
// registry, one connection per host, progress on stderr, and Ctrl-C
// handling (the first cancels the run, which then rolls back; the second
// abandons the rollback).
type runSetup struct {
	ctx    context.Context
	cancel context.CancelFunc
	stop   func()
	reg    *secrets.Registry
	hs     *hostSet
	pr     *applyProgress
	abort  chan struct{}
	e      *env
	stack  string
	cmd    string
}

func startRun(c *cli.Context, e *env, st *model.Stack, command string) *runSetup {
	rs := &runSetup{reg: secrets.NewRegistry(), e: e, stack: st.Name, cmd: command, abort: make(chan struct{}), hs: newHostSet(e, st)}
	rs.pr = newApplyProgress(e, c.String("log-format") == "json", rs.reg)
	rs.ctx, rs.cancel = context.WithCancel(c.Context)
	sigs, stop := interrupts()
	rs.stop = stop
	go func() {
		select {
		case <-sigs:
		case <-rs.ctx.Done():
			return
		}
		rs.pr.note("interrupted: stopping and rolling back (press Ctrl-C again to stop the rollback and keep the journal)")
		rs.cancel()
		select {
		case <-sigs:
			close(rs.abort)
		case <-c.Context.Done():
		}
	}()
	return rs
}

func (rs *runSetup) close() {
	rs.pr.close()
	rs.cancel()
	rs.stop()
	if rs.hs != nil {
		rs.hs.Close()
	}
}

// options are the run options of the command line shared by destroy and
// update; lockRunner takes the stack lock.
func (rs *runSetup) options(c *cli.Context, lockRunner transport.Runner) (exec.RunOptions, error) {
	dir, err := journal.DefaultDir()
	if err != nil {
		return exec.RunOptions{}, fmt.Errorf("journal directory: %w", err)
	}
	return exec.RunOptions{
		Options: exec.Options{
			Observer: rs.pr.event, JournalDir: dir, RunID: journal.NewRunID(time.Now()), Secrets: rs.reg,
		},
		LockTimeout: lockTimeout(c),
		Lock:        lock.Options{Holder: lock.CurrentHolder(version, rs.cmd)},
		LockRunner:  lockRunner,
		OnLockWait: func(h *lock.Holder) {
			who := "another run"
			if h != nil {
				who = h.String()
			}
			rs.pr.note(fmt.Sprintf("stack %s is locked by %s; waiting up to %s", rs.stack, who, c.Duration("lock-timeout")))
		},
		Abort: rs.abort,
	}, nil
}
