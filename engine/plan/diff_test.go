package plan

import (
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/pve"
)

func TestCreateOnEmptyCluster(t *testing.T) {
	d := desired(ctr("db", func(c *model.Container) { c.VMID = 210 }), appCtr("app"))
	p, ds := plan(t, d, newWorld())
	if ds.HasErrors() {
		t.Fatalf("diagnostics: %v", ds)
	}
	if len(p.Changes) != 2 || p.Changes[0].Container != "db" || p.Changes[1].Container != "app" {
		t.Fatalf("want db then app (DAG order), got %+v", p.Changes)
	}
	db := p.Changes[0]
	if db.Action != ActionCreate || db.Rollback != RollbackDestroyCreated || db.Destructive || db.VMID != 210 {
		t.Errorf("db: %+v", db)
	}
	if db.Template == nil || db.Template.Status != TemplatePresent || db.Template.VolID != "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst" {
		t.Errorf("template: %+v", db.Template)
	}
	if f := changeField(db, "memory"); f == nil || f.Before != nil || str(f.After) != "512" {
		t.Errorf("memory field: %+v", f)
	}
	if f := changeField(db, "rootfs.size"); f == nil || str(f.After) != "4G" {
		t.Errorf("rootfs.size field: %+v", f)
	}
	if f := changeField(db, "params.password"); f == nil || !f.Secret || str(f.After) != SecretText {
		t.Errorf("secret param field: %+v", f)
	}
	if len(db.Steps) != 3 || db.Steps[0].Description != "install packages redis-server" {
		t.Errorf("steps: %+v", db.Steps)
	}
	if db.Apply.Set["rootfs"] != "local-lvm:4" || db.Apply.Set["tags"] != "lxcplan;media" || db.Apply.Set["net0"] != "name=eth0,bridge=vmbr0,ip=dhcp" {
		t.Errorf("set: %v", db.Apply.Set)
	}
	app := p.Changes[1]
	if f := changeField(app, "params.db_host"); f == nil || !strings.Contains(str(f.After), "known after apply") {
		t.Errorf("db_host field: %+v", f)
	}
	if p.Summary.Create != 2 || p.Destructive {
		t.Errorf("summary: %+v", p.Summary)
	}
}

func TestReplanAfterApplyIsNoOp(t *testing.T) {
	d := desired(ctr("db", func(c *model.Container) {
		c.VMID = 210
		c.Network.IP, c.Network.GW = "10.20.0.50/24", "10.20.0.1"
		c.Tags = []string{"DB", "prod"}
		c.Mounts = []model.Mount{{HostPath: "/tank/photos", Path: "/photos", ReadOnly: true}, {Storage: "local-lvm", Size: 8, Path: "/data"}}
		c.Startup = model.Startup{Order: pve.Int(2), Up: pve.Int(30)}
		c.Tun = true
	}), appCtr("app"))
	w := newWorld()
	w.applyCreate(t, d, "db", 210, "pve1")
	w.applyCreate(t, d, "app", 211, "pve1")
	p, ds := plan(t, d, w)
	if ds.HasErrors() {
		t.Fatalf("diagnostics: %v", ds)
	}
	for _, ch := range p.Changes {
		if ch.Action != ActionNoOp {
			t.Errorf("%s: %s (%s) fields %+v", ch.Container, ch.Action, ch.Reason, ch.Fields)
		}
	}
	if p.HasChanges() {
		t.Error("HasChanges")
	}
}

