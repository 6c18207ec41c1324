package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/model"
)

func loadFull(t *testing.T, o Options) *model.Desired {
	t.Helper()
	st, ds := LoadStackFile("testdata/valid/full.yaml", o)
	if ds.HasErrors() {
		t.Fatalf("load: %v", ds.Err())
	}
	d, ds := Resolve(st, o)
	if ds.HasErrors() {
		t.Fatalf("resolve: %v", ds.Err())
	}
	return d
}

func TestResolveFull(t *testing.T) {
	d := loadFull(t, testOptions())
	if got := len(d.Containers); got != 7 {
		t.Fatalf("%d containers, want 7", got)
	}
	names := []string{}
	for _, c := range d.Containers {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "app,cache,db,edge,motd,tools,web" {
		t.Errorf("containers not sorted by name: %v", names)
	}
	db, app, cache, web, tools, motd := d.Container("db"), d.Container("app"), d.Container("cache"), d.Container("web"), d.Container("tools"), d.Container("motd")

	// Interpolation: .env supplies DB_VMID and MTU, the environment's PORT
	// wins over .env's, $$ is a literal $, a quoted .env value keeps spaces.
	if db.VMID != 210 || db.Network.MTU != 1500 || db.Description != "the database, $5 a month" {
		t.Errorf("db: vmid %d mtu %d description %q", db.VMID, db.Network.MTU, db.Description)
	}
	if web.Params["port"].Value != "8080" {
		t.Errorf("web port = %q, want 8080 from the environment", web.Params["port"].Value)
	}
	if motd.Params["greeting"].Value != "hello world" {
		t.Errorf("motd greeting = %q", motd.Params["greeting"].Value)
	}
	if app.Params["greeting"].Value != "hi there" || app.Params["db_host"].Value != "${containers.db.ip}" {
		t.Errorf("app params = %+v", app.Params)
	}
	// Precedence: container > stack defaults > recipe > built-in.
	checks := []struct {
		c           *model.Container
		field, want string
		got         any
		layer       model.Layer
	}{
		{db, "resources.memory", "2048", db.Resources.Memory, model.LayerContainer},
		{db, "resources.swap", "512", db.Resources.Swap, model.LayerBuiltin},
		{db, "storage", "local-zfs", db.Storage, model.LayerStackDefaults},
		{db, "host", "pve2", db.Host, model.LayerContainer},
		{web, "host", "pve1", web.Host, model.LayerStackDefaults},
		{web, "resources.memory", "256", web.Resources.Memory, model.LayerRecipe},
		{web, "hostname", "web", web.Hostname, model.LayerDerived},
		{cache, "unprivileged", "false", cache.Unprivileged, model.LayerContainer},
		{cache, "os", "alpine", cache.OS, model.LayerRecipe},
		{tools, "resources.swap", "256", tools.Resources.Swap, model.LayerContainer},
		{motd, "arch", "amd64", motd.Arch, model.LayerContainer},
		{db, "onboot", "true", db.OnBoot, model.LayerStackDefaults},
		{db, "network.bridge", "vmbr0", db.Network.Bridge, model.LayerStackDefaults},
		{db, "network.firewall", "true", db.Network.Firewall, model.LayerStackDefaults},
		{db, "tags", "[media]", db.Tags, model.LayerStackDefaults},
	}
	for _, c := range checks {
		if got := fmtAny(c.got); got != c.want {
			t.Errorf("%s.%s = %s, want %s", c.c.Name, c.field, got, c.want)
		}
		if src := c.c.Provenance[c.field]; src.Layer != c.layer {
			t.Errorf("%s.%s comes from %v (%s), want layer %v", c.c.Name, c.field, src.Layer, src, c.layer)
		}
	}
	if src := d.Provenance["containers.db.resources.memory"].String(); src != "stack containers.db (testdata/valid/full.yaml:25)" {
		t.Errorf("provenance of db memory = %q", src)
	}
	if app.Loaded != nil || len(app.Mounts) != 2 || !app.Mounts[0].IsBind() || app.Mounts[1].Size != 50 {
		t.Errorf("app = %+v", app)
	}
	if len(app.DependsOn) != 2 || app.DependsOn[0] != (model.Dependency{Name: "cache", Condition: model.CondStarted, Pos: app.DependsOn[0].Pos}) ||
		app.DependsOn[1].Condition != model.CondHealthy {
		t.Errorf("app depends_on = %+v", app.DependsOn)
	}
	edge := d.Container("edge")
	if edge.Network.IP6 != "fd00:20::10/64" || edge.Network.Rate != 12.5 || edge.Network.IP != "manual" ||
		len(edge.ExtraNetworks) != 1 || edge.ExtraNetworks[0].VLAN != 300 || edge.ExtraNetworks[0].MTU != 9000 ||
		len(edge.Mounts) != 1 || !edge.Mounts[0].Shared || edge.Mounts[0].Backup == nil || *edge.Mounts[0].Backup ||
		len(edge.Devices) != 1 || edge.Devices[0].UID == nil || *edge.Devices[0].UID != 0 ||
		edge.Startup.Down == nil || *edge.Startup.Down != 60 || edge.HA == nil || *edge.HA.MaxRelocate != 3 || edge.HA.State != "stopped" ||
		edge.Features.Nesting || !edge.Features.Keyctl || edge.TemplateStorage != "nfs-templates" || edge.Description != "every remaining field\n" {
		t.Errorf("edge = %+v", edge)
	}
	if g := db.Params["password"]; g.Generate == nil || g.Generate.Length != 24 || !g.Secret {
		t.Errorf("db password = %+v", g)
	}
}

func fmtAny(v any) string {
	switch t := v.(type) {
	case []string:
		return "[" + strings.Join(t, ",") + "]"
	}
	return fmt.Sprint(v)
}

func TestSetsAndUserDefaults(t *testing.T) {
	dir := t.TempDir()
	ud := filepath.Join(dir, "defaults.yaml")
	if err := os.WriteFile(ud, []byte("storage: tank\nresources: {memory: 777}\nnetwork: {bridge: vmbr7}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := testOptions()
	o.UserDefaultsFile = ud
	o.Sets = []string{"db.memory=4096", "db.network.ip=10.20.0.99/24", "web.params.port=9090", "cache.tags=[x, y]"}
	d := loadFull(t, o)
	db, web, cache, tools := d.Container("db"), d.Container("web"), d.Container("cache"), d.Container("tools")
	if db.Resources.Memory != 4096 || db.Provenance["resources.memory"].Label != "--set db.memory=4096" {
		t.Errorf("db memory %d from %s", db.Resources.Memory, db.Provenance["resources.memory"])
	}
	if db.Network.IP != "10.20.0.99/24" || web.Params["port"].Value != "9090" || strings.Join(cache.Tags, ",") != "x,y" {
		t.Errorf("sets not applied: %s %s %v", db.Network.IP, web.Params["port"].Value, cache.Tags)
	}
	// User defaults sit below the recipe and the stack defaults.
	if tools.Resources.Memory != 777 || tools.Provenance["resources.memory"].String() != "user defaults ("+ud+":2)" {
		t.Errorf("tools memory %d from %s", tools.Resources.Memory, tools.Provenance["resources.memory"])
	}
	if web.Resources.Memory != 256 || db.Storage != "local-zfs" || db.Network.Bridge != "vmbr0" {
		t.Errorf("user defaults must not beat recipe/stack: %d %s %s", web.Resources.Memory, db.Storage, db.Network.Bridge)
	}
}

func TestSetErrors(t *testing.T) {
	o := testOptions()
	st, ds := LoadStackFile("testdata/valid/full.yaml", o)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	tests := []struct{ set, want string }{
		{"db.memory", "--set db.memory: missing =VALUE"},
		{"memory=1", "--set memory=1: the path must be CONTAINER.FIELD"},
		{"ghost.memory=1", `--set ghost.memory=1: no container named "ghost" in the stack`},
		{"db.colour=red", `--set db.colour=red: unknown field "colour"`},
		{"db.memory=lots", "--set db.memory=lots: must be an integer, not a string"},
		{"db.unprivileged=maybe", "--set db.unprivileged=maybe: must be true or false, not a string"},
		{"db.params.nope=1", `--set db.params.nope=1: unknown param "nope" of recipe db`},
		{"db.params.max_connections=x", `--set db.params.max_connections=x: must be an integer, not "x"`},
		{"db.mounts=[]", `--set db.mounts=[]: unknown field "mounts"`},
		{"db.memory=8", "--set db.memory=8: must be at least 16"},
		{"db.network.ip=10.0.0.1", "--set db.network.ip=10.0.0.1: must be dhcp, manual or an IPv4 address with a prefix length from 8 to 32, like 10.20.0.50/24"},
		{"db.memory=[1", "--set db.memory=[1: invalid value: line 1: did not find expected ',' or ']'"},
	}
	for _, tt := range tests {
		o.Sets = []string{tt.set}
		_, ds := Resolve(st, o)
		if len(ds) != 1 || ds[0].Error() != tt.want || ds[0].Class != diag.ClassUsage {
			t.Errorf("--set %s: got %q, want %q (usage)", tt.set, lines(ds), tt.want)
		}
	}
}

func TestUserDefaultsProblems(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "defaults.yaml")
	if err := os.WriteFile(bad, []byte("storage: [x]\nvmid: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ file, want string }{
		{filepath.Join(dir, "missing.yaml"), filepath.Join(dir, "missing.yaml") + ": file does not exist"},
		{bad, bad + ":1:10: storage: must be a string, not a list\n" + bad + `:2:1: vmid: unknown field "vmid"`},
	} {
		o := testOptions()
		o.UserDefaultsFile = tt.file
		_, ds := LoadStackFile("testdata/valid/minimal.yaml", o)
		if got := strings.Join(lines(ds), "\n"); got != tt.want {
			t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
		}
	}
	// The default location is optional.
	t.Setenv("XDG_CONFIG_HOME", dir)
	o := testOptions()
	o.UserDefaultsFile = ""
	if _, ds := LoadStackFile("testdata/valid/minimal.yaml", o); len(ds) != 0 {
		t.Errorf("missing default user defaults file: %v", ds)
	}
	if got := DefaultUserDefaultsFile(); got != filepath.Join(dir, "lxcplan", "defaults.yaml") {
		t.Errorf("DefaultUserDefaultsFile = %s", got)
	}
}

func TestCyclesDeterministic(t *testing.T) {
	st := &model.Stack{Containers: map[string]*model.StackContainer{}}
	deps := map[string][]string{"e": {"d"}, "d": {"e"}, "c": {"a"}, "b": {"c"}, "a": {"b"}, "f": {"a"}}
	for n, ds := range deps {
		c := &model.StackContainer{Name: n}
		for _, d := range ds {
			c.DependsOn = append(c.DependsOn, model.Dependency{Name: d})
		}
		st.Containers[n] = c
	}
	st.ContainerNames = sortedKeys(st.Containers)
	var got []string
	for _, c := range cycles(st) {
		got = append(got, strings.Join(c, " -> "))
	}
	want := "a -> b -> c -> a|d -> e -> d"
	if strings.Join(got, "|") != want {
		t.Errorf("cycles = %q, want %q", got, want)
	}
}

func TestBuiltinRecipeNames(t *testing.T) {
	fsys := fstest.MapFS{
		"redis/recipe.yaml":        {Data: []byte("x")},
		"nginx/recipe.yaml":        {Data: []byte("x")},
		"nginx/files/site.conf":    {Data: []byte("x")},
		"notarecipe/README.md":     {Data: []byte("x")},
		"README.md":                {Data: []byte("x")},
		"weird/recipe.yaml/x.yaml": {Data: []byte("x")},
	}
	names, err := BuiltinRecipeNames(fsys)
	if err != nil || strings.Join(names, ",") != "nginx,redis" {
		t.Errorf("BuiltinRecipeNames = %v, %v", names, err)
	}
}

// Every recipe of the shipped library loads without problems.
func TestShippedRecipes(t *testing.T) {
	o := Options{}
	names, err := BuiltinRecipeNames(o.builtin())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		r, ds := loadBuiltinRecipe(o.builtin(), n)
		if len(ds) > 0 || r == nil || r.Name != n {
			t.Errorf("recipe %s: %v", n, lines(ds))
		}
	}
}
