package inventory

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/transport"
	"github.com/lxcplan/lxcplan/engine/transport/ssh"
	"github.com/lxcplan/lxcplan/engine/transport/ssh/sshtest"
)

// handlerRunner runs commands straight through a handler, without SSH (tier 1).
type handlerRunner struct {
	host string
	h    sshtest.Handler
}

func (r handlerRunner) Run(ctx context.Context, c transport.Command) (transport.Result, error) {
	var o, e bytes.Buffer
	code := r.h.Exec(ctx, transport.Quote(c.Argv), c.Stdin, &o, &e)
	res := transport.Result{Stdout: o.Bytes(), Stderr: e.Bytes(), ExitCode: code}
	if code != 0 {
		return res, &transport.ExitError{Host: r.host, Argv: c.Argv, Code: code, Stderr: e.Bytes()}
	}
	return res, nil
}

// newSim builds a pvesim memory cluster of nodes holding n containers
// spread round-robin. The configs are written straight into the cluster
// directory, as `pct create` leaves them, because creating a thousand
// containers through pct would dominate the test time.
func newSim(tb testing.TB, nodes []string, n int) *pvesim.Cluster {
	tb.Helper()
	c, err := pvesim.NewMemoryCluster(nodes...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	for i := 0; i < n; i++ {
		vmid := 100 + i
		node := nodes[i%len(nodes)]
		p := filepath.Join(c.Dir, "nodes", node, "lxc", strconv.Itoa(vmid)+".conf")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		cfg := ctConfig(vmid, fmt.Sprintf("ct%d", vmid), fmt.Sprintf("10.%d.%d.%d/16", vmid>>16&255, vmid>>8&255, vmid&255))
		if err := os.WriteFile(p, []byte(cfg), 0o640); err != nil {
			tb.Fatal(err)
		}
	}
	return c
}

// simHandlerFor is the SSH adapter of one pvesim node: it answers the
// config dump and `ip -o link show type bridge` itself.
func simHandlerFor(tb testing.TB, c *pvesim.Cluster, node string) *pvesim.SSHHandler {
	n, ok := c.Node(node)
	if !ok {
		tb.Fatalf("no node %s", node)
	}
	return n.Handler()
}

func TestObservePvesim(t *testing.T) {
	c := newSim(t, []string{"pve1", "pve2"}, 0)
	h1 := simHandlerFor(t, c, "pve1")
	run := func(cmd string) {
		t.Helper()
		var o, e bytes.Buffer
		if code := h1.Exec(context.Background(), cmd, nil, &o, &e); code != 0 {
			t.Fatalf("%s: %d %s", cmd, code, e.String())
		}
	}
	run("pveam download local debian-12-standard_12.7-1_amd64.tar.zst")
	run("pct create 100 local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst --storage local-lvm --hostname web01 --net0 name=eth0,bridge=vmbr0,ip=10.0.0.5/24 --tags lxcplan,web --description 'managed by lxcplan'")
	run("pct create 101 local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst --storage local-lvm --hostname db")
	run("pct migrate 101 pve2")
	run("pct start 100")
	run("pct set 100 --cores 4")
	run("pct snapshot 100 before")

	targets := []HostTarget{
		{Key: "alpha", Runner: handlerRunner{"alpha", h1}},
		{Key: "beta", Runner: handlerRunner{"beta", simHandlerFor(t, c, "pve2")}},
	}
	s, ds := Observe(context.Background(), targets, Options{})
	if len(ds) != 0 {
		t.Fatalf("diagnostics: %v", ds)
	}
	if s.Host("alpha").Node != "pve1" || s.Host("beta").Node != "pve2" || len(s.Clusters) != 1 {
		t.Fatalf("hosts: %+v %+v", s.Host("alpha"), s.Clusters)
	}
	a := s.Host("alpha")
	if a.PVEVersion == "" || len(a.Storages) == 0 || !slicesContain(a.Templates["local"], "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst") ||
		len(a.Bridges) != 1 || len(a.Warnings) != 0 {
		t.Errorf("alpha: %+v", a)
	}
	cl := s.Clusters[0]
	web, db := cl.Container(100), cl.Container(101)
	if web == nil || db == nil {
		t.Fatalf("containers: %+v", cl.Containers)
	}
	if web.Node != "pve1" || web.Status != "running" || !web.HasTag("lxcplan") || web.Description() != "managed by lxcplan\n" ||
		web.Config.Snapshots["before"] == nil || len(cl.Guests) != 2 || !slicesContain(cl.Guests[0].IPs, "10.0.0.5") {
		t.Errorf("web: %+v guests %+v", web, cl.Guests)
	}
	if db.Node != "pve2" || db.Status != "stopped" || db.Name != "db" {
		t.Errorf("db: %+v", db)
	}
	// What the config dump read is what pct config reads.
	var o bytes.Buffer
	h1.Exec(context.Background(), "pct config 100", nil, &o, io.Discard)
	sec, err := pve.ParsePctConfig(o.Bytes())
	if err != nil || sec.Options["cores"] != web.Config.Options["cores"] || sec.Options["hostname"] != "web01" {
		t.Errorf("pct config %v: %q vs %+v", err, o.String(), web.Config.Options)
	}

	// Offline: export and read back gives the same state.
	var buf bytes.Buffer
	if err := s.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&buf)
	if err != nil || back.Clusters[0].Container(100).Digest != web.Digest {
		t.Fatalf("read back: %v", err)
	}
}

