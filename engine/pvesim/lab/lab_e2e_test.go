package lab_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/pvesim/lab"
	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
	"github.com/lxcplan/lxcplan/engine/pvesim/labtest"
	"github.com/lxcplan/lxcplan/engine/pvesim/lxcrt"
)

// TestLabE2E brings a real 2-node lab up on this machine, drives a real
// container through the LXC runtime, and takes everything down again. It
// changes the machine (bridge, nftables, /etc/subuid), so it only runs
// with PVELAB_E2E=1 as root.
func TestLabE2E(t *testing.T) {
	// Skips unless PVELAB_E2E=1 as root. One lab per machine: waits for
	// other packages' lab tests (go test runs packages in parallel).
	labtest.Lock(t)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	root := lab.DefaultRoot
	if err := lab.Down(ctx, root); err != nil {
		t.Fatalf("initial down: %v", err)
	}
	subuidBefore, _ := os.ReadFile("/etc/subuid")
	subgidBefore, _ := os.ReadFile("/etc/subgid")
	fwdBefore, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")

	bin, withSim := buildPvelab(t)
	var log bytes.Buffer
	t0 := time.Now()
	l, err := lab.Up(ctx, lab.UpOptions{Nodes: 2, Binary: bin, Log: &log})
	if err != nil {
		t.Fatalf("up: %v\n%s", err, log.String())
	}
	t.Logf("up (2 nodes): %s", time.Since(t0))
	downed := false
	defer func() {
		if !downed {
			if err := lab.Down(context.Background(), root); err != nil {
				t.Errorf("cleanup down: %v", err)
			}
		}
	}()

	t0 = time.Now()
	l2, err := lab.Up(ctx, lab.UpOptions{Nodes: 2, Binary: bin})
	if err != nil {
		t.Fatalf("second up: %v", err)
	}
	t.Logf("up when already up: %s", time.Since(t0))
	if l2.Nodes[0].Port != l.Nodes[0].Port || l2.Subnet != l.Subnet {
		t.Fatalf("second up changed the lab: %+v vs %+v", l2, l)
	}

	t.Run("ssh", func(t *testing.T) { testSSH(t, l, withSim) })
	if withSim {
		t.Run("pct", func(t *testing.T) { testPct(t, l) })
	} else {
		t.Log("pvelab built without the simulator: pct over ssh not tested")
	}
	t.Run("lxcrt", func(t *testing.T) { testRuntime(t, ctx, l) })
	t.Run("privileged-static", func(t *testing.T) { testPrivilegedStatic(t, ctx, l) })

	st, err := lab.GetStatus(ctx, root)
	if err != nil || !st.Up {
		t.Fatalf("status: %+v %v", st, err)
	}
	if err := lab.Down(ctx, root); err != nil {
		t.Fatalf("down: %v", err)
	}
	downed = true
	if exec.Command("ip", "link", "show", "vmbr0").Run() == nil {
		t.Error("bridge vmbr0 still exists")
	}
	if exec.Command("nft", "list", "table", "ip", "pvelab").Run() == nil {
		t.Error("nft table pvelab still exists")
	}
	for _, p := range st.Procs {
		if err := syscall.Kill(p.PID, 0); err == nil && !isZombie(p.PID) {
			t.Errorf("%s (pid %d) still alive", p.Name, p.PID)
		}
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mi, []byte(" "+root)) {
		t.Errorf("mounts under %s remain", root)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("%s still exists", root)
	}
	for f, before := range map[string][]byte{"/etc/subuid": subuidBefore, "/etc/subgid": subgidBefore, "/proc/sys/net/ipv4/ip_forward": fwdBefore} {
		if now, _ := os.ReadFile(f); !bytes.Equal(now, before) {
			t.Errorf("%s not restored: %q, was %q", f, now, before)
		}
	}
	// A second down on a clean machine must succeed too.
	if err := lab.Down(ctx, root); err != nil {
		t.Fatalf("down on a clean machine: %v", err)
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// buildPvelab builds cmd/pvelab for the lab bin dir, without the
// simulator if that does not build right now.
func buildPvelab(t *testing.T) (bin string, withSim bool) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "pvelab")
	mod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Logf("no go toolchain: PVE tool links left dangling: %v", err)
		return "", false
	}
	dir := filepath.Dir(strings.TrimSpace(string(mod)))
	for _, tags := range []string{"", "pvelab_nosim"} {
		cmd := exec.Command("go", "build", "-tags", tags, "-o", out, "./cmd/pvelab")
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Logf("go build -tags %q ./cmd/pvelab: %v\n%s", tags, err, b)
			continue
		}
		return out, tags == ""
	}
	return "", false
}

