package lab_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/pvesim/lab"
	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
	"github.com/lxcplan/lxcplan/engine/pvesim/labtest"
)

// pveSession runs commands on one lab node with the plain OpenSSH client.
// After the first bare connection it multiplexes over one master
// connection (still OpenSSH), because a fresh key exchange costs about a
// second on a loaded 2-core machine.
type pveSession struct {
	t    *testing.T
	l    *labconf.Lab
	node labconf.Node
	ctl  string // ControlPath
}

type sshResult struct {
	stdout, stderr string
	code           int
}

func (s *pveSession) baseArgs() []string {
	return []string{"-i", filepath.Join(s.l.Root, "id_ed25519"),
		"-o", "UserKnownHostsFile=" + filepath.Join(s.l.Root, "known_hosts"),
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
		"-p", strconv.Itoa(s.node.Port)}
}

// plain runs cmd over a fresh, unmultiplexed connection.
func (s *pveSession) plain(cmd string) sshResult {
	s.t.Helper()
	return s.exec(append(s.baseArgs(), s.node.User+"@"+s.node.Host, cmd), nil)
}

// run runs cmd over the node's master connection.
func (s *pveSession) run(cmd string) sshResult {
	s.t.Helper()
	return s.runIn(cmd, nil)
}

func (s *pveSession) runIn(cmd string, stdin []byte) sshResult {
	s.t.Helper()
	args := append(s.baseArgs(), "-o", "ControlMaster=auto", "-o", "ControlPath="+s.ctl,
		"-o", "ControlPersist=300", s.node.User+"@"+s.node.Host, cmd)
	return s.exec(args, stdin)
}

func (s *pveSession) exec(args []string, stdin []byte) sshResult {
	s.t.Helper()
	var out, errb bytes.Buffer
	c := exec.Command("ssh", args...)
	c.Stdout, c.Stderr = &out, &errb
	if stdin != nil {
		c.Stdin = bytes.NewReader(stdin)
	}
	err := c.Run()
	r := sshResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		s.t.Fatalf("%s: ssh %q: %v", s.node.Name, args[len(args)-1], err)
	}
	if r.code == 255 && strings.Contains(r.stderr, "ssh:") {
		// OpenSSH itself failed (also 255): not a PVE answer.
		s.t.Fatalf("%s: ssh %q: connection failed: %s", s.node.Name, args[len(args)-1], r.stderr)
	}
	return r
}

