package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// sampleConfig has a description, pending changes, a snapshot and raw lxc
// lines (pve-reference §5).
const sampleConfig = `#Web server%3A nginx
#managed by lxcplan
arch: amd64
cores: 2
features: keyctl=1,nesting=1
hostname: web01
memory: 2048
net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:5E:0A:91,ip=192.168.1.50/24,gw=192.168.1.1,type=veth
net1: name=eth1,bridge=vmbr1,hwaddr=BC:24:11:5E:0A:92,ip=dhcp,ip6=fd00::50/64,type=veth
ostype: debian
parent: pre-upgrade
rootfs: local-lvm:vm-100-disk-0,size=8G
swap: 512
tags: prod;web
unprivileged: 1
lxc.cgroup2.devices.allow: c 10:200 rwm

[pve:pending]
cores: 4
delete: features

[pre-upgrade]
#before apt upgrade
arch: amd64
cores: 2
hostname: web01
memory: 2048
net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:5E:0A:91,ip=192.168.1.50/24,type=veth
ostype: debian
rootfs: local-lvm:vm-100-disk-0,size=8G
snaptime: 1717236000
swap: 512
tags: prod;web
unprivileged: 1
`

const vmConfig = `boot: order=scsi0
cores: 2
ipconfig0: ip=192.168.1.60/24,gw=192.168.1.1
ipconfig1: ip=dhcp,ip6=auto
memory: 4096
name: db-vm
net0: virtio=BC:24:11:00:00:01,bridge=vmbr0
`

func sampleCluster() *fakeCluster {
	c := bigCluster("prod", []string{"pve-a", "pve-b", "pve-c"}, 0)
	c.cts = []fakeGuest{
		{vmid: 100, node: "pve-a", status: "running", config: sampleConfig},
		{vmid: 101, node: "pve-b", status: "stopped", config: ctConfig(101, "db", "192.168.1.51/24")},
	}
	c.vms = []fakeGuest{{vmid: 200, node: "pve-c", status: "running", config: vmConfig}}
	c.storages = append(c.storages, pve.NodeStorage{Storage: "nfs-tmpl", Type: "nfs", Content: "vztmpl", Active: 0, Enabled: 1, Shared: 1})
	return c
}

func targets(hs map[string]*fakeHost) []HostTarget {
	var ts []HostTarget
	for k, h := range hs {
		ts = append(ts, HostTarget{Key: k, Runner: h})
	}
	slices.SortFunc(ts, func(a, b HostTarget) int { return strings.Compare(a.Key, b.Key) })
	return ts
}

