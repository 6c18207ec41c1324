package plan

import (
	"testing"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/pve"
)

func TestPreflight(t *testing.T) {
	cases := []struct {
		name   string
		world  func(*world)
		c      func(*model.Container)
		opts   func(*Options)
		sev    diag.Severity
		input  bool // the diagnostic is ClassInput (else ClassHost)
		want   string
		status string // expected template status
	}{
		{name: "storage missing", c: func(c *model.Container) { c.Storage = "nope" }, want: "storage nope does not exist on host pve1"},
		{name: "storage not rootdir", c: func(c *model.Container) { c.Storage = "local" }, want: "storage local on host pve1 does not hold container volumes"},
		{name: "storage disabled", world: func(w *world) { w.s.Hosts["pve1"].Storages[1].Enabled = false }, want: "storage local-lvm is disabled"},
		{name: "storage inactive", world: func(w *world) { w.s.Hosts["pve1"].Storages[1].Active = false }, want: "storage local-lvm is not active"},
		{name: "mount storage missing", c: func(c *model.Container) {
			c.Mounts = []model.Mount{{Storage: "gone", Size: 1, Path: "/x"}}
		}, want: "storage gone does not exist"},
		{name: "template storage not vztmpl", c: func(c *model.Container) { c.TemplateStorage = "local-lvm" }, want: "storage local-lvm on host pve1 does not hold templates"},
		{name: "template unavailable", c: func(c *model.Container) { c.Version = "99" },
			opts: func(o *Options) { o.Catalog = map[string][]pve.AvailableTemplate{"pve1": {}} }, want: "no template for debian 99 (amd64) is available", status: TemplateUnavailable},
		{name: "template unknown without catalog", c: func(c *model.Container) { c.Version = "13" },
			sev: diag.SevWarning, want: "it will be downloaded if available", status: TemplateUnknown},
		{name: "template download", c: func(c *model.Container) { c.Version = "13" },
			opts: func(o *Options) {
				o.Catalog = map[string][]pve.AvailableTemplate{"pve1": {{Section: "system", Template: "debian-13-standard_13.1-1_amd64.tar.zst"}}}
			}, status: TemplateDownload},
		{name: "bridge missing", c: func(c *model.Container) { c.Network.Bridge = "vmbr7" }, want: "bridge vmbr7 does not exist on host pve1"},
		{name: "bridges unknown", world: func(w *world) { w.s.Hosts["pve1"].Bridges = nil }, c: func(c *model.Container) { c.Network.Bridge = "vmbr7" }},
		{name: "vmid taken by a VM", world: func(w *world) { w.addGuest(inventory.Guest{VMID: 300, Type: "qemu", Node: "pve2", Name: "win"}) },
			c: func(c *model.Container) { c.VMID = 300 }, want: "vmid 300 is already used by VM win on node pve2"},
		{name: "vmid taken by the stack", world: func(w *world) {
			w.applyCreate(t, desired(ctr("other")), "other", 300, "pve1")
		}, c: func(c *model.Container) { c.VMID = 300 }, want: "vmid 300 is already used by container other of this stack"},
		{name: "hostname taken", world: func(w *world) { w.addGuest(inventory.Guest{VMID: 301, Type: "lxc", Node: "pve1", Name: "DB"}) },
			want: "hostname db is already used by container 301"},
		{name: "static ip taken", world: func(w *world) {
			w.addGuest(inventory.Guest{VMID: 302, Type: "lxc", Node: "pve2", Name: "x", IPs: []string{"10.20.0.50"}})
		}, c: func(c *model.Container) { c.Network.IP = "10.20.0.50/24" }, want: "address 10.20.0.50 is already used by container 302"},
		{name: "ipv6 taken", world: func(w *world) {
			w.addGuest(inventory.Guest{VMID: 303, Type: "lxc", Node: "pve2", Name: "x", IPs: []string{"fd00::5"}})
		}, c: func(c *model.Container) { c.Network.IP6 = "fd00::5/64" }, want: "address fd00::5 is already used"},
		{name: "not enough space", c: func(c *model.Container) { c.Resources.Disk = 81 }, want: "not enough free space on storage local-lvm of host pve1"},
		{name: "enough space", c: func(c *model.Container) { c.Resources.Disk = 79 }},
		{name: "privileged feature", c: func(c *model.Container) { c.Features.Mount = []string{"nfs"} }, input: true, want: "features.mount (nfs) needs a privileged container"},
		{name: "privileged feature ok", c: func(c *model.Container) { c.Features.Mount = []string{"nfs"}; c.Unprivileged = false }},
		{name: "privileged flagged", c: func(c *model.Container) { c.Unprivileged = false }, sev: diag.SevWarning, input: true, want: "the container is privileged"},
		{name: "devices flagged", c: func(c *model.Container) { c.Tun = true; c.GPU = "intel" }, sev: diag.SevWarning, input: true,
			want: "host devices are passed through: /dev/net/tun, /dev/dri/card0, /dev/dri/renderD128"},
		{name: "gpu auto", c: func(c *model.Container) { c.GPU = "auto" }, sev: diag.SevWarning, want: "gpu: auto is resolved on the host at apply"},
		{name: "host unreachable", world: func(w *world) {
			h := w.s.Hosts["pve1"]
			h.Reachable, h.Error, h.Cluster = false, "no route to host", ""
		}, want: "cannot observe host pve1: no route to host"},
		{name: "host not observed", world: func(w *world) { delete(w.s.Hosts, "pve1") }, want: "host pve1 was not observed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			if tc.world != nil {
				tc.world(w)
			}
			c := ctr("db")
			if tc.c != nil {
				tc.c(c)
			}
			var opts []func(*Options)
			if tc.opts != nil {
				opts = append(opts, tc.opts)
			}
			p, ds := plan(t, desired(c), w, opts...)
			class := diag.ClassHost
			if tc.input {
				class = diag.ClassInput
			}
			if tc.want == "" && ds.HasErrors() {
				t.Errorf("unexpected diagnostics: %v", ds)
			}
			if tc.want != "" && !hasDiag(ds, tc.sev, class, tc.want) {
				t.Errorf("want %s %q, got %v", tc.sev, tc.want, ds)
			}
			if tc.status != "" {
				ch := find(t, p, "db")
				if ch.Template == nil || ch.Template.Status != tc.status {
					t.Errorf("template %+v, want status %s", ch.Template, tc.status)
				}
			}
		})
	}
}

// TestPreflightOnlyTouched checks that an up-to-date container does not fail
// the plan because of the world around it (its own address is not a
// conflict; a now-missing bridge is only checked when the network changes).
func TestPreflightOnlyTouched(t *testing.T) {
	d := desired(ctr("db", func(c *model.Container) { c.Network.IP = "10.20.0.50/24" }))
	w := newWorld()
	w.applyCreate(t, d, "db", 210, "pve1")
	w.s.Hosts["pve1"].Bridges = []string{"vmbr1"}
	p, ds := plan(t, d, w)
	if ds.HasErrors() || find(t, p, "db").Action != ActionNoOp {
		t.Errorf("%v %+v", ds, p.Changes)
	}
}