func slicesContain(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// sshSim serves every node of c through its own in-process SSH server and
// dials one client per node: the whole real path from argv to pvesim.
type sshSim struct {
	servers map[string]*sshtest.Server // by host key
	clients map[string]*ssh.Client
	keys    []string
	nodeOf  map[string]string
}

func newSSHSim(tb testing.TB, c *pvesim.Cluster, nodes []string) *sshSim {
	tb.Helper()
	s := &sshSim{servers: map[string]*sshtest.Server{}, clients: map[string]*ssh.Client{}, nodeOf: map[string]string{}}
	for _, node := range nodes {
		key := "host-" + node
		srv := sshtest.Start(tb, sshtest.WithHandler(simHandlerFor(tb, c, node)))
		cl, err := ssh.Dial(context.Background(), ssh.Config{
			Name: key, Address: srv.Addr(), IdentityFile: srv.IdentityFile(),
			KnownHostsFile: srv.KnownHostsFile(), SSHConfigFile: "none", KeepAlive: -1,
		})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { cl.Close() })
		s.servers[key], s.clients[key], s.nodeOf[key] = srv, cl, node
		s.keys = append(s.keys, key)
	}
	sort.Strings(s.keys)
	return s
}

func (s *sshSim) targets() []HostTarget {
	var ts []HostTarget
	for _, k := range s.keys {
		ts = append(ts, HostTarget{Key: k, Runner: s.clients[k]})
	}
	return ts
}

func (s *sshSim) commands() int {
	n := 0
	for _, srv := range s.servers {
		n += len(srv.Commands())
	}
	return n
}

