package pvesim

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
)

func TestFaultsAndCommandLog(t *testing.T) {
	c := testCluster(t)
	withTemplate(t, c, "pve")
	must(t, c, "pve", "pct create 100 "+tmpl+" --storage local-lvm")
	if err := c.FailOn("pct", `^start 100\b`, 2, "startup for container '100' failed", 255); err != nil {
		t.Fatal(err)
	}
	must(t, c, "pve", "pct start 100")
	must(t, c, "pve", "pct stop 100")
	r := run(t, c, "pve", "pct start 100")
	if r.code != 255 || r.err != "startup for container '100' failed\n" {
		t.Errorf("2nd start: %d %q", r.code, r.err)
	}
	must(t, c, "pve", "pct start 100") // 3rd start passes again
	var starts, mutating int
	for _, e := range c.Commands() {
		if e.Node != "pve" || e.Time.IsZero() {
			t.Errorf("bad entry %+v", e)
		}
		if len(e.Argv) > 1 && e.Argv[0] == "pct" && e.Argv[1] == "start" {
			starts++
		}
		if len(e.Argv) > 1 && e.Argv[0] == "pct" && e.Argv[1] != "list" && e.Argv[1] != "config" && e.Argv[1] != "status" {
			mutating++
		}
	}
	if starts != 3 || mutating != 5 {
		t.Errorf("starts %d mutating %d", starts, mutating)
	}
	// Delays run the command afterwards; drops call the hook.
	c.ClearFaults()
	c.AddFault(Fault{Tool: "pct", Match: "^status", Action: "delay", DelayMS: 1})
	if r := must(t, c, "pve", "pct status 100"); r.out != "status: running\n" {
		t.Errorf("delayed status: %q", r.out)
	}
	dropped := ""
	c.OnDrop = func(node string) { dropped = node }
	c.AddFault(Fault{Tool: "pvesh", Action: "drop"})
	if r := run(t, c, "pve", "pvesh get /version"); r.code != 255 || dropped != "pve" {
		t.Errorf("drop: %d %q", r.code, dropped)
	}
}

