package provision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// simRunner runs PVE tools on a simulated node and answers the few host
// commands health probes use (curl, timeout) itself. Like the real
// transports, it masks Command.Redact in the ExitError it returns.
type simRunner struct {
	n    *pvesim.Node
	host func(argv []string) (string, int)
}

func (r simRunner) Run(ctx context.Context, c transport.Command) (transport.Result, error) {
	if err := c.Validate(); err != nil {
		return transport.Result{}, err
	}
	var out, errb bytes.Buffer
	code := 127
	if slices.Contains(pvesim.Tools, c.Argv[0]) {
		code = pvesim.RunTool(ctx, r.n, c.Argv[0], c.Argv[1:], c.Stdin, &out, &errb)
	} else if r.host != nil {
		var s string
		s, code = r.host(c.Argv)
		out.WriteString(s)
	}
	res := transport.Result{Stdout: out.Bytes(), Stderr: errb.Bytes(), ExitCode: code}
	if code != 0 {
		red := transport.NewRedactor(c.Redact...)
		return res, &transport.ExitError{Host: r.n.Name, Argv: red.Argv(c.Argv), Code: code, Stderr: red.Bytes(errb.Bytes())}
	}
	return res, nil
}

// simCT records what lxcplan's write and run scripts received inside the
// memory runtime, which does not run real shell scripts.
type simCT struct {
	mu      sync.Mutex
	files   map[string]string // "vmid:path" → "mode owner\ncontent"
	scripts map[int][]string  // vmid → run scripts (stdin)
}

func (s *simCT) install(t *testing.T, m *pvesim.MemoryRuntime, vmid int) {
	t.Helper()
	// Handlers see no vmid; runs are sequential, and the latest
	// registration wins, so each container's handlers record under its own.
	write := func(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
		b, _ := io.ReadAll(stdin)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.files[fmt.Sprint(vmid)+":"+argv[4]] = argv[5] + " " + argv[6] + "\n" + string(b)
		return 0
	}
	run := func(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
		b, _ := io.ReadAll(stdin)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.scripts[vmid] = append(s.scripts[vmid], string(b))
		return 0
	}
	if err := m.Handle(`^sh -c `+regexp.QuoteMeta(pushScript)+` lxcplan-write `, write); err != nil {
		t.Fatal(err)
	}
	if err := m.Handle(`^sh -c `+regexp.QuoteMeta(runWrapper)+` lxcplan-run `, run); err != nil {
		t.Fatal(err)
	}
}

func mustTool(t *testing.T, n *pvesim.Node, cmdline string) {
	t.Helper()
	argv, err := pvesim.SplitCommand(cmdline)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := pvesim.RunTool(context.Background(), n, argv[0], argv[1:], nil, &out, &errb); code != 0 {
		t.Fatalf("%s: exit %d: %s%s", cmdline, code, out.String(), errb.String())
	}
}

const simStack = `apiVersion: lxcplan/v1
kind: Stack
name: demo
hosts:
  pve1: {address: pve1.lan}
defaults:
  host: pve1
  storage: local-lvm
containers:
  cache:
    recipe: redis
    vmid: 100
    hostname: demo-cache
    params: {maxmemory: 128mb}
  db:
    recipe: postgresql
    vmid: 101
    hostname: demo-db
    network: {ip: 10.20.0.50/24, gw: 10.20.0.1}
    params: {database: immich}
`

