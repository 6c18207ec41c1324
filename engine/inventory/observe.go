package inventory

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// HostTarget is one host of the stack to observe.
type HostTarget struct {
	// Key is the stack's name for the host.
	Key string
	// Runner runs commands on the host. When nil, Dial is called once.
	Runner transport.Runner
	// Dial connects to the host; its error is classified by the transport's
	// sentinels (unreachable, auth, host key).
	Dial Dialer
}

// Options tune Observe.
type Options struct {
	// Parallelism bounds how many hosts (and, once hosts are identified,
	// clusters) are read at once; 0 means no bound. Each host also runs up to
	// three commands at once, well under the transport's per-host limit.
	Parallelism int
}

// Observe reads the state of every host in parallel. It only runs read-only
// commands, never waits for anything to change, and costs a constant number
// of commands per cluster plus a constant number per host, however many
// containers exist:
//
//   - per host: /cluster/status (node name, cluster membership), pveversion,
//     /nodes/<node>/storage, `pveam list` per active template storage, the
//     bridge list;
//   - per cluster, on one reachable member (falling back to the next on
//     failure): /cluster/resources --type vm and one command that reads
//     every guest config file (see DumpConfigsArgv).
//
// A host that cannot be observed is reported (Reachable false, a ClassHost
// diagnostic naming it) and never silently skipped. The diagnostics are
// State.Diagnostics().
func Observe(ctx context.Context, hosts []HostTarget, opts Options) (*State, diag.Diagnostics) {
	s := &State{FormatVersion: FormatVersion, Hosts: map[string]*Host{}}
	obs := make([]*hostObs, len(hosts))
	newGroup := func() *errgroup.Group {
		g := &errgroup.Group{}
		if opts.Parallelism > 0 {
			g.SetLimit(opts.Parallelism)
		}
		return g
	}

	// Phase 1: who is who. Grouping into clusters needs every identity.
	g := newGroup()
	for i, t := range hosts {
		obs[i] = &hostObs{target: t, host: &Host{Key: t.Key}}
		g.Go(func() error {
			obs[i].connect(ctx)
			return nil
		})
	}
	g.Wait()
	for _, o := range obs {
		s.Hosts[o.host.Key] = o.host
	}
	groups := groupClusters(obs)

	// Phase 2: everything else at once, per host and per cluster, so the
	// wall time is about two command round trips after the identities.
	g = newGroup()
	for _, o := range obs {
		if o.host.Reachable {
			g.Go(func() error {
				o.readDetails(ctx)
				return nil
			})
		}
	}
	s.Clusters = make([]*Cluster, len(groups))
	for i, grp := range groups {
		s.Clusters[i] = grp.cluster
		g.Go(func() error {
			grp.readGuests(ctx)
			return nil
		})
	}
	g.Wait()
	s.normalize()
	return s, s.Diagnostics()
}

// hostObs is the observation of one host in progress.
type hostObs struct {
	target HostTarget
	runner transport.Runner
	host   *Host
	// From /cluster/status.
	clusterName string
	members     []string

	mu sync.Mutex // guards host.Warnings during readDetails
}

