package lxcrt

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lxcplan/lxcplan/engine/internal/golden"
	"github.com/lxcplan/lxcplan/engine/pvesim"
)

var update = flag.Bool("update", false, "rewrite golden files")

// checkGolden compares got with testdata/<name>, rewriting it under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), []byte(got))
}

var v1Host = hostFacts{CgroupV1: true, MemSwap: true, CPUs: 2}
var v2Host = hostFacts{CPUs: 8}

func TestConfigText(t *testing.T) {
	tests := []struct {
		name string
		spec pvesim.StartSpec
		host hostFacts
	}{
		{"minimal-v1", pvesim.StartSpec{VMID: 100, RootDir: "/vz/images/100/subvol-100-disk-0", Unprivileged: true,
			Nets: []pvesim.NetSpec{{Name: "eth0", IP: "dhcp"}}}, v1Host},
		{"full-v1", pvesim.StartSpec{VMID: 210, Hostname: "media-db", RootDir: "/vz/r", Unprivileged: true,
			Memory: 2048, Swap: 512, Cores: 4, Nesting: true, Features: "nesting=1,fuse=1,keyctl=1",
			Nets: []pvesim.NetSpec{
				{Name: "eth0", Bridge: "vmbr0", HWAddr: "bc:24:11:00:00:01", IP: "10.20.0.50/24", GW: "10.20.0.1", MTU: 1400},
				{Name: "eth1", Bridge: "vmbr1", IP: "manual"},
			},
			Mounts:  []pvesim.MountSpec{{Source: "/tank/photos", Target: "/photos", ReadOnly: true}, {Source: "/vz/images/210/subvol-210-disk-1", Target: "/data/"}},
			Devices: []pvesim.DeviceSpec{{Path: "/dev/null", Mode: "0666"}},
			RawLXC:  []string{"lxc.cgroup2.devices.allow: c 226:* rwm", "lxc.mount.entry = /dev/dri dev/dri none bind,optional,create=dir"}}, v1Host},
		{"privileged-v2", pvesim.StartSpec{VMID: 101, Hostname: "web", RootDir: "/vz/p", Memory: 512, Cores: 1,
			RawLXC: []string{"lxc.cgroup.devices.allow = c 10:200 rwm"}}, v2Host},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configText(tt.spec, "pve1", "vmbr0", tt.host)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "config-"+tt.name+".txt", got)
		})
	}
}

