package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/lock"
	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/transport"
)

const statusAppRecipe = `apiVersion: lxcplan/v1
kind: Recipe
name: app
version: 1.0.0
description: A small test service
container: {os: debian, version: "12", memory: 256, disk: 2}
params:
  password: {type: secret, description: generated, generate: {length: 24}}
install:
  - apt: [nginx-light]
health:
  cmd: "true"
outputs:
  url: "http://${container.ip}/"
  password: "${params.password}"
`

// statusWebRecipe uses its dependency's address and secret output; its
// probe fails (the lab's container listens on port 80 only).
const statusWebRecipe = `apiVersion: lxcplan/v1
kind: Recipe
name: web
version: 1.0.0
description: A web front that never gets healthy
container: {os: debian, version: "12", memory: 256, disk: 2}
params:
  db_host: {type: string, description: database address}
  db_password: {type: string, description: database password}
install:
  - apt: [nginx-light]
health:
  tcp: 8080
outputs:
  url: "http://${container.ip}:8080/"
  db_url: "postgres://app:${params.db_password}@${params.db_host}/app"
`

const statusVolid = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"

// statusLab is a two-node simulated cluster behind in-process SSH servers
// with a stack "shop" whose containers were created through pct, the way
// apply leaves them:
//
//	db    pve1 101 running, healthy, no drift
//	cache pve2 102 stopped
//	web   pve1 103 running, probe fails, memory changed behind lxcplan's back
//	extra          declared, never created
//	old   pve2 110 carries the stack's marker, no longer declared
type statusLab struct {
	c          *pvesim.Cluster
	dir        string
	stack      string
	knownHosts string
	hosts      map[string]transport.Runner
	secrets    map[string]string // container.param → value
}

func simRunner(n *pvesim.Node) transport.Runner {
	h := n.Handler()
	return transport.RunFunc(func(ctx context.Context, c transport.Command) (transport.Result, error) {
		var out, errb bytes.Buffer
		code := h.Exec(ctx, transport.Quote(c.Argv), c.Stdin, &out, &errb)
		res := transport.Result{Stdout: out.Bytes(), Stderr: errb.Bytes(), ExitCode: code}
		if code != 0 {
			return res, &transport.ExitError{Host: n.Name, Argv: c.Argv, Code: code, Stderr: res.Stderr}
		}
		return res, nil
	})
}

