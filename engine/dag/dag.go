// Package dag is a small generic dependency graph: nodes, "node depends on
// dep" edges, cycle detection that names every cycle, a stable topological
// order, and a bounded concurrent walk (see [Graph.Walk]).
//
// Edge direction is always spelled out: DependsOn(app, db) means app needs
// db first, so db comes earlier in [Graph.TopoOrder] and runs first in a
// walk. Every result that lists nodes is sorted by key, so output built from
// it (plans, error messages, golden files) is deterministic.
//
// The package imports nothing from the project: keys are plain ordered
// values (container names in lxcplan).
package dag

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrCycle is the class of every error reporting a dependency cycle; match it
// with errors.Is, and use errors.As with *[CycleError] for the cycles.
var ErrCycle = errors.New("dependency cycle")

// ErrUnknownNode is returned when a caller names a node the graph lacks
// (for example a --target that is not a container of the stack).
var ErrUnknownNode = errors.New("unknown node")

// Graph is a directed graph whose edges mean "depends on". The zero value is
// not usable; create one with [New]. A Graph is not safe for concurrent
// mutation, but any number of goroutines may read it (including Walk) once it
// is built.
type Graph[K cmp.Ordered] struct {
	nodes map[K]struct{}
	// deps[n][d] is the label of the edge "n depends on d".
	deps map[K]map[K]string
	// rdeps[d][n] mirrors deps so Dependents is as cheap as Deps.
	rdeps map[K]map[K]struct{}
}

// New returns an empty graph.
func New[K cmp.Ordered]() *Graph[K] {
	return &Graph[K]{
		nodes: map[K]struct{}{},
		deps:  map[K]map[K]string{},
		rdeps: map[K]map[K]struct{}{},
	}
}

// AddNode adds k; adding an existing node is a no-op.
func (g *Graph[K]) AddNode(k K) {
	g.nodes[k] = struct{}{}
}

// HasNode reports whether k is in the graph.
func (g *Graph[K]) HasNode(k K) bool {
	_, ok := g.nodes[k]
	return ok
}

// Len returns the number of nodes.
func (g *Graph[K]) Len() int { return len(g.nodes) }

// DependsOn records that node needs dep first, adding both nodes if needed.
// Repeating an edge keeps a single edge (and its existing label).
func (g *Graph[K]) DependsOn(node, dep K) {
	if l, ok := g.deps[node][dep]; ok {
		g.DependsOnWith(node, dep, l)
		return
	}
	g.DependsOnWith(node, dep, "")
}

// DependsOnWith records that node needs dep first and labels the edge. In a
// walk the label names the milestone of dep that node waits for (see
// [Graph.WalkMilestones]); the empty label means dep must complete. Calling
// it again for the same pair replaces the label.
func (g *Graph[K]) DependsOnWith(node, dep K, label string) {
	g.AddNode(node)
	g.AddNode(dep)
	if g.deps[node] == nil {
		g.deps[node] = map[K]string{}
	}
	g.deps[node][dep] = label
	if g.rdeps[dep] == nil {
		g.rdeps[dep] = map[K]struct{}{}
	}
	g.rdeps[dep][node] = struct{}{}
}

// Label returns the label of the edge "node depends on dep" and whether that
// edge exists.
func (g *Graph[K]) Label(node, dep K) (string, bool) {
	l, ok := g.deps[node][dep]
	return l, ok
}

// Edge is one "From depends on To" edge and its label.
type Edge[K cmp.Ordered] struct {
	From, To K
	Label    string
}

// Edges returns every edge, sorted by From then To (what a renderer such
// as `lxcplan graph` needs).
func (g *Graph[K]) Edges() []Edge[K] {
	var out []Edge[K]
	for _, n := range sortedKeys(g.deps) {
		for _, d := range sortedKeys(g.deps[n]) {
			out = append(out, Edge[K]{From: n, To: d, Label: g.deps[n][d]})
		}
	}
	return out
}

// Nodes returns every node, sorted.
func (g *Graph[K]) Nodes() []K {
	return sortedKeys(g.nodes)
}

// Deps returns the nodes k depends on directly, sorted.
func (g *Graph[K]) Deps(k K) []K {
	return sortedKeys(g.deps[k])
}

