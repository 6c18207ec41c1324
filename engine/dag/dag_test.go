package dag

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// build makes a graph from "node:dep" pairs; a bare name adds a node.
func build(specs ...string) *Graph[string] {
	g := New[string]()
	for _, s := range specs {
		n, d, ok := strings.Cut(s, ":")
		if !ok {
			g.AddNode(n)
			continue
		}
		g.DependsOn(n, d)
	}
	return g
}

func TestCycles(t *testing.T) {
	tests := []struct {
		name  string
		edges []string
		want  [][]string
	}{
		{"acyclic", []string{"app:db", "web:app", "web:db"}, nil},
		{"empty", nil, nil},
		{"self-loop", []string{"a:a", "b:a"}, [][]string{{"a"}}},
		{"2-cycle", []string{"db:app", "app:db"}, [][]string{{"app", "db"}}},
		{"3-cycle rotated to smallest", []string{"c:a", "a:b", "b:c"}, [][]string{{"a", "b", "c"}}},
		{"3-cycle other direction", []string{"a:c", "c:b", "b:a"}, [][]string{{"a", "c", "b"}}},
		{"two disjoint cycles", []string{"x:y", "y:x", "b:a", "a:b"}, [][]string{{"a", "b"}, {"x", "y"}}},
		{"cycle plus acyclic tail", []string{"web:app", "app:db", "db:cache", "cache:app", "cache:base"},
			[][]string{{"app", "db", "cache"}}},
		{"two cycles sharing a node", []string{"a:b", "b:a", "b:c", "c:b"}, [][]string{{"a", "b"}, {"b", "c"}}},
		{"figure eight through a", []string{"a:b", "b:c", "c:a", "a:d", "d:a"},
			[][]string{{"a", "b", "c"}, {"a", "d"}}},
		{"self-loop inside a cycle", []string{"a:b", "b:a", "b:b"}, [][]string{{"a", "b"}, {"b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(tt.edges...)
			got := g.Cycles()
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Cycles() = %v, want %v", got, tt.want)
			}
			err := g.Validate()
			if (err != nil) != (tt.want != nil) {
				t.Fatalf("Validate() = %v, want error: %v", err, tt.want != nil)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, ErrCycle) {
				t.Errorf("errors.Is(%v, ErrCycle) = false", err)
			}
			var ce *CycleError[string]
			if !errors.As(err, &ce) || !reflect.DeepEqual(ce.Cycles, tt.want) {
				t.Errorf("errors.As CycleError = %v", ce)
			}
			if _, terr := g.TopoOrder(); !errors.Is(terr, ErrCycle) {
				t.Errorf("TopoOrder error = %v, want a cycle", terr)
			}
			if _, lerr := g.Levels(); !errors.Is(lerr, ErrCycle) {
				t.Errorf("Levels error = %v, want a cycle", lerr)
			}
		})
	}
}

func TestCycleErrorMessage(t *testing.T) {
	err := build("db:app", "app:db").Validate()
	if got, want := err.Error(), "dependency cycle: app -> db -> app"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	err = build("x:x", "a:b", "b:a").Validate()
	if got, want := err.Error(), "dependency cycle: a -> b -> a; dependency cycle: x -> x"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var ce *CycleError[string]
	errors.As(err, &ce)
	if got, want := ce.Paths(), []string{"a -> b -> a", "x -> x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Paths() = %q, want %q", got, want)
	}
}

// A complete graph has a huge number of elementary cycles; the list is
// capped but stays deterministic and every component is represented.
func TestCyclesBounded(t *testing.T) {
	g := New[int]()
	for i := range 12 {
		for j := range 12 {
			if i != j {
				g.DependsOn(i, j)
			}
		}
	}
	g.DependsOn(100, 101)
	g.DependsOn(101, 100)
	got := g.Cycles()
	if len(got) > maxCycles+1 {
		t.Fatalf("got %d cycles, want at most %d", len(got), maxCycles+1)
	}
	if !slices.ContainsFunc(got, func(c []int) bool { return slices.Equal(c, []int{100, 101}) }) {
		t.Errorf("cycle 100 -> 101 missing from the capped list")
	}
	if again := g.Cycles(); !reflect.DeepEqual(got, again) {
		t.Errorf("Cycles() is not deterministic")
	}
}