func newStatusLab(t *testing.T) *statusLab {
	t.Helper()
	t.Setenv("NO_COLOR", "1")
	c, hosts, known := simCluster(t)
	l := &statusLab{c: c, dir: t.TempDir(), hosts: map[string]transport.Runner{}, secrets: map[string]string{}}
	for _, name := range []string{"pve1", "pve2"} {
		n, _ := c.Node(name)
		l.hosts[name] = simRunner(n)
	}
	l.stack = filepath.Join(l.dir, "stack.yaml")
	l.knownHosts = filepath.Join(l.dir, "known_hosts")
	stack := fmt.Sprintf(`apiVersion: lxcplan/v1
kind: Stack
name: shop
hosts:
%sdefaults:
  storage: local-lvm
  template_storage: local
  network: {bridge: vmbr0}
containers:
  db: {recipe: ./app.yaml, host: pve1, vmid: 101}
  cache: {recipe: ./app.yaml, host: pve2, vmid: 102}
  web:
    recipe: ./web.yaml
    host: pve1
    vmid: 103
    depends_on: {db: {condition: healthy}}
    params: {db_host: "${containers.db.ip}", db_password: "${containers.db.outputs.password}"}
  extra: {recipe: ./app.yaml, host: pve2, vmid: 104}
`, hosts)
	for p, text := range map[string]string{l.stack: stack, filepath.Join(l.dir, "app.yaml"): statusAppRecipe,
		filepath.Join(l.dir, "web.yaml"): statusWebRecipe, l.knownHosts: known} {
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"pve1", "pve2"} {
		l.pve(t, name, "pveam", "download", "local", "debian-12-standard_12.7-1_amd64.tar.zst")
	}
	// Generated secrets, where the secret store keeps them.
	l.secrets["db.password"] = "db-Secret-0f9a8b7c6d5e4f3a"
	l.secrets["cache.password"] = "cache-Secret-1a2b3c4d5e6f7a8b"
	l.secrets["extra.password"] = "extra-Secret-9z8y7x6w5v4u3t"
	sdir := filepath.Join(c.Dir, "priv", "lxcplan", "shop")
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		t.Fatal(err)
	}
	for k, v := range l.secrets {
		if err := os.WriteFile(filepath.Join(sdir, k), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	l.create(t, "db", "10.77.0.201")
	l.create(t, "cache", "10.77.0.202")
	l.create(t, "web", "10.77.0.203")
	l.pve(t, "pve2", "pct", "stop", "102")
	c.Memory().Listen(103, 80)
	l.pve(t, "pve1", "pct", "set", "103", "--memory", "1024")
	old := &plan.Marker{Stack: "shop", Container: "old", Recipe: "./app.yaml", Version: "1.0.0", State: plan.StateReady,
		Addresses: map[string]string{"eth0": "10.77.0.210"}}
	l.pve(t, "pve2", "pct", "create", "110", statusVolid, "--storage", "local-lvm", "--hostname", "old",
		"--tags", "lxcplan;shop", "--description", old.Render("left over"))
	return l
}

// pve runs a command on a node, failing the test when it fails.
func (l *statusLab) pve(t *testing.T, host string, argv ...string) string {
	t.Helper()
	res, err := l.hosts[host].Run(context.Background(), transport.Command{Argv: argv})
	if err != nil {
		t.Fatalf("%s: %s: %v", host, strings.Join(argv, " "), err)
	}
	return string(res.Stdout)
}

// create makes container name as apply would: pct create with the planned
// settings and a ready marker with its learned address, then pct start.
func (l *statusLab) create(t *testing.T, name, addr string) {
	t.Helper()
	o := manifest.Options{Env: map[string]string{}, UserDefaultsFile: "-"}
	st, ds := manifest.LoadStackFile(l.stack, o)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	d, ds := manifest.Resolve(st, o)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	var targets []inventory.HostTarget
	for _, k := range []string{"pve1", "pve2"} {
		targets = append(targets, inventory.HostTarget{Key: k, Runner: l.hosts[k]})
	}
	obs, ods := inventory.Observe(context.Background(), targets, inventory.Options{})
	if ods.HasErrors() {
		t.Fatal(ods.Err())
	}
	p, _ := plan.Diff(d, obs, plan.Options{})
	var ch *plan.Change
	for _, x := range p.Changes {
		if x.Container == name {
			ch = x
		}
	}
	if ch == nil || ch.Action != plan.ActionCreate || ch.Apply == nil {
		t.Fatalf("%s: planned %+v", name, ch)
	}
	c := d.Container(name)
	argv := []string{"pct", "create", strconv.Itoa(c.VMID), statusVolid}
	keys := make([]string, 0, len(ch.Apply.Set))
	for k := range ch.Apply.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		argv = append(argv, "--"+k, ch.Apply.Set[k])
	}
	m := ch.Apply.Marker.Marker("shop", name, plan.StateReady, map[string]string{"eth0": addr})
	argv = append(argv, "--description", m.Render(""))
	l.pve(t, c.Host, argv...)
	l.pve(t, c.Host, "pct", "start", strconv.Itoa(c.VMID))
}

