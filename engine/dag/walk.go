package dag

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrSkipped is the class of the errors a walk records for nodes it never
// started; match it with errors.Is and use errors.As with *[SkipError] for
// the reason and the root cause.
var ErrSkipped = errors.New("skipped")

// ErrInterrupted is the class of the errors a walk records for nodes that
// were running when another node failed and were cancelled because of it
// ([WalkOptions.CancelInFlight]); see *[InterruptedError].
var ErrInterrupted = errors.New("interrupted")

// SkipReason says why a walk did not start a node.
type SkipReason int

const (
	// SkipDependency: a node this one depends on (directly or not) failed;
	// Root names the node that failed.
	SkipDependency SkipReason = iota
	// SkipStopped: another node failed and, failing fast, the walk started
	// nothing new; Root names that node.
	SkipStopped
	// SkipCanceled: the walk's context was cancelled; Err holds ctx.Err().
	SkipCanceled
)

func (r SkipReason) String() string {
	switch r {
	case SkipDependency:
		return "dependency failed"
	case SkipStopped:
		return "stopped"
	case SkipCanceled:
		return "canceled"
	}
	return fmt.Sprintf("SkipReason(%d)", int(r))
}

// SkipError is recorded for a node a walk did not start. It is never a root
// cause: the root cause is recorded once, on the node that failed, so the
// user sees one failure and N skips rather than N+1 failures.
type SkipError[K cmp.Ordered] struct {
	Reason SkipReason
	// Root is the node whose failure caused the skip (unset for SkipCanceled).
	Root K
	// Err is the context's error for SkipCanceled, nil otherwise.
	Err error
}

func (e *SkipError[K]) Error() string {
	switch e.Reason {
	case SkipDependency:
		return fmt.Sprintf("skipped: dependency %v failed", e.Root)
	case SkipStopped:
		return fmt.Sprintf("skipped: stopped after %v failed", e.Root)
	}
	if e.Err != nil {
		return "skipped: " + e.Err.Error()
	}
	return "skipped: canceled"
}

// Is makes errors.Is(err, ErrSkipped) true.
func (e *SkipError[K]) Is(target error) bool { return target == ErrSkipped }

// Unwrap exposes the context error of a cancelled walk, so
// errors.Is(err, context.Canceled) holds for those skips.
func (e *SkipError[K]) Unwrap() error { return e.Err }

// InterruptedError wraps the error a running node returned after the walk
// cancelled it because Root failed. The node did run (its side effects may
// need undoing) but its failure is a consequence, not a root cause.
type InterruptedError[K cmp.Ordered] struct {
	Root K
	Err  error
}

func (e *InterruptedError[K]) Error() string {
	return fmt.Sprintf("interrupted after %v failed: %v", e.Root, e.Err)
}

// Is makes errors.Is(err, ErrInterrupted) true.
func (e *InterruptedError[K]) Is(target error) bool { return target == ErrInterrupted }

// Unwrap returns the node's own error.
func (e *InterruptedError[K]) Unwrap() error { return e.Err }

// WalkOptions tunes [Graph.Walk]. The zero value walks with unlimited
// concurrency and fails fast without cancelling work already running.
type WalkOptions[K cmp.Ordered] struct {
	// Limit caps how many nodes run at once across the whole walk; 0 means
	// no limit (lxcplan's --parallelism).
	Limit int
	// Group assigns each node to a group (lxcplan: its host); nil puts
	// every node in one group.
	Group func(K) string
	// GroupLimit caps how many nodes of one group run at once; 0 means no
	// limit (lxcplan's --per-host). It is a separate budget from Limit: a
	// node needs a slot in both to start.
	GroupLimit int
	// KeepGoing keeps starting nodes after a failure; only the dependents
	// of the failed node are skipped. The default (false) fails fast: after
	// the first failure no new node starts.
	KeepGoing bool
	// CancelInFlight cancels the context of nodes still running when a node
	// fails (fail-fast only). Their errors are then wrapped in
	// *[InterruptedError].
	CancelInFlight bool
	// Milestones lists the milestone names fn may signal, in the order they
	// happen (lxcplan: "started", "healthy"). Signalling one implies every
	// earlier one. A milestone not listed here implies only itself.
	Milestones []string
}

