package lxcrt

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
)

// benchTemplate is the template `pvelab up` caches.
const benchTemplate = "/var/cache/pvelab/templates/debian-12-standard_12.7-1_amd64.tar.zst"

// BenchmarkExtract measures unpacking the lab template for an
// unprivileged container (tar + id shift), the cost of every pct create.
func BenchmarkExtract(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	if _, err := os.Stat(benchTemplate); err != nil {
		b.Skip("no cached template (run pvelab up once)")
	}
	rt := New(&labconf.Lab{Root: b.TempDir()}, "pve1")
	for i := 0; b.Loop(); i++ {
		dir := filepath.Join(b.TempDir(), "rootfs")
		if err := rt.Extract(context.Background(), benchTemplate, dir, true); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}

func BenchmarkConfigText(b *testing.B) {
	s := pvesim.StartSpec{VMID: 100, RootDir: "/r", Unprivileged: true, Memory: 512, Cores: 2,
		Nets: []pvesim.NetSpec{{Name: "eth0", IP: "dhcp"}}, Mounts: []pvesim.MountSpec{{Source: "/a", Target: "/b"}}}
	for b.Loop() {
		if _, err := configText(s, "pve1", "vmbr0", v1Host); err != nil {
			b.Fatal(err)
		}
	}
}