func sshArgs(l *labconf.Lab, n labconf.Node, cmd string) []string {
	return []string{"-i", filepath.Join(l.Root, "id_ed25519"),
		"-o", "UserKnownHostsFile=" + filepath.Join(l.Root, "known_hosts"),
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
		"-p", fmt.Sprint(n.Port), n.User + "@" + n.Host, cmd}
}

func testSSH(t *testing.T, l *labconf.Lab, withSim bool) {
	// One connection per node: each ssh costs a key exchange, which is
	// slow on a loaded machine.
	checks := []struct{ cmd, want string }{
		{"cat /etc/pve/.members", `"nodename": "%s"`},
		{"ls /etc/pve/nodes", "pve1\npve2\n"},
		{"ls /var/lib/vz/template/cache", lab.TemplateName},
		{"ls /var/lib/vz", "template"},
		{"echo $PVELAB_NODE", "%s\n"},
		{"ls /etc/pve/local/", "lxc"},
		{"readlink -f $(command -v pct)", filepath.Join(l.Root, "bin", "pvelab")},
	}
	if withSim {
		checks = append(checks, struct{ cmd, want string }{"pveversion", "pve-manager/8"},
			struct{ cmd, want string }{"pvesm status", "local-lvm"})
	}
	for _, n := range l.Nodes {
		var script strings.Builder
		for i, c := range checks {
			fmt.Fprintf(&script, "echo '#### %d'; %s\n", i, c.cmd)
		}
		out, err := exec.Command("ssh", sshArgs(l, n, script.String())...).CombinedOutput()
		if err != nil {
			t.Errorf("%s: ssh: %v\n%s", n.Name, err, out)
			continue
		}
		parts := strings.Split(string(out), "#### ")
		for i, c := range checks {
			got := ""
			if i+1 < len(parts) {
				got = strings.TrimPrefix(parts[i+1], fmt.Sprintf("%d\n", i))
			}
			want := c.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, n.Name)
			}
			if !strings.Contains(got, want) {
				t.Errorf("%s: %q = %q, want it to contain %q", n.Name, c.cmd, got, want)
			}
		}
	}
	// The node namespaces' mounts must not leak to the host.
	if _, err := os.Stat("/etc/pve/storage.cfg"); err == nil {
		t.Error("/etc/pve/storage.cfg visible on the host: node mounts leaked")
	}
}

// testPct drives a container through the simulator's pct over OpenSSH,
// the way lxcplan does: create, start, exec, then leave it running for
// Down to clean up.
func testPct(t *testing.T, l *labconf.Lab) {
	n := l.Nodes[1]
	script := "pct create 9300 " + lab.TemplateVolid + " --hostname e2e-pct --rootfs local-lvm:1" +
		" --net0 name=eth0,bridge=" + l.Bridge + ",ip=dhcp --unprivileged 1 >/dev/null && pct start 9300 &&" +
		" pct exec 9300 -- sh -c 'hostname; exit 5'; echo \"exit=$?\"; pct status 9300"
	out, err := exec.Command("ssh", sshArgs(l, n, script)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh: %v\n%s", err, out)
	}
	for _, want := range []string{"e2e-pct\n", "exit=5\n", "status: running"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("pct over ssh: output lacks %q:\n%s", want, out)
		}
	}
}