// WalkFunc is the work done for one node. signal(m) announces that k reached
// milestone m, which releases the dependents whose edge to k is labelled m
// (see [Graph.DependsOnWith]) while fn keeps running. Returning nil implies
// every milestone. signal may be called from any goroutine and is a no-op
// once fn has returned.
type WalkFunc[K cmp.Ordered] func(ctx context.Context, k K, signal func(milestone string)) error

// Walk runs fn for every node, each after all its dependencies completed
// successfully, and returns the nodes that did not succeed with their
// errors: what fn returned for the nodes that failed, a *[SkipError] for the
// nodes never started, a *[InterruptedError] for nodes cancelled because of
// another's failure. Nodes that succeeded are absent, so an empty map means
// everything succeeded; [Err] folds the map into one error.
//
// It is [Graph.WalkMilestones] for work that has no intermediate
// milestones: every edge waits for completion, whatever its label.
func (g *Graph[K]) Walk(ctx context.Context, opts WalkOptions[K], fn func(ctx context.Context, k K) error) map[K]error {
	w := g.newWalker(opts, true)
	return w.run(ctx, func(ctx context.Context, k K, _ func(string)) error { return fn(ctx, k) })
}

// WalkMilestones is [Graph.Walk] for work that passes through milestones:
// a dependent whose edge is labelled "started" may start as soon as its
// dependency signals "started", while an unlabelled edge waits for the
// dependency to return nil.
//
// Scheduling: a node becomes ready when every edge into it is satisfied,
// and only then competes for a slot, so a waiting node holds neither a slot
// nor a goroutine. Ready nodes start in order of the longest chain of
// dependents behind them (then by key), which keeps the critical path busy.
// A node that fails or is skipped skips every dependent that has not
// started yet, even one whose edge was already satisfied by a milestone.
// Cancelling ctx starts nothing new; the context passed to fn is derived
// from ctx. Walk returns only after every fn it started has returned. A
// panic in fn is recovered and recorded as that node's error. On a cyclic
// graph nothing runs and every node maps to the *[CycleError].
func (g *Graph[K]) WalkMilestones(ctx context.Context, opts WalkOptions[K], fn WalkFunc[K]) map[K]error {
	return g.newWalker(opts, false).run(ctx, fn)
}

// Err folds a walk result into one error: the root-cause failures joined in
// key order, each prefixed with its node, so errors.Is sees through to each
// cause. Skipped and interrupted nodes are left out when a root cause exists;
// when there is none (for example the context was cancelled before anything
// ran), the first of them in key order is returned. It returns nil for an
// empty result.
func Err[K cmp.Ordered](results map[K]error) error {
	keys := sortedKeys(results)
	var roots []error
	var first error
	for _, k := range keys {
		err := results[k]
		if err == nil {
			continue
		}
		wrapped := fmt.Errorf("%v: %w", k, err)
		if first == nil {
			first = wrapped
		}
		if errors.Is(err, ErrSkipped) || errors.Is(err, ErrInterrupted) {
			continue
		}
		roots = append(roots, wrapped)
	}
	if len(roots) > 0 {
		return errors.Join(roots...)
	}
	return first
}

type nodeState int

const (
	stateWaiting nodeState = iota
	stateReady
	stateRunning
	stateDone
)

// event is what a running node tells the scheduler: a milestone, or (done)
// that fn returned err.
type event[K cmp.Ordered] struct {
	k         K
	milestone string
	done      bool
	err       error
}

type walker[K cmp.Ordered] struct {
	g    *Graph[K]
	opts WalkOptions[K]
	// ignoreLabels makes every edge wait for completion (plain Walk).
	ignoreLabels bool
	rank         map[string]int // milestone -> position in opts.Milestones

	state   map[K]nodeState
	pending map[K]int        // unsatisfied edges into the node
	sat     map[K]map[K]bool // sat[n][d]: edge n->d satisfied
	fired   map[K]map[string]bool
	prio    map[K]int // longest chain of dependents
	groupOf map[K]string
	ready   []K // sorted by prio desc, key asc
	running int
	inGroup map[string]int
	results map[K]error

	// stopRoot is the first failed node once failing fast has stopped the walk.
	stopped  bool
	stopRoot K
	ctx      context.Context // the caller's, to tell its cancellation from ours
	ctxErr   error
	cancel   context.CancelFunc
	canceled bool // the walk cancelled in-flight work because of stopRoot
}

