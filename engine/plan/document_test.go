package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/schema"
)

var update = flag.Bool("update", false, "rewrite golden files")

// scenarios are the golden plans: each builds a desired state and a world.
var scenarios = []struct {
	name  string
	build func(t *testing.T) (*model.Desired, *world, Options)
}{
	{"create", func(t *testing.T) (*model.Desired, *world, Options) {
		return twoTier(), newWorld(), Options{}
	}},
	{"no-changes", func(t *testing.T) (*model.Desired, *world, Options) {
		d := twoTier()
		return d, applied(t, d), Options{}
	}},
	{"drift", func(t *testing.T) (*model.Desired, *world, Options) {
		d := twoTier()
		w := applied(t, d)
		ct := w.cluster().Container(210)
		ct.Config.Set("memory", "4096")
		refresh(t, ct)
		return d, w, Options{}
	}},
	{"replace-template", func(t *testing.T) (*model.Desired, *world, Options) {
		d := twoTier()
		w := applied(t, d)
		d.Container("db").Version = "13"
		return d, w, Options{Catalog: map[string][]pve.AvailableTemplate{"pve1": {
			{Section: "system", Template: "debian-13-standard_13.1-1_amd64.tar.zst"},
			{Section: "system", Template: "debian-12-standard_12.7-1_amd64.tar.zst"},
		}}}
	}},
	{"destroy", func(t *testing.T) (*model.Desired, *world, Options) {
		d := twoTier()
		w := applied(t, d)
		return desired(ctr("db", dbSettings)), w, Options{}
	}},
	{"reprovision", func(t *testing.T) (*model.Desired, *world, Options) {
		d := twoTier()
		w := applied(t, d)
		d.Container("db").Loaded.Install[0].Packages = []string{"redis-server", "redis-tools"}
		return d, w, Options{}
	}},
	{"upgrade", func(t *testing.T) (*model.Desired, *world, Options) {
		d := twoTier()
		w := applied(t, d)
		d.Container("db").Loaded.Version = "1.1.0"
		return d, w, Options{}
	}},
	{"migrate", func(t *testing.T) (*model.Desired, *world, Options) {
		d := twoTier()
		w := applied(t, d)
		d.Container("db").Host = "pve2"
		return d, w, Options{}
	}},
	{"vmid-taken", func(t *testing.T) (*model.Desired, *world, Options) {
		w := newWorld()
		cfg := pve.NewConfig()
		cfg.Set("hostname", "legacy")
		w.add(t, 210, "pve1", cfg)
		return twoTier(), w, Options{}
	}},
	{"interrupted-create", func(t *testing.T) (*model.Desired, *world, Options) {
		d := twoTier()
		w := applied(t, d)
		ct := w.cluster().Container(211)
		m, _ := ParseMarker(ct.Config.Description)
		m.State = StateCreating
		ct.Config.Description = m.Render("")
		refresh(t, ct)
		return d, w, Options{}
	}},
	{"preflight", func(t *testing.T) (*model.Desired, *world, Options) {
		w := newWorld()
		w.s.Hosts["pve1"].Templates = map[string][]string{}
		w.addGuest(inventory.Guest{VMID: 500, Type: "qemu", Node: "pve2", Name: "router", IPs: []string{"10.20.0.1", "10.20.0.99"}})
		d := desired(
			ctr("a", func(c *model.Container) { c.Storage = "nope" }),
			ctr("b", func(c *model.Container) { c.Storage = "local"; c.Network.Bridge = "vmbr9" }),
			ctr("c", func(c *model.Container) { c.Network.IP = "10.20.0.99/24"; c.Features.Mount = []string{"nfs"} }),
			ctr("d", func(c *model.Container) { c.Resources.Disk = 100; c.OS = "alpine"; c.Version = "3.20" }),
		)
		return d, w, Options{Catalog: map[string][]pve.AvailableTemplate{"pve1": {{Section: "system", Template: "debian-12-standard_12.7-1_amd64.tar.zst"}}}}
	}},
	{"unreachable", func(t *testing.T) (*model.Desired, *world, Options) {
		d := twoTier()
		w := applied(t, d)
		h := w.s.Hosts["pve2"]
		h.Reachable, h.Error = false, "dial tcp 192.0.2.7:22: connect: connection refused"
		d.Container("db").Host = "pve2"
		w.s.Clusters[0].Hosts = []string{"pve1"}
		h.Cluster = ""
		return d, w, Options{}
	}},
}

