package pvesim_test

// Conformance: the exact commands the engine packages build (inventory's
// config dump, host checks, the stack lock, the secret store, health
// probes, uploads) sent over the in-process SSH server to a memory node,
// through engine/transport/ssh like a real run.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/lock"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/provision"
	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/secrets"
	"github.com/lxcplan/lxcplan/engine/transport"
	"github.com/lxcplan/lxcplan/engine/transport/ssh"
	"github.com/lxcplan/lxcplan/engine/transport/ssh/sshtest"
)

const confTemplate = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"

func confCluster(t *testing.T, nodes ...string) *pvesim.Cluster {
	t.Helper()
	c, err := pvesim.NewMemoryCluster(nodes...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialNode serves node over the in-process SSH server (uploads kept in the
// server's memory FS are visible to the node) and dials it.
func dialNode(t *testing.T, c *pvesim.Cluster, node string) *ssh.Client {
	t.Helper()
	cl, _ := dialNodeWith(t, c, node, false)
	return cl
}

// dialNodeWith can put sshtest.Coreutils in front of the node: the
// transport's upload staging (mktemp -d, stat, sha256sum, rm -rf) then
// happens in the server's memory FS, where its scp sink writes, and the
// node reads the staged file from there (Cluster.HostFiles).
func dialNodeWith(t *testing.T, c *pvesim.Cluster, node string, coreutils bool) (*ssh.Client, *sshtest.Server) {
	t.Helper()
	n, ok := c.Node(node)
	if !ok {
		t.Fatalf("no node %s", node)
	}
	fs := sshtest.NewMemFS()
	var h sshtest.Handler = n.Handler()
	if coreutils {
		h = sshtest.Coreutils(fs, h)
	}
	srv := sshtest.Start(t, sshtest.WithHandler(h), sshtest.WithFS(fs))
	prev := c.HostFiles
	c.HostFiles = func(p string) ([]byte, os.FileMode, bool) {
		if f, ok := srv.FS().ReadFile(p); ok {
			return f.Data, f.Mode, true
		}
		if prev != nil {
			return prev(p)
		}
		return nil, 0, false
	}
	cl, err := ssh.Dial(context.Background(), ssh.Config{Name: node, Address: srv.Addr(), IdentityFile: srv.IdentityFile(),
		KnownHostsFile: srv.KnownHostsFile(), SSHConfigFile: "none", KeepAlive: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl, srv
}

func run(t *testing.T, r transport.Runner, argv ...string) string {
	t.Helper()
	res, err := r.Run(context.Background(), transport.Command{Argv: argv})
	if err != nil {
		t.Fatalf("%q: %v", argv, err)
	}
	return string(res.Stdout)
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestConformanceConfigDump(t *testing.T) {
	c := confCluster(t, "pve1", "pve2")
	r1 := dialNode(t, c, "pve1")
	ctx := context.Background()
	if _, err := r1.Run(ctx, transport.Command{Argv: pve.PveamDownload("local", strings.TrimPrefix(confTemplate, "local:vztmpl/"))}); err != nil {
		t.Fatal(err)
	}
	run(t, r1, "pct", "create", "100", confTemplate, "--storage", "local-lvm", "--hostname", "web", "--description", "@@ end\n@@ done")
	r2 := dialNode(t, c, "pve2")
	run(t, r2, "sh", "-c", "cat >/etc/pve/qemu-server/200.conf", "sh") // a VM config, empty
	writeFile(t, filepath.Join(c.Dir, "nodes", "pve2", "lxc", "101.conf"), "arch: amd64\nhostname: db\n")
	writeFile(t, filepath.Join(c.Dir, "nodes", "pve1", "lxc", "notes.conf"), "not a guest\n")
	writeFile(t, filepath.Join(c.Dir, "nodes", "pve1", "lxc", "notes.txt"), "not matched\n")

	native := run(t, r2, pve.DumpConfigsArgv()...)
	files, warns, err := pve.ParseConfigDump([]byte(native))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, native)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path())
	}
	if want := []string{"pve1/lxc/100.conf", "pve2/lxc/101.conf", "pve2/qemu-server/200.conf"}; !slices.Equal(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "pve1/lxc/notes.conf") {
		t.Errorf("warnings %q", warns)
	}
	conf, _ := os.ReadFile(filepath.Join(c.Dir, "nodes", "pve1", "lxc", "100.conf"))
	if string(files[0].Data) != string(conf) || !strings.Contains(string(conf), "#@@ end") {
		t.Errorf("100.conf came back as %q, on disk %q", files[0].Data, conf)
	}

	// The same script, not recognised (one more newline), goes through the
	// node's shell interpreter: same bytes.
	argv := pve.DumpConfigsArgv()
	argv[2] += "\n"
	if interp := run(t, r1, argv...); interp != native {
		t.Errorf("interpreted dump differs from the native answer:\n%s\n---\n%s", interp, native)
	}
	// And a real /bin/sh with coreutils over the cluster directory.
	if _, err := exec.LookPath("base64"); err == nil {
		cmd := exec.Command("/bin/sh", "-c", strings.Replace(argv[2], "/etc/pve/nodes", filepath.Join(c.Dir, "nodes"), 1))
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		real, err := cmd.Output()
		if err != nil || string(real) != native {
			t.Errorf("real sh: %v\n%s\n---\n%s", err, real, native)
		}
	}
}

func TestConformanceBridges(t *testing.T) {
	c := confCluster(t, "pve1")
	c.Bridges = []string{"vmbr0", "vmbr1"}
	r := dialNode(t, c, "pve1")
	out := run(t, r, "ip", "-o", "link", "show", "type", "bridge")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "3: vmbr0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 52:54:00:") ||
		!strings.HasSuffix(lines[0], " brd ff:ff:ff:ff:ff:ff") || !strings.HasPrefix(lines[1], "4: vmbr1: ") {
		t.Errorf("bridges: %q", out)
	}
	all := run(t, r, "ip", "-o", "link", "show")
	if !strings.HasPrefix(all, "1: lo: <LOOPBACK,UP,LOWER_UP>") || !strings.Contains(all, "\n2: eno1: ") || !strings.Contains(all, "master vmbr0") || !strings.HasSuffix(all, out) {
		t.Errorf("all links: %q", all)
	}
	if two := run(t, r, "ip", "link", "show", "vmbr1"); strings.Count(two, "\n") != 2 || !strings.Contains(two, "\n    link/ether ") {
		t.Errorf("multi-line form: %q", two)
	}
	if _, err := r.Run(context.Background(), transport.Command{Argv: []string{"ip", "link", "show", "dev", "vmbr9"}}); !errors.Is(err, transport.ErrCommandFailed) {
		t.Errorf("missing device: %v", err)
	}
}

func TestConformanceLock(t *testing.T) {
	c := confCluster(t, "pve1", "pve2")
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	c.Now = func() time.Time { return now }
	r1, r2 := dialNode(t, c, "pve1"), dialNode(t, c, "pve2")
	ctx := context.Background()
	l, err := lock.Acquire(ctx, r1, "media", lock.Options{Timeout: -1, Holder: lock.Holder{User: "ann", Host: "laptop", PID: 7, Command: "lxcplan apply"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Acquire(ctx, r2, "media", lock.Options{Timeout: -1}); !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("second acquire from the other node: %v", err)
	}
	h, held, err := lock.Inspect(ctx, r2, "media")
	if err != nil || !held || h == nil || h.User != "ann" || !h.Refreshed.Equal(now) {
		t.Fatalf("inspect: %+v %v %v", h, held, err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, held, err := lock.Inspect(ctx, r2, "media"); err != nil || held {
		t.Fatalf("after release: %v %v", held, err)
	}

	// A holder that died: after pmxcfs' expiry the lock is taken over.
	if _, err := lock.Acquire(ctx, r1, "media", lock.Options{Timeout: -1}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(lock.Expiry + time.Minute)
	l2, err := lock.Acquire(ctx, r2, "media", lock.Options{Timeout: -1, Holder: lock.Holder{User: "bob", Host: "ci", PID: 9}})
	if err != nil {
		t.Fatalf("take over an expired lock: %v", err)
	}
	if h, _, _ := lock.Inspect(ctx, r1, "media"); h == nil || h.User != "bob" {
		t.Errorf("holder after take-over: %+v", h)
	}
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestConformanceSecrets(t *testing.T) {
	c := confCluster(t, "pve1", "pve2")
	r1, r2 := dialNode(t, c, "pve1"), dialNode(t, c, "pve2")
	ctx := context.Background()
	s1 := &secrets.Store{Runner: r1, Stack: "media", Redactor: secrets.NewRegistry()}
	v, err := s1.GetOrCreate(ctx, "db", "password", secrets.Generate{Length: 24})
	if err != nil || len(v) != 24 {
		t.Fatalf("create: %q %v", v, err)
	}
	if _, err := s1.GetOrCreate(ctx, "web", "token", secrets.Generate{Length: 10, Charset: "hex"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(c.Dir, "priv", "lxcplan", "media", "db.password"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stored file: %v %v", fi, err)
	}
	s2 := &secrets.Store{Runner: r2, Stack: "media", Redactor: secrets.NewRegistry()}
	// Creating again from the other node keeps the first value.
	if again, err := s2.GetOrCreate(ctx, "db", "password", secrets.Generate{Length: 24}); err != nil || again != v {
		t.Fatalf("other node: %q %v", again, err)
	}
	all, err := (&secrets.Store{Runner: r2, Stack: "media", Redactor: secrets.NewRegistry()}).Load(ctx)
	if err != nil || all["db"]["password"] != v || len(all["web"]["token"]) != 10 {
		t.Fatalf("load: %v %v", all, err)
	}
	if err := s2.DeleteContainer(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := (&secrets.Store{Runner: r1, Stack: "media", Redactor: secrets.NewRegistry()}).Get(ctx, "db", "password"); ok || err != nil {
		t.Errorf("deleted secret still there: %v %v", ok, err)
	}
}

func TestConformanceHealthProbes(t *testing.T) {
	c := confCluster(t, "pve1")
	r := dialNode(t, c, "pve1")
	ctx := context.Background()
	run(t, r, pve.PveamDownload("local", strings.TrimPrefix(confTemplate, "local:vztmpl/"))...)
	run(t, r, "pct", "create", "100", confTemplate, "--storage", "local-lvm", "--net0", "name=eth0,bridge=vmbr0,ip=10.0.0.5/24,gw=10.0.0.1", "--start", "1")
	probe := func(addr string, h model.Health) error {
		ct := &model.Container{Name: "web", Loaded: &model.Recipe{Health: &h}}
		vals, err := provision.NewValues(ct, provision.Self{IP: addr, VMID: 100}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return provision.Probe(ctx, r, ct, 100, vals)
	}
	if err := probe("10.0.0.5", model.Health{TCP: 5432}); err != nil {
		t.Errorf("tcp on a running container: %v", err)
	}
	if err := probe("10.0.0.5", model.Health{HTTP: &model.HTTPCheck{Port: 8080, Path: "/health"}}); err != nil {
		t.Errorf("http on a running container: %v", err)
	}
	c.Memory().Listen(100, 443)
	if err := probe("10.0.0.5", model.Health{TCP: 5432}); !errors.Is(err, provision.ErrUnhealthy) {
		t.Errorf("tcp on a closed port: %v", err)
	}
	if err := probe("10.0.0.5", model.Health{HTTP: &model.HTTPCheck{Port: 443}}); err != nil {
		t.Errorf("http on the open port: %v", err)
	}
	if err := probe("10.0.0.9", model.Health{HTTP: &model.HTTPCheck{Port: 443}}); !errors.Is(err, provision.ErrUnhealthy) {
		t.Errorf("http to an unknown address: %v", err)
	}
	run(t, r, "pct", "stop", "100")
	if err := probe("10.0.0.5", model.Health{TCP: 443}); !errors.Is(err, provision.ErrUnhealthy) {
		t.Errorf("tcp on a stopped container: %v", err)
	}
	c.Probe = func(addr string, port int) bool { return addr == "10.0.0.5" && port == 443 }
	if err := probe("10.0.0.5", model.Health{TCP: 443}); err != nil {
		t.Errorf("tcp through Cluster.Probe: %v", err)
	}
}

func TestConformanceUpload(t *testing.T) {
	c := confCluster(t, "pve1")
	cl, srv := dialNodeWith(t, c, "pve1", true)
	ctx := context.Background()
	body := []byte("s3cret\nline two\n")
	// Like install(1), the target's directory must exist.
	if err := cl.Upload(ctx, bytes.NewReader(body), int64(len(body)), "/etc/pve/priv/lxcplan/x.key", 0o600); !errors.Is(err, transport.ErrCommandFailed) {
		t.Fatalf("upload into a missing dir: %v", err)
	}
	run(t, cl, "mkdir", "-p", "/etc/pve/priv/lxcplan")
	if err := cl.Upload(ctx, bytes.NewReader(body), int64(len(body)), "/etc/pve/priv/lxcplan/x.key", 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(c.Dir, "priv", "lxcplan", "x.key")
	got, err := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if err != nil || !bytes.Equal(got, body) || fi.Mode().Perm() != 0o600 {
		t.Fatalf("uploaded %q %v %v", got, fi, err)
	}
	// The staging dir is gone.
	for _, p := range srv.FS().Paths() {
		if strings.HasPrefix(p, "/tmp/tmp.") {
			t.Errorf("left behind: %s", p)
		}
	}
}
