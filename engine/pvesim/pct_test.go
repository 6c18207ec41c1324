package pvesim

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLifecycle(t *testing.T) {
	c := testCluster(t)
	withTemplate(t, c, "pve")
	must(t, c, "pve", "pct create 100 "+tmpl+" --storage local-lvm --hostname web01 --net0 name=eth0,bridge=vmbr0,ip=dhcp")

	steps := []struct {
		cmd, stdin, out, err string
		code                 int
	}{
		{cmd: "pct exec 100 -- true", err: "container '100' not running!\n", code: 255},
		{cmd: "pct stop 100", err: "CT 100 not running\n", code: 255},
		{cmd: "pct shutdown 100", err: "CT 100 not running\n", code: 255},
		{cmd: "pct reboot 100", err: "VM 100 not running\n", code: 255},
		{cmd: "pct status 100", out: "status: stopped\n"},
		{cmd: "pct start 100"},
		{cmd: "pct start 100", err: "CT 100 already running\n", code: 255},
		{cmd: "pct status 100", out: "status: running\n"},
		{cmd: "pct exec 100 -- cat", stdin: "piped\n", out: "piped\n"},
		{cmd: "pct exec 100 -- sh -c 'exit 3'", code: 3},
		{cmd: "pct exec 100 -- false", code: 1},
		{cmd: "pct exec 100", err: "missing command at /usr/share/perl5/PVE/CLI/pct.pm line 205.\n", code: 255},
		{cmd: "pct destroy 100", err: "unable to destroy CT 100 - container is running\n", code: 255},
		{cmd: "pct list", out: "VMID       Status     Lock         Name                \n100        running                 web01               \n"},
		{cmd: "pct stop 100"},
		{cmd: "pct destroy 100", out: "  Logical volume \"vm-100-disk-0\" successfully removed.\n"},
		{cmd: "pct list"},
		{cmd: "pct status 100", err: "Configuration file 'nodes/pve/lxc/100.conf' does not exist\n", code: 255},
		{cmd: "pct start 100", err: "Configuration file 'nodes/pve/lxc/100.conf' does not exist\n", code: 255},
	}
	for _, s := range steps {
		r := runIn(t, c, "pve", s.cmd, s.stdin)
		if r.out != s.out || r.err != s.err || r.code != s.code {
			t.Fatalf("%s: got exit %d\nstdout %q\nstderr %q\nwant exit %d stdout %q stderr %q", s.cmd, r.code, r.out, r.err, s.code, s.out, s.err)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(mustNode(t, c, "pve").StorageRoot), "lvm", "vm-100-disk-0")); !os.IsNotExist(err) {
		t.Errorf("volume dir not removed: %v", err)
	}
}

func mustNode(t *testing.T, c *Cluster, name string) *Node {
	n, ok := c.Node(name)
	if !ok {
		t.Fatalf("no node %s", name)
	}
	return n
}

func TestCreateConfigFile(t *testing.T) {
	c := testCluster(t)
	withTemplate(t, c, "pve")
	r := must(t, c, "pve", "pct create 100 "+tmpl+" --storage local-lvm --hostname web01 --cores 2 --memory 2048"+
		" --description 'Web server: nginx\nmanaged by lxcplan' --features nesting=1,keyctl=1 --tags web,prod"+
		" --net0 bridge=vmbr0,name=eth0,ip=dhcp,hwaddr=BC:24:11:5E:0A:91 --mp0 local-lvm:0.5,mp=/data,backup=1 --rootfs local-lvm:8 --onboot 1 --startup order=2,up=30")
	checkGolden(t, "create_task_output.txt", r.out)
	raw, err := os.ReadFile(filepath.Join(c.Dir, "nodes", "pve", "lxc", "100.conf"))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "create_100.conf", string(raw))
	checkGolden(t, "pct_config_100.txt", must(t, c, "pve", "pct config 100").out)
	checkGolden(t, "pct_status_verbose_stopped.txt", must(t, c, "pve", "pct status 100 --verbose").out)
}

