package plan

import (
	"testing"

	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/pve"
)

// The gid of a GPU node is learned by apply from the container's
// /etc/group: a live gid other than the default is not a difference, but
// a declared device's explicit gid still is.
func TestGPULearnedGIDIsNotDrift(t *testing.T) {
	gid := 7
	c := ctr("tv", func(c *model.Container) {
		c.GPU = "intel"
		c.Devices = []model.Device{{Path: "/dev/ttyUSB0", GID: &gid}}
	})
	desired := DesiredConfig(c, testStack)
	cases := []struct {
		key, live string
		same      bool
	}{
		{"dev1", "/dev/dri/card0,gid=44", true},
		{"dev1", "/dev/dri/card0,gid=39", true},
		{"dev2", "/dev/dri/renderD128,gid=993", true},
		{"dev2", "/dev/dri/renderD129,gid=104", false},
		{"dev2", "/dev/dri/renderD128,gid=993,mode=0666", false},
		{"dev0", "/dev/ttyUSB0,gid=7", true},
		{"dev0", "/dev/ttyUSB0,gid=8", false},
	}
	for _, tc := range cases {
		sec := pve.NewSection()
		sec.Set(tc.key, tc.live)
		live := CanonLive(sec, desired)
		if got := live.Canon[tc.key] == desired[tc.key].Canon; got != tc.same {
			t.Errorf("%s: live %q → %q, desired %q: same=%v", tc.key, tc.live, live.Canon[tc.key], desired[tc.key].Canon, got)
		}
	}
}
