package exec_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lxcplan/lxcplan/engine/exec"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// withUpdate adds update steps to the test recipe (and bumps nothing: the
// version stays, so the plan stays a no-op).
var withUpdate = []string{"health:\n", "update:\n  - run: app-migrate\n  - run: echo updated > /etc/updated\nhealth:\n"}

func (s *sim) update(t *testing.T, o exec.RunOptions, edits ...string) (*exec.Result, error) {
	t.Helper()
	_, res, err := exec.RunUpdate(context.Background(), loadStack(t, edits...), s.hosts, o)
	return res, err
}

func (s *sim) destroy(t *testing.T, o exec.RunOptions, edits ...string) (*plan.Plan, *exec.Result, error) {
	t.Helper()
	return exec.RunDestroy(context.Background(), loadStack(t, edits...), s.hosts, o)
}

// scripted answers run steps and health commands (lxcplan-run scripts
// come on stdin) by their text: fn returns the exit code for a script
// mentioning one of its keys; everything else succeeds.
func scripted(s *sim, fn func(script string) int) {
	s.c.Memory().Handle(`lxcplan-run`, func(_ []string, stdin io.Reader, _, stderr io.Writer) int {
		b, _ := io.ReadAll(stdin)
		code := fn(string(b))
		if code != 0 {
			io.WriteString(stderr, "failed: "+string(b)+"\n")
		}
		return code
	})
}

func commandIndex(lines []string, from int, prefix string) int {
	for i := from; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], prefix) {
			return i
		}
	}
	return -1
}

func TestUpdateSnapshotsRunsStepsAndDeletesSnapshot(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	var migrated atomic.Int32
	scripted(s, func(script string) int {
		if strings.Contains(script, "app-migrate") {
			migrated.Add(1)
		}
		return 0
	})
	_, res := mustApply(t, s, withUpdate...)
	id := itoa(res.Container("cache").VMID)
	n := len(s.c.CommandLines())
	o := s.options(t)
	o.Targets = []string{"cache"}
	ures, err := s.update(t, o, withUpdate...)
	if err != nil {
		t.Fatalf("update: %v\n%s", err, s.streams.String())
	}
	lines := s.c.CommandLines()
	snap := commandIndex(lines, n, "pct snapshot "+id+" lxcplan-update-")
	step := commandIndex(lines, snap+1, "pct exec "+id)
	del := commandIndex(lines, n, "pct delsnapshot "+id+" lxcplan-update-")
	if snap < 0 || step < snap || del < step || migrated.Load() != 1 {
		t.Fatalf("snapshot at %d, step at %d, delsnapshot at %d:\n%s\n%s", snap, step, del, strings.Join(lines[n:], "\n"), s.streams.String())
	}
	for _, l := range lines[n:] {
		if strings.HasPrefix(l, "pct snapshot") && !strings.HasPrefix(l, "pct snapshot "+id) {
			t.Errorf("--target cache touched another container: %s", l)
		}
	}
	if c := ures.Container("cache"); c == nil || c.Status != exec.StatusOK {
		t.Errorf("cache: %+v", c)
	}
	// The update left nothing the plan would change.
	if p, _ := mustApply(t, s, withUpdate...); p.HasChanges() {
		t.Errorf("plan after update: %+v", p.Summary)
	}
}

func TestUpdateFailureRollsBack(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	var broken, rolledBack atomic.Bool
	// The snapshot rollback restores the container; the sim's memory
	// runtime keeps no file snapshots, so the probe models it: broken by
	// the failed migration until a pct rollback ran.
	var probesAfter atomic.Int32
	scripted(s, func(script string) int {
		switch {
		case strings.Contains(script, "app-migrate"):
			broken.Store(true)
			return 1
		case strings.Contains(script, "app-health"):
			if rolledBack.Load() {
				probesAfter.Add(1)
			}
			if broken.Load() && !rolledBack.Load() {
				return 1
			}
		}
		return 0
	})
	for name, r := range s.hosts {
		s.hosts[name] = transport.Chain(r, func(next transport.RunFunc) transport.RunFunc {
			return func(ctx context.Context, c transport.Command) (transport.Result, error) {
				res, err := next(ctx, c)
				if err == nil && len(c.Argv) > 1 && c.Argv[0] == "pct" && c.Argv[1] == "rollback" {
					rolledBack.Store(true)
				}
				return res, err
			}
		})
	}
	edits := append([]string{"cmd: \"true\"", "cmd: app-health\n  timeout: 2s\n  interval: 10ms"}, withUpdate...)
	_, res := mustApply(t, s, edits...)
	id := itoa(res.Container("db").VMID)
	n := len(s.c.CommandLines())
	o := s.options(t)
	o.Targets = []string{"db"}
	ures, err := s.update(t, o, edits...)
	if !errors.Is(err, exec.ErrFailed) || errors.Is(err, exec.ErrRollbackIncomplete) {
		t.Fatalf("update: %v, want ErrFailed after a clean rollback\n%s", err, s.streams.String())
	}
	lines := s.c.CommandLines()
	snap := commandIndex(lines, n, "pct snapshot "+id+" lxcplan-update-")
	rb := commandIndex(lines, n, "pct rollback "+id+" lxcplan-update-")
	if snap < 0 || rb < snap || !strings.Contains(lines[rb], "--start 1") {
		t.Fatalf("snapshot at %d, rollback at %d:\n%s", snap, rb, strings.Join(lines[n:], "\n"))
	}
	if commandIndex(lines, rb, "pct delsnapshot "+id) < 0 {
		t.Errorf("snapshot not deleted after the rollback")
	}
	if probesAfter.Load() == 0 {
		t.Errorf("no health probe after the rollback")
	}
	if c := ures.Container("db"); c == nil || c.Status != exec.StatusRolledBack || !ures.RolledBack {
		t.Errorf("db: %+v", c)
	}
}

