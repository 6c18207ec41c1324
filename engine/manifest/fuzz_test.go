package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedFiles adds every YAML test file to the fuzz corpus, so plain `go test`
// runs the fuzz targets over all of them.
func seedFiles(f *testing.F) {
	for _, pattern := range []string{"testdata/*/*.yaml", "testdata/*/*/*.yaml", "testdata/*/*/*/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("containers: {x: {recipe: db, vmid: ${X:-1}, params: {p: \"${containers.x.ip}\"}}}"))
	f.Add([]byte("\xef\xbb\xbfkind: Stack\n"))
}

func FuzzLoadStack(f *testing.F) {
	seedFiles(f)
	o := testOptions()
	o.Sets = []string{"db.memory=4096", "web.network.ip=10.0.0.9/24"}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, ds := loadStack("testdata/valid/fuzz.yaml", data, o)
		for _, d := range ds {
			if d.Summary == "" {
				t.Errorf("empty diagnostic %+v", d)
			}
		}
		if st != nil {
			if _, rds := Resolve(st, o); rds == nil && false {
				t.Log(rds)
			}
		}
	})
}

func FuzzLoadRecipe(f *testing.F) {
	seedFiles(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, ds := parseRecipe("recipe.yaml", data, func(string) bool { return true })
		for _, d := range ds {
			if d.Summary == "" {
				t.Errorf("empty diagnostic %+v", d)
			}
		}
	})
}

// BenchmarkValidate500RecipesAnd300Containers validates a library of 500
// recipes and a 300-container stack using them, the size of a large
// homelab monorepo. The schemas are compiled once, outside the loop.
func BenchmarkValidate500RecipesAnd300Containers(b *testing.B) {
	dir := b.TempDir()
	lib := filepath.Join(dir, "lib")
	var recipeFiles []string
	for i := 0; i < 500; i++ {
		name := fmt.Sprintf("app%03d", i)
		if err := os.MkdirAll(filepath.Join(lib, name, "files"), 0o755); err != nil {
			b.Fatal(err)
		}
		file := filepath.Join(lib, name, "recipe.yaml")
		if err := os.WriteFile(file, []byte(benchRecipe(name)), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(lib, name, "files", "app.conf"), []byte("x\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		recipeFiles = append(recipeFiles, file)
	}
	var sb strings.Builder
	sb.WriteString("apiVersion: lxcplan/v1\nkind: Stack\nname: big\nhosts:\n  pve1: {address: pve1.lan}\n  pve2: {address: pve2.lan}\ndefaults:\n  host: pve1\n  network: {bridge: vmbr0}\ncontainers:\n")
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&sb, "  c%03d:\n    recipe: app%03d\n    vmid: %d\n    resources: {cores: 2, memory: 1024}\n", i, i, 1000+i)
		fmt.Fprintf(&sb, "    network: {ip: 10.%d.%d.10/24, gw: 10.%d.%d.1, vlan: 20}\n", i/200, i%200, i/200, i%200)
		fmt.Fprintf(&sb, "    params: {port: %d, name: \"${NAME:-app}\"", 8000+i)
		if i > 0 {
			fmt.Fprintf(&sb, ", peer: \"${containers.c%03d.ip}\"}\n    depends_on: [c%03d]\n", i-1, i-1)
		} else {
			sb.WriteString("}\n")
		}
	}
	stack := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(stack, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	o := Options{Env: map[string]string{}, UserDefaultsFile: "-", BuiltinRecipes: os.DirFS(lib)}
	// Compile the schemas before timing (the stack's too).
	for _, f := range []string{recipeFiles[0], stack} {
		if ds := ValidateFile(f, o); len(ds) > 0 {
			b.Fatal(ds.Err())
		}
	}
	b.ResetTimer()
	start := cpuTime()
	n := 0
	for b.Loop() {
		n++
		// The recipes go through ValidateFiles, as `lxcplan validate
		// FILE...` does.
		for _, ds := range ValidateFiles(recipeFiles, o) {
			if len(ds) > 0 {
				b.Fatal(ds.Err())
			}
		}
		st, ds := LoadStackFile(stack, o)
		if len(ds) > 0 {
			b.Fatal(ds.Err())
		}
		if _, ds := Resolve(st, o); len(ds) > 0 {
			b.Fatal(ds.Err())
		}
	}
	if used := cpuTime() - start; used > 0 && n > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(n), "cpu-ns/op")
	}
}

func benchRecipe(name string) string {
	return `apiVersion: lxcplan/v1
kind: Recipe
name: ` + name + `
version: 1.0.0
description: generated for the benchmark
container:
  os: debian
  version: "12"
  cores: 1
  memory: 512
  disk: 4
  features: {nesting: true}
  ports: [8080]
params:
  port: {type: int, default: 8080, min: 1, max: 65535}
  name: {type: string, default: app}
  peer: {type: string}
  password: {type: secret, generate: {length: 24}}
install:
  - apt: [curl, ca-certificates]
  - file: {path: /etc/app/app.conf, source: files/app.conf, mode: "0644"}
  - file: {path: /etc/app/env, content: "PORT=${params.port}\nNAME=${params.name}\nPEER=${params.peer}\n"}
  - run: {script: "systemctl daemon-reload", timeout: 5m}
  - service: {name: app, enable: true, state: started}
health:
  http: {port: 8080, path: /health}
outputs:
  url: "http://${container.ip}:${params.port}/"
`
}