func (g *Graph[K]) newWalker(opts WalkOptions[K], ignoreLabels bool) *walker[K] {
	w := &walker[K]{
		g: g, opts: opts, ignoreLabels: ignoreLabels,
		rank:    map[string]int{},
		state:   map[K]nodeState{},
		pending: map[K]int{},
		sat:     map[K]map[K]bool{},
		fired:   map[K]map[string]bool{},
		prio:    map[K]int{},
		groupOf: map[K]string{},
		inGroup: map[string]int{},
		results: map[K]error{},
	}
	for i, m := range opts.Milestones {
		if _, dup := w.rank[m]; !dup {
			w.rank[m] = i
		}
	}
	return w
}

func (w *walker[K]) run(ctx context.Context, fn WalkFunc[K]) map[K]error {
	g := w.g
	order, err := g.TopoOrder()
	if err != nil {
		for k := range g.nodes {
			w.results[k] = err
		}
		return w.results
	}
	// Priority = longest chain of dependents, computed dependents-first.
	for i := len(order) - 1; i >= 0; i-- {
		k := order[i]
		p := 0
		for n := range g.rdeps[k] {
			p = max(p, w.prio[n]+1)
		}
		w.prio[k] = p
	}
	for _, k := range order {
		// Group is asked once per node, so a slot is always returned to
		// the group it was taken from.
		if w.opts.Group != nil {
			w.groupOf[k] = w.opts.Group(k)
		}
		w.pending[k] = len(g.deps[k])
		w.sat[k] = map[K]bool{}
		w.fired[k] = map[string]bool{}
		if w.pending[k] == 0 {
			w.makeReady(k)
		}
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.ctx, w.cancel = ctx, cancel
	events := make(chan event[K])
	done := ctx.Done()

	for {
		if w.ctxErr == nil && ctx.Err() != nil {
			// Checked before every dispatch, not only in the select, so a
			// cancelled context never loses a race against a ready node.
			w.ctxErr = ctx.Err()
		}
		if !w.stopped && w.ctxErr == nil {
			w.dispatch(wctx, fn, events)
		}
		if w.running == 0 {
			break
		}
		select {
		case ev := <-events:
			if ev.done {
				w.finish(ev.k, ev.err)
			} else {
				w.signal(ev.k, ev.milestone)
			}
		case <-done:
			done = nil // observed once; the loop keeps draining events
			w.ctxErr = ctx.Err()
		}
	}
	if w.ctxErr == nil && ctx.Err() != nil {
		w.ctxErr = ctx.Err()
	}
	// Everything never started is skipped; dependents of failures were
	// already marked when their dependency failed.
	for _, k := range order {
		if w.state[k] == stateDone {
			continue
		}
		switch {
		case w.stopped:
			w.results[k] = &SkipError[K]{Reason: SkipStopped, Root: w.stopRoot}
		default:
			w.results[k] = &SkipError[K]{Reason: SkipCanceled, Err: w.ctxErr}
		}
		w.state[k] = stateDone
	}
	return w.results
}

func (w *walker[K]) makeReady(k K) {
	w.state[k] = stateReady
	i, _ := slices.BinarySearchFunc(w.ready, k, w.cmpReady)
	w.ready = slices.Insert(w.ready, i, k)
}

func (w *walker[K]) cmpReady(a, b K) int {
	if c := cmp.Compare(w.prio[b], w.prio[a]); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// dispatch starts every ready node that fits in both budgets, in priority
// order. A node whose group is full is passed over, not waited for, so one
// busy host never stalls the others.
func (w *walker[K]) dispatch(ctx context.Context, fn WalkFunc[K], events chan<- event[K]) {
	kept := w.ready[:0]
	for i, k := range w.ready {
		if w.opts.Limit > 0 && w.running >= w.opts.Limit {
			kept = append(kept, w.ready[i:]...)
			break
		}
		grp := w.groupOf[k]
		if w.opts.GroupLimit > 0 && w.inGroup[grp] >= w.opts.GroupLimit {
			kept = append(kept, k)
			continue
		}
		w.running++
		w.inGroup[grp]++
		w.state[k] = stateRunning
		go w.runNode(ctx, fn, k, events)
	}
	w.ready = kept
}

func (w *walker[K]) runNode(ctx context.Context, fn WalkFunc[K], k K, events chan<- event[K]) {
	// finished closes the signal function: a goroutine fn left behind must
	// not send after the scheduler stopped listening. signal holds mu while
	// sending, which is safe because the scheduler keeps receiving until
	// this node's done event, and that cannot be sent before mu is free.
	var mu sync.Mutex
	finished := false
	signal := func(m string) {
		mu.Lock()
		defer mu.Unlock()
		if !finished {
			events <- event[K]{k: k, milestone: m}
		}
	}
	err := call(ctx, fn, k, signal)
	mu.Lock()
	finished = true
	mu.Unlock()
	events <- event[K]{k: k, done: true, err: err}
}

func call[K cmp.Ordered](ctx context.Context, fn WalkFunc[K], k K, signal func(string)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("walk %v: panic: %v", k, r)
		}
	}()
	return fn(ctx, k, signal)
}

