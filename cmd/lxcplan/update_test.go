package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

const updateSteps = "update:\n  - run: app-migrate\n  - apt: [nginx-light]\nhealth:\n"

// scriptedRuns answers the recipe's run steps and health commands (their
// script comes on stdin) by their text; everything else succeeds.
func scriptedRuns(lab *applyLab, fn func(script string) int) {
	lab.c.Memory().Handle(`lxcplan-run`, func(_ []string, stdin io.Reader, _, stderr io.Writer) int {
		b, _ := io.ReadAll(stdin)
		code := fn(string(b))
		if code != 0 {
			io.WriteString(stderr, "failed\n")
		}
		return code
	})
}

func TestUpdateCommand(t *testing.T) {
	lab := newApplyLab(t)
	lab.edit(t, "app.yaml", "health:\n", updateSteps)
	var migrated atomic.Int32
	scriptedRuns(lab, func(s string) int {
		if strings.Contains(s, "app-migrate") {
			migrated.Add(1)
		}
		return 0
	})
	if code, out, errOut := lab.run(t, "apply", lab.stack); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	db := lab.vmid(t, "db")
	n := len(lab.c.Commands())
	code, out, errOut := lab.run(t, "update", "--target", "db", lab.stack)
	if code != 0 {
		t.Fatalf("update: exit %d\n%s\n%s", code, out, errOut)
	}
	lines := lab.lines(n)
	snap, del := indexOf(lines, "pct snapshot "+db+" lxcplan-update-"), indexOf(lines, "pct delsnapshot "+db+" lxcplan-update-")
	if snap < 0 || del < snap || migrated.Load() != 1 {
		t.Fatalf("snapshot at %d, delsnapshot at %d, %d migrations:\n%s", snap, del, migrated.Load(), strings.Join(lines, "\n"))
	}
	if !strings.Contains(errOut, "db  installing step 1/2") || !strings.Contains(out, "CONTAINER") {
		t.Errorf("progress or summary missing:\n%s\n%s", out, errOut)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "pct snapshot") && !strings.HasPrefix(l, "pct snapshot "+db+" ") {
			t.Errorf("--target db touched another container: %s", l)
		}
	}
}

func TestUpdateFailureRollsBack(t *testing.T) {
	lab := newApplyLab(t)
	lab.edit(t, "app.yaml", "health:\n", updateSteps)
	lab.edit(t, "app.yaml", `cmd: "true"`, "cmd: app-health\n  timeout: 2s\n  interval: 10ms")
	var broken atomic.Bool
	probesAfter := atomic.Int32{}
	rolledBack := func() bool {
		for _, e := range lab.c.Commands() {
			if len(e.Argv) > 1 && e.Argv[0] == "pct" && e.Argv[1] == "rollback" {
				return true
			}
		}
		return false
	}
	if code, out, errOut := lab.run(t, "apply", lab.stack); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	// The migration breaks the service; the snapshot rollback restores it
	// (the memory runtime keeps no file snapshots: the probe models it).
	scriptedRuns(lab, func(s string) int {
		switch {
		case strings.Contains(s, "app-migrate"):
			broken.Store(true)
			return 1
		case strings.Contains(s, "app-health"):
			if !broken.Load() {
				return 0
			}
			if rolledBack() {
				probesAfter.Add(1)
				return 0
			}
			return 1
		}
		return 0
	})
	n := len(lab.c.Commands())
	code, out, errOut := lab.run(t, "update", lab.stack)
	if code != exitFailed || !strings.Contains(errOut, "rolled back") {
		t.Fatalf("failed update: exit %d, want 1 after a rollback\n%s\n%s", code, out, errOut)
	}
	lines := lab.lines(n)
	// The first container (in dependency order: cache or db) fails;
	// nothing after it is touched.
	snap := indexOf(lines, "pct snapshot ")
	if snap < 0 {
		t.Fatalf("no snapshot:\n%s", strings.Join(lines, "\n"))
	}
	first := strings.Fields(lines[snap])[2]
	rb := indexOf(lines, "pct rollback "+first+" lxcplan-update-")
	if rb < snap || !strings.Contains(lines[rb], "--start 1") {
		t.Fatalf("snapshot at %d, rollback at %d:\n%s", snap, rb, strings.Join(lines, "\n"))
	}
	if indexOf(lines[rb:], "pct delsnapshot "+first) < 0 {
		t.Errorf("snapshot not deleted after the rollback:\n%s", strings.Join(lines, "\n"))
	}
	if probesAfter.Load() == 0 {
		t.Errorf("the service was not probed after the rollback")
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "pct snapshot ") && !strings.HasPrefix(l, "pct snapshot "+first+" ") {
			t.Errorf("a container after the failed one was updated: %s", l)
		}
	}
	// The configs are the ones before the update (the snapshot section gone).
	for _, c := range lab.confs(t) {
		if b, _ := os.ReadFile(c); strings.Contains(string(b), "lxcplan-update-") {
			t.Errorf("%s after rollback:\n%s", c, b)
		}
	}
}