// TestLabNode drives a node built from a lab description (files on disk:
// command log and fault rules) with the memory runtime.
func TestLabNode(t *testing.T) {
	root := t.TempDir()
	lab := &labconf.Lab{Root: root, PVEVersion: 9, ClusterDir: filepath.Join(root, "pve"), Bridge: "vmbr0",
		TemplateCache: filepath.Join(root, "templates"), CommandLog: filepath.Join(root, "commands.jsonl"),
		FaultsFile: filepath.Join(root, "faults.jsonl"), Runtime: "memory",
		Nodes: []labconf.Node{{Name: "pve1", StorageRoot: filepath.Join(root, "nodes", "pve1", "vz")},
			{Name: "pve2", StorageRoot: filepath.Join(root, "nodes", "pve2", "vz")}}}
	os.MkdirAll(lab.TemplateCache, 0o755)
	os.WriteFile(filepath.Join(lab.TemplateCache, "debian-12-standard_12.7-1_amd64.tar.zst"), []byte("x"), 0o644)
	os.WriteFile(lab.FaultsFile, []byte(`{"tool":"pct","match":"^create","n":1,"stderr":"injected","exit":7}`+"\n"), 0o644)
	rt := NewMemoryRuntime()
	exec := func(node string, args ...string) (string, string, int) {
		// Each lab command is a fresh process: rebuild the node every time.
		n, err := NewLabNode(lab, node, rt)
		if err != nil {
			t.Fatal(err)
		}
		var o, e bytes.Buffer
		code := RunTool(context.Background(), n, args[0], args[1:], nil, &o, &e)
		return o.String(), e.String(), code
	}
	if out, _, code := exec("pve1", "pveam", "download", "local", "debian-12-standard_12.7-1_amd64.tar.zst"); code != 0 {
		t.Fatalf("download: %d %s", code, out)
	}
	if _, e, code := exec("pve1", "pct", "create", "100", tmpl, "--storage", "local-zfs"); code != 7 || e != "injected\n" {
		t.Fatalf("fault: %d %q", code, e)
	}
	if o, e, code := exec("pve1", "pct", "create", "100", tmpl, "--storage", "local-zfs", "--start"); code != 0 {
		t.Fatalf("create: %d %s %s", code, o, e)
	}
	if _, e, code := exec("pve2", "pct", "create", "100", tmpl, "--storage", "local-zfs"); code != 255 || e != "CT 100 already exists on node 'pve1'\n" {
		t.Errorf("dup on pve2: %d %q", code, e)
	}
	out, _, _ := exec("pve2", "pvesh", "get", "/cluster/resources", "--type", "vm", "--output-format", "json")
	var res []map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 || res[0]["status"] != "running" || res[0]["node"] != "pve1" {
		t.Errorf("resources from pve2: %v %s", err, out)
	}
	if out, _, _ := exec("pve1", "pveversion"); out != "pve-manager/9.1.4/5ac30304265fbd8e (running kernel: 6.14.8-2-pve)\n" {
		t.Errorf("pveversion 9: %q", out)
	}
	b, err := os.ReadFile(lab.CommandLog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 6 {
		t.Fatalf("log lines %d:\n%s", len(lines), b)
	}
	var e struct {
		Time       string   `json:"time"`
		Node       string   `json:"node"`
		Argv       []string `json:"argv"`
		Exit       int      `json:"exit"`
		DurationMS *int64   `json:"duration_ms"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e.Node != "pve1" || e.Exit != 7 || e.Argv[1] != "create" || e.DurationMS == nil {
		t.Errorf("log line %q: %v %+v", lines[1], err, e)
	}
	if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil {
		t.Errorf("time: %v", err)
	}
}

func TestSSHHandler(t *testing.T) {
	c := testCluster(t, "pve1", "pve2")
	withTemplate(t, c, "pve1")
	must(t, c, "pve1", "pct create 100 "+tmpl+" --storage local-lvm --hostname a")
	must(t, c, "pve1", "pct create 101 "+tmpl+" --storage local-lvm --hostname b")
	h := mustNode(t, c, "pve2").Handler()
	exec := func(cmd, stdin string) (string, string, int) {
		var o, e bytes.Buffer
		code := h.Exec(context.Background(), cmd, strings.NewReader(stdin), &o, &e)
		return o.String(), e.String(), code
	}
	out, _, code := exec(`sh -c 'cat /etc/pve/nodes/*/lxc/*.conf'`, "")
	if code != 0 || strings.Count(out, "arch: amd64") != 2 || !strings.Contains(out, "hostname: b") {
		t.Errorf("cat glob: %d %q", code, out)
	}
	if out, _, _ := exec("ls /etc/pve/nodes/pve1/lxc", ""); out != "100.conf\n101.conf\n" {
		t.Errorf("ls: %q", out)
	}
	if out, _, code := exec("pvesh get /cluster/nextid --output-format json", ""); code != 0 || out != "\"102\"\n" {
		t.Errorf("nextid: %d %q", code, out)
	}
	if out, _, code := exec("pvesh get /cluster/nextid", ""); code != 0 || out != "102\n" {
		t.Errorf("nextid text: %d %q", code, out)
	}
	if _, e, code := exec("pvesh get /cluster/nextid --vmid 100", ""); code != 255 || e != "400 Parameter verification failed.\nvmid: VM 100 already exists\n\npvesh get <api_path> [OPTIONS]\n" {
		t.Errorf("nextid taken: %d %q", code, e)
	}
	// Uploads: stdin redirect and scp sink.
	if _, e, code := exec("cat > /tmp/up.txt", "hello\n"); code != 0 {
		t.Fatalf("cat >: %d %q", code, e)
	}
	if out, _, _ := exec("cat /tmp/up.txt && echo ok || echo no", ""); out != "hello\nok\n" {
		t.Errorf("readback: %q", out)
	}
	// pmxcfs locks (§14).
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Now = func() time.Time { return now }
	lock := "/etc/pve/priv/lock/lxcplan-web"
	if _, e, code := exec("mkdir "+lock, ""); code != 0 {
		t.Fatalf("mkdir lock: %d %q", code, e)
	}
	h1 := mustNode(t, c, "pve1").Handler()
	var e1 bytes.Buffer
	if code := h1.Exec(context.Background(), "mkdir "+lock, nil, &bytes.Buffer{}, &e1); code != 1 ||
		e1.String() != "mkdir: cannot create directory '"+lock+"': File exists\n" {
		t.Errorf("second mkdir: %d %q", code, e1.String())
	}
	now = now.Add(100 * time.Second)
	exec("touch -d @0 "+lock, "") // unlock request on a fresh lock: no effect
	if _, _, code := exec("test -d "+lock, ""); code != 0 {
		t.Errorf("fresh lock dropped")
	}
	exec("touch "+lock, "") // refresh at t=100s
	now = now.Add(110 * time.Second)
	exec("touch -d @0 "+lock, "") // 110 s since refresh: still held
	if _, _, code := exec("test -d "+lock, ""); code != 0 {
		t.Errorf("refreshed lock dropped early")
	}
	now = now.Add(11 * time.Second)
	exec("touch -d @0 "+lock, "") // 121 s: expired, dropped
	if _, _, code := exec("test -d "+lock, ""); code != 1 {
		t.Errorf("expired lock kept")
	}
	if _, _, code := exec("mkdir "+lock+" && rmdir "+lock, ""); code != 0 {
		t.Errorf("relock+unlock failed")
	}
	if _, e, code := exec("frobnicate", ""); code != 127 || e != "sh: 1: frobnicate: not found\n" {
		t.Errorf("unknown: %d %q", code, e)
	}
}

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`pct exec 100 -- bash -c 'echo "hi there"'`, []string{"pct", "exec", "100", "--", "bash", "-c", `echo "hi there"`}},
		{`a "b\"c" d\ e ''`, []string{"a", `b"c`, "d e", ""}},
		{`x 'it'\''s'`, []string{"x", "it's"}},
	}
	for _, tt := range tests {
		got, err := SplitCommand(tt.in)
		if err != nil || strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("%s: %q %v", tt.in, got, err)
		}
	}
	if _, err := SplitCommand(`a 'b`); err == nil {
		t.Errorf("unterminated quote accepted")
	}
	if _, err := SplitCommand(`a && b`); err == nil {
		t.Errorf("operator accepted")
	}
}

