package dag

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// noLeak fails the test if goroutines started during it are still alive
// shortly after it ends. Goroutines that already sent their last event may
// need a moment to exit, hence the short grace loop.
func noLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		for range 200 {
			if runtime.NumGoroutine() <= before {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		buf := make([]byte, 1<<16)
		n := runtime.Stack(buf, true)
		t.Errorf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:n])
	})
}

// recorder is a WalkFunc that records start/finish order and the maximum
// concurrency seen globally and per group.
type recorder struct {
	mu       sync.Mutex
	order    []string
	running  int
	maxRun   int
	groups   map[string]int
	maxGroup map[string]int
	group    func(string) string
	cur      atomic.Int32
	peak     atomic.Int32
}

func newRecorder(group func(string) string) *recorder {
	return &recorder{groups: map[string]int{}, maxGroup: map[string]int{}, group: group}
}

func (r *recorder) enter(k string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.order = append(r.order, k)
	r.running++
	r.maxRun = max(r.maxRun, r.running)
	if r.group != nil {
		g := r.group(k)
		r.groups[g]++
		r.maxGroup[g] = max(r.maxGroup[g], r.groups[g])
	}
	if c := r.cur.Add(1); c > r.peak.Load() {
		r.peak.Store(c)
	}
}

func (r *recorder) leave(k string) {
	r.cur.Add(-1)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running--
	if r.group != nil {
		r.groups[r.group(k)]--
	}
}

func (r *recorder) index(k string) int { return slices.Index(r.order, k) }

// fn sleeps d, yielding so concurrency can build up, and fails on the
// nodes in fail.
func (r *recorder) fn(d time.Duration, fail ...string) func(context.Context, string) error {
	return func(ctx context.Context, k string) error {
		r.enter(k)
		defer r.leave(k)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", k, ctx.Err())
		}
		if slices.Contains(fail, k) {
			return fmt.Errorf("boom %s", k)
		}
		return nil
	}
}

// checkOrder asserts every node started after all its dependencies.
func checkOrder(t *testing.T, g *Graph[string], order []string) {
	t.Helper()
	for _, n := range order {
		for _, d := range g.Deps(n) {
			if i, j := slices.Index(order, d), slices.Index(order, n); i < 0 || i > j {
				t.Errorf("%s started before its dependency %s: %v", n, d, order)
			}
		}
	}
}

func wide(n int, prefix string) *Graph[string] {
	g := New[string]()
	for i := range n {
		g.AddNode(fmt.Sprintf("%s%02d", prefix, i))
	}
	return g
}

func TestWalkLimits(t *testing.T) {
	byHost := func(k string) string { return "h" + k[len(k)-1:] }
	tests := []struct {
		name       string
		limit      int
		groupLimit int
		group      func(string) string
	}{
		{"global 1", 1, 0, nil},
		{"global 3", 3, 0, nil},
		{"per group 2", 0, 2, byHost},
		{"global 5 and per group 1", 5, 1, byHost},
		{"group tighter than global", 10, 2, byHost},
		{"global tighter than groups", 2, 4, byHost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeak(t)
			g := wide(24, "n")
			// A few dependencies so scheduling interleaves with waiting.
			g.DependsOn("n10", "n00")
			g.DependsOn("n11", "n10")
			g.DependsOn("n20", "n11")
			r := newRecorder(tt.group)
			res := g.Walk(context.Background(), WalkOptions[string]{
				Limit: tt.limit, Group: tt.group, GroupLimit: tt.groupLimit,
			}, r.fn(2*time.Millisecond))
			if len(res) != 0 {
				t.Fatalf("results = %v", res)
			}
			if len(r.order) != 24 {
				t.Fatalf("ran %d nodes, want 24", len(r.order))
			}
			if tt.limit > 0 && (r.maxRun > tt.limit || int(r.peak.Load()) > tt.limit) {
				t.Errorf("max concurrency %d (atomic %d) > limit %d", r.maxRun, r.peak.Load(), tt.limit)
			}
			for grp, m := range r.maxGroup {
				if tt.groupLimit > 0 && m > tt.groupLimit {
					t.Errorf("group %s reached %d > %d", grp, m, tt.groupLimit)
				}
			}
			checkOrder(t, g, r.order)
		})
	}
}

