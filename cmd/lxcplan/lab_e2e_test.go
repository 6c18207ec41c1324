package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/pvesim/labtest"
	"github.com/lxcplan/lxcplan/schema"
)

// TestLabE2E runs `lxcplan hosts check` and `lxcplan plan` in-process
// against the real lab (OpenSSH sshd per node, PVE commands, real LXC
// containers): the cases of issue #5 item 7, the offline plan from an
// exported inventory, and the remote command count of a plan. The
// "applied" states are made by hand with pct over plain OpenSSH, exactly as
// the plan document tells apply to (see makeApplied). It runs only with
// PVELAB_E2E=1 as root (labtest.Up skips otherwise).
func TestLabE2E(t *testing.T) {
	isolate(t)
	l := labtest.Up(t)
	e := &labEnv{l: l, dir: t.TempDir()}
	e.ips = labAddrs(t, l.Subnet)

	phase := func(name string, f func(t *testing.T)) {
		start := time.Now()
		t.Run(name, f)
		t.Logf("%s: %s", name, time.Since(start).Round(time.Millisecond))
	}
	phase("hosts-check", e.hostsCheck)
	phase("plan", e.planCases)
	l.Reset(t)
	phase("plan-ownership", e.ownershipCases)
	l.Reset(t)
	phase("command-count", e.commandCount)
}

// labEnv is what the phases share.
type labEnv struct {
	l   *labtest.Lab
	dir string
	ips []string // static addresses in the lab subnet, for the containers
	n   int      // files written so far, for unique names
}

// The stack's host keys are not the PVE node names on purpose: lxcplan
// must learn node names from the hosts.
var labHostKeys = map[string]string{"pve1": "left", "pve2": "right"}

// nodeOf is the lab node behind a stack host key.
func labNodeOf(host string) string {
	for n, k := range labHostKeys {
		if k == host {
			return n
		}
	}
	return host
}

// labCT is one container of a generated stack.
type labCT struct {
	name, host string
	vmid       int
	ip         string // "" for DHCP
	memory     int    // 0: the recipe's
	recipe     string // "" for memcached
	version    string // OS version, "" for the recipe's
}

