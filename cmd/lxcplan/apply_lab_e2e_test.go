package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
	"github.com/lxcplan/lxcplan/engine/pvesim/labtest"
	"github.com/lxcplan/lxcplan/recipes"
)

// TestApplyLabE2E proves `lxcplan apply` on the real lab (issue #6, "End-to-end
// tests on the lab"): real services, concurrency, no-op re-apply, each
// change path, rollback after install faults, dropped connections and
// SIGINT, and the stack lock. It runs only with PVELAB_E2E=1 as root
// (labtest.Up skips otherwise). Containers are reused from phase to phase;
// failure phases use nginx-light, which the lab's apt cache serves quickly.
func TestApplyLabE2E(t *testing.T) {
	isolate(t)
	// The SIGINT phase runs the real binary; build it before taking the
	// lab, which other packages' lab tests wait for.
	bin := ""
	if os.Getenv(labtest.EnvVar) == "1" && os.Geteuid() == 0 {
		bin = filepath.Join(t.TempDir(), "lxcplan")
		if b, err := osexec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
	}
	l := labtest.Up(t)
	l.Reset(t)
	lc, err := labconf.Load(labconf.DefaultPath)
	if err != nil {
		t.Fatalf("lab description: %v", err)
	}
	e := &applyEnv{l: l, clusterDir: lc.ClusterDir, dir: t.TempDir(), bin: bin}
	if err := os.MkdirAll(filepath.Join(e.dir, "recipes"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.faults(t) })

	total := time.Now()
	phases := []struct {
		name string
		f    func(t *testing.T)
	}{
		{"create", e.create},
		{"noop", e.noop},
		{"memory-update", e.memoryUpdate},
		{"reprovision", e.reprovision},
		{"reprovision-fault", e.reprovisionFault},
		{"create-fault", e.createFault},
		{"drop", e.drop},
		{"sigint", e.sigint},
		{"lock", e.lock},
		{"replace", e.replace},
	}
	for _, p := range phases {
		start := time.Now()
		t.Run(p.name, p.f)
		t.Logf("phase %s: %s", p.name, time.Since(start).Round(100*time.Millisecond))
		if !e.created {
			t.Fatalf("nothing else can run without the stack")
		}
	}
	t.Logf("apply e2e total: %s", time.Since(total).Round(time.Second))
}

// applyEnv is the state the phases share: the stack's current shape.
type applyEnv struct {
	l          *labtest.Lab
	clusterDir string
	dir        string

	cacheMemory int    // cache's resources.memory
	webStep     string // marker in the web recipe's run step
	webPriv     bool   // web is privileged (unprivileged: false)
	extra       bool   // the stack has the extra container (vmid 303)
	extraStep   string // marker in extra's recipe step
	faultN      int    // makes every fault rule line unique (counters are per line)
	created     bool   // the first apply succeeded
	bin         string // the built lxcplan, for the SIGINT phase
}

const (
	e2eStack = "e2e"
	vmDB     = 300
	vmCache  = 301
	vmWeb    = 302
	vmExtra  = 303
)