func TestObserveCluster(t *testing.T) {
	c := sampleCluster()
	hs := map[string]*fakeHost{"h1": c.host("pve-a"), "h2": c.host("pve-b"), "h3": c.host("pve-c")}
	s, ds := Observe(context.Background(), targets(hs), Options{})
	if len(ds) != 0 {
		t.Fatalf("diagnostics: %v", ds)
	}
	if len(s.Clusters) != 1 {
		t.Fatalf("clusters: %+v", s.Clusters)
	}
	cl := s.Clusters[0]
	if cl.ID != "prod" || cl.Name != "prod" || !slices.Equal(cl.Nodes, []string{"pve-a", "pve-b", "pve-c"}) || !slices.Equal(cl.Hosts, []string{"h1", "h2", "h3"}) {
		t.Errorf("cluster: %+v", cl)
	}
	for k, node := range map[string]string{"h1": "pve-a", "h2": "pve-b", "h3": "pve-c"} {
		h := s.Host(k)
		if h == nil || h.Node != node || h.Cluster != "prod" || !h.Reachable || h.PVEVersion != "8.2.4" {
			t.Errorf("host %s: %+v", k, h)
			continue
		}
		if !slices.Equal(h.Bridges, []string{"vmbr0"}) {
			t.Errorf("host %s bridges: %v", k, h.Bridges)
		}
		if len(h.Storages) != 3 || h.Storages[1].Name != "local-lvm" || !h.Storages[1].Snapshots || h.Storages[0].Snapshots ||
			!slices.Equal(h.Storages[0].Content, []string{"backup", "iso", "vztmpl"}) || h.Storages[1].Avail != 900<<30 {
			t.Errorf("host %s storages: %+v", k, h.Storages)
		}
		// nfs-tmpl is inactive: not listed, no failure.
		if len(h.Templates) != 1 || len(h.Templates["local"]) != 1 || len(h.Warnings) != 0 {
			t.Errorf("host %s templates: %v warnings %v", k, h.Templates, h.Warnings)
		}
	}
	if s.ClusterOf("h2") != cl || s.ClusterOf("nope") != nil {
		t.Errorf("ClusterOf")
	}
	if s.HostForNode("prod", "pve-b") != "h2" || s.HostForNode("prod", "pve-z") != "" || s.HostForNode("other", "pve-b") != "" {
		t.Errorf("HostForNode")
	}

	if len(cl.Containers) != 2 {
		t.Fatalf("containers: %+v", cl.Containers)
	}
	ct := cl.Container(100)
	if ct == nil || ct.Node != "pve-a" || ct.Status != "running" || ct.Name != "web01" || !slices.Equal(ct.Tags, []string{"prod", "web"}) ||
		ct.ConfigText != sampleConfig || ct.Digest != pve.Digest([]byte(sampleConfig)) || ct.ConfigError != "" {
		t.Fatalf("container 100: %+v", ct)
	}
	if ct.Description() != "Web server: nginx\nmanaged by lxcplan\n" || !ct.HasTag("web") {
		t.Errorf("description %q", ct.Description())
	}
	if ct.Config.Pending == nil || ct.Config.Pending.Options["cores"] != "4" || ct.Config.Snapshots["pre-upgrade"] == nil {
		t.Errorf("pending/snapshot sections lost: %+v", ct.Config)
	}
	if cl.Container(101).Status != "stopped" || cl.Container(102) != nil {
		t.Errorf("container lookup")
	}
	wantGuests := []Guest{
		{VMID: 100, Type: "lxc", Node: "pve-a", Name: "web01", Status: "running", IPs: []string{"192.168.1.50", "fd00::50"}},
		{VMID: 101, Type: "lxc", Node: "pve-b", Name: "db", Status: "stopped", IPs: []string{"192.168.1.51"}},
		{VMID: 200, Type: "qemu", Node: "pve-c", Name: "db-vm", Status: "running", IPs: []string{"192.168.1.60"}},
	}
	if fmt.Sprint(cl.Guests) != fmt.Sprint(wantGuests) {
		t.Errorf("guests:\n got %+v\nwant %+v", cl.Guests, wantGuests)
	}

	// Cluster-wide commands ran once, on the first host; per-host ones on each.
	dump, res := transport.Quote(DumpConfigsArgv()), transport.Quote(pve.PveshClusterResources("vm"))
	for k, h := range hs {
		cmds := h.commands()
		n := strings.Count(strings.Join(cmds, "\n"), dump) + strings.Count(strings.Join(cmds, "\n"), res)
		if (k == "h1") != (n == 2) || (k != "h1" && n != 0) {
			t.Errorf("host %s ran cluster-wide commands %d times: %q", k, n, cmds)
		}
		if len(cmds)-n != 5 { // status, pveversion, storage, pveam list local, bridges
			t.Errorf("host %s: %d per-host commands: %q", k, len(cmds)-n, cmds)
		}
	}
}

