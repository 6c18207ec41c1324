package pve

import (
	"errors"
	"reflect"
	"testing"
)

func TestNetRender(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"bridge=vmbr0,name=eth0,ip=dhcp,hwaddr=BC:24:11:5E:0A:91,type=veth", "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:5E:0A:91,ip=dhcp,type=veth"},
		{"name=eth0,bridge=vmbr0,firewall=yes,gw=192.168.1.1,hwaddr=BC:24:11:5E:0A:91,ip=192.168.1.50/24,tag=20,type=veth",
			"name=eth0,bridge=vmbr0,firewall=1,gw=192.168.1.1,hwaddr=BC:24:11:5E:0A:91,ip=192.168.1.50/24,tag=20,type=veth"},
		{"name=eth1,ip6=fd00::5/64,gw6=fd00::1,mtu=9000,rate=12.5,trunks=10;20,link_down=off,host-managed=1",
			"name=eth1,gw6=fd00::1,host-managed=1,ip6=fd00::5/64,link_down=0,mtu=9000,rate=12.5,trunks=10;20"},
		{"name=eth0,ip6=auto,ip=manual", "name=eth0,ip=manual,ip6=auto"},
	} {
		n, err := ParseNet("net0", tc.in)
		if err != nil {
			t.Errorf("ParseNet(%q): %v", tc.in, err)
			continue
		}
		if got := n.String(); got != tc.want {
			t.Errorf("ParseNet(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
		n2, err := ParseNet("net0", n.String())
		if err != nil || !reflect.DeepEqual(n, n2) {
			t.Errorf("round trip of %q: %+v %v", tc.in, n2, err)
		}
	}
}

func TestNetErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ParamErrors
	}{
		{"name=eth0,ip=192.168.1.5", ParamErrors{
			{"net0", "invalid format - format error", true},
			{"net0.ip", "invalid format - value does not look like a valid ipv4 network configuration", true}}},
		{"name=eth0,ip=10.0.0.1/7", ParamErrors{
			{"net0", "invalid format - format error", true},
			{"net0.ip", "invalid format - value does not look like a valid ipv4 network configuration", true}}},
		{"name=eth0,ip6=fd00::1/129", ParamErrors{
			{"net0", "invalid format - format error", true},
			{"net0.ip6", "invalid format - value does not look like a valid ipv6 network configuration", true}}},
		{"name=eth0,hwaddr=01:24:11:5E:0A:91", ParamErrors{
			{"net0", "invalid format - format error", true},
			{"net0.hwaddr", "invalid format - value does not look like a valid unicast MAC address", true}}},
		{"name=eth0,tag=4095", ParamErrors{
			{"net0", "invalid format - format error", true},
			{"net0.tag", "value must have a maximum value of 4094", false}}},
		{"name=eth0,tag=0", ParamErrors{
			{"net0", "invalid format - format error", true},
			{"net0.tag", "value must have a minimum value of 1", false}}},
		{"name=eth0,mtu=abc", ParamErrors{
			{"net0", "invalid format - format error", true},
			{"net0.mtu", "type check ('integer') failed - got 'abc'", false}}},
		{"name=eth0,firewall=maybe", ParamErrors{
			{"net0", "invalid format - format error", true},
			{"net0.firewall", "type check ('boolean') failed - got 'maybe'", false}}},
		{"name=eth 0", ParamErrors{
			{"net0", "invalid format - format error", true},
			{"net0.name", "value does not match the regex pattern", false}}},
		{"bridge=vmbr0", ParamErrors{
			{"net0", "invalid format - format error", true},
			{"net0.name", "property is missing and it is not optional", false}}},
		{"name=eth0,type=macvlan", ParamErrors{
			{"net0", "invalid format - format error", true},
			{"net0.type", "value 'macvlan' does not have a value in the enumeration 'veth'", false}}},
		{"name=eth0,ip=dhcp,ip=manual", ParamErrors{{"net0", "invalid format - duplicate key in comma-separated list property: ip", true}}},
		{"name=eth0,vlan=5", ParamErrors{{"net0", "invalid format - invalid key in comma-separated list property: vlan", true}}},
		{"eth0", ParamErrors{{"net0", "invalid format - value without key, but schema does not define a default key", true}}},
		{"name=eth0,ip=", ParamErrors{{"net0", "invalid format - missing key in comma-separated list property", true}}},
	} {
		_, err := ParseNet("net0", tc.in)
		var pe ParamErrors
		if !errors.As(err, &pe) || !errors.Is(err, ErrParamVerification) {
			t.Errorf("ParseNet(%q) err = %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(pe, tc.want) {
			t.Errorf("ParseNet(%q) =\n %q\nwant\n %q", tc.in, pe, tc.want)
		}
	}
}