// Dependents returns the nodes that depend on k directly, sorted.
func (g *Graph[K]) Dependents(k K) []K {
	return sortedKeys(g.rdeps[k])
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// CycleError reports dependency cycles. Each cycle lists its nodes in edge
// order (each depends on the next, the last on the first), rotated to start
// at its smallest key; the cycles are sorted.
type CycleError[K cmp.Ordered] struct {
	Cycles [][]K
}

// Paths renders each cycle as "a -> b -> a", one string per cycle, so a
// caller can turn every cycle into its own diagnostic.
func (e *CycleError[K]) Paths() []string {
	out := make([]string, len(e.Cycles))
	for i, c := range e.Cycles {
		var b strings.Builder
		for _, k := range c {
			fmt.Fprintf(&b, "%v -> ", k)
		}
		if len(c) > 0 {
			fmt.Fprintf(&b, "%v", c[0])
		}
		out[i] = b.String()
	}
	return out
}

// Error reads "dependency cycle: db -> app -> db"; several cycles are joined
// with "; ", each with its own prefix.
func (e *CycleError[K]) Error() string {
	paths := e.Paths()
	for i, p := range paths {
		paths[i] = "dependency cycle: " + p
	}
	if len(paths) == 0 {
		return "dependency cycle"
	}
	return strings.Join(paths, "; ")
}

// Is makes errors.Is(err, ErrCycle) true.
func (e *CycleError[K]) Is(target error) bool { return target == ErrCycle }

// maxCycles bounds cycle enumeration: a dense strongly connected component
// has exponentially many elementary cycles, and a user needs a handful to
// fix the file, not all of them. Every cycle-bearing component is still
// reported at least once (see Cycles).
const maxCycles = 100

// Cycles returns the elementary cycles of the graph (a self-loop is a cycle
// of one node), each once, rotated to start at its smallest key, sorted. It
// is Johnson's algorithm over the nodes in key order. When there are more
// than a hundred cycles the list is truncated, but it still contains at
// least one cycle through every strongly connected component that has one.
func (g *Graph[K]) Cycles() [][]K {
	var cycles [][]K
	nodes := g.Nodes()
	sccs := g.components(nodes)
	for _, scc := range sccs {
		cycles = append(cycles, g.componentCycles(scc, maxCycles-len(cycles))...)
	}
	slices.SortFunc(cycles, slices.Compare)
	return cycles
}

// components returns the strongly connected components that contain a cycle
// (more than one node, or one node with a self-loop), each sorted. It is
// Tarjan's algorithm, written iteratively so a long dependency chain cannot
// exhaust the goroutine stack.
func (g *Graph[K]) components(nodes []K) [][]K {
	index := map[K]int{}
	low := map[K]int{}
	onStack := map[K]bool{}
	var stack []K
	var out [][]K
	next := 0

	type frame struct {
		k    K
		deps []K
		i    int
	}
	for _, root := range nodes {
		if _, seen := index[root]; seen {
			continue
		}
		call := []frame{{k: root, deps: g.Deps(root)}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.i < len(f.deps) {
				d := f.deps[f.i]
				f.i++
				if _, seen := index[d]; !seen {
					index[d], low[d] = next, next
					next++
					stack = append(stack, d)
					onStack[d] = true
					call = append(call, frame{k: d, deps: g.Deps(d)})
				} else if onStack[d] {
					low[f.k] = min(low[f.k], index[d])
				}
				continue
			}
			k := f.k
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].k
				low[p] = min(low[p], low[k])
			}
			if low[k] != index[k] {
				continue
			}
			var scc []K
			for {
				top := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[top] = false
				scc = append(scc, top)
				if top == k {
					break
				}
			}
			if len(scc) > 1 {
				slices.Sort(scc)
				out = append(out, scc)
			} else if _, self := g.deps[k][k]; self {
				out = append(out, scc)
			}
		}
	}
	return out
}

// componentCycles enumerates up to limit elementary cycles inside one
// strongly connected component (Johnson's algorithm restricted to it). It
// always returns at least one cycle, even when limit is exhausted, so no
// component goes unreported.
func (g *Graph[K]) componentCycles(scc []K, limit int) [][]K {
	limit = max(limit, 1)
	var out [][]K
	// Johnson: for each start s (ascending), find the cycles through s
	// whose other nodes are all greater than s. That yields each cycle
	// exactly once, already rotated to its smallest key.
	for si, s := range scc {
		allowed := map[K]bool{}
		for _, k := range scc[si:] {
			allowed[k] = true
		}
		blocked := map[K]bool{}
		blockMap := map[K]map[K]bool{}
		var path []K

		var unblock func(k K)
		unblock = func(k K) {
			blocked[k] = false
			for w := range blockMap[k] {
				delete(blockMap[k], w)
				if blocked[w] {
					unblock(w)
				}
			}
		}
		var circuit func(v K) bool
		circuit = func(v K) bool {
			found := false
			path = append(path, v)
			blocked[v] = true
			for _, w := range g.Deps(v) {
				if len(out) >= limit {
					break
				}
				if !allowed[w] {
					continue
				}
				if w == s {
					out = append(out, slices.Clone(path))
					found = true
				} else if !blocked[w] && circuit(w) {
					found = true
				}
			}
			if found || len(out) >= limit {
				unblock(v)
			} else {
				for _, w := range g.Deps(v) {
					if !allowed[w] {
						continue
					}
					if blockMap[w] == nil {
						blockMap[w] = map[K]bool{}
					}
					blockMap[w][v] = true
				}
			}
			path = path[:len(path)-1]
			return found
		}
		circuit(s)
		if len(out) >= limit {
			break
		}
	}
	return out
}