func TestUpdateUnprotectedStorage(t *testing.T) {
	lab := newApplyLab(t)
	lab.edit(t, "app.yaml", "health:\n", updateSteps)
	lab.edit(t, "stack.yaml", "storage: local-lvm", "storage: local-dir")
	if code, out, errOut := lab.run(t, "apply", lab.stack); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut := lab.run(t, "update", lab.stack)
	if code != exitFailed || !strings.Contains(errOut, "--allow-unprotected") {
		t.Fatalf("update on dir storage: exit %d\n%s", code, errOut)
	}
	if code, out, errOut := lab.run(t, "update", "--allow-unprotected", lab.stack); code != 0 {
		t.Fatalf("--allow-unprotected: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestPlanShowsUpgrade: a recipe version change is planned as an upgrade
// listing the update steps that will run.
func TestPlanShowsUpgrade(t *testing.T) {
	lab := newApplyLab(t)
	lab.edit(t, "app.yaml", "health:\n", updateSteps)
	if code, out, errOut := lab.run(t, "apply", lab.stack); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	lab.edit(t, "app.yaml", "version: 1.0.0", "version: 1.1.0")
	code, out, errOut := lab.run(t, "plan", lab.stack)
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"~ upgrade db", "recipe.version = 1.0.0 → 1.1.0", "update step 1: run a script", "update step 2: install packages nginx-light", "3 to reprovision"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
}

// TestFingerprintKey: apply stores the stack's key, and plan uses it, so a
// secret value given in the stack is compared.
func TestFingerprintKey(t *testing.T) {
	lab := newApplyLab(t)
	lab.edit(t, "stack.yaml", "db: {recipe: ./app.yaml, host: pve1}", "db: {recipe: ./app.yaml, host: pve1, params: {password: first-given-value}}")
	if code, out, errOut := lab.run(t, "apply", lab.stack); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	key := filepath.Join(lab.c.Dir, "priv", "lxcplan", "shop", "lxcplan_stack.fingerprint-key")
	b, err := os.ReadFile(key)
	if err != nil || len(strings.TrimSpace(string(b))) != 64 {
		t.Fatalf("fingerprint key %q: %v", b, err)
	}
	code, out, errOut := lab.run(t, "plan", lab.stack)
	if code != 0 || strings.Contains(out+errOut, "secret key is not available") || !strings.Contains(out, "No changes") {
		t.Fatalf("plan after apply: exit %d\n%s\n%s", code, out, errOut)
	}
	lab.edit(t, "stack.yaml", "first-given-value", "second-given-value")
	code, out, errOut = lab.run(t, "plan", "--detailed-exitcode", lab.stack)
	if code != exitChanges || strings.Contains(out+errOut, "second-given-value") {
		t.Fatalf("plan with a changed secret: exit %d, want 2 without the value\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, string(b)) {
		t.Errorf("the key leaked")
	}
}