func TestParamErrorsStderr(t *testing.T) {
	const usage = "pct create <vmid> <ostemplate> [OPTIONS]"
	parsed := func(param, in string) ParamErrors {
		_, err := ParseNet(param, in)
		pe, ok := err.(ParamErrors)
		if !ok {
			t.Fatalf("ParseNet(%q) error %v is not ParamErrors", in, err)
		}
		return pe
	}
	for _, tc := range []struct {
		name string
		es   ParamErrors
		want string
	}{
		// §1.2: nested lines follow the outer one, blank lines pile up at the end.
		{"nested format error", parsed("net0", "name=eth0,ip=1.2.3.4"),
			"net0: invalid format - format error\n" +
				"net0.ip: invalid format - value does not look like a valid ipv4 network configuration\n\n\n"},
		{"nested check without newline", ParamErrors{
			{Param: "net0", Msg: "invalid format - format error", NL: true},
			{Param: "net0.tag", Msg: "value must have a maximum value of 4094"},
		}, "net0: invalid format - format error\nnet0.tag: value must have a maximum value of 4094\n\n"},
		{"two nested", ParamErrors{
			{Param: "net0", Msg: "invalid format - format error", NL: true},
			{Param: "net0.ip", Msg: "invalid format - value does not look like a valid ipv4 network configuration", NL: true},
			{Param: "net0.tag", Msg: "value must have a maximum value of 4094"},
		}, "net0: invalid format - format error\n" +
			"net0.ip: invalid format - value does not look like a valid ipv4 network configuration\n\n" +
			"net0.tag: value must have a maximum value of 4094\n\n"},
		{"format validator", ParamErrors{{Param: "hostname", Msg: "invalid format - value does not look like a valid DNS name", NL: true}},
			"hostname: invalid format - value does not look like a valid DNS name\n\n"},
		{"built-in check", ParamErrors{{Param: "memory", Msg: "value must have a minimum value of 16"}},
			"memory: value must have a minimum value of 16\n"},
		{"independent params", ParamErrors{
			{Param: "memory", Msg: "value must have a minimum value of 16"},
			{Param: "hostname", Msg: "invalid format - value does not look like a valid DNS name", NL: true},
		}, "memory: value must have a minimum value of 16\nhostname: invalid format - value does not look like a valid DNS name\n\n"},
	} {
		want := "400 Parameter verification failed.\n" + tc.want + usage + "\n"
		if got := tc.es.Stderr(usage); got != want {
			t.Errorf("%s: got\n%q\nwant\n%q", tc.name, got, want)
		}
	}
}