func TestMinimalCreate(t *testing.T) {
	c := testCluster(t)
	withTemplate(t, c, "pve")
	must(t, c, "pve", "pct create 100 "+tmpl+" --storage local-lvm")
	raw, _ := os.ReadFile(filepath.Join(c.Dir, "nodes", "pve", "lxc", "100.conf"))
	want := "arch: amd64\nhostname: CT100\nmemory: 512\nostype: debian\nrootfs: local-lvm:vm-100-disk-0,size=4G\nswap: 512\nunprivileged: 1\n"
	if string(raw) != want {
		t.Errorf("minimal config:\n%s\nwant:\n%s", raw, want)
	}
	// Storage naming per type (§2.2).
	must(t, c, "pve", "pct create 101 "+tmpl+" --rootfs local-zfs:2")
	must(t, c, "pve", "pct create 102 "+tmpl+" --rootfs local-dir:1")
	must(t, c, "pve", "pct create 103 "+tmpl+" --rootfs local-dir:0")
	for id, want := range map[string]string{"101": "rootfs: local-zfs:subvol-101-disk-0,size=2G\n",
		"102": "rootfs: local-dir:102/vm-102-disk-0.raw,size=1G\n", "103": "rootfs: local-dir:103/subvol-103-disk-0.subvol,size=0T\n"} {
		if r := must(t, c, "pve", "pct config "+id); !strings.Contains(r.out, want) {
			t.Errorf("CT %s: want %q in\n%s", id, want, r.out)
		}
	}
	// local-lvm:8G is not the allocation syntax.
	r := run(t, c, "pve", "pct create 104 "+tmpl+" --rootfs local-lvm:8G")
	if r.code != 255 || r.err != "unable to create CT 104 - unable to parse lvm volume name '8G'\n" {
		t.Errorf("8G: %d %q %q", r.code, r.out, r.err)
	}
}

func TestCreateErrors(t *testing.T) {
	c := testCluster(t, "pve1", "pve2")
	withTemplate(t, c, "pve1")
	withTemplate(t, c, "pve2")
	must(t, c, "pve1", "pct create 100 "+tmpl+" --storage local-lvm")
	tests := []struct{ node, cmd, out, err string }{
		{"pve2", "pct create 100 " + tmpl + " --storage local-lvm", "", "CT 100 already exists on node 'pve1'\n"},
		{"pve1", "pct create 101 local:vztmpl/nosuch.tar.zst --storage local-lvm",
			"  Logical volume \"vm-101-disk-0\" created.\nCreating filesystem with 1048576 4k blocks and 262144 inodes\nFilesystem UUID: 6be30313-0000-4065-8000-0000000c344b\nSuperblock backups stored on blocks: \n\t32768, 98304, 163840, 229376, 294912, 819200, 884736, 1605632\ncan't find file 'local:vztmpl/nosuch.tar.zst'\n",
			"unable to create CT 101 - can't find file 'local:vztmpl/nosuch.tar.zst'\n"},
		{"pve1", "pct create 101 nosuch:vztmpl/x.tar.zst --storage local-lvm", "", "storage 'nosuch' does not exist\n"},
		{"pve1", "pct create 101 local:iso/x.iso --storage local-lvm", "", "unable to use volume local:iso/x.iso - content type needs to be 'vztmpl'\n"},
		{"pve1", "pct create 101 " + tmpl + " --storage local-lvm --mp0 local-lvm:1,mp=/x", "", "mount points configured, but 'rootfs' not set - aborting\n"},
		{"pve1", "pct create 101 " + tmpl + " --storage local-lvm --pool nosuch", "", "403 Permission check failed (pool 'nosuch' does not exist)\n"},
	}
	for _, tt := range tests {
		r := run(t, c, tt.node, tt.cmd)
		if r.code != 255 || r.out != tt.out || r.err != tt.err {
			t.Errorf("%s on %s: exit %d\nstdout %q\nstderr %q\nwant stdout %q stderr %q", tt.cmd, tt.node, r.code, r.out, r.err, tt.out, tt.err)
		}
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "nodes", "pve1", "lxc", "101.conf")); !os.IsNotExist(err) {
		t.Errorf("failed create left a config")
	}
}

