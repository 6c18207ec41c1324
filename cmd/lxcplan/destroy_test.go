package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// edit rewrites a file of the lab (old → new, which must occur).
func (l *applyLab) edit(t *testing.T, file, old, new string) {
	t.Helper()
	p := filepath.Join(filepath.Dir(l.stack), file)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s lacks %q", file, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (l *applyLab) confs(t *testing.T) []string {
	t.Helper()
	confs, _ := filepath.Glob(filepath.Join(l.c.Dir, "nodes", "*", "lxc", "*.conf"))
	return confs
}

func (l *applyLab) lines(from int) []string {
	var out []string
	for _, e := range l.c.Commands()[from:] {
		out = append(out, strings.Join(e.Argv, " "))
	}
	return out
}

// vmid is the vmid of the container whose hostname is name.
func (l *applyLab) vmid(t *testing.T, name string) string {
	t.Helper()
	for _, c := range l.confs(t) {
		b, _ := os.ReadFile(c)
		if strings.Contains(string(b), "\nhostname: "+name+"\n") || strings.HasPrefix(string(b), "hostname: "+name+"\n") {
			return strings.TrimSuffix(filepath.Base(c), ".conf")
		}
	}
	t.Fatalf("no container with hostname %s", name)
	return ""
}

func indexOf(lines []string, prefix string) int {
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return i
		}
	}
	return -1
}

func TestDestroyCommand(t *testing.T) {
	lab := newApplyLab(t)
	lab.edit(t, "stack.yaml", "cache: {recipe: ./app.yaml, host: pve2}", "cache: {recipe: ./app.yaml, host: pve2, ha: {state: started}}")
	if code, out, errOut := lab.run(t, "apply", lab.stack); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	secrets := lab.secrets(t)
	ids := map[string]string{"db": lab.vmid(t, "db"), "cache": lab.vmid(t, "cache"), "web": lab.vmid(t, "web")}

	// Without --yes and without a terminal: refused, nothing destroyed.
	n := len(lab.c.Commands())
	code, out, errOut := lab.run(t, "destroy", lab.stack)
	if code != exitFailed || !strings.Contains(errOut, "--yes") {
		t.Fatalf("destroy without --yes: exit %d\n%s\n%s", code, out, errOut)
	}
	if len(lab.confs(t)) != 3 || indexOf(lab.lines(n), "pct destroy") >= 0 {
		t.Fatalf("a refused destroy destroyed something: %v", lab.confs(t))
	}

	n = len(lab.c.Commands())
	code, out, errOut = lab.run(t, "destroy", "--yes", lab.stack)
	if code != 0 {
		t.Fatalf("destroy --yes: exit %d\n%s\n%s", code, out, errOut)
	}
	if c := lab.confs(t); len(c) != 0 {
		t.Errorf("left after destroy: %v", c)
	}
	lines := lab.lines(n)
	// Dependents first: web before db; HA removed before cache's destroy.
	web, db := indexOf(lines, "pct destroy "+ids["web"]), indexOf(lines, "pct destroy "+ids["db"])
	if web < 0 || db < web {
		t.Errorf("destroy order web %d, db %d:\n%s", web, db, strings.Join(lines, "\n"))
	}
	ha, cache := indexOf(lines, "ha-manager remove ct:"+ids["cache"]), indexOf(lines, "pct destroy "+ids["cache"])
	if ha < 0 || cache < ha {
		t.Errorf("ha-manager remove at %d, pct destroy of cache at %d:\n%s", ha, cache, strings.Join(lines, "\n"))
	}
	if left := lab.secrets(t); len(left) != 0 {
		t.Errorf("%d secrets left on the cluster", len(left))
	}
	for _, v := range secrets {
		if strings.Contains(out+errOut, v) {
			t.Errorf("secret leaked:\n%s\n%s", out, errOut)
		}
	}

	// Nothing left: a second destroy says so.
	code, out, _ = lab.run(t, "destroy", "--yes", lab.stack)
	if code != 0 || !strings.Contains(out, "nothing to destroy") {
		t.Errorf("second destroy: exit %d\n%s", code, out)
	}
}

func TestDestroyProtectedAndTargets(t *testing.T) {
	lab := newApplyLab(t)
	lab.edit(t, "stack.yaml", "db: {recipe: ./app.yaml, host: pve1}", "db: {recipe: ./app.yaml, host: pve1, protection: true}")
	if code, out, errOut := lab.run(t, "apply", lab.stack); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	db := lab.vmid(t, "db")
	n := len(lab.c.Commands())
	code, out, errOut := lab.run(t, "destroy", "--yes", lab.stack)
	if code != exitFailed || !strings.Contains(errOut, "db ("+db+")") || !strings.Contains(errOut, "protected") {
		t.Fatalf("destroy with a protected container: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, l := range lab.lines(n) {
		if strings.HasPrefix(l, "pct stop") || strings.HasPrefix(l, "pct destroy") {
			t.Errorf("a refused destroy ran %s", l)
		}
	}

	// --target cache takes web (which depends on cache) too, not db.
	before := len(lab.secrets(t))
	code, out, errOut = lab.run(t, "destroy", "--yes", "--target", "cache", lab.stack)
	if code != 0 {
		t.Fatalf("destroy --target cache: exit %d\n%s\n%s", code, out, errOut)
	}
	if c := lab.confs(t); len(c) != 1 || !strings.HasSuffix(c[0], "/"+db+".conf") {
		t.Errorf("left after destroy --target cache: %v", c)
	}
	// db's password and the stack's key remain.
	if left := len(lab.secrets(t)); left != before-2 {
		t.Errorf("secrets: %d before, %d after", before, left)
	}
	if code, _, errOut := lab.run(t, "destroy", "--yes", "--target", "nope", lab.stack); code != exitUsage {
		t.Errorf("unknown target: exit %d\n%s", code, errOut)
	}
}

// TestTraceWithProgress: with -x, every host's trace and the progress lines
// write to stderr concurrently; they share one lock (run it with -race).
func TestTraceWithProgress(t *testing.T) {
	lab := newApplyLab(t)
	code, out, errOut := lab.run(t, "-x", "apply", lab.stack)
	if code != 0 {
		t.Fatalf("apply -x: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"+ pve1: pct create", "+ pve2: pct create", "installing step 1/2"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	for _, line := range strings.Split(errOut, "\n") {
		if i := strings.Index(line, "+ pve"); i > 0 {
			t.Errorf("a trace line was interleaved with another: %q", line)
		}
	}
}