func TestMount(t *testing.T) {
	for _, tc := range []struct{ param, in, want string }{
		{"rootfs", "local-lvm:vm-100-disk-0,size=8G", "local-lvm:vm-100-disk-0,size=8G"},
		{"rootfs", "volume=local-lvm:8,acl=on,mountoptions=noatime;nodev", "local-lvm:8,acl=1,mountoptions=noatime;nodev"},
		{"rootfs", "local:100/subvol-100-disk-0.subvol,size=0", "local:100/subvol-100-disk-0.subvol,size=0T"},
		{"mp0", "local-lvm:vm-100-disk-1,size=32768M,mp=/data,backup=1", "local-lvm:vm-100-disk-1,mp=/data,backup=1,size=32G"},
		{"mp1", "/mnt/host/dir,mp=/data,ro=1,shared=1,replicate=0,keepattrs=1", "/mnt/host/dir,mp=/data,keepattrs=1,replicate=0,ro=1,shared=1"},
		{"mp2", "/dev/sdb1,mp=/mnt/x,size=1536K,quota=1", "/dev/sdb1,mp=/mnt/x,quota=1,size=1536K"},
		{"mp3", "local-lvm:1,mp=/x,size=1025", "local-lvm:1,mp=/x,size=1025"},
		{"mp4", "local-lvm:1,mp=/x,size=2GiB", "local-lvm:1,mp=/x,size=2G"},
		{"mp5", "local-lvm:1,mp=/x,size=1.5G", "local-lvm:1,mp=/x,size=1536M"},
	} {
		var m *Mount
		var err error
		if tc.param == "rootfs" {
			m, err = ParseRootfs(tc.in)
		} else {
			m, err = ParseMount(tc.param, tc.in)
		}
		if err != nil {
			t.Errorf("%s %q: %v", tc.param, tc.in, err)
			continue
		}
		if got := m.String(); got != tc.want {
			t.Errorf("%s %q: String() = %q, want %q", tc.param, tc.in, got, tc.want)
		}
	}
	m, _ := ParseRootfs("local-lvm:0.5")
	if st, g, ok := m.NewVolume(); !ok || st != "local-lvm" || g != 0.5 {
		t.Errorf("NewVolume = %q %v %v", st, g, ok)
	}
	m, _ = ParseRootfs("local-lvm:8G")
	if _, _, ok := m.NewVolume(); ok {
		t.Error("local-lvm:8G taken as new volume")
	}
}

func TestMountErrors(t *testing.T) {
	for _, tc := range []struct {
		param, in string
		want      ParamErrors
	}{
		{"mp0", "local-lvm:8,mp=/data/../etc", ParamErrors{
			{"mp0", "invalid format - format error", true},
			{"mp0.mp", "invalid format - /data/../etc contains illegal character sequences", true}}},
		{"mp0", "local-lvm:8", ParamErrors{
			{"mp0", "invalid format - format error", true},
			{"mp0.mp", "property is missing and it is not optional", false}}},
		{"rootfs", "local-lvm:8,mp=/x", ParamErrors{{"rootfs", "invalid format - invalid key in comma-separated list property: mp", true}}},
		{"rootfs", "local-lvm:8,size=8X", ParamErrors{
			{"rootfs", "invalid format - format error", true},
			{"rootfs.size", "invalid format - value '8X' does not look like a valid disk size", true}}},
		{"rootfs", "a,b", ParamErrors{{"rootfs", "invalid format - duplicate key in comma-separated list property: volume", true}}},
	} {
		var err error
		if tc.param == "rootfs" {
			_, err = ParseRootfs(tc.in)
		} else {
			_, err = ParseMount(tc.param, tc.in)
		}
		var pe ParamErrors
		if !errors.As(err, &pe) || !reflect.DeepEqual(pe, tc.want) {
			t.Errorf("%s %q: err = %q, want %q", tc.param, tc.in, err, tc.want)
		}
	}
}

