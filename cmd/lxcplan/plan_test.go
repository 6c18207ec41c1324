package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/transport"
	"github.com/lxcplan/lxcplan/engine/transport/ssh/sshtest"
	"github.com/lxcplan/lxcplan/schema"
)

// isolate keeps the user's environment out of a CLI run: no user defaults
// file, no colour, none of the lab's LAB_* variables.
func isolate(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("NO_COLOR", "1")
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "LAB_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// TestPlanGoldenExitCodes runs `lxcplan plan --inventory` on every case of
// plans/ (offline, from its snapshot): the output is the golden plan, and
// --detailed-exitcode returns 0 / 2 / 3 / 1 as design.md §5 says.
func TestPlanGoldenExitCodes(t *testing.T) {
	isolate(t)
	t.Chdir(filepath.Join("..", "..", "plans"))
	cases := []struct {
		dir, stack string
		exit       int
	}{
		{"empty", "demo/stack.yaml", exitChanges},
		{"applied", "demo/stack.yaml", exitOK},
		{"drift", "demo/stack.yaml", exitChanges},
		{"template-change", "template-change/stack.yaml", exitDestructive},
		{"removed", "removed/stack.yaml", exitDestructive},
		{"reprovision", "reprovision/stack.yaml", exitChanges},
		{"migrate", "migrate/stack.yaml", exitChanges},
		{"vmid-taken", "vmid-taken/stack.yaml", exitFailed},
		{"interrupted", "demo/stack.yaml", exitDestructive},
		{"unreachable", "demo/stack.yaml", exitFailed},
	}
	for _, tc := range cases {
		t.Run(tc.dir, func(t *testing.T) {
			inv := filepath.Join(tc.dir, "observed.json")
			for format, golden := range map[string]string{"text": "plan.txt", "json": "plan.json", "markdown": "plan.md"} {
				code, out, errOut := runCLI(t, "plan", "--inventory", inv, "--format", format, "--detailed-exitcode", tc.stack)
				if code != tc.exit {
					t.Errorf("%s: exit %d, want %d\n%s", format, code, tc.exit, errOut)
				}
				want, err := os.ReadFile(filepath.Join(tc.dir, golden))
				if err != nil {
					t.Fatal(err)
				}
				if out != string(want) {
					t.Errorf("%s: output differs from %s/%s (go test ./plans -update regenerates it)\n--- got\n%s", format, tc.dir, golden, out)
				}
			}
			// Without --detailed-exitcode only errors fail.
			code, _, _ := runCLI(t, "plan", "--inventory", inv, tc.stack)
			want := exitOK
			if tc.exit == exitFailed {
				want = exitFailed
			}
			if code != want {
				t.Errorf("plain: exit %d, want %d", code, want)
			}
		})
	}
}

func TestPlanUsage(t *testing.T) {
	isolate(t)
	stack := filepath.Join("..", "..", "plans", "demo", "stack.yaml")
	inv := filepath.Join("..", "..", "plans", "applied", "observed.json")
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no stack", []string{"plan"}, exitUsage, "missing STACK"},
		{"bad format", []string{"plan", "--format", "yaml", stack}, exitUsage, `--format "yaml"`},
		{"missing inventory", []string{"plan", "--inventory", "nope.json", stack}, exitInvalidInput, "nope.json"},
		{"bad inventory", []string{"plan", "--inventory", stack, stack}, exitInvalidInput, "read inventory"},
		{"unknown target", []string{"plan", "--inventory", inv, "--target", "nope", stack}, exitUsage, "--target nope"},
		{"missing stack", []string{"plan", "--inventory", inv, "nope.yaml"}, exitInvalidInput, "nope.yaml"},
		{"diff one arg", []string{"diff", stack}, exitUsage, "want OLD_STACK and NEW_STACK"},
		{"export no stack", []string{"inventory", "export"}, exitUsage, "missing STACK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s\n%s", code, tt.code, out, errOut)
			}
			// Text plans carry their diagnostics on stdout.
			if !strings.Contains(errOut+out, tt.err) {
				t.Errorf("output lacks %q:\n%s%s", tt.err, out, errOut)
			}
		})
	}
}