// TestBuiltinRecipesOnSimulator provisions the built-in redis and
// postgresql recipes, resolved from a stack, in containers of the PVE
// simulator's memory node, and checks that no secret appears in the
// simulator's command log, in events or in errors.
func TestBuiltinRecipesOnSimulator(t *testing.T) {
	ctx := context.Background()
	cl, err := pvesim.NewMemoryCluster("pve1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	n, _ := cl.Node("pve1")
	mem := cl.Memory()
	rec := &simCT{files: map[string]string{}, scripts: map[int][]string{}}

	dir := t.TempDir()
	stackPath := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(stackPath, []byte(simStack), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := manifest.Options{Env: map[string]string{}, UserDefaultsFile: "-"}
	st, ds := manifest.LoadStackFile(stackPath, opts)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	des, ds := manifest.Resolve(st, opts)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}

	mustTool(t, n, "pveam download local debian-12-standard_12.7-1_amd64.tar.zst")
	const tmpl = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
	mustTool(t, n, "pct create 100 "+tmpl+" --storage local-lvm --hostname demo-cache --net0 name=eth0,bridge=vmbr0,ip=dhcp")
	mustTool(t, n, "pct create 101 "+tmpl+" --storage local-lvm --hostname demo-db --net0 name=eth0,bridge=vmbr0,ip=10.20.0.50/24,gw=10.20.0.1")
	mustTool(t, n, "pct start 100")
	mustTool(t, n, "pct start 101")

	runner := simRunner{n: n, host: func(argv []string) (string, int) { return "", 0 }}
	secrets := map[string]map[string]string{
		"cache": {"password": "GenRedisPw0123456789abcdefghijkl"},
		"db":    {"password": "GenPgPw0123456789abcdefghijklmno"},
	}
	var events []StepEvent
	var waits []WaitEvent
	observe := func(e StepEvent) { events = append(events, e) }
	outputs := map[string]map[string]Output{}

	for _, name := range []string{"cache", "db"} {
		c := des.Container(name)
		if c == nil || c.Loaded == nil {
			t.Fatalf("container %s not resolved", name)
		}
		addr, err := WaitForAddress(ctx, runner, "pve1", c.VMID, c.Network.IP, 5*time.Second, func(e WaitEvent) { waits = append(waits, e) })
		if err != nil {
			t.Fatal(err)
		}
		vals, err := NewValues(c, Self{IP: addr, Hostname: c.Hostname, VMID: c.VMID}, secrets[name], nil)
		if err != nil {
			t.Fatal(err)
		}
		rec.install(t, mem, c.VMID)
		p := &Provisioner{Runner: runner, Sleep: noSleep}
		if err := p.Run(ctx, c, c.VMID, vals, 0, observe); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := WaitHealthy(ctx, runner, c, c.VMID, vals, func(e WaitEvent) { waits = append(waits, e) }); err != nil {
			t.Fatalf("%s: health: %v", name, err)
		}
		if outputs[name], err = Outputs(c, vals); err != nil {
			t.Fatal(err)
		}
	}

	// Addresses: the DHCP lease of the memory runtime, the static one as set.
	if got := outputs["cache"]["host"]; got.Value != "10.77.0.200" || got.Secret {
		t.Errorf("cache host output = %+v", got)
	}
	if got := outputs["db"]["host"]; got.Value != "10.20.0.50" {
		t.Errorf("db host output = %+v", got)
	}
	if got := outputs["cache"]["url"]; !got.Secret || got.Value != "redis://:GenRedisPw0123456789abcdefghijkl@10.77.0.200:6379/0" {
		t.Errorf("cache url output = %+v", got)
	}
	if got := outputs["db"]["database"]; got.Value != "immich" || got.Secret {
		t.Errorf("db database output = %+v", got)
	}

	// What the containers got.
	if pk := mem.Packages(100); !slices.Contains(pk, "redis-server") {
		t.Errorf("packages in 100 = %v", pk)
	}
	if pk := mem.Packages(101); !slices.Contains(pk, "postgresql") {
		t.Errorf("packages in 101 = %v", pk)
	}
	conf := rec.files["100:/etc/redis/lxcplan.conf"]
	if !strings.HasPrefix(conf, "0640 redis:redis\n") || !strings.Contains(conf, "requirepass GenRedisPw0123456789abcdefghijkl\nmaxmemory 128mb\nmaxmemory-policy noeviction\n") {
		t.Errorf("redis config written = %q", conf)
	}
	var pgScript string
	for _, s := range rec.scripts[101] {
		if strings.Contains(s, "psql") {
			pgScript = s
		}
	}
	if !strings.Contains(pgScript, "export DB_PASSWORD=GenPgPw0123456789abcdefghijklmno\n") || !strings.Contains(pgScript, "-v dbname='immich'") {
		t.Errorf("postgresql role script = %q", pgScript)
	}
	execs := fmt.Sprint(mem.Execs(100))
	for _, want := range []string{"apt-get", "systemctl enable redis-server", "systemctl restart redis-server"} {
		if !strings.Contains(execs, want) {
			t.Errorf("execs in 100 lack %q", want)
		}
	}
	// Each recipe's steps ran once, in order, with start and done events.
	var done []string
	for _, e := range events {
		if e.Phase == PhaseDone {
			done = append(done, fmt.Sprintf("%s/%d/%s", e.Container, e.Index, e.Kind))
		}
	}
	want := "cache/0/apt cache/1/file cache/2/run cache/3/service db/0/apt db/1/file db/2/run db/3/service db/4/run"
	if strings.Join(done, " ") != want {
		t.Errorf("done events:\n%s\nwant:\n%s", strings.Join(done, " "), want)
	}

	// A failing step on a re-run: the error names container, index, kind
	// and stderr — and the secret the failing service printed is masked.
	pw := secrets["db"]["password"]
	if err := cl.FailOn("pct", `^exec 101 -- systemctl restart postgresql$`, 0, "Job for postgresql.service failed: password "+pw+" rejected", 1); err != nil {
		t.Fatal(err)
	}
	c := des.Container("db")
	vals, err := NewValues(c, Self{IP: "10.20.0.50", Hostname: c.Hostname, VMID: c.VMID}, secrets["db"], nil)
	if err != nil {
		t.Fatal(err)
	}
	err = (&Provisioner{Runner: runner, Sleep: noSleep}).Run(ctx, c, 101, vals, 1, observe)
	var se *StepError
	if !errors.As(err, &se) || se.Index != 3 || se.Kind != model.StepService || !strings.Contains(se.Stderr, "Job for postgresql.service failed") {
		t.Fatalf("failing step: err = %v (%+v)", err, se)
	}
	if msg := err.Error(); !strings.Contains(msg, "container db: install step 3 (service): pct exec 101 -- systemctl restart postgresql: exit status 1: Job for postgresql.service failed: password *** rejected") {
		t.Errorf("error message = %q", msg)
	}
	cl.ClearFaults()

	// No secret anywhere a person or a log could see it.
	var seen []string
	seen = append(seen, cl.CommandLines()...)
	for _, e := range events {
		seen = append(seen, e.Description)
		if e.Err != nil {
			seen = append(seen, e.Err.Error())
		}
	}
	for _, w := range waits {
		seen = append(seen, w.Message)
	}
	seen = append(seen, err.Error())
	all := strings.Join(seen, "\n")
	for name, m := range secrets {
		if strings.Contains(all, m["password"]) {
			t.Errorf("the %s secret appears in the command log, events or errors", name)
		}
	}
	if testing.Verbose() {
		t.Log(strings.Join(cl.CommandLines(), "\n"))
	}
	if !strings.Contains(all, "pct exec 100 -- env DEBIAN_FRONTEND=noninteractive apt-get") {
		t.Errorf("command log looks empty:\n%s", all)
	}
}
