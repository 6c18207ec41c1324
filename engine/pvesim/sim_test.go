package pvesim

import (
	"bytes"
	"context"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/internal/golden"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testCluster builds a memory cluster removed at test end.
func testCluster(t *testing.T, nodes ...string) *Cluster {
	t.Helper()
	c, err := NewMemoryCluster(nodes...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type result struct {
	out, err string
	code     int
}

// run runs a command line (POSIX-quoted) on a node.
func run(t *testing.T, c *Cluster, node, cmdline string) result {
	t.Helper()
	return runIn(t, c, node, cmdline, "")
}

func runIn(t *testing.T, c *Cluster, node, cmdline, stdin string) result {
	t.Helper()
	argv, err := SplitCommand(cmdline)
	if err != nil {
		t.Fatalf("split %q: %v", cmdline, err)
	}
	n, ok := c.Node(node)
	if !ok {
		t.Fatalf("no node %s", node)
	}
	var o, e bytes.Buffer
	code := RunTool(context.Background(), n, argv[0], argv[1:], strings.NewReader(stdin), &o, &e)
	return result{o.String(), e.String(), code}
}

// must runs a command that has to succeed.
func must(t *testing.T, c *Cluster, node, cmdline string) result {
	t.Helper()
	r := run(t, c, node, cmdline)
	if r.code != 0 {
		t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", cmdline, r.code, r.out, r.err)
	}
	return r
}

// checkGolden compares got with testdata/<name>, rewriting it under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), []byte(got))
}

const tmpl = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"

// withTemplate downloads the debian template to local on node.
func withTemplate(t *testing.T, c *Cluster, node string) {
	t.Helper()
	must(t, c, node, "pveam download local debian-12-standard_12.7-1_amd64.tar.zst")
}

func TestSmoke(t *testing.T) {
	c := testCluster(t, "pve1", "pve2")
	withTemplate(t, c, "pve1")
	r := must(t, c, "pve1", "pct create 100 "+tmpl+" --storage local-lvm --hostname web01 --net0 name=eth0,bridge=vmbr0,ip=dhcp --memory 1024")
	t.Logf("create:\n%s%s", r.out, r.err)
	r = must(t, c, "pve1", "pct config 100")
	t.Logf("config:\n%s", r.out)
	must(t, c, "pve1", "pct start 100")
	r = must(t, c, "pve1", "pct list")
	t.Logf("list:\n%s", r.out)
	r = run(t, c, "pve1", "pct exec 100 -- sh -c 'echo hi && hostname'")
	t.Logf("exec: %q %q %d", r.out, r.err, r.code)
	r = must(t, c, "pve1", "pvesh get /nodes/pve1/lxc/100/interfaces --output-format json")
	t.Logf("ifs: %s", r.out)
	r = must(t, c, "pve1", "pvesm status")
	t.Logf("pvesm:\n%s", r.out)
	r = must(t, c, "pve1", "pct status 100 --verbose")
	t.Logf("status:\n%s", r.out)
}