func TestFeaturesStartupDev(t *testing.T) {
	f, err := ParseFeatures("nesting=1,keyctl=1,fuse=1,mknod=1,force_rw_sys=1,mount=nfs;cifs")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.String(); got != "force_rw_sys=1,fuse=1,keyctl=1,mknod=1,mount=nfs;cifs,nesting=1" {
		t.Errorf("features = %q", got)
	}
	if _, err := ParseFeatures("mount=nfs,cifs"); err == nil {
		t.Error("features mount=nfs,cifs accepted")
	}
	if _, err := ParseFeatures("mount=nfs$"); err == nil {
		t.Error("features mount=nfs$ accepted")
	}
	for in, want := range map[string]string{"1": "order=1", "order=1,up=30,down=60": "order=1,up=30,down=60", "down=5,up=3": "up=3,down=5"} {
		st, err := ParseStartup(in)
		if err != nil || st.String() != want {
			t.Errorf("startup %q = %v %v", in, st, err)
		}
	}
	for _, in := range []string{"", "0", "order=x", "up=1,foo=2"} {
		_, err := ParseStartup(in)
		want := ParamErrors{{"startup", "invalid format - unable to parse startup options", true}}
		if !reflect.DeepEqual(err, want) {
			t.Errorf("startup %q err = %v", in, err)
		}
	}
	d, err := ParseDev("dev0", "/dev/ttyUSB0,gid=20,mode=0660")
	if err != nil || d.String() != "/dev/ttyUSB0,gid=20,mode=0660" || !d.HasGID || d.HasUID {
		t.Errorf("dev = %+v %v", d, err)
	}
	d, err = ParseDev("dev1", "path=/dev/null,uid=0,deny-write=yes")
	if err != nil || d.String() != "/dev/null,deny-write=1,uid=0" {
		t.Errorf("dev = %+v %v", d, err)
	}
	for in, want := range map[string]ParamErrors{
		"/tmp/x": {{"dev0", "invalid format - format error", true}, {"dev0.path", "invalid format - /tmp/x is not a valid device path", true}},
		"/dev/../etc/passwd": {{"dev0", "invalid format - format error", true},
			{"dev0.path", "invalid format - /dev/../etc/passwd is not a valid device path", true}},
		"/dev/x,mode=660": {{"dev0", "invalid format - format error", true}, {"dev0.mode", "value does not match the regex pattern", false}},
	} {
		_, err := ParseDev("dev0", in)
		if !reflect.DeepEqual(err, want) {
			t.Errorf("dev %q err = %q", in, err)
		}
	}
}

func TestSizes(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "1K": 1024, "8G": 8 << 30, "8GiB": 8 << 30, "1.5T": 3 << 39, "0.5M": 512 << 10} {
		if got, ok := ParseSize(in); !ok || got != want {
			t.Errorf("ParseSize(%q) = %d %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "G", "-1", "1.G", "8g", "8GB", "1e3", "99999999999T"} {
		if _, ok := ParseSize(in); ok {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
	for in, want := range map[int64]string{0: "0T", 1: "1", 1023: "1023", 1024: "1K", 1536 << 10: "1536K", 8 << 30: "8G", 1 << 40: "1T", 3 << 39: "1536G"} {
		if got := FormatSize(in); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", in, got, want)
		}
	}
	if b, rel, ok := ParseResizeSize("+2G"); !ok || !rel || b != 2<<30 {
		t.Errorf("resize +2G = %d %v %v", b, rel, ok)
	}
	if b, rel, ok := ParseResizeSize("1000"); !ok || rel || b != 1000 {
		t.Errorf("resize 1000 = %d %v %v", b, rel, ok)
	}
	if _, _, ok := ParseResizeSize("2GiB"); ok {
		t.Error("resize 2GiB accepted")
	}
	for in, ok := range map[string]bool{"local-lvm:8": true, "local-lvm:0.5": true, "local-lvm:8G": false, "8": false, "a b:1": false} {
		if _, _, got := ParseNewVolume(in); got != ok {
			t.Errorf("ParseNewVolume(%q) = %v", in, got)
		}
	}
}

func TestParsePropertyStringGeneric(t *testing.T) {
	m, err := ParsePropertyString("", MountFormat, " ,local:1,mp=/x,acl=TRUE,,")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, map[string]string{"volume": "local:1", "mp": "/x", "acl": "1"}) {
		t.Errorf("m = %v", m)
	}
	if got := PrintPropertyString(MountFormat, map[string]string{"zz": "1", "mp": "/x", "volume": "v", "acl": "0"}); got != "v,mp=/x,acl=0,zz=1" {
		t.Errorf("print = %q", got)
	}
}