func TestSnapshotsPerStorage(t *testing.T) {
	old := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = old })
	c := testCluster(t)
	now := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	c.Now = func() time.Time { return now }
	withTemplate(t, c, "pve")
	must(t, c, "pve", "pct create 100 "+tmpl+" --rootfs local-lvm:1")
	must(t, c, "pve", "pct create 101 "+tmpl+" --rootfs local-zfs:1")
	must(t, c, "pve", "pct create 102 "+tmpl+" --rootfs local-dir:1")

	if r := run(t, c, "pve", "pct listsnapshot 100"); r.out != "`-> current                                             You are here!\n" {
		t.Errorf("empty listsnapshot: %q", r.out)
	}
	for _, id := range []string{"100", "101"} {
		must(t, c, "pve", "pct snapshot "+id+" pre-upgrade --description 'before apt upgrade'")
		now = now.Add(time.Hour)
		must(t, c, "pve", "pct snapshot "+id+" post")
	}
	checkGolden(t, "listsnapshot.txt", must(t, c, "pve", "pct listsnapshot 100").out)
	raw, _ := os.ReadFile(filepath.Join(c.Dir, "nodes", "pve", "lxc", "100.conf"))
	checkGolden(t, "snapshot_100.conf", string(raw))

	tests := []struct {
		cmd, err string
		code     int
	}{
		{"pct snapshot 100 post", "snapshot name 'post' already used\n", 255},
		{"pct snapshot 100 current", "unable to use snapshot name 'current' (reserved name)\n", 255},
		{"pct snapshot 102 snap1", "snapshot feature is not available\n", 255},
		{"pct rollback 100 nosuch", "snapshot 'nosuch' does not exist\n", 255},
		{"pct rollback 101 pre-upgrade", "can't rollback, 'pre-upgrade' is not most recent snapshot on 'subvol-101-disk-0'\n", 255},
		{"pct rollback 101 post", "", 0},
		{"pct rollback 100 pre-upgrade", "", 0},
		{"pct delsnapshot 100 nosuch", "snapshot 'nosuch' does not exist\n", 255},
		{"pct delsnapshot 100 pre-upgrade", "", 0},
	}
	for _, tt := range tests {
		r := run(t, c, "pve", tt.cmd)
		if r.code != tt.code || r.err != tt.err {
			t.Errorf("%s: exit %d stderr %q, want %d %q", tt.cmd, r.code, r.err, tt.code, tt.err)
		}
	}
	r := must(t, c, "pve", "pct config 100")
	if strings.Contains(r.out, "parent:") {
		t.Errorf("parent should be gone after deleting the root snapshot:\n%s", r.out)
	}
	if r := must(t, c, "pve", "pct config 100 --snapshot post"); !strings.Contains(r.out, "snaptime: 1717239600\n") || strings.Contains(r.out, "parent:") {
		t.Errorf("post not relinked:\n%s", r.out)
	}
}

func TestRollbackRestoresData(t *testing.T) {
	c := testCluster(t)
	withTemplate(t, c, "pve")
	must(t, c, "pve", "pct create 100 "+tmpl+" --rootfs local-lvm:1")
	n := mustNode(t, c, "pve")
	root := filepath.Join(filepath.Dir(n.StorageRoot), "lvm", "vm-100-disk-0")
	os.WriteFile(filepath.Join(root, "marker"), []byte("v1"), 0o644)
	must(t, c, "pve", "pct snapshot 100 s1")
	os.WriteFile(filepath.Join(root, "marker"), []byte("v2"), 0o644)
	must(t, c, "pve", "pct rollback 100 s1")
	if b, _ := os.ReadFile(filepath.Join(root, "marker")); string(b) != "v1" {
		t.Errorf("rollback did not restore the volume: %q", b)
	}
	if r := must(t, c, "pve", "pct config 100"); !strings.Contains(r.out, "parent: s1\n") {
		t.Errorf("parent not set:\n%s", r.out)
	}
}