// implies reports whether reaching milestone got satisfies an edge waiting
// for want.
func (w *walker[K]) implies(got, want string) bool {
	if got == want {
		return true
	}
	rg, okg := w.rank[got]
	rw, okw := w.rank[want]
	return okg && okw && rg >= rw
}

func (w *walker[K]) signal(k K, m string) {
	if w.ignoreLabels || m == "" || w.state[k] != stateRunning || w.fired[k][m] {
		return
	}
	w.fired[k][m] = true
	for n := range w.g.rdeps[k] {
		label := w.g.deps[n][k]
		if label != "" && w.implies(m, label) {
			w.satisfy(n, k)
		}
	}
}

func (w *walker[K]) satisfy(n, d K) {
	if w.sat[n][d] || w.state[n] != stateWaiting {
		return
	}
	w.sat[n][d] = true
	w.pending[n]--
	if w.pending[n] == 0 {
		w.makeReady(n)
	}
}

func (w *walker[K]) finish(k K, err error) {
	w.running--
	w.inGroup[w.groupOf[k]]--
	w.state[k] = stateDone
	if err == nil {
		for n := range w.g.rdeps[k] {
			w.satisfy(n, k)
		}
		return
	}
	if w.canceled && errors.Is(err, context.Canceled) {
		err = &InterruptedError[K]{Root: w.stopRoot, Err: err}
	}
	w.results[k] = err
	if cerr := w.ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		// The caller cancelled and k gave up because of it: its dependents
		// are skipped for the cancellation, not for a failure of k.
		w.skipDependents(k, &SkipError[K]{Reason: SkipCanceled, Err: cerr})
		return
	}
	root := k
	if ie := (*InterruptedError[K])(nil); errors.As(err, &ie) {
		root = ie.Root
	}
	w.skipDependents(k, &SkipError[K]{Reason: SkipDependency, Root: root})
	if !w.opts.KeepGoing && !w.stopped && w.ctxErr == nil {
		w.stopped = true
		w.stopRoot = root
		if w.opts.CancelInFlight {
			w.canceled = true
			w.cancel()
		}
	}
}

// skipDependents marks every not-yet-started node downstream of k as
// skipped for the reason in skip.
func (w *walker[K]) skipDependents(k K, skip *SkipError[K]) {
	stack := w.g.Dependents(k)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch w.state[n] {
		case stateRunning, stateDone:
			continue
		case stateReady:
			if i := slices.Index(w.ready, n); i >= 0 {
				w.ready = slices.Delete(w.ready, i, i+1)
			}
		}
		w.state[n] = stateDone
		e := *skip // each node gets its own value; callers may keep them
		w.results[n] = &e
		stack = append(stack, w.g.Dependents(n)...)
	}
}
