package exec

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/lock"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/secrets"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// RunOptions tune RunApply.
type RunOptions struct {
	Options
	// LockTimeout is how long to wait for the stack lock (0: lock default).
	LockTimeout time.Duration
	// Lock overrides lock paths and clocks (tests, lab); Timeout is taken
	// from LockTimeout.
	Lock lock.Options
	// Targets limits the run to these containers and their dependencies.
	Targets   []string
	StackFile string
	// Saved is the plan file given to `apply PLANFILE`: the run refuses
	// with ErrStalePlan when the hosts no longer give the same plan.
	Saved *plan.Plan
	// OnPlan, if set, sees the plan before anything changes; an error
	// stops the run (a refused confirmation, say) with nothing done. It may
	// change the options (set Yes after an interactive confirmation).
	OnPlan func(*plan.Plan, *Options) error
	// LockRunner takes the stack lock; nil uses the first host's runner.
	// A dry run passes a runner without the dry-run middleware: the lock is
	// real even then, so the state a dry run reads is stable.
	LockRunner transport.Runner
	// OnLockWait is told when the lock is held by someone else.
	OnLockWait func(*lock.Holder)
	// held is the stack lock while a run holds it.
	held *lock.Lock
	// Abort (the second Ctrl-C) stops waiting for the rollback: RunApply
	// releases the lock and returns ErrAborted at once, leaving the journal
	// for ResumeRollback. The rollback goroutine is abandoned; the caller
	// is expected to exit.
	Abort <-chan struct{}
}

// ErrAborted: the run was abandoned (second Ctrl-C); its journal is left.
var ErrAborted = errors.New("aborted; the journal is left for --resume-rollback")

// RunApply is a whole `lxcplan apply`: take the stack lock, observe the
// hosts, compute the plan, apply it and release the lock — the lock is
// taken before anything is observed, so a re-apply after a success sees
// what that run left and changes nothing.
func RunApply(ctx context.Context, d *model.Desired, hosts map[string]transport.Runner, o RunOptions) (*plan.Plan, *Result, error) {
	if d == nil || d.Stack == nil {
		return nil, nil, fmt.Errorf("%w: no stack", ErrNotApplicable)
	}
	ctx, keys, release, err := lockStack(ctx, d.Stack.Name, hosts, &o, "lxcplan apply")
	if err != nil {
		return nil, nil, err
	}
	defer release()
	lk := o.held
	if err := o.readKey(ctx, d.Stack.Name, hosts[keys[0]]); err != nil {
		return nil, nil, err
	}

	p, st, err := Prepare(ctx, d, hosts, keys, o)
	if err != nil {
		return p, nil, err
	}
	if o.OnPlan != nil {
		if err := o.OnPlan(p, &o.Options); err != nil {
			return p, nil, err
		}
	}
	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := Apply(ctx, Inputs{Plan: p, Desired: d, State: st}, hosts, o.Options)
		done <- outcome{res, err}
	}()
	var out outcome
	select {
	case out = <-done:
	case <-o.Abort:
		_ = lk.Release(context.WithoutCancel(ctx))
		return p, &Result{RunID: o.RunID}, ErrAborted
	}
	return p, out.res, lostLock(ctx, out.err)
}

// lockStack takes the stack lock for a run (apply, destroy, update) before
// anything is observed, and cancels ctx if the lock is lost. It returns the
// sorted host keys and the release function; o.held is the lock.
func lockStack(ctx context.Context, stack string, hosts map[string]transport.Runner, o *RunOptions, command string) (context.Context, []string, func(), error) {
	keys := make([]string, 0, len(hosts))
	for k := range hosts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return ctx, nil, nil, fmt.Errorf("%w: no hosts", ErrNotApplicable)
	}
	lo := o.Lock
	lo.Timeout = o.LockTimeout
	if lo.OnWait == nil {
		lo.OnWait = o.OnLockWait
	}
	if lo.Holder.Command == "" {
		lo.Holder = lock.CurrentHolder("", command)
	}
	lr := o.LockRunner
	if lr == nil {
		lr = hosts[keys[0]]
	}
	lk, err := lock.Acquire(ctx, lr, stack, lo)
	if err != nil {
		return ctx, nil, nil, fmt.Errorf("lock stack %s: %w", stack, err)
	}
	o.held = lk
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-lk.Lost():
			cancel(lk.Err())
		case <-ctx.Done():
		}
	}()
	return ctx, keys, func() {
		_ = lk.Release(context.WithoutCancel(ctx))
		cancel(nil)
	}, nil
}

