package plan

import (
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/pve"
)

// Small hand-built fixtures: a stack "media" on a two-node cluster, and a
// tiny PVE "apply" (simulate) that writes configs the way PVE would store
// what a plan's create sets, so "apply then plan again" can be tested
// without the simulator.

const testStack = "media"

var testKey = []byte("0123456789abcdef0123456789abcdef")

func testRecipe() *model.Recipe {
	content := "requirepass ${params.password}\nmaxmemory ${params.maxmemory}\n"
	unit := "[Service]\n"
	return &model.Recipe{
		Name: "redis", Version: "1.0.0",
		Params: map[string]*model.Param{
			"password":  {Name: "password", Type: model.ParamSecret, Generate: &model.Generate{Length: 24}},
			"maxmemory": {Name: "maxmemory", Type: model.ParamString, Default: "256mb"},
		},
		Install: []model.Step{
			{Kind: model.StepApt, Packages: []string{"redis-server"}},
			{Kind: model.StepFile, File: &model.FileStep{Path: "/etc/redis/conf.d/lxcplan.conf", Content: content, HasContent: true, Mode: "0640"}},
			{Kind: model.StepService, Service: &model.ServiceStep{Name: "redis-server", State: "restarted", Unit: &unit}},
		},
		Update:  []model.Step{{Kind: model.StepAptUpgrade, Packages: []string{"redis-server"}}},
		Outputs: map[string]model.Output{"url": {Template: "redis://${container.ip}:6379"}, "password": {Template: "${params.password}"}},
	}
}

func testAppRecipe() *model.Recipe {
	return &model.Recipe{
		Name: "app", Version: "2.0.0",
		Params: map[string]*model.Param{
			"db_host":     {Name: "db_host", Type: model.ParamString},
			"db_password": {Name: "db_password", Type: model.ParamSecret},
		},
		Install: []model.Step{
			{Kind: model.StepApt, Packages: []string{"nginx"}},
			{Kind: model.StepRun, Run: &model.RunStep{Script: "configure --db ${params.db_host} --pw ${params.db_password}", Cwd: "/opt/app"}},
		},
	}
}

func ctr(name string, muts ...func(*model.Container)) *model.Container {
	c := &model.Container{
		Name: name, Pos: diag.Pos{File: "stack.yaml", Line: 10, Col: 3},
		Recipe: model.RecipeRef{Raw: "redis", Kind: model.RefBuiltin, Name: "redis"}, Loaded: testRecipe(),
		Host: "pve1", Hostname: name, OS: "debian", Version: "12", Arch: "amd64",
		Resources:    model.Resources{Cores: 1, Memory: 512, Swap: 512, Disk: 4},
		Unprivileged: true, Features: model.Features{Nesting: true},
		Storage: "local-lvm", TemplateStorage: "local",
		Network: model.Network{Name: "eth0", Bridge: "vmbr0", IP: "dhcp"},
		Params: map[string]model.ResolvedParam{
			"password":  {Type: model.ParamSecret, Secret: true, Generate: &model.Generate{Length: 24}},
			"maxmemory": {Value: "256mb", Type: model.ParamString},
		},
	}
	for _, m := range muts {
		m(c)
	}
	return c
}

func appCtr(name string, muts ...func(*model.Container)) *model.Container {
	c := ctr(name)
	c.Recipe = model.RecipeRef{Raw: "./app.yaml", Kind: model.RefPath, Path: "./app.yaml"}
	c.Loaded = testAppRecipe()
	c.DependsOn = []model.Dependency{{Name: "db", Condition: model.CondHealthy}}
	c.Params = map[string]model.ResolvedParam{
		"db_host":     {Value: "${containers.db.ip}", Type: model.ParamString},
		"db_password": {Value: "hunter2-literal-secret", Type: model.ParamSecret, Secret: true},
	}
	for _, m := range muts {
		m(c)
	}
	return c
}