func (o *hostObs) run(ctx context.Context, argv []string) ([]byte, error) {
	res, err := o.runner.Run(ctx, transport.Command{Argv: argv, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	return res.Stdout, nil
}

func (o *hostObs) warnf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.host.Warnings = append(o.host.Warnings, fmt.Sprintf(format, args...))
}

// connect dials the host and learns its identity. Without an identity the
// host is unreachable: nothing else about it can be trusted.
func (o *hostObs) connect(ctx context.Context) {
	h := o.host
	o.runner = o.target.Runner
	if o.runner == nil {
		if o.target.Dial == nil {
			h.Error = "no way to connect to the host"
			return
		}
		r, err := o.target.Dial(ctx)
		if err != nil {
			h.Error = err.Error()
			return
		}
		o.runner = r
	}
	if err := o.readIdentity(ctx); err != nil {
		h.Error = err.Error()
		return
	}
	h.Reachable = true
}

// readDetails reads version, storages, templates and bridges, the three
// independent reads concurrently. A failure here is a warning: the host is
// still usable, the planner just knows less about it.
func (o *hostObs) readDetails(ctx context.Context) {
	h := o.host
	h.Templates = map[string][]string{}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		if out, err := o.run(ctx, pve.Pveversion(false)); err != nil {
			o.warnf("read pveversion: %v", err)
		} else if v, err := pve.ParsePveversion(out); err != nil {
			o.warnf("read pveversion: %v", err)
		} else {
			h.PVEVersion = v.Version
		}
	}()
	go func() {
		defer wg.Done()
		o.readStorages(ctx)
	}()
	go func() {
		defer wg.Done()
		if out, err := o.run(ctx, bridgesArgv); err != nil {
			o.warnf("list bridges: %v", err)
		} else {
			h.Bridges = parseBridges(out)
			if h.Bridges == nil {
				h.Bridges = []string{}
			}
		}
	}()
	wg.Wait()
	sort.Strings(h.Warnings) // concurrent reads: make the order stable
}

func (o *hostObs) readStorages(ctx context.Context) {
	h := o.host
	out, err := o.run(ctx, pve.PveshGet(pve.PathNodeStorage(h.Node)))
	if err != nil {
		o.warnf("read storages: %v", err)
		return
	}
	ss, err := pve.ParseNodeStorage(out)
	if err != nil {
		o.warnf("read storages: %v", err)
		return
	}
	for _, ns := range ss {
		st := Storage{
			Name: ns.Storage, Type: ns.Type, Content: pve.SplitList(ns.Content),
			Active: ns.Active.Int() == 1, Enabled: ns.Enabled.Int() == 1, Shared: ns.Shared.Int() == 1,
			Total: ns.Total.Int(), Avail: ns.Avail.Int(), Snapshots: snapshotTypes[ns.Type],
		}
		sort.Strings(st.Content)
		h.Storages = append(h.Storages, st)
	}
	sort.Slice(h.Storages, func(i, j int) bool { return h.Storages[i].Name < h.Storages[j].Name })
	// One listing per template storage: their number depends on the host's
	// storage.cfg, never on how many containers exist.
	for _, st := range h.Storages {
		if !st.HasContent("vztmpl") || !st.Active {
			continue
		}
		out, err := o.run(ctx, pve.PveamList(st.Name))
		if err != nil {
			o.warnf("list templates on storage %s: %v", st.Name, err)
			continue
		}
		ts, err := pve.ParsePveamList(out)
		if err != nil {
			o.warnf("list templates on storage %s: %v", st.Name, err)
			continue
		}
		vols := make([]string, 0, len(ts))
		for _, t := range ts {
			vols = append(vols, t.VolID)
		}
		sort.Strings(vols)
		h.Templates[st.Name] = vols
	}
}

// bridgesArgv lists the node's bridges, one per line (parseBridges).
var bridgesArgv = []string{"ip", "-o", "link", "show", "type", "bridge"}

// readIdentity learns the node name and cluster membership.
func (o *hostObs) readIdentity(ctx context.Context) error {
	out, err := o.run(ctx, pve.PveshGet(pve.PathClusterStatus))
	if err != nil {
		return fmt.Errorf("read cluster status: %w", err)
	}
	entries, err := pve.ParseClusterStatus(out)
	if err != nil {
		return fmt.Errorf("read cluster status: %w", err)
	}
	for _, e := range entries {
		switch e.Type {
		case "cluster":
			o.clusterName = e.Name
		case "node":
			o.members = append(o.members, e.Name)
			if e.Local.Int() == 1 {
				o.host.Node = e.Name
			}
		}
	}
	if o.host.Node == "" {
		return errors.New("read cluster status: no entry is marked as the local node")
	}
	if o.clusterName == "" {
		o.members = []string{o.host.Node} // a standalone node is its own cluster
	}
	sort.Strings(o.members)
	return nil
}