// TestPlanTargetAndOut: --target limits the plan to a container and what it
// depends on; --out saves the document apply reads.
func TestPlanTargetAndOut(t *testing.T) {
	isolate(t)
	t.Chdir(filepath.Join("..", "..", "plans"))
	out := filepath.Join(t.TempDir(), "plan.json")
	code, stdout, errOut := runCLI(t, "plan", "--inventory", "empty/observed.json", "--target", "cache", "--out", out, "demo/stack.yaml")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if !strings.Contains(stdout, "Plan: 1 to create, 0 to update") {
		t.Errorf("want one create:\n%s", stdout)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := plan.ReadPlan(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 1 || p.Changes[0].Container != "cache" || p.Changes[0].Apply == nil {
		t.Errorf("saved plan: %+v", p.Changes)
	}

	// A plan with errors is not saved.
	bad := filepath.Join(t.TempDir(), "bad.json")
	if code, _, errOut := runCLI(t, "plan", "--inventory", "vmid-taken/observed.json", "--out", bad, "vmid-taken/stack.yaml"); code != exitFailed || !strings.Contains(errOut, "was not written") {
		t.Errorf("errors: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("a plan with errors was saved")
	}
}

func TestDiff(t *testing.T) {
	isolate(t)
	t.Chdir(filepath.Join("..", "..", "plans"))
	tests := []struct {
		name, old, new string
		exit           int
		want           []string
	}{
		{"same", "demo/stack.yaml", "demo/stack.yaml", exitOK, []string{"No changes."}},
		{"removed", "demo/stack.yaml", "removed/stack.yaml", exitDestructive, []string{"  - destroy web", "1 to destroy."}},
		{"added", "removed/stack.yaml", "demo/stack.yaml", exitChanges, []string{"  + create web  (host pve1, vmid allocated at apply)", "debian 12 (amd64) on local (downloaded if available)"}},
		{"template", "demo/stack.yaml", "template-change/stack.yaml", exitDestructive, []string{"-/+ replace cache", "template debian 12 (amd64) → debian 13 (amd64)"}},
		{"migrate", "demo/stack.yaml", "migrate/stack.yaml", exitChanges, []string{" -> migrate cache", "to node pve1"}},
		{"step", "reprovision/applied/stack.yaml", "reprovision/stack.yaml", exitChanges, []string{"  ~ reprovision hello  (host pve1, vmid 120)", "install step 2: write /var/www/html/index.html"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "diff", "--detailed-exitcode", tt.old, tt.new)
			if code != tt.exit {
				t.Errorf("exit %d, want %d\n%s\n%s", code, tt.exit, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "vmid 10") {
				t.Errorf("a made-up vmid is shown:\n%s", out)
			}
			code, js, _ := runCLI(t, "diff", "--format", "json", tt.old, tt.new)
			if code != 0 {
				t.Fatalf("json: exit %d", code)
			}
			var doc any
			if err := json.Unmarshal([]byte(js), &doc); err != nil {
				t.Fatal(err)
			}
			for _, v := range schema.Validate(schema.Plan, doc) {
				t.Errorf("diff json: %s: %s", strings.Join(v.Path, "."), v.Message)
			}
		})
	}
}

// liveSim is a simulated PVE node behind the in-process SSH server, and a
// stack of two containers pointing at it.
type liveSim struct {
	c     *pvesim.Cluster
	node  *pvesim.Node
	srv   *sshtest.Server
	stack string
}

func newLiveSim(t *testing.T) *liveSim {
	t.Helper()
	c, err := pvesim.NewMemoryCluster("pve1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	n, _ := c.Node("pve1")
	ls := &liveSim{c: c, node: n, srv: sshtest.Start(t, sshtest.WithHandler(n.Handler()))}
	ls.stack = filepath.Join(t.TempDir(), "stack.yaml")
	text := fmt.Sprintf(`apiVersion: lxcplan/v1
kind: Stack
name: live
hosts:
  pve1: {address: %s, port: %d, identity: %s}
defaults:
  storage: local-lvm
  template_storage: local
containers:
  cache: {recipe: redis, vmid: 130, resources: {memory: 512}}
  db: {recipe: postgresql, vmid: 131}
`, ls.srv.Host(), ls.srv.Port(), ls.srv.IdentityFile())
	if err := os.WriteFile(ls.stack, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ls.run(t, "pveam", "download", "local", "debian-12-standard_12.7-1_amd64.tar.zst")
	return ls
}

func (ls *liveSim) run(t *testing.T, argv ...string) {
	t.Helper()
	var o, e bytes.Buffer
	if code := ls.node.Handler().Exec(context.Background(), transport.Quote(argv), nil, &o, &e); code != 0 {
		t.Fatalf("%s: exit %d: %s", transport.Quote(argv), code, e.String())
	}
}

// applyCreates executes the creates of a saved plan the way apply records
// them (options as planned, marker in state ready), enough for the next
// plan to find the containers as this stack's.
func (ls *liveSim) applyCreates(t *testing.T, p *plan.Plan) {
	t.Helper()
	for _, ch := range p.Changes {
		if ch.Action != plan.ActionCreate {
			continue
		}
		argv := []string{"pct", "create", strconv.Itoa(ch.VMID), ch.Template.VolID}
		keys := make([]string, 0, len(ch.Apply.Set))
		for k := range ch.Apply.Set {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			argv = append(argv, "--"+k, ch.Apply.Set[k])
		}
		m := ch.Apply.Marker.Marker(p.Stack, ch.Container, plan.StateReady, map[string]string{"eth0": "10.0.0." + strconv.Itoa(ch.VMID-100)})
		argv = append(argv, "--description", m.Render(ch.Apply.Description))
		ls.run(t, argv...)
	}
}

// TestPlanOfflineMatchesLive is the CI contract: a plan from `inventory
// export` gives the same changes as the live plan it was exported from,
// and contacts no host (the server is closed before the offline plan).
func TestPlanOfflineMatchesLive(t *testing.T) {
	isolate(t)
	ls := newLiveSim(t)
	kh := ls.srv.KnownHostsFile()
	planFile := filepath.Join(t.TempDir(), "plan.json")

	// Empty node: everything is created.
	code, out, errOut := runCLI(t, "--known-hosts", kh, "plan", "--out", planFile, "--detailed-exitcode", ls.stack)
	if code != exitChanges {
		t.Fatalf("first plan: exit %d\n%s\n%s", code, out, errOut)
	}
	f, err := os.Open(planFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.ReadPlan(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	ls.applyCreates(t, p)

	// Applied: no changes, live.
	if code, out, errOut = runCLI(t, "--known-hosts", kh, "plan", "--detailed-exitcode", ls.stack); code != exitOK || !strings.Contains(out, "No changes.") {
		t.Fatalf("after apply: exit %d\n%s\n%s", code, out, errOut)
	}

	// Drift by hand, then live plan, export, offline plan.
	ls.run(t, "pct", "set", "130", "--memory", "1024")
	code, live, errOut := runCLI(t, "--known-hosts", kh, "plan", "--format", "json", "--detailed-exitcode", ls.stack)
	if code != exitChanges {
		t.Fatalf("drift: exit %d\n%s\n%s", code, live, errOut)
	}
	code, inv, errOut := runCLI(t, "--known-hosts", kh, "inventory", "export", ls.stack)
	if code != 0 {
		t.Fatalf("export: exit %d\n%s", code, errOut)
	}
	invFile := filepath.Join(t.TempDir(), "inventory.json")
	if err := os.WriteFile(invFile, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	ls.srv.Close()
	code, offline, errOut := runCLI(t, "plan", "--inventory", invFile, "--format", "json", "--detailed-exitcode", ls.stack)
	if code != exitChanges {
		t.Fatalf("offline: exit %d\n%s\n%s", code, offline, errOut)
	}
	lc, oc := changesOf(t, live), changesOf(t, offline)
	if !reflect.DeepEqual(lc, oc) {
		t.Errorf("offline changes differ from live ones\n--- live\n%s\n--- offline\n%s", live, offline)
	}
	if !strings.Contains(offline, `"drift": true`) || !strings.Contains(offline, `"before": "1024"`) {
		t.Errorf("the drift is not in the plan:\n%s", offline)
	}
}

func changesOf(t *testing.T, doc string) any {
	t.Helper()
	var d struct {
		Changes any `json:"changes"`
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return d.Changes
}

// TestPlanUnreachableHost: a host that cannot be reached makes its
// containers unknown (never "create") and the plan exit 1.
func TestPlanUnreachableHost(t *testing.T) {
	isolate(t)
	ls := newLiveSim(t)
	ls.srv.Close()
	code, out, errOut := runCLI(t, "--known-hosts", ls.srv.KnownHostsFile(), "plan", "--detailed-exitcode", ls.stack)
	if code != exitFailed {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "? unknown cache") || strings.Contains(out, "+ create") {
		t.Errorf("want unknown containers, no creates:\n%s", out)
	}
	if !strings.Contains(out, "cannot observe host pve1") {
		t.Errorf("the host is not named:\n%s", out)
	}
}
