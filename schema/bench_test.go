package schema

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bigStack builds a stack of n containers that use most container fields.
func bigStack(n int) map[string]any {
	containers := map[string]any{}
	for i := range n {
		name := fmt.Sprintf("svc-%03d", i)
		c := map[string]any{
			"recipe":    "community/redis@1.2.0",
			"host":      fmt.Sprintf("pve%d", i%4),
			"vmid":      1000 + i,
			"hostname":  name + ".lan",
			"resources": map[string]any{"cores": 2, "memory": 2048, "swap": 512, "disk": 16.5},
			"tags":      []any{"bench", "svc"},
			"network": map[string]any{
				"bridge": "vmbr0", "ip": fmt.Sprintf("10.%d.%d.%d/16", i/65536, (i/250)%256, i%250+1),
				"gw": "10.0.0.1", "vlan": 20, "mtu": 1500, "mac": fmt.Sprintf("BC:24:11:00:%02X:%02X", i/256, i%256),
				"ip6": "auto", "firewall": true,
			},
			"extra_networks": []any{map[string]any{"name": "eth1", "bridge": "vmbr1", "ip": "dhcp"}},
			"mounts": []any{
				map[string]any{"host_path": "/tank/data", "path": "/data", "read_only": true},
				map[string]any{"storage": "local-lvm", "size": 8, "path": "/var/lib/app", "backup": true},
			},
			"startup":  map[string]any{"order": i % 10, "up": 5},
			"ha":       map[string]any{"state": "started", "group": "ha1"},
			"onboot":   true,
			"features": map[string]any{"nesting": true, "keyctl": true},
			"params":   map[string]any{"maxmemory": "256mb", "port": 6379, "tls": false},
		}
		if i > 0 {
			if i%2 == 0 {
				c["depends_on"] = []any{fmt.Sprintf("svc-%03d", i-1)}
			} else {
				c["depends_on"] = map[string]any{fmt.Sprintf("svc-%03d", i-1): map[string]any{"condition": "healthy"}}
			}
		}
		containers[name] = c
	}
	hosts := map[string]any{}
	for i := range 4 {
		hosts[fmt.Sprintf("pve%d", i)] = map[string]any{"address": fmt.Sprintf("pve%d.lan", i), "port": 22}
	}
	return map[string]any{
		"apiVersion": "lxcplan/v1",
		"kind":       "Stack",
		"name":       "bench",
		"sources":    map[string]any{"community": map[string]any{"git": "https://git.example.org/r.git", "ref": "v1"}},
		"hosts":      hosts,
		"defaults":   map[string]any{"storage": "local-lvm", "template_storage": "local", "network": map[string]any{"bridge": "vmbr0"}},
		"containers": containers,
	}
}

func TestBigStackValid(t *testing.T) {
	if vs := Validate(Stack, bigStack(300)); len(vs) != 0 {
		t.Fatalf("generated stack invalid: %v", vs[:min(len(vs), 5)])
	}
}

func BenchmarkValidate(b *testing.B) {
	doc := bigStack(300)
	Validate(Stack, doc) // compile outside the timing
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if vs := Validate(Stack, doc); len(vs) != 0 {
			b.Fatal(vs[0])
		}
	}
}

// BenchmarkValidateInvalid measures the error path: every container breaks
// a few rules, so messages and unions are built for each.
func BenchmarkValidateInvalid(b *testing.B) {
	doc := bigStack(300)
	for _, c := range doc["containers"].(map[string]any) {
		m := c.(map[string]any)
		m["memroy"] = 1
		m["vmid"] = 5
		m["mounts"] = []any{map[string]any{"path": "/x"}}
	}
	Validate(Stack, doc)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if vs := Validate(Stack, doc); len(vs) != 900 {
			b.Fatalf("got %d violations", len(vs))
		}
	}
}

// FuzzValidate checks Validate never panics and always speaks in the house
// style, whatever YAML it is given.
func FuzzValidate(f *testing.F) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err == nil {
			f.Add(b)
		}
	}
	for _, c := range invalidCases {
		f.Add([]byte(c.src))
	}
	f.Add([]byte("x: .nan\ny: [.inf, -.inf]\n"))
	f.Add([]byte("apiVersion: lxcplan/v1\nkind: Stack\ncontainers: {a: {recipe: x, vmid: 99999999999999999999}}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("slow input %q", src)) })
		defer watchdog.Stop()
		var doc any
		if err := yamlUnmarshal(src, &doc); err != nil {
			return
		}
		for _, k := range Kinds() {
			for _, v := range Validate(k, doc) {
				if v.Keyword == "schema" {
					t.Fatalf("internal error on %q: %s", src, v.Message)
				}
				checkMessage(t, v)
				if strings.Contains(v.Message, "%!") {
					t.Fatalf("bad format in %q", v.Message)
				}
			}
		}
	})
}
