package plan

import (
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/pve"
)

// TestCanonicalForms checks that live values PVE writes differently from
// what lxcplan sends compare equal, and real differences do not.
func TestCanonicalForms(t *testing.T) {
	c := ctr("db", func(c *model.Container) {
		c.Tags = []string{"Web", "prod"}
		c.Startup = model.Startup{Order: pve.Int(1)}
		c.Features = model.Features{Nesting: true, Keyctl: true, Mount: []string{"nfs", "cifs"}}
		c.Mounts = []model.Mount{{Storage: "local-lvm", Size: 0.5, Path: "/data", Backup: boolp(true)}}
		c.Nameserver = "1.1.1.1,8.8.8.8"
	})
	desired := DesiredConfig(c, testStack)
	cases := []struct {
		key, live string
		same      bool
	}{
		{"tags", "prod;media;lxcplan;web", true},
		{"tags", "lxcplan media prod web", true},
		{"tags", "lxcplan;media;prod", false},
		{"startup", "1", true},
		{"startup", "order=1,up=5", false},
		{"features", "keyctl=1,nesting=1,mount=cifs;nfs", true},
		{"features", "mount=nfs;cifs,nesting=1,keyctl=1,fuse=0", true},
		{"features", "nesting=1", false},
		{"net0", "name=eth0,bridge=vmbr0,hwaddr=bc:24:11:5e:0a:91,ip=dhcp,type=veth", true},
		{"net0", "name=eth0,bridge=vmbr0,firewall=0,ip=dhcp,type=veth", true},
		{"net0", "name=eth0,bridge=vmbr1,ip=dhcp,type=veth", false},
		{"mp0", "local-lvm:vm-210-disk-1,mp=/data,backup=1,size=512M", true},
		{"mp0", "local-lvm:vm-210-disk-1,mp=/data,size=512M", false},
		{"mp0", "fast:subvol-210-disk-1,mp=/data,backup=1,size=512M", false},
		{"nameserver", "1.1.1.1 8.8.8.8", true},
		{"onboot", "0", true},
		{"onboot", "yes", false},
	}
	for _, tc := range cases {
		sec := pve.NewSection()
		sec.Set(tc.key, tc.live)
		live := CanonLive(sec, desired)
		if got := live.Canon[tc.key] == desired[tc.key].Canon; got != tc.same {
			t.Errorf("%s: live %q → %q, desired %q: same=%v", tc.key, tc.live, live.Canon[tc.key], desired[tc.key].Canon, got)
		}
	}
	sec := pve.NewSection()
	sec.Set("mp0", "local-lvm:vm-210-disk-1,mp=/data,backup=1,size=512M")
	sec.Set("rootfs", "local-lvm:vm-210-disk-0,size=4G")
	live := CanonLive(sec, desired)
	if live.Size["mp0"] != desired["mp0"].Size || live.Size["rootfs"] != desired["rootfs"].Size || live.RootStorage != "local-lvm" {
		t.Errorf("sizes %v root %q", live.Size, live.RootStorage)
	}
	// Defaults PVE applies when a key is absent.
	live = CanonLive(pve.NewSection(), desired)
	if live.Canon["memory"] != "512" || live.Canon["swap"] != "512" || live.Canon["onboot"] != "0" {
		t.Errorf("defaults %v", live.Canon)
	}
}

func TestCreateOptionsArgv(t *testing.T) {
	c := ctr("db", func(c *model.Container) {
		c.VMID = 210
		c.Network.IP, c.Network.GW, c.Network.VLAN = "10.20.0.50/24", "10.20.0.1", 20
		c.Mounts = []model.Mount{{HostPath: "/tank", Path: "/tank", ReadOnly: true}, {Storage: "local-lvm", Size: 8, Path: "/data"}}
		c.GPU = "intel"
	})
	argv := pve.PctCreate(210, "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", CreateOptions(c, testStack, "x"))
	got := strings.Join(argv, " ")
	for _, want := range []string{
		"--rootfs local-lvm:4", "--mp0 /tank,mp=/tank,ro=1", "--mp1 local-lvm:8,mp=/data",
		"--net0 name=eth0,bridge=vmbr0,gw=10.20.0.1,ip=10.20.0.50/24,tag=20",
		"--dev0 /dev/dri/card0,gid=44", "--dev1 /dev/dri/renderD128,gid=104",
		"--tags lxcplan;media", "--unprivileged 1", "--arch amd64", "--ostype debian", "--features nesting=1",
		"--hostname db", "--memory 512", "--swap 512", "--onboot 0", "--description x",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("argv lacks %q:\n%s", want, got)
		}
	}
}

func TestTemplateResolution(t *testing.T) {
	c := ctr("db")
	h := testHost("pve1")
	cat := []pve.AvailableTemplate{
		{Section: "system", Template: "debian-12-standard_12.12-1_amd64.tar.zst"},
		{Section: "system", Template: "debian-12-standard_12.2-1_amd64.tar.zst"},
		{Section: "system", Template: "debian-12-standard_12.12-1_arm64.tar.zst", Arch: "arm64"},
		{Section: "system", Template: "debian-13-standard_13.1-1_amd64.tar.zst"},
	}
	tp := resolveTemplate(c, h, cat)
	if tp.Status != TemplateDownload || tp.VolID != "local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst" {
		t.Errorf("newest from catalog: %+v", tp)
	}
	tp = resolveTemplate(c, h, nil)
	if tp.Status != TemplatePresent || tp.VolID != "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst" {
		t.Errorf("local, no catalog: %+v", tp)
	}
	h.Templates = nil
	if tp = resolveTemplate(c, h, nil); tp.Status != TemplateUnknown || tp.VolID != "" {
		t.Errorf("nothing known: %+v", tp)
	}
	if tp = resolveTemplate(c, h, []pve.AvailableTemplate{}); tp.Status != TemplateUnavailable {
		t.Errorf("empty catalog: %+v", tp)
	}
	for _, tc := range []struct {
		a, b string
		want int
	}{{"12.12-1", "12.7-1", 1}, {"12.7-1", "12.7-1", 0}, {"20240908", "20231231", 1}, {"1.0", "1.0.1", -1}, {"007", "7", 0}} {
		if got := naturalCompare(tc.a, tc.b); got != tc.want {
			t.Errorf("naturalCompare(%s, %s) = %d", tc.a, tc.b, got)
		}
	}
}
