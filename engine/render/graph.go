package render

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// GraphNode is one container in a dependency graph.
type GraphNode struct {
	Name   string
	Host   string // empty: drawn outside every host box
	Recipe string // empty: the label is the name alone
}

// GraphEdge says From depends on To; Condition is the depends_on condition
// ("started", "healthy") and labels the arrow when set.
type GraphEdge struct {
	From, To, Condition string
}

// Graph is what `lxcplan graph` draws. It is deliberately a plain value so
// render does not need the model package: the command fills it from the
// resolved stack.
type Graph struct {
	Stack string
	Nodes []GraphNode
	Edges []GraphEdge
}

// normalized returns the nodes (one per name, first wins; edge endpoints
// that were not declared are added without host or recipe) sorted by name,
// and the edges (duplicates removed) sorted by From, To, Condition, so the
// output depends only on the graph's content, never on input order.
func (g Graph) normalized() ([]GraphNode, []GraphEdge) {
	seen := map[string]bool{}
	var nodes []GraphNode
	add := func(n GraphNode) {
		if !seen[n.Name] {
			seen[n.Name] = true
			nodes = append(nodes, n)
		}
	}
	for _, n := range g.Nodes {
		add(n)
	}
	for _, e := range g.Edges {
		add(GraphNode{Name: e.From})
		add(GraphNode{Name: e.To})
	}
	slices.SortFunc(nodes, func(a, b GraphNode) int { return cmp.Compare(a.Name, b.Name) })
	edges := slices.Clone(g.Edges)
	slices.SortFunc(edges, func(a, b GraphEdge) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To), cmp.Compare(a.Condition, b.Condition))
	})
	return nodes, slices.Compact(edges)
}

// graphHosts returns the distinct non-empty hosts, sorted, and the nodes of each.
func graphHosts(nodes []GraphNode) ([]string, map[string][]GraphNode) {
	by := map[string][]GraphNode{}
	for _, n := range nodes {
		by[n.Host] = append(by[n.Host], n)
	}
	var hosts []string
	for h := range by {
		if h != "" {
			hosts = append(hosts, h)
		}
	}
	slices.Sort(hosts)
	return hosts, by
}

// graphWriter keeps the first write error so the renderers can print freely
// and check once.
type graphWriter struct {
	w   io.Writer
	err error
}

func (e *graphWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// dotID quotes s as a DOT identifier. DOT keeps everything in a quoted
// string literally except \" ; escaping backslashes too keeps the mapping
// one-to-one and stops a trailing backslash from swallowing the closing
// quote. Line breaks are escaped so the file stays one statement a line.
func dotID(s string) string {
	return `"` + dotEscaper.Replace(s) + `"`
}

// dotLabel quotes s as a DOT escString label: there \\ is a literal
// backslash and \n a line break, so the ID escaping renders s as is.
// Graphviz also decodes HTML entities in plain labels ("&amp;" shows as
// "&"), so '&' is escaped as well, or a name containing "&lt;" would be
// drawn as "<".
func dotLabel(s string) string {
	return `"` + dotLabelEscaper.Replace(s) + `"`
}

var (
	dotEscaper      = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)
	dotLabelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "&", "&amp;")
)

