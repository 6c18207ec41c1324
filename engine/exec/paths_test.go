package exec_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/exec"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/pvesim"
)

// cacheOn moves the cache container in the test stack.
func cacheEdit(old, new string) []string {
	return []string{"    recipe: ./app.yaml\n    host: pve2\n" + old, "    recipe: ./app.yaml\n    host: pve2\n" + new}
}

func TestMigrate(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	_, res := mustApply(t, s)
	id := itoa(res.Container("cache").VMID)
	n := len(s.c.Commands())
	edit := []string{"    recipe: ./app.yaml\n    host: pve2\n", "    recipe: ./app.yaml\n    host: pve1\n"}
	p, res2 := mustApply(t, s, edit...)
	if ch := change(p, "cache"); ch == nil || ch.Action != plan.ActionMigrate {
		t.Fatalf("cache: %+v", ch)
	}
	m := s.mutating(n)
	if len(m) == 0 || !strings.HasPrefix(m[0], "pct migrate "+id+" pve1 --restart 1") {
		t.Fatalf("mutating commands %q, want pct migrate first", m)
	}
	if c := res2.Container("cache"); c.Host != "pve1" || c.Status != exec.StatusOK {
		t.Errorf("cache after migrate: %+v", c)
	}
	// Settled: the next apply is a no-op.
	n = len(s.c.Commands())
	if p, _ := mustApply(t, s, edit...); p.HasChanges() || len(s.mutating(n)) > 0 {
		t.Errorf("after migrate: %+v %q", p.Summary, s.mutating(n))
	}
}

func TestReplaceNeedsYesAndKeepsSecrets(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	_, res := mustApply(t, s)
	edit := cacheEdit("", "    version: \"13\"\n")
	_, _, err := s.apply(t, loadStack(t, edit...), s.options(t))
	if !errors.Is(err, exec.ErrNeedsConfirmation) {
		t.Fatalf("replace without --yes: %v", err)
	}
	before := s.secretsOf(t)
	o := s.options(t)
	o.Yes = true
	p, res2, err := s.apply(t, loadStack(t, edit...), o)
	if err != nil {
		t.Fatal(err)
	}
	if ch := change(p, "cache"); ch == nil || ch.Action != plan.ActionReplace {
		t.Fatalf("cache: %+v", ch)
	}
	if res2.Container("cache").VMID != res.Container("cache").VMID {
		t.Errorf("replace changed the vmid: %d → %d", res.Container("cache").VMID, res2.Container("cache").VMID)
	}
	if after := s.secretsOf(t); after["cache.password"] != before["cache.password"] {
		t.Errorf("replace regenerated the secret")
	}
	if p, _ := mustApply(t, s, edit...); p.HasChanges() {
		t.Errorf("after replace: %+v", p.Summary)
	}
}

func TestHAAddedAfterCreate(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	edit := cacheEdit("", "    ha: {state: started}\n")
	_, res := mustApply(t, s, edit...)
	id := itoa(res.Container("cache").VMID)
	lines := s.c.CommandLines()
	ha, start := firstIndex(lines, "ha-manager add ct:"+id), firstIndex(lines, "pct start "+id)
	if ha < 0 || ha < start {
		t.Errorf("ha-manager add at %d, pct start at %d", ha, start)
	}
}

func TestTransientErrorsAreRetried(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	if err := s.c.AddFault(pvesim.Fault{Tool: "pct", Match: "^start", N: 1, Times: 2, Stderr: "CT is locked (backup)\n", Exit: 255}); err != nil {
		t.Fatal(err)
	}
	_, res := mustApply(t, s)
	for _, c := range res.Containers {
		if c.Status != exec.StatusOK {
			t.Errorf("%s: %s", c.Name, c.Status)
		}
	}
	retries := 0
	for _, e := range s.events {
		if e.Phase == exec.PhaseRetry {
			retries++
		}
	}
	if retries != 2 {
		t.Errorf("%d retry events, want 2", retries)
	}
}

func TestVMIDTakenMeanwhileGetsANewOne(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	if err := s.c.FailOn("pct", "^create", 1, "CT 100 already exists on node 'pve2'\n", 255); err != nil {
		t.Fatal(err)
	}
	_, res := mustApply(t, s)
	seen := map[int]bool{}
	for _, c := range res.Containers {
		if c.Status != exec.StatusOK || seen[c.VMID] {
			t.Errorf("%s: %s vmid %d", c.Name, c.Status, c.VMID)
		}
		seen[c.VMID] = true
	}
	// The failed create journaled no undo: nothing was destroyed.
	for _, l := range s.c.CommandLines() {
		if strings.HasPrefix(l, "pct destroy") {
			t.Errorf("ran %q", l)
		}
	}
}

func TestReprovisionRefusedWithoutSnapshots(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	mustApply(t, s, "storage: local-lvm", "storage: local-dir")
	n := len(s.c.Commands())
	edits := []string{"storage: local-lvm", "storage: local-dir", "default: hello", "default: goodbye"}
	_, _, err := s.apply(t, loadStack(t, edits...), s.options(t))
	if !errors.Is(err, exec.ErrUnprotected) || len(s.mutating(n)) > 0 {
		t.Fatalf("err = %v, ran %q; want ErrUnprotected and nothing run", err, s.mutating(n))
	}
	o := s.options(t)
	o.AllowUnprotected = true
	if _, _, err := s.apply(t, loadStack(t, edits...), o); err != nil {
		t.Fatalf("with --allow-unprotected: %v", err)
	}
}

func TestTargetAppliesItsDependenciesOnly(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	o := s.options(t)
	o.Targets = []string{"cache"}
	_, res, err := s.apply(t, loadStack(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Container("cache"); c == nil || c.Status != exec.StatusOK {
		t.Fatalf("cache: %+v", c)
	}
	for _, name := range []string{"db", "web"} {
		if c := res.Container(name); c != nil && c.Status != exec.StatusUnchanged {
			t.Errorf("%s was touched: %+v", name, c)
		}
	}
	creates := 0
	for _, l := range s.c.CommandLines() {
		if strings.HasPrefix(l, "pct create") {
			creates++
		}
	}
	if creates != 1 {
		t.Errorf("%d creates, want 1", creates)
	}
}

func TestGPUGroupIDsFromTheContainer(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	s.c.Memory().Handle(`^cat /etc/group$`, func(argv []string, _ io.Reader, stdout, _ io.Writer) int {
		fmt.Fprint(stdout, "root:x:0:\nvideo:x:44:\nrender:x:993:\n")
		return 0
	})
	_, res := mustApply(t, s, cacheEdit("", "    gpu: intel\n")...)
	id := itoa(res.Container("cache").VMID)
	lines := s.c.CommandLines()
	set, reboot := -1, -1
	for i, l := range lines {
		if strings.HasPrefix(l, "pct set "+id+" --dev") && strings.Contains(l, "renderD128,gid=993") {
			set = i
		}
		if l == "pct reboot "+id {
			reboot = i
		}
	}
	if set < 0 || reboot < set {
		t.Errorf("gid fix-up: pct set at %d, reboot at %d", set, reboot)
	}
	// The learned gid is not drift: the re-apply is a no-op.
	n := len(s.c.Commands())
	p, _ := mustApply(t, s, cacheEdit("", "    gpu: intel\n")...)
	if p.HasChanges() {
		for _, ch := range p.Changes {
			if ch.Action != plan.ActionNoOp {
				t.Logf("%s %s: %s", ch.Container, ch.Action, ch.Reason)
			}
		}
		t.Errorf("re-apply after the gid fix-up plans changes (%q)", s.mutating(n))
	}
}
