package pvesim

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Two nodes racing to create the same ID: exactly one wins, the other gets
// one of the documented "already exists" errors (§10).
func TestConcurrentCreateSameID(t *testing.T) {
	c := testCluster(t, "pve1", "pve2")
	withTemplate(t, c, "pve1")
	withTemplate(t, c, "pve2")
	for round := 0; round < 5; round++ {
		id := fmt.Sprint(200 + round)
		var wg sync.WaitGroup
		res := make([]result, 2)
		for i, node := range []string{"pve1", "pve2"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = run(t, c, node, "pct create "+id+" "+tmpl+" --storage local-lvm")
			}()
		}
		wg.Wait()
		wins := 0
		for _, r := range res {
			switch {
			case r.code == 0:
				wins++
			case strings.Contains(r.err, "CT "+id+" already exists on node 'pve"):
			default:
				t.Errorf("loser error: %d %q", r.code, r.err)
			}
		}
		if wins != 1 {
			t.Errorf("round %d: %d winners: %+v", round, wins, res)
		}
	}
}

// Concurrent set commands on one CT serialise on the flock; none is lost.
func TestConcurrentSetSerialises(t *testing.T) {
	c := testCluster(t)
	withTemplate(t, c, "pve")
	must(t, c, "pve", "pct create 100 "+tmpl+" --storage local-lvm")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := run(t, c, "pve", fmt.Sprintf("pct set 100 --mp%d /srv/%d,mp=/mnt/%d", i, i, i))
			if r.code != 0 {
				t.Errorf("set %d: %d %q", i, r.code, r.err)
			}
		}()
	}
	wg.Wait()
	out := must(t, c, "pve", "pct config 100").out
	for i := 0; i < 8; i++ {
		if !strings.Contains(out, fmt.Sprintf("mp%d: /srv/%d,mp=/mnt/%d\n", i, i, i)) {
			t.Errorf("mp%d lost:\n%s", i, out)
		}
	}
}

func BenchmarkCreateStartExecDestroy(b *testing.B) {
	c, err := NewMemoryCluster()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	n, _ := c.Node("pve")
	do := func(cmd string) {
		argv, _ := SplitCommand(cmd)
		var o, e strings.Builder
		if code := RunTool(b.Context(), n, argv[0], argv[1:], nil, &o, &e); code != 0 {
			b.Fatalf("%s: %d %s", cmd, code, e.String())
		}
	}
	do("pveam download local debian-12-standard_12.7-1_amd64.tar.zst")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		do("pct create 100 " + tmpl + " --storage local-lvm --net0 name=eth0,bridge=vmbr0,ip=dhcp")
		do("pct start 100")
		do("pct exec 100 -- sh -c 'apt-get install -y nginx && systemctl is-active nginx'")
		do("pct stop 100")
		do("pct destroy 100")
	}
}

func BenchmarkParseArgs(b *testing.B) {
	args := strings.Fields("100 local:vztmpl/x.tar.zst --storage local-lvm --hostname web --net0 name=eth0,bridge=vmbr0,ip=dhcp --memory 1024 --start")
	var sink strings.Builder
	for i := 0; i < b.N; i++ {
		parseArgs(pctTable["create"], "pct", args, &sink)
	}
}