func TestSetAndPending(t *testing.T) {
	c := testCluster(t)
	withTemplate(t, c, "pve")
	must(t, c, "pve", "pct create 100 "+tmpl+" --storage local-lvm --features nesting=1 --onboot 1")
	tests := []struct {
		cmd, err string
		code     int
	}{
		{"pct set 100", "no options specified\n", 255},
		{"pct set 100 --delete memory", "unable to delete required option 'memory'\n", 255},
		{"pct set 100 --delete unprivileged", "unable to delete read-only option: 'unprivileged'\n", 255},
		{"pct set 100 --unprivileged 0", "unable to modify read-only option: 'unprivileged'\n", 255},
		{"pct set 100 --delete foo", "400 Parameter verification failed.\ndelete: unknown option 'foo'\npct set <vmid> [OPTIONS]\n", 255},
		{"pct set 100 --delete cores", "cannot delete 'cores' - not set in current configuration!\n", 0},
		{"pct set 100 --cores 3 --digest 0000", "detected modified configuration - file changed by other user? Try again.\n", 255},
		{"pct set 100 --mp0 local:1,mp=/x", "storage 'local' does not allow content type 'rootdir' (Container)\n", 255},
	}
	for _, tt := range tests {
		r := run(t, c, "pve", tt.cmd)
		if r.code != tt.code || r.err != tt.err {
			t.Errorf("%s: exit %d stderr %q, want %d %q", tt.cmd, r.code, r.err, tt.code, tt.err)
		}
	}
	// Stopped: applied at once.
	must(t, c, "pve", "pct set 100 --delete onboot --cores 2")
	if r := must(t, c, "pve", "pct config 100"); strings.Contains(r.out, "onboot") || !strings.Contains(r.out, "cores: 2\n") {
		t.Errorf("stopped set:\n%s", r.out)
	}
	// Running: hot/immediate options apply, the rest is pending.
	must(t, c, "pve", "pct start 100")
	must(t, c, "pve", "pct set 100 --memory 1024 --hostname web02 --nameserver 1.1.1.1 --delete features")
	checkGolden(t, "pending.txt", must(t, c, "pve", "pct pending 100").out)
	raw, _ := os.ReadFile(filepath.Join(c.Dir, "nodes", "pve", "lxc", "100.conf"))
	checkGolden(t, "pending_100.conf", string(raw))
	cur := must(t, c, "pve", "pct config 100 --current").out
	merged := must(t, c, "pve", "pct config 100").out
	if !strings.Contains(cur, "features: nesting=1\n") || strings.Contains(cur, "nameserver") {
		t.Errorf("--current:\n%s", cur)
	}
	if strings.Contains(merged, "features") || !strings.Contains(merged, "nameserver: 1.1.1.1\n") {
		t.Errorf("merged:\n%s", merged)
	}
	must(t, c, "pve", "pct reboot 100")
	raw, _ = os.ReadFile(filepath.Join(c.Dir, "nodes", "pve", "lxc", "100.conf"))
	if strings.Contains(string(raw), "[pve:pending]") || !strings.Contains(string(raw), "nameserver: 1.1.1.1\n") {
		t.Errorf("reboot did not apply pending:\n%s", raw)
	}
}

func TestLocks(t *testing.T) {
	c := testCluster(t)
	withTemplate(t, c, "pve")
	must(t, c, "pve", "pct create 100 "+tmpl+" --storage local-lvm")
	must(t, c, "pve", "pct set 100 --lock backup")
	for _, cmd := range []string{"pct start 100", "pct set 100 --cores 2", "pct snapshot 100 s1", "pct destroy 100", "pct resize 100 rootfs +1G"} {
		if r := run(t, c, "pve", cmd); r.code != 255 || r.err != "CT is locked (backup)\n" {
			t.Errorf("%s: %d %q", cmd, r.code, r.err)
		}
	}
	if r := run(t, c, "pve", "pct list"); !strings.Contains(r.out, "100        stopped    backup       CT100") {
		t.Errorf("list lock column: %q", r.out)
	}
	must(t, c, "pve", "pct unlock 100")
	if r := run(t, c, "pve", "pct unlock 100"); r.err != "no lock found trying to remove any lock\n" {
		t.Errorf("unlock twice: %q", r.err)
	}
	// A held flock times out with PVE's message.
	old := lockConfigTimeout
	lockConfigTimeout = 100 * time.Millisecond
	t.Cleanup(func() { lockConfigTimeout = old })
	n := mustNode(t, c, "pve")
	lk, err := n.lockConfig(context.Background(), 100, time.Second, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, c, "pve", "pct set 100 --cores 2")
	lk.release()
	if r.code != 255 || r.err != "trying to acquire lock...\ncan't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout\n" {
		t.Errorf("flock timeout: %d %q", r.code, r.err)
	}
}