func TestOutputsV8V9(t *testing.T) {
	for _, ver := range []int{8, 9} {
		c := testCluster(t, "pve1", "pve2")
		c.PVEVersion = ver
		withTemplate(t, c, "pve1")
		must(t, c, "pve1", "pct create 100 "+tmpl+" --storage local-lvm --hostname web01 --tags web")
		name := func(s string) string { return s + "_v" + string(rune('0'+ver)) + ".txt" }
		checkGolden(t, name("pveam_available"), must(t, c, "pve1", "pveam available").out)
		checkGolden(t, name("pveam_available_system"), must(t, c, "pve1", "pveam available --section system").out)
		checkGolden(t, name("pveam_list"), must(t, c, "pve1", "pveam list local").out)
		checkGolden(t, name("pvesm_list"), must(t, c, "pve1", "pvesm list local-lvm").out+must(t, c, "pve1", "pvesm list local").out)
		checkGolden(t, name("pvesh_version"), must(t, c, "pve1", "pvesh get /version --output-format json").out)
		checkGolden(t, name("pvesh_config"), must(t, c, "pve1", "pvesh get /nodes/pve1/lxc/100/config --output-format json-pretty").out)
		checkGolden(t, name("pveversion"), must(t, c, "pve1", "pveversion").out)
		st := must(t, c, "pve1", "pvesm status").out
		header := "Name             Type     Status           Total            Used       Available        %\n"
		if ver == 9 {
			header = "Name             Type     Status     Total (KiB)      Used (KiB) Available (KiB)        %\n"
		}
		if !strings.HasPrefix(st, header) {
			t.Errorf("v%d pvesm status header:\n%q", ver, st)
		}
		if st := must(t, c, "pve1", "pvesm status --content rootdir").out; strings.Contains(st, "\nlocal ") {
			t.Errorf("content filter kept local:\n%s", st)
		}
		must(t, c, "pve1", "ha-manager add ct:100 --state stopped")
		if r := must(t, c, "pve1", "pct start 100"); r.out != "Requesting HA start for CT 100\n" {
			t.Errorf("ha start: %q", r.out)
		}
		ha := must(t, c, "pve1", "ha-manager status").out
		if !strings.HasSuffix(ha, "service ct:100 (pve1, started)\n") || !strings.HasPrefix(ha, "quorum OK\nmaster pve1 (active, ") {
			t.Errorf("v%d ha status:\n%s", ver, ha)
		}
		if r := must(t, c, "pve1", "ha-manager config"); r.out != "ct:100\n\tstate started\n\n" {
			t.Errorf("ha config: %q", r.out)
		}
		if r := run(t, c, "pve1", "ha-manager add 100"); r.err != "create resource failed: resource ID 'ct:100' already defined\n" {
			t.Errorf("ha dup: %q", r.err)
		}
		if r := run(t, c, "pve1", "ha-manager remove ct:101"); r.err != "cannot delete service 'ct:101', not HA managed!\n" {
			t.Errorf("ha remove: %q", r.err)
		}
	}
}

