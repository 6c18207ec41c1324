package pve

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		stderr string
		want   CmdError // Stderr and Message are not compared
		is     error
	}{
		{"CT 100 already exists on node 'pve'\n", CmdError{Kind: KindAlreadyExists, VMID: 100, Node: "pve"}, ErrAlreadyExists},
		{"VM 100 already exists on node 'pve2'\n", CmdError{Kind: KindAlreadyExists, VMID: 100, Node: "pve2"}, ErrAlreadyExists},
		{"unable to create CT 100 - CT 100 already exists on node 'pve'\n", CmdError{Kind: KindAlreadyExists, VMID: 100, Node: "pve"}, ErrAlreadyExists},
		{"unable to create CT 100 - close (rename) atomic file '/etc/pve/nodes/pve2/lxc/100.conf' failed: File exists\n", CmdError{Kind: KindAlreadyExists, VMID: 100}, ErrAlreadyExists},
		{"Configuration file 'nodes/pve/lxc/100.conf' does not exist\n", CmdError{Kind: KindConfigMissing, VMID: 100, Node: "pve"}, ErrConfigMissing},
		{"container '100' not running!\n", CmdError{Kind: KindNotRunning, VMID: 100}, ErrNotRunning},
		{"CT 100 already running\n", CmdError{Kind: KindAlreadyRunning, VMID: 100}, ErrAlreadyRunning},
		{"CT 100 not running\n", CmdError{Kind: KindNotRunning, VMID: 100}, ErrNotRunning},
		{"VM 100 not running\n", CmdError{Kind: KindNotRunning, VMID: 100}, ErrNotRunning},
		{"can only push files to a running CT\n", CmdError{Kind: KindNotRunning}, ErrNotRunning},
		{"can only pull files from a running VM at /usr/share/perl5/PVE/CLI/pct.pm line 321.\n", CmdError{Kind: KindNotRunning}, ErrNotRunning},
		{"storage 'foo' does not exist\n", CmdError{Kind: KindNoSuchStorage, Storage: "foo"}, ErrNoSuchStorage},
		{"storage 'foo' is disabled\n", CmdError{Kind: KindStorageUnavailable, Storage: "foo"}, ErrStorageUnavailable},
		{"storage 'foo' is not available on node 'pve'\n", CmdError{Kind: KindStorageUnavailable, Storage: "foo", Node: "pve"}, ErrStorageUnavailable},
		{"400 Parameter verification failed.\nstorage: storage 'local' does not support container directories\npct create <vmid> <ostemplate> [OPTIONS]\n",
			CmdError{Kind: KindNotRootdirCapable, Storage: "local", Params: map[string]string{"storage": "storage 'local' does not support container directories"}}, ErrNotRootdirCapable},
		{"storage 'local' does not allow content type 'rootdir' (Container)\n", CmdError{Kind: KindNotRootdirCapable, Storage: "local"}, ErrNotRootdirCapable},
		{"unable to use volume local:iso/x.iso - content type needs to be 'vztmpl'\n", CmdError{Kind: KindTemplateMissing}, ErrTemplateMissing},
		{"can't find file 'local:vztmpl/x.tar.zst'\nunable to create CT 100 - can't find file 'local:vztmpl/x.tar.zst'\n", CmdError{Kind: KindTemplateMissing}, ErrTemplateMissing},
		{"400 Parameter verification failed.\ntemplate: no such template\npveam download <storage> <template>\n",
			CmdError{Kind: KindTemplateMissing, Params: map[string]string{"template": "no such template"}}, ErrTemplateMissing},
		{"400 Parameter verification failed.\nhostname: invalid format - value does not look like a valid DNS name\n\npct create <vmid> <ostemplate> [OPTIONS]\n",
			CmdError{Kind: KindParamVerification, Params: map[string]string{"hostname": "invalid format - value does not look like a valid DNS name"}}, ErrParamVerification},
		{"400 Parameter verification failed.\nnet0: invalid format - format error\nnet0.hwaddr: invalid format - value does not look like a valid unicast MAC address\n\n\npct create <vmid> <ostemplate> [OPTIONS]\n",
			CmdError{Kind: KindParamVerification, Params: map[string]string{"net0": "invalid format - format error", "net0.hwaddr": "invalid format - value does not look like a valid unicast MAC address"}}, ErrParamVerification},
		{"400 Parameter verification failed.\nmemory: value must have a minimum value of 16\npct set <vmid> [OPTIONS]\n",
			CmdError{Kind: KindParamVerification, Params: map[string]string{"memory": "value must have a minimum value of 16"}}, ErrParamVerification},
		{"400 Parameter verification failed.\nstorage: No such storage.\npvesm status  [OPTIONS]\n",
			CmdError{Kind: KindNoSuchStorage, Params: map[string]string{"storage": "No such storage."}}, ErrNoSuchStorage},
		{"400 Parameter verification failed.\nvmid: VM 150 already exists\npvesh get <api_path> [OPTIONS] [FORMAT_OPTIONS]\n",
			CmdError{Kind: KindAlreadyExists, VMID: 150, Params: map[string]string{"vmid": "VM 150 already exists"}}, ErrAlreadyExists},
		{"CT is locked (backup)\n", CmdError{Kind: KindLocked, Lock: "backup"}, ErrLocked},
		{"trying to acquire lock...\ncan't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout\n", CmdError{Kind: KindFlockTimeout, VMID: 100}, ErrFlockTimeout},
		{"unable to create CT 100 - can't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout\n", CmdError{Kind: KindFlockTimeout, VMID: 100}, ErrFlockTimeout},
		{"Failed to obtain guest migration lock - replication running?\n", CmdError{Kind: KindFlockTimeout}, ErrFlockTimeout},
		{"can't remove CT 100 - protection mode enabled\n", CmdError{Kind: KindProtection}, ErrProtection},
		{"can't update CT 100 drive 'mp0' - protection mode enabled\n", CmdError{Kind: KindProtection}, ErrProtection},
		{"unable to destroy CT 100 - container is running\n", CmdError{Kind: KindRunning, VMID: 100}, ErrRunning},
		{"cluster not ready - no quorum?\n", CmdError{Kind: KindNoQuorum}, ErrNoQuorum},
		{"403 Permission check failed (pool 'nosuch' does not exist)\n", CmdError{Kind: KindPermission}, ErrPermission},
		{"please run as root\n", CmdError{Kind: KindPermission}, ErrPermission},
		{"Unknown option: c\n400 unable to parse option\npct exec <vmid> [<extra-args>] [OPTIONS]\n", CmdError{Kind: KindUsage}, ErrUsage},
		{"ERROR: unknown command 'pct foo'\nUSAGE: pct <COMMAND> [ARGS] [OPTIONS]\n       pct list\n", CmdError{Kind: KindUsage}, ErrUsage},
		{"snapshot name 'pre' already used\n", CmdError{Kind: KindSnapshotExists, Snapshot: "pre"}, ErrSnapshotExists},
		{"snapshot 'x' does not exist\n", CmdError{Kind: KindSnapshotMissing, Snapshot: "x"}, ErrSnapshotMissing},
		{"snapshot feature is not available\n", CmdError{Kind: KindUnsupported}, ErrUnsupported},
		{"disk is already at specified size\n", CmdError{Kind: KindSizeUnchanged}, ErrSizeUnchanged},
		{"unable to shrink disk size\n", CmdError{Kind: KindCannotShrink}, ErrCannotShrink},
		{"lxc-start: 100: ../src/lxc/start.c: 1234 failed\nstartup for container '100' failed\n", CmdError{Kind: KindStartFailed, VMID: 100}, ErrStartFailed},
		{"command 'lxc-stop -n 100 --nokill --timeout 60' failed: got timeout\ncontainer did not stop\n", CmdError{Kind: KindShutdownTimeout}, ErrShutdownTimeout},
		{"something odd happened at /usr/share/perl5/PVE/LXC.pm line 12.\n", CmdError{Kind: KindUnknown}, nil},
		{"", CmdError{Kind: KindUnknown}, nil},
	} {
		got := Classify(tc.stderr)
		if got.Stderr != tc.stderr {
			t.Errorf("%q: Stderr not kept", tc.stderr)
		}
		cmp := *got
		cmp.Stderr, cmp.Message = "", ""
		if !reflect.DeepEqual(cmp, tc.want) {
			t.Errorf("Classify(%q) =\n %+v\nwant\n %+v", tc.stderr, cmp, tc.want)
		}
		if tc.is != nil && !errors.Is(fmt.Errorf("pct x 100 on pve: %w", got), tc.is) {
			t.Errorf("Classify(%q): errors.Is(%v) false", tc.stderr, tc.is)
		}
		if got.Error() == "" {
			t.Errorf("empty Error()")
		}
	}
	if m := Classify("something odd happened at /usr/share/perl5/PVE/LXC.pm line 12.\n").Message; m != "something odd happened" {
		t.Errorf("perl suffix not stripped: %q", m)
	}
}

