package main

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/pve"
)

func diffCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "compare two versions of a stack, as if OLD were applied exactly; no host is contacted",
		UsageText: "lxcplan diff OLD_STACK NEW_STACK [--format text|json|markdown] [--detailed-exitcode]",
		Description: `The plan is computed against the state OLD would leave on ideal hosts (every
storage, bridge and template the stacks name exists, with room to spare), so it shows what the edit
changes, never what the hosts would object to: problems found on hosts are left out.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text, json or markdown"},
			&cli.BoolFlag{Name: "detailed-exitcode", Usage: "exit 2 when there are changes, 3 when some are destructive"},
			setFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef("diff: want OLD_STACK and NEW_STACK, got %d arguments; usage: %s", c.NArg(), c.Command.UsageText)
			}
			format := c.String("format")
			if !validPlanFormat(format) {
				return usagef("diff: --format %q: want text, json or markdown", format)
			}
			oldPath, newPath := c.Args().Get(0), c.Args().Get(1)
			oldD, err := loadDesired(e, oldPath, manifestOptions(c))
			if err != nil {
				return err
			}
			newD, err := loadDesired(e, newPath, manifestOptions(c))
			if err != nil {
				return err
			}
			p, ds := diffStacks(oldD, newD, newPath)
			return finishPlan(e, p, ds, planOutput{format: format, detailed: c.Bool("detailed-exitcode"), what: "diff"})
		},
	}
}

// diffStacks plans newD against the state oldD leaves once applied, and
// drops the problems that only hosts could have.
func diffStacks(oldD, newD *model.Desired, stackFile string) (*plan.Plan, diag.Diagnostics) {
	obs, synthetic := appliedState(oldD, newD)
	p, ds := plan.Diff(newD, obs, plan.Options{StackFile: stackFile})
	// The vmids the ideal hosts allocated mean nothing to the reader, and
	// a diff is never applied: no base to check against.
	for _, ch := range p.Changes {
		if synthetic[ch.VMID] {
			ch.VMID = 0
		}
		ch.Base = nil
		// The ideal hosts' templates are made up: say which template
		// is needed, not a file name.
		if t := ch.Template; t != nil && t.Status == plan.TemplatePresent {
			t.VolID, t.Status = "", plan.TemplateUnknown
		}
	}
	var keep diag.Diagnostics
	for _, d := range ds {
		if d.Class != diag.ClassHost {
			keep = append(keep, d)
		}
	}
	var docKeep []plan.Diagnostic
	for _, d := range p.Diagnostics {
		if d.Class != "host" {
			docKeep = append(docKeep, d)
		}
	}
	p.Diagnostics = docKeep
	return p, keep
}

// diffCluster is the one cluster of the ideal hosts.
const diffCluster = "diff"

// appliedState builds the observed state that applying oldD exactly would
// leave, on ideal hosts serving both stacks: each host a node of one
// cluster, with every storage, bridge and template either stack names.
// Each container is stored as PVE stores what the plan's create sets
// (volumes allocated, sizes written), with its marker in state ready.
//
// TODO(plan): this mirrors what apply records; it belongs next to the
// differ (engine/plan), where a change of the marker or of the stored
// forms would update it too.
// The second result holds the vmids allocated for containers that declare
// none.
func appliedState(oldD, newD *model.Desired) (*inventory.State, map[int]bool) {
	s := &inventory.State{FormatVersion: inventory.FormatVersion, Hosts: map[string]*inventory.Host{}}
	cl := &inventory.Cluster{ID: diffCluster, Name: diffCluster}
	s.Clusters = []*inventory.Cluster{cl}
	both := []*model.Desired{oldD, newD}

	keys := map[string]bool{}
	storages := map[string]bool{"local": true}
	bridges := map[string]bool{}
	templates := map[string]map[string]bool{}
	for _, d := range both {
		if d.Stack != nil {
			for _, k := range d.Stack.HostNames() {
				keys[k] = true
			}
		}
		for _, c := range d.Containers {
			keys[c.Host] = true
			for _, st := range []string{c.Storage, c.TemplateStorage} {
				if st != "" {
					storages[st] = true
				}
			}
			for _, m := range c.Mounts {
				if m.Storage != "" {
					storages[m.Storage] = true
				}
			}
			for _, n := range append([]model.Network{c.Network}, c.ExtraNetworks...) {
				if n.Bridge != "" {
					bridges[n.Bridge] = true
				}
			}
		}
	}
	// Templates of the old stack only: the new one may need a download.
	for _, c := range oldD.Containers {
		ts := c.TemplateStorage
		if ts == "" {
			ts = "local"
		}
		if templates[ts] == nil {
			templates[ts] = map[string]bool{}
		}
		templates[ts][syntheticTemplate(ts, c)] = true
	}
	for k := range keys {
		if k == "" {
			continue
		}
		h := &inventory.Host{Key: k, Node: k, Cluster: diffCluster, Reachable: true, Templates: map[string][]string{}}
		for st := range storages {
			h.Storages = append(h.Storages, inventory.Storage{
				Name: st, Type: "dir", Content: []string{"images", "rootdir", "vztmpl"},
				Active: true, Enabled: true, Shared: true, Total: 1 << 50, Avail: 1 << 50,
			})
		}
		for st, set := range templates {
			for v := range set {
				h.Templates[st] = append(h.Templates[st], v)
			}
			sort.Strings(h.Templates[st])
		}
		for b := range bridges {
			h.Bridges = append(h.Bridges, b)
		}
		sort.Strings(h.Bridges)
		sort.Slice(h.Storages, func(i, j int) bool { return h.Storages[i].Name < h.Storages[j].Name })
		s.Hosts[k] = h
		cl.Nodes = append(cl.Nodes, k)
		cl.Hosts = append(cl.Hosts, k)
	}
	sort.Strings(cl.Nodes)
	sort.Strings(cl.Hosts)

	// Plan oldD on the empty hosts, then store each create as applied.
	p, _ := plan.Diff(oldD, s, plan.Options{})
	taken := map[int]bool{}
	for _, d := range both {
		for _, c := range d.Containers {
			if c.VMID != 0 {
				taken[c.VMID] = true
			}
		}
	}
	next := 100
	synthetic := map[int]bool{}
	stack := ""
	if oldD.Stack != nil {
		stack = oldD.Stack.Name
	}
	for _, ch := range p.Changes {
		c := oldD.Container(ch.Container)
		if c == nil || ch.Action != plan.ActionCreate || ch.Apply == nil {
			continue
		}
		vmid := c.VMID
		if vmid == 0 {
			for taken[next] {
				next++
			}
			vmid = next
			taken[vmid], synthetic[vmid] = true, true
		}
		addContainer(cl, storedContainer(stack, c, ch, vmid))
	}
	return s, synthetic
}

// syntheticTemplate names a template file for the container's os, version
// and arch in PVE's naming scheme, so the planner resolves it as present.
func syntheticTemplate(storage string, c *model.Container) string {
	arch := c.Arch
	if arch == "" {
		arch = "amd64"
	}
	return fmt.Sprintf("%s:vztmpl/%s-%s-standard_%s-1_%s.tar.zst", storage, c.OS, c.Version, c.Version, arch)
}

// storedContainer is a planned create as PVE stores it after apply.
func storedContainer(stack string, c *model.Container, ch *plan.Change, vmid int) *inventory.Container {
	cfg := pve.NewConfig()
	for k, v := range ch.Apply.Set {
		cfg.Set(k, storedOption(k, v, vmid))
	}
	m := ch.Apply.Marker.Marker(stack, c.Name, plan.StateReady, nil)
	cfg.Description = m.Render(ch.Apply.Description)
	text := cfg.Bytes()
	parsed, err := pve.ParseConfig(text)
	if err != nil {
		parsed = cfg
	}
	ct := &inventory.Container{VMID: vmid, Node: c.Host, Status: "running", Name: parsed.Options["hostname"],
		Tags: pve.SplitList(parsed.Options["tags"]), ConfigText: string(text), Digest: pve.Digest(text), Config: parsed}
	sort.Strings(ct.Tags)
	if ch.Apply.HA != nil {
		ct.HAState = ch.Apply.HA["state"]
	}
	return ct
}

// storedOption is how PVE writes back an option given to pct create: a
// new volume (STORAGE:GiB) becomes an allocated volume with its size, a
// network interface gets its type and a MAC address.
func storedOption(k, v string, vmid int) string {
	switch {
	case k == "rootfs" || strings.HasPrefix(k, "mp"):
		param, s := k, v
		if k == "rootfs" {
			param, s = "mp0", v+",mp=/"
		}
		m, err := pve.ParseMount(param, s)
		if err != nil {
			return v
		}
		disk := 0
		if k != "rootfs" {
			n, _ := strconv.Atoi(strings.TrimPrefix(k, "mp"))
			disk = n + 1
		}
		if st, g, ok := m.NewVolume(); ok {
			m.Volume = fmt.Sprintf("%s:vm-%d-disk-%d", st, vmid, disk)
			m.Size, m.SizeSet = int64(g*float64(pve.GiB)), true
		}
		if k == "rootfs" {
			m.MP = ""
			return pve.PrintPropertyString(pve.RootfsFormat, m.Map())
		}
		return m.String()
	case strings.HasPrefix(k, "net"):
		n, err := pve.ParseNet(k, v)
		if err != nil {
			return v
		}
		if n.HWAddr == "" {
			n.HWAddr = fmt.Sprintf("BC:24:11:00:%02X:%02X", vmid>>8&255, vmid&255)
		}
		n.Type = "veth"
		return n.String()
	}
	return v
}

// addContainer adds a container and its guest entry, keeping both sorted.
func addContainer(cl *inventory.Cluster, ct *inventory.Container) {
	cl.Containers = append(cl.Containers, ct)
	sort.Slice(cl.Containers, func(i, j int) bool { return cl.Containers[i].VMID < cl.Containers[j].VMID })
	g := inventory.Guest{VMID: ct.VMID, Type: "lxc", Node: ct.Node, Name: ct.Name, Status: ct.Status}
	if ct.Config != nil {
		if nets, err := ct.Config.Nets(); err == nil {
			for _, n := range nets {
				if p, err := netip.ParsePrefix(n.IP); err == nil {
					g.IPs = append(g.IPs, p.Addr().String())
				}
			}
		}
	}
	sort.Strings(g.IPs)
	cl.Guests = append(cl.Guests, g)
	sort.Slice(cl.Guests, func(i, j int) bool { return cl.Guests[i].VMID < cl.Guests[j].VMID })
}
