package exec

import (
	"context"
	"errors"
	"fmt"

	"github.com/lxcplan/lxcplan/engine/journal"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/provision"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// ErrNotUpdatable: a container named for `lxcplan update` cannot run its
// update steps (not created yet, stopped, pending replace). Nothing ran.
var ErrNotUpdatable = errors.New("cannot update")

// RunUpdate is a whole `lxcplan update`: under the stack lock, each
// selected container (o.Targets, or every container of the stack; unlike
// apply, a target's dependencies are not updated with it) runs its recipe's
// update steps, in dependency order, one container at a time:
//
//	pct snapshot VMID lxcplan-update-<runid>   (journaled; undo: pct rollback --start, delsnapshot)
//	update steps (provision RunUpdate)
//	health probe
//
// When every container succeeded the snapshots are deleted. On any failure
// (or Ctrl-C: cancel ctx) no further container starts and the journal is
// replayed: every container updated in this run goes back to its snapshot
// and is started again, then its health probe must pass. The error wraps
// ErrFailed when that rollback completed and the services answer again,
// ErrRollbackIncomplete when it did not (Result.Left says what is left).
//
// Storage without snapshots is refused (ErrUnprotected) unless
// o.AllowUnprotected. Containers whose recipe has no update steps are
// reported unchanged.
func RunUpdate(ctx context.Context, d *model.Desired, hosts map[string]transport.Runner, o RunOptions) (*plan.Plan, *Result, error) {
	if d == nil || d.Stack == nil {
		return nil, nil, fmt.Errorf("%w: no stack", ErrNotApplicable)
	}
	ctx, keys, release, err := lockStack(ctx, d.Stack.Name, hosts, &o, "lxcplan update")
	if err != nil {
		return nil, nil, err
	}
	defer release()
	if err := o.readKey(ctx, d.Stack.Name, hosts[keys[0]]); err != nil {
		return nil, nil, err
	}
	// The whole stack is planned: every container publishes its address
	// and outputs, which the updated ones' steps may use.
	po := o
	po.Targets, po.Saved = nil, nil
	p, st, err := Prepare(ctx, d, hosts, keys, po)
	if err != nil {
		return p, nil, err
	}
	o.NoStackKey = true // an update writes no marker
	o.defaults()
	res, err := update(ctx, Inputs{Plan: p, Desired: d, State: st}, hosts, o)
	return p, res, lostLock(ctx, err)
}

func update(ctx context.Context, in Inputs, hosts map[string]transport.Runner, o RunOptions) (*Result, error) {
	opts := o.Options
	res := &Result{RunID: opts.RunID}
	r := &run{in: in, opts: opts, hosts: hosts, snapPrefix: "lxcplan-update-",
		em:      &emitter{obs: opts.Observer, now: opts.Now, reg: opts.Secrets},
		markers: map[string]*plan.Marker{}, deps: map[string]provision.Dep{},
		results: map[string]*ContainerResult{}, reserved: map[int]bool{}, tmpls: map[string]*onceErr{},
		// Secrets exist already for created containers: none is made here.
		readOnly: true,
	}
	r.seedMarkers()
	selected, err := r.updateSelection(o.Targets)
	if err != nil {
		return res, err
	}
	if err := r.loadSecrets(ctx); err != nil {
		return res, err
	}
	dir := opts.JournalDir
	if dir == "" {
		if dir, err = journal.DefaultDir(); err != nil {
			return res, fmt.Errorf("journal: %w", err)
		}
	}
	j, err := journal.OpenWith(journal.PathFor(dir, in.Plan.Stack, opts.RunID), journal.Options{Secrets: opts.Secrets, Now: opts.Now})
	if err != nil {
		return res, fmt.Errorf("open journal: %w", err)
	}
	defer j.Close()
	if err := j.Start(journal.Meta{Stack: in.Plan.Stack, RunID: opts.RunID, Start: opts.Now()}); err != nil {
		return res, fmt.Errorf("journal: %w", err)
	}
	r.j = j
	res.JournalPath = j.Path()

	// Publish every container's address and outputs (no command runs),
	// dependencies first; the order of the plan is the dependency order.
	cts := map[string]*ct{}
	for _, ch := range in.Plan.Changes {
		c := in.Desired.Container(ch.Container)
		if c == nil || ch.VMID == 0 {
			continue
		}
		x := &ct{ch: ch, c: c, host: r.liveHost(ch, c.Host), vmid: ch.VMID,
			cr: &ContainerResult{Name: c.Name, Host: c.Host, VMID: ch.VMID, Action: plan.ActionUpgrade, Status: StatusUnchanged}}
		if m := r.marker(c.Name); m != nil {
			x.ip = m.Addresses[ifaceOf(c)]
		}
		if x.ip == "" {
			x.ip = bareAddr(c.Network.IP)
		}
		if err := r.values(ctx, x); err != nil {
			return res, err
		}
		r.publish(x, nil)
		cts[c.Name] = x
	}

	var done []*ct
	var failed error
	for i, name := range selected {
		x := cts[name]
		if err := ctx.Err(); err != nil {
			failed = fmt.Errorf("interrupted: %w", context.Cause(ctx))
			for _, rest := range selected[i:] {
				r.skip(cts[rest], failed)
			}
			break
		}
		if len(x.c.Loaded.Update) == 0 {
			r.setResult(x.cr)
			r.ev(x, PhaseUnchanged, "recipe has no update steps")
			continue
		}
		start := r.opts.Now()
		x.cr.Status = StatusOK
		r.setResult(x.cr)
		err := r.updateOne(ctx, x)
		x.cr.Duration = r.opts.Now().Sub(start)
		if err != nil {
			x.cr.Status, x.cr.Err = StatusFailed, r.opts.Secrets.Error(err)
			r.em.emit(Event{Container: name, Host: x.host, VMID: x.vmid, Phase: PhaseFailed, Err: x.cr.Err})
			failed = fmt.Errorf("update %s: %w", name, err)
			for _, rest := range selected[i+1:] {
				r.skip(cts[rest], fmt.Errorf("not started: %s failed", name))
			}
			done = append(done, x)
			break
		}
		r.ev(x, PhaseReady, "updated")
		done = append(done, x)
	}
	res.Mutations = r.mutations
	if failed == nil {
		r.finish(ctx)
		r.collect(res)
		return res, nil
	}
	failed = opts.Secrets.Error(failed)
	if opts.OnFailure == Keep {
		r.collect(res)
		return res, fmt.Errorf("%w: %w; snapshots kept: %s", ErrFailed, failed, r.snapshotName())
	}
	rep, rerr := r.rollback(ctx)
	if rep != nil {
		res.Left = rep.Left
	}
	if rerr == nil && (rep == nil || rep.Complete()) {
		// The services must answer again: probe every container put back.
		hctx := context.WithoutCancel(ctx)
		for _, x := range done {
			if x.c.Loaded == nil || x.c.Loaded.Health == nil {
				continue
			}
			if herr := r.health(hctx, x); herr != nil {
				rerr = errors.Join(rerr, fmt.Errorf("after rollback: %w", herr))
				x.cr.Status = StatusFailed
			}
		}
	} else if rerr == nil {
		rerr = journal.ErrIncomplete
	}
	r.collect(res)
	if rerr != nil {
		return res, fmt.Errorf("%w: %w (%w); journal %s", ErrRollbackIncomplete, failed, opts.Secrets.Error(rerr), res.JournalPath)
	}
	res.RolledBack = true
	for _, x := range done {
		if x.cr.Status == StatusOK || x.cr.Status == StatusFailed {
			x.cr.Status = StatusRolledBack
		}
	}
	return res, fmt.Errorf("%w: %w", ErrFailed, failed)
}

// updateSelection checks the containers to update before anything runs:
// each must exist on the hosts, be owned and ready, run, and sit on
// storage that can snapshot (or AllowUnprotected). The result is in
// dependency order.
func (r *run) updateSelection(targets []string) ([]string, error) {
	want := map[string]bool{}
	for _, t := range targets {
		if r.in.Desired.Container(t) == nil {
			return nil, fmt.Errorf("%w: --target %s: no such container in stack %s", ErrNotUpdatable, t, r.in.Plan.Stack)
		}
		want[t] = true
	}
	var out []string
	for _, ch := range r.in.Plan.Changes {
		c := r.in.Desired.Container(ch.Container)
		if c == nil || (len(want) > 0 && !want[c.Name]) {
			continue
		}
		switch {
		case ch.Action == plan.ActionCreate || ch.VMID == 0:
			return nil, fmt.Errorf("%w: container %s is not created yet; run lxcplan apply first", ErrNotUpdatable, c.Name)
		case ch.Action == plan.ActionReplace:
			return nil, fmt.Errorf("%w: container %s is to be replaced (%s); run lxcplan apply first", ErrNotUpdatable, c.Name, ch.Reason)
		case c.Loaded == nil:
			return nil, fmt.Errorf("%w: container %s: recipe %s is not loaded", ErrNotUpdatable, c.Name, c.Recipe.Raw)
		}
		if len(c.Loaded.Update) == 0 {
			out = append(out, c.Name)
			continue
		}
		obs := r.observed(ch)
		if obs == nil || obs.Status != "running" {
			return nil, fmt.Errorf("%w: container %s (%d) is not running; start it first", ErrNotUpdatable, c.Name, ch.VMID)
		}
		if r.liveHost(ch, c.Host) == "" {
			return nil, fmt.Errorf("%w: container %s (%d) is on node %s, which is not a host of the stack", ErrNotUpdatable, c.Name, ch.VMID, ch.Node)
		}
		if !r.opts.AllowUnprotected && !r.snapshots(ch) {
			return nil, fmt.Errorf("%w: update %s: its storage cannot take snapshots; use --allow-unprotected to run it anyway", ErrUnprotected, c.Name)
		}
		out = append(out, c.Name)
	}
	return out, nil
}

// updateOne snapshots the container, runs its update steps and waits for
// its health probe.
func (r *run) updateOne(ctx context.Context, x *ct) error {
	if r.snapshots(x.ch) {
		if err := r.snapshot(ctx, x, true); err != nil {
			return err
		}
	} else {
		r.ev(x, PhaseSnapshot, "storage cannot snapshot: running unprotected (--allow-unprotected)")
	}
	if err := r.install(ctx, x, 0, true); err != nil {
		return err
	}
	return r.health(ctx, x)
}

func (r *run) skip(x *ct, why error) {
	if x == nil {
		return
	}
	x.cr.Status, x.cr.Err = StatusSkipped, why
	r.setResult(x.cr)
	r.em.emit(Event{Container: x.c.Name, Host: x.host, VMID: x.vmid, Phase: PhaseSkipped, Message: why.Error()})
}