func TestPveamPvesmErrors(t *testing.T) {
	c := testCluster(t)
	tests := []struct {
		cmd, out, err string
		code          int
	}{
		{"pveam list nosuch", "", "storage 'nosuch' does not exist\n", 255},
		{"pveam list local-lvm", "", "Storage does not support templates!\n", 255},
		{"pveam list local", "NAME                                                         SIZE  \n", "", 0},
		{"pveam download local-lvm debian-12-standard_12.7-1_amd64.tar.zst", "", "storage 'local-lvm' does not support templates\n", 255},
		{"pveam remove local:vztmpl/nosuch.tar.zst", "", "can't find file 'local:vztmpl/nosuch.tar.zst'\n", 255},
		{"pvesm path local-lvm:vm-100-disk-0", "/dev/pve/vm-100-disk-0\n", "", 0},
		{"pvesm path local-zfs:subvol-100-disk-0", "/rpool/data/subvol-100-disk-0\n", "", 0},
		{"pvesm path local:vztmpl/x.tar.zst", "/var/lib/vz/template/cache/x.tar.zst\n", "", 0},
		{"pvesm path nosuch:x", "", "storage 'nosuch' does not exist\n", 255},
		{"pvesh get /nodes/pve/lxc/100/interfaces --output-format json", "", "Configuration file 'nodes/pve/lxc/100.conf' does not exist\n", 255},
	}
	for _, tt := range tests {
		r := run(t, c, "pve", tt.cmd)
		if r.out != tt.out || r.err != tt.err || r.code != tt.code {
			t.Errorf("%s: %d %q %q", tt.cmd, r.code, r.out, r.err)
		}
	}
	withTemplate(t, c, "pve")
	r := must(t, c, "pve", "pveam download local debian-12-standard_12.7-1_amd64.tar.zst")
	if r.out != "calculating checksum of existing file...OK, got correct file already, no need to download\n" {
		t.Errorf("re-download: %q", r.out)
	}
	must(t, c, "pve", "pct create 100 "+tmpl+" --storage local-lvm --net0 name=eth0,bridge=vmbr0,ip=dhcp")
	if r := must(t, c, "pve", "pvesh get /nodes/pve/lxc/100/interfaces --output-format json"); r.out != "null\n" {
		t.Errorf("stopped interfaces: %q", r.out)
	}
	if r := run(t, c, "pve", "pct create 101 "+tmpl+" --storage local-lvm --net0 name=eth0,bridge=vmbr9 --start"); r.code != 255 ||
		r.err != "startup for container '101' failed\n" || !strings.HasSuffix(r.out, "bridge 'vmbr9' does not exist\n") {
		t.Errorf("bad bridge: %d %q %q", r.code, r.out, r.err)
	}
}