func testRuntime(t *testing.T, ctx context.Context, l *labconf.Lab) {
	n := l.Nodes[0]
	rt := lxcrt.New(l, n.Name)
	var _ pvesim.Runtime = rt
	const vmid = 9100
	rootDir := filepath.Join(n.StorageRoot, "images", fmt.Sprint(vmid), "subvol-9100-disk-0")
	tmpl := filepath.Join(l.TemplateCache, lab.TemplateName)

	t0 := time.Now()
	if err := rt.Extract(ctx, tmpl, rootDir, true); err != nil {
		t.Fatalf("extract: %v", err)
	}
	tExtract := time.Since(t0)
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(rootDir, "usr/bin/passwd"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != lxcrt.IDShift || st.Mode&syscall.S_ISUID == 0 {
		t.Errorf("passwd after shift: uid %d mode %o, want uid %d with setuid", st.Uid, st.Mode, lxcrt.IDShift)
	}

	spec := pvesim.StartSpec{VMID: vmid, Hostname: "e2e-ct", RootDir: rootDir, Unprivileged: true,
		Memory: 512, Swap: 512, Cores: 1,
		Nets: []pvesim.NetSpec{{Name: "eth0", Bridge: l.Bridge, IP: "dhcp"}}}
	t0 = time.Now()
	if err := rt.Start(ctx, spec); err != nil {
		t.Fatalf("start: %v", err)
	}
	tStart := time.Since(t0)
	t.Logf("extract %s, start %s", tExtract, tStart)
	defer rt.Remove(context.Background(), vmid)
	if !rt.Running(vmid) {
		t.Fatal("not running after start")
	}

	execOut := func(argv ...string) (string, int) {
		t.Helper()
		var out bytes.Buffer
		code, err := rt.Exec(ctx, vmid, argv, nil, &out, &out)
		if err != nil {
			t.Fatalf("exec %v: %v", argv, err)
		}
		return out.String(), code
	}
	// Right after start systemd may not have its bus socket yet.
	var out string
	for i := 0; i < 120; i++ {
		out, _ = execOut("timeout", "120", "systemctl", "is-system-running", "--wait")
		if !strings.Contains(out, "Failed to connect to bus") {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if s := strings.TrimSpace(out); s != "running" && s != "degraded" {
		failed, _ := execOut("systemctl", "--failed", "--no-legend")
		t.Errorf("is-system-running = %q; failed units:\n%s", s, failed)
	}
	if _, code := execOut("sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exit code passthrough: got %d, want 7", code)
	}
	var stdinOut bytes.Buffer
	if code, err := rt.Exec(ctx, vmid, []string{"cat"}, strings.NewReader("via stdin"), &stdinOut, os.Stderr); err != nil || code != 0 || stdinOut.String() != "via stdin" {
		t.Errorf("stdin forwarding: %q %d %v", stdinOut.String(), code, err)
	}

	var ip string
	subnet := netip.MustParsePrefix(l.Subnet)
	for i := 0; i < 60 && ip == ""; i++ {
		ifs, err := rt.Interfaces(ctx, vmid)
		if err != nil {
			t.Fatalf("interfaces: %v", err)
		}
		for _, f := range ifs {
			if p, err := netip.ParsePrefix(f.Inet); err == nil && f.Name == "eth0" && subnet.Contains(p.Addr()) {
				ip = p.Addr().String()
				if !strings.HasPrefix(f.HWAddr, "bc:24:11:") {
					t.Errorf("eth0 hwaddr %q", f.HWAddr)
				}
			}
		}
		if ip == "" {
			time.Sleep(time.Second)
		}
	}
	if ip == "" {
		t.Fatal("no DHCP address on eth0")
	}
	if h, _ := execOut("hostname"); strings.TrimSpace(h) != "e2e-ct" {
		t.Errorf("hostname %q", h)
	}

	install := func() time.Duration {
		t0 := time.Now()
		out, code := execOut("sh", "-c", "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light")
		if code != 0 {
			t.Fatalf("apt-get install nginx-light: exit %d\n%s", code, out)
		}
		return time.Since(t0)
	}
	first := install()
	get := func() int {
		c := http.Client{Timeout: 5 * time.Second}
		for i := 0; i < 20; i++ {
			resp, err := c.Get("http://" + ip + "/")
			if err == nil {
				resp.Body.Close()
				return resp.StatusCode
			}
			time.Sleep(500 * time.Millisecond)
		}
		return 0
	}
	if code := get(); code != 200 {
		t.Errorf("GET http://%s/ = %d, want 200", ip, code)
	}
	if out, code := execOut("sh", "-c", "apt-get purge -y -q nginx-light nginx-common && apt-get autoremove -y -q && apt-get clean"); code != 0 {
		t.Fatalf("purge: %s", out)
	}
	second := install()
	t.Logf("apt-get update+install nginx-light: first %s, second (cache warm) %s", first, second)

	src := filepath.Join(t.TempDir(), "blob")
	data := make([]byte, 200000)
	rand.Read(data)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rt.Push(ctx, vmid, src, "/root/blob", 33, 33, 0o640); err != nil {
		t.Fatalf("push: %v", err)
	}
	if s, _ := execOut("stat", "-c", "%u:%g %a", "/root/blob"); strings.TrimSpace(s) != "33:33 640" {
		t.Errorf("pushed file owner/mode %q", s)
	}
	back := filepath.Join(t.TempDir(), "back")
	if err := rt.Pull(ctx, vmid, "/root/blob", back); err != nil {
		t.Fatalf("pull: %v", err)
	}
	if got, _ := os.ReadFile(back); !bytes.Equal(got, data) {
		t.Error("pull returned different bytes")
	}
	if err := rt.Pull(ctx, vmid, "/nonexistent", back+"2"); err == nil {
		t.Error("pull of a missing file succeeded")
	}

	t0 = time.Now()
	if err := rt.Stop(ctx, vmid, false); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("clean stop %s", time.Since(t0))
	if rt.Running(vmid) {
		t.Fatal("running after stop")
	}
	if _, err := rt.Exec(ctx, vmid, []string{"true"}, nil, nil, nil); err == nil {
		t.Error("exec in a stopped container succeeded")
	}
	if err := rt.Remove(ctx, vmid); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if _, err := os.Stat(filepath.Join(n.LXCPath, fmt.Sprint(vmid))); !os.IsNotExist(err) {
		t.Error("lxc dir left after remove")
	}
	if _, err := os.Stat(filepath.Join(rootDir, "etc/os-release")); err != nil {
		t.Errorf("remove touched the volume: %v", err)
	}
}

// testPrivilegedStatic starts a privileged container with a static
// address and checks it reaches the bridge.
func testPrivilegedStatic(t *testing.T, ctx context.Context, l *labconf.Lab) {
	n := l.Nodes[1]
	rt := lxcrt.New(l, n.Name)
	const vmid = 9101
	rootDir := filepath.Join(n.StorageRoot, "images", fmt.Sprint(vmid), "subvol-9101-disk-0")
	if err := rt.Extract(ctx, filepath.Join(l.TemplateCache, lab.TemplateName), rootDir, false); err != nil {
		t.Fatalf("extract: %v", err)
	}
	subnet := netip.MustParsePrefix(l.Subnet)
	a := subnet.Addr().As4()
	ip := netip.AddrFrom4([4]byte{a[0], a[1], a[2], 42})
	spec := pvesim.StartSpec{VMID: vmid, Hostname: "static", RootDir: rootDir,
		Nets: []pvesim.NetSpec{{Name: "eth0", Bridge: l.Bridge, IP: fmt.Sprintf("%s/%d", ip, subnet.Bits()), GW: l.Gateway, MTU: 1400}}}
	if err := rt.Start(ctx, spec); err != nil {
		t.Fatalf("start: %v", err)
	}
	defer rt.Remove(context.Background(), vmid)
	var out bytes.Buffer
	for i := 0; i < 60; i++ {
		out.Reset()
		if _, err := rt.Exec(ctx, vmid, []string{"ip", "-4", "-o", "addr", "show", "eth0"}, nil, &out, &out); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), ip.String()+"/") {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !strings.Contains(out.String(), ip.String()+"/") {
		t.Fatalf("static address not configured: %s", out.String())
	}
	// The host has no ping; the container's reaches the bridge address.
	out.Reset()
	if code, err := rt.Exec(ctx, vmid, []string{"ping", "-c", "1", "-W", "5", l.Gateway}, nil, &out, &out); err != nil || code != 0 {
		t.Errorf("%s cannot reach the gateway %s: %d %v\n%s", ip, l.Gateway, code, err, out.String())
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(rootDir, "etc/hostname"), &st); err != nil || st.Uid != 0 {
		t.Errorf("privileged guest file owner %d (%v), want 0", st.Uid, err)
	}
	if err := rt.Stop(ctx, vmid, true); err != nil || rt.Running(vmid) {
		t.Fatalf("force stop: %v", err)
	}
}