// GraphDOT writes g as a Graphviz digraph: one cluster per host, each
// container labelled "name\n(recipe)", an arrow from each container to
// each container it depends on, labelled with the condition.
func GraphDOT(w io.Writer, g Graph) error {
	nodes, edges := g.normalized()
	hosts, byHost := graphHosts(nodes)
	out := &graphWriter{w: w}
	node := func(indent string, n GraphNode) {
		label := n.Name
		if n.Recipe != "" {
			label += "\n(" + n.Recipe + ")"
		}
		out.printf("%s%s [label=%s];\n", indent, dotID(n.Name), dotLabel(label))
	}

	if g.Stack != "" {
		out.printf("digraph %s {\n", dotID(g.Stack))
		out.printf("  label=%s;\n  labelloc=t;\n", dotLabel(g.Stack))
	} else {
		out.printf("digraph {\n")
	}
	out.printf("  rankdir=LR;\n  node [shape=box, style=rounded];\n")
	for _, h := range hosts {
		out.printf("\n  subgraph %s {\n", dotID("cluster_"+h))
		out.printf("    label=%s;\n", dotLabel(h))
		for _, n := range byHost[h] {
			node("    ", n)
		}
		out.printf("  }\n")
	}
	if loose := byHost[""]; len(loose) > 0 {
		out.printf("\n")
		for _, n := range loose {
			node("  ", n)
		}
	}
	if len(edges) > 0 {
		out.printf("\n")
	}
	for _, e := range edges {
		if e.Condition != "" {
			out.printf("  %s -> %s [label=%s];\n", dotID(e.From), dotID(e.To), dotLabel(e.Condition))
		} else {
			out.printf("  %s -> %s;\n", dotID(e.From), dotID(e.To))
		}
	}
	out.printf("}\n")
	if out.err != nil {
		return fmt.Errorf("write dot graph: %w", out.err)
	}
	return nil
}

// mermaidIDs gives every name a Mermaid-safe id: a prefix (which also
// keeps ids clear of keywords such as "end") and the name with every byte
// outside [A-Za-z0-9_] replaced by '_'. Names that collide after that get
// _2, _3... in sorted order, so ids are stable.
func mermaidIDs(prefix string, names []string) map[string]string {
	ids := map[string]string{}
	used := map[string]bool{}
	for _, n := range names {
		if _, done := ids[n]; done {
			continue
		}
		var b strings.Builder
		b.WriteString(prefix)
		for _, r := range n {
			if r < 128 && (r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				b.WriteRune(r)
			} else {
				b.WriteByte('_')
			}
		}
		id := b.String()
		for i := 2; used[id]; i++ {
			id = b.String() + "_" + strconv.Itoa(i)
		}
		used[id] = true
		ids[n] = id
	}
	return ids
}

// mermaidText quotes s for a Mermaid label. Inside quotes Mermaid only
// needs '"' escaped, but '#' starts its entity codes and labels go through
// HTML, so those characters, '&', '<', '>' and '`' (which would start a
// markdown string) become numeric entity codes; newlines become <br/>.
func mermaidText(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString("<br/>")
		case r == '"' || r == '#' || r == '&' || r == '<' || r == '>' || r == '`' || r == '|' || r < 0x20:
			fmt.Fprintf(&b, "#%d;", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// GraphMermaid writes g as a Mermaid flowchart: one subgraph per host,
// each container labelled with its name and recipe, an arrow from each
// container to each container it depends on, labelled with the condition.
func GraphMermaid(w io.Writer, g Graph) error {
	nodes, edges := g.normalized()
	hosts, byHost := graphHosts(nodes)
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	nodeID := mermaidIDs("c_", names)
	hostID := mermaidIDs("h_", hosts)
	out := &graphWriter{w: w}
	node := func(indent string, n GraphNode) {
		label := mermaidText(n.Name)
		if n.Recipe != "" {
			label = mermaidText(n.Name + "\n(" + n.Recipe + ")")
		}
		out.printf("%s%s[%s]\n", indent, nodeID[n.Name], label)
	}

	if g.Stack != "" {
		// Front matter is YAML; a Go-quoted string is a valid YAML
		// double-quoted scalar.
		out.printf("---\ntitle: %s\n---\n", strconv.Quote(g.Stack))
	}
	out.printf("flowchart LR\n")
	for _, h := range hosts {
		out.printf("  subgraph %s[%s]\n", hostID[h], mermaidText(h))
		for _, n := range byHost[h] {
			node("    ", n)
		}
		out.printf("  end\n")
	}
	for _, n := range byHost[""] {
		node("  ", n)
	}
	for _, e := range edges {
		if e.Condition != "" {
			out.printf("  %s -->|%s| %s\n", nodeID[e.From], mermaidText(e.Condition), nodeID[e.To])
		} else {
			out.printf("  %s --> %s\n", nodeID[e.From], nodeID[e.To])
		}
	}
	if out.err != nil {
		return fmt.Errorf("write mermaid graph: %w", out.err)
	}
	return nil
}