// group is one cluster and the hosts through which it can be read.
type group struct {
	cluster *Cluster
	hosts   []*hostObs // sorted by key: the first one is asked first
}

// groupClusters puts reachable hosts into clusters: hosts whose status names
// the same cluster and overlapping members are one cluster (two clusters may
// share a name); a standalone node is a cluster of its own.
func groupClusters(obs []*hostObs) []*group {
	var reach []*hostObs
	for _, o := range obs {
		if o.host.Reachable {
			reach = append(reach, o)
		}
	}
	sort.Slice(reach, func(i, j int) bool { return reach[i].host.Key < reach[j].host.Key })

	// Union-find over reachable hosts.
	parent := make([]int, len(reach))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for i := range reach {
		for j := i + 1; j < len(reach); j++ {
			a, b := reach[i], reach[j]
			// Two standalone nodes are never merged, even with one name: two
			// keys for one node cost a second read, which is harmless, while
			// two machines called "pve" (the default) must stay apart.
			if a.clusterName != "" && a.clusterName == b.clusterName && overlap(a.members, b.members) {
				parent[find(j)] = find(i)
			}
		}
	}
	byRoot := map[int]*group{}
	var groups []*group
	for i, o := range reach {
		r := find(i)
		grp := byRoot[r]
		if grp == nil {
			grp = &group{cluster: &Cluster{Name: o.clusterName}}
			byRoot[r] = grp
			groups = append(groups, grp)
		}
		grp.hosts = append(grp.hosts, o)
	}
	// IDs: the cluster name (or node name), made unique with a host key.
	count := map[string]int{}
	for _, grp := range groups {
		nodes := map[string]bool{}
		for _, o := range grp.hosts {
			for _, m := range o.members {
				nodes[m] = true
			}
			grp.cluster.Hosts = append(grp.cluster.Hosts, o.host.Key)
		}
		for n := range nodes {
			grp.cluster.Nodes = append(grp.cluster.Nodes, n)
		}
		sort.Strings(grp.cluster.Nodes)
		grp.cluster.ID = grp.cluster.Name
		if grp.cluster.ID == "" {
			grp.cluster.ID = grp.hosts[0].host.Node
		}
		count[grp.cluster.ID]++
	}
	for _, grp := range groups {
		if count[grp.cluster.ID] > 1 {
			grp.cluster.ID += "@" + grp.hosts[0].host.Key
		}
		for _, o := range grp.hosts {
			o.host.Cluster = grp.cluster.ID
		}
	}
	return groups
}

func overlap(a, b []string) bool {
	set := map[string]bool{}
	for _, x := range a {
		set[x] = true
	}
	for _, x := range b {
		if set[x] {
			return true
		}
	}
	return false
}

// readGuests reads the cluster-wide state through the first host that
// answers both cluster-wide commands.
func (grp *group) readGuests(ctx context.Context) {
	var errs []string
	for _, o := range grp.hosts {
		err := grp.readVia(ctx, o)
		if err == nil {
			return
		}
		errs = append(errs, err.Error())
		if ctx.Err() != nil {
			break
		}
	}
	c := grp.cluster
	c.Containers, c.Guests, c.Warnings = nil, nil, nil
	c.Error = strings.Join(errs, "; ")
}

func (grp *group) readVia(ctx context.Context, o *hostObs) error {
	c := grp.cluster
	// The resource list first: a container created after it still shows up
	// through its config file; one destroyed after it shows up with a
	// ConfigError, never as absent.
	out, err := o.run(ctx, pve.PveshClusterResources("vm"))
	if err != nil {
		return fmt.Errorf("list guests via %s: %w", o.host.Key, err)
	}
	res, err := pve.ParseClusterResources(out)
	if err != nil {
		return fmt.Errorf("list guests via %s: %w", o.host.Key, err)
	}
	out, err = o.run(ctx, DumpConfigsArgv())
	if err != nil {
		return fmt.Errorf("read guest configs via %s: %w", o.host.Key, err)
	}
	files, warnings, err := parseDump(out)
	if err != nil {
		return fmt.Errorf("read guest configs via %s: %w", o.host.Key, err)
	}
	c.Containers, c.Guests, c.Warnings = assemble(res, files)
	c.Warnings = append(warnings, c.Warnings...)
	c.Error = ""
	return nil
}