func desired(cs ...*model.Container) *model.Desired {
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	st := &model.Stack{Name: testStack, File: "stack.yaml", Hosts: map[string]*model.Host{
		"pve1": {Name: "pve1", Address: "pve1.lan"}, "pve2": {Name: "pve2", Address: "pve2.lan"}}}
	return &model.Desired{Stack: st, Containers: cs}
}

func testHost(key string) *inventory.Host {
	return &inventory.Host{
		Key: key, Node: key, Cluster: "c1", Reachable: true, PVEVersion: "8.2.4",
		Storages: []inventory.Storage{
			{Name: "local", Type: "dir", Content: []string{"backup", "iso", "vztmpl"}, Active: true, Enabled: true, Total: 100 * pve.GiB, Avail: 50 * pve.GiB},
			{Name: "local-lvm", Type: "lvmthin", Content: []string{"images", "rootdir"}, Active: true, Enabled: true, Total: 100 * pve.GiB, Avail: 80 * pve.GiB, Snapshots: true},
			{Name: "fast", Type: "zfspool", Content: []string{"images", "rootdir"}, Active: true, Enabled: true, Total: 10 * pve.GiB, Avail: 9 * pve.GiB, Snapshots: true},
		},
		Templates: map[string][]string{"local": {"local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"}},
		Bridges:   []string{"vmbr0"},
	}
}

// world is an observed state under construction.
type world struct{ s *inventory.State }

func newWorld() *world {
	return &world{s: &inventory.State{
		FormatVersion: inventory.FormatVersion,
		Hosts:         map[string]*inventory.Host{"pve1": testHost("pve1"), "pve2": testHost("pve2")},
		Clusters:      []*inventory.Cluster{{ID: "c1", Name: "c1", Nodes: []string{"pve1", "pve2"}, Hosts: []string{"pve1", "pve2"}}},
	}}
}

func (w *world) cluster() *inventory.Cluster { return w.s.Clusters[0] }

