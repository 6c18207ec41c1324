// Package plans_test keeps the golden plans of plans/: for each case, a
// fixed inventory snapshot (observed.json) and the plan of a stack against
// it in the three formats (plan.json, plan.txt, plan.md).
//
// Plain `go test ./plans` plans every case from its committed
// observed.json, offline, and compares. `go test ./plans -update` first
// rebuilds every observed.json by applying a stack to a simulated
// two-node cluster (pvesim's memory runtime), making the case's edits by
// hand with pct, and observing it with the real observer; then it rewrites
// the plans. Review the diff like a plan.
package plans_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/render"
	"github.com/lxcplan/lxcplan/engine/transport"
	"github.com/lxcplan/lxcplan/schema"
)

var update = flag.Bool("update", false, "rewrite golden files")

// planCase is one directory of plans/.
type planCase struct {
	dir string
	// stack is planned against the snapshot; applied was applied to the
	// simulator to make the snapshot ("" for an empty cluster). Both are
	// relative to plans/.
	stack, applied string
	// interrupted lists containers whose create "crashed": their marker
	// stays in state creating.
	interrupted []string
	// edit makes hand changes on the simulator after the apply.
	edit func(t *testing.T, s *sim)
	// down lists hosts that cannot be reached when the snapshot is taken.
	down []string
	// exit is what `plan --detailed-exitcode` returns.
	exit int
	// want is the action of each container the plan lists.
	want map[string]plan.Action
}

const demo = "demo/stack.yaml"

var cases = []planCase{
	{dir: "empty", stack: demo, exit: 2,
		want: map[string]plan.Action{"cache": plan.ActionCreate, "db": plan.ActionCreate, "web": plan.ActionCreate}},
	{dir: "applied", stack: demo, applied: demo, exit: 0,
		want: map[string]plan.Action{"cache": plan.ActionNoOp, "db": plan.ActionNoOp, "web": plan.ActionNoOp}},
	{dir: "drift", stack: demo, applied: demo, exit: 2,
		edit: func(t *testing.T, s *sim) { s.run(t, "pve2", "pct", "set", "100", "--memory", "2048") },
		want: map[string]plan.Action{"cache": plan.ActionUpdate, "db": plan.ActionNoOp, "web": plan.ActionNoOp}},
	{dir: "template-change", stack: "template-change/stack.yaml", applied: demo, exit: 3,
		want: map[string]plan.Action{"cache": plan.ActionReplace, "db": plan.ActionNoOp, "web": plan.ActionNoOp}},
	{dir: "removed", stack: "removed/stack.yaml", applied: demo, exit: 3,
		want: map[string]plan.Action{"cache": plan.ActionNoOp, "db": plan.ActionNoOp, "web": plan.ActionDestroy}},
	{dir: "reprovision", stack: "reprovision/stack.yaml", applied: "reprovision/applied/stack.yaml", exit: 2,
		want: map[string]plan.Action{"hello": plan.ActionReprovision}},
	{dir: "migrate", stack: "migrate/stack.yaml", applied: demo, exit: 2,
		want: map[string]plan.Action{"cache": plan.ActionMigrate, "db": plan.ActionNoOp, "web": plan.ActionNoOp}},
	{dir: "vmid-taken", stack: "vmid-taken/stack.yaml", exit: 1,
		edit: func(t *testing.T, s *sim) {
			// A guest made by hand, without lxcplan's tags and marker.
			s.run(t, "pve1", "pct", "create", "150", "local:vztmpl/"+debian12, "--hostname", "legacy",
				"--rootfs", "local-lvm:2", "--net0", "name=eth0,bridge=vmbr0,ip=dhcp")
		},
		want: map[string]plan.Action{"cache": plan.ActionCreate, "db": plan.ActionCreate, "web": plan.ActionCreate}},
	{dir: "interrupted", stack: demo, applied: demo, interrupted: []string{"web"}, exit: 3,
		want: map[string]plan.Action{"cache": plan.ActionNoOp, "db": plan.ActionNoOp, "web": plan.ActionReplace}},
	// Not in the list, but the rule it illustrates matters most:
	// containers on a host that cannot be observed are unknown, never
	// "create", and the plan fails.
	{dir: "unreachable", stack: demo, applied: demo, down: []string{"pve2"}, exit: 1,
		want: map[string]plan.Action{"cache": plan.ActionNoOp, "db": plan.ActionNoOp, "web": plan.ActionNoOp}},
}

// debian12 is the template the stacks resolve to (on every node's local
// storage in the snapshots).
const debian12 = "debian-12-standard_12.7-1_amd64.tar.zst"