func TestObserveUnreachable(t *testing.T) {
	c := sampleCluster()
	hs := []HostTarget{
		{Key: "h1", Dial: func(context.Context) (transport.Runner, error) {
			return nil, fmt.Errorf("%w: dial tcp 10.0.0.1:22: connect: no route to host", transport.ErrUnreachable)
		}},
		{Key: "h2", Runner: c.host("pve-b")},
		{Key: "h3"},
	}
	s, ds := Observe(context.Background(), hs, Options{})
	h1 := s.Host("h1")
	if h1 == nil || h1.Reachable || !strings.Contains(h1.Error, "no route to host") || h1.Cluster != "" {
		t.Fatalf("h1: %+v", h1)
	}
	if h3 := s.Host("h3"); h3 == nil || h3.Reachable || h3.Error == "" {
		t.Errorf("h3: %+v", h3)
	}
	if !s.Host("h2").Reachable || len(s.Clusters) != 1 || len(s.Clusters[0].Containers) != 2 {
		t.Errorf("the reachable host must still be observed: %+v", s.Clusters)
	}
	if len(ds) != 2 || !ds.HasErrors() {
		t.Fatalf("diagnostics: %v", ds)
	}
	d := ds[0]
	if d.Class != diag.ClassHost || d.Severity != diag.SevError || d.Host != "h1" || !strings.Contains(d.Error(), "h1") || !strings.Contains(d.Summary, "no route to host") {
		t.Errorf("diagnostic: %+v", d)
	}
	var de *diag.Error
	if !errors.As(ds.Err(), &de) || de.Class() != diag.ClassHost {
		t.Errorf("exit class: %v", ds.Err())
	}
}

func TestObserveFallback(t *testing.T) {
	c := sampleCluster()
	h1, h2 := c.host("pve-a"), c.host("pve-b")
	h1.fail = func(argv []string) error {
		if slices.Equal(argv, DumpConfigsArgv()) {
			return exitErr("h1", argv, 1, "sh: 1: cd: can't cd to /etc/pve/nodes\n")
		}
		return nil
	}
	s, ds := Observe(context.Background(), targets(map[string]*fakeHost{"h1": h1, "h2": h2}), Options{})
	if len(ds) != 0 || s.Clusters[0].Error != "" || len(s.Clusters[0].Containers) != 2 {
		t.Fatalf("fallback failed: %v %+v", ds, s.Clusters[0])
	}
	if !slices.Contains(h2.commands(), transport.Quote(DumpConfigsArgv())) {
		t.Errorf("h2 was not asked: %q", h2.commands())
	}

	// Every host fails: the cluster is unknown, and says why.
	h2.fail = h1.fail
	s, ds = Observe(context.Background(), targets(map[string]*fakeHost{"h1": h1, "h2": h2}), Options{})
	cl := s.Clusters[0]
	if cl.Error == "" || len(cl.Containers) != 0 || !strings.Contains(cl.Error, "via h1") || !strings.Contains(cl.Error, "via h2") {
		t.Fatalf("cluster: %+v", cl)
	}
	if len(ds) != 1 || ds[0].Severity != diag.SevError || ds[0].Class != diag.ClassHost || ds[0].Host != "h1" ||
		!strings.Contains(ds[0].Summary, "cluster prod") {
		t.Errorf("diagnostics: %v", ds)
	}
}

func TestObservePartialFailures(t *testing.T) {
	c := sampleCluster()
	c.cts = append(c.cts,
		fakeGuest{vmid: 102, node: "pve-a", status: "running", config: ctConfig(102, "gone", "dhcp"), noFile: true},
		fakeGuest{vmid: 103, node: "pve-c", config: ctConfig(103, "new", "dhcp"), noResource: true},
		fakeGuest{vmid: 104, node: "pve-c", status: "stopped", config: "arch: amd64\nbogus line\nhostname: odd\n"},
	)
	h := c.host("pve-a")
	h.fail = func(argv []string) error {
		if argv[0] == "ip" || argv[0] == "pveversion" {
			return exitErr("h1", argv, 127, "sh: 1: "+argv[0]+": not found\n")
		}
		return nil
	}
	delete(c.templates, "local")
	s, ds := Observe(context.Background(), []HostTarget{{Key: "h1", Runner: h}}, Options{})
	host := s.Host("h1")
	if !host.Reachable || host.Bridges != nil || host.PVEVersion != "" || len(host.Warnings) != 3 {
		t.Errorf("host: %+v", host)
	}
	cl := s.Clusters[0]
	if ct := cl.Container(102); ct == nil || ct.ConfigError == "" || ct.Config != nil {
		t.Errorf("102 (listed, no file) must be unknown: %+v", ct)
	}
	if ct := cl.Container(103); ct == nil || ct.Status != "" || ct.Node != "pve-c" || ct.Config == nil {
		t.Errorf("103 (file, not listed): %+v", ct)
	}
	if ct := cl.Container(104); ct == nil || ct.Config == nil || len(ct.Config.Warnings) == 0 {
		t.Errorf("104 (bad line): %+v", ct)
	}
	if ds.HasErrors() {
		t.Errorf("partial failures are warnings: %v", ds)
	}
	// 3 host warnings, 102's missing file, 104's bad line.
	if len(ds) != 5 {
		t.Errorf("diagnostics %d: %v", len(ds), ds)
	}
}

