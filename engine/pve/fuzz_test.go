package pve

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func seedFiles(f *testing.F, names ...string) {
	for _, n := range names {
		f.Add(readTestdata(f, n))
	}
}

// FuzzParseConfig checks that the reader never panics and that writing is a
// fixed point: what Bytes writes reads back to the same bytes.
func FuzzParseConfig(f *testing.F) {
	seedFiles(f, "config_full.conf", "config_minimal.conf", "config_snapstate.conf")
	f.Add([]byte("#a%ZZ\n[pve:pending]\ndelete: !x\n[snap]\nlxc.a = b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if c.Check() != nil {
			return
		}
		out := c.Bytes()
		c2, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("reparse: %v", err)
		}
		if out2 := c2.Bytes(); !bytes.Equal(out, out2) {
			t.Fatalf("not a fixed point:\n%q\n%q", out, out2)
		}
	})
}

func FuzzParsePropertyString(f *testing.F) {
	for _, s := range []string{"local-lvm:8,mp=/x", "a,b", "k=v,k=v", "=x", "x=", ",,,", "volume=a,size=1G"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParsePropertyString("mp0", MountFormat, s)
		if err != nil {
			if _, ok := err.(ParamErrors); !ok {
				t.Fatalf("error type %T", err)
			}
			return
		}
		if strings.Contains(s, ",") {
			return // printing cannot round-trip values that the split dropped
		}
		_ = PrintPropertyString(MountFormat, m)
	})
}

// FuzzParseNet checks parse → String → parse gives the same value.
func FuzzParseNet(f *testing.F) {
	for _, s := range []string{
		"name=eth0,bridge=vmbr0,firewall=1,gw=192.168.1.1,hwaddr=BC:24:11:5E:0A:91,ip=192.168.1.50/24,tag=20,type=veth",
		"name=eth1,ip6=fd00::5/64,gw6=fd00::1,mtu=9000,rate=12.5,trunks=10;20,link_down=off",
		"name=eth0,ip=dhcp,ip=manual", "eth0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNet("net0", s)
		if err != nil {
			return
		}
		n2, err := ParseNet("net0", n.String())
		if err != nil {
			t.Fatalf("reparse %q (from %q): %v", n.String(), s, err)
		}
		if !reflect.DeepEqual(n, n2) {
			t.Fatalf("round trip %q: %+v != %+v", s, n, n2)
		}
	})
}

func FuzzParseMount(f *testing.F) {
	for _, s := range []string{
		"local-lvm:vm-100-disk-1,mp=/data,backup=1,size=32G", "/mnt/host/dir,mp=/data,ro=1",
		"/dev/sdb1,mp=/mnt/x,size=1.5G", "local-lvm:8,mp=/a/../b", "local:1,mp=/x,mountoptions=noatime;nodev",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMount("mp0", s)
		if err != nil {
			return
		}
		m2, err := ParseMount("mp0", m.String())
		if err != nil {
			t.Fatalf("reparse %q (from %q): %v", m.String(), s, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip %q: %+v != %+v", s, m, m2)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "8G", "1.5T", "2GiB", "1025", "99999999999999T"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := ParseSize(s)
		if !ok || n < 0 {
			return
		}
		if n2, ok := ParseSize(FormatSize(n)); !ok || n2 != n {
			t.Fatalf("FormatSize(%d) = %q does not parse back", n, FormatSize(n))
		}
	})
}

func FuzzParsePctList(f *testing.F) {
	seedFiles(f, "pct_list.txt", "pct_list_long_lock.txt", "pct_list_empty.txt")
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = ParsePctList(b) })
}

func FuzzParsePctOutputs(f *testing.F) {
	seedFiles(f, "pct_status_verbose_running.txt", "pct_config.txt", "pct_listsnapshot.txt", "pct_listsnapshot_branches.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParsePctStatus(b)
		_, _ = ParsePctStatusVerbose(b)
		_, _ = ParsePctConfig(b)
		_, _ = ParsePctListSnapshot(b)
		_, _ = ParseHAStatus(b)
		_, _ = ParseHAConfig(b)
		_, _ = ParsePveversion(b)
	})
}

func FuzzParsePveamAvailable(f *testing.F) {
	seedFiles(f, "pveam_available_pve8.txt", "pveam_available_pve9.txt", "pveam_list.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParsePveamAvailable(b)
		_, _ = ParsePveamList(b)
	})
}

func FuzzParsePvesmStatus(f *testing.F) {
	seedFiles(f, "pvesm_status_pve8.txt", "pvesm_status_pve9.txt", "pvesm_list_rootdir.txt", "pvesm_list_vztmpl.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParsePvesmStatus(b)
		_, _ = ParsePvesmList(b)
		_, _ = ParsePvesmPath(b)
	})
}

func FuzzParsePveshJSON(f *testing.F) {
	seedFiles(f, "pvesh_nextid_string.json", "pvesh_resources.json", "pvesh_interfaces.json", "pvesh_version.json",
		"pvesh_cluster_status.json", "pvesh_nodes.json", "pvesh_node_storage.json", "pvesh_lxc_status_ha.json", "pvesh_node_lxc.json", "pvesh_lxc_config.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseNextID(b)
		_, _ = ParseClusterResources(b)
		_, _ = ParseInterfaces(b)
		_, _ = ParseVersion(b)
		_, _ = ParseClusterStatus(b)
		_, _ = ParseNodes(b)
		_, _ = ParseNodeStorage(b)
		_, _ = ParseLXCStatus(b)
		_, _ = ParseNodeLXC(b)
		_, _, _ = ParseLXCConfigJSON(b)
	})
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"CT is locked (backup)\n",
		"400 Parameter verification failed.\nnet0: invalid format - format error\nnet0.ip: x\n\n\npct create <vmid> <ostemplate> [OPTIONS]\n",
		"unable to create CT 100 - can't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout\n",
		"Configuration file 'nodes/pve/lxc/100.conf' does not exist\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := Classify(s)
		if e == nil || e.Error() == "" {
			t.Fatal("nil or empty error")
		}
		_ = IsTransient(e)
		_, _ = HiddenFailure([]string{"pct", "push"}, nil, []byte(s))
	})
}
