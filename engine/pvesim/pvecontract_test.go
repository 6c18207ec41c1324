package pvesim

import (
	"bytes"
	"context"
	"testing"

	"github.com/lxcplan/lxcplan/engine/pve"
)

// TestEnginePVEContract runs argv built by engine/pve on the simulator and
// reads the output back with engine/pve's parsers and error classifier, so
// the two implementations of the reference cannot drift apart unnoticed.
func TestEnginePVEContract(t *testing.T) {
	c := testCluster(t, "pve1", "pve2")
	n := mustNode(t, c, "pve1")
	do := func(argv []string) ([]byte, []byte, int) {
		t.Helper()
		var o, e bytes.Buffer
		code := RunTool(context.Background(), n, argv[0], argv[1:], nil, &o, &e)
		return o.Bytes(), e.Bytes(), code
	}
	ok := func(argv []string) []byte {
		t.Helper()
		o, e, code := do(argv)
		if err := pve.CheckResult(argv, code, o, e); err != nil {
			t.Fatalf("%q: %v\nstdout:\n%s", argv, err, o)
		}
		return o
	}
	ok(pve.PveamDownload("local", "debian-12-standard_12.7-1_amd64.tar.zst"))
	if ts, err := pve.ParsePveamList(ok(pve.PveamList("local"))); err != nil || len(ts) != 1 {
		t.Errorf("pveam list: %v %+v", err, ts)
	}
	if ts, err := pve.ParsePveamAvailable(ok(pve.PveamAvailable(""))); err != nil || len(ts) != len(MemoryCatalog) {
		t.Errorf("pveam available: %v %+v", err, ts)
	}
	id, err := pve.ParseNextID(ok(pve.PveshNextID(0)))
	if err != nil || id != 100 {
		t.Fatalf("nextid: %d %v", id, err)
	}
	net, _ := pve.ParseNet("net0", "name=eth0,bridge=vmbr0,ip=dhcp")
	opts := &pve.CreateOptions{Storage: "local-lvm", ConfigOptions: pve.ConfigOptions{
		Hostname: "web01", Memory: 1024, Cores: 2, Tags: []string{"lxcplan", "web"},
		Description: "managed: yes\nstack web\n", Nets: map[int]*pve.Net{0: net}, OnBoot: pve.True,
		Features: &pve.Features{Nesting: pve.True, Keyctl: pve.True}}}
	ok(pve.PctCreate(id, tmpl, opts))
	ok(pve.PctStart(id, pve.StartOptions{}))
	list, err := pve.ParsePctList(ok(pve.PctList()))
	if err != nil || len(list) != 1 || list[0].Status != "running" || list[0].Name != "web01" {
		t.Errorf("pct list: %v %+v", err, list)
	}
	if st, err := pve.ParsePctStatus(ok(pve.PctStatus(id, false))); err != nil || st != "running" {
		t.Errorf("status: %q %v", st, err)
	}
	if _, err := pve.ParsePctStatusVerbose(ok(pve.PctStatus(id, true))); err != nil {
		t.Errorf("status verbose: %v", err)
	}
	sec, err := pve.ParsePctConfig(ok(pve.PctConfig(id, pve.ConfigQuery{})))
	if err != nil || sec.Description != "managed: yes\nstack web\n" || sec.Options["tags"] != "lxcplan;web" {
		t.Errorf("pct config: %v %+v", err, sec)
	}
	jsec, digest, err := pve.ParseLXCConfigJSON(ok(pve.PveshGet(pve.PathLXCConfig("pve1", id), "--output-format", "json")))
	if err != nil || digest == "" || jsec.Options["hostname"] != "web01" || jsec.Description != sec.Description {
		t.Errorf("config json: %v %q %+v", err, digest, jsec)
	}
	if res, err := pve.ParseClusterResources(ok(pve.PveshClusterResources("vm"))); err != nil || len(res) != 1 {
		t.Errorf("resources: %v %+v", err, res)
	}
	if cts, err := pve.ParseNodeLXC(ok(pve.PveshGet(pve.PathNodeLXC("pve1"), "--output-format", "json"))); err != nil || len(cts) != 1 {
		t.Errorf("node lxc: %v %+v", err, cts)
	}
	if ifs, err := pve.ParseInterfaces(ok(pve.PveshGet(pve.PathLXCInterfaces("pve1", id), "--output-format", "json"))); err != nil || len(ifs) != 2 {
		t.Errorf("interfaces: %v %+v", err, ifs)
	}
	if _, err := pve.ParseVersion(ok(pve.PveshGet("/version", "--output-format", "json"))); err != nil {
		t.Errorf("version: %v", err)
	}
	if _, err := pve.ParseClusterStatus(ok(pve.PveshGet("/cluster/status", "--output-format", "json"))); err != nil {
		t.Errorf("cluster status: %v", err)
	}
	if _, err := pve.ParseNodes(ok(pve.PveshGet("/nodes", "--output-format", "json"))); err != nil {
		t.Errorf("nodes: %v", err)
	}
	if _, err := pve.ParseNodeStorage(ok(pve.PveshNodeStorage("pve1", "rootdir"))); err != nil {
		t.Errorf("node storage: %v", err)
	}
	if ss, err := pve.ParsePvesmStatus(ok(pve.PvesmStatus(pve.StatusQuery{}))); err != nil || len(ss) != 4 {
		t.Errorf("pvesm status: %v %+v", err, ss)
	}
	if vs, err := pve.ParsePvesmList(ok(pve.PvesmList("local-lvm", "", 0))); err != nil || len(vs) != 1 {
		t.Errorf("pvesm list: %v %+v", err, vs)
	}
	ok(pve.PctSnapshot(id, "s1", "first"))
	if es, err := pve.ParsePctListSnapshot(ok(pve.PctListSnapshot(id))); err != nil || len(es) != 2 {
		t.Errorf("listsnapshot: %v %+v", err, es)
	}
	ok(pve.HAAdd(id, pve.HAOptions{}))
	if st, err := pve.ParseHAStatus(ok(pve.HAStatus(false))); err != nil || st == nil {
		t.Errorf("ha status: %v %+v", err, st)
	}
	if rs, err := pve.ParseHAConfig(ok(pve.HAConfig())); err != nil || len(rs) != 1 {
		t.Errorf("ha config: %v %+v", err, rs)
	}
	if _, err := pve.ParsePveversion(ok(pve.Pveversion(false))); err != nil {
		t.Errorf("pveversion: %v", err)
	}

	// Errors the simulator prints classify as engine/pve expects.
	classify := func(argv []string, want pve.ErrKind) {
		t.Helper()
		o, e, code := do(argv)
		err := pve.CheckResult(argv, code, o, e)
		ce, isCmd := err.(*pve.CmdError)
		if !isCmd || ce.Kind != want {
			t.Errorf("%q: exit %d stderr %q classified %#v, want kind %d", argv, code, e, err, want)
		}
	}
	classify(pve.PctCreate(id, tmpl, &pve.CreateOptions{Storage: "local-lvm"}), pve.KindAlreadyExists)
	classify(pve.PctStart(id, pve.StartOptions{}), pve.KindAlreadyRunning)
	classify(pve.PctStatus(999, false), pve.KindConfigMissing)
	classify(pve.PctSnapshot(id, "s1", ""), pve.KindSnapshotExists)
	classify(pve.PctRollback(id, "nosuch", false), pve.KindSnapshotMissing)
	classify(pve.PctResize(id, "rootfs", "1G"), pve.KindCannotShrink)
	classify(pve.PctResize(id, "rootfs", "4G"), pve.KindSizeUnchanged)
	classify(pve.PctCreate(101, tmpl, &pve.CreateOptions{}), pve.KindNotRootdirCapable)
	classify(pve.PctCreate(101, "local:vztmpl/nosuch.tar.zst", &pve.CreateOptions{Storage: "local-lvm"}), pve.KindTemplateMissing)
	classify(pve.PctCreate(101, tmpl, &pve.CreateOptions{Storage: "nosuch"}), pve.KindNoSuchStorage)
	classify([]string{"pct", "frob"}, pve.KindUsage)
	ok(pve.PctStop(id, pve.StopOptions{}))
	classify(pve.PctStop(id, pve.StopOptions{}), pve.KindNotRunning)
	ok(pve.PctSet(id, &pve.SetOptions{ConfigOptions: pve.ConfigOptions{Protection: pve.True}}))
	classify(pve.PctDestroy(id, pve.DestroyOptions{}), pve.KindProtection)
}
