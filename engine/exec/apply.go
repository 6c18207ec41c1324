package exec

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/lxcplan/lxcplan/engine/dag"
	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/journal"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/provision"
	"github.com/lxcplan/lxcplan/engine/secrets"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// run is the state of one Apply.
type run struct {
	in    Inputs
	opts  Options
	hosts map[string]transport.Runner
	em    *emitter
	j     *journal.Journal // nil in a dry run
	store *secrets.Store
	// stored are the generated secrets that existed before the run.
	stored map[string]map[string]string

	mu        sync.Mutex
	markers   map[string]*plan.Marker // by container: what the next plan sees
	deps      map[string]provision.Dep
	results   map[string]*ContainerResult
	mutations int
	cleanups  []cleanup

	alloc    sync.Mutex
	reserved map[int]bool
	nextTry  int

	tmu   sync.Mutex
	tmpls map[string]*onceErr

	// snapPrefix names the run's snapshots ("lxcplan-" when empty;
	// `lxcplan update` uses "lxcplan-update-").
	snapPrefix string

	// readOnly: nothing may change (a run without changes); values never
	// generate a secret then.
	readOnly bool
}

// outputsOnly computes what unchanged containers expose, for the summary,
// in dependency order (outputs may use a dependency's outputs).
func (r *run) outputsOnly(ctx context.Context) {
	g := dag.New[string]()
	for _, c := range r.in.Desired.Containers {
		g.AddNode(c.Name)
		for _, dep := range c.DependsOn {
			g.DependsOn(c.Name, dep.Name)
		}
	}
	order, err := g.TopoOrder()
	if err != nil {
		return
	}
	for _, name := range order {
		c := r.in.Desired.Container(name)
		var ch *plan.Change
		for _, x := range r.in.Plan.Changes {
			if x.Container == name {
				ch = x
			}
		}
		if c == nil || ch == nil {
			continue
		}
		cr := &ContainerResult{Name: name, Host: c.Host, VMID: ch.VMID, Action: ch.Action, Status: StatusUnchanged}
		r.setResult(cr)
		_ = r.unchanged(ctx, &ct{ch: ch, c: c, cr: cr, host: c.Host, vmid: ch.VMID})
	}
}

type onceErr struct {
	done chan struct{}
	err  error
}