func loadStack(t testing.TB, path string) *model.Desired {
	t.Helper()
	// No environment: the demo's ${LAB_*:-default} take their defaults, so
	// the plans do not depend on who runs the test.
	opts := manifest.Options{Env: map[string]string{}, UserDefaultsFile: "-"}
	st, ds := manifest.LoadStackFile(path, opts)
	if ds.HasErrors() {
		t.Fatalf("%s: %v", path, ds.Err())
	}
	d, rds := manifest.Resolve(st, opts)
	if rds.HasErrors() {
		t.Fatalf("%s: %v", path, rds.Err())
	}
	return d
}

func TestPlans(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.dir, func(t *testing.T) {
			if *update {
				writeSnapshot(t, tc)
			}
			f, err := os.Open(filepath.Join(tc.dir, "observed.json"))
			if err != nil {
				t.Fatalf("%v (run go test ./plans -update to create it)", err)
			}
			obs, err := inventory.ReadJSON(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			d := loadStack(t, tc.stack)
			p, ds := plan.Diff(d, obs, plan.Options{StackFile: tc.stack})

			var js, txt, md bytes.Buffer
			if err := render.PlanJSON(&js, p); err != nil {
				t.Fatal(err)
			}
			if err := render.PlanText(&txt, p, render.PlanTextOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := render.PlanMarkdown(&md, p); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(tc.dir, "plan.json"), js.Bytes())
			golden(t, filepath.Join(tc.dir, "plan.txt"), txt.Bytes())
			golden(t, filepath.Join(tc.dir, "plan.md"), md.Bytes())

			validatePlan(t, js.Bytes())
			for _, ch := range p.Changes {
				if want, ok := tc.want[ch.Container]; !ok || ch.Action != want {
					t.Errorf("%s: action %s, want %s", ch.Container, ch.Action, want)
				}
				if down := obs.Host(ch.Host) != nil && !obs.Host(ch.Host).Reachable; ch.Unknown != down {
					t.Errorf("%s: unknown %v, host down %v", ch.Container, ch.Unknown, down)
				}
			}
			if len(p.Changes) != len(tc.want) {
				t.Errorf("%d changes, want %d", len(p.Changes), len(tc.want))
			}
			if got := ExitCode(p, ds.HasErrors()); got != tc.exit {
				t.Errorf("detailed exit code %d, want %d", got, tc.exit)
			}
		})
	}
}

// ExitCode is `plan --detailed-exitcode`'s code for a plan (the CLI test
// checks the binary agrees).
func ExitCode(p *plan.Plan, hasErrors bool) int {
	switch {
	case hasErrors:
		return 1
	case p.Destructive:
		return 3
	case p.HasChanges():
		return 2
	}
	return 0
}

func validatePlan(t *testing.T, b []byte) {
	t.Helper()
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, v := range schema.Validate(schema.Plan, doc) {
		t.Errorf("plan.json: %s: %s", strings.Join(v.Path, "."), v.Message)
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./plans -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (rerun with -update if intended)\n--- got\n%s", path, got)
	}
}

// sim is a simulated cluster with a runner per node.
type sim struct {
	c       *pvesim.Cluster
	runners map[string]transport.Runner
}

