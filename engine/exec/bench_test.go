package exec_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/exec"
	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/engine/model"
)

// benchStack writes a stack of n containers in chains of the given depth
// (container i depends on i-width, healthy), spread round-robin over hosts.
func benchStack(tb testing.TB, n, depth int, hosts []string) *model.Desired {
	tb.Helper()
	dir := tb.TempDir()
	b, err := os.ReadFile(filepath.Join("testdata", "stack", "app.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), b, 0o644); err != nil {
		tb.Fatal(err)
	}
	var s strings.Builder
	s.WriteString("apiVersion: lxcplan/v1\nkind: Stack\nname: bench\nhosts:\n")
	for _, h := range hosts {
		fmt.Fprintf(&s, "  %s: {address: 127.0.0.1}\n", h)
	}
	s.WriteString("defaults:\n  storage: local-lvm\n  template_storage: local\n  network: {bridge: vmbr0}\ncontainers:\n")
	width := n / depth
	for i := 0; i < n; i++ {
		fmt.Fprintf(&s, "  c%02d:\n    recipe: ./app.yaml\n    host: %s\n", i, hosts[i%len(hosts)])
		if i >= width {
			fmt.Fprintf(&s, "    depends_on: {c%02d: {condition: healthy}}\n", i-width)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "stack.yaml"), []byte(s.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	o := manifest.Options{Env: map[string]string{}, UserDefaultsFile: "-"}
	st, ds := manifest.LoadStackFile(filepath.Join(dir, "stack.yaml"), o)
	if ds.HasErrors() {
		tb.Fatal(ds.Err())
	}
	d, ds := manifest.Resolve(st, o)
	if ds.HasErrors() {
		tb.Fatal(ds.Err())
	}
	return d
}

// BenchmarkApply30x3 applies 30 containers (10 chains of depth 3, each
// link "healthy") over 3 nodes with fixed simulated durations (apt-get
// 1 s, template extract and start 300 ms each), and reports:
//   - makespan/critical: the apply's makespan over the critical path,
//     measured as the makespan of one chain applied alone (same lock,
//     observation and template download; no contention); target ≤ 1.10;
//   - makespan/sequential: over ten chains applied one after another, which
//     is what running the helper scripts one container at a time costs.
func BenchmarkApply30x3(b *testing.B) {
	hosts := []string{"pve1", "pve2", "pve3"}
	d := benchStack(b, 30, 3, hosts)
	chain := benchStack(b, 3, 3, hosts)
	var sumCrit, sumSpan float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		crit := benchRun(b, chain, hosts)
		b.StartTimer()
		span := benchRun(b, d, hosts)
		b.StopTimer()
		sumCrit += crit.Seconds()
		sumSpan += span.Seconds()
	}
	b.ReportMetric(sumSpan/sumCrit, "makespan/critical")
	b.ReportMetric(sumSpan/(10*sumCrit), "makespan/sequential")
	b.ReportMetric(sumSpan/float64(b.N), "makespan-s")
	b.ReportMetric(sumCrit/float64(b.N), "critical-s")
}

func benchRun(b *testing.B, d *model.Desired, hosts []string) time.Duration {
	s := newSim(b, hosts...)
	m := s.c.Memory()
	m.ExtractDelay, m.StartDelay = 300*time.Millisecond, 300*time.Millisecond
	if err := m.SetDuration(`apt-get`, time.Second); err != nil {
		b.Fatal(err)
	}
	o := s.options(b)
	o.Observer = nil
	start := time.Now()
	_, _, err := exec.RunApply(context.Background(), d, s.hosts, o)
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
