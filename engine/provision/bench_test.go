package provision

import (
	"testing"

	"github.com/lxcplan/lxcplan/engine/manifest"
)

func BenchmarkExpand(b *testing.B) {
	c := testContainer("debian")
	v, err := NewValues(c, Self{IP: "10.77.0.200", Hostname: "web", VMID: 100}, map[string]string{"password": testSecret}, testDeps())
	if err != nil {
		b.Fatal(err)
	}
	const s = "# Written by lxcplan.\nbind * -::*\nrequirepass ${params.password}\nmaxmemory ${params.price}\nhost ${containers.db.ip} $$HOME ${HOME}\n"
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := v.Expand(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecipeOps translates every install step of the postgresql
// recipe (the longest built-in script) into commands.
func BenchmarkRecipeOps(b *testing.B) {
	r, ds := manifest.LoadBuiltinRecipe("postgresql", manifest.Options{UserDefaultsFile: "-"})
	if ds.HasErrors() {
		b.Fatal(ds.Err())
	}
	c := testContainer("debian")
	c.Params = nil
	v, err := NewValues(c, Self{IP: "10.77.0.200", Hostname: "db", VMID: 101}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	v.params = map[string]Output{"database": {Value: "app"}, "user": {Value: "app"}, "allowed_network": {Value: "all"}, "password": {Value: testSecret, Secret: true}}
	b.ReportAllocs()
	for b.Loop() {
		env := &stepEnv{vmid: 101, fam: famDebian, vals: v, st: &state{}}
		for _, s := range r.Install {
			if _, err := env.ops(s); err != nil {
				b.Fatal(err)
			}
		}
	}
}
