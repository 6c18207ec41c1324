package schema

import (
	"fmt"
	"testing"
)

// TestFieldRules checks single values against the rules of pve-reference §9
// and formats.md, one container field at a time.
func TestFieldRules(t *testing.T) {
	type check struct {
		field string // container field, or network.FIELD
		value any
		ok    bool
	}
	checks := []check{
		{"vmid", 100, true}, {"vmid", 999999999, true}, {"vmid", 99, false}, {"vmid", 1000000000, false}, {"vmid", 150.5, false},
		{"hostname", "a", true}, {"hostname", "db-1.example.org", true}, {"hostname", "A1.B2", true},
		{"hostname", "-a", false}, {"hostname", "a-", false}, {"hostname", "a_b", false}, {"hostname", "a..b", false},
		{"hostname", ".a", false}, {"hostname", "a.", false}, {"hostname", "", false},
		{"hostname", fmt.Sprintf("%0255d", 0), true}, {"hostname", fmt.Sprintf("%0256d", 0), false},
		{"storage", "local-lvm", true}, {"storage", "ab", true}, {"storage", "a", false}, {"storage", "1a", false}, {"storage", "a-", false}, {"storage", "a.b_c-d", true},
		{"tags", []any{"a", "_b", "1+x.y-z"}, true}, {"tags", []any{"+a"}, false}, {"tags", []any{"A"}, false}, {"tags", []any{"a b"}, false},
		{"network.bridge", "vmbr0", true}, {"network.bridge", "vmbr0.20", true}, {"network.bridge", "br_x-1", true}, {"network.bridge", "vm br0", false}, {"network.bridge", "", false},
		{"network.ip", "dhcp", true}, {"network.ip", "manual", true}, {"network.ip", "10.0.0.1/8", true}, {"network.ip", "255.255.255.255/32", true},
		{"network.ip", "10.0.0.1/7", false}, {"network.ip", "10.0.0.1/33", false}, {"network.ip", "10.0.0.1", false}, {"network.ip", "10.0.0/24", false},
		{"network.ip", "256.0.0.1/24", false}, {"network.ip", "01.0.0.1/24", false}, {"network.ip", "DHCP", false}, {"network.ip", "auto", false},
		{"network.gw", "10.0.0.1", true}, {"network.gw", "10.0.0.1/24", false}, {"network.gw", "fd00::1", false},
		{"network.ip6", "auto", true}, {"network.ip6", "dhcp", true}, {"network.ip6", "manual", true},
		{"network.ip6", "fd00::50/64", true}, {"network.ip6", "2001:db8:0:0:0:0:0:1/128", true}, {"network.ip6", "::1/128", true}, {"network.ip6", "fe80::/10", true},
		{"network.ip6", "fd00::1", false}, {"network.ip6", "fd00::1/7", false}, {"network.ip6", "fd00::1/129", false}, {"network.ip6", "fd00:::1/64", false},
		{"network.ip6", "1:2:3:4:5:6:7:8:9/64", false}, {"network.ip6", "10.0.0.1/24", false}, {"network.ip6", "g::1/64", false},
		{"network.gw6", "fd00::1", true}, {"network.gw6", "::", true}, {"network.gw6", "1:2:3:4:5:6:7:8", true}, {"network.gw6", "fd00::1/64", false}, {"network.gw6", "1::2::3", false},
		{"network.mac", "BC:24:11:00:00:01", true}, {"network.mac", "bc:24:11:0a:ff:01", true}, {"network.mac", "02:00:00:00:00:00", true},
		{"network.mac", "01:00:00:00:00:00", false}, {"network.mac", "BD:24:11:00:00:01", false}, {"network.mac", "BC-24-11-00-00-01", false}, {"network.mac", "BC:24:11:00:00", false},
		{"network.vlan", 1, true}, {"network.vlan", 4094, true}, {"network.vlan", 0, false}, {"network.vlan", 4095, false},
		{"network.mtu", 64, true}, {"network.mtu", 65535, true}, {"network.mtu", 63, false}, {"network.mtu", 65536, false},
		{"network.rate", 0.5, true}, {"network.rate", 0, false},
		{"resources", map[string]any{"cores": 8192, "memory": 16, "swap": 0, "disk": 0.1}, true},
		{"resources", map[string]any{"cores": 8193}, false}, {"resources", map[string]any{"memory": 15}, false},
		{"recipe", "redis", true}, {"recipe", "community/postgresql", true}, {"recipe", "community/postgresql@2.1.0", true},
		{"recipe", "my_src/x@1.0.0-rc.1", true}, {"recipe", "./x.yaml", true}, {"recipe", "../x/y.yaml", true}, {"recipe", "/abs/x.yaml", true},
		{"recipe", "x.yaml", false}, {"recipe", "a/b/c", false}, {"recipe", "a/b@v1", false}, {"recipe", "redis@1.0.0", false}, {"recipe", "", false},
		{"devices", []any{map[string]any{"path": "/dev/net/tun", "mode": "0666"}}, true}, {"devices", []any{map[string]any{"path": "/dev/"}}, false},
	}
	for _, c := range checks {
		ctr := map[string]any{"recipe": "redis"}
		if len(c.field) > 8 && c.field[:8] == "network." {
			ctr["network"] = map[string]any{c.field[8:]: c.value}
		} else {
			ctr[c.field] = c.value
		}
		doc := map[string]any{
			"apiVersion": "lxcplan/v1", "kind": "Stack", "name": "s",
			"containers": map[string]any{"a": ctr},
		}
		vs := Validate(Stack, doc)
		if (len(vs) == 0) != c.ok {
			t.Errorf("%s = %#v: want ok=%v, got %v", c.field, c.value, c.ok, vs)
		}
	}
}