func TestConfigTextRejects(t *testing.T) {
	base := pvesim.StartSpec{VMID: 100, RootDir: "/r"}
	tests := []struct {
		name string
		mod  func(*pvesim.StartSpec)
	}{
		{"no vmid", func(s *pvesim.StartSpec) { s.VMID = 0 }},
		{"relative rootfs", func(s *pvesim.StartSpec) { s.RootDir = "r" }},
		{"relative mount", func(s *pvesim.StartSpec) { s.Mounts = []pvesim.MountSpec{{Source: "x", Target: "/y"}} }},
		{"space in mount", func(s *pvesim.StartSpec) { s.Mounts = []pvesim.MountSpec{{Source: "/a b", Target: "/y"}} }},
		{"raw not lxc", func(s *pvesim.StartSpec) { s.RawLXC = []string{"foo = bar"} }},
		{"raw garbage", func(s *pvesim.StartSpec) { s.RawLXC = []string{"lxc.x"} }},
		{"device relative", func(s *pvesim.StartSpec) { s.Devices = []pvesim.DeviceSpec{{Path: "dev/x"}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			tt.mod(&s)
			if _, err := configText(s, "pve1", "vmbr0", v1Host); !errors.Is(err, ErrSpec) {
				t.Fatalf("err = %v, want ErrSpec", err)
			}
		})
	}
}

func TestGuestFiles(t *testing.T) {
	s := pvesim.StartSpec{VMID: 200, Hostname: "app", Searchdomain: "lab.example", Nameserver: "1.1.1.1 9.9.9.9",
		Nets: []pvesim.NetSpec{{Name: "eth0", IP: "10.77.0.50/24", GW: "10.77.0.1", IP6: "auto"}, {Name: "eth1", IP: "dhcp", IP6: "dhcp", MTU: 9000}}}
	var b strings.Builder
	for _, f := range guestFiles(s, "10.77.0.1", "http://10.77.0.1:3142") {
		b.WriteString("== " + f.Path + "\n" + f.Content)
	}
	checkGolden(t, "guest-static.txt", b.String())
	b.Reset()
	for _, f := range guestFiles(pvesim.StartSpec{VMID: 201, Nets: []pvesim.NetSpec{{IP: "dhcp"}}}, "10.77.0.1", "") {
		b.WriteString("== " + f.Path + "\n" + f.Content)
	}
	checkGolden(t, "guest-dhcp.txt", b.String())
}

func TestMergePVESection(t *testing.T) {
	sec := pveBegin + "\n1.2.3.4 x\n" + pveEnd + "\n"
	tests := []struct{ name, old, want string }{
		{"append", "127.0.0.1 localhost\n", "127.0.0.1 localhost\n" + sec},
		{"append no newline", "127.0.0.1 localhost", "127.0.0.1 localhost\n" + sec},
		{"replace", "a\n" + pveBegin + "\nold\n" + pveEnd + "\nb\n", "a\n" + sec + "b\n"},
		{"unterminated", "a\n" + pveBegin + "\nold\n", "a\n" + pveBegin + "\nold\n" + sec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mergePVESection(tt.old, sec); got != tt.want {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
	if got := mergePVESection("", sec); !strings.Contains(got, "localhost") || !strings.HasSuffix(got, sec) {
		t.Errorf("empty: %q", got)
	}
}

func TestWriteGuestFiles(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A container may point its files anywhere; the host write must stay
	// inside the rootfs.
	if err := os.Symlink(filepath.Join(outside, "victim"), filepath.Join(root, "etc/resolv.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/.pve-ignore.hostname"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	files := guestFiles(pvesim.StartSpec{VMID: 1, Hostname: "h", Nets: []pvesim.NetSpec{{Name: "eth0", IP: "dhcp"}}}, "10.0.0.1", "")
	uid := os.Getuid()
	for i := 0; i < 2; i++ { // twice: the second start replaces, not appends
		if err := writeGuestFiles(root, files, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "victim")); !os.IsNotExist(err) {
		t.Error("write followed a symlink out of the rootfs")
	}
	if fi, err := os.Lstat(filepath.Join(root, "etc/resolv.conf")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("resolv.conf not a regular file: %v", err)
	}
	hosts, _ := os.ReadFile(filepath.Join(root, "etc/hosts"))
	if strings.Count(string(hosts), pveBegin) != 1 || !strings.HasPrefix(string(hosts), "127.0.0.1 localhost\n") {
		t.Errorf("hosts: %q", hosts)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/hostname")); !os.IsNotExist(err) {
		t.Error(".pve-ignore.hostname not honoured")
	}
	if _, err := os.Stat(filepath.Join(root, "etc/systemd/network/eth0.network")); err != nil {
		t.Error(err)
	}
	// An absolute symlinked directory must not redirect writes either.
	root2 := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root2, "etc")); err != nil {
		t.Fatal(err)
	}
	if err := writeGuestFiles(root2, files, uid, uid); err == nil {
		if ents, _ := os.ReadDir(outside); len(ents) > 0 {
			t.Error("write escaped through an absolute etc symlink")
		}
	}
}

func TestParseIPOutput(t *testing.T) {
	in := `1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
2: eth0@if12: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\    link/ether BC:24:11:5a:e5:b4 brd ff:ff:ff:ff:ff:ff link-netnsid 0
1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever
1: lo    inet6 ::1/128 scope host \       valid_lft forever preferred_lft forever
2: eth0    inet 10.77.0.240/24 metric 1024 brd 10.77.0.255 scope global dynamic eth0\       valid_lft 43180sec preferred_lft 43180sec
2: eth0    inet6 fe80::be24:11ff:fe5a:e5b4/64 scope link \       valid_lft forever preferred_lft forever
2: eth0    inet6 fd00::5/64 scope global \       valid_lft forever preferred_lft forever
2: eth0    inet 10.77.0.9/24 scope global secondary eth0
garbage
`
	got := parseIPOutput(in)
	want := []pvesim.Iface{
		{Name: "lo", HWAddr: "00:00:00:00:00:00", Inet: "127.0.0.1/8", Inet6: "::1/128"},
		{Name: "eth0", HWAddr: "bc:24:11:5a:e5:b4", Inet: "10.77.0.240/24", Inet6: "fd00::5/64"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("iface %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func FuzzParseIPOutput(f *testing.F) {
	f.Add("2: eth0    inet 10.0.0.1/24 scope global eth0\n")
	f.Add("1: lo: <LOOPBACK> mtu 1\\ link/loopback 00:00 brd 00\n")
	f.Add(": : : :\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, it := range parseIPOutput(s) {
			if it.Name == "" && it.Inet == "" && it.HWAddr == "" && it.Inet6 == "" {
				continue
			}
		}
	})
}

func FuzzMergePVESection(f *testing.F) {
	f.Add("a\n" + pveBegin + "\nx\n" + pveEnd + "\nb")
	f.Add(pveEnd + pveBegin)
	f.Fuzz(func(t *testing.T, old string) {
		sec := pveBegin + "\nnew\n" + pveEnd + "\n"
		got := mergePVESection(old, sec)
		if !strings.Contains(got, sec) {
			t.Fatalf("section missing from %q", got)
		}
	})
}

func TestTranslateCgroupKey(t *testing.T) {
	tests := []struct {
		k    string
		v1   bool
		want string
	}{
		{"lxc.cgroup2.devices.allow", true, "lxc.cgroup.devices.allow"},
		{"lxc.cgroup2.devices.deny", true, "lxc.cgroup.devices.deny"},
		{"lxc.cgroup.devices.allow", false, "lxc.cgroup2.devices.allow"},
		{"lxc.cgroup2.devices.allow", false, "lxc.cgroup2.devices.allow"},
		{"lxc.cgroup2.memory.max", true, "lxc.cgroup2.memory.max"},
	}
	for _, tt := range tests {
		if got := translateCgroupKey(tt.k, tt.v1); got != tt.want {
			t.Errorf("translate(%s, v1=%v) = %s, want %s", tt.k, tt.v1, got, tt.want)
		}
	}
}

func TestShiftIDs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "suid"), nil, 0o755))
	must(os.Chmod(filepath.Join(dir, "suid"), 0o4755|os.ModeSetuid))
	must(syscall.Chmod(filepath.Join(dir, "suid"), 0o4755))
	must(os.Link(filepath.Join(dir, "suid"), filepath.Join(dir, "hardlink")))
	must(os.Symlink("suid", filepath.Join(dir, "sym")))
	must(os.WriteFile(filepath.Join(dir, "nobody"), nil, 0o644))
	must(os.Lchown(filepath.Join(dir, "nobody"), 65534, 65534))
	for i := 0; i < 2; i++ {
		must(shiftIDs(dir, IDShift))
	}
	check := func(name string, uid uint32, mode uint32) {
		t.Helper()
		var st syscall.Stat_t
		must(syscall.Lstat(filepath.Join(dir, name), &st))
		if st.Uid != uid || st.Gid != uid {
			t.Errorf("%s owner %d:%d, want %d", name, st.Uid, st.Gid, uid)
		}
		if mode != 0 && st.Mode&0o7777 != mode {
			t.Errorf("%s mode %o, want %o", name, st.Mode&0o7777, mode)
		}
	}
	check("suid", IDShift, 0o4755)
	check("sym", IDShift, 0)
	check("nobody", IDShift+65534, 0o644)
	check(".", IDShift, 0)
}

func TestDefaultHWAddr(t *testing.T) {
	a := DefaultHWAddr("pve1", 100, "eth0")
	if a != DefaultHWAddr("pve1", 100, "eth0") || a == DefaultHWAddr("pve1", 100, "eth1") {
		t.Fatal("not stable or not distinct")
	}
	if !strings.HasPrefix(a, "BC:24:11:") || len(a) != 17 {
		t.Fatalf("%q", a)
	}
}

func TestUnixMode(t *testing.T) {
	tests := []struct {
		m    os.FileMode
		want uint32
	}{
		{0o644, 0o644},
		{0o755 | os.ModeSetuid, 0o4755},
		{0o777 | os.ModeSticky | os.ModeDir, 0o1777},
		{0o2750&^0o2000 | os.ModeSetgid, 0o2750},
	}
	for _, tt := range tests {
		if got := unixMode(tt.m); got != tt.want {
			t.Errorf("unixMode(%v) = %o, want %o", tt.m, got, tt.want)
		}
	}
}