// With a global limit of 1, a long chain and a wide fan must both finish:
// the chain's waiting nodes hold no slot, so the fan runs in between, and
// the order still respects every dependency.
func TestWalkWaitingHoldsNoSlot(t *testing.T) {
	noLeak(t)
	g := New[string]()
	for i := 1; i < 8; i++ {
		g.DependsOn(fmt.Sprintf("chain%d", i), fmt.Sprintf("chain%d", i-1))
	}
	for i := range 10 {
		g.DependsOn(fmt.Sprintf("fan%d", i), "chain0")
	}
	r := newRecorder(nil)
	res := g.Walk(context.Background(), WalkOptions[string]{Limit: 1}, r.fn(time.Millisecond))
	if len(res) != 0 {
		t.Fatalf("results = %v", res)
	}
	if r.maxRun != 1 || len(r.order) != 18 {
		t.Fatalf("maxRun %d, ran %d", r.maxRun, len(r.order))
	}
	checkOrder(t, g, r.order)
	// Priority follows the longest chain of dependents: the chain goes
	// first whenever it is ready, ties by key.
	want := []string{"chain0", "chain1", "chain2", "chain3", "chain4", "chain5", "chain6", "chain7",
		"fan0", "fan1", "fan2", "fan3", "fan4", "fan5", "fan6", "fan7", "fan8", "fan9"}
	if !slices.Equal(r.order, want) {
		t.Errorf("order = %v, want %v", r.order, want)
	}
}

// A node blocked by a full group must not stop nodes of other groups.
func TestWalkFullGroupDoesNotBlockOthers(t *testing.T) {
	noLeak(t)
	g := New[string]()
	g.AddNode("a1")
	g.AddNode("a2")
	g.AddNode("b1")
	release := make(chan struct{})
	var bRan atomic.Bool
	res := g.Walk(context.Background(), WalkOptions[string]{
		Group: func(k string) string { return k[:1] }, GroupLimit: 1,
	}, func(ctx context.Context, k string) error {
		switch k {
		case "a1", "a2":
			<-release
		case "b1":
			bRan.Store(true)
			close(release) // a1 holds group a; b1 still had to start
		}
		return nil
	})
	if len(res) != 0 || !bRan.Load() {
		t.Fatalf("results = %v, b ran = %v", res, bRan.Load())
	}
}

func TestWalkFailureSkipsDependents(t *testing.T) {
	noLeak(t)
	// db fails; app and web depend on it (web transitively); cache and
	// worker are independent and run because KeepGoing is set.
	g := build("app:db", "web:app", "worker:cache", "cache")
	r := newRecorder(nil)
	res := g.Walk(context.Background(), WalkOptions[string]{KeepGoing: true}, r.fn(time.Millisecond, "db"))
	if len(res) != 3 {
		t.Fatalf("results = %v, want db, app, web", res)
	}
	if res["db"] == nil || errors.Is(res["db"], ErrSkipped) {
		t.Errorf("db = %v, want its own error", res["db"])
	}
	for _, k := range []string{"app", "web"} {
		var se *SkipError[string]
		if !errors.As(res[k], &se) || se.Reason != SkipDependency || se.Root != "db" {
			t.Errorf("%s = %v, want skipped because db failed", k, res[k])
		}
		if !errors.Is(res[k], ErrSkipped) {
			t.Errorf("%s: errors.Is ErrSkipped = false", k)
		}
	}
	if got := res["web"].Error(); got != "skipped: dependency db failed" {
		t.Errorf("web error = %q", got)
	}
	if slices.Contains(r.order, "app") || slices.Contains(r.order, "web") {
		t.Errorf("a dependent of db ran: %v", r.order)
	}
	if !slices.Contains(r.order, "worker") {
		t.Errorf("independent worker did not run with KeepGoing: %v", r.order)
	}
	err := Err(res)
	if err == nil || err.Error() != "db: boom db" {
		t.Errorf("Err() = %v, want only the root cause", err)
	}
}