// ok runs cmd and fails the test unless it exits 0.
func (s *pveSession) ok(cmd string) string {
	s.t.Helper()
	r := s.run(cmd)
	if r.code != 0 {
		s.t.Fatalf("%s: %q: exit %d\nstdout:\n%s\nstderr:\n%s", s.node.Name, cmd, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func (s *pveSession) close() {
	_ = exec.Command("ssh", append(s.baseArgs(), "-o", "ControlPath="+s.ctl, "-O", "exit", s.node.User+"@"+s.node.Host)...).Run()
}

// TestLabPVESequence is issue #4's end-to-end sequence: a 2-node lab, the
// PVE commands over real OpenSSH, real containers, then down leaving
// nothing behind. Root and PVELAB_E2E=1 only: it changes the machine.
func TestLabPVESequence(t *testing.T) {
	// Skips unless PVELAB_E2E=1 as root. One lab per machine: waits for
	// other packages' lab tests (go test runs packages in parallel).
	labtest.Lock(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root := lab.DefaultRoot
	if err := lab.Down(ctx, root); err != nil {
		t.Fatalf("initial down: %v", err)
	}
	before := snapshotSystem(t)

	bin, withSim := buildPvelab(t)
	if !withSim {
		t.Fatal("cmd/pvelab does not build with the simulator; the PVE sequence needs it")
	}
	// The CLI, as a user runs it: pvelab up --nodes 2 --json.
	t0 := time.Now()
	var upOut, upErr bytes.Buffer
	up := exec.CommandContext(ctx, bin, "up", "--nodes", "2", "--json")
	up.Stdout, up.Stderr = &upOut, &upErr
	if err := up.Run(); err != nil {
		t.Fatalf("pvelab up --nodes 2 --json: %v\n%s", err, upErr.String())
	}
	t.Logf("timing: pvelab up --nodes 2 (template cached): %s", time.Since(t0).Round(time.Millisecond))
	var desc map[string]json.RawMessage
	if err := json.Unmarshal(upOut.Bytes(), &desc); err != nil {
		t.Fatalf("pvelab up --json stdout is not JSON only: %v\n%s", err, upOut.String())
	}
	var keys []string
	for k := range desc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if got, want := strings.Join(keys, " "), "bridge command_log faults_file gateway identity_file known_hosts nodes subnet template"; got != want {
		t.Errorf("pvelab up --json keys: %s, want %s", got, want)
	}
	l, err := labconf.Load(labconf.DefaultPath)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []struct {
		Name, Host, User string
		Port             int
	}
	if err := json.Unmarshal(desc["nodes"], &nodes); err != nil || len(nodes) != 2 || nodes[1].Name != "pve2" || nodes[1].Port != l.Nodes[1].Port {
		t.Fatalf("pvelab up --json nodes: %v %s", err, desc["nodes"])
	}
	downed := false
	var sessions []*pveSession
	defer func() {
		for _, s := range sessions {
			s.close()
		}
		if !downed {
			if err := lab.Down(context.Background(), root); err != nil {
				t.Errorf("cleanup down: %v", err)
			}
		}
	}()
	ctlDir, err := os.MkdirTemp("", "pvelab-e2e")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(ctlDir)
	for _, n := range l.Nodes {
		sessions = append(sessions, &pveSession{t: t, l: l, node: n, ctl: filepath.Join(ctlDir, n.Name)})
	}
	p1, p2 := sessions[0], sessions[1]

	// The Done-when line, verbatim: plain ssh, pct list, nothing to list.
	if r := p1.plain("pct list"); r.code != 0 || r.stdout != "" {
		t.Fatalf("ssh -p %d root@127.0.0.1 pct list: exit %d, stdout %q, stderr %q", p1.node.Port, r.code, r.stdout, r.stderr)
	}
	// A fresh connection per command: what a client without multiplexing
	// pays, root's ~/.bashrc included if the lab let bash read it.
	var lat []time.Duration
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		if r := p2.plain("true"); r.code != 0 {
			t.Fatalf("ssh true: %+v", r)
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("timing: ssh -p PORT root@127.0.0.1 true, fresh connection: median %s of 5 (min %s, max %s)",
		lat[2].Round(time.Millisecond), lat[0].Round(time.Millisecond), lat[4].Round(time.Millisecond))
	if r := p1.run("echo $PATH"); !strings.HasPrefix(r.stdout, filepath.Join(l.Root, "bin")+":") {
		t.Errorf("PATH in a node session = %q, want the lab bin dir first", r.stdout)
	}

	// pveam and pvesm.
	if r := p1.run("pveam update"); r.code != 0 || pve.PveamUpdateFailed([]byte(r.stdout), []byte(r.stderr)) {
		t.Fatalf("pveam update: %+v", r)
	}
	avail, err := pve.ParsePveamAvailable([]byte(p1.ok("pveam available")))
	if err != nil || !hasAvailable(avail, lab.TemplateName) {
		t.Fatalf("pveam available: %v %+v", err, avail)
	}
	if r := p1.run("pveam download local " + lab.TemplateName); r.code != 0 {
		t.Fatalf("pveam download: %+v", r)
	}
	stored, err := pve.ParsePveamList([]byte(p1.ok("pveam list local")))
	if err != nil || len(stored) != 1 || stored[0].VolID != lab.TemplateVolid {
		t.Fatalf("pveam list local: %v %+v", err, stored)
	}
	sts, err := pve.ParsePvesmStatus([]byte(p1.ok("pvesm status --content rootdir")))
	if err != nil {
		t.Fatalf("pvesm status --content rootdir: %v", err)
	}
	for _, s := range sts {
		if s.Name == "local" {
			t.Errorf("pvesm status --content rootdir lists local, which has no rootdir")
		}
	}
	if !hasStorage(sts, "local-lvm") || !hasStorage(sts, "local-zfs") {
		t.Errorf("pvesm status --content rootdir: %+v", sts)
	}

	// Two CTs: a static address on pve1, DHCP on pve2.
	id1, err := pve.ParseNextID([]byte(p1.ok("pvesh get /cluster/nextid")))
	if err != nil || id1 < 100 {
		t.Fatalf("pvesh get /cluster/nextid: %d %v", id1, err)
	}
	subnet := netip.MustParsePrefix(l.Subnet)
	a := subnet.Addr().As4()
	ip1 := netip.AddrFrom4([4]byte{a[0], a[1], a[2], 50})
	t0 = time.Now()
	p1.ok(fmt.Sprintf("pct create %d %s --hostname web1 --rootfs local-lvm:1 --memory 256 --net0 name=eth0,bridge=%s,ip=%s/%d,gw=%s",
		id1, lab.TemplateVolid, l.Bridge, ip1, subnet.Bits(), l.Gateway))
	tCreate := time.Since(t0)
	id2, err := pve.ParseNextID([]byte(p2.ok("pvesh get /cluster/nextid")))
	if err != nil || id2 == id1 {
		t.Fatalf("pvesh get /cluster/nextid after creating %d on pve1: %d %v", id1, id2, err)
	}
	p2.ok(fmt.Sprintf("pct create %d %s --hostname web2 --rootfs local-zfs:1 --net0 name=eth0,bridge=%s,ip=dhcp",
		id2, lab.TemplateVolid, l.Bridge))

	// The fault rule fails the second pct start of the cluster, whichever
	// node runs it; its counter lives next to the faults file.
	const faultMsg = "simulated start failure"
	rule, _ := json.Marshal(pvesim.Fault{Tool: "pct", Match: `^start\b`, N: 2, Stderr: faultMsg, Exit: 255})
	if err := os.WriteFile(l.FaultsFile, append(rule, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	p1.ok(fmt.Sprintf("pct start %d", id1))
	t.Logf("timing: pct create %s + pct start %s over ssh", tCreate.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	r := p2.run(fmt.Sprintf("pct start %d", id2))
	if r.code != 255 || strings.TrimSpace(r.stderr) != faultMsg {
		t.Errorf("second pct start under the fault rule: exit %d stderr %q, want 255 %q", r.code, r.stderr, faultMsg)
	}
	if st, _ := pve.ParsePctStatus([]byte(p2.ok(fmt.Sprintf("pct status %d", id2)))); st != "stopped" {
		t.Errorf("CT %d after the failed start: %q, want stopped", id2, st)
	}
	p2.ok(fmt.Sprintf("pct start %d", id2)) // the rule fired once; the third start runs
	list, err := pve.ParsePctList([]byte(p1.ok("pct list")))
	if err != nil || len(list) != 1 || list[0].VMID != id1 || list[0].Status != "running" || list[0].Name != "web1" {
		t.Errorf("pct list on pve1: %v %+v", err, list)
	}

	// pct exec: exit codes pass through, stdin goes in.
	if r := p1.run(fmt.Sprintf("pct exec %d -- sh -c 'exit 7'", id1)); r.code != 7 {
		t.Errorf("pct exec exit 7: got %d (%s)", r.code, r.stderr)
	}
	if r := p1.runIn(fmt.Sprintf("pct exec %d -- cat", id1), []byte("through stdin")); r.stdout != "through stdin" {
		t.Errorf("pct exec stdin: %+v", r)
	}
	if h := p1.ok(fmt.Sprintf("pct exec %d -- hostname", id1)); h != "web1\n" {
		t.Errorf("hostname in CT %d = %q", id1, h)
	}
	ip2 := waitDHCP(t, p2, id2, subnet)

	// One real package install and an HTTP request from this process.
	waitReachable(t, p1, id1, l.Gateway)
	t0 = time.Now()
	install := "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null"
	if r := p1.run(fmt.Sprintf("pct exec %d -- sh -c '%s'", id1, install)); r.code != 0 {
		t.Fatalf("apt-get install nginx-light: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("timing: apt-get update + install nginx-light via pct exec (through the apt cache): %s", time.Since(t0).Round(time.Millisecond))
	if code := httpGet("http://" + ip1.String() + "/"); code != 200 {
		t.Errorf("GET http://%s/ from the host = %d, want 200", ip1, code)
	}

	// pct push / pull.
	tmp, err := os.MkdirTemp("", "pvelab-e2e-files")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	data := make([]byte, 100000)
	rand.Read(data)
	src, back := filepath.Join(tmp, "blob"), filepath.Join(tmp, "back")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	p1.ok(fmt.Sprintf("pct push %d %s /root/blob --perms 0640", id1, src))
	if s := p1.ok(fmt.Sprintf("pct exec %d -- stat -c '%%a %%U' /root/blob", id1)); s != "640 root\n" {
		t.Errorf("pushed file: %q", s)
	}
	p1.ok(fmt.Sprintf("pct pull %d /root/blob %s", id1, back))
	if got, _ := os.ReadFile(back); !bytes.Equal(got, data) {
		t.Errorf("pct pull returned %d bytes, not the %d pushed", len(got), len(data))
	}

	// Snapshots: take, change, list, roll back, delete.
	p1.ok(fmt.Sprintf("pct snapshot %d before", id1))
	p1.ok(fmt.Sprintf("pct exec %d -- touch /root/after-snapshot", id1))
	snaps, err := pve.ParsePctListSnapshot([]byte(p1.ok(fmt.Sprintf("pct listsnapshot %d", id1))))
	if err != nil || !hasSnapshot(snaps, "before") || !hasCurrent(snaps) {
		t.Errorf("pct listsnapshot: %v %+v", err, snaps)
	}
	p1.ok(fmt.Sprintf("pct rollback %d before --start 1", id1))
	if r := p1.run(fmt.Sprintf("pct exec %d -- test -e /root/after-snapshot", id1)); r.code != 1 {
		t.Errorf("after rollback /root/after-snapshot: test -e exit %d (%s), want 1", r.code, r.stderr)
	}
	p1.ok(fmt.Sprintf("pct delsnapshot %d before", id1))
	snaps, _ = pve.ParsePctListSnapshot([]byte(p1.ok(fmt.Sprintf("pct listsnapshot %d", id1))))
	if hasSnapshot(snaps, "before") {
		t.Errorf("snapshot still listed after delsnapshot: %+v", snaps)
	}

	// pct set --delete.
	p1.ok(fmt.Sprintf("pct set %d --onboot 1 --description 'e2e test'", id1))
	conf, err := pve.ParsePctConfig([]byte(p1.ok(fmt.Sprintf("pct config %d", id1))))
	if err != nil || conf.Options["onboot"] != "1" {
		t.Fatalf("pct config after set: %v %+v", err, conf)
	}
	p1.ok(fmt.Sprintf("pct set %d --delete onboot,description", id1))
	raw := p1.ok(fmt.Sprintf("cat /etc/pve/nodes/pve1/lxc/%d.conf", id1))
	if strings.Contains(raw, "onboot") || strings.Contains(raw, "#e2e") {
		t.Errorf("config after pct set --delete onboot,description:\n%s", raw)
	}

	// A bad hostname: the exact 400 layout, exit 255.
	r = p1.run("pct create 999 " + lab.TemplateVolid + " --hostname bad_name --rootfs local-lvm:1")
	wantBad := "400 Parameter verification failed.\nhostname: invalid format - value does not look like a valid DNS name\n\npct create <vmid> <ostemplate> [OPTIONS]\n"
	if r.code != 255 || r.stderr != wantBad || r.stdout != "" {
		t.Errorf("bad hostname: exit %d\nstdout %q\nstderr %q\nwant stderr %q", r.code, r.stdout, r.stderr, wantBad)
	}
	if e := pve.Classify(r.stderr); e.Kind != pve.KindParamVerification || e.Params["hostname"] == "" {
		t.Errorf("bad hostname classified as %+v", e)
	}

	// The same vmid on the other node.
	r = p2.run(fmt.Sprintf("pct create %d %s --rootfs local-lvm:1", id1, lab.TemplateVolid))
	if want := fmt.Sprintf("CT %d already exists on node 'pve1'\n", id1); r.code != 255 || r.stderr != want {
		t.Errorf("duplicate vmid on pve2: exit %d stderr %q, want 255 %q", r.code, r.stderr, want)
	}
	if e := pve.Classify(r.stderr); e.Kind != pve.KindAlreadyExists || e.VMID != id1 || e.Node != "pve1" {
		t.Errorf("duplicate vmid classified as %+v", e)
	}

	// pmxcfs lock: mkdir on one node wins, the other sees EEXIST.
	if r := p1.run("mkdir /etc/pve/priv/lock/e2e"); r.code != 0 {
		t.Errorf("mkdir lock on pve1: %+v", r)
	}
	if r := p2.run("mkdir /etc/pve/priv/lock/e2e"); r.code == 0 || !strings.Contains(r.stderr, "File exists") {
		t.Errorf("mkdir lock on pve2 while pve1 holds it: exit %d %q, want failure with File exists", r.code, r.stderr)
	}
	p1.ok("rmdir /etc/pve/priv/lock/e2e")
	p2.ok("mkdir /etc/pve/priv/lock/e2e && rmdir /etc/pve/priv/lock/e2e")

	// pct migrate --restart: the CT runs on the target afterwards.
	if r := p2.run(fmt.Sprintf("pct migrate %d pve1 --restart", id2)); r.code != 0 {
		t.Errorf("pct migrate %d pve1 --restart: exit %d\n%s%s", id2, r.code, r.stdout, r.stderr)
	} else {
		if st, _ := pve.ParsePctStatus([]byte(p1.ok(fmt.Sprintf("pct status %d", id2)))); st != "running" {
			t.Errorf("CT %d on pve1 after migrate --restart: %q", id2, st)
		}
		if list, _ := pve.ParsePctList([]byte(p2.ok("pct list"))); len(list) != 0 {
			t.Errorf("pct list on pve2 after migrating its only CT away: %+v", list)
		}
		if h := p1.ok(fmt.Sprintf("pct exec %d -- hostname", id2)); h != "web2\n" {
			t.Errorf("hostname of migrated CT: %q", h)
		}
		_ = ip2
	}

	// pct destroy, with and without a running CT.
	p1.ok(fmt.Sprintf("pct stop %d && pct destroy %d", id1, id1))
	if r := p1.run(fmt.Sprintf("pct destroy %d --force 1 --purge 1", id2)); r.code != 0 {
		// The CT is still on pve2 when the migration above failed.
		p2.ok(fmt.Sprintf("pct destroy %d --force 1 --purge 1", id2))
	}
	if out := p1.ok("pct list") + p2.ok("pct list"); out != "" {
		t.Errorf("pct list after destroying everything: %q", out)
	}
	// The command log saw this test's commands.
	if b, err := os.ReadFile(l.CommandLog); err != nil || !bytes.Contains(b, []byte(`"migrate"`)) {
		t.Errorf("command log %s lacks the migrate: %v", l.CommandLog, err)
	}

	st, err := lab.GetStatus(ctx, root)
	if err != nil || !st.Up {
		t.Fatalf("status before down: %+v %v", st, err)
	}
	for _, s := range sessions {
		s.close()
	}
	sessions = nil
	if out, err := exec.CommandContext(ctx, bin, "down").CombinedOutput(); err != nil {
		t.Fatalf("pvelab down: %v\n%s", err, out)
	}
	downed = true
	checkNothingLeft(t, root, st, before)
}

// systemSnapshot is what down must give back unchanged.
type systemSnapshot map[string][]byte

func snapshotSystem(t *testing.T) systemSnapshot {
	t.Helper()
	s := systemSnapshot{}
	for _, f := range []string{"/etc/subuid", "/etc/subgid", "/proc/sys/net/ipv4/ip_forward"} {
		b, _ := os.ReadFile(f)
		s[f] = b
	}
	for _, d := range []string{"/etc/pve", "/var/lib/vz", "/run/sshd"} {
		_, err := os.Stat(d)
		s[d] = []byte(strconv.FormatBool(err == nil))
	}
	return s
}

func checkNothingLeft(t *testing.T, root string, st *lab.Status, before systemSnapshot) {
	t.Helper()
	if exec.Command("ip", "link", "show", lab.DefaultBridge).Run() == nil {
		t.Errorf("bridge %s still exists", lab.DefaultBridge)
	}
	if exec.Command("nft", "list", "table", "ip", "pvelab").Run() == nil {
		t.Error("nft table pvelab still exists")
	}
	for _, p := range st.Procs {
		if err := syscall.Kill(p.PID, 0); err == nil && !isZombie(p.PID) {
			t.Errorf("%s (pid %d) still alive", p.Name, p.PID)
		}
	}
	// Nothing else that names the lab: node sessions, lxc monitors,
	// container inits started from the lab's lxcpaths.
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || isZombie(pid) {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if bytes.Contains(cmd, []byte(root+"/")) {
			t.Errorf("process %d still runs from the lab: %q", pid, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mi), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (strings.HasPrefix(f[4], root) || f[4] == "/etc/pve" || f[4] == "/var/lib/vz") {
			t.Errorf("mount left: %s", line)
		}
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("%s still exists", root)
	}
	now := snapshotSystem(t)
	for k, v := range before {
		if !bytes.Equal(now[k], v) {
			t.Errorf("%s changed by the lab: %q, was %q", k, now[k], v)
		}
	}
	if out, _ := exec.Command("lxc-ls", "-P", filepath.Join(root, "nodes", "pve1", "lxc")).Output(); len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("containers left: %s", out)
	}
}

func waitDHCP(t *testing.T, s *pveSession, vmid int, subnet netip.Prefix) netip.Addr {
	t.Helper()
	cmd := fmt.Sprintf("pvesh get /nodes/%s/lxc/%d/interfaces --output-format json", s.node.Name, vmid)
	for i := 0; i < 60; i++ {
		ifs, err := pve.ParseInterfaces([]byte(s.ok(cmd)))
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		for _, f := range ifs {
			if p, err := netip.ParsePrefix(f.Inet); err == nil && f.Name == "eth0" && subnet.Contains(p.Addr()) {
				return p.Addr()
			}
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("CT %d on %s got no DHCP lease in %s", vmid, s.node.Name, subnet)
	return netip.Addr{}
}

// waitReachable waits until the CT's network is up (systemd-networkd
// configures it shortly after start).
func waitReachable(t *testing.T, s *pveSession, vmid int, gw string) {
	t.Helper()
	for i := 0; i < 60; i++ {
		if r := s.run(fmt.Sprintf("pct exec %d -- ping -c 1 -W 1 %s", vmid, gw)); r.code == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("CT %d cannot reach the gateway %s", vmid, gw)
}

func httpGet(url string) int {
	c := http.Client{Timeout: 5 * time.Second}
	for i := 0; i < 20; i++ {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			return resp.StatusCode
		}
		time.Sleep(500 * time.Millisecond)
	}
	return 0
}

func hasAvailable(ts []pve.AvailableTemplate, name string) bool {
	for _, x := range ts {
		if x.Template == name {
			return true
		}
	}
	return false
}

func hasStorage(ss []pve.StorageStatus, name string) bool {
	for _, s := range ss {
		if s.Name == name && s.Status == "active" {
			return true
		}
	}
	return false
}

func hasSnapshot(es []pve.SnapshotEntry, name string) bool {
	for _, e := range es {
		if e.Name == name && !e.Current {
			return true
		}
	}
	return false
}

func hasCurrent(es []pve.SnapshotEntry) bool {
	for _, e := range es {
		if e.Current {
			return true
		}
	}
	return false
}

// TestLabRecoversFromLeftovers covers CI on a dirty machine: down without
// the state file, and up over the remains of a lab whose state file is
// gone and whose sshd died.
func TestLabRecoversFromLeftovers(t *testing.T) {
	// Skips unless PVELAB_E2E=1 as root. One lab per machine: waits for
	// other packages' lab tests (go test runs packages in parallel).
	labtest.Lock(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root := lab.DefaultRoot
	if err := lab.Down(ctx, root); err != nil {
		t.Fatalf("initial down: %v", err)
	}
	before := snapshotSystem(t)
	defer lab.Down(context.Background(), root)

	up := func() *lab.Status {
		t.Helper()
		var log bytes.Buffer
		if _, err := lab.Up(ctx, lab.UpOptions{Nodes: 2, Log: &log}); err != nil {
			t.Fatalf("up: %v\n%s", err, log.String())
		}
		st, err := lab.GetStatus(ctx, root)
		if err != nil || !st.Up {
			t.Fatalf("status after up: %+v %v", st, err)
		}
		return st
	}

	// 1. down after the state file was deleted.
	st := up()
	if err := os.Remove(filepath.Join(root, "state.json")); err != nil {
		t.Fatal(err)
	}
	if err := lab.Down(ctx, root); err != nil {
		t.Fatalf("down without state.json: %v", err)
	}
	checkNothingLeft(t, root, st, before)

	// 2. up over a lab with a dead node sshd and no state file.
	st1 := up()
	for _, p := range st1.Procs {
		if p.Name == "sshd-pve1" {
			syscall.Kill(p.PID, syscall.SIGKILL)
		}
	}
	if err := os.Remove(filepath.Join(root, "state.json")); err != nil {
		t.Fatal(err)
	}
	st2 := up()
	if err := lab.Down(ctx, root); err != nil {
		t.Fatalf("down: %v", err)
	}
	st2.Procs = append(st2.Procs, st1.Procs...)
	checkNothingLeft(t, root, st2, before)
}
