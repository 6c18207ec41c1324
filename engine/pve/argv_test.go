package pve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

func TestArgvGolden(t *testing.T) {
	full := &CreateOptions{
		ConfigOptions: ConfigOptions{
			Arch: "amd64", CMode: "tty", Console: True, Cores: 2, CPULimit: "1.5", CPUUnits: Int(0),
			Description: "Web server: nginx\nmanaged by lxcplan",
			Devs:        map[int]*Dev{0: {Path: "/dev/ttyUSB0", GID: 20, HasGID: true, Mode: "0660"}},
			Features:    &Features{Nesting: True, Keyctl: True},
			Hostname:    "web01", Memory: 2048,
			Mounts: map[int]*Mount{
				10: {Volume: "local-lvm:32", MP: "/data", Backup: True},
				2:  {Volume: "/mnt/host/dir", MP: "/srv", RO: True},
			},
			Nameserver: []string{"1.1.1.1", "9.9.9.9"},
			Nets: map[int]*Net{
				0:  {Name: "eth0", Bridge: "vmbr0", IP: "dhcp", Firewall: True},
				10: {Name: "eth10", Bridge: "vmbr1", IP: "10.0.0.5/24", GW: "10.0.0.1", Tag: 20, MTU: 1450},
				2:  {Name: "eth2", Bridge: "vmbr0", IP6: "auto"},
			},
			OnBoot: True, OSType: "debian", Protection: False,
			Rootfs:       &Mount{Volume: "local-lvm:8", MountOptions: "noatime"},
			SearchDomain: []string{"example.com"},
			Startup:      &Startup{Order: 2, HasOrder: true, Up: 30, HasUp: true},
			Swap:         Int(0), Tags: []string{"prod", "web"}, Timezone: "host", TTY: Int(2), Unprivileged: True,
		},
		HAManaged: True, Password: "s3cret!", Pool: "lab", SSHPublicKeys: "/root/.ssh/lxcplan.pub",
		Start: True, Storage: "local-lvm",
	}
	cases := []struct {
		name string
		argv []string
	}{
		{"create-minimal", PctCreate(100, "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", &CreateOptions{Storage: "local-lvm"})},
		{"create-nil", PctCreate(100, "local:vztmpl/x.tar.zst", nil)},
		{"create-full", PctCreate(100, "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", full)},
		{"create-restore", PctCreate(101, "local:backup/vzdump-lxc-100.tar.zst", &CreateOptions{Restore: True, Unique: True, Force: True, IgnoreUnpackErrors: True, BWLimit: "10240"})},
		{"start", PctStart(100, StartOptions{})},
		{"start-skiplock", PctStart(100, StartOptions{SkipLock: true, Debug: true})},
		{"stop", PctStop(100, StopOptions{})},
		{"stop-all", PctStop(100, StopOptions{SkipLock: true, OverruleShutdown: true})},
		{"shutdown", PctShutdown(100, ShutdownOptions{})},
		{"shutdown-force", PctShutdown(100, ShutdownOptions{Timeout: 30, ForceStop: true})},
		{"reboot", PctReboot(100, 0)},
		{"reboot-timeout", PctReboot(100, 45)},
		{"destroy", PctDestroy(100, DestroyOptions{})},
		{"destroy-all", PctDestroy(100, DestroyOptions{Force: true, Purge: true, DestroyUnreferencedDisks: true})},
		{"exec", PctExec(100, Unset, "bash", "-c", "echo hi")},
		{"exec-keepenv", PctExec(100, False, "ls", "-la")},
		{"push", PctPush(100, "/tmp/lxcplan/f", "/etc/app.conf", FileOptions{})},
		{"push-perms", PctPush(100, "/tmp/lxcplan/f", "/etc/app.conf", FileOptions{Perms: "0640", User: "root", Group: "www-data"})},
		{"pull", PctPull(100, "/etc/hostname", "/tmp/h", FileOptions{})},
		{"set", PctSet(100, &SetOptions{ConfigOptions: ConfigOptions{Memory: 1024, Cores: 4, Tags: []string{"a"}}, Delete: []string{"mp0", "net1"}})},
		{"set-delete-only", PctSet(100, &SetOptions{Delete: []string{"features"}, Digest: "0123abcd"})},
		{"set-features-empty", PctSet(100, &SetOptions{ConfigOptions: ConfigOptions{Features: &Features{}}})},
		{"set-features", PctSet(100, &SetOptions{ConfigOptions: ConfigOptions{Features: &Features{Nesting: True, Mount: []string{"nfs", "cifs"}}}})},
		{"set-revert", PctSet(100, &SetOptions{Revert: []string{"cores"}})},
		{"resize", PctResize(100, "rootfs", "+2G")},
		{"snapshot", PctSnapshot(100, "pre-upgrade", "")},
		{"snapshot-desc", PctSnapshot(100, "pre-upgrade", "before apt upgrade")},
		{"listsnapshot", PctListSnapshot(100)},
		{"rollback", PctRollback(100, "pre-upgrade", false)},
		{"rollback-start", PctRollback(100, "pre-upgrade", true)},
		{"delsnapshot", PctDelSnapshot(100, "pre-upgrade", false)},
		{"delsnapshot-force", PctDelSnapshot(100, "pre-upgrade", true)},
		{"migrate", PctMigrate(100, "pve2", MigrateOptions{Restart: true})},
		{"migrate-all", PctMigrate(100, "pve2", MigrateOptions{Online: true, Restart: true, Timeout: 120, TargetStorage: "local-lvm:fast", BWLimit: "1000"})},
		{"unlock", PctUnlock(100)},
		{"template", PctTemplate(100)},
		{"config", PctConfig(100, ConfigQuery{})},
		{"config-current", PctConfig(100, ConfigQuery{Current: true})},
		{"config-snapshot", PctConfig(100, ConfigQuery{Snapshot: "pre-upgrade"})},
		{"pending", PctPending(100)},
		{"status", PctStatus(100, false)},
		{"status-verbose", PctStatus(100, true)},
		{"list", PctList()},
		{"pveam-update", PveamUpdate()},
		{"pveam-available", PveamAvailable("")},
		{"pveam-available-system", PveamAvailable("system")},
		{"pveam-list", PveamList("local")},
		{"pveam-download", PveamDownload("local", "debian-12-standard_12.7-1_amd64.tar.zst")},
		{"pveam-remove", PveamRemove("local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst")},
		{"pvesm-status", PvesmStatus(StatusQuery{})},
		{"pvesm-status-content", PvesmStatus(StatusQuery{Content: []string{"rootdir"}})},
		{"pvesm-status-storage", PvesmStatus(StatusQuery{Storage: "local-lvm", Enabled: true, Target: "pve2"})},
		{"pvesm-list", PvesmList("local", "vztmpl", 0)},
		{"pvesm-list-vmid", PvesmList("local-lvm", "", 100)},
		{"pvesm-path", PvesmPath("local-lvm:vm-100-disk-0")},
		{"pvesh-nextid", PveshNextID(0)},
		{"pvesh-nextid-vmid", PveshNextID(150)},
		{"pvesh-resources", PveshClusterResources("vm")},
		{"pvesh-resources-all", PveshClusterResources("")},
		{"pvesh-cluster-status", PveshGet(PathClusterStatus)},
		{"pvesh-nodes", PveshGet(PathNodes)},
		{"pvesh-version", PveshGet(PathVersion)},
		{"pvesh-node-storage", PveshNodeStorage("pve", "")},
		{"pvesh-node-storage-rootdir", PveshNodeStorage("pve", "rootdir")},
		{"pvesh-node-lxc", PveshGet(PathNodeLXC("pve"))},
		{"pvesh-lxc-config", PveshGet(PathLXCConfig("pve", 100))},
		{"pvesh-lxc-status", PveshGet(PathLXCStatus("pve", 100))},
		{"pvesh-lxc-interfaces", PveshGet(PathLXCInterfaces("pve", 100))},
		{"ha-add", HAAdd(100, HAOptions{State: "started"})},
		{"ha-add-all", HAAdd(100, HAOptions{State: "stopped", MaxRestart: Int(1), MaxRelocate: Int(0), Failback: False, Comment: "lxcplan", Group: "g1"})},
		{"ha-set", HASet(100, HAOptions{State: "stopped"})},
		{"ha-remove", HARemove(100, Unset)},
		{"ha-remove-nopurge", HARemove(100, False)},
		{"ha-status", HAStatus(false)},
		{"ha-status-verbose", HAStatus(true)},
		{"ha-config", HAConfig()},
		{"pveversion", Pveversion(false)},
		{"pveversion-verbose", Pveversion(true)},
	}
	var b bytes.Buffer
	for _, c := range cases {
		j, err := json.Marshal(c.argv)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s: %s\n", c.name, j)
	}
	checkGolden(t, "argv.golden", b.Bytes())
}