func TestExitZeroQuirks(t *testing.T) {
	c := testCluster(t)
	withTemplate(t, c, "pve")
	must(t, c, "pve", "pct create 100 "+tmpl+" --storage local-lvm")
	if r := run(t, c, "pve", "pct push 100 /nosuch /root/x"); r.err != "can only push files to a running CT\n" || r.code != 255 {
		t.Errorf("push stopped: %d %q", r.code, r.err)
	}
	if r := run(t, c, "pve", "pct pull 100 /etc/os-release /tmp/x"); r.code != 255 ||
		r.err != "can only pull files from a running VM at /usr/share/perl5/PVE/CLI/pct.pm line 446.\n" {
		t.Errorf("pull stopped: %d %q", r.code, r.err)
	}
	must(t, c, "pve", "pct start 100")
	// Task failures of push exit 0 with the error on stderr.
	if r := run(t, c, "pve", "pct push 100 /nosuch /root/x"); r.code != 0 || r.err != "failed to open /nosuch for reading\n" {
		t.Errorf("push missing: %d %q", r.code, r.err)
	}
	n := mustNode(t, c, "pve")
	src := n.hostPath("/root/app.conf")
	os.MkdirAll(filepath.Dir(src), 0o755)
	os.WriteFile(src, []byte("x=1\n"), 0o644)
	if r := run(t, c, "pve", "pct push 100 /root/app.conf /nosuchdir/app.conf"); r.code != 0 ||
		r.err != "failed to create file: /nosuchdir/app.conf: No such file or directory\n" {
		t.Errorf("push bad dest: %d %q", r.code, r.err)
	}
	if r := run(t, c, "pve", "pct push 100 /root/app.conf /etc/app.conf --user nobody"); r.code != 0 || r.err != "failed to get uid for: nobody\n" {
		t.Errorf("push bad user: %d %q", r.code, r.err)
	}
	must(t, c, "pve", "pct push 100 /root/app.conf /etc/app.conf --perms 600")
	if b, ok := c.Memory().File(100, "/etc/app.conf"); !ok || string(b) != "x=1\n" {
		t.Errorf("pushed file: %q %v", b, ok)
	}
	if r := must(t, c, "pve", "pct exec 100 -- cat /etc/app.conf"); r.out != "x=1\n" {
		t.Errorf("cat pushed: %q", r.out)
	}
	must(t, c, "pve", "pct pull 100 /etc/app.conf /root/back.conf")
	if b, _ := os.ReadFile(n.hostPath("/root/back.conf")); string(b) != "x=1\n" {
		t.Errorf("pulled: %q", b)
	}
	// Resize: pre-task checks fail non-zero; success updates the size.
	if r := run(t, c, "pve", "pct resize 100 rootfs 1G"); r.code != 255 || r.err != "unable to shrink disk size\n" {
		t.Errorf("shrink: %d %q", r.code, r.err)
	}
	if r := run(t, c, "pve", "pct resize 100 rootfs 4G"); r.code != 255 || r.err != "disk is already at specified size\n" {
		t.Errorf("same size: %d %q", r.code, r.err)
	}
	must(t, c, "pve", "pct resize 100 rootfs +1G")
	if r := must(t, c, "pve", "pct config 100"); !strings.Contains(r.out, "rootfs: local-lvm:vm-100-disk-0,size=5G\n") {
		t.Errorf("resize:\n%s", r.out)
	}
	if r := run(t, c, "pve", "pveam update"); r.code != 0 || r.out != "update successful\n" {
		t.Errorf("pveam update: %d %q", r.code, r.out)
	}
}

