package plan

import (
	"fmt"
	"io"
	"testing"

	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/model"
)

// bigWorld is a 1,000-container stack over 10 nodes, fully applied, with
// every tenth container depending on the one before it.
func bigWorld(b *testing.B) (*model.Desired, *world) {
	var cs []*model.Container
	for i := 0; i < 1000; i++ {
		name := fmt.Sprintf("ct%04d", i)
		c := ctr(name, func(c *model.Container) {
			c.Host = fmt.Sprintf("pve%d", i%10)
			c.VMID = 1000 + i
			c.Network.IP = fmt.Sprintf("10.%d.%d.%d/16", 20+i/60000, (i/250)%250, i%250+1)
		})
		if i%10 == 9 {
			c.DependsOn = []model.Dependency{{Name: fmt.Sprintf("ct%04d", i-1), Condition: model.CondStarted}}
		}
		cs = append(cs, c)
	}
	d := desired(cs...)
	for i := 0; i < 10; i++ {
		d.Stack.Hosts[fmt.Sprintf("pve%d", i)] = &model.Host{Name: fmt.Sprintf("pve%d", i)}
	}
	mk := func() *world {
		w := newWorld()
		cl := w.cluster()
		cl.Nodes, cl.Hosts = nil, nil
		for i := 0; i < 10; i++ {
			k := fmt.Sprintf("pve%d", i)
			w.s.Hosts[k] = testHost(k)
			w.s.Hosts[k].Storages[1].Avail = 1 << 50
			cl.Nodes, cl.Hosts = append(cl.Nodes, k), append(cl.Hosts, k)
		}
		return w
	}
	p, _ := Diff(d, mk().s, Options{SecretKey: testKey})
	w := mk()
	for _, ch := range p.Changes {
		w.materialize(b, d.Container(ch.Container), ch, ch.VMID, ch.Host)
	}
	return d, w
}

// BenchmarkDiff1000 plans a converged 1,000-container stack (every
// container compared field by field, fingerprints recomputed).
func BenchmarkDiff1000(b *testing.B) {
	d, w := bigWorld(b)
	p, _ := Diff(d, w.s, Options{SecretKey: testKey})
	if p.HasChanges() {
		b.Fatalf("not converged: %+v", p.Changes[0])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Diff(d, w.s, Options{SecretKey: testKey})
	}
}

func BenchmarkWriteJSON1000(b *testing.B) {
	d, _ := bigWorld(b)
	p, _ := Diff(d, &inventory.State{}, Options{SecretKey: testKey})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.WriteJSON(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
