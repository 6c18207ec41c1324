package pve

import (
	"reflect"
	"strings"
	"testing"
)

func TestVerifiers(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string // "" = ok; else the first ParamError as "param: msg"
	}{
		{"hostname ok", VerifyHostname("web01.example.com"), ""},
		{"hostname underscore", VerifyHostname("web_01"), "hostname: invalid format - value does not look like a valid DNS name"},
		{"hostname dash end", VerifyHostname("web-"), "hostname: invalid format - value does not look like a valid DNS name"},
		{"hostname long", VerifyHostname(strings.Repeat("a", 256)), "hostname: value may only be 255 characters long"},
		{"vmid ok", VerifyVMID("100"), ""},
		{"vmid small", VerifyVMID("99"), "vmid: invalid format - value does not look like a valid VM ID"},
		{"vmid text", VerifyVMID("abc"), "vmid: type check ('integer') failed - got 'abc'"},
		{"snap ok", VerifySnapshotName("pre-upgrade"), ""},
		{"snap digit", VerifySnapshotName("1x"), "snapname: invalid format - invalid configuration ID '1x'"},
		{"snap short", VerifySnapshotName("a"), "snapname: invalid format - invalid configuration ID 'a'"},
		{"snap long", VerifySnapshotName("a" + strings.Repeat("b", 40)), "snapname: value may only be 40 characters long"},
		{"storage ok", VerifyStorageID("storage", "local-lvm"), ""},
		{"storage bad", VerifyStorageID("storage", "-x"), "storage: invalid format - storage ID '-x' contains illegal characters"},
		{"memory", VerifyMemory(8), "memory: value must have a minimum value of 16"},
		{"password", VerifyPassword("abc"), "password: value must be at least 5 characters long"},
		{"description", VerifyDescription(strings.Repeat("x", 8193)), "description: value may only be 8192 characters long"},
	} {
		got := ""
		if tc.err != nil {
			got = tc.err.(ParamErrors)[0].String()
		}
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	if _, ok := ReservedSnapshotName("current"); !ok {
		t.Error("current not reserved")
	}
	if st, n, err := ParseVolumeID("volume", "local:vztmpl/x.tar.zst"); err != nil || st != "local" || n != "vztmpl/x.tar.zst" {
		t.Errorf("volume id: %q %q %v", st, n, err)
	}
	if _, _, err := ParseVolumeID("volume", "foo"); err == nil || err.(ParamErrors)[0].String() != "volume: invalid format - unable to parse volume ID 'foo'" {
		t.Errorf("volume id err = %v", err)
	}
}

func TestNormalizeTags(t *testing.T) {
	for in, want := range map[string]string{"web,Prod;web db": "db;prod;web", "": "", "a+b.c_d-e": "a+b.c_d-e"} {
		if got, err := NormalizeTags(in); err != nil || got != want {
			t.Errorf("NormalizeTags(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := NormalizeTags("ok,-bad"); err == nil || err.(ParamErrors)[0].String() != "tags: invalid format - invalid characters in tag" {
		t.Errorf("err = %v", err)
	}
}

func TestSectionAccessors(t *testing.T) {
	c, err := ParseConfig(readTestdata(t, "config_snapstate.conf"))
	if err != nil {
		t.Fatal(err)
	}
	nets, err := c.Nets()
	if err != nil || len(nets) != 1 || nets[0].IP != "10.0.0.5/24" || nets[0].Firewall != True {
		t.Errorf("nets = %+v %v", nets, err)
	}
	r, err := c.Rootfs()
	if err != nil || r.Volume != "local-zfs:subvol-100-disk-0" || !r.SizeSet || r.Size != 0 {
		t.Errorf("rootfs = %+v %v", r, err)
	}
	s := NewSection()
	s.Set("mp0", "local-lvm:vm-100-disk-1,mp=/data,size=32G")
	s.Set("mp07", "ignored")
	s.Set("mp1", "local-lvm:8")
	if _, err := s.Mounts(); err == nil {
		t.Error("mp1 without mp accepted")
	}
	s.Delete("mp1")
	s.Set("dev0", "/dev/null")
	mps, err := s.Mounts()
	if err != nil || len(mps) != 1 || mps[0].Size != 32<<30 {
		t.Errorf("mounts = %+v %v", mps, err)
	}
	devs, err := s.Devs()
	if err != nil || len(devs) != 1 {
		t.Errorf("devs = %+v %v", devs, err)
	}
	if f, err := s.Features(); f != nil || err != nil {
		t.Error("features on empty section")
	}
}

func TestParsePctPending(t *testing.T) {
	got, err := ParsePctPending([]byte("cur arch: amd64\ncur cores: 2\nnew cores: 4\ndel features: nesting=1\ncur description: a%3Ab%0A\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []PendingLine{{"cur", "arch", "amd64"}, {"cur", "cores", "2"}, {"new", "cores", "4"}, {"del", "features", "nesting=1"}, {"cur", "description", "a:b\n"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	if _, err := ParsePctPending([]byte("old x: 1\n")); err == nil {
		t.Error("bad op accepted")
	}
}

func TestUsageAndMAC(t *testing.T) {
	if u, ok := Usage("pvesm", "status"); !ok || u != "pvesm status  [OPTIONS]" {
		t.Errorf("usage = %q", u)
	}
	if _, ok := Usage("pct", "nosuch"); ok {
		t.Error("unknown usage found")
	}
	mac := MACWithPrefix("", [3]byte{0x5e, 0x0a, 0x91})
	if mac != "BC:24:11:5E:0A:91" || VerifyMAC(mac) != nil {
		t.Errorf("mac = %q", mac)
	}
}