func TestExistingActions(t *testing.T) {
	base := func() *model.Desired {
		return desired(ctr("db", func(c *model.Container) { c.VMID = 210 }))
	}
	cases := []struct {
		name string
		// edit changes the world after apply (by hand); change the desired state.
		edit    func(*inventory.Container)
		change  func(*model.Container)
		action  Action
		field   string
		before  string
		after   string
		drift   bool
		restart bool
	}{
		{name: "drift memory", edit: setOpt("memory", "1024"), action: ActionUpdate, field: "memory", before: "1024", after: "512", drift: true},
		{name: "declared memory", change: func(c *model.Container) { c.Resources.Memory = 2048 }, action: ActionUpdate, field: "memory", before: "512", after: "2048"},
		{name: "cores", change: func(c *model.Container) { c.Resources.Cores = 4 }, action: ActionUpdate, field: "cores", before: "1", after: "4"},
		{name: "hostname", change: func(c *model.Container) { c.Hostname = "media-db" }, action: ActionUpdate, field: "hostname", before: "db", after: "media-db"},
		{name: "tags", change: func(c *model.Container) { c.Tags = []string{"x"} }, action: ActionUpdate, field: "tags", before: "lxcplan;media", after: "lxcplan;media;x"},
		{name: "tags by hand", edit: setOpt("tags", "lxcplan;media;mine"), action: ActionUpdate, field: "tags", before: "lxcplan;media;mine", after: "lxcplan;media", drift: true},
		{name: "onboot", change: func(c *model.Container) { c.OnBoot = true }, action: ActionUpdate, field: "onboot", before: "0", after: "1"},
		{name: "protection", change: func(c *model.Container) { c.Protection = true }, action: ActionUpdate, field: "protection", before: "0", after: "1"},
		{name: "startup", change: func(c *model.Container) { c.Startup.Order = pve.Int(3) }, action: ActionUpdate, field: "startup", after: "order=3"},
		{name: "net ip", change: func(c *model.Container) { c.Network.IP = "10.20.0.9/24" }, action: ActionUpdate, field: "net0.ip", before: "dhcp", after: "10.20.0.9/24"},
		{name: "net mac declared", change: func(c *model.Container) { c.Network.MAC = "bc:24:11:00:00:01" }, action: ActionUpdate, field: "net0.hwaddr", before: "BC:24:11:5E:0A:60", after: "BC:24:11:00:00:01"},
		{name: "features", change: func(c *model.Container) { c.Features.Fuse = true }, action: ActionUpdateRestart, field: "features.fuse", after: "1", restart: true},
		{name: "features drift", edit: setOpt("features", "nesting=1,keyctl=1"), action: ActionUpdateRestart, field: "features.keyctl", before: "1", drift: true, restart: true},
		{name: "timezone", change: func(c *model.Container) { c.Timezone = "Europe/Paris" }, action: ActionUpdateRestart, field: "timezone", after: "Europe/Paris", restart: true},
		{name: "nameserver", change: func(c *model.Container) { c.Nameserver = "1.1.1.1" }, action: ActionUpdateRestart, field: "nameserver", after: "1.1.1.1", restart: true},
		{name: "new mount", change: func(c *model.Container) {
			c.Mounts = []model.Mount{{HostPath: "/tank", Path: "/tank"}}
		}, action: ActionUpdate, field: "mp0", after: "/tank,mp=/tank"},
		{name: "new device", change: func(c *model.Container) { c.Tun = true }, action: ActionUpdate, field: "dev0", after: "/dev/net/tun"},
		{name: "disk grow", change: func(c *model.Container) { c.Resources.Disk = 8 }, action: ActionUpdate, field: "rootfs.size", before: "4G", after: "8G"},
		{name: "host changed", change: func(c *model.Container) { c.Host = "pve2" }, action: ActionMigrate, field: "node", before: "pve1", after: "pve2"},
		{name: "recipe version", change: func(c *model.Container) { c.Loaded.Version = "1.1.0" }, action: ActionUpgrade, field: "recipe.version", before: "1.0.0", after: "1.1.0"},
		{name: "install step", change: func(c *model.Container) { c.Loaded.Install[2].Service.State = "started" }, action: ActionReprovision, field: "install.steps", before: "3 steps recorded", after: "re-run from step 3"},
		{name: "param", change: func(c *model.Container) {
			c.Params["maxmemory"] = model.ResolvedParam{Value: "512mb", Type: model.ParamString}
		}, action: ActionReprovision, field: "install.steps", before: "3 steps recorded", after: "re-run from step 2"},
		{name: "template version", change: func(c *model.Container) { c.Version = "13" }, action: ActionReplace, field: "template", before: "debian 12 (amd64)", after: "debian 13 (amd64)"},
		{name: "unprivileged", change: func(c *model.Container) { c.Unprivileged = false }, action: ActionReplace, field: "unprivileged", before: "1", after: "0"},
		{name: "rootfs storage", change: func(c *model.Container) { c.Storage = "fast" }, action: ActionReplace, field: "rootfs.storage", before: "local-lvm", after: "fast"},
		{name: "interrupted create", edit: func(ct *inventory.Container) {
			m, _ := ParseMarker(ct.Config.Description)
			m.State = StateCreating
			ct.Config.Description = m.Render("")
		}, action: ActionReplace},
		{name: "user text edited", edit: func(ct *inventory.Container) {
			_, m, _ := SplitDescription(ct.Config.Description)
			ct.Config.Description = m.Render("my notes: keep me")
		}, action: ActionNoOp},
		{name: "pending change", edit: func(ct *inventory.Container) {
			ct.Config.Pending = pve.NewSection()
			ct.Config.Pending.Set("memory", "2048")
		}, change: func(c *model.Container) { c.Resources.Memory = 2048 }, action: ActionUpdateRestart, field: "memory", before: "512", after: "2048", restart: true},
		{name: "pending change reverted in stack", edit: func(ct *inventory.Container) {
			ct.Config.Pending = pve.NewSection()
			ct.Config.Pending.Set("memory", "2048")
		}, action: ActionUpdateRestart, field: "memory", before: "2048", after: "512", restart: true, drift: true},
		{name: "hand-added option ignored", edit: setOpt("cpulimit", "2"), action: ActionNoOp},
		{name: "hwaddr not declared ignored", edit: setOpt("net0", "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:FF:FF:FF,ip=dhcp,type=veth"), action: ActionNoOp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := base()
			w := newWorld()
			ct := w.applyCreate(t, d, "db", 210, "pve1")
			if tc.edit != nil {
				tc.edit(ct)
				refresh(t, ct)
			}
			if tc.change != nil {
				tc.change(d.Containers[0])
			}
			p, ds := plan(t, d, w)
			if ds.HasErrors() {
				t.Fatalf("diagnostics: %v", ds)
			}
			ch := find(t, p, "db")
			if ch.Action != tc.action {
				t.Fatalf("action %s (%s), want %s; fields %+v", ch.Action, ch.Reason, tc.action, ch.Fields)
			}
			if ch.Rollback != RollbackOf(tc.action) || ch.Destructive != tc.action.Destructive() {
				t.Errorf("rollback %s destructive %v", ch.Rollback, ch.Destructive)
			}
			if ch.Drift != tc.drift || ch.Restart != tc.restart {
				t.Errorf("drift %v restart %v, want %v %v", ch.Drift, ch.Restart, tc.drift, tc.restart)
			}
			if tc.field != "" {
				f := changeField(ch, tc.field)
				if f == nil {
					t.Fatalf("no field %s in %+v", tc.field, ch.Fields)
				}
				want := func(s string) string {
					if s == "" {
						return "<nil>"
					}
					return s
				}
				if str(f.Before) != want(tc.before) || str(f.After) != want(tc.after) {
					t.Errorf("%s: %s → %s, want %s → %s", tc.field, str(f.Before), str(f.After), want(tc.before), want(tc.after))
				}
			}
			if ch.Action != ActionNoOp && (ch.Apply == nil || ch.Base == nil || ch.Base.Digest == "") {
				t.Errorf("apply inputs or base missing: %+v", ch)
			}
			if tc.action == ActionMigrate && ch.TargetNode != "pve2" {
				t.Errorf("target node %q", ch.TargetNode)
			}
			if tc.action == ActionUpgrade && (len(ch.Steps) != 1 || ch.Steps[0].Phase != "update") {
				t.Errorf("upgrade steps %+v", ch.Steps)
			}
			if tc.action == ActionReprovision && ch.Apply.FromStep != ch.Steps[0].Index {
				t.Errorf("from step %d, steps %+v", ch.Apply.FromStep, ch.Steps)
			}
			if tc.action == ActionReplace && (ch.Template == nil || len(ch.Steps) != 3) {
				t.Errorf("replace template/steps %+v %+v", ch.Template, ch.Steps)
			}
		})
	}
}

