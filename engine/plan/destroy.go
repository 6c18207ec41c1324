package plan

import (
	"fmt"
	"sort"

	"github.com/lxcplan/lxcplan/engine/dag"
	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/model"
)

// DestroyAll plans `lxcplan destroy`: a destroy of every container the
// stack owns on the hosts (declared or not), dependents first.
//
// opts.Targets selects the named containers and, unlike everywhere else,
// everything that DEPENDS on them (directly or not): destroying a
// dependency under a running dependent would break the dependent, so the
// dependents go first. Dependencies come from the stack file and from the
// markers (a container no longer declared still records its own).
// Only Targets and StackFile of opts are used.
func DestroyAll(d *model.Desired, obs *inventory.State, opts Options) (*Plan, diag.Diagnostics) {
	if obs == nil {
		obs = &inventory.State{Hosts: map[string]*inventory.Host{}}
	}
	df := &differ{d: d, obs: obs, opts: opts, owned: map[string][]found{}, blind: map[string]bool{}}
	if d.Stack != nil {
		df.stack = d.Stack.Name
	}
	df.ds = append(df.ds, obs.Diagnostics()...)
	df.index()
	df.byName = map[string]*model.Container{}

	g := dag.New[string]()
	for _, c := range d.Containers {
		g.AddNode(c.Name)
	}
	for name := range df.owned {
		g.AddNode(name)
	}
	for _, c := range d.Containers {
		for _, dep := range c.DependsOn {
			if g.HasNode(dep.Name) {
				g.DependsOn(c.Name, dep.Name)
			}
		}
	}
	for name, fs := range df.owned {
		for _, dep := range fs[0].m.Depends {
			if g.HasNode(dep) {
				g.DependsOn(name, dep)
			}
		}
	}
	selected := map[string]bool{}
	if len(opts.Targets) > 0 {
		var known []string
		for _, t := range opts.Targets {
			if g.HasNode(t) {
				known = append(known, t)
			} else {
				df.ds = append(df.ds, diag.Errorf(diag.ClassUsage, diag.Pos{}, "", "--target %s: no such container in stack %s", t, df.stack))
			}
		}
		// The reverse graph's "dependencies" are the dependents.
		if sub, err := g.Reverse().Subgraph(known...); err == nil {
			for _, n := range sub.Nodes() {
				selected[n] = true
			}
		}
	} else {
		for _, n := range g.Nodes() {
			selected[n] = true
		}
	}
	// df.destroys plans what is owned and not in byName, limited to the
	// targeted set, in reverse dependency order over the markers; the
	// declared dependencies are added to the markers' here so the order
	// also holds for containers whose marker predates a dependency.
	for name, fs := range df.owned {
		if c := d.Container(name); c != nil {
			for _, dep := range c.DependsOn {
				if !contains(fs[0].m.Depends, dep.Name) {
					fs[0].m.Depends = append(fs[0].m.Depends, dep.Name)
				}
			}
			sort.Strings(fs[0].m.Depends)
		}
	}
	p := &Plan{FormatVersion: FormatVersion, Stack: df.stack, StackFile: opts.StackFile}
	p.Changes = df.destroys(selected)
	for _, ch := range p.Changes {
		ch.Reason = fmt.Sprintf("lxcplan destroy %s", df.stack)
		ch.Destructive = true
		ch.Rollback = RollbackOf(ch.Action)
		p.Summary.add(ch.Action)
		p.Destructive = true
	}
	df.ds.Sort()
	p.Diagnostics = docDiagnostics(df.ds, scrubber(d.Stack))
	return p, df.ds
}