// run runs the CLI against the lab. The streams are locked buffers: the
// -x trace writes from the concurrent observation's goroutines (os.Stderr
// takes that; a bytes.Buffer would not).
func (l *statusLab) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut lockedBuffer
	code := run(append([]string{"lxcplan", "--known-hosts", l.knownHosts}, args...), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// noSecrets fails when any stored secret shows up in the streams.
func (l *statusLab) noSecrets(t *testing.T, streams ...string) {
	t.Helper()
	for k, v := range l.secrets {
		for _, s := range streams {
			if strings.Contains(s, v) {
				t.Errorf("secret %s leaked:\n%s", k, s)
			}
		}
	}
}

func TestStatusCommand(t *testing.T) {
	lab := newStatusLab(t)
	code, out, errOut := lab.run(t, "status", lab.stack)
	if code != 0 {
		t.Fatalf("status: exit %d\n%s\n%s", code, out, errOut)
	}
	lab.noSecrets(t, out, errOut)
	want := []string{
		`(?m)^CONTAINER\s+HOST\s+NODE\s+VMID\s+STATE\s+IP\s+HEALTH\s+DRIFT\s+NOTE$`,
		`(?m)^cache\s+pve2\s+pve2\s+102\s+stopped\s+10\.77\.0\.202\s+unhealthy\s+no\s*$`,
		`(?m)^db\s+pve1\s+pve1\s+101\s+running\s+10\.77\.0\.201\s+healthy\s+no\s*$`,
		`(?m)^extra\s+pve2\s+-\s+-\s+missing\s+-\s+-\s+-\s+will be created on apply$`,
		`(?m)^web\s+pve1\s+pve1\s+103\s+running\s+10\.77\.0\.203\s+unhealthy\s+yes\s*$`,
		`(?m)^old\s+pve2\s+pve2\s+110\s+stopped\s+10\.77\.0\.210\s+-\s+-\s+orphaned: will be destroyed on apply$`,
	}
	for _, re := range want {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("status lacks %s:\n%s", re, out)
		}
	}

	code, out, errOut = lab.run(t, "status", "--format", "json", lab.stack)
	if code != 0 {
		t.Fatalf("status json: exit %d\n%s\n%s", code, out, errOut)
	}
	lab.noSecrets(t, out, errOut)
	var doc statusDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]statusRow{}
	for _, r := range doc.Containers {
		got[r.Name] = r
	}
	if doc.Stack != "shop" || len(doc.Containers) != 5 {
		t.Fatalf("doc: %+v", doc)
	}
	if r := got["db"]; r.Health != "healthy" || r.Drift || r.VMID != 101 || r.State != "running" || !r.Declared {
		t.Errorf("db: %+v", r)
	}
	if r := got["web"]; r.Health != "unhealthy" || !r.Drift || r.HealthError == "" {
		t.Errorf("web: %+v", r)
	}
	if r := got["old"]; r.Declared || !strings.Contains(r.Note, "orphaned") {
		t.Errorf("old: %+v", r)
	}

	// The -x trace shows every command status runs, the secret store's
	// read and the probes included: no secret in it either.
	code, out, errOut = lab.run(t, "-x", "status", lab.stack)
	if code != 0 || !strings.Contains(errOut, "pct exec 101") {
		t.Fatalf("status -x: exit %d\n%s\n%s", code, out, errOut)
	}
	lab.noSecrets(t, out, errOut)
}