func TestWalkFailFast(t *testing.T) {
	noLeak(t)
	// With Limit 1 the order is deterministic: c first (it has a
	// dependent), it fails, then nothing else starts.
	g := build("a", "b", "c", "d:c")
	r := newRecorder(nil)
	res := g.Walk(context.Background(), WalkOptions[string]{Limit: 1}, r.fn(time.Millisecond, "c"))
	if !slices.Equal(r.order, []string{"c"}) {
		t.Fatalf("ran %v, want only c", r.order)
	}
	for _, k := range []string{"a", "b"} {
		var se *SkipError[string]
		if !errors.As(res[k], &se) || se.Reason != SkipStopped || se.Root != "c" {
			t.Errorf("%s = %v, want stopped after c failed", k, res[k])
		}
	}
	var se *SkipError[string]
	if !errors.As(res["d"], &se) || se.Reason != SkipDependency || se.Root != "c" {
		t.Errorf("d = %v, want skipped because c failed", res["d"])
	}
	if !strings.Contains(res["b"].Error(), "stopped after c failed") {
		t.Errorf("b error = %q", res["b"])
	}
}

func TestWalkFailFastInFlight(t *testing.T) {
	for _, cancelInFlight := range []bool{false, true} {
		t.Run(fmt.Sprintf("cancel=%v", cancelInFlight), func(t *testing.T) {
			noLeak(t)
			g := build("fail", "slow", "after:slow")
			started := make(chan struct{})
			res := g.Walk(context.Background(), WalkOptions[string]{CancelInFlight: cancelInFlight},
				func(ctx context.Context, k string) error {
					switch k {
					case "fail":
						<-started
						return errors.New("boom")
					case "slow":
						close(started)
						select {
						case <-ctx.Done():
							return fmt.Errorf("slow: %w", ctx.Err())
						case <-time.After(50 * time.Millisecond):
							return nil
						}
					}
					return nil
				})
			// after depends on slow: stopped when slow finished, skipped as
			// its dependent when slow was interrupted; either way because
			// of fail.
			var se *SkipError[string]
			if !errors.As(res["after"], &se) || se.Root != "fail" {
				t.Errorf("after = %v, want skipped because of fail", res["after"])
			}
			if !cancelInFlight {
				if res["slow"] != nil {
					t.Errorf("slow = %v, want finished", res["slow"])
				}
				return
			}
			var ie *InterruptedError[string]
			if !errors.As(res["slow"], &ie) || ie.Root != "fail" || !errors.Is(res["slow"], context.Canceled) {
				t.Errorf("slow = %v, want interrupted after fail", res["slow"])
			}
			if err := Err(res); err == nil || err.Error() != "fail: boom" {
				t.Errorf("Err() = %v, want only the root cause", err)
			}
		})
	}
}

func TestWalkCancel(t *testing.T) {
	noLeak(t)
	g := build("b:a", "c:b", "x")
	ctx, cancel := context.WithCancel(context.Background())
	res := g.Walk(ctx, WalkOptions[string]{Limit: 1}, func(ctx context.Context, k string) error {
		if k == "a" {
			cancel()
			<-ctx.Done() // fn's context is derived from the caller's
		}
		return nil
	})
	if res["a"] != nil {
		t.Errorf("a = %v, want success (it returned nil)", res["a"])
	}
	for _, k := range []string{"b", "c", "x"} {
		var se *SkipError[string]
		if !errors.As(res[k], &se) || se.Reason != SkipCanceled || !errors.Is(res[k], context.Canceled) {
			t.Errorf("%s = %v, want skipped: context canceled", k, res[k])
		}
	}
	if err := Err(res); !errors.Is(err, context.Canceled) {
		t.Errorf("Err() = %v, want context.Canceled", err)
	}

	// Cancelled while a node runs and gives up with the context's error:
	// that node keeps its error, its dependents are skipped for the
	// cancellation, not as if it had failed on its own.
	ctx2, cancel2 := context.WithCancel(context.Background())
	res = g.Walk(ctx2, WalkOptions[string]{}, func(ctx context.Context, k string) error {
		if k == "a" {
			cancel2()
			<-ctx.Done()
			return fmt.Errorf("pct start: %w", ctx.Err())
		}
		return nil
	})
	if !errors.Is(res["a"], context.Canceled) || errors.Is(res["a"], ErrSkipped) {
		t.Errorf("a = %v, want its own cancellation error", res["a"])
	}
	for _, k := range []string{"b", "c"} {
		var se *SkipError[string]
		if !errors.As(res[k], &se) || se.Reason != SkipCanceled {
			t.Errorf("%s = %v, want skipped: context canceled", k, res[k])
		}
	}

	// Already cancelled: nothing runs.
	var ran atomic.Int32
	res = g.Walk(ctx, WalkOptions[string]{}, func(context.Context, string) error { ran.Add(1); return nil })
	if ran.Load() != 0 || len(res) != 4 {
		t.Errorf("ran %d, results %v", ran.Load(), res)
	}
}

