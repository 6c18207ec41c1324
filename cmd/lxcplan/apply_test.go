package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/exec"
	"github.com/lxcplan/lxcplan/engine/journal"
	"github.com/lxcplan/lxcplan/engine/lock"
	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/transport"
)

const applyRecipe = `apiVersion: lxcplan/v1
kind: Recipe
name: app
version: 1.0.0
description: A small test service
container: {os: debian, version: "12", memory: 256, disk: 2}
params:
  password: {type: secret, description: generated, generate: {length: 24}}
  peer: {type: string, description: a peer, default: none}
install:
  - apt: [nginx-light]
  - file:
      path: /etc/app.conf
      content: |
        password=${params.password}
        peer=${params.peer}
health:
  cmd: "true"
outputs:
  url: "http://${container.ip}/"
  password: "${params.password}"
`

// applyLab is a two-node simulated cluster behind two in-process SSH
// servers, and a stack of three containers across them.
type applyLab struct {
	c          *pvesim.Cluster
	stack      string
	knownHosts string
}

func newApplyLab(t *testing.T) *applyLab {
	t.Helper()
	t.Setenv("NO_COLOR", "1")
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	c, hosts, known := simCluster(t)
	dir := t.TempDir()
	stack := fmt.Sprintf(`apiVersion: lxcplan/v1
kind: Stack
name: shop
hosts:
%sdefaults:
  storage: local-lvm
  template_storage: local
  network: {bridge: vmbr0}
containers:
  db: {recipe: ./app.yaml, host: pve1}
  cache: {recipe: ./app.yaml, host: pve2}
  web:
    recipe: ./app.yaml
    host: pve1
    depends_on: {db: {condition: healthy}, cache: {condition: started}}
    params: {peer: "${containers.db.ip}"}
`, hosts)
	lab := &applyLab{c: c, stack: filepath.Join(dir, "stack.yaml"), knownHosts: filepath.Join(dir, "known_hosts")}
	for p, text := range map[string]string{lab.stack: stack, filepath.Join(dir, "app.yaml"): applyRecipe, lab.knownHosts: known} {
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return lab
}

func (l *applyLab) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCLI(t, append([]string{"--known-hosts", l.knownHosts}, args...)...)
}

