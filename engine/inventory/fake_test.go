package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// fakeCluster is a scripted PVE cluster for unit tests: enough of each
// command's output for the observer, built with engine/pve's formatters.
type fakeCluster struct {
	name      string // "" for a standalone node
	nodes     []string
	cts       []fakeGuest
	vms       []fakeGuest
	storages  []pve.NodeStorage
	templates map[string][]string // storage → volids
	bridges   []string
	// latency is added to every command (benchmarks).
	latency time.Duration
}

type fakeGuest struct {
	vmid   int
	node   string
	status string
	config string
	// noFile leaves the guest out of the config dump (destroyed mid-read).
	noFile bool
	// noResource leaves it out of /cluster/resources (created mid-read).
	noResource bool
}

// fakeHost is one node of a fakeCluster, as a transport.Runner that records
// what it ran.
type fakeHost struct {
	cl   *fakeCluster
	node string
	// fail, when it returns non-nil, makes the command fail with that error.
	fail func(argv []string) error

	mu   sync.Mutex
	cmds []string
}

func (c *fakeCluster) host(node string) *fakeHost { return &fakeHost{cl: c, node: node} }

func (h *fakeHost) commands() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.cmds...)
}

func exitErr(h string, argv []string, code int, stderr string) error {
	return &transport.ExitError{Host: h, Argv: argv, Code: code, Stderr: []byte(stderr)}
}

func (h *fakeHost) Run(ctx context.Context, c transport.Command) (transport.Result, error) {
	if !c.ReadOnly {
		return transport.Result{}, fmt.Errorf("%s: command not marked read-only", transport.Quote(c.Argv))
	}
	h.mu.Lock()
	h.cmds = append(h.cmds, transport.Quote(c.Argv))
	h.mu.Unlock()
	if h.cl.latency > 0 {
		time.Sleep(h.cl.latency)
	}
	if err := ctx.Err(); err != nil {
		return transport.Result{}, fmt.Errorf("%w: %w", transport.ErrCancelled, err)
	}
	if h.fail != nil {
		if err := h.fail(c.Argv); err != nil {
			var ee *transport.ExitError
			if asExit(err, &ee) {
				return transport.Result{Stderr: ee.Stderr, ExitCode: ee.Code}, err
			}
			return transport.Result{}, err
		}
	}
	out, err := h.answer(c.Argv)
	if err != nil {
		return transport.Result{Stderr: []byte(err.Error()), ExitCode: 127}, exitErr(h.node, c.Argv, 127, err.Error())
	}
	return transport.Result{Stdout: out}, nil
}

func asExit(err error, ee **transport.ExitError) bool {
	e, ok := err.(*transport.ExitError)
	if ok {
		*ee = e
	}
	return ok
}