func TestWalkMilestones(t *testing.T) {
	noLeak(t)
	// app waits for db "started", web waits for db "healthy", report waits
	// for db to complete.
	g := New[string]()
	g.DependsOnWith("app", "db", "started")
	g.DependsOnWith("web", "db", "healthy")
	g.DependsOn("report", "db")
	var mu sync.Mutex
	var log []string
	note := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	appDone, webDone := make(chan struct{}), make(chan struct{})
	res := g.WalkMilestones(context.Background(), WalkOptions[string]{Milestones: []string{"started", "healthy"}},
		func(ctx context.Context, k string, signal func(string)) error {
			switch k {
			case "db":
				signal("started")
				<-appDone // app must run while db is still going
				note("db healthy")
				signal("healthy")
				<-webDone
				note("db done")
			case "app":
				note("app")
				close(appDone)
			case "web":
				note("web")
				close(webDone)
			case "report":
				note("report")
			}
			return nil
		})
	if len(res) != 0 {
		t.Fatalf("results = %v", res)
	}
	want := []string{"app", "db healthy", "web", "db done", "report"}
	if !slices.Equal(log, want) {
		t.Errorf("log = %v, want %v", log, want)
	}
}

func TestWalkMilestoneImplication(t *testing.T) {
	noLeak(t)
	g := New[string]()
	g.DependsOnWith("app", "db", "started")
	g.DependsOnWith("other", "db", "custom")
	var appRan atomic.Bool
	res := g.WalkMilestones(context.Background(), WalkOptions[string]{Milestones: []string{"started", "healthy"}},
		func(ctx context.Context, k string, signal func(string)) error {
			if k == "db" {
				signal("healthy") // implies started
				for !appRan.Load() {
					runtime.Gosched()
				}
			}
			if k == "app" {
				appRan.Store(true)
			}
			return nil
		})
	if len(res) != 0 || !appRan.Load() {
		t.Fatalf("results %v, app ran %v", res, appRan.Load())
	}
}

// A node that fails after a milestone skips the dependents that were still
// waiting, while one already released keeps its own result.
func TestWalkMilestoneThenFailure(t *testing.T) {
	noLeak(t)
	g := New[string]()
	g.DependsOnWith("app", "db", "started")
	g.DependsOnWith("web", "db", "healthy")
	appDone := make(chan struct{})
	res := g.WalkMilestones(context.Background(), WalkOptions[string]{KeepGoing: true, Milestones: []string{"started", "healthy"}},
		func(ctx context.Context, k string, signal func(string)) error {
			switch k {
			case "db":
				signal("started")
				<-appDone
				return errors.New("health check timed out")
			case "app":
				close(appDone)
			}
			return nil
		})
	if res["app"] != nil {
		t.Errorf("app = %v, want success", res["app"])
	}
	var se *SkipError[string]
	if !errors.As(res["web"], &se) || se.Root != "db" {
		t.Errorf("web = %v, want skipped because of db", res["web"])
	}
}

// Plain Walk ignores labels: every edge waits for completion.
func TestWalkIgnoresLabels(t *testing.T) {
	g := New[string]()
	g.DependsOnWith("app", "db", "started")
	var dbDone atomic.Bool
	res := g.Walk(context.Background(), WalkOptions[string]{Milestones: []string{"started"}}, func(ctx context.Context, k string) error {
		if k == "app" && !dbDone.Load() {
			return errors.New("app started before db completed")
		}
		dbDone.Store(true)
		return nil
	})
	if len(res) != 0 {
		t.Fatal(res)
	}
}