// assemble joins the resource list and the config files into containers and
// guests.
func assemble(res []pve.Resource, files []dumpFile) ([]*Container, []Guest, []string) {
	var warnings []string
	type key struct {
		kind guestKind
		vmid int
	}
	byID := map[key]*dumpFile{}
	for i := range files {
		f := &files[i]
		k := key{f.Kind, f.VMID}
		if prev, dup := byID[k]; dup {
			// pmxcfs forbids this; report it rather than pick silently.
			warnings = append(warnings, fmt.Sprintf("vmid %d has config files on both %s and %s; using %s", f.VMID, prev.Node, f.Node, prev.Node))
			continue
		}
		byID[k] = f
	}

	guests := map[int]*Guest{}
	var cts []*Container
	ctByID := map[int]*Container{}
	for _, r := range res {
		vmid := int(r.VMID.Int())
		if vmid <= 0 || (r.Type != "lxc" && r.Type != "qemu") {
			continue
		}
		g := &Guest{VMID: vmid, Type: r.Type, Node: r.Node, Name: r.Name, Status: r.Status, Template: r.Template.Int() == 1}
		guests[vmid] = g
		if r.Type != "lxc" {
			continue
		}
		ct := &Container{
			VMID: vmid, Node: r.Node, Status: r.Status, Name: r.Name, Lock: r.Lock,
			Template: r.Template.Int() == 1, HAState: r.HAState,
		}
		ctByID[vmid] = ct
		cts = append(cts, ct)
	}

	for k, f := range byID {
		g := guests[k.vmid]
		if g == nil {
			g = &Guest{VMID: k.vmid, Type: string(k.kind), Node: f.Node}
			guests[k.vmid] = g
		}
		cfg, err := pve.ParseConfig(f.Data)
		if k.kind == kindQemu {
			if err == nil {
				g.IPs = staticIPs(&cfg.Section)
				if n, ok := cfg.Get("name"); ok && g.Name == "" {
					g.Name = n
				}
			}
			continue
		}
		ct := ctByID[k.vmid]
		if ct == nil {
			ct = &Container{VMID: k.vmid, Node: f.Node}
			ctByID[k.vmid] = ct
			cts = append(cts, ct)
		}
		// The file's location is the truth about the owning node (migration
		// renames it); the resource list may lag behind.
		ct.Node, g.Node = f.Node, f.Node
		ct.ConfigText = string(f.Data)
		ct.Digest = pve.Digest(f.Data)
		if err != nil {
			ct.ConfigError = fmt.Sprintf("parse config: %v", err)
			continue
		}
		ct.Config = cfg
		if t, ok := cfg.Get("tags"); ok {
			ct.Tags = pve.SplitList(t)
			sort.Strings(ct.Tags)
		}
		if hn, ok := cfg.Get("hostname"); ok {
			g.Name = hn
			if ct.Name == "" {
				ct.Name = hn
			}
		}
		if l, ok := cfg.Get("lock"); ok && ct.Lock == "" {
			ct.Lock = l
		}
		g.IPs = staticIPs(&cfg.Section)
	}
	for _, ct := range cts {
		if ct.Config == nil && ct.ConfigError == "" {
			ct.ConfigError = "listed by the cluster but its config file was not found (removed while reading?)"
		}
	}
	sort.Slice(cts, func(i, j int) bool { return cts[i].VMID < cts[j].VMID })
	gs := make([]Guest, 0, len(guests))
	for _, g := range guests {
		gs = append(gs, *g)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].VMID < gs[j].VMID })
	sort.Strings(warnings)
	return cts, gs, warnings
}