// readKey reads the stack's fingerprint key when none was given, through
// the lock's runner (real even in a dry run).
func (o *RunOptions) readKey(ctx context.Context, stack string, def transport.Runner) error {
	if len(o.SecretKey) > 0 || o.NoStackKey {
		return nil
	}
	if o.Secrets == nil {
		o.Secrets = secrets.NewRegistry()
	}
	r := o.LockRunner
	if r == nil {
		r = def
	}
	k, err := ReadStackKey(ctx, r, stack, o.Secrets, o.SecretsDir)
	if err != nil {
		return err
	}
	o.SecretKey = k
	return nil
}

// lostLock names a lost lock as the cause of a failed run.
func lostLock(ctx context.Context, err error) error {
	if err != nil && context.Cause(ctx) != nil && errors.Is(context.Cause(ctx), lock.ErrLost) {
		return fmt.Errorf("%w (%w)", err, context.Cause(ctx))
	}
	return err
}

// Prepare observes the hosts and computes the plan (the lock is held).
func Prepare(ctx context.Context, d *model.Desired, hosts map[string]transport.Runner, keys []string, o RunOptions) (*plan.Plan, *inventory.State, error) {
	targets := make([]inventory.HostTarget, 0, len(keys))
	for _, k := range keys {
		targets = append(targets, inventory.HostTarget{Key: k, Runner: hosts[k]})
	}
	st, ds := inventory.Observe(ctx, targets, inventory.Options{})
	if ds.HasErrors() {
		return nil, st, ds.Err()
	}
	po := plan.Options{SecretKey: o.SecretKey, Targets: o.Targets, StackFile: o.StackFile}
	p, pds := plan.Diff(d, st, po)
	if needsCatalog(p) {
		po.Catalog = catalogs(ctx, d, hosts)
		p, pds = plan.Diff(d, st, po)
	}
	if pds.HasErrors() {
		return p, st, pds.Err()
	}
	if o.Saved != nil {
		if err := sameAs(o.Saved, p); err != nil {
			return p, st, err
		}
	}
	return p, st, nil
}

func needsCatalog(p *plan.Plan) bool {
	for _, ch := range p.Changes {
		if ch.Template != nil && ch.Template.VolID == "" && (ch.Action == plan.ActionCreate || ch.Action == plan.ActionReplace) {
			return true
		}
	}
	return false
}

// catalogs reads `pveam available` on each host that creates containers.
// A host whose catalog cannot be read is left out: the planner then says the
// template is unavailable.
func catalogs(ctx context.Context, d *model.Desired, hosts map[string]transport.Runner) map[string][]pve.AvailableTemplate {
	out := map[string][]pve.AvailableTemplate{}
	for _, c := range d.Containers {
		if _, done := out[c.Host]; done {
			continue
		}
		r, ok := hosts[c.Host]
		if !ok {
			continue
		}
		res, err := r.Run(ctx, transport.Command{Argv: pve.PveamAvailable("system"), ReadOnly: true})
		if err != nil {
			continue
		}
		if ts, err := pve.ParsePveamAvailable(res.Stdout); err == nil {
			out[c.Host] = ts
		}
	}
	return out
}

// sameAs refuses a saved plan the hosts no longer give: every change must
// have the same action, base config and spec.
func sameAs(saved, fresh *plan.Plan) error {
	byName := map[string]*plan.Change{}
	for _, ch := range fresh.Changes {
		byName[ch.Container] = ch
	}
	var ds diag.Diagnostics
	for _, s := range saved.Changes {
		f := byName[s.Container]
		switch {
		case f == nil:
			ds = append(ds, staleDiag(s.Container, "it is no longer in the plan"))
		case f.Action != s.Action:
			ds = append(ds, staleDiag(s.Container, fmt.Sprintf("planned %s, now %s", s.Action, f.Action)))
		case (s.Base == nil) != (f.Base == nil) || (s.Base != nil && *s.Base != *f.Base):
			ds = append(ds, staleDiag(s.Container, "its config changed since the plan was made"))
		case (s.Apply == nil) != (f.Apply == nil) || (s.Apply != nil && !plan.SameText(s.Apply.Marker.Spec, f.Apply.Marker.Spec)):
			ds = append(ds, staleDiag(s.Container, "the stack file changed since the plan was made"))
		}
	}
	for _, f := range fresh.Changes {
		if f.Action == plan.ActionNoOp {
			continue
		}
		found := false
		for _, s := range saved.Changes {
			found = found || s.Container == f.Container
		}
		if !found {
			ds = append(ds, staleDiag(f.Container, "a change appeared since the plan was made"))
		}
	}
	if len(ds) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrStalePlan, ds.Err())
}

func staleDiag(name, why string) diag.Diagnostic {
	return diag.Diagnostic{Severity: diag.SevError, Class: diag.ClassHost, Path: "containers." + name,
		Summary: fmt.Sprintf("stale plan: container %s: %s", name, why), Detail: "run lxcplan plan again"}
}
