package lab

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/internal/golden"
	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
)

var update = flag.Bool("update", false, "rewrite golden files")

// checkGolden compares got with testdata/<name>, rewriting it under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), []byte(got))
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		p, ok := parsePrefix(s)
		if !ok {
			panic(s)
		}
		out = append(out, p)
	}
	return out
}

func TestPickSubnet(t *testing.T) {
	tests := []struct {
		name string
		used []netip.Prefix
		want string
	}{
		{"free", prefixes("192.0.2.0/24", "127.0.0.0/8"), "10.77.0.0/24"},
		{"route taken", prefixes("10.77.0.0/16"), "10.78.0.0/24"},
		{"resolver in 10.77", resolverUsed("10.77.255.53", "10.78.0.0/16"), "10.79.0.0/24"},
		{"whole 10/8 but one", append(prefixes("10.0.0.0/9"), prefixes("10.128.0.0/10", "10.192.0.0/11", "10.224.0.0/12", "10.240.0.0/13", "10.248.0.0/14", "10.252.0.0/15", "10.254.0.0/16")...), "10.255.0.0/24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pickSubnet(tt.used)
			if err != nil || got.String() != tt.want {
				t.Fatalf("pickSubnet = %v, %v; want %s", got, err, tt.want)
			}
		})
	}
	if _, err := pickSubnet(prefixes("10.0.0.0/8")); !errors.Is(err, ErrNoSubnet) {
		t.Fatalf("full 10/8: %v", err)
	}
}

func testLab() *labconf.Lab {
	return &labconf.Lab{
		Root: "/var/lib/pvelab", PVEVersion: 8, ClusterDir: "/var/lib/pvelab/cluster", Bridge: "vmbr0",
		Subnet: "10.77.0.0/24", Gateway: "10.77.0.1", DNS: "10.77.0.1",
		Nodes: []labconf.Node{
			{Name: "pve1", Host: "127.0.0.1", Port: 10022, User: "root", StorageRoot: "/var/lib/pvelab/nodes/pve1/vz"},
			{Name: "pve2", Host: "127.0.0.1", Port: 10023, User: "root", StorageRoot: "/var/lib/pvelab/nodes/pve2/vz"},
		},
	}
}

func TestGeneratedFiles(t *testing.T) {
	l := testLab()
	checkGolden(t, "sshd_config", sshdConfig(l, l.Nodes[1]))
	checkGolden(t, "init.sh", nodeInitScript(l, l.Nodes[1]))
	checkGolden(t, "hosts.yaml", HostsSnippet(l))
	checkGolden(t, "nft.rules", nftRules(netip.MustParsePrefix(l.Subnet)))
	m, err := membersJSON(l, "pve2")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "members.json", string(m))
	var doc members
	if err := json.Unmarshal(m, &doc); err != nil || doc.NodeName != "pve2" || doc.NodeList["pve1"].ID != 1 || doc.Cluster.Quorate != 1 {
		t.Fatalf("members: %+v %v", doc, err)
	}
}

func TestWriteClusterDir(t *testing.T) {
	l := testLab()
	l.Root = t.TempDir()
	l.ClusterDir = filepath.Join(l.Root, "cluster")
	for _, n := range l.Nodes {
		if err := os.MkdirAll(nodeDir(l.Root, n.Name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeClusterDir(l); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"storage.cfg", "datacenter.cfg", ".members", "nodes/pve2/lxc", "ha", "priv/lock", "lxc", "local"} {
		if _, err := os.Stat(filepath.Join(l.ClusterDir, p)); err != nil {
			t.Error(err)
		}
	}
	if fi, _ := os.Stat(filepath.Join(l.ClusterDir, "priv")); fi == nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("priv mode %v", fi)
	}
	// Rewriting keeps what the simulator changed.
	cfg := filepath.Join(l.ClusterDir, "storage.cfg")
	if err := os.WriteFile(cfg, []byte("changed"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := writeClusterDir(l); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(cfg); string(b) != "changed" {
		t.Error("storage.cfg overwritten")
	}
}

func TestEnsureRemoveLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "subuid")
	tests := []struct {
		name, before string
		added        bool
		after        string
	}{
		{"empty", "", true, ""},
		{"other", "lxd:1000000:65536\n", true, "lxd:1000000:65536\n"},
		{"no newline", "x:1:2", true, "x:1:2\n"},
		{"present", "root:100000:65536\n", false, "root:100000:65536\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(p, []byte(tt.before), 0o600); err != nil {
				t.Fatal(err)
			}
			has, err := hasLine(p, subIDLine)
			if err != nil || has == tt.added {
				t.Fatalf("hasLine before = %v, %v", has, err)
			}
			added, err := ensureLine(p, subIDLine)
			if err != nil || added != tt.added {
				t.Fatalf("ensureLine = %v, %v", added, err)
			}
			b, _ := os.ReadFile(p)
			if !strings.Contains(string(b), subIDLine+"\n") {
				t.Fatalf("line missing: %q", b)
			}
			if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
				t.Errorf("mode changed to %v", fi.Mode())
			}
			if added {
				if err := removeLine(p, subIDLine); err != nil {
					t.Fatal(err)
				}
				if b, _ := os.ReadFile(p); string(b) != tt.after {
					t.Errorf("after remove %q, want %q", b, tt.after)
				}
			}
		})
	}
	if err := removeLine(filepath.Join(t.TempDir(), "missing"), subIDLine); err != nil {
		t.Fatal(err)
	}
}