// stack writes a stack file and returns its path. Containers use the
// memcached recipe unless told otherwise (no secrets, no dependencies: the
// marker of a hand-made container needs nothing learned at apply but its
// address). Next to it lies ./hello.yaml, a copy of testdata/lab/hello-v1.yaml
// or of the variant named by hello.
func (e *labEnv) stack(t *testing.T, name, hosts string, cts []labCT, hello ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: lxcplan/v1\nkind: Stack\nname: %s\nhosts:\n%s", name, hosts)
	b.WriteString("defaults:\n  storage: local-lvm\n  template_storage: local\n  network: {bridge: vmbr0}\ncontainers:\n")
	for _, c := range cts {
		recipe := c.recipe
		if recipe == "" {
			recipe = "memcached"
		}
		fmt.Fprintf(&b, "  %s:\n    recipe: %s\n    host: %s\n    vmid: %d\n", c.name, recipe, c.host, c.vmid)
		if c.ip != "" {
			fmt.Fprintf(&b, "    network: {bridge: vmbr0, ip: %s/24, gw: %s}\n", c.ip, e.l.Gateway)
		}
		if c.memory != 0 {
			fmt.Fprintf(&b, "    resources: {memory: %d}\n", c.memory)
		}
		if c.version != "" {
			fmt.Fprintf(&b, "    version: %q\n", c.version)
		}
	}
	e.n++
	dir := filepath.Join(e.dir, fmt.Sprintf("%02d-%s", e.n, name))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	variant := "hello-v1.yaml"
	if len(hello) > 0 {
		variant = hello[0]
	}
	recipe, err := os.ReadFile(filepath.Join("testdata", "lab", variant))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hello.yaml"), recipe, 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *labEnv) hosts() string { return e.l.StackHostsAs(labHostKeys) }

// hostAddrs lists addresses .61 to .90 of the lab subnet: outside the
// lab's DHCP range, free for static containers.
func labAddrs(t *testing.T, subnet string) []string {
	t.Helper()
	pfx, err := netip.ParsePrefix(subnet)
	if err != nil || !pfx.Addr().Is4() {
		t.Fatalf("lab subnet %q: %v", subnet, err)
	}
	a := pfx.Masked().Addr().As4()
	var out []string
	for i := 61; i <= 90; i++ {
		a[3] = byte(i)
		out = append(out, netip.AddrFrom4(a).String())
	}
	return out
}

// lx runs the CLI with the lab's known_hosts.
func (e *labEnv) lx(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCLI(t, append([]string{"--known-hosts", e.l.KnownHosts}, args...)...)
}

// hostsCheck walks the host-key contract of issue #3 against real sshd.
func (e *labEnv) hostsCheck(t *testing.T) {
	st := e.stack(t, "e2e", e.hosts(), []labCT{{name: "a", host: "left", vmid: 201}})

	code, out, errOut := e.lx(t, "hosts", "check", st)
	if code != 0 {
		t.Fatalf("hosts check: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"left (", "right (", ": ok",
		"node           pve1", "node           pve2",
		"pve1, pve2", "quorate", "pve version    ",
		"local-lvm", "local-zfs", "bridges        vmbr0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("hosts check lacks %q:\n%s", want, out)
		}
	}
	code, js, errOut := e.lx(t, "hosts", "check", "--format", "json", st)
	if code != 0 || !json.Valid([]byte(js)) {
		t.Errorf("hosts check --format json: exit %d, valid %v\n%s%s", code, json.Valid([]byte(js)), js, errOut)
	}

	// No known_hosts entry: refused, with the fingerprint and the fix.
	empty := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "--known-hosts", empty, "hosts", "check", st)
	if code != exitFailed {
		t.Fatalf("unknown host keys: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if all := out + errOut; !strings.Contains(all, "SHA256:") || !strings.Contains(all, "--accept-new-host-keys") {
		t.Errorf("unknown host keys: the message should show the fingerprint and how to trust it:\n%s", all)
	}
	if b, _ := os.ReadFile(empty); len(b) > 0 {
		t.Errorf("known_hosts written without --accept-new-host-keys: %q", b)
	}

	// --accept-new-host-keys records the keys the lab itself wrote; the
	// next run connects without it.
	code, out, errOut = runCLI(t, "--known-hosts", empty, "--accept-new-host-keys", "hosts", "check", st)
	if code != 0 {
		t.Fatalf("accept-new: exit %d\n%s\n%s", code, out, errOut)
	}
	labKeys := labKnownKeys(t, e.l.KnownHosts)
	if got := labKnownKeys(t, empty); !reflect.DeepEqual(got, labKeys) {
		t.Errorf("recorded keys %v, want the lab's %v", got, labKeys)
	}
	if code, out, errOut = runCLI(t, "--known-hosts", empty, "hosts", "check", st); code != 0 {
		t.Fatalf("after accept-new: exit %d\n%s\n%s", code, out, errOut)
	}

	// A changed key (pve1's entry holds pve2's key) is refused even with
	// --accept-new-host-keys, and the file is left alone.
	n1, n2 := e.l.Node(t, "pve1"), e.l.Node(t, "pve2")
	p1, p2 := labHostPort(n1), labHostPort(n2)
	if labKeys[p1] == labKeys[p2] {
		t.Fatalf("the lab nodes share a host key: the changed-key case cannot be built")
	}
	changed := filepath.Join(t.TempDir(), "known_hosts")
	bad := fmt.Sprintf("%s %s\n%s %s\n", p1, labKeys[p2], p2, labKeys[p2])
	if err := os.WriteFile(changed, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "--known-hosts", changed, "--accept-new-host-keys", "hosts", "check", st)
	if code != exitFailed {
		t.Fatalf("changed key: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if all := out + errOut; !strings.Contains(all, "changed") {
		t.Errorf("changed key: the message should say the host key changed:\n%s", all)
	}
	if !strings.Contains(out, "right (") || !strings.Contains(out, "node           pve2") {
		t.Errorf("changed key: the other host should still be checked:\n%s", out)
	}
	if after, _ := os.ReadFile(changed); string(after) != bad {
		t.Errorf("changed key: known_hosts was modified: %q", after)
	}
}

func labHostPort(n labtest.Node) string {
	if n.Port == 22 {
		return n.Host
	}
	return "[" + n.Host + "]:" + strconv.Itoa(n.Port)
}

// knownKeys reads a known_hosts file as host pattern → "type base64".
func labKnownKeys(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && !strings.HasPrefix(f[0], "#") {
			m[f[0]] = f[1] + " " + f[2]
		}
	}
	return m
}

// labPlanRun is one plan in the three formats.
type labPlanRun struct {
	code     int
	text, md string
	json     string
	doc      *plan.Plan
}

// plan runs `plan --detailed-exitcode` in text, JSON and Markdown; every
// run must give the same exit code; the JSON validates against
// `lxcplan schema plan`.
func (e *labEnv) plan(t *testing.T, stack string, extra ...string) labPlanRun {
	t.Helper()
	var r labPlanRun
	for _, format := range []string{"text", "json", "markdown"} {
		args := append([]string{"plan", "--detailed-exitcode", "--format", format}, extra...)
		code, out, errOut := e.lx(t, append(args, stack)...)
		if format == "text" {
			r.code, r.text = code, out
		} else if code != r.code {
			t.Errorf("--format %s: exit %d, text exit %d\n%s", format, code, r.code, errOut)
		}
		switch format {
		case "json":
			r.json = out
			e.validate(t, out)
			doc, err := plan.ReadPlan(strings.NewReader(out))
			if err != nil {
				t.Fatalf("read plan: %v\n%s\n%s", err, out, errOut)
			}
			r.doc = doc
		case "markdown":
			r.md = out
		}
	}
	return r
}

// check asserts a plan's exit code, actions per container and summary.
func (r labPlanRun) check(t *testing.T, exit int, want map[string]plan.Action, summary string) {
	t.Helper()
	if r.code != exit {
		t.Errorf("exit %d, want %d\n%s", r.code, exit, r.text)
	}
	// Plans without creates are short: show them for people reading -v.
	if r.doc.Summary.Create == 0 {
		t.Logf("text plan (exit %d):\n%s", r.code, r.text)
	}
	got := map[string]plan.Action{}
	for _, ch := range r.doc.Changes {
		got[ch.Container] = ch.Action
		if ch.Unknown {
			t.Errorf("%s: unknown: the lab is reachable", ch.Container)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("actions %v, want %v\n%s", got, want, r.text)
	}
	if !strings.Contains(r.text, summary) {
		t.Errorf("text plan lacks the summary %q:\n%s", summary, r.text)
	}
	if !strings.Contains(r.md, "|") || !strings.Contains(r.md, "<details>") && r.doc.HasChanges() {
		t.Errorf("markdown plan has no summary table or details:\n%s", r.md)
	}
}

func (r labPlanRun) change(t *testing.T, name string) *plan.Change {
	t.Helper()
	for _, ch := range r.doc.Changes {
		if ch.Container == name {
			return ch
		}
	}
	t.Fatalf("no change for %s in\n%s", name, r.text)
	return nil
}

func labSummary(create, update, reprovision, replace, destroy int) string {
	return fmt.Sprintf("Plan: %d to create, %d to update, %d to reprovision, %d to replace, %d to destroy.",
		create, update, reprovision, replace, destroy)
}

const labNoChanges = "No changes."

// makeApplied executes the creates of a plan document over SSH the way
// apply records them (engine/plan's package doc): pct create with the
// template and every Apply.Set option and the marker in state creating,
// then, unless the container is listed as interrupted, pct start (when
// start) and the marker rewritten in state ready with the address apply
// learns. Recipe steps are not run: a plan only reads configs and markers.
// Nodes are worked on in parallel (a create extracts the template, about
// 2 s); the containers of one node one after the other.
func (e *labEnv) makeApplied(t *testing.T, p *plan.Plan, start bool, interrupted ...string) {
	t.Helper()
	perNode := map[string][][]string{}
	for _, ch := range p.Changes {
		if ch.Action != plan.ActionCreate || ch.Apply == nil || ch.Template == nil {
			t.Fatalf("make applied: %s is %s, want a create with apply inputs", ch.Container, ch.Action)
		}
		node, vmid := labNodeOf(ch.Host), strconv.Itoa(ch.VMID)
		creating := ch.Apply.Marker.Marker(p.Stack, ch.Container, plan.StateCreating, nil)
		argv := []string{"pct", "create", vmid, ch.Template.VolID}
		keys := make([]string, 0, len(ch.Apply.Set))
		for k := range ch.Apply.Set {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			argv = append(argv, "--"+k, ch.Apply.Set[k])
		}
		argv = append(argv, "--description", creating.Render(ch.Apply.Description))
		perNode[node] = append(perNode[node], argv)
		if labContains(interrupted, ch.Container) {
			continue
		}
		if start {
			perNode[node] = append(perNode[node], []string{"pct", "start", vmid})
		}
		addrs := map[string]string{}
		for _, kv := range strings.Split(ch.Apply.Set["net0"], ",") {
			if v, ok := strings.CutPrefix(kv, "ip="); ok && v != "dhcp" {
				addrs["eth0"], _, _ = strings.Cut(v, "/")
			}
		}
		ready := ch.Apply.Marker.Marker(p.Stack, ch.Container, plan.StateReady, addrs)
		perNode[node] = append(perNode[node], []string{"pct", "set", vmid, "--description", ready.Render(ch.Apply.Description)})
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(perNode))
	for node, cmds := range perNode {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, argv := range cmds {
				if r := e.l.SSH(node, argv...); r.Exit != 0 {
					errs <- fmt.Sprintf("%s: %s %s: exit %d\n%s%s", node, argv[0], argv[1], r.Exit, r.Stdout, r.Stderr)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := false
	for msg := range errs {
		t.Error(msg)
		failed = true
	}
	if failed {
		t.FailNow()
	}
}

func labContains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// planCases: empty cluster, applied, removed, migrate, template change,
// reprovision, drift, and the offline plan from an export of the drifted
// cluster: issue #5 item 7 but for the ownership cases (ownershipCases).
func (e *labEnv) planCases(t *testing.T) {
	cts := []labCT{
		{name: "a", host: "left", vmid: 201, ip: e.ips[0]},
		{name: "b", host: "right", vmid: 202, ip: e.ips[1]},
		{name: "c", host: "left", vmid: 203, ip: e.ips[2], memory: 256},
		{name: "d", host: "right", vmid: 204, ip: e.ips[3], recipe: "./hello.yaml"},
	}
	full := e.stack(t, "e2e", e.hosts(), cts)
	// with is the stack with container i changed by f.
	with := func(i int, f func(*labCT), hello ...string) string {
		changed := append([]labCT(nil), cts...)
		f(&changed[i])
		return e.stack(t, "e2e", e.hosts(), changed, hello...)
	}
	noop := func(changed string, action plan.Action) map[string]plan.Action {
		m := map[string]plan.Action{"a": plan.ActionNoOp, "b": plan.ActionNoOp, "c": plan.ActionNoOp, "d": plan.ActionNoOp}
		if changed != "" {
			m[changed] = action
		}
		return m
	}

	// Empty cluster: everything is created.
	empty := e.plan(t, full)
	empty.check(t, exitChanges, map[string]plan.Action{"a": plan.ActionCreate, "b": plan.ActionCreate, "c": plan.ActionCreate, "d": plan.ActionCreate},
		labSummary(4, 0, 0, 0, 0))
	for _, ch := range empty.doc.Changes {
		if want := labNodeOf(ch.Host); ch.Node != want {
			t.Errorf("%s: node %q, want %q (host %s)", ch.Container, ch.Node, want, ch.Host)
		}
		if ch.Template == nil || ch.Template.VolID != e.l.Template || ch.Template.Status != "present" {
			t.Errorf("%s: template %+v, want %s present", ch.Container, ch.Template, e.l.Template)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	e.makeApplied(t, empty.doc, true)

	t.Run("applied", func(t *testing.T) {
		e.plan(t, full).check(t, exitOK, noop("", ""), labNoChanges)
	})
	t.Run("removed", func(t *testing.T) {
		r := e.plan(t, e.stack(t, "e2e", e.hosts(), []labCT{cts[0], cts[1], cts[3]}))
		r.check(t, exitDestructive, noop("c", plan.ActionDestroy), labSummary(0, 0, 0, 0, 1))
		if ch := r.change(t, "c"); ch.VMID != 203 || !ch.Destructive || !strings.Contains(r.text, "- destroy c") {
			t.Errorf("destroy c: %+v\n%s", ch, r.text)
		}
	})
	t.Run("migrate", func(t *testing.T) {
		r := e.plan(t, with(1, func(c *labCT) { c.host = "left" }))
		r.check(t, exitChanges, noop("b", plan.ActionMigrate), labSummary(0, 1, 0, 0, 0))
		if ch := r.change(t, "b"); ch.Node != "pve2" || ch.TargetNode != "pve1" || ch.Rollback != plan.RollbackMigrateBack {
			t.Errorf("migrate b: node %s → %s, rollback %s", ch.Node, ch.TargetNode, ch.Rollback)
		}
	})
	t.Run("template-change", func(t *testing.T) {
		r := e.plan(t, with(1, func(c *labCT) { c.version = "13" }))
		r.check(t, exitDestructive, noop("b", plan.ActionReplace), labSummary(0, 0, 0, 1, 0))
		if ch := r.change(t, "b"); ch.Template == nil || ch.Template.Version != "13" || !ch.Destructive {
			t.Errorf("replace b: template %+v, destructive %v", ch.Template, ch.Destructive)
		}
	})
	t.Run("reprovision", func(t *testing.T) {
		r := e.plan(t, with(3, func(*labCT) {}, "hello-v2.yaml"))
		r.check(t, exitChanges, noop("d", plan.ActionReprovision), labSummary(0, 0, 1, 0, 0))
		ch := r.change(t, "d")
		if len(ch.Steps) == 0 || ch.Steps[0].Index != 1 || ch.Steps[0].Phase != "install" {
			t.Errorf("reprovision d should run from install step 2 (the page): %+v", ch.Steps)
		}
	})

	// Drift: memory changed by hand shows as an update back, labelled drift.
	e.l.MustSSH(t, "pve1", "pct", "set", "201", "--memory", "768")
	var drift labPlanRun
	t.Run("drift", func(t *testing.T) {
		drift = e.plan(t, full)
		drift.check(t, exitChanges, noop("a", plan.ActionUpdate), labSummary(0, 1, 0, 0, 0))
		ch := drift.change(t, "a")
		if !ch.Drift {
			t.Errorf("update a is not labelled drift: %+v", ch)
		}
		var mem *plan.Field
		for i := range ch.Fields {
			if ch.Fields[i].Path == "memory" {
				mem = &ch.Fields[i]
			}
		}
		if mem == nil || mem.Before == nil || *mem.Before != "768" || mem.After == nil || *mem.After != "512" || !mem.Drift {
			t.Errorf("memory field %+v, want drift 768 → 512", mem)
		}
		if len(ch.Fields) != 1 {
			t.Errorf("only memory drifted, fields: %+v", ch.Fields)
		}
		if !strings.Contains(drift.text, "768 → 512") || !strings.Contains(drift.text, "drift") {
			t.Errorf("text plan does not show the drift:\n%s", drift.text)
		}
	})

	// Offline: export the drifted cluster, then plan from the file with the
	// hosts pointing at a closed port and an empty known_hosts: no host can
	// answer, and the changes are the live ones.
	t.Run("offline", func(t *testing.T) {
		if drift.doc == nil {
			t.Skip("the drift plan failed")
		}
		code, inv, errOut := e.lx(t, "inventory", "export", full)
		if code != 0 {
			t.Fatalf("inventory export: exit %d\n%s", code, errOut)
		}
		invFile := filepath.Join(t.TempDir(), "inventory.json")
		if err := os.WriteFile(invFile, []byte(inv), 0o644); err != nil {
			t.Fatal(err)
		}
		dead := labClosedPort(t)
		var hosts strings.Builder
		for _, k := range []string{"left", "right"} {
			fmt.Fprintf(&hosts, "  %s: {address: 127.0.0.1, port: %d, identity: %q}\n", k, dead, e.l.IdentityFile)
		}
		offline := e.stack(t, "e2e", hosts.String(), cts)
		emptyKH := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(emptyKH, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		before := e.l.CommandLogLen(t)
		code, js, errOut := runCLI(t, "--known-hosts", emptyKH, "plan", "--inventory", invFile, "--format", "json", "--detailed-exitcode", offline)
		if code != exitChanges {
			t.Fatalf("offline plan: exit %d, want 2\n%s\n%s", code, js, errOut)
		}
		e.validate(t, js)
		if lc, oc := changesOf(t, drift.json), changesOf(t, js); !reflect.DeepEqual(lc, oc) {
			t.Errorf("offline changes differ from the live ones\n--- live\n%s\n--- offline\n%s", drift.json, js)
		}
		if cmds := e.l.CommandsSince(t, before); len(cmds) != 0 {
			t.Errorf("the offline plan ran commands on the lab: %+v", cmds)
		}
		// And the same file with the real hosts gives the same again.
		code, js2, _ := runCLI(t, "plan", "--inventory", invFile, "--format", "json", full)
		if code != 0 || !reflect.DeepEqual(changesOf(t, drift.json), changesOf(t, js2)) {
			t.Errorf("offline plan with the lab's stack: exit %d, changes differ\n%s", code, js2)
		}
	})
}

// ownershipCases: a vmid held by a guest lxcplan did not make, and a
// create interrupted before its marker said ready. Each has its own stack,
// so they share one cluster.
func (e *labEnv) ownershipCases(t *testing.T) {
	t.Run("vmid-taken", func(t *testing.T) {
		// A bare container made by hand: no tags, no marker.
		e.l.MustSSH(t, "pve1", "pct", "create", "150", e.l.Template, "--hostname", "legacy",
			"--rootfs", "local-lvm:1", "--net0", "name=eth0,bridge=vmbr0,ip=dhcp")
		st := e.stack(t, "e2e", e.hosts(), []labCT{
			{name: "web", host: "left", vmid: 150},
			{name: "other", host: "right", vmid: 151},
		})
		r := e.plan(t, st)
		r.check(t, exitFailed, map[string]plan.Action{"web": plan.ActionCreate, "other": plan.ActionCreate},
			labSummary(2, 0, 0, 0, 0))
		var found bool
		for _, d := range r.doc.Diagnostics {
			if d.Severity == "error" && strings.Contains(d.Summary, "vmid 150") && strings.Contains(d.Summary, "legacy") {
				found = true
			}
		}
		if !found {
			t.Errorf("no error naming vmid 150 and its holder: %+v", r.doc.Diagnostics)
		}
		if !strings.Contains(r.text, "cannot be applied") {
			t.Errorf("text plan does not say it cannot be applied:\n%s", r.text)
		}
		// Not taken over: the guest is untouched and still unmarked.
		if out := e.l.MustSSH(t, "pve1", "pct", "config", "150"); strings.Contains(out, "lxcplan") {
			t.Errorf("guest 150 was changed:\n%s", out)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		st := e.stack(t, "e2e-int", e.hosts(), []labCT{
			{name: "half", host: "right", vmid: 160, ip: e.ips[5]},
			{name: "whole", host: "left", vmid: 161, ip: e.ips[6]},
		})
		r := e.plan(t, st)
		if r.code != exitChanges || r.doc == nil {
			t.Fatalf("plan on an empty cluster: exit %d\n%s", r.code, r.text)
		}
		e.makeApplied(t, r.doc, false, "half")
		r = e.plan(t, st)
		r.check(t, exitDestructive, map[string]plan.Action{"half": plan.ActionReplace, "whole": plan.ActionNoOp},
			labSummary(0, 0, 0, 1, 0))
		if ch := r.change(t, "half"); ch.VMID != 160 || !ch.Destructive || !strings.Contains(ch.Reason, "creat") {
			t.Errorf("replace half: vmid %d, destructive %v, reason %q", ch.VMID, ch.Destructive, ch.Reason)
		}
	})
}

// commandCount: the remote commands of a plan do not grow with the number
// of containers. Counted twice: the PVE commands in the lab's command log,
// and every remote command lxcplan sends (its --trace lines).
func (e *labEnv) commandCount(t *testing.T) {
	var cts []labCT
	hosts := []string{"left", "right"}
	for i := range 6 {
		cts = append(cts, labCT{name: fmt.Sprintf("m%d", i), host: hosts[i%2], vmid: 300 + i, ip: e.ips[10+i]})
	}
	count := func(n int) (logged, traced int) {
		st := e.stack(t, "count", e.hosts(), cts[:n])
		// Make the containers the stack does not have yet.
		code, js, errOut := e.lx(t, "plan", "--format", "json", st)
		if code != 0 {
			t.Fatalf("plan of %d: exit %d\n%s", n, code, errOut)
		}
		p, err := plan.ReadPlan(strings.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		var creates []*plan.Change
		for _, ch := range p.Changes {
			if ch.Action == plan.ActionCreate {
				creates = append(creates, ch)
			}
		}
		p.Changes = creates
		e.makeApplied(t, p, false)

		before := e.l.CommandLogLen(t)
		code, out, errOut := e.lx(t, "--trace", "plan", "--detailed-exitcode", st)
		if code != exitOK {
			t.Fatalf("plan of %d applied containers: exit %d\n%s\n%s", n, code, out, errOut)
		}
		cmds := e.l.CommandsSince(t, before)
		for _, line := range strings.Split(errOut, "\n") {
			if strings.HasPrefix(line, "+ ") {
				traced++
			}
		}
		t.Logf("%d containers: %d PVE commands in the lab log, %d remote commands traced", n, len(cmds), traced)
		if n == 2 {
			t.Logf("traced:\n%s", errOut)
		}
		return len(cmds), traced
	}
	log2, trace2 := count(2)
	log6, trace6 := count(6)
	if log2 == 0 || trace2 == 0 {
		t.Fatalf("no commands counted (log %d, trace %d): the count proves nothing", log2, trace2)
	}
	if log2 != log6 || trace2 != trace6 {
		t.Errorf("remote commands grow with containers: 2 → log %d, trace %d; 6 → log %d, trace %d", log2, trace2, log6, trace6)
	}
}

// closedPort returns a loopback port nothing listens on.
func labClosedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func (e *labEnv) validate(t *testing.T, js string) {
	t.Helper()
	// The plan schema as the schema package (which owns the validator) has
	// it: the same document `lxcplan schema plan` prints.
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("plan JSON: %v\n%s", err, js)
	}
	if vs := schema.Validate(schema.Plan, v); len(vs) > 0 {
		t.Errorf("plan does not validate against `lxcplan schema plan`: %v\n%s", vs, js)
	}
}