func TestStatusUnreachableHost(t *testing.T) {
	lab := newStatusLab(t)
	b, _ := os.ReadFile(lab.stack)
	// pve2 now points at a port nobody listens on.
	s := regexp.MustCompile(`(pve2: \{address: [^,]+, port: )\d+`).ReplaceAllString(string(b), "${1}1")
	if err := os.WriteFile(lab.stack, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := lab.run(t, "status", lab.stack)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	// pve1 reads the whole cluster, so pve2's containers are still seen;
	// only what is not there yet cannot be told from "missing".
	if !regexp.MustCompile(`(?m)^extra\s+pve2\s+-\s+-\s+unknown\s.*host pve2 could not be observed`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^cache\s+pve2\s+pve2\s+102\s+stopped`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^db\s+pve1\s+pve1\s+101\s+running`).MatchString(out) {
		t.Errorf("rows:\n%s", out)
	}
	if !strings.Contains(errOut, "pve2") {
		t.Errorf("stderr should name the host:\n%s", errOut)
	}
	lab.noSecrets(t, out, errOut)
}

func TestOutputsCommand(t *testing.T) {
	lab := newStatusLab(t)
	code, out, errOut := lab.run(t, "-x", "outputs", lab.stack)
	if code != 0 {
		t.Fatalf("outputs: exit %d\n%s\n%s", code, out, errOut)
	}
	lab.noSecrets(t, out, errOut)
	for _, want := range []string{
		"db\n  password = (secret)\n  url      = http://10.77.0.201/\n",
		"web\n  db_url = (secret)\n  url    = http://10.77.0.203:8080/\n",
		"cache\n  password = (secret)\n  url      = http://10.77.0.202/\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("outputs lack %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "extra: no outputs") {
		t.Errorf("a missing container should be named on stderr:\n%s", errOut)
	}

	// --reveal: the values themselves, a dependency's secret output
	// carried into a dependent's output.
	code, out, errOut = lab.run(t, "outputs", "--reveal", "--format", "json", lab.stack, "web")
	if code != 0 {
		t.Fatalf("outputs --reveal: exit %d\n%s\n%s", code, out, errOut)
	}
	var doc map[string]map[string]string
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	wantURL := "postgres://app:" + lab.secrets["db.password"] + "@10.77.0.201/app"
	if len(doc) != 1 || doc["web"]["db_url"] != wantURL {
		t.Errorf("revealed: %v, want db_url %s", doc, wantURL)
	}

	code, out, errOut = lab.run(t, "outputs", "--format", "json", lab.stack, "db")
	if code != 0 || !strings.Contains(out, `"password": "(secret)"`) {
		t.Errorf("outputs db json: exit %d\n%s\n%s", code, out, errOut)
	}
	lab.noSecrets(t, out, errOut)

	// A container that does not exist yet, and one that is not declared.
	if code, out, errOut = lab.run(t, "outputs", lab.stack, "extra"); code != 1 {
		t.Errorf("outputs extra: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut = lab.run(t, "outputs", lab.stack, "nope"); code != 1 || !strings.Contains(errOut, "not in stack shop") {
		t.Errorf("outputs nope: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, _ = lab.run(t, "outputs", "--format", "yaml", lab.stack); code != 64 {
		t.Errorf("bad format: exit %d, want 64", code)
	}
}

func TestExecCommand(t *testing.T) {
	lab := newStatusLab(t)
	code, out, errOut := lab.run(t, "exec", lab.stack, "db", "--", "echo", "hello", "world")
	if code != 0 || out != "hello world\n" {
		t.Fatalf("exec echo: exit %d\n%q\n%s", code, out, errOut)
	}
	if argv := lastCommand(lab.c, "pct"); strings.Join(argv, " ") != "pct exec 101 -- echo hello world" {
		t.Errorf("ran %q", argv)
	}

	// The inner command's exit code is passed through, without a message.
	code, out, errOut = lab.run(t, "exec", lab.stack, "db", "--", "sh", "-c", "echo oops; exit 3")
	if code != 3 || out != "oops\n" || strings.Contains(errOut, "error:") {
		t.Errorf("exit 3: got %d\n%q\n%q", code, out, errOut)
	}

	// Standard input is streamed to the command.
	var o, eo bytes.Buffer
	code = run([]string{"lxcplan", "--known-hosts", lab.knownHosts, "exec", lab.stack, "db", "--", "cat"},
		strings.NewReader("piped data\n"), &o, &eo)
	if code != 0 || o.String() != "piped data\n" {
		t.Errorf("exec cat: exit %d %q %s", code, o.String(), eo.String())
	}

	tests := []struct {
		name, container, want string
	}{
		{"stopped", "cache", "container cache (102 on pve2) is stopped"},
		{"missing", "extra", "container extra of stack shop does not exist"},
		{"undeclared", "nope", "container nope is not in stack shop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := lab.run(t, "exec", lab.stack, tt.container, "--", "true")
			if code != 1 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q\n%s", code, errOut, tt.want, out)
			}
		})
	}
	if code, _, errOut = lab.run(t, "exec", lab.stack, "db"); code != 64 {
		t.Errorf("no command: exit %d, want 64\n%s", code, errOut)
	}
}

func lastCommand(c *pvesim.Cluster, tool string) []string {
	cmds := c.Commands()
	for i := len(cmds) - 1; i >= 0; i-- {
		if len(cmds[i].Argv) > 0 && filepath.Base(cmds[i].Argv[0]) == tool {
			return cmds[i].Argv
		}
	}
	return nil
}

func TestUnlockCommand(t *testing.T) {
	lab := newStatusLab(t)
	code, out, errOut := lab.run(t, "unlock", lab.stack)
	if code != 1 || !strings.Contains(errOut, "stack shop is not locked") {
		t.Fatalf("not locked: exit %d\n%s\n%s", code, out, errOut)
	}

	h := lock.Holder{User: "alice", Host: "ci-runner", PID: 4242, Command: "lxcplan apply"}
	lk, err := lock.Acquire(context.Background(), lab.hosts["pve1"], "shop", lock.Options{Holder: h, Timeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Release(context.Background())
	code, out, errOut = lab.run(t, "unlock", lab.stack)
	if code != 0 || !strings.Contains(out, "removed the lock of stack shop held by alice@ci-runner pid 4242") {
		t.Fatalf("unlock: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, locked, err := lock.Inspect(context.Background(), lab.hosts["pve2"], "shop"); err != nil || locked {
		t.Errorf("still locked (seen from pve2): %v %v", locked, err)
	}
	if code, _, _ = lab.run(t, "unlock", lab.stack); code != 1 {
		t.Errorf("second unlock: exit %d, want 1", code)
	}
}

// TestStatusCreating: a container left by an interrupted create (marker
// state creating) is shown as such and not probed; a running container of
// the stack on a node the stack does not name is shown, not probed.
func TestStatusCreating(t *testing.T) {
	lab := newStatusLab(t)
	m := &plan.Marker{Stack: "shop", Container: "db", Recipe: "./app.yaml", Version: "1.0.0", State: plan.StateCreating}
	lab.pve(t, "pve1", "pct", "set", "101", "--description", m.Render(""))
	n := len(lab.c.Commands())
	code, out, errOut := lab.run(t, "status", "--format", "json", lab.stack)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var doc statusDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range doc.Containers {
		if r.Name == "db" && (r.State != "creating" || r.Health != "") {
			t.Errorf("db: %+v", r)
		}
	}
	for _, e := range lab.c.Commands()[n:] {
		if strings.Join(e.Argv, " ") == "pct exec 101" || (len(e.Argv) > 2 && e.Argv[1] == "exec" && e.Argv[2] == "101") {
			t.Errorf("a container being created was probed: %q", e.Argv)
		}
	}
	// status changes nothing.
	for _, e := range lab.c.Commands()[n:] {
		if len(e.Argv) > 1 && e.Argv[0] == "pct" && e.Argv[1] != "exec" && e.Argv[1] != "config" && e.Argv[1] != "status" && e.Argv[1] != "list" {
			t.Errorf("status ran %q", e.Argv)
		}
	}
}

func TestStatusTableGolden(t *testing.T) {
	rows := []statusRow{
		{Name: "cache", Host: "pve2", Node: "pve2", VMID: 102, State: "stopped", IP: "10.77.0.202", Health: "unhealthy", Declared: true},
		{Name: "db", Host: "pve1", Node: "pve1", VMID: 101, State: "running", IP: "10.77.0.201", Health: "healthy", Declared: true},
		{Name: "extra", Host: "pve2", State: "missing", Declared: true, Note: "will be created on apply"},
		{Name: "web", Host: "pve1", Node: "pve1", VMID: 103, State: "running", IP: "10.77.0.203", Health: "unhealthy", Drift: true, Declared: true},
		{Name: "old", Host: "pve2", Node: "pve2", VMID: 110, State: "stopped", IP: "10.77.0.210", Note: "orphaned: will be destroyed on apply"},
	}
	var buf bytes.Buffer
	if err := writeStatusTable(&buf, rows); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "status_table.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/lxcplan -run TestStatusTableGolden -update)", err)
	}
	if buf.String() != string(want) {
		t.Errorf("status table:\n%s\nwant:\n%s", buf.String(), want)
	}
}