func TestStatsDelay(t *testing.T) {
	c := testCluster(t)
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Now = func() time.Time { return now }
	c.StatsDelay = 10 * time.Second
	withTemplate(t, c, "pve")
	must(t, c, "pve", "pct create 100 "+tmpl+" --storage local-lvm --hostname web01")
	if r := must(t, c, "pve", "pvesh get /cluster/resources --type vm --output-format json"); r.out != `[{"id":"lxc/100","node":"pve","status":"unknown","type":"lxc","vmid":100}]`+"\n" {
		t.Errorf("fresh: %s", r.out)
	}
	now = now.Add(11 * time.Second)
	if r := must(t, c, "pve", "pvesh get /cluster/resources --type vm --output-format json"); !strings.Contains(r.out, `"name":"web01"`) || !strings.Contains(r.out, `"status":"stopped"`) {
		t.Errorf("later: %s", r.out)
	}
}

func TestCommandLinesAndNodeExec(t *testing.T) {
	c := testCluster(t)
	n := mustNode(t, c, "pve")
	var o, e bytes.Buffer
	if code := n.Exec(context.Background(), []string{"sh", "-c", "pvesh get /version --output-format json && echo done"}, nil, &o, &e); code != 0 {
		t.Fatalf("exec: %d %s", code, e.String())
	}
	if !strings.HasSuffix(o.String(), "done\n") {
		t.Errorf("out %q", o.String())
	}
	run(t, c, "pve", "pct set 100 --description 'a b'")
	want := []string{"pvesh get /version --output-format json", "pct set 100 --description 'a b'"}
	if got := c.CommandLines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("command lines %q", got)
	}
}

func TestHandlerReadsAndSecrets(t *testing.T) {
	c := testCluster(t, "pve1", "pve2")
	withTemplate(t, c, "pve1")
	must(t, c, "pve1", "pct create 100 "+tmpl+" --storage local-lvm --hostname a")
	must(t, c, "pve1", "pct create 101 "+tmpl+" --storage local-lvm --hostname b")
	h := mustNode(t, c, "pve2").Handler()
	exec := func(cmd, stdin string) (string, string, int) {
		var o, e bytes.Buffer
		code := h.Exec(context.Background(), cmd, strings.NewReader(stdin), &o, &e)
		return o.String(), e.String(), code
	}
	out, _, code := exec("tail -n +1 /etc/pve/nodes/*/lxc/*.conf", "")
	if code != 0 || !strings.HasPrefix(out, "==> /etc/pve/nodes/pve1/lxc/100.conf <==\narch: amd64\n") ||
		!strings.Contains(out, "\n\n==> /etc/pve/nodes/pve1/lxc/101.conf <==\narch: amd64\n") {
		t.Errorf("tail: %d %q", code, out)
	}
	if out, _, _ := exec("head -n 1 /etc/pve/nodes/pve1/lxc/100.conf", ""); out != "arch: amd64\n" {
		t.Errorf("head: %q", out)
	}
	script := "mkdir -p /etc/pve/priv/lxcplan/web && cat > /etc/pve/priv/lxcplan/web/db.pw && chmod 600 /etc/pve/priv/lxcplan/web/db.pw"
	if _, e, code := exec(script, "s3cret\n"); code != 0 {
		t.Fatalf("secret: %d %q", code, e)
	}
	fi, err := os.Stat(filepath.Join(c.Dir, "priv", "lxcplan", "web", "db.pw"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file: %v %v", err, fi)
	}
	if out, _, _ := exec("cat /etc/pve/priv/lxcplan/web/db.pw", ""); out != "s3cret\n" {
		t.Errorf("read secret: %q", out)
	}
	if out, _, code := exec("mkdir /etc/pve/priv/lock/web && printf '%s\\n' holder=pve2 | tee /etc/pve/priv/lock/web.info >/dev/null && cat /etc/pve/priv/lock/web.info", ""); code != 0 || out != "holder=pve2\n" {
		t.Errorf("holder: %d %q", code, out)
	}
}