func TestIsTransient(t *testing.T) {
	for stderr, want := range map[string]bool{
		"CT is locked (backup)\n":          true,
		"CT is locked (snapshot)\n":        true,
		"CT is locked (create)\n":          false,
		"CT is locked (mounted)\n":         false,
		"CT is locked (destroyed)\n":       false,
		"cluster not ready - no quorum?\n": true,
		"can't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout\n": true,
		"CT 100 already exists on node 'pve'\n":                               false,
		"storage 'foo' does not exist\n":                                      false,
	} {
		if got := IsTransient(fmt.Errorf("wrapped: %w", Classify(stderr))); got != want {
			t.Errorf("IsTransient(%q) = %v", stderr, got)
		}
	}
	if !IsTransient(fmt.Errorf("observe: %w", ErrStatusUnknown)) || IsTransient(errors.New("x")) || IsTransient(nil) {
		t.Error("IsTransient on plain errors")
	}
}

func TestLiesAboutExitCode(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want bool
	}{
		{PctPush(100, "a", "b", FileOptions{}), true},
		{PctPull(100, "a", "b", FileOptions{}), true},
		{PctResize(100, "rootfs", "+1G"), true},
		{PctTemplate(100), true},
		{PveamDownload("local", "x"), true},
		{PveamUpdate(), true},
		{[]string{"/usr/sbin/pct", "push", "100", "a", "b"}, true},
		{PctStart(100, StartOptions{}), false},
		{PctCreate(100, "x", nil), false},
		{PveamList("local"), false},
		{[]string{"pct"}, false},
		{nil, false},
	} {
		if got := LiesAboutExitCode(tc.argv); got != tc.want {
			t.Errorf("LiesAboutExitCode(%q) = %v", tc.argv, got)
		}
	}
}