func newSim(t *testing.T) *sim {
	t.Helper()
	c, err := pvesim.NewMemoryCluster("pve1", "pve2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &sim{c: c, runners: map[string]transport.Runner{}}
	for _, name := range c.Nodes() {
		n, _ := c.Node(name)
		s.runners[name] = handlerRunner{host: name, h: n.Handler()}
	}
	// Templates the stacks use are on every node's local storage, as after
	// a first apply.
	for _, node := range c.Nodes() {
		s.run(t, node, "pveam", "download", "local", debian12)
	}
	return s
}

func (s *sim) run(t *testing.T, node string, argv ...string) string {
	t.Helper()
	r, ok := s.runners[node]
	if !ok {
		t.Fatalf("no node %s", node)
	}
	res, err := r.Run(context.Background(), transport.Command{Argv: argv})
	if err != nil {
		t.Fatalf("%s: %s: %v", node, transport.Quote(argv), err)
	}
	return string(res.Stdout)
}

// observe reads the hosts with the real observer; the down hosts refuse
// the connection.
func (s *sim) observe(t *testing.T, hosts []string, down ...string) *inventory.State {
	t.Helper()
	var targets []inventory.HostTarget
	for _, h := range hosts {
		tg := inventory.HostTarget{Key: h, Runner: s.runners[h]}
		if contains(down, h) {
			tg.Runner = nil
			tg.Dial = func(context.Context) (transport.Runner, error) {
				return nil, fmt.Errorf("%w: dial tcp 192.0.2.2:22: connect: connection refused", transport.ErrUnreachable)
			}
		}
		targets = append(targets, tg)
	}
	st, ds := inventory.Observe(context.Background(), targets, inventory.Options{})
	if ds.HasErrors() && len(down) == 0 {
		t.Fatalf("observe: %v", ds.Err())
	}
	return st
}

// apply creates every container of d as `lxcplan apply` records it: pct
// create with the planned options and a marker in state creating, then the
// marker rewritten in state ready with the addresses learned and the
// fingerprints recomputed once dependencies are known. The recipe steps
// themselves are not run: the plan only reads the markers.
func (s *sim) apply(t *testing.T, d *model.Desired, interrupted []string) {
	t.Helper()
	stack := d.Stack.Name
	p, ds := plan.Diff(d, s.observe(t, d.Stack.HostNames()), plan.Options{})
	if ds.HasErrors() {
		t.Fatalf("plan to apply: %v", ds.Err())
	}
	markers := map[string]*plan.Marker{}
	next := 100
	for _, ch := range p.Changes {
		c := d.Container(ch.Container)
		if ch.Action != plan.ActionCreate || c == nil {
			t.Fatalf("apply: %s: %s", ch.Container, ch.Action)
		}
		vmid := c.VMID
		if vmid == 0 {
			vmid, next = next, next+1
		}
		node := c.Host // the sim's node names are the stack's host keys
		creating := ch.Apply.Marker.Marker(stack, c.Name, plan.StateCreating, nil)
		s.run(t, node, pve.PctCreate(vmid, ch.Template.VolID, plan.CreateOptions(c, stack, creating.Render(ch.Apply.Description)))...)
		if contains(interrupted, c.Name) {
			continue
		}
		addr := ""
		if pfx, err := netip.ParsePrefix(c.Network.IP); err == nil {
			addr = pfx.Addr().String()
		} else {
			addr = "10.10.0." + strconv.Itoa(vmid) // the DHCP lease apply would learn
		}
		md := plan.NewMarkerDoc(c, stack, ch.Template.VolID, nil, plan.NewResolver(d, markers))
		m := md.Marker(stack, c.Name, plan.StateReady, map[string]string{"eth0": addr})
		markers[c.Name] = m
		set := &pve.SetOptions{}
		set.Description = m.Render(ch.Apply.Description)
		s.run(t, node, pve.PctSet(vmid, set)...)
	}
}

// writeSnapshot rebuilds a case's observed.json from the simulator.
func writeSnapshot(t *testing.T, tc planCase) {
	t.Helper()
	s := newSim(t)
	d := loadStack(t, tc.stack)
	if tc.applied != "" {
		s.apply(t, loadStack(t, tc.applied), tc.interrupted)
	}
	if tc.edit != nil {
		tc.edit(t, s)
	}
	obs := s.observe(t, d.Stack.HostNames(), tc.down...)
	// The simulator reports the free space of the disk the test runs on;
	// a snapshot is fixed, so sizes are set to round numbers.
	for _, h := range obs.Hosts {
		for i := range h.Storages {
			h.Storages[i].Total, h.Storages[i].Avail = 100*pve.GiB, 80*pve.GiB
		}
	}
	var b bytes.Buffer
	if err := obs.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tc.dir, "observed.json"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// handlerRunner runs commands straight through a simulated node's SSH
// handler, without SSH.
type handlerRunner struct {
	host string
	h    *pvesim.SSHHandler
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

// TestPVEVersionsPlanAlike: PVE 8 and PVE 9 print some outputs differently;
// the observer reads both, so the same cluster plans the same.
func TestPVEVersionsPlanAlike(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two simulated clusters")
	}
	var docs [2]string
	for i, v := range []int{8, 9} {
		s := newSim(t)
		s.c.PVEVersion = v
		d := loadStack(t, demo)
		s.apply(t, d, nil)
		s.run(t, "pve2", "pct", "set", "100", "--memory", "2048")
		obs := s.observe(t, d.Stack.HostNames())
		p, ds := plan.Diff(d, obs, plan.Options{StackFile: demo})
		if ds.HasErrors() {
			t.Fatalf("PVE %d: %v", v, ds.Err())
		}
		var b bytes.Buffer
		if err := p.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		docs[i] = b.String()
		if want := fmt.Sprintf("%d.", v); !strings.HasPrefix(obs.Hosts["pve1"].PVEVersion, want) && !strings.Contains(obs.Hosts["pve1"].PVEVersion, "/"+want) {
			t.Logf("PVE %d reported version %q", v, obs.Hosts["pve1"].PVEVersion)
		}
	}
	if docs[0] != docs[1] {
		t.Errorf("PVE 8 and PVE 9 plans differ\n--- 8\n%s\n--- 9\n%s", docs[0], docs[1])
	}
}