func TestMergeProcs(t *testing.T) {
	tests := []struct {
		name string
		a, b []Proc
		want []int
	}{
		{"both empty", nil, nil, nil},
		{"recorded only", []Proc{{PID: 1}}, nil, []int{1}},
		{"pid files add", []Proc{{PID: 1}}, []Proc{{PID: 2}}, []int{1, 2}},
		{"recorded wins", []Proc{{PID: 1, Name: "sshd-pve1"}}, []Proc{{PID: 1, Name: "sshd.pid"}}, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			for _, p := range mergeProcs(tt.a, tt.b) {
				got = append(got, p.PID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBackupStatePath(t *testing.T) {
	tests := []struct{ root, want string }{
		{"/var/lib/pvelab", "var_lib_pvelab.json"},
		{"/var/lib/pvelab/", "var_lib_pvelab.json"},
		{"/tmp/x/lab", "tmp_x_lab.json"},
	}
	for _, tt := range tests {
		if got := backupStatePath(tt.root); got != filepath.Join(DefaultCacheDir, "state", tt.want) {
			t.Errorf("backupStatePath(%q) = %q", tt.root, got)
		}
	}
}

func TestSourcesParsing(t *testing.T) {
	dir := t.TempDir()
	deb822 := filepath.Join(dir, "debian.sources")
	os.WriteFile(deb822, []byte("Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://mirror.example/debian-security\n"), 0o644)
	if got := deb822URIs(deb822); len(got) != 2 || got[1] != "http://mirror.example/debian-security" {
		t.Errorf("deb822: %v", got)
	}
	list := filepath.Join(dir, "sources.list")
	os.WriteFile(list, []byte("# c\ndeb [arch=amd64 signed-by=/x] http://m.example/debian bookworm main\ndeb-src http://s/ bookworm main\ndeb http://m.example/debian-security bookworm-security main\n"), 0o644)
	if got := oneLineURIs(list); len(got) != 2 || got[0] != "http://m.example/debian" {
		t.Errorf("one-line: %v", got)
	}
}

func TestProcAlive(t *testing.T) {
	self := Proc{PID: os.Getpid()}
	_, _, start, err := procStat(self.PID)
	if err != nil {
		t.Fatal(err)
	}
	self.StartTime = start
	if !self.Alive() {
		t.Error("self not alive")
	}
	if (Proc{PID: os.Getpid(), StartTime: start + 1}).Alive() {
		t.Error("recycled pid counted as alive")
	}
	if (Proc{}).Alive() {
		t.Error("zero proc alive")
	}
}

func TestMountsUnder(t *testing.T) {
	if m := mountsUnder("/proc"); len(m) == 0 {
		t.Skip("no /proc mount visible")
	}
	if m := mountsUnder(t.TempDir()); len(m) != 0 {
		t.Errorf("temp dir mounts: %v", m)
	}
	if got := unescapeMount(`/a\040b`); got != "/a b" {
		t.Error(got)
	}
}

// resolverUsed builds the used list the way usedPrefixes treats a resolver.
func resolverUsed(resolver string, more ...string) []netip.Prefix {
	p, _ := netip.MustParseAddr(resolver).Prefix(16)
	return append(prefixes(more...), p)
}

func TestMissingPackages(t *testing.T) {
	if _, err := os.Stat("/usr/bin/dpkg-query"); err != nil {
		t.Skip("no dpkg")
	}
	got := missingPackages(context.Background(), []string{"dpkg", "pvelab-no-such-package"})
	if len(got) != 1 || got[0] != "pvelab-no-such-package" {
		t.Fatalf("missing = %v", got)
	}
}