func TestGroupClusters(t *testing.T) {
	a := bigCluster("lab", []string{"n1", "n2"}, 1)
	b := bigCluster("lab", []string{"m1", "m2"}, 2) // same name, other members
	x := bigCluster("", []string{"pve"}, 3)
	y := bigCluster("", []string{"pve"}, 4) // another machine with the default name
	hs := map[string]*fakeHost{
		"a1": a.host("n1"), "a2": a.host("n2"), "b1": b.host("m2"),
		"x": x.host("pve"), "y": y.host("pve"),
	}
	s, ds := Observe(context.Background(), targets(hs), Options{Parallelism: 2})
	if len(ds) != 0 {
		t.Fatalf("diagnostics: %v", ds)
	}
	var ids []string
	for _, c := range s.Clusters {
		ids = append(ids, fmt.Sprintf("%s=%v:%d", c.ID, c.Hosts, len(c.Containers)))
	}
	want := []string{"lab@a1=[a1 a2]:1", "lab@b1=[b1]:2", "pve@x=[x]:3", "pve@y=[y]:4"}
	if !slices.Equal(ids, want) {
		t.Errorf("clusters %q, want %q", ids, want)
	}
	if s.Host("x").Cluster != "pve@x" || s.Clusters[2].Name != "" || !slices.Equal(s.Clusters[2].Nodes, []string{"pve"}) {
		t.Errorf("standalone: %+v %+v", s.Host("x"), s.Clusters[2])
	}
}

// TestCommandCountIndependentOfContainers is the target: the number
// of remote commands does not grow with the number of containers.
func TestCommandCountIndependentOfContainers(t *testing.T) {
	count := func(n int) map[string]int {
		nodes := []string{"pve1", "pve2", "pve3", "pve4", "pve5", "pve6", "pve7", "pve8", "pve9", "pve10"}
		c := bigCluster("big", nodes, n)
		hs := map[string]*fakeHost{}
		for _, node := range nodes {
			hs["host-"+node] = c.host(node)
		}
		s, ds := Observe(context.Background(), targets(hs), Options{})
		if len(ds) != 0 || len(s.Clusters) != 1 || len(s.Clusters[0].Containers) != n {
			t.Fatalf("observe %d: %v", n, ds)
		}
		out := map[string]int{}
		for k, h := range hs {
			out[k] = len(h.commands())
		}
		return out
	}
	small, large := count(10), count(1000)
	if fmt.Sprint(small) != fmt.Sprint(large) {
		t.Errorf("commands per host grow with containers:\n  10: %v\n1000: %v", small, large)
	}
	total := 0
	for _, v := range large {
		total += v
	}
	t.Logf("commands for 10 nodes, 1000 containers: %d (%v)", total, large)
}

func TestObserveCancelled(t *testing.T) {
	c := sampleCluster()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, ds := Observe(ctx, []HostTarget{{Key: "h1", Runner: c.host("pve-a")}}, Options{})
	if s.Host("h1").Reachable || !ds.HasErrors() {
		t.Errorf("cancelled observe: %+v %v", s.Host("h1"), ds)
	}
}