// TestRecipeFieldRules covers recipe-only rules.
func TestRecipeFieldRules(t *testing.T) {
	checks := []struct {
		step any
		ok   bool
	}{
		{map[string]any{"file": map[string]any{"path": "/a", "source": "files/a.conf"}}, true},
		{map[string]any{"file": map[string]any{"path": "/a", "source": "./a"}}, true},
		{map[string]any{"file": map[string]any{"path": "/a", "source": "a/.b/..c/...d"}}, true},
		{map[string]any{"file": map[string]any{"path": "/a", "source": ".."}}, false},
		{map[string]any{"file": map[string]any{"path": "/a", "source": "a/.."}}, false},
		{map[string]any{"file": map[string]any{"path": "/a", "source": "a//b"}}, false},
		{map[string]any{"file": map[string]any{"path": "/a", "source": "a/"}}, false},
		{map[string]any{"file": map[string]any{"path": "/a", "content": "", "mode": "0755"}}, true},
		{map[string]any{"file": map[string]any{"path": "/a", "content": "", "mode": "755"}}, true},
		{map[string]any{"file": map[string]any{"path": "/a", "content": "", "mode": "04755"}}, true},
		{map[string]any{"file": map[string]any{"path": "/a", "content": "", "mode": "0855"}}, false},
		{map[string]any{"file": map[string]any{"path": "/a", "content": "", "mode": "75"}}, false},
		{map[string]any{"run": map[string]any{"script": "x", "timeout": "1h2m3.5s"}}, true},
		{map[string]any{"run": map[string]any{"script": "x", "timeout": "10"}}, false},
		{map[string]any{"run": map[string]any{"script": "x", "timeout": "1d"}}, false},
		{map[string]any{"apt": []any{"g++", "libc6-dev", "python3.11"}}, true},
		{map[string]any{"apt": []any{"python3=3.11"}}, false},
		{map[string]any{"download": map[string]any{"url": "http://x/y", "sha256": "AB" + fmt.Sprintf("%062d", 0), "dest": "/x"}}, true},
		{map[string]any{"download": map[string]any{"url": "http://x/y", "sha256": fmt.Sprintf("%065d", 0), "dest": "/x"}}, false},
		{map[string]any{"download": map[string]any{"url": "https://x y", "sha256": fmt.Sprintf("%064d", 0), "dest": "/x"}}, false},
	}
	for _, c := range checks {
		doc := map[string]any{
			"apiVersion": "lxcplan/v1", "kind": "Recipe", "name": "r", "version": "1.0.0",
			"container": map[string]any{"os": "debian", "version": "12"},
			"install":   []any{c.step},
		}
		vs := Validate(Recipe, doc)
		if (len(vs) == 0) != c.ok {
			t.Errorf("%#v: want ok=%v, got %v", c.step, c.ok, vs)
		}
	}
	for v, ok := range map[string]bool{"1.2.3": true, "0.0.0": true, "1.2.3-alpha.1+b.2": true, "01.2.3": false, "1.2": false, "v1.2.3": false, "1.2.3-": false} {
		doc := map[string]any{
			"apiVersion": "lxcplan/v1", "kind": "Recipe", "name": "r", "version": v,
			"container": map[string]any{"os": "debian", "version": "12"},
		}
		if vs := Validate(Recipe, doc); (len(vs) == 0) != ok {
			t.Errorf("version %q: want ok=%v, got %v", v, ok, vs)
		}
	}
}