// observeNaive is the baseline the issue compares against: learn each
// host's node, list the guests once, then one `pct config` per container on
// the node that owns it (4 at a time per host, the default per-host limit).
func observeNaive(ctx context.Context, ts []HostTarget) (map[int]*pve.Section, error) {
	nodeRunner := map[string]transport.Runner{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for _, t := range ts {
		g.Go(func() error {
			o := &hostObs{target: t, runner: t.Runner, host: &Host{Key: t.Key}}
			if err := o.readIdentity(gctx); err != nil {
				return err
			}
			mu.Lock()
			nodeRunner[o.host.Node] = t.Runner
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res, err := ts[0].Runner.Run(ctx, transport.Command{Argv: pve.PveshClusterResources("vm"), ReadOnly: true})
	if err != nil {
		return nil, err
	}
	guests, err := pve.ParseClusterResources(res.Stdout)
	if err != nil {
		return nil, err
	}
	out := map[int]*pve.Section{}
	byNode := map[string][]int{}
	for _, r := range guests {
		if r.Type == "lxc" {
			byNode[r.Node] = append(byNode[r.Node], int(r.VMID.Int()))
		}
	}
	g, gctx = errgroup.WithContext(ctx)
	for node, ids := range byNode {
		r := nodeRunner[node]
		if r == nil {
			return nil, fmt.Errorf("no host for node %s", node)
		}
		sem := make(chan struct{}, 4)
		for _, id := range ids {
			g.Go(func() error {
				sem <- struct{}{}
				defer func() { <-sem }()
				res, err := r.Run(gctx, transport.Command{Argv: pve.PctConfig(id, pve.ConfigQuery{}), ReadOnly: true})
				if err != nil {
					return err
				}
				sec, err := pve.ParsePctConfig(res.Stdout)
				if err != nil {
					return fmt.Errorf("pct config %d: %w", id, err)
				}
				mu.Lock()
				out[id] = sec
				mu.Unlock()
				return nil
			})
		}
	}
	return out, g.Wait()
}

var benchNodes = []string{"pve1", "pve2", "pve3", "pve4", "pve5", "pve6", "pve7", "pve8", "pve9", "pve10"}

// TestObserveSSHSim observes a 10-node, 1000-container pvesim cluster over
// SSH with both observers and compares what they saw and what they cost.
func TestObserveSSHSim(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 containers over SSH")
	}
	c := newSim(t, benchNodes, 1000)
	sim := newSSHSim(t, c, benchNodes)
	before := sim.commands()
	s, ds := Observe(context.Background(), sim.targets(), Options{})
	ours := sim.commands() - before
	if len(ds) != 0 || len(s.Clusters) != 1 || len(s.Clusters[0].Containers) != 1000 {
		t.Fatalf("observe: %v", ds)
	}
	before = sim.commands()
	naive, err := observeNaive(context.Background(), sim.targets())
	if err != nil {
		t.Fatal(err)
	}
	theirs := sim.commands() - before
	for _, ct := range s.Clusters[0].Containers {
		sec := naive[ct.VMID]
		if sec == nil || fmt.Sprint(sec.Options) != fmt.Sprint(ct.Config.Options) || sec.Description != ct.Config.Description {
			t.Fatalf("container %d: naive %+v, dump %+v", ct.VMID, sec, ct.Config.Section)
		}
	}
	if ours >= 100 {
		t.Errorf("%d commands for 10 hosts", ours)
	}
	t.Logf("remote commands: observer %d, naive %d (%.1fx fewer)", ours, theirs, float64(theirs)/float64(ours))
}

func BenchmarkObserve1000Containers10Nodes(b *testing.B) {
	c := newSim(b, benchNodes, 1000)
	sim := newSSHSim(b, c, benchNodes)
	before := sim.commands()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, ds := Observe(context.Background(), sim.targets(), Options{})
		if len(ds) != 0 || len(s.Clusters[0].Containers) != 1000 {
			b.Fatalf("observe: %v", ds)
		}
	}
	b.ReportMetric(float64(sim.commands()-before)/float64(b.N), "cmds/op")
}

func BenchmarkObserveNaive(b *testing.B) {
	c := newSim(b, benchNodes, 1000)
	sim := newSSHSim(b, c, benchNodes)
	before := sim.commands()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := observeNaive(context.Background(), sim.targets())
		if err != nil || len(out) != 1000 {
			b.Fatalf("naive: %v (%d)", err, len(out))
		}
	}
	b.ReportMetric(float64(sim.commands()-before)/float64(b.N), "cmds/op")
}

// The same pair against the scripted fake with 1 ms per command: what the
// observers cost when the simulator's own work is out of the picture and
// only round trips count (a real pct or pvesh call costs far more: PVE's
// Perl tools take a few hundred milliseconds to start).
func benchFake(b *testing.B, naive bool) {
	c := bigCluster("big", benchNodes, 1000)
	c.latency = time.Millisecond
	var hs []*fakeHost
	var ts []HostTarget
	for _, n := range benchNodes {
		h := c.host(n)
		hs = append(hs, h)
		ts = append(ts, HostTarget{Key: "host-" + n, Runner: h})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if naive {
			if out, err := observeNaive(context.Background(), ts); err != nil || len(out) != 1000 {
				b.Fatalf("naive: %v", err)
			}
		} else if s, ds := Observe(context.Background(), ts, Options{}); len(ds) != 0 || len(s.Clusters[0].Containers) != 1000 {
			b.Fatalf("observe: %v", ds)
		}
	}
	n := 0
	for _, h := range hs {
		n += len(h.commands())
	}
	b.ReportMetric(float64(n)/float64(b.N), "cmds/op")
}

func BenchmarkObserveFake1msLatency(b *testing.B)      { benchFake(b, false) }
func BenchmarkObserveNaiveFake1msLatency(b *testing.B) { benchFake(b, true) }

// TestObservePvesimFault: pvesim's fault injection fails the first guest
// list; the observer reads the cluster through the next host instead.
func TestObservePvesimFault(t *testing.T) {
	c := newSim(t, []string{"pve1", "pve2"}, 4)
	if err := c.FailOn("pvesh", "cluster/resources", 1, "ipcc_send_rec[1] failed: Connection refused\n", 255); err != nil {
		t.Fatal(err)
	}
	targets := []HostTarget{
		{Key: "a", Runner: handlerRunner{"a", simHandlerFor(t, c, "pve1")}},
		{Key: "b", Runner: handlerRunner{"b", simHandlerFor(t, c, "pve2")}},
	}
	s, ds := Observe(context.Background(), targets, Options{})
	if len(ds) != 0 || s.Clusters[0].Error != "" || len(s.Clusters[0].Containers) != 4 {
		t.Fatalf("fallback: %v %+v", ds, s.Clusters[0])
	}
	var ran []string
	for _, e := range c.Commands() {
		ran = append(ran, fmt.Sprint(e))
	}
	if n := strings.Count(strings.Join(ran, "\n"), "cluster/resources"); n != 2 {
		t.Errorf("guest list ran %d times, want 2 (one failure, one fallback):\n%s", n, strings.Join(ran, "\n"))
	}
}