// Validate returns nil for an acyclic graph and a *[CycleError] naming every
// cycle otherwise.
func (g *Graph[K]) Validate() error {
	if c := g.Cycles(); len(c) > 0 {
		return &CycleError[K]{Cycles: c}
	}
	return nil
}

// keyHeap is a min-heap of keys, so Kahn's algorithm picks the smallest
// ready key and the order depends only on the graph, never on map order.
type keyHeap[K cmp.Ordered] []K

func (h keyHeap[K]) Len() int           { return len(h) }
func (h keyHeap[K]) Less(i, j int) bool { return h[i] < h[j] }
func (h keyHeap[K]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *keyHeap[K]) Push(x any)        { *h = append(*h, x.(K)) }
func (h *keyHeap[K]) Pop() any {
	old := *h
	k := old[len(old)-1]
	*h = old[:len(old)-1]
	return k
}

// TopoOrder returns every node with each node after everything it depends
// on; among nodes that are ready at the same time the smallest key comes
// first. On a cyclic graph it returns a *[CycleError].
func (g *Graph[K]) TopoOrder() ([]K, error) {
	pending := make(map[K]int, len(g.nodes))
	h := &keyHeap[K]{}
	for k := range g.nodes {
		pending[k] = len(g.deps[k])
		if pending[k] == 0 {
			*h = append(*h, k)
		}
	}
	heap.Init(h)
	out := make([]K, 0, len(g.nodes))
	for h.Len() > 0 {
		k := heap.Pop(h).(K)
		out = append(out, k)
		for n := range g.rdeps[k] {
			pending[n]--
			if pending[n] == 0 {
				heap.Push(h, n)
			}
		}
	}
	if len(out) < len(g.nodes) {
		// Kahn's algorithm stalls exactly when a cycle remains; only then
		// pay for enumerating the cycles.
		return nil, &CycleError[K]{Cycles: g.Cycles()}
	}
	return out, nil
}

// Levels groups the nodes by depth: level 0 holds the nodes with no
// dependencies, level i the nodes whose deepest dependency is on level i-1.
// Each level is sorted. On a cyclic graph it returns a *[CycleError].
func (g *Graph[K]) Levels() ([][]K, error) {
	order, err := g.TopoOrder()
	if err != nil {
		return nil, err
	}
	level := make(map[K]int, len(order))
	var out [][]K
	for _, k := range order {
		l := 0
		for d := range g.deps[k] {
			l = max(l, level[d]+1)
		}
		level[k] = l
		for len(out) <= l {
			out = append(out, nil)
		}
		out[l] = append(out[l], k)
	}
	for _, lv := range out {
		slices.Sort(lv)
	}
	return out, nil
}

// Reverse returns a new graph with every edge flipped (labels kept): if app
// depends on db here, db depends on app in the result. Walking the reverse
// graph visits dependents first, which is the destroy order.
func (g *Graph[K]) Reverse() *Graph[K] {
	r := New[K]()
	for k := range g.nodes {
		r.AddNode(k)
	}
	for n, ds := range g.deps {
		for d, l := range ds {
			r.DependsOnWith(d, n, l)
		}
	}
	return r
}

// Subgraph returns a new graph holding the targets and everything they
// depend on, directly or not, with the edges among them (the meaning of
// --target). Naming a node the graph lacks is an error wrapping
// [ErrUnknownNode]; every unknown name is listed.
func (g *Graph[K]) Subgraph(targets ...K) (*Graph[K], error) {
	var unknown []string
	for _, t := range targets {
		if !g.HasNode(t) {
			unknown = append(unknown, fmt.Sprint(t))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		unknown = slices.Compact(unknown)
		return nil, fmt.Errorf("%w: %s", ErrUnknownNode, strings.Join(unknown, ", "))
	}
	s := New[K]()
	seen := map[K]bool{}
	queue := slices.Clone(targets)
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		if seen[k] {
			continue
		}
		seen[k] = true
		s.AddNode(k)
		for d, l := range g.deps[k] {
			s.DependsOnWith(k, d, l)
			queue = append(queue, d)
		}
	}
	return s, nil
}