func dbSettings(c *model.Container) {
	c.VMID = 210
	c.Network.IP, c.Network.GW = "10.20.0.50/24", "10.20.0.1"
	c.Resources = model.Resources{Cores: 2, Memory: 2048, Swap: 512, Disk: 16}
	c.Mounts = []model.Mount{{Storage: "local-lvm", Size: 8, Path: "/data", Backup: boolp(true)}}
}

func boolp(b bool) *bool { return &b }

func twoTier() *model.Desired {
	return desired(ctr("db", dbSettings), appCtr("app", func(c *model.Container) {
		c.VMID = 211
		c.Tags = []string{"web"}
		c.OnBoot = true
		c.Startup = model.Startup{Order: pve.Int(2), Up: pve.Int(30)}
		c.Mounts = []model.Mount{{HostPath: "/tank/photos", Path: "/photos", ReadOnly: true}}
		c.HA = &model.HA{State: "started", Group: "ha1"}
		c.Description = "Photo app: front end"
	}))
}

func applied(t *testing.T, d *model.Desired) *world {
	w := newWorld()
	w.applyCreate(t, d, "db", 210, "pve1")
	w.applyCreate(t, d, "app", 211, "pve1")
	return w
}

func render(t *testing.T, p *Plan) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := p.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// planViolations checks a plan document against schema.Plan (what
// `lxcplan schema plan` prints) through the schema package, which owns the
// JSON Schema validator.
func planViolations(t *testing.T, b []byte) []schema.Violation {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("plan is not JSON: %v", err)
	}
	return schema.Validate(schema.Plan, v)
}

func validate(t *testing.T, b []byte) {
	t.Helper()
	if vs := planViolations(t, b); len(vs) != 0 {
		t.Errorf("plan does not validate against plan.schema.json: %+v", vs)
	}
}

// TestGolden renders every scenario, compares it with testdata/<name>.json,
// validates it against the schema, and checks it is byte-identical when
// planned again and free of secret values.
func TestGolden(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			d, w, o := sc.build(t)
			o.SecretKey, o.StackFile = testKey, "stack.yaml"
			p, _ := Diff(d, w.s, o)
			got := render(t, p)
			p2, _ := Diff(d, w.s, o)
			if again := render(t, p2); !bytes.Equal(got, again) {
				t.Error("planning twice gave different bytes")
			}
			validate(t, got)
			for _, secret := range []string{"hunter2-literal-secret", "pve1.lan", "192.0.2.7"} {
				if bytes.Contains(got, []byte(secret)) {
					t.Errorf("plan contains %q", secret)
				}
			}
			rp, err := ReadPlan(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(render(t, rp), got) {
				t.Error("ReadPlan + WriteJSON does not round-trip")
			}
			file := filepath.Join("testdata", sc.name+".json")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test ./engine/plan -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file (run go test ./engine/plan -update and review):\n%s", file, got)
			}
		})
	}
}

