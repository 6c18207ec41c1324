package dag

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchStack is a fixed 30-node graph in three levels of ten (depth 3) over
// three hosts, each node with a simulated duration of 10–50 ms: the shape of
// a mid-sized lxcplan stack.
func benchStack() (*Graph[string], map[string]time.Duration, func(string) string) {
	rng := rand.New(rand.NewPCG(1, 2)) // fixed seed: the same graph every run
	g := New[string]()
	dur := map[string]time.Duration{}
	host := map[string]string{}
	name := func(level, i int) string { return fmt.Sprintf("l%d-%02d", level, i) }
	for level := range 3 {
		for i := range 10 {
			n := name(level, i)
			g.AddNode(n)
			dur[n] = time.Duration(10+rng.IntN(41)) * time.Millisecond
			host[n] = fmt.Sprintf("pve%d", rng.IntN(3))
			if level == 0 {
				continue
			}
			for range 1 + rng.IntN(3) {
				g.DependsOn(n, name(level-1, rng.IntN(10)))
			}
		}
	}
	return g, dur, func(k string) string { return host[k] }
}

// criticalPath is the longest duration-weighted dependency chain: no
// schedule can beat it.
func criticalPath(g *Graph[string], dur map[string]time.Duration) time.Duration {
	order, _ := g.TopoOrder()
	finish := map[string]time.Duration{}
	var longest time.Duration
	for _, k := range order {
		var start time.Duration
		for _, d := range g.Deps(k) {
			start = max(start, finish[d])
		}
		finish[k] = start + dur[k]
		longest = max(longest, finish[k])
	}
	return longest
}

// BenchmarkWalk reports how close the walk gets to the ideal schedule:
// makespan/critical-path (1.0 is ideal when the limits do not bind),
// makespan/lower-bound (the larger of the critical path and the work each
// budget must serialise) and makespan/sequential (the speed-up over running
// one node at a time). "unlimited" measures the scheduler's own overhead;
// "defaults" uses lxcplan's defaults (10 global, 4 per host), which bind on
// this graph.
func BenchmarkWalk(b *testing.B) {
	g, dur, group := benchStack()
	cp := criticalPath(g, dur)
	fn := func(ctx context.Context, k string) error {
		time.Sleep(dur[k])
		return nil
	}
	for _, bc := range []struct {
		name              string
		limit, groupLimit int
	}{
		{"unlimited", 0, 0},
		{"defaults", 10, 4},
		{"tight", 4, 2},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var seq time.Duration
			perGroup := map[string]time.Duration{}
			for k, d := range dur {
				seq += d
				perGroup[group(k)] += d
			}
			lower := cp
			if bc.limit > 0 {
				lower = max(lower, seq/time.Duration(bc.limit))
			}
			for _, s := range perGroup {
				if bc.groupLimit > 0 {
					lower = max(lower, s/time.Duration(bc.groupLimit))
				}
			}
			opts := WalkOptions[string]{Limit: bc.limit, Group: group, GroupLimit: bc.groupLimit}
			var total time.Duration
			for b.Loop() {
				start := time.Now()
				if res := g.Walk(context.Background(), opts, fn); len(res) != 0 {
					b.Fatal(res)
				}
				total += time.Since(start)
			}
			makespan := float64(total) / float64(b.N)
			b.ReportMetric(makespan/float64(cp), "makespan/critical-path")
			b.ReportMetric(makespan/float64(lower), "makespan/lower-bound")
			b.ReportMetric(makespan/float64(seq), "makespan/sequential")
		})
	}
}

// BenchmarkWalkOverhead measures the scheduler itself: 1000 nodes of no work.
func BenchmarkWalkOverhead(b *testing.B) {
	g := New[int]()
	for i := 1; i < 1000; i++ {
		g.DependsOn(i, i/4)
	}
	opts := WalkOptions[int]{Limit: 10, Group: func(k int) string { return fmt.Sprint(k % 5) }, GroupLimit: 4}
	for b.Loop() {
		g.Walk(context.Background(), opts, func(context.Context, int) error { return nil })
	}
}