func TestTopoOrder(t *testing.T) {
	tests := []struct {
		name  string
		edges []string
		want  []string
	}{
		{"ties broken by key", []string{"c", "a", "b"}, []string{"a", "b", "c"}},
		{"deps first", []string{"app:db", "web:app", "db"}, []string{"db", "app", "web"}},
		{"smallest ready first", []string{"b:z", "a:z", "y"}, []string{"y", "z", "a", "b"}},
		{"diamond", []string{"top:l", "top:r", "l:base", "r:base"}, []string{"base", "l", "r", "top"}},
		{"ready after release beats larger", []string{"m", "b:a"}, []string{"a", "b", "m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 5 { // map iteration must not leak into the order
				got, err := build(tt.edges...).TopoOrder()
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, tt.want) {
					t.Fatalf("TopoOrder() = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestLevels(t *testing.T) {
	g := build("web:app", "app:db", "app:cache", "worker:db", "proxy", "web:db")
	got, err := g.Levels()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"cache", "db", "proxy"}, {"app", "worker"}, {"web"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Levels() = %v, want %v", got, want)
	}
	if got, _ := New[string]().Levels(); len(got) != 0 {
		t.Errorf("Levels() of empty graph = %v", got)
	}
}

func TestAccessors(t *testing.T) {
	g := build("web:app", "app:db", "worker:db", "lonely")
	g.DependsOnWith("app", "cache", "healthy")
	g.DependsOn("app", "cache") // keeps the label
	if got, want := g.Nodes(), []string{"app", "cache", "db", "lonely", "web", "worker"}; !slices.Equal(got, want) {
		t.Errorf("Nodes() = %v, want %v", got, want)
	}
	if got, want := g.Deps("app"), []string{"cache", "db"}; !slices.Equal(got, want) {
		t.Errorf("Deps(app) = %v, want %v", got, want)
	}
	if got, want := g.Dependents("db"), []string{"app", "worker"}; !slices.Equal(got, want) {
		t.Errorf("Dependents(db) = %v, want %v", got, want)
	}
	if got := g.Deps("nope"); len(got) != 0 {
		t.Errorf("Deps(nope) = %v", got)
	}
	if l, ok := g.Label("app", "cache"); !ok || l != "healthy" {
		t.Errorf("Label(app, cache) = %q, %v", l, ok)
	}
	if _, ok := g.Label("db", "app"); ok {
		t.Errorf("Label(db, app) exists")
	}
	wantEdges := []Edge[string]{
		{From: "app", To: "cache", Label: "healthy"}, {From: "app", To: "db"},
		{From: "web", To: "app"}, {From: "worker", To: "db"},
	}
	if got := g.Edges(); !reflect.DeepEqual(got, wantEdges) {
		t.Errorf("Edges() = %v, want %v", got, wantEdges)
	}
	if g.Len() != 6 || !g.HasNode("lonely") || g.HasNode("nope") {
		t.Errorf("Len/HasNode wrong")
	}
}

func TestReverse(t *testing.T) {
	g := build("web:app", "app:db", "lonely")
	g.DependsOnWith("app", "cache", "started")
	r := g.Reverse()
	got, err := r.TopoOrder()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"lonely", "web", "app", "cache", "db"}; !slices.Equal(got, want) {
		t.Errorf("reverse TopoOrder() = %v, want %v", got, want)
	}
	if l, ok := r.Label("cache", "app"); !ok || l != "started" {
		t.Errorf("reverse label = %q, %v", l, ok)
	}
	if !slices.Equal(g.Deps("app"), []string{"cache", "db"}) {
		t.Errorf("Reverse mutated the original")
	}
}

func TestSubgraph(t *testing.T) {
	g := build("web:app", "app:db", "app:cache", "worker:db", "proxy:web", "other")
	g.DependsOnWith("app", "db", "healthy")
	tests := []struct {
		targets []string
		want    []string
	}{
		{[]string{"app"}, []string{"app", "cache", "db"}},
		{[]string{"web", "worker"}, []string{"app", "cache", "db", "web", "worker"}},
		{[]string{"db"}, []string{"db"}},
		{[]string{"other", "other"}, []string{"other"}},
		{nil, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.targets), func(t *testing.T) {
			s, err := g.Subgraph(tt.targets...)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Nodes(); !slices.Equal(got, tt.want) {
				t.Errorf("Subgraph(%v).Nodes() = %v, want %v", tt.targets, got, tt.want)
			}
		})
	}
	s, _ := g.Subgraph("web")
	if l, ok := s.Label("app", "db"); !ok || l != "healthy" {
		t.Errorf("subgraph lost the edge label: %q %v", l, ok)
	}
	if len(s.Dependents("db")) != 1 {
		t.Errorf("subgraph kept an edge from outside: %v", s.Dependents("db"))
	}
	_, err := g.Subgraph("app", "zz", "aa")
	if !errors.Is(err, ErrUnknownNode) || !strings.Contains(err.Error(), "aa, zz") {
		t.Errorf("Subgraph(unknown) error = %v", err)
	}
}

// FuzzCycles checks the invariants that tie Cycles, Validate and TopoOrder
// together on arbitrary small graphs: each byte pair is an edge.
func FuzzCycles(f *testing.F) {
	f.Add([]byte{0, 1, 1, 0})
	f.Add([]byte{0, 0})
	f.Add([]byte{0, 1, 1, 2, 2, 0, 3, 4})
	f.Add([]byte{1, 2, 2, 3, 3, 1, 3, 4, 4, 3, 5, 6})
	f.Fuzz(func(t *testing.T, data []byte) {
		g := New[byte]()
		for i := 0; i+1 < len(data); i += 2 {
			g.DependsOn(data[i]%16, data[i+1]%16)
		}
		cycles := g.Cycles()
		order, err := g.TopoOrder()
		if (len(cycles) > 0) != (err != nil) {
			t.Fatalf("cycles %v but TopoOrder error %v", cycles, err)
		}
		for i, c := range cycles {
			if len(c) == 0 || slices.Min(c) != c[0] {
				t.Fatalf("cycle %v not rotated to its smallest key", c)
			}
			for j, k := range c {
				if _, ok := g.Label(k, c[(j+1)%len(c)]); !ok {
					t.Fatalf("cycle %v: %v does not depend on %v", c, k, c[(j+1)%len(c)])
				}
			}
			seen := map[byte]bool{}
			for _, k := range c {
				if seen[k] {
					t.Fatalf("cycle %v is not elementary", c)
				}
				seen[k] = true
			}
			if i > 0 && slices.Compare(cycles[i-1], c) >= 0 {
				t.Fatalf("cycles not sorted or duplicated: %v", cycles)
			}
		}
		if err != nil {
			return
		}
		pos := map[byte]int{}
		for i, k := range order {
			pos[k] = i
		}
		for _, n := range g.Nodes() {
			for _, d := range g.Deps(n) {
				if pos[d] >= pos[n] {
					t.Fatalf("order %v puts %v before its dependency %v", order, n, d)
				}
			}
		}
	})
}