func TestWalkSignalAfterReturn(t *testing.T) {
	noLeak(t)
	g := build("b:a")
	var late func(string)
	res := g.WalkMilestones(context.Background(), WalkOptions[string]{}, func(ctx context.Context, k string, signal func(string)) error {
		if k == "a" {
			late = signal
		}
		return nil
	})
	if len(res) != 0 {
		t.Fatal(res)
	}
	late("started") // must neither block nor panic
}

func TestWalkPanic(t *testing.T) {
	noLeak(t)
	g := build("b:a")
	res := g.Walk(context.Background(), WalkOptions[string]{}, func(ctx context.Context, k string) error {
		panic("kaboom")
	})
	if res["a"] == nil || !strings.Contains(res["a"].Error(), "kaboom") {
		t.Errorf("a = %v, want the panic as an error", res["a"])
	}
	if !errors.Is(res["b"], ErrSkipped) {
		t.Errorf("b = %v, want skipped", res["b"])
	}
}

func TestWalkCycle(t *testing.T) {
	g := build("a:b", "b:a", "c")
	var ran atomic.Int32
	res := g.Walk(context.Background(), WalkOptions[string]{}, func(context.Context, string) error { ran.Add(1); return nil })
	if ran.Load() != 0 || len(res) != 3 || !errors.Is(res["c"], ErrCycle) {
		t.Errorf("ran %d, results %v", ran.Load(), res)
	}
}

func TestWalkReverseForDestroy(t *testing.T) {
	g := build("web:app", "app:db")
	r := newRecorder(nil)
	res := g.Reverse().Walk(context.Background(), WalkOptions[string]{}, r.fn(0))
	if len(res) != 0 || !reflect.DeepEqual(r.order, []string{"web", "app", "db"}) {
		t.Errorf("destroy order = %v (results %v)", r.order, res)
	}
}

func TestErrJoin(t *testing.T) {
	sentinel := errors.New("sentinel")
	res := map[string]error{
		"b": fmt.Errorf("wrap: %w", sentinel),
		"a": errors.New("first"),
		"c": &SkipError[string]{Reason: SkipDependency, Root: "a"},
	}
	err := Err(res)
	if got, want := err.Error(), "a: first\nb: wrap: sentinel"; got != want {
		t.Errorf("Err() = %q, want %q", got, want)
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("errors.Is lost through Err")
	}
	if Err(map[string]error{}) != nil {
		t.Errorf("Err(empty) != nil")
	}
}

// Timing-dependent behaviour is repeated, as terraform does for its walker.
func TestWalkRepeated(t *testing.T) {
	noLeak(t)
	g := New[int]()
	for i := 1; i < 40; i++ {
		g.DependsOn(i, i/3)
		if i%5 == 0 {
			g.DependsOnWith(i, i-1, "started")
		}
	}
	for range 30 {
		var mu sync.Mutex
		done := map[int]bool{}
		var cur, peak atomic.Int32
		res := g.WalkMilestones(context.Background(), WalkOptions[int]{Limit: 4, Group: func(k int) string { return fmt.Sprint(k % 3) }, GroupLimit: 2},
			func(ctx context.Context, k int, signal func(string)) error {
				c := cur.Add(1)
				defer cur.Add(-1)
				for {
					p := peak.Load()
					if c <= p || peak.CompareAndSwap(p, c) {
						break
					}
				}
				mu.Lock()
				for _, d := range g.Deps(k) {
					if l, _ := g.Label(k, d); l == "" && !done[d] {
						t.Errorf("%d ran before %d completed", k, d)
					}
				}
				mu.Unlock()
				signal("started")
				runtime.Gosched()
				mu.Lock()
				done[k] = true
				mu.Unlock()
				return nil
			})
		if len(res) != 0 || len(done) != 40 || peak.Load() > 4 {
			t.Fatalf("results %v, done %d, peak %d", res, len(done), peak.Load())
		}
	}
}