func setOpt(k, v string) func(*inventory.Container) {
	return func(ct *inventory.Container) { ct.Config.Set(k, v) }
}

// refresh re-renders a hand-edited container config as PVE would.
func refresh(t *testing.T, ct *inventory.Container) {
	t.Helper()
	text := string(ct.Config.Bytes())
	cfg, err := pve.ParseConfig([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ct.ConfigText, ct.Config, ct.Digest = text, cfg, pve.Digest([]byte(text))
	ct.Tags = strings.Split(cfg.Options["tags"], ";")
}

func TestDiskShrinkIsAnError(t *testing.T) {
	d := desired(ctr("db"))
	w := newWorld()
	w.applyCreate(t, d, "db", 210, "pve1")
	d.Containers[0].Resources.Disk = 2
	p, ds := plan(t, d, w)
	if !hasDiag(ds, diag.SevError, diag.ClassInput, "rootfs cannot shrink from 4G to 2G") {
		t.Fatalf("diagnostics: %v", ds)
	}
	if ch := find(t, p, "db"); ch.Action == ActionReplace {
		t.Error("a shrink must never be a replace")
	}
}

func TestHAMovedIsNotAChange(t *testing.T) {
	d := desired(ctr("db"))
	w := newWorld()
	ct := w.applyCreate(t, d, "db", 210, "pve2") // HA moved it to pve2
	ct.HAState = "started"
	p, _ := plan(t, d, w)
	if ch := find(t, p, "db"); ch.Action != ActionNoOp {
		t.Errorf("HA-managed container on another node: %s (%s)", ch.Action, ch.Reason)
	}
}

func TestDependencyAddressReprovisionsDependent(t *testing.T) {
	d := desired(ctr("db", func(c *model.Container) { c.Network.IP = "10.20.0.50/24" }), appCtr("app"))
	w := newWorld()
	w.applyCreate(t, d, "db", 210, "pve1")
	w.applyCreate(t, d, "app", 211, "pve1")
	if p, _ := plan(t, d, w); p.HasChanges() {
		t.Fatalf("not converged: %+v", p.Changes)
	}
	d.Container("db").Network.IP = "10.20.0.60/24"
	p, _ := plan(t, d, w)
	app := find(t, p, "app")
	if app.Action != ActionReprovision || app.Apply.FromStep != 1 {
		t.Errorf("app: %s from %d (%s)", app.Action, app.Apply.FromStep, app.Reason)
	}
	if db := find(t, p, "db"); db.Action != ActionUpdate {
		t.Errorf("db: %s", db.Action)
	}
}

func TestSecretChangeNeedsKey(t *testing.T) {
	d := desired(ctr("db", func(c *model.Container) { c.Network.IP = "10.20.0.50/24" }), appCtr("app"))
	w := newWorld()
	w.applyCreate(t, d, "db", 210, "pve1")
	w.applyCreate(t, d, "app", 211, "pve1")
	d.Container("app").Params["db_password"] = model.ResolvedParam{Value: "another-secret", Type: model.ParamSecret, Secret: true}
	p, _ := plan(t, d, w)
	if app := find(t, p, "app"); app.Action != ActionReprovision {
		t.Errorf("with key: %s", app.Action)
	}
	p, ds := plan(t, d, w, func(o *Options) { o.SecretKey = nil })
	if app := find(t, p, "app"); app.Action != ActionNoOp {
		t.Errorf("without key: %s (%s)", app.Action, app.Reason)
	}
	if !hasDiag(ds, diag.SevWarning, diag.ClassHost, "secret key is not available") {
		t.Errorf("no warning: %v", ds)
	}
}

func TestDestroyOnlyMarkedInReverseOrder(t *testing.T) {
	d := desired(ctr("db"), appCtr("app"), ctr("cache"))
	w := newWorld()
	w.applyCreate(t, d, "db", 210, "pve1")
	w.applyCreate(t, d, "app", 211, "pve1")
	w.applyCreate(t, d, "cache", 212, "pve1")
	// Unmarked guests and another stack's container are never touched.
	cfg := pve.NewConfig()
	cfg.Set("hostname", "hand")
	cfg.Set("tags", "lxcplan;media")
	w.add(t, 300, "pve1", cfg)
	other := pve.NewConfig()
	other.Set("hostname", "x")
	other.Set("tags", "lxcplan;other")
	other.Description = (&Marker{Stack: "other", Container: "x", State: StateReady}).Render("")
	w.add(t, 301, "pve1", other)

	p, _ := plan(t, desired(ctr("cache")), w)
	var got []string
	for _, ch := range p.Changes {
		got = append(got, ch.Container+":"+string(ch.Action))
	}
	want := "cache:no-op app:destroy db:destroy"
	if strings.Join(got, " ") != want {
		t.Errorf("changes %v, want %s", got, want)
	}
	app := find(t, p, "app")
	if !app.Destructive || app.Rollback != RollbackNone || app.VMID != 211 || app.Host != "pve1" || app.Base == nil {
		t.Errorf("app destroy: %+v", app)
	}
	if !p.Destructive || p.Summary.Destroy != 2 || p.Summary.NoOp != 1 {
		t.Errorf("summary %+v destructive %v", p.Summary, p.Destructive)
	}
}

func TestConflictsWithUnmarkedGuests(t *testing.T) {
	w := newWorld()
	cfg := pve.NewConfig()
	cfg.Set("hostname", "db")
	cfg.Set("net0", "name=eth0,bridge=vmbr0,ip=10.20.0.50/24,type=veth")
	w.add(t, 210, "pve1", cfg)
	d := desired(ctr("db", func(c *model.Container) { c.VMID = 210; c.Network.IP = "10.20.0.50/24" }))
	p, ds := plan(t, d, w)
	for _, want := range []string{"vmid 210 is already used", "hostname db is already used", "address 10.20.0.50 is already used"} {
		if !hasDiag(ds, diag.SevError, diag.ClassHost, want) {
			t.Errorf("missing %q in %v", want, ds)
		}
	}
	if ch := find(t, p, "db"); ch.Action != ActionCreate {
		t.Errorf("action %s", ch.Action)
	}
	if err := ds.Err(); err == nil || err.(*diag.Error).Class() != diag.ClassHost {
		t.Errorf("exit class: %v", err)
	}
}

func TestUnreachableHostIsUnknownNotCreate(t *testing.T) {
	w := newWorld()
	w.s.Hosts["pve2"].Reachable = false
	w.s.Hosts["pve2"].Error = "dial tcp: connection refused"
	w.s.Hosts["pve2"].Cluster = ""
	w.s.Clusters[0].Error = "no reachable member"
	d := desired(ctr("db", func(c *model.Container) { c.Host = "pve2" }))
	p, ds := plan(t, d, w)
	ch := find(t, p, "db")
	if ch.Action == ActionCreate || !ch.Unknown {
		t.Errorf("unreachable: %+v", ch)
	}
	if !ds.HasErrors() {
		t.Error("no error diagnostic")
	}
}

func TestTargets(t *testing.T) {
	d := desired(ctr("db"), appCtr("app"), ctr("cache"))
	p, _ := plan(t, d, newWorld(), func(o *Options) { o.Targets = []string{"app"} })
	var got []string
	for _, ch := range p.Changes {
		got = append(got, ch.Container)
	}
	if strings.Join(got, ",") != "db,app" {
		t.Errorf("targets: %v", got)
	}
}

func TestNewerCatalogTemplateIsNotAReplace(t *testing.T) {
	d := desired(ctr("db"))
	w := newWorld()
	w.applyCreate(t, d, "db", 210, "pve1")
	cat := map[string][]pve.AvailableTemplate{"pve1": {{Section: "system", Template: "debian-12-standard_12.12-1_amd64.tar.zst"}}}
	p, _ := plan(t, d, w, func(o *Options) { o.Catalog = cat })
	if ch := find(t, p, "db"); ch.Action != ActionNoOp {
		t.Errorf("%s: %s", ch.Action, ch.Reason)
	}
}

func TestUnreadableConfigOfTheStackBlocksCreate(t *testing.T) {
	w := newWorld()
	cl := w.cluster()
	cl.Containers = append(cl.Containers, &inventory.Container{VMID: 400, Node: "pve1", Tags: []string{"lxcplan", "media"}, ConfigError: "no such file"})
	p, _ := plan(t, desired(ctr("db")), w)
	if ch := find(t, p, "db"); ch.Action == ActionCreate || !ch.Unknown {
		t.Errorf("%+v", ch)
	}
}

func TestUnreadableClusterPlansNoDestroy(t *testing.T) {
	d := desired(ctr("db"), ctr("gone"))
	w := newWorld()
	w.applyCreate(t, d, "db", 210, "pve1")
	w.applyCreate(t, d, "gone", 211, "pve1")
	w.cluster().Error = "pvesh: connection closed"
	p, ds := plan(t, desired(ctr("db")), w)
	for _, ch := range p.Changes {
		if ch.Action == ActionDestroy || ch.Action == ActionCreate {
			t.Errorf("%s: %s", ch.Container, ch.Action)
		}
	}
	if !ds.HasErrors() {
		t.Error("no error for the unreadable cluster")
	}
}

func TestUnknownTarget(t *testing.T) {
	_, ds := plan(t, desired(ctr("db")), newWorld(), func(o *Options) { o.Targets = []string{"nope"} })
	if !hasDiag(ds, diag.SevError, diag.ClassUsage, "--target nope") {
		t.Errorf("%v", ds)
	}
}

func TestDuplicateOwnedContainer(t *testing.T) {
	d := desired(ctr("db"))
	w := newWorld()
	w.applyCreate(t, d, "db", 210, "pve1")
	w.applyCreate(t, d, "db", 212, "pve2")
	p, ds := plan(t, d, w)
	if ch := find(t, p, "db"); !ch.Unknown || !hasDiag(ds, diag.SevError, diag.ClassHost, "exists more than once: 210 on pve1, 212 on pve2") {
		t.Errorf("%+v %v", ch, ds)
	}
}

func TestDeclaredDescription(t *testing.T) {
	d := desired(ctr("db", func(c *model.Container) { c.Description = "Redis for media" }))
	w := newWorld()
	ct := w.applyCreate(t, d, "db", 210, "pve1")
	if p, _ := plan(t, d, w); p.HasChanges() {
		t.Fatalf("not converged: %+v", p.Changes[0])
	}
	_, m, _ := SplitDescription(ct.Config.Description)
	ct.Config.Description = m.Render("edited by hand")
	refresh(t, ct)
	p, _ := plan(t, d, w)
	ch := find(t, p, "db")
	if ch.Action != ActionUpdate || ch.Apply.Description != "Redis for media" || changeField(ch, "description") == nil {
		t.Errorf("%+v", ch)
	}
}

func TestHA(t *testing.T) {
	d := desired(ctr("db", func(c *model.Container) { c.HA = &model.HA{State: "started", Group: "ha1"} }))
	p, _ := plan(t, d, newWorld())
	ch := find(t, p, "db")
	if ch.Apply.HA["state"] != "started" || ch.Apply.HA["group"] != "ha1" || changeField(ch, "ha.state") == nil {
		t.Fatalf("create: %+v", ch.Apply)
	}
	w := newWorld()
	ct := w.applyCreate(t, d, "db", 210, "pve1")
	ct.HAState = "started"
	if p, _ := plan(t, d, w); p.HasChanges() {
		t.Errorf("converged HA: %+v", p.Changes[0])
	}
	ct.HAState = "migrate" // transient: not a difference
	if p, _ := plan(t, d, w); p.HasChanges() {
		t.Errorf("transient HA state: %+v", p.Changes[0])
	}
	d.Containers[0].HA.State = "stopped"
	ct.HAState = "started"
	p, _ = plan(t, d, w)
	if ch := find(t, p, "db"); ch.Action != ActionUpdate || ch.Apply.HA["state"] != "stopped" {
		t.Errorf("state change: %+v", ch)
	}
}

func TestDescriptionTooLong(t *testing.T) {
	d := desired(ctr("db", func(c *model.Container) { c.Description = strings.Repeat("x", 8000) }))
	_, ds := plan(t, d, newWorld())
	if !hasDiag(ds, diag.SevError, diag.ClassInput, "PVE takes at most 8192") {
		t.Errorf("%v", ds)
	}
}