// add puts a container with the given config into the cluster (and its
// guest entry), keeping both lists sorted.
func (w *world) add(t testing.TB, vmid int, node string, cfg *pve.Config) *inventory.Container {
	t.Helper()
	text := string(cfg.Bytes())
	parsed, err := pve.ParseConfig([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	if v := parsed.Options["tags"]; v != "" {
		tags = strings.Split(v, ";")
		sort.Strings(tags)
	}
	ct := &inventory.Container{VMID: vmid, Node: node, Status: "running", Name: parsed.Options["hostname"],
		Tags: tags, ConfigText: text, Digest: pve.Digest([]byte(text)), Config: parsed}
	cl := w.cluster()
	cl.Containers = append(cl.Containers, ct)
	sort.Slice(cl.Containers, func(i, j int) bool { return cl.Containers[i].VMID < cl.Containers[j].VMID })
	g := inventory.Guest{VMID: vmid, Type: "lxc", Node: node, Name: ct.Name, Status: "running"}
	nets, _ := parsed.Nets()
	for _, n := range nets {
		if a := staticAddr(n.IP); a != "" {
			g.IPs = append(g.IPs, a)
		}
	}
	sort.Strings(g.IPs)
	cl.Guests = append(cl.Guests, g)
	sort.Slice(cl.Guests, func(i, j int) bool { return cl.Guests[i].VMID < cl.Guests[j].VMID })
	return ct
}

// addGuest adds a VM or foreign guest with no config.
func (w *world) addGuest(g inventory.Guest) {
	cl := w.cluster()
	cl.Guests = append(cl.Guests, g)
	sort.Slice(cl.Guests, func(i, j int) bool { return cl.Guests[i].VMID < cl.Guests[j].VMID })
}

// applyCreate writes what PVE would store after apply created c as planned
// on an empty world: Set values stored PVE's way, marker state ready.
func (w *world) applyCreate(t testing.TB, d *model.Desired, name string, vmid int, node string) *inventory.Container {
	t.Helper()
	p, _ := Diff(d, newWorld().s, Options{SecretKey: testKey, Resolver: w.resolverFor(d)})
	for _, ch := range p.Changes {
		if ch.Container == name && ch.Action == ActionCreate {
			return w.materialize(t, d.Container(name), ch, vmid, node)
		}
	}
	t.Fatalf("applyCreate %s: no create change", name)
	return nil
}

// materialize stores a planned create as PVE would.
func (w *world) materialize(t testing.TB, c *model.Container, ch *Change, vmid int, node string) *inventory.Container {
	t.Helper()
	cfg := pve.NewConfig()
	for k, v := range ch.Apply.Set {
		cfg.Set(k, pveStored(t, k, v, vmid))
	}
	cfg.Set("arch", archOf(c))
	cfg.Set("ostype", c.OS)
	if c.Unprivileged {
		cfg.Set("unprivileged", "1")
	}
	addrs := map[string]string{}
	if a := staticAddr(c.Network.IP); a != "" {
		addrs["eth0"] = a
	} else {
		addrs["eth0"] = "10.77.0." + strconv.Itoa(vmid%200)
	}
	m := ch.Apply.Marker.Marker(testStack, c.Name, StateReady, addrs)
	cfg.Description = m.Render(ch.Apply.Description)
	ct := w.add(t, vmid, node, cfg)
	ct.HAState = ch.Apply.HA["state"]
	return ct
}

// resolverFor resolves addresses from the world's markers, as Diff does.
func (w *world) resolverFor(d *model.Desired) Resolver {
	markers := map[string]*Marker{}
	for _, cl := range w.s.Clusters {
		for _, ct := range cl.Containers {
			if m, ok := Owns(ct.Tags, ct.Description(), testStack); ok {
				markers[m.Container] = m
			}
		}
	}
	return NewResolver(d, markers)
}

// pveStored is how PVE writes back an option lxcplan passed.
func pveStored(t testing.TB, k, v string, vmid int) string {
	t.Helper()
	switch {
	case k == "rootfs" || isIndexed(k, "mp"):
		m, err := pve.ParseMount(k, v+map[bool]string{true: ",mp=/", false: ""}[k == "rootfs"])
		if err != nil {
			t.Fatalf("%s=%s: %v", k, v, err)
		}
		if st, g, ok := m.NewVolume(); ok {
			m.Volume = st + ":vm-" + strconv.Itoa(vmid) + "-disk-" + strconv.Itoa(index0(k))
			m.Size, m.SizeSet = int64(g*float64(pve.GiB)), true
		}
		if k == "rootfs" {
			m.MP = ""
			return pve.PrintPropertyString(pve.RootfsFormat, m.Map())
		}
		return m.String()
	case isIndexed(k, "net"):
		n, err := pve.ParseNet(k, v)
		if err != nil {
			t.Fatal(err)
		}
		if n.HWAddr == "" {
			n.HWAddr = "BC:24:11:5E:0A:" + strconv.Itoa(10+vmid%80)
		}
		n.Type = "veth"
		return n.String()
	}
	return v
}

func index0(k string) int {
	if k == "rootfs" {
		return 0
	}
	return index(k) + 1
}

// find returns the change for a container.
func find(t *testing.T, p *Plan, name string) *Change {
	t.Helper()
	for _, c := range p.Changes {
		if c.Container == name {
			return c
		}
	}
	t.Fatalf("no change for %s in %+v", name, p.Changes)
	return nil
}

func changeField(ch *Change, path string) *Field {
	for i := range ch.Fields {
		if ch.Fields[i].Path == path {
			return &ch.Fields[i]
		}
	}
	return nil
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// hasDiag reports whether a diagnostic of the severity contains the text.
func hasDiag(ds diag.Diagnostics, sev diag.Severity, class diag.Class, text string) bool {
	for _, d := range ds {
		if d.Severity == sev && d.Class == class && strings.Contains(d.Summary, text) {
			return true
		}
	}
	return false
}

func plan(t *testing.T, d *model.Desired, w *world, opts ...func(*Options)) (*Plan, diag.Diagnostics) {
	t.Helper()
	o := Options{SecretKey: testKey, StackFile: "stack.yaml"}
	for _, f := range opts {
		f(&o)
	}
	return Diff(d, w.s, o)
}