func (l *applyLab) secrets(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(l.c.Dir, "priv", "lxcplan", "shop", "*"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func TestApplyCommand(t *testing.T) {
	lab := newApplyLab(t)
	code, out, errOut := lab.run(t, "apply", lab.stack)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"CONTAINER", "db", "cache", "web", "password=(secret)", "url=http://10.77.0."} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	// One line per event: time host vmid container phase.
	if !regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d pve1 10\d db  installing step 1/2: apt: install nginx-light`).MatchString(errOut) {
		t.Errorf("progress lines missing:\n%s", errOut)
	}

	// Re-apply: nothing to do, nothing mutating.
	n := len(lab.c.Commands())
	code, out2, errOut2 := lab.run(t, "apply", lab.stack)
	if code != 0 {
		t.Fatalf("re-apply: exit %d\n%s\n%s", code, out2, errOut2)
	}
	for _, e := range lab.c.Commands()[n:] {
		if e.Argv[0] == "pct" && e.Argv[1] != "config" && e.Argv[1] != "status" && e.Argv[1] != "list" {
			t.Errorf("re-apply ran %s", transport.Quote(e.Argv))
		}
	}
	if !strings.Contains(out2, "unchanged") {
		t.Errorf("re-apply summary:\n%s", out2)
	}

	// JSON events.
	code, _, errOut3 := lab.run(t, "--log-format", "json", "apply", "--set", "cache.resources.memory=384", lab.stack)
	if code != 0 {
		t.Fatalf("json apply: exit %d\n%s", code, errOut3)
	}
	sawEvent := false
	for _, line := range strings.Split(errOut3, "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) == nil && ev["type"] == "apply_event" {
			sawEvent = true
		}
	}
	if !sawEvent {
		t.Errorf("no JSON events on stderr:\n%s", errOut3)
	}

	for _, v := range lab.secrets(t) {
		for _, s := range []string{out, errOut, out2, errOut2, errOut3} {
			if strings.Contains(s, v) {
				t.Errorf("secret leaked:\n%s", s)
			}
		}
	}
}

func TestApplyDryRun(t *testing.T) {
	lab := newApplyLab(t)
	code, out, errOut := lab.run(t, "apply", "--dry-run", lab.stack)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"pve1: pct create 10", "pve2: pct create 10", "pve1: pct start ", "dry run"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	for _, e := range lab.c.Commands() {
		if e.Argv[0] == "pct" && (e.Argv[1] == "create" || e.Argv[1] == "start") {
			t.Errorf("dry run ran %s", transport.Quote(e.Argv))
		}
	}
	if strings.Contains(out, "mkdir /etc/pve/priv/lock") {
		t.Errorf("the stack lock is real in a dry run, not a recorded command:\n%s", out)
	}
}

func TestApplyFailureExitCodes(t *testing.T) {
	lab := newApplyLab(t)
	lab.c.FailOn("pct", "^start 10[0-9]", 1, "startup for container '100' failed\n", 255)
	code, out, errOut := lab.run(t, "apply", lab.stack)
	if code != exitFailed || !strings.Contains(errOut, "rolled back") {
		t.Fatalf("exit %d, want 1 with a rollback\n%s\n%s", code, out, errOut)
	}
	if confs, _ := filepath.Glob(filepath.Join(lab.c.Dir, "nodes", "*", "lxc", "*.conf")); len(confs) != 0 {
		t.Errorf("left after rollback: %v", confs)
	}

	// Rollback that cannot finish: exit 4, the journal named; resume it.
	lab.c.FailOn("pct", "^start 10[0-9]", 1, "startup for container '100' failed\n", 255)
	lab.c.AddFault(pvesim.Fault{Tool: "pct", Match: "^destroy", N: 1, Times: 100, Stderr: "lvremove 'pve/vm-100-disk-0' error: device busy\n", Exit: 255})
	code, out, errOut = lab.run(t, "apply", lab.stack)
	if code != exitRollbackPartial {
		t.Fatalf("exit %d, want 4\n%s\n%s", code, out, errOut)
	}
	m := regexp.MustCompile(`journal (\S+\.jsonl)`).FindStringSubmatch(errOut)
	if m == nil || !strings.Contains(errOut, "pct destroy") {
		t.Fatalf("exit 4 should list what is left and the journal:\n%s", errOut)
	}
	lab.c.ClearFaults()
	code, out, errOut = lab.run(t, "apply", "--resume-rollback", m[1], lab.stack)
	if code != 0 || !strings.Contains(out, "rollback complete") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	if confs, _ := filepath.Glob(filepath.Join(lab.c.Dir, "nodes", "*", "lxc", "*.conf")); len(confs) != 0 {
		t.Errorf("left after resumed rollback: %v", confs)
	}
}

func TestApplyLockedStack(t *testing.T) {
	lab := newApplyLab(t)
	n, _ := lab.c.Node("pve2")
	r := nodeExecRunner(n)
	held, err := lock.Acquire(context.Background(), r, "shop", lock.Options{Timeout: -1, Holder: lock.Holder{User: "bob", Host: "ci", PID: 7, Command: "lxcplan apply"}})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release(context.Background())
	code, out, errOut := lab.run(t, "apply", "--lock-timeout", "0s", lab.stack)
	if code != exitFailed || !strings.Contains(errOut, "bob@ci pid 7") {
		t.Fatalf("exit %d, want 1 naming bob@ci\n%s\n%s", code, out, errOut)
	}
}

// fakeInterrupts makes apply hear Ctrl-C from the returned channel.
func fakeInterrupts(t *testing.T) chan os.Signal {
	t.Helper()
	ch := make(chan os.Signal, 2)
	old := interrupts
	interrupts = func() (<-chan os.Signal, func()) { return ch, func() {} }
	t.Cleanup(func() { interrupts = old })
	return ch
}

// TestApplyInterrupt: the first Ctrl-C rolls back (exit 1); a second one
// during the rollback exits 130 and leaves the journal for
// --resume-rollback.
func TestApplyInterrupt(t *testing.T) {
	t.Run("once", func(t *testing.T) {
		lab := newApplyLab(t)
		lab.c.Memory().SetDuration(`apt-get`, 2*time.Second)
		sig := fakeInterrupts(t)
		go func() {
			waitFor(t, lab, "apt-get")
			sig <- os.Interrupt
		}()
		code, out, errOut := lab.run(t, "apply", lab.stack)
		if code != exitFailed || !strings.Contains(errOut, "rolled back") {
			t.Fatalf("exit %d, want 1 after a rollback\n%s\n%s", code, out, errOut)
		}
		if confs, _ := filepath.Glob(filepath.Join(lab.c.Dir, "nodes", "*", "lxc", "*.conf")); len(confs) != 0 {
			t.Errorf("left after the interrupt: %v", confs)
		}
	})
	t.Run("twice", func(t *testing.T) {
		lab := newApplyLab(t)
		lab.c.Memory().SetDuration(`apt-get`, 2*time.Second)
		lab.c.AddFault(pvesim.Fault{Tool: "pct", Match: "^destroy", Action: "delay", DelayMS: 1500})
		sig := fakeInterrupts(t)
		go func() {
			waitFor(t, lab, "apt-get")
			sig <- os.Interrupt
			waitFor(t, lab, "pct stop")
			sig <- os.Interrupt
		}()
		code, out, errOut := lab.run(t, "apply", lab.stack)
		m := regexp.MustCompile(`--resume-rollback (\S+\.jsonl)`).FindStringSubmatch(errOut)
		if code != exitInterrupted || m == nil {
			t.Fatalf("exit %d, want 130 naming the journal\n%s\n%s", code, out, errOut)
		}
		lab.c.ClearFaults()
		// The abandoned rollback goes on in this test process (a real
		// process has exited): let it finish before resuming.
		waitUndone(t, m[1])
		if code, out, errOut := lab.run(t, "apply", "--resume-rollback", m[1], lab.stack); code != 0 {
			t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
		}
		if confs, _ := filepath.Glob(filepath.Join(lab.c.Dir, "nodes", "*", "lxc", "*.conf")); len(confs) != 0 {
			t.Errorf("left after the resumed rollback: %v", confs)
		}
	})
}

func waitUndone(t *testing.T, path string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		log, err := journal.Read(path)
		if err == nil {
			pending := 0
			for _, e := range log.Entries {
				if len(e.Undo) > 0 && e.Undone == journal.UndoPending {
					pending++
				}
			}
			if pending == 0 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFor polls the command log (and the containers' commands) until a
// command containing s ran.
func waitFor(t *testing.T, lab *applyLab, s string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range lab.c.Commands() {
			if strings.Contains(strings.Join(e.Argv, " "), s) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("no command with %q ran", s)
}

func TestApplyPlanFile(t *testing.T) {
	lab := newApplyLab(t)
	o := manifest.Options{Env: map[string]string{}, UserDefaultsFile: "-"}
	st, ds := manifest.LoadStackFile(lab.stack, o)
	d, rds := manifest.Resolve(st, o)
	if ds.HasErrors() || rds.HasErrors() {
		t.Fatal(ds, rds)
	}
	hosts := map[string]transport.Runner{}
	for _, name := range []string{"pve1", "pve2"} {
		n, _ := lab.c.Node(name)
		hosts[name] = nodeExecRunner(n)
	}
	p, _, err := exec.Prepare(context.Background(), d, hosts, []string{"pve1", "pve2"}, exec.RunOptions{StackFile: lab.stack})
	if err != nil {
		t.Fatal(err)
	}
	planFile := filepath.Join(t.TempDir(), "plan.json")
	f, err := os.Create(planFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WriteJSON(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if code, out, errOut := lab.run(t, "apply", planFile); code != 0 {
		t.Fatalf("apply PLANFILE: exit %d\n%s\n%s", code, out, errOut)
	}
	// The same plan again: the hosts changed under it.
	n := len(lab.c.Commands())
	code, out, errOut := lab.run(t, "apply", planFile)
	if code != exitFailed || !strings.Contains(errOut, "stale plan") {
		t.Fatalf("stale plan: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, e := range lab.c.Commands()[n:] {
		if e.Argv[0] == "pct" && (e.Argv[1] == "create" || e.Argv[1] == "set") {
			t.Errorf("a stale plan ran %s", transport.Quote(e.Argv))
		}
	}
}

func nodeExecRunner(n *pvesim.Node) transport.Runner {
	return transport.RunFunc(func(ctx context.Context, c transport.Command) (transport.Result, error) {
		var o, e strings.Builder
		code := n.Exec(ctx, c.Argv, c.Stdin, &o, &e)
		res := transport.Result{Stdout: []byte(o.String()), Stderr: []byte(e.String()), ExitCode: code}
		if code != 0 {
			return res, &transport.ExitError{Host: n.Name, Argv: c.Argv, Code: code, Stderr: res.Stderr}
		}
		return res, nil
	})
}