// Apply executes the plan on the hosts (stack host key → runner). The
// caller holds the stack lock (see RunApply). The error wraps ErrFailed or
// ErrRollbackIncomplete when the run failed; the Result is never nil.
func Apply(ctx context.Context, in Inputs, hosts map[string]transport.Runner, opts Options) (*Result, error) {
	opts.defaults()
	res := &Result{RunID: opts.RunID}
	if err := check(in, opts); err != nil {
		return res, err
	}
	r := &run{in: in, opts: opts, hosts: hosts,
		em:      &emitter{obs: opts.Observer, now: opts.Now, reg: opts.Secrets},
		markers: map[string]*plan.Marker{}, deps: map[string]provision.Dep{},
		results: map[string]*ContainerResult{}, reserved: map[int]bool{}, tmpls: map[string]*onceErr{},
	}
	if err := r.preflight(); err != nil {
		return res, err
	}
	r.seedMarkers()
	if !in.Plan.HasChanges() {
		// Nothing to do and no journal: only the outputs for the summary,
		// from one read of the stored secrets.
		r.readOnly = true
		if err := r.loadSecrets(ctx); err == nil {
			// A stack applied before keys existed gets one now; a failure
			// only means the next plan warns again.
			_ = r.ensureKey(ctx)
			r.outputsOnly(ctx)
		}
		r.collect(res)
		return res, nil
	}
	if !opts.DryRun {
		dir := opts.JournalDir
		if dir == "" {
			d, err := journal.DefaultDir()
			if err != nil {
				return res, fmt.Errorf("journal: %w", err)
			}
			dir = d
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
	}
	if err := r.loadSecrets(ctx); err != nil {
		return res, err
	}
	err := r.ensureKey(ctx)
	if err == nil {
		err = r.walk(ctx)
	}
	if err == nil {
		err = r.destroys(ctx)
	}
	if ctx.Err() != nil {
		// The failures the walk saw are consequences of the interrupt
		// (or of a lost lock): name the cause.
		err = fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	res.Mutations = r.mutations
	if err == nil {
		r.collect(res)
		return res, nil
	}
	err = opts.Secrets.Error(err)
	if opts.OnFailure == Keep || r.j == nil {
		r.collect(res)
		return res, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	rep, rerr := r.rollback(ctx)
	r.collect(res)
	if rep != nil {
		res.Left = rep.Left
	}
	if rerr != nil || (rep != nil && !rep.Complete()) {
		if rerr == nil {
			rerr = journal.ErrIncomplete
		}
		return res, fmt.Errorf("%w: %w (%w); journal %s", ErrRollbackIncomplete, err, opts.Secrets.Error(rerr), res.JournalPath)
	}
	res.RolledBack = true
	for _, c := range res.Containers {
		if c.Status == StatusOK || c.Status == StatusInterrupted {
			c.Status = StatusRolledBack
		}
	}
	return res, fmt.Errorf("%w: %w", ErrFailed, err)
}

// ResumeRollback finishes the rollback of an interrupted run from its
// journal (`lxcplan apply --resume-rollback JOURNAL`).
func ResumeRollback(ctx context.Context, path string, hosts map[string]transport.Runner, obs func(journal.Event)) (*journal.Report, error) {
	j, err := journal.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	defer j.Close()
	rep, err := journal.Rollback(context.WithoutCancel(ctx), j.Log(), hosts, obs)
	if err != nil {
		return rep, fmt.Errorf("%w: %w", ErrRollbackIncomplete, err)
	}
	return rep, nil
}

// preflight refuses what must not start at all: reprovisions without a
// snapshot, destroys of protected containers, unknown hosts.
func (r *run) preflight() error {
	for _, ch := range r.in.Plan.Changes {
		if ch.Action == plan.ActionNoOp {
			continue
		}
		host := ch.Host
		if c := r.in.Desired.Container(ch.Container); c != nil && ch.Action != plan.ActionDestroy {
			host = c.Host
		}
		if _, ok := r.hosts[host]; !ok {
			return fmt.Errorf("container %s: no connection to host %q", ch.Container, host)
		}
		if ch.Host != "" {
			if _, ok := r.hosts[ch.Host]; !ok {
				return fmt.Errorf("container %s: no connection to host %q", ch.Container, ch.Host)
			}
		}
		switch ch.Action {
		case plan.ActionReprovision, plan.ActionUpgrade:
			if !r.opts.AllowUnprotected && !r.snapshots(ch) {
				return fmt.Errorf("%w: %s %s: its storage cannot take snapshots; use --allow-unprotected to run it anyway", ErrUnprotected, ch.Action, ch.Container)
			}
		case plan.ActionDestroy:
			if ct := r.observed(ch); ct != nil && ct.Config != nil && boolOpt(ct.Config.Options["protection"]) {
				return fmt.Errorf("%w: refusing to destroy %s (%d); clear protection by hand first", ErrProtected, ch.Container, ch.VMID)
			}
		}
	}
	return nil
}

// snapshots reports whether the container's rootfs storage can snapshot.
func (r *run) snapshots(ch *plan.Change) bool {
	ct := r.observed(ch)
	if ct == nil || ct.Config == nil {
		return false
	}
	st := storageOf(ct.Config.Options["rootfs"])
	h := r.in.State.Host(ch.Host)
	if h == nil {
		return false
	}
	for _, s := range h.Storages {
		if s.Name == st {
			return s.Snapshots
		}
	}
	return false
}

// observed returns the container a change was planned against.
func (r *run) observed(ch *plan.Change) *inventory.Container {
	if ch.VMID == 0 {
		return nil
	}
	for _, cl := range r.in.State.Clusters {
		if ct := cl.Container(ch.VMID); ct != nil && (ch.Node == "" || ct.Node == ch.Node) {
			return ct
		}
	}
	return nil
}

// seedMarkers records the markers of the stack's existing containers, and
// what unchanged containers expose to their dependents.
func (r *run) seedMarkers() {
	for _, ch := range r.in.Plan.Changes {
		ct := r.observed(ch)
		if ct == nil {
			continue
		}
		if m, ok := plan.Owns(ct.Tags, ct.Description(), r.in.Plan.Stack); ok {
			r.markers[ch.Container] = m
		}
	}
}

func (r *run) loadSecrets(ctx context.Context) error {
	r.store = &secrets.Store{Runner: r.anyRunner(), Stack: r.in.Plan.Stack, Redactor: r.opts.Secrets, Dir: r.opts.SecretsDir}
	all, err := r.store.Load(ctx)
	if err != nil && !r.opts.DryRun {
		return fmt.Errorf("read secrets of stack %s: %w", r.in.Plan.Stack, err)
	}
	r.stored = all
	return nil
}

// anyRunner is the runner of the first host (sorted): /etc/pve is the same
// on every node of a cluster.
func (r *run) anyRunner() transport.Runner {
	for _, k := range r.in.State.HostKeys() {
		if rr, ok := r.hosts[k]; ok {
			return rr
		}
	}
	for _, rr := range r.hosts {
		return rr
	}
	return nil
}

// walk runs every non-destroy change in dependency order.
func (r *run) walk(ctx context.Context) error {
	g := dag.New[string]()
	changes := map[string]*plan.Change{}
	for _, ch := range r.in.Plan.Changes {
		if ch.Action == plan.ActionDestroy {
			continue
		}
		changes[ch.Container] = ch
		g.AddNode(ch.Container)
	}
	for name := range changes {
		c := r.in.Desired.Container(name)
		if c == nil {
			continue
		}
		for _, d := range c.DependsOn {
			if _, ok := changes[d.Name]; !ok {
				continue
			}
			label := string(d.Condition)
			if label == "" {
				label = string(model.CondStarted)
			}
			g.DependsOnWith(name, d.Name, label)
		}
	}
	for _, name := range g.Nodes() {
		ch := changes[name]
		if ch.Action == plan.ActionNoOp {
			continue
		}
		r.em.emit(Event{Container: name, Host: r.hostOf(ch), VMID: ch.VMID, Phase: PhaseQueued, Message: string(ch.Action)})
	}
	wo := dag.WalkOptions[string]{
		Limit: r.opts.Parallelism, GroupLimit: r.opts.PerHost, CancelInFlight: true,
		Group:      func(n string) string { return r.hostOf(changes[n]) },
		Milestones: []string{string(model.CondStarted), string(model.CondHealthy)},
	}
	errs := g.WalkMilestones(ctx, wo, func(ctx context.Context, name string, signal func(string)) error {
		ch := changes[name]
		start := r.opts.Now()
		cr := &ContainerResult{Name: name, Host: r.hostOf(ch), VMID: ch.VMID, Action: ch.Action, Status: StatusOK}
		r.setResult(cr)
		err := r.change(ctx, ch, cr, signal)
		cr.Duration = r.opts.Now().Sub(start)
		if err != nil {
			cr.Status, cr.Err = StatusFailed, r.opts.Secrets.Error(err)
			r.em.emit(Event{Container: name, Host: cr.Host, VMID: cr.VMID, Phase: PhaseFailed, Err: cr.Err})
			return err
		}
		if ch.Action == plan.ActionNoOp {
			cr.Status = StatusUnchanged
		}
		return nil
	})
	for name, err := range errs {
		var se *dag.SkipError[string]
		if errors.Is(err, dag.ErrInterrupted) {
			r.mu.Lock()
			if cr := r.results[name]; cr != nil {
				cr.Status = StatusInterrupted
			}
			r.mu.Unlock()
			continue
		}
		if errors.As(err, &se) {
			ch := changes[name]
			cr := &ContainerResult{Name: name, Host: r.hostOf(ch), VMID: ch.VMID, Action: ch.Action, Status: StatusSkipped, Err: err}
			r.setResult(cr)
			r.em.emit(Event{Container: name, Host: cr.Host, VMID: ch.VMID, Phase: PhaseSkipped, Message: err.Error()})
		}
	}
	return dag.Err(errs)
}

func (r *run) hostOf(ch *plan.Change) string {
	if c := r.in.Desired.Container(ch.Container); c != nil && ch.Action != plan.ActionDestroy {
		return c.Host
	}
	return ch.Host
}

func (r *run) setResult(cr *ContainerResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results[cr.Name] = cr
}

func (r *run) collect(res *Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ch := range r.in.Plan.Changes {
		if _, ok := r.results[ch.Container]; !ok && ch.Action == plan.ActionNoOp {
			r.results[ch.Container] = &ContainerResult{Name: ch.Container, Host: r.hostOf(ch), VMID: ch.VMID, Action: ch.Action, Status: StatusUnchanged}
		}
	}
	res.Containers = res.Containers[:0]
	for _, cr := range r.results {
		if d, ok := r.deps[cr.Name]; ok {
			if cr.IP == "" {
				cr.IP = d.IP
			}
			if cr.Outputs == nil {
				cr.Outputs = d.Outputs
			}
		}
		if cr.IP == "" {
			if m := r.markers[cr.Name]; m != nil {
				cr.IP = m.Addresses["eth0"]
			}
			if c := r.in.Desired.Container(cr.Name); c != nil && cr.IP == "" {
				cr.IP = bareAddr(c.Network.IP)
			}
		}
		res.Containers = append(res.Containers, cr)
	}
	sortResults(res.Containers)
	res.Mutations = r.mutations
}

// rollback replays the journal under its own context: the first Ctrl-C is
// what started it.
func (r *run) rollback(ctx context.Context) (*journal.Report, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.RollbackTimeout)
	defer cancel()
	r.em.emit(Event{Phase: PhaseRollingBack, Message: "rolling back " + r.j.Path()})
	return journal.RollbackWith(rctx, r.j.Log(), r.hosts, journal.RollbackOptions{
		Sleep: r.opts.Sleep,
		Observer: func(ev journal.Event) {
			e := Event{Phase: PhaseRollingBack}
			if ev.Entry != nil {
				e.Container, e.Host, e.Message = ev.Entry.Container, ev.Entry.Host, ev.Entry.Description
			}
			switch ev.Kind {
			case journal.EventUndone:
				e.Phase = PhaseRolledBack
			case journal.EventUndoFailed, journal.EventManual:
				e.Phase, e.Err = PhaseUndoFailed, ev.Err
			}
			r.em.emit(e)
		},
	})
}

// step journals s, runs do, and records the outcome. A nil journal (dry
// run) only runs do.
func (r *run) step(s journal.Step, do func() error) error {
	r.mu.Lock()
	r.mutations++
	r.mu.Unlock()
	if r.j == nil {
		return do()
	}
	id, err := r.j.Begin(s)
	if err != nil {
		return fmt.Errorf("journal %s: %w", s.ID, err)
	}
	if err := do(); err != nil {
		_ = r.j.Failed(id, err)
		return err
	}
	return r.j.Done(id)
}