func TestUpdateRefusesUnprotectedStorage(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	edits := append([]string{"storage: local-lvm", "storage: local-dir"}, withUpdate...)
	mustApply(t, s, edits...)
	n := len(s.c.CommandLines())
	_, err := s.update(t, s.options(t), edits...)
	if !errors.Is(err, exec.ErrUnprotected) {
		t.Fatalf("update on dir storage: %v", err)
	}
	if m := s.mutating(n); len(m) > 0 {
		t.Errorf("a refused update ran %q", m)
	}
	o := s.options(t)
	o.AllowUnprotected = true
	if _, err := s.update(t, o, edits...); err != nil {
		t.Fatalf("--allow-unprotected: %v", err)
	}
}

func TestDestroyAll(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	mustApply(t, s)
	_, _, err := s.destroy(t, s.options(t))
	if !errors.Is(err, exec.ErrNeedsConfirmation) {
		t.Fatalf("destroy without yes: %v", err)
	}
	o := s.options(t)
	o.Yes = true
	p, res, err := s.destroy(t, o)
	if err != nil {
		t.Fatalf("destroy: %v\n%s", err, s.streams.String())
	}
	// Dependents first: web before db and cache.
	if len(p.Changes) != 3 || p.Changes[0].Container != "web" {
		t.Errorf("destroy order: %v", names(p))
	}
	for _, c := range res.Containers {
		if c.Status != exec.StatusDestroyed {
			t.Errorf("%s: %s", c.Name, c.Status)
		}
	}
	if confs, _ := filepath.Glob(filepath.Join(s.c.Dir, "nodes", "*", "lxc", "*.conf")); len(confs) != 0 {
		t.Errorf("left: %v", confs)
	}
	if _, err := os.Stat(filepath.Join(s.c.Dir, "priv", "lxcplan", "shop")); !os.IsNotExist(err) {
		t.Errorf("the stack's secrets and key are left: %v (%v)", s.secretsOf(t), err)
	}
}

func TestDestroyTargetTakesDependents(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	mustApply(t, s)
	o := s.options(t)
	o.Yes, o.Targets = true, []string{"db"}
	p, _, err := s.destroy(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(p), " "); got != "web db" {
		t.Errorf("destroy --target db: %s, want web db", got)
	}
	left := s.secretsOf(t)
	if _, ok := left["cache.password"]; !ok || len(left) != 2 { // cache's password and the key
		t.Errorf("secrets left: %v", keysOf(left))
	}
}

func TestDestroyRefusesProtected(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	mustApply(t, s, "    recipe: ./app.yaml\n    host: pve2\n", "    recipe: ./app.yaml\n    host: pve2\n    protection: true\n")
	n := len(s.c.CommandLines())
	o := s.options(t)
	o.Yes = true
	_, _, err := s.destroy(t, o)
	if !errors.Is(err, exec.ErrProtected) || !strings.Contains(err.Error(), "cache (") {
		t.Fatalf("destroy of a protected container: %v", err)
	}
	if m := s.mutating(n); len(m) > 0 {
		t.Errorf("a refused destroy ran %q", m)
	}
}

func TestDestroyRemovesHA(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	ha := []string{"    recipe: ./app.yaml\n    host: pve2\n", "    recipe: ./app.yaml\n    host: pve2\n    ha: {state: started}\n"}
	_, res := mustApply(t, s, ha...)
	id := itoa(res.Container("cache").VMID)
	n := len(s.c.CommandLines())
	o := s.options(t)
	o.Yes, o.Targets = true, []string{"cache"}
	if _, _, err := s.destroy(t, o, ha...); err != nil {
		t.Fatal(err)
	}
	lines := s.c.CommandLines()
	rm := commandIndex(lines, n, "ha-manager remove ct:"+id)
	de := commandIndex(lines, n, "pct destroy "+id)
	if rm < 0 || de < rm {
		t.Errorf("ha-manager remove at %d, pct destroy at %d:\n%s", rm, de, strings.Join(lines[n:], "\n"))
	}
}

func names(p *plan.Plan) []string {
	var out []string
	for _, ch := range p.Changes {
		out = append(out, ch.Container)
	}
	return out
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