func TestReadPlanVersions(t *testing.T) {
	for _, tc := range []struct {
		doc string
		ok  bool
	}{
		{`{"format_version":"1.0","stack":"x","changes":[]}`, true},
		{`{"format_version":"1.7","stack":"x","changes":[],"new_field":1}`, true},
		{`{"format_version":"2.0","stack":"x","changes":[]}`, false},
		{`{"stack":"x"}`, false},
		{`{"format_version":"1.0","changes":[{"action":"explode"}]}`, false},
		{`{"format_version":"1.0","changes":[null]}`, false},
		{`not json`, false},
	} {
		_, err := ReadPlan(strings.NewReader(tc.doc))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v", tc.doc, err)
		}
		if strings.Contains(tc.doc, "2.0") && !errors.Is(err, ErrFormatVersion) {
			t.Errorf("%s: want ErrFormatVersion, got %v", tc.doc, err)
		}
	}
}

func TestEmptyPlanDocument(t *testing.T) {
	p, ds := Diff(desired(), newWorld().s, Options{})
	if len(ds) != 0 {
		t.Fatal(ds)
	}
	got := render(t, p)
	validate(t, got)
	if !bytes.Contains(got, []byte(`"changes": []`)) || !bytes.Contains(got, []byte(`"format_version": "1.0"`)) {
		t.Errorf("empty plan:\n%s", got)
	}
}

// TestSchemaRejects checks the schema is not vacuous: broken documents fail.
func TestSchemaRejects(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "drift.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(string) string{
		"bad action": func(s string) string { return strings.Replace(s, `"action": "update"`, `"action": "delete"`, 1) },
		"bad rollback": func(s string) string {
			return strings.Replace(s, `"rollback": "revert-config"`, `"rollback": "pray"`, 1)
		},
		"major version": func(s string) string {
			return strings.Replace(s, `"format_version": "1.0"`, `"format_version": "2.0"`, 1)
		},
		"unknown field": func(s string) string {
			return strings.Replace(s, `"stack": "media",`, `"stack": "media", "address": "pve1.lan",`, 1)
		},
		"missing fields": func(s string) string { return strings.Replace(s, `"fields": [`, `"fieldz": [`, 1) },
		"negative count": func(s string) string { return strings.Replace(s, `"create": 0`, `"create": -1`, 1) },
	} {
		bad := edit(string(good))
		if bad == string(good) {
			t.Fatalf("%s: edit did not apply", name)
		}
		if len(planViolations(t, []byte(bad))) == 0 {
			t.Errorf("%s: the schema accepts it", name)
		}
	}
}

// TestDiagsRoundTrip checks a saved plan gives the CLI the same exit class.
func TestDiagsRoundTrip(t *testing.T) {
	d, w, o := scenarios[8].build(t) // vmid-taken
	p, ds := Diff(d, w.s, o)
	rp, err := ReadPlan(bytes.NewReader(render(t, p)))
	if err != nil {
		t.Fatal(err)
	}
	got := rp.Diags()
	if len(got) != len(ds) || got.Err() == nil || got.Err().(*diag.Error).Class() != diag.ClassHost {
		t.Errorf("diags %v vs %v", got, ds)
	}
	for i := range ds {
		if got[i].Severity != ds[i].Severity || got[i].Class != ds[i].Class || got[i].Summary != ds[i].Summary || got[i].Pos != ds[i].Pos {
			t.Errorf("diag %d: %+v vs %+v", i, got[i], ds[i])
		}
	}
}

// TestOfflinePlanMatches checks that planning from an exported inventory
// (inventory.WriteJSON, then ReadJSON) gives the same document as planning
// from the live state: the `plan --inventory` promise.
func TestOfflinePlanMatches(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			d, w, o := sc.build(t)
			o.SecretKey = testKey
			live, _ := Diff(d, w.s, o)
			var buf bytes.Buffer
			if err := w.s.WriteJSON(&buf); err != nil {
				t.Fatal(err)
			}
			st, err := inventory.ReadJSON(&buf)
			if err != nil {
				t.Fatal(err)
			}
			offline, _ := Diff(d, st, o)
			if !bytes.Equal(render(t, live), render(t, offline)) {
				t.Errorf("offline plan differs:\n%s", render(t, offline))
			}
		})
	}
}