func TestDestroyRules(t *testing.T) {
	c := testCluster(t)
	withTemplate(t, c, "pve")
	must(t, c, "pve", "pct create 100 "+tmpl+" --storage local-lvm --protection 1")
	if r := run(t, c, "pve", "pct destroy 100"); r.code != 255 || r.err != "can't remove CT 100 - protection mode enabled\n" {
		t.Errorf("protection: %d %q", r.code, r.err)
	}
	must(t, c, "pve", "pct set 100 --protection 0")
	must(t, c, "pve", "ha-manager add ct:100 --state stopped")
	if r := run(t, c, "pve", "pct destroy 100"); r.code != 255 || r.err != "unable to remove CT 100 - used in HA resources and purge parameter not set.\n" {
		t.Errorf("ha: %d %q", r.code, r.err)
	}
	must(t, c, "pve", "ha-manager set ct:100 --state ignored")
	must(t, c, "pve", "pct start 100")
	r := must(t, c, "pve", "pct destroy 100 --force --purge")
	want := "forced to stop CT 100 before destroying!\n  Logical volume \"vm-100-disk-0\" successfully removed.\npurging CT 100 from related configurations..\nNOTE: removed CT 100 from HA resource configuration.\n"
	if r.out != want {
		t.Errorf("destroy --force --purge:\n%q\nwant\n%q", r.out, want)
	}
	if r := must(t, c, "pve", "ha-manager config"); r.out != "" {
		t.Errorf("HA not purged: %q", r.out)
	}
}

func TestMigrate(t *testing.T) {
	c := testCluster(t, "pve1", "pve2")
	withTemplate(t, c, "pve1")
	must(t, c, "pve1", "pct create 100 "+tmpl+" --storage local-lvm --net0 name=eth0,bridge=vmbr0,ip=dhcp")
	must(t, c, "pve1", "pct start 100")
	if r := run(t, c, "pve1", "pct migrate 100 pve2"); r.code != 255 || r.err != "can't migrate running container without --online or --restart\n" {
		t.Errorf("no restart: %d %q", r.code, r.err)
	}
	if r := run(t, c, "pve1", "pct migrate 100 pve9 --restart"); r.code != 255 || r.err != "no such cluster node 'pve9'\n" {
		t.Errorf("bad node: %d %q", r.code, r.err)
	}
	r := must(t, c, "pve1", "pct migrate 100 pve2 --restart")
	if !strings.Contains(r.out, "starting migration of CT 100 to node 'pve2'") || !strings.Contains(r.out, "migration finished successfully (duration 00:00:00)") {
		t.Errorf("migrate output:\n%s", r.out)
	}
	if r := run(t, c, "pve1", "pct list"); r.out != "" {
		t.Errorf("source still lists: %q", r.out)
	}
	if r := must(t, c, "pve2", "pct status 100"); r.out != "status: running\n" {
		t.Errorf("target status: %q", r.out)
	}
	n2 := mustNode(t, c, "pve2")
	if _, err := os.Stat(filepath.Join(filepath.Dir(n2.StorageRoot), "lvm", "vm-100-disk-0")); err != nil {
		t.Errorf("volume not moved: %v", err)
	}
}

func TestMemoryRuntimeScripts(t *testing.T) {
	c := testCluster(t)
	withTemplate(t, c, "pve")
	must(t, c, "pve", "pct create 100 "+tmpl+" --storage local-lvm")
	must(t, c, "pve", "pct start 100")
	must(t, c, "pve", `pct exec 100 -- sh -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx curl; echo hello > /etc/motd; echo more >> /etc/motd'`)
	if got := c.Memory().Packages(100); strings.Join(got, ",") != "curl,nginx" {
		t.Errorf("packages %v", got)
	}
	if r := must(t, c, "pve", "pct exec 100 -- sh -c 'cat /etc/motd | cat'"); r.out != "hello\nmore\n" {
		t.Errorf("motd %q", r.out)
	}
	if r := run(t, c, "pve", "pct exec 100 -- dpkg -s apache2"); r.code != 1 {
		t.Errorf("dpkg missing: %d", r.code)
	}
	c.Memory().Handle(`^systemctl is-active nginx$`, func(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
		io.WriteString(stdout, "failed\n")
		return 3
	})
	if r := run(t, c, "pve", "pct exec 100 -- systemctl is-active nginx"); r.code != 3 || r.out != "failed\n" {
		t.Errorf("handler: %d %q", r.code, r.out)
	}
	if r := run(t, c, "pve", "pct exec 100 -- test -e /etc/os-release"); r.code != 0 {
		t.Errorf("test -e extracted file: %d", r.code)
	}
}