func (h *fakeHost) answer(argv []string) ([]byte, error) {
	q := transport.Quote(argv)
	c := h.cl
	switch q {
	case transport.Quote(pve.PveshGet(pve.PathClusterStatus)):
		var out []map[string]any
		if c.name != "" {
			out = append(out, map[string]any{"type": "cluster", "id": "cluster", "name": c.name, "nodes": len(c.nodes), "quorate": 1, "version": 3})
		}
		for i, n := range c.nodes {
			if c.name == "" && n != h.node {
				continue
			}
			local := 0
			if n == h.node {
				local = 1
			}
			out = append(out, map[string]any{"type": "node", "id": "node/" + n, "name": n, "nodeid": i + 1, "ip": "10.0.0.1", "local": local, "online": 1})
		}
		return jsonLine(out), nil
	case transport.Quote(pve.Pveversion(false)):
		return []byte("pve-manager/8.2.4/faa83925c9641325 (running kernel: 6.8.8-2-pve)\n"), nil
	case transport.Quote(pve.PveshGet(pve.PathNodeStorage(h.node))):
		return jsonLine(c.storages), nil
	case transport.Quote(bridgesArgv):
		var b strings.Builder
		for i, br := range c.bridges {
			fmt.Fprintf(&b, "%d: %s: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether aa:bb:cc:dd:ee:%02x brd ff:ff:ff:ff:ff:ff\n", i+3, br, i)
		}
		return []byte(b.String()), nil
	case transport.Quote(pve.PveshClusterResources("vm")):
		var out []map[string]any
		add := func(typ string, g fakeGuest) {
			if g.noResource {
				return
			}
			name := ""
			if cfg, err := pve.ParseConfig([]byte(g.config)); err == nil {
				name, _ = cfg.Get("hostname")
				if typ == "qemu" {
					name, _ = cfg.Get("name")
				}
			}
			out = append(out, map[string]any{"id": fmt.Sprintf("%s/%d", typ, g.vmid), "type": typ, "vmid": g.vmid, "node": g.node, "status": g.status, "name": name, "template": 0})
		}
		for _, g := range c.cts {
			add("lxc", g)
		}
		for _, g := range c.vms {
			add("qemu", g)
		}
		return jsonLine(out), nil
	case transport.Quote(DumpConfigsArgv()):
		var files []dumpFile
		for _, g := range c.cts {
			if !g.noFile {
				files = append(files, dumpFile{Node: g.node, Kind: kindLXC, VMID: g.vmid, Data: []byte(g.config)})
			}
		}
		for _, g := range c.vms {
			if !g.noFile {
				files = append(files, dumpFile{Node: g.node, Kind: kindQemu, VMID: g.vmid, Data: []byte(g.config)})
			}
		}
		return formatDump(files), nil
	}
	if len(argv) == 3 && argv[0] == "pct" && argv[1] == "config" {
		for _, g := range c.cts {
			if fmt.Sprint(g.vmid) == argv[2] && g.node == h.node {
				cfg, err := pve.ParseConfig([]byte(g.config))
				if err != nil {
					return nil, err
				}
				return pve.FormatPctConfig(&cfg.Section), nil
			}
		}
		return nil, fmt.Errorf("Configuration file 'nodes/%s/lxc/%s.conf' does not exist", h.node, argv[2])
	}
	if len(argv) == 3 && argv[0] == "pveam" && argv[1] == "list" {
		vols, ok := c.templates[argv[2]]
		if !ok {
			return nil, fmt.Errorf("storage '%s' does not exist", argv[2])
		}
		ts := make([]pve.StoredTemplate, len(vols))
		for i, v := range vols {
			ts[i] = pve.StoredTemplate{VolID: v, Size: 120 << 20}
		}
		return pve.FormatPveamList(ts), nil
	}
	return nil, fmt.Errorf("sh: 1: %s: not found", argv[0])
}

func jsonLine(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// formatDump prints files as the dump script does on a real node.
func formatDump(files []dumpFile) []byte { return pve.FormatConfigDump(files) }

// ctConfig is a typical config written by PVE for container vmid.
func ctConfig(vmid int, hostname, ip string) string {
	return fmt.Sprintf(`#managed by lxcplan
#stack%%3A web
arch: amd64
cores: 2
hostname: %s
memory: 1024
net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:%02X:%02X,ip=%s,type=veth
ostype: debian
rootfs: local-lvm:vm-%d-disk-0,size=8G
swap: 512
tags: lxcplan;web
unprivileged: 1
`, hostname, vmid/256%256, vmid%256, ip, vmid)
}

// bigCluster builds a cluster of nodes with n containers spread over them.
func bigCluster(name string, nodes []string, n int) *fakeCluster {
	c := &fakeCluster{
		name:  name,
		nodes: nodes,
		storages: []pve.NodeStorage{
			{Storage: "local", Type: "dir", Content: "vztmpl,iso,backup", Active: 1, Enabled: 1, Total: 100 << 30, Avail: 80 << 30},
			{Storage: "local-lvm", Type: "lvmthin", Content: "rootdir,images", Active: 1, Enabled: 1, Total: 1 << 40, Avail: 900 << 30},
		},
		templates: map[string][]string{"local": {"local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"}},
		bridges:   []string{"vmbr0"},
	}
	for i := 0; i < n; i++ {
		vmid := 100 + i
		c.cts = append(c.cts, fakeGuest{
			vmid: vmid, node: nodes[i%len(nodes)], status: "running",
			config: ctConfig(vmid, fmt.Sprintf("ct%d", vmid), fmt.Sprintf("10.%d.%d.%d/16", vmid>>16&255, vmid>>8&255, vmid&255)),
		})
	}
	return c
}