func TestCheckResult(t *testing.T) {
	push := PctPush(100, "/tmp/f", "/etc/x", FileOptions{})
	for _, tc := range []struct {
		name           string
		argv           []string
		code           int
		stdout, stderr string
		kind           ErrKind
		ok, task       bool
	}{
		{"push ok", push, 0, "", "", 0, true, false},
		{"push ok with warnings", push, 0, "WARN: x\n", "Task finished with 1 warning(s)!\n", 0, true, false},
		{"push hidden failure", push, 0, "", "failed to create file: /etc/x/y: No such file or directory\n", KindUnknown, false, true},
		{"push pre-task failure", push, 255, "", "can only push files to a running CT\n", KindNotRunning, false, false},
		{"resize hidden lock", PctResize(100, "rootfs", "+1G"), 0, "", "CT is locked (backup)\n", KindLocked, false, true},
		{"resize same size", PctResize(100, "rootfs", "8G"), 255, "", "disk is already at specified size\n", KindSizeUnchanged, false, false},
		{"download hidden failure", PveamDownload("local", "x"), 0, "downloading https://x to /var/lib/vz/template/cache/x\n", "download failed: 404 Not Found\n", KindUnknown, false, true},
		{"update ok", PveamUpdate(), 0, "update successful\n", "", 0, true, false},
		{"update failed", PveamUpdate(), 0, "", "update failed - see /var/log/pveam.log for details\n", KindUnknown, false, true},
		{"start ok", PctStart(100, StartOptions{}), 0, "", "ignored noise\n", 0, true, false},
		{"start failed", PctStart(100, StartOptions{}), 255, "", "CT 100 already running\n", KindAlreadyRunning, false, false},
	} {
		err := CheckResult(tc.argv, tc.code, []byte(tc.stdout), []byte(tc.stderr))
		if tc.ok {
			if err != nil {
				t.Errorf("%s: err = %v", tc.name, err)
			}
			continue
		}
		var ce *CmdError
		if !errors.As(err, &ce) || ce.Kind != tc.kind || ce.TaskFailed != tc.task || errors.Is(err, ErrTaskFailed) != tc.task {
			t.Errorf("%s: err = %#v", tc.name, err)
		}
	}
}
