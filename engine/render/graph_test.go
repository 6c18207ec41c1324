package render

import (
	"bytes"
	"errors"
	"flag"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/internal/golden"
)

// The house convention is `var update = flag.Bool("update", ...)` in the
// test file, but other test files of this package may declare it too: a
// second declaration would not compile and a second flag.Bool would panic.
// So this file defines the flag only if nobody else did and reads it by
// name.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

// checkGraphGolden compares got with testdata/name, or rewrites it under -update.
func checkGraphGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
}

var graphCases = []struct {
	name string
	g    Graph
}{
	{"media", Graph{
		Stack: "media",
		Nodes: []GraphNode{
			{Name: "db", Host: "pve2", Recipe: "postgresql"},
			{Name: "app", Host: "pve1", Recipe: "community/immich@3.0.0"},
			{Name: "cache", Host: "pve1", Recipe: "redis"},
			{Name: "web", Recipe: "./recipes/nginx.yaml"},
		},
		Edges: []GraphEdge{
			{From: "app", To: "db", Condition: "healthy"},
			{From: "app", To: "cache", Condition: "started"},
			{From: "web", To: "app"},
		},
	}},
	{"escaping", Graph{
		Stack: `lab "one"`,
		Nodes: []GraphNode{
			{Name: "web-1", Host: `pve "lab" \ #1`, Recipe: "a|b"},
			{Name: "web_1", Host: `pve "lab" \ #1`, Recipe: "<b>&amp;"},
			{Name: "end", Host: "pve.example.org", Recipe: "redis"},
			{Name: `say "hi"`, Host: "pve.example.org"},
			{Name: `trailing\`, Host: "pve.example.org", Recipe: "multi\nline"},
			{Name: "dup", Recipe: "first wins"},
			{Name: "dup", Recipe: "ignored"},
		},
		Edges: []GraphEdge{
			{From: "web-1", To: "end", Condition: "healthy"},
			{From: "web_1", To: `say "hi"`},
			{From: `trailing\`, To: "undeclared", Condition: `odd "cond" #`},
			{From: "web-1", To: "end", Condition: "healthy"}, // duplicate, drawn once
		},
	}},
	{"empty", Graph{}},
}

func TestGraphGolden(t *testing.T) {
	for _, tc := range graphCases {
		t.Run(tc.name, func(t *testing.T) {
			var dot, mer bytes.Buffer
			if err := GraphDOT(&dot, tc.g); err != nil {
				t.Fatal(err)
			}
			if err := GraphMermaid(&mer, tc.g); err != nil {
				t.Fatal(err)
			}
			checkGraphGolden(t, "graph_"+tc.name+"_dot.golden", dot.Bytes())
			checkGraphGolden(t, "graph_"+tc.name+"_mermaid.golden", mer.Bytes())
		})
	}
}

// TestGraphDOTParses feeds the DOT output to Graphviz when it is
// installed: it must parse, keep every node and edge, and draw each label
// as written (Graphviz decodes entities, so "&amp;" must survive as text).
func TestGraphDOTParses(t *testing.T) {
	dotBin, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("graphviz not installed")
	}
	for _, tc := range graphCases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := GraphDOT(&buf, tc.g); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(dotBin, "-Tplain")
			cmd.Stdin = &buf
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("dot rejected the output: %v", err)
			}
			nodes, edges := tc.g.normalized()
			plain := string(out)
			if got := strings.Count(plain, "\nnode "); got != len(nodes) {
				t.Errorf("graphviz drew %d nodes, want %d:\n%s", got, len(nodes), plain)
			}
			if got := strings.Count(plain, "\nedge "); got != len(edges) {
				t.Errorf("graphviz drew %d edges, want %d:\n%s", got, len(edges), plain)
			}
			// -Tplain prints each label quoted with the ID escaping
			// (unquoted when it is a plain word).
			for _, n := range nodes {
				label := n.Name
				if n.Recipe != "" {
					label += "\n(" + n.Recipe + ")"
				}
				if !strings.Contains(plain, " "+dotID(label)+" ") && !strings.Contains(plain, " "+label+" ") {
					t.Errorf("label %q not drawn as written:\n%s", label, plain)
				}
			}
		})
	}
}

// The output depends only on the graph, never on the order of its slices.
func TestGraphOrderIndependent(t *testing.T) {
	g := graphCases[0].g
	rev := Graph{Stack: g.Stack, Nodes: slices.Clone(g.Nodes), Edges: slices.Clone(g.Edges)}
	slices.Reverse(rev.Nodes)
	slices.Reverse(rev.Edges)
	for _, render := range []func(*bytes.Buffer, Graph) error{
		func(b *bytes.Buffer, g Graph) error { return GraphDOT(b, g) },
		func(b *bytes.Buffer, g Graph) error { return GraphMermaid(b, g) },
	} {
		var a, b bytes.Buffer
		if err := render(&a, g); err != nil {
			t.Fatal(err)
		}
		if err := render(&b, rev); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Errorf("output depends on input order:\n%s\n---\n%s", a.String(), b.String())
		}
	}
}

type graphFailWriter struct{ n int }

var errGraphDiskFull = errors.New("disk full")

func (f *graphFailWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errGraphDiskFull
	}
	f.n--
	return len(p), nil
}

func TestGraphWriteError(t *testing.T) {
	for _, n := range []int{0, 3} {
		if err := GraphDOT(&graphFailWriter{n: n}, graphCases[0].g); !errors.Is(err, errGraphDiskFull) {
			t.Errorf("GraphDOT error = %v, want disk full", err)
		}
		if err := GraphMermaid(&graphFailWriter{n: n}, graphCases[0].g); !errors.Is(err, errGraphDiskFull) {
			t.Errorf("GraphMermaid error = %v, want disk full", err)
		}
	}
}

// balancedDOT reports whether every line has an even number of unescaped
// double quotes, i.e. no name broke out of its quoted string.
func balancedDOT(line string) bool {
	quotes := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '"':
			quotes++
		}
	}
	return quotes%2 == 0
}

// FuzzGraph renders graphs with arbitrary names and checks that no name
// can break the syntax: DOT quotes stay balanced on every line, Mermaid
// lines hold exactly the quotes the renderer wrote, and both emit one line
// per statement.
func FuzzGraph(f *testing.F) {
	f.Add("db", "pve1", "postgresql", "healthy")
	f.Add(`a"b`, `h\`, "x\ny", `|"#`)
	f.Add("end", "subgraph", "<br/>", "-->")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, name, host, recipe, cond string) {
		g := Graph{
			Stack: host,
			Nodes: []GraphNode{{Name: name, Host: host, Recipe: recipe}, {Name: "other", Host: host}},
			Edges: []GraphEdge{{From: "other", To: name, Condition: cond}},
		}
		var dot, mer bytes.Buffer
		if err := GraphDOT(&dot, g); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(dot.String(), "\n") {
			if !balancedDOT(line) {
				t.Fatalf("unbalanced quotes in DOT line %q", line)
			}
		}
		if err := GraphMermaid(&mer, g); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(mer.String(), "\n"), "\n")
		if g.Stack != "" {
			lines = lines[3:] // front matter, Go-quoted
		}
		for _, line := range lines {
			if strings.Count(line, `"`)%2 != 0 {
				t.Fatalf("unbalanced quotes in Mermaid line %q", line)
			}
		}
	})
}