// write renders the stack and its local recipes into e.dir and returns the
// stack path. The web recipe is nginx-light with a marker step: changing
// the marker is the "recipe install step changed" of a reprovision.
func (e *applyEnv) write(t *testing.T) string {
	t.Helper()
	recipe := func(name, marker string) {
		text := fmt.Sprintf(`apiVersion: lxcplan/v1
kind: Recipe
name: %s
version: 1.0.0
description: nginx-light serving one page (lxcplan e2e)
container: {os: debian, version: "12", memory: 256, disk: 2}
params:
  page: {type: string, default: "hello"}
install:
  - apt: [nginx-light]
  - file: {path: /var/www/html/index.html, mode: "0644", content: "${params.page}"}
  - run: "true %s"
  - service: {name: nginx, enable: true, state: restarted}
health:
  http: {port: 80, path: /, status: 200}
  interval: 1s
  timeout: 60s
outputs:
  url: "http://${container.ip}/"
`, name, marker)
		if err := os.WriteFile(filepath.Join(e.dir, "recipes", name+".yaml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	recipe("web", e.webStep)
	recipe("extra", e.extraStep)
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: lxcplan/v1\nkind: Stack\nname: %s\nhosts:\n%s", e2eStack, e.l.StackHosts())
	// nesting off: nothing here runs containers inside containers, and the
	// smaller LXC config keeps the failure scenarios about lxcplan alone.
	b.WriteString("defaults:\n  storage: local-lvm\n  template_storage: local\n  network: {bridge: vmbr0}\n  features: {nesting: false}\ncontainers:\n")
	fmt.Fprintf(&b, "  db:\n    recipe: postgresql\n    host: pve2\n    vmid: %d\n    params: {database: e2e, user: e2e}\n", vmDB)
	fmt.Fprintf(&b, "  cache:\n    recipe: redis\n    host: pve2\n    vmid: %d\n    resources: {memory: %d}\n", vmCache, e.cacheMemory)
	fmt.Fprintf(&b, "  web:\n    recipe: ./recipes/web.yaml\n    host: pve1\n    vmid: %d\n    unprivileged: %v\n", vmWeb, !e.webPriv)
	b.WriteString("    depends_on: {db: {condition: healthy}, cache: {condition: healthy}}\n")
	b.WriteString("    params: {page: \"db ${containers.db.ip} cache ${containers.cache.ip}\"}\n")
	if e.extra {
		fmt.Fprintf(&b, "  extra:\n    recipe: ./recipes/extra.yaml\n    host: pve1\n    vmid: %d\n", vmExtra)
	}
	p := filepath.Join(e.dir, "stack.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// lx runs the CLI in-process with the lab's known_hosts.
func (e *applyEnv) lx(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCLI(t, append([]string{"--known-hosts", e.l.KnownHosts}, args...)...)
}

// apply runs `lxcplan apply` on the current stack; it fails t unless the
// exit code is want.
func (e *applyEnv) apply(t *testing.T, want int, extra ...string) (string, string) {
	t.Helper()
	args := append([]string{"apply"}, extra...)
	args = append(args, e.write(t))
	start := time.Now()
	code, out, errOut := e.lx(t, args...)
	t.Logf("apply %v: exit %d in %s", extra, code, time.Since(start).Round(100*time.Millisecond))
	if code != want {
		t.Fatalf("apply: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, want, out, errOut)
	}
	return out, errOut
}

// faults replaces the lab's fault rules (none: no rules) and resets their
// counters.
func (e *applyEnv) faults(t testing.TB, rules ...map[string]any) {
	t.Helper()
	var b bytes.Buffer
	for _, r := range rules {
		e.faultN++
		r["stderr"] = fmt.Sprintf("%v (e2e fault %d)", r["stderr"], e.faultN)
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	os.Remove(e.l.FaultsFile + ".state")
	if err := os.WriteFile(e.l.FaultsFile, b.Bytes(), 0o644); err != nil {
		t.Fatalf("faults file: %v", err)
	}
}

// configs reads every container config of the cluster dir, keyed by path.
func (e *applyEnv) configs(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(e.clusterDir, "nodes", "*", "lxc", "*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(e.clusterDir, f)
		m[rel] = string(b)
	}
	return m
}

// sameConfigs fails t unless the cluster's container configs are byte for
// byte those of before.
func (e *applyEnv) sameConfigs(t *testing.T, before map[string]string) {
	t.Helper()
	after := e.configs(t)
	for k, v := range before {
		if a, ok := after[k]; !ok {
			t.Errorf("%s is gone", k)
		} else if a != v {
			t.Errorf("%s changed:\n--- before\n%s--- after\n%s", k, v, a)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s is new: %s", k, after[k])
		}
	}
}

// ctIP is the IPv4 address of container vmid on node (from inside it).
func (e *applyEnv) ctIP(t *testing.T, node string, vmid int) string {
	t.Helper()
	// Right after a rollback restarts the container its DHCP lease may
	// not be back yet.
	for i := 0; ; i++ {
		out := e.l.MustSSH(t, node, "pct", "exec", fmt.Sprint(vmid), "--", "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1")
		if ip := strings.TrimSpace(out); ip != "" || i == 60 {
			if ip == "" {
				t.Fatalf("CT %d on %s has no IPv4 address", vmid, node)
			}
			return ip
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// get fetches the web page from the test process (the host side of the
// bridge), retrying briefly while a service restarts.
func get(t *testing.T, url string) string {
	t.Helper()
	cl := &http.Client{Timeout: 5 * time.Second}
	var last error
	for i := 0; i < 20; i++ {
		resp, err := cl.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return string(b)
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

// mutating says whether a logged PVE command changes anything.
func mutating(argv []string) bool {
	if len(argv) < 2 {
		return false
	}
	switch argv[0] {
	case "pct":
		switch argv[1] {
		case "list", "config", "status", "listsnapshot", "pending", "df", "cpusets":
			return false
		}
		return true
	case "pveam":
		return argv[1] == "download" || argv[1] == "remove"
	case "ha-manager":
		return argv[1] != "status" && argv[1] != "config"
	case "pvesh":
		return argv[1] != "get" && argv[1] != "ls"
	}
	return false
}

// cmds is the logged commands since off, as "node tool args" strings.
func (e *applyEnv) cmds(t *testing.T, off int64) []string {
	var out []string
	for _, c := range e.l.CommandsSince(t, off) {
		out = append(out, c.Node+" "+strings.Join(c.Argv, " "))
	}
	return out
}

func grepCmds(cmds []string, re string) []string {
	rx := regexp.MustCompile(re)
	var out []string
	for _, c := range cmds {
		if rx.MatchString(c) {
			out = append(out, c)
		}
	}
	return out
}

// create applies the demo-like stack from empty: db and cache on pve2, web
// on pve1 showing both addresses. The services answer, and db and cache
// were installed at the same time.
func (e *applyEnv) create(t *testing.T) {
	e.cacheMemory, e.webStep = 512, "# v1"
	off := e.l.CommandLogLen(t)
	start := time.Now()
	out, _ := e.apply(t, 0)
	t.Logf("demo-like apply from empty: %s", time.Since(start).Round(100*time.Millisecond))
	e.created = true
	// Read now: the checks below run pct exec too.
	applied := e.l.CommandsSince(t, off)

	dbIP, cacheIP, webIP := e.ctIP(t, "pve2", vmDB), e.ctIP(t, "pve2", vmCache), e.ctIP(t, "pve1", vmWeb)
	for _, ip := range []string{dbIP, cacheIP, webIP} {
		if !strings.Contains(out, ip) {
			t.Errorf("summary lacks address %s:\n%s", ip, out)
		}
	}
	// SQL inside the db container.
	sql := e.l.MustSSH(t, "pve2", "pct", "exec", fmt.Sprint(vmDB), "--", "runuser", "-u", "postgres", "--", "psql", "-tAc", "select datname from pg_database where datname = 'e2e'")
	if strings.TrimSpace(sql) != "e2e" {
		t.Errorf("psql: database e2e not found: %q", sql)
	}
	// redis with the generated password.
	code, js, errOut := e.lx(t, "outputs", "--reveal", "--format", "json", e.write(t), "cache")
	if code != 0 {
		t.Fatalf("outputs: exit %d\n%s", code, errOut)
	}
	var outs map[string]map[string]string
	if err := json.Unmarshal([]byte(js), &outs); err != nil {
		t.Fatalf("outputs json: %v\n%s", err, js)
	}
	pass := outs["cache"]["password"]
	if pass == "" {
		t.Fatalf("cache has no password output: %s", js)
	}
	pong := e.l.MustSSH(t, "pve2", "pct", "exec", fmt.Sprint(vmCache), "--", "redis-cli", "--no-auth-warning", "-a", pass, "ping")
	if strings.TrimSpace(pong) != "PONG" {
		t.Errorf("redis-cli ping: %q", pong)
	}
	page := get(t, "http://"+webIP+"/")
	if !strings.Contains(page, "db "+dbIP) || !strings.Contains(page, "cache "+cacheIP) {
		t.Errorf("web page does not show both addresses (db %s, cache %s): %q", dbIP, cacheIP, page)
	}

	// db and cache do not depend on each other: their install windows
	// (first to last pct exec/push) overlap.
	win := map[int][2]time.Time{}
	for _, c := range applied {
		if len(c.Argv) < 3 || c.Argv[0] != "pct" || (c.Argv[1] != "exec" && c.Argv[1] != "push") {
			continue
		}
		var id int
		fmt.Sscan(c.Argv[2], &id)
		end := c.Time.Add(time.Duration(c.DurationMS) * time.Millisecond)
		w, ok := win[id]
		if !ok {
			w = [2]time.Time{c.Time, end}
		}
		if c.Time.Before(w[0]) {
			w[0] = c.Time
		}
		if end.After(w[1]) {
			w[1] = end
		}
		win[id] = w
	}
	d, c := win[vmDB], win[vmCache]
	if d[0].IsZero() || c[0].IsZero() {
		t.Fatalf("no install commands logged for db or cache: %v", win)
	}
	if !(d[0].Before(c[1]) && c[0].Before(d[1])) {
		t.Errorf("db install %s–%s and cache install %s–%s do not overlap", d[0].Format(time.StampMilli), d[1].Format(time.StampMilli), c[0].Format(time.StampMilli), c[1].Format(time.StampMilli))
	}
	// web waited for both to be healthy.
	if w := win[vmWeb]; w[0].Before(d[1].Add(-time.Second)) && w[0].Before(c[1].Add(-time.Second)) {
		t.Errorf("web installed from %s, before db (%s) and cache (%s) finished", w[0].Format(time.StampMilli), d[1].Format(time.StampMilli), c[1].Format(time.StampMilli))
	}
}

// noop: applying the same stack again changes nothing, and says so.
func (e *applyEnv) noop(t *testing.T) {
	off := e.l.CommandLogLen(t)
	out, errOut := e.apply(t, 0)
	if !strings.Contains(out+errOut, "No changes") {
		t.Errorf("re-apply does not say no changes:\n%s\n%s", out, errOut)
	}
	var mut []string
	for _, c := range e.l.CommandsSince(t, off) {
		if mutating(c.Argv) {
			mut = append(mut, c.Node+" "+strings.Join(c.Argv, " "))
		}
	}
	if len(mut) > 0 {
		t.Errorf("no-op apply ran mutating commands:\n%s", strings.Join(mut, "\n"))
	}
}

// memoryUpdate: a memory change is a live `pct set`, nothing else.
func (e *applyEnv) memoryUpdate(t *testing.T) {
	e.cacheMemory = 640
	off := e.l.CommandLogLen(t)
	e.apply(t, 0)
	cmds := e.cmds(t, off)
	if len(grepCmds(cmds, fmt.Sprintf(`^pve2 pct set %d .*--memory 640`, vmCache))) != 1 {
		t.Errorf("no pct set --memory 640 on %d:\n%s", vmCache, strings.Join(cmds, "\n"))
	}
	if bad := grepCmds(cmds, `pct (create|destroy|stop|start|shutdown|reboot|snapshot|rollback|exec \d+ .*apt)`); len(bad) > 0 {
		t.Errorf("live update ran more than pct set:\n%s", strings.Join(bad, "\n"))
	}
	conf := e.l.MustSSH(t, "pve2", "pct", "config", fmt.Sprint(vmCache))
	if !strings.Contains(conf, "memory: 640") {
		t.Errorf("pct config %d: no memory: 640\n%s", vmCache, conf)
	}
}

// reprovision: a changed install step reruns the steps under a snapshot,
// deleted once the container is healthy again.
func (e *applyEnv) reprovision(t *testing.T) {
	e.webStep = "# v2"
	off := e.l.CommandLogLen(t)
	e.apply(t, 0)
	cmds := e.cmds(t, off)
	snap := grepCmds(cmds, fmt.Sprintf(`^pve1 pct snapshot %d lxcplan-`, vmWeb))
	del := grepCmds(cmds, fmt.Sprintf(`^pve1 pct delsnapshot %d lxcplan-`, vmWeb))
	if len(snap) != 1 || len(del) != 1 {
		t.Errorf("reprovision: want one snapshot and one delsnapshot of %d:\n%s", vmWeb, strings.Join(cmds, "\n"))
	}
	if bad := grepCmds(cmds, fmt.Sprintf(`pct (create|destroy) %d`, vmWeb)); len(bad) > 0 {
		t.Errorf("reprovision recreated the container:\n%s", strings.Join(bad, "\n"))
	}
	get(t, "http://"+e.ctIP(t, "pve1", vmWeb)+"/")
}

// reprovisionFault: the new step fails; the snapshot is restored, the lab's
// configs are as before and the service answers again.
func (e *applyEnv) reprovisionFault(t *testing.T) {
	before := e.configs(t)
	e.webStep = "# v3-boom"
	// A run step's script goes on stdin; the service step after it has
	// recognisable arguments.
	e.faults(t, map[string]any{"tool": "pct", "match": `^exec 302 -- systemctl restart nginx$`, "stderr": "injected install failure", "exit": 3})
	defer e.faults(t)
	off := e.l.CommandLogLen(t)
	_, errOut := e.apply(t, exitFailed)
	if !strings.Contains(errOut, "rolled back") {
		t.Errorf("no rollback reported:\n%s", errOut)
	}
	cmds := e.cmds(t, off)
	if len(grepCmds(cmds, fmt.Sprintf(`^pve1 pct rollback %d lxcplan-`, vmWeb))) != 1 {
		t.Errorf("no pct rollback of %d:\n%s", vmWeb, strings.Join(cmds, "\n"))
	}
	e.sameConfigs(t, before)
	get(t, "http://"+e.ctIP(t, "pve1", vmWeb)+"/")
	e.webStep = "# v2" // back to what the hosts run
}

// createFault: a new container whose install fails is destroyed again;
// the lab ends exactly as before.
func (e *applyEnv) createFault(t *testing.T) {
	before := e.configs(t)
	e.extra, e.extraStep = true, "# x1"
	e.faults(t, map[string]any{"tool": "pct", "match": `^exec 303 -- systemctl enable nginx$`, "stderr": "injected install failure", "exit": 3})
	defer e.faults(t)
	e.apply(t, exitFailed)
	e.sameConfigs(t, before)
	if r := e.l.SSH("pve1", "pct", "status", fmt.Sprint(vmExtra)); r.Exit == 0 {
		t.Errorf("CT %d still exists: %s", vmExtra, r.Stdout)
	}
	e.extra = false
}

// drop: the SSH connection drops mid-install of a new container. Either
// the rollback completes after reconnecting (exit 1), or the run exits 4
// and --resume-rollback finishes it; the lab ends as before either way.
func (e *applyEnv) drop(t *testing.T) {
	before := e.configs(t)
	e.extra, e.extraStep = true, "# x2"
	e.faults(t, map[string]any{"tool": "pct", "match": `^exec 303 -- systemctl enable nginx$`, "action": "drop", "stderr": "dropped"})
	defer e.faults(t)
	stack := e.write(t)
	code, out, errOut := e.lx(t, "apply", stack)
	e.faults(t)
	switch code {
	case exitFailed:
		t.Logf("rollback completed in the same run after the drop")
	case exitRollbackPartial:
		m := regexp.MustCompile(`--resume-rollback (\S+)`).FindStringSubmatch(out + errOut)
		jp := ""
		if m != nil {
			jp = m[1]
		} else if m := regexp.MustCompile(`journal: (\S+)`).FindStringSubmatch(out + errOut); m != nil {
			jp = m[1]
		}
		if jp == "" {
			t.Fatalf("exit 4 without a journal path:\n%s\n%s", out, errOut)
		}
		if c, o, eo := e.lx(t, "apply", "--resume-rollback", jp, stack); c != 0 {
			t.Fatalf("resume-rollback: exit %d\n%s\n%s", c, o, eo)
		}
		t.Logf("exit 4, finished with --resume-rollback")
	default:
		t.Fatalf("dropped connection: exit %d, want 1 or 4\n%s\n%s", code, out, errOut)
	}
	e.sameConfigs(t, before)
	e.extra = false
}

// sigint: Ctrl-C while a new container installs rolls back and exits 1.
// The built binary runs as a subprocess so the signal is real.
func (e *applyEnv) sigint(t *testing.T) {
	bin := e.bin
	before := e.configs(t)
	e.extra, e.extraStep = true, "# x3"
	stack := e.write(t)
	off := e.l.CommandLogLen(t)
	var out, errOut bytes.Buffer
	cmd := osexec.Command(bin, "--known-hosts", e.l.KnownHosts, "apply", stack)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Env = os.Environ()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the container exists and its install has begun.
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) && len(grepCmds(e.cmds(t, off), `pct exec 303 `)) == 0 {
		time.Sleep(200 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("apply did not finish after SIGINT\n%s", errOut.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != exitFailed {
		t.Fatalf("SIGINT: exit %d, want 1\n%s\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(errOut.String(), "interrupted") {
		t.Errorf("no interruption message:\n%s", errOut.String())
	}
	e.sameConfigs(t, before)
	e.extra = false
}

// lock: two applies at once; one waits, times out and names the holder;
// the other succeeds; nothing is corrupted.
func (e *applyEnv) lock(t *testing.T) {
	e.cacheMemory = 512
	stack := e.write(t)
	// A delay on the live update keeps the first run holding the lock.
	e.faults(t, map[string]any{"tool": "pct", "match": `^set 301 `, "action": "delay", "delay_ms": 6000, "stderr": "slow"})
	defer e.faults(t)
	type res struct {
		code        int
		out, errOut string
	}
	ch := make(chan res, 2)
	for i := 0; i < 2; i++ {
		go func(i int) {
			if i == 1 {
				time.Sleep(1500 * time.Millisecond)
			}
			var o, eo bytes.Buffer
			code := run([]string{"lxcplan", "--known-hosts", e.l.KnownHosts, "apply", "--lock-timeout", "2s", stack}, strings.NewReader(""), &o, &eo)
			ch <- res{code, o.String(), eo.String()}
		}(i)
	}
	rs := []res{<-ch, <-ch}
	sort.Slice(rs, func(i, j int) bool { return rs[i].code < rs[j].code })
	if rs[0].code != 0 || rs[1].code != exitFailed {
		t.Fatalf("two applies: exits %d and %d, want 0 and 1\n%s\n%s\n---\n%s\n%s", rs[0].code, rs[1].code, rs[0].out, rs[0].errOut, rs[1].out, rs[1].errOut)
	}
	host, _ := os.Hostname()
	if msg := rs[1].errOut; !strings.Contains(msg, "lock") || !strings.Contains(msg, host) {
		t.Errorf("the losing run does not name the holder (%s):\n%s", host, msg)
	}
	e.faults(t)
	if _, errOut := e.apply(t, 0); !strings.Contains(errOut, "No changes") {
		t.Errorf("after the lock race the stack does not match:\n%s", errOut)
	}
}

// replace: unprivileged changes only by replacing the container, which
// needs --yes.
func (e *applyEnv) replace(t *testing.T) {
	e.webPriv = true
	_, errOut := e.apply(t, exitFailed)
	if !strings.Contains(errOut, "--yes") {
		t.Errorf("replace without --yes should ask for it:\n%s", errOut)
	}
	off := e.l.CommandLogLen(t)
	e.apply(t, 0, "--yes")
	cmds := e.cmds(t, off)
	if len(grepCmds(cmds, fmt.Sprintf(`pct destroy %d`, vmWeb))) == 0 || len(grepCmds(cmds, fmt.Sprintf(`pct create %d `, vmWeb))) == 0 {
		t.Errorf("replace: want destroy and create of %d:\n%s", vmWeb, strings.Join(cmds, "\n"))
	}
	conf := e.l.MustSSH(t, "pve1", "pct", "config", fmt.Sprint(vmWeb))
	if strings.Contains(conf, "unprivileged: 1") {
		t.Errorf("web is still unprivileged:\n%s", conf)
	}
	page := get(t, "http://"+e.ctIP(t, "pve1", vmWeb)+"/")
	if !strings.Contains(page, "db "+e.ctIP(t, "pve2", vmDB)) {
		t.Errorf("replaced web page: %q", page)
	}
}

// TestDemoSim is `make demo` where the lab cannot run (not root, no LXC):
// plans/demo/stack.yaml's containers applied to two simulated nodes
// (pvesim's memory runtime) behind in-process SSH servers, printing the
// same plan, progress and summary to stdout. Only the hosts block differs
// from the file: the servers listen on random ports with their own keys.
// It runs only with LXCPLAN_DEMO_SIM=1 (scripts/demo.sh sets it).
func TestDemoSim(t *testing.T) {
	if os.Getenv("LXCPLAN_DEMO_SIM") != "1" {
		t.Skip("set LXCPLAN_DEMO_SIM=1 (make demo does where the lab cannot run)")
	}
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	_, hosts, known := simCluster(t)
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(kh, []byte(known), 0o600); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join("..", "..", "plans", "demo", "stack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	hostsBlock := regexp.MustCompile(`(?ms)^hosts:\n.*?^defaults:`)
	if !hostsBlock.Match(text) {
		t.Fatalf("plans/demo/stack.yaml: no hosts block before defaults")
	}
	st := hostsBlock.ReplaceAllLiteral(text, []byte("hosts:\n"+hosts+"defaults:"))
	stack := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(stack, st, 0o644); err != nil {
		t.Fatal(err)
	}
	show := func(args ...string) int {
		fmt.Printf("\n$ lxcplan %s\n", strings.Join(args, " "))
		code := run(append([]string{"lxcplan", "--known-hosts", kh}, args...), strings.NewReader(""), os.Stdout, os.Stdout)
		if code != 0 {
			t.Errorf("lxcplan %s: exit %d", strings.Join(args, " "), code)
		}
		return code
	}
	show("hosts", "check", stack)
	show("plan", stack)
	show("apply", "--yes", stack)
	show("outputs", stack)
	// Simulated containers run no services: there is no page to fetch.
	fmt.Println("\n(simulated nodes run no real services: on the lab, make demo fetches web's page here)")
	fmt.Println("\n(second apply: nothing to do)")
	show("apply", "--yes", stack)
}

// ciRecipes is the recipe subset of LXCPLAN_TEST_RECIPES=ci: small Debian
// packages that install in seconds through the lab's apt cache, covering
// every health probe kind (http, tcp, cmd).
var ciRecipes = []string{
	"apache2", "coturn", "dnsmasq", "haproxy", "lighttpd", "memcached", "mosquitto",
	"nginx", "prometheus-node-exporter", "redis", "tinyproxy", "unbound",
}

// TestRecipesLab applies built-in recipes on the lab, in parallel across
// both nodes, and checks that each is healthy (`lxcplan status`) and that
// its outputs are resolved and name its own address. `make test-recipes`
// runs it: LXCPLAN_TEST_RECIPES=all applies every recipe, =ci the subset
// above. Needs PVELAB_E2E=1 and root as well.
func TestRecipesLab(t *testing.T) {
	mode := os.Getenv("LXCPLAN_TEST_RECIPES")
	var names []string
	switch mode {
	case "all":
		ents, err := fs.ReadDir(recipes.FS, ".")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.IsDir() {
				names = append(names, e.Name())
			}
		}
	case "ci":
		names = ciRecipes
	default:
		t.Skip("set LXCPLAN_TEST_RECIPES=all or ci (with PVELAB_E2E=1, as root) to apply the built-in recipes on the lab")
	}
	isolate(t)
	l := labtest.Up(t)
	l.Reset(t)

	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: lxcplan/v1\nkind: Stack\nname: recipes\nhosts:\n%s", l.StackHosts())
	// nesting off, as in TestApplyLabE2E's stacks.
	b.WriteString("defaults:\n  storage: local-lvm\n  template_storage: local\n  network: {bridge: vmbr0}\n  features: {nesting: false}\ncontainers:\n")
	for i, n := range names {
		fmt.Fprintf(&b, "  %s:\n    recipe: %s\n    host: pve%d\n    vmid: %d\n", n, n, 1+i%2, 400+i)
	}
	stack := filepath.Join(t.TempDir(), "stack.yaml")
	if err := os.WriteFile(stack, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	lx := func(args ...string) (int, string, string) {
		return runCLI(t, append([]string{"--known-hosts", l.KnownHosts}, args...)...)
	}
	start := time.Now()
	code, out, errOut := lx("apply", "--parallelism", "8", "--per-host", "4", stack)
	t.Logf("%s: %d recipes applied in %s", mode, len(names), time.Since(start).Round(time.Second))
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}

	code, js, errOut := lx("status", "--format", "json", stack)
	if code != 0 {
		t.Fatalf("status: exit %d\n%s\n%s", code, js, errOut)
	}
	var doc struct {
		Containers []map[string]any `json:"containers"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatalf("status json: %v\n%s", err, js)
	}
	ips := map[string]string{}
	for _, c := range doc.Containers {
		name, _ := c["name"].(string)
		ips[name], _ = c["ip"].(string)
		if c["health"] != "healthy" {
			t.Errorf("%s: health %v %v", name, c["health"], c["health_error"])
		}
	}
	if len(doc.Containers) != len(names) {
		t.Errorf("status lists %d containers, want %d", len(doc.Containers), len(names))
	}

	code, js, errOut = lx("outputs", "--format", "json", stack)
	if code != 0 {
		t.Fatalf("outputs: exit %d\n%s\n%s", code, js, errOut)
	}
	var outs map[string]map[string]string
	if err := json.Unmarshal([]byte(js), &outs); err != nil {
		t.Fatalf("outputs json: %v\n%s", err, js)
	}
	ipv4 := regexp.MustCompile(`\b(\d{1,3}\.){3}\d{1,3}\b`)
	for _, n := range names {
		for k, v := range outs[n] {
			if strings.Contains(v, "${") {
				t.Errorf("%s: output %s unresolved: %q", n, k, v)
			}
			for _, ip := range ipv4.FindAllString(v, -1) {
				if ip != ips[n] {
					t.Errorf("%s: output %s = %q names %s, not its address %s", n, k, v, ip, ips[n])
				}
			}
		}
	}
}
