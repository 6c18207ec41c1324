package exec_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/exec"
)

func TestDebugTimeline(t *testing.T) {
	hosts := []string{"pve1", "pve2", "pve3"}
	d := benchStack(t, 30, 3, hosts)
	s := newSim(t, hosts...)
	m := s.c.Memory()
	m.ExtractDelay, m.StartDelay = 50*time.Millisecond, 50*time.Millisecond
	m.SetDuration(`apt-get`, 150*time.Millisecond)
	o := s.options(t)
	t0 := time.Now()
	o.Observer = func(e exec.Event) {
		if e.Container == "c00" || e.Container == "c10" || e.Container == "c20" || e.Container == "c05" {
			fmt.Printf("%6d %s %s %s\n", time.Since(t0).Milliseconds(), e.Container, e.Phase, e.Message)
		}
	}
	_, _, err := exec.RunApply(context.Background(), d, s.hosts, o)
	fmt.Println("total", time.Since(t0), err)
}
