package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/model"
)

// BuiltinDefaults is the lowest layer of the precedence chain: what a
// container gets when nothing else says otherwise. It follows pct create's
// own defaults (memory 512, swap 512, 4 GiB rootfs, unprivileged) and the
// helper scripts' (nesting on, vmbr0 with DHCP), with a storage that can hold
// container disks (PVE's own default, local, usually cannot).
func BuiltinDefaults() model.Settings {
	out := make(model.Settings, len(builtinDefaults))
	for k, v := range builtinDefaults {
		out[k] = v
	}
	return out
}

// builtinDefaults is shared by every resolution and never modified.
var builtinDefaults = model.Settings{
	"os": {Value: "debian"}, "version": {Value: "12"}, "arch": {Value: "amd64"},
	"resources.cores": {Value: int64(1)}, "resources.memory": {Value: int64(512)},
	"resources.swap": {Value: int64(512)}, "resources.disk": {Value: float64(4)},
	"unprivileged": {Value: true}, "features.nesting": {Value: true}, "features.keyctl": {Value: false},
	"features.fuse": {Value: false}, "features.mknod": {Value: false},
	"tun": {Value: false}, "gpu": {Value: "none"},
	"storage": {Value: "local-lvm"}, "template_storage": {Value: "local"},
	"network.bridge": {Value: "vmbr0"}, "network.ip": {Value: "dhcp"}, "network.firewall": {Value: false},
	"onboot": {Value: false}, "protection": {Value: false},
}

// DefaultUserDefaultsFile is where the user defaults file is looked for.
func DefaultUserDefaultsFile() string {
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "lxcplan", "defaults.yaml")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".config", "lxcplan", "defaults.yaml")
	}
	return ""
}

// Resolve applies the precedence chain to every container of st and records
// where each value came from. Its diagnostics are those of the resolution
// itself: the user defaults file and --set (ClassUsage). LoadStackFile,
// given the same Options, already reported them together with the checks on
// resolved values (duplicates, subnets, hosts), so after a LoadStackFile
// without errors Resolve returns none and repeats no warning.
func Resolve(st *model.Stack, o Options) (*model.Desired, diag.Diagnostics) {
	if st == nil {
		return nil, diag.Diagnostics{diag.Errorf(diag.ClassInput, diag.Pos{}, "", "no stack to resolve")}
	}
	d, ds := resolve(st, o, false)
	ds = dedupe(ds)
	ds.Sort()
	return d, ds
}

type layer struct {
	src model.Source
	set model.Settings
}

func resolve(st *model.Stack, o Options, check bool) (*model.Desired, diag.Diagnostics) {
	var ds diag.Diagnostics
	user, uds := loadUserDefaults(o)
	ds = append(ds, uds...)
	sets, sds := parseSets(st, o.Sets)
	ds = append(ds, sds...)

	des := &model.Desired{Stack: st}
	entries := 0
	for _, name := range st.ContainerNames {
		sc := st.Containers[name]
		layers := []layer{{src: model.Source{Layer: model.LayerBuiltin, Label: "built-in default"}, set: builtinDefaults}}
		if user.set != nil {
			layers = append(layers, user)
		}
		if sc.Loaded != nil {
			layers = append(layers, layer{src: model.Source{Layer: model.LayerRecipe, Label: "recipe " + sc.Loaded.Name}, set: sc.Loaded.Container})
		}
		layers = append(layers,
			layer{src: model.Source{Layer: model.LayerStackDefaults, Label: "stack defaults"}, set: st.Defaults},
			layer{src: model.Source{Layer: model.LayerContainer, Label: "stack containers." + name}, set: sc.Settings})
		for _, s := range sets[name] {
			layers = append(layers, s)
		}
		c := build(st, sc, layers)
		des.Containers = append(des.Containers, c)
		entries += len(c.Provenance)
	}
	// Sized from the containers built: a guess per container either wastes
	// megabytes on a large stack or grows the map several times.
	des.Provenance = make(map[string]model.Source, entries)
	for i, c := range des.Containers {
		prefix := "containers." + st.ContainerNames[i] + "."
		for k, v := range c.Provenance {
			des.Provenance[prefix+k] = v
		}
	}
	if check {
		ds = append(ds, checkResolved(des)...)
	}
	return des, ds
}

// build merges the layers of one container, highest last, into a Container.
func build(st *model.Stack, sc *model.StackContainer, layers []layer) *model.Container {
	vals := make(map[string]any, 48)
	prov := make(map[string]model.Source, 48)
	for _, l := range layers {
		for k, s := range l.set {
			if _, known := settingFields[k]; !known {
				continue
			}
			vals[k] = s.Value
			src := l.src
			src.Pos = s.Pos
			prov[k] = src
		}
	}
	c := &model.Container{
		Name: sc.Name, Pos: sc.Pos, Recipe: sc.Recipe, Loaded: sc.Loaded,
		DependsOn: sc.DependsOn, Params: map[string]model.ResolvedParam{}, Provenance: prov,
	}
	if _, ok := vals["hostname"]; !ok {
		vals["hostname"] = sc.Name
		prov["hostname"] = model.Source{Layer: model.LayerDerived, Label: "container name"}
	}
	if _, ok := vals["host"]; !ok && len(st.Hosts) == 1 {
		for h := range st.Hosts {
			vals["host"] = h
			prov["host"] = model.Source{Layer: model.LayerDerived, Label: "the only declared host", Pos: st.Hosts[h].Pos}
		}
	}
	str := func(k string) string { s, _ := vals[k].(string); return s }
	num := func(k string) int { n, _ := vals[k].(int64); return int(n) }
	flt := func(k string) float64 { f, _ := vals[k].(float64); return f }
	bl := func(k string) bool { b, _ := vals[k].(bool); return b }
	iptr := func(k string) *int {
		if n, ok := vals[k].(int64); ok {
			i := int(n)
			return &i
		}
		return nil
	}
	c.Host, c.VMID, c.Hostname, c.Description = str("host"), num("vmid"), str("hostname"), str("description")
	c.OS, c.Version, c.Arch = str("os"), str("version"), str("arch")
	c.Resources = model.Resources{Cores: num("resources.cores"), Memory: num("resources.memory"), Swap: num("resources.swap"), Disk: flt("resources.disk")}
	c.Unprivileged = bl("unprivileged")
	c.Features = model.Features{Nesting: bl("features.nesting"), Keyctl: bl("features.keyctl"), Fuse: bl("features.fuse"), Mknod: bl("features.mknod")}
	c.Features.Mount, _ = vals["features.mount"].([]string)
	c.Tun, c.GPU = bl("tun"), str("gpu")
	c.Tags, _ = vals["tags"].([]string)
	if ports, ok := vals["ports"].([]int64); ok {
		for _, p := range ports {
			c.Ports = append(c.Ports, int(p))
		}
	}
	c.Nameserver, c.Searchdomain, c.Timezone = str("nameserver"), str("searchdomain"), str("timezone")
	c.Storage, c.TemplateStorage = str("storage"), str("template_storage")
	c.Network = model.Network{
		Name: "eth0", Bridge: str("network.bridge"), IP: str("network.ip"), GW: str("network.gw"),
		IP6: str("network.ip6"), GW6: str("network.gw6"), VLAN: num("network.vlan"), MTU: num("network.mtu"),
		MAC: str("network.mac"), Firewall: bl("network.firewall"), Rate: flt("network.rate"),
	}
	c.ExtraNetworks, _ = vals["extra_networks"].([]model.Network)
	c.Mounts, _ = vals["mounts"].([]model.Mount)
	c.Devices, _ = vals["devices"].([]model.Device)
	c.OnBoot, c.Protection = bl("onboot"), bl("protection")
	c.Startup = model.Startup{Order: iptr("startup.order"), Up: iptr("startup.up"), Down: iptr("startup.down")}
	if _, ok := vals["ha.state"]; ok || vals["ha.group"] != nil || vals["ha.max_restart"] != nil || vals["ha.max_relocate"] != nil {
		c.HA = &model.HA{State: str("ha.state"), Group: str("ha.group"), MaxRestart: iptr("ha.max_restart"), MaxRelocate: iptr("ha.max_relocate")}
		if c.HA.State == "" {
			c.HA.State = "started"
			prov["ha.state"] = model.Source{Layer: model.LayerBuiltin, Label: "built-in default"}
		}
	}

	// Params: the stack's value (or --set's), else the recipe default.
	args := map[string]model.ParamArg{}
	argSrc := map[string]model.Source{}
	for k, v := range sc.Params {
		args[k] = v
		argSrc[k] = model.Source{Layer: model.LayerContainer, Label: "stack containers." + sc.Name, Pos: v.Pos}
	}
	for _, l := range layers {
		if l.src.Layer != model.LayerSet {
			continue
		}
		for k, s := range l.set {
			if name, ok := strings.CutPrefix(k, "params."); ok {
				args[name] = model.ParamArg{Value: s.Value}
				argSrc[name] = l.src
			}
		}
	}
	if r := sc.Loaded; r != nil {
		for _, pn := range r.ParamNames() {
			prm := r.Params[pn]
			rp := model.ResolvedParam{Type: prm.Type, Secret: prm.Type == model.ParamSecret}
			if a, ok := args[pn]; ok {
				rp.Value = scalarString(a.Value)
				prov["params."+pn] = argSrc[pn]
			} else if prm.Default != nil {
				rp.Value = scalarString(prm.Default)
				prov["params."+pn] = model.Source{Layer: model.LayerRecipe, Label: "recipe " + r.Name, Pos: prm.Pos}
			} else if prm.Generate != nil {
				rp.Generate = prm.Generate
				prov["params."+pn] = model.Source{Layer: model.LayerRecipe, Label: "recipe " + r.Name + " (generated)", Pos: prm.Pos}
			} else {
				continue
			}
			c.Params[pn] = rp
		}
	} else {
		// Recipe not loaded (git source): keep what the stack says.
		for pn, a := range args {
			c.Params[pn] = model.ResolvedParam{Value: scalarString(a.Value), Type: model.ParamString}
			prov["params."+pn] = argSrc[pn]
		}
	}
	return c
}

// loadUserDefaults reads the user defaults file: same shape as a stack's
// `defaults:`. A missing file at the default location is fine.
func loadUserDefaults(o Options) (layer, diag.Diagnostics) {
	path := o.UserDefaultsFile
	explicit := path != ""
	if path == "-" {
		return layer{}, nil
	}
	if !explicit {
		path = DefaultUserDefaultsFile()
		if path == "" {
			return layer{}, nil
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return layer{}, nil
		}
	}
	data, ds := readFile(path)
	if ds.HasErrors() {
		return layer{}, ds
	}
	root, ds := parseYAML(path, data)
	if ds.HasErrors() {
		return layer{}, ds
	}
	d, cds := convert(path, root)
	ds = append(ds, cds...)
	if d == nil {
		return layer{}, ds
	}
	x := &decoder{d: d}
	var set model.Settings
	if m, ok := x.mapping(d.value, nil); ok {
		set = x.settings(m, nil, shapeDefaults)
	}
	ds = append(ds, x.ds...)
	return layer{src: model.Source{Layer: model.LayerUserDefaults, Label: "user defaults"}, set: set}, ds
}

// setAliases lets --set use the short names of sizes (db.memory=4096).
var setAliases = map[string]string{"cores": "resources.cores", "memory": "resources.memory", "swap": "resources.swap", "disk": "resources.disk"}

// parseSets turns --set NAME.FIELD=VALUE into one layer per override, by
// container. VALUE is read as a YAML value (4096 is a number, [a, b] a list).
func parseSets(st *model.Stack, sets []string) (map[string][]layer, diag.Diagnostics) {
	out := map[string][]layer{}
	var ds diag.Diagnostics
	for _, raw := range sets {
		bad := func(format string, args ...any) {
			d := diag.Errorf(diag.ClassUsage, diag.Pos{}, "--set "+raw, format, args...)
			d.Detail = "use --set CONTAINER.FIELD=VALUE, e.g. --set db.memory=4096 or --set db.network.ip=10.0.0.5/24"
			ds = append(ds, d)
		}
		lhs, val, ok := strings.Cut(raw, "=")
		if !ok {
			bad("missing =VALUE")
			continue
		}
		name, field, ok := strings.Cut(strings.TrimSpace(lhs), ".")
		if !ok || name == "" || field == "" {
			bad("the path must be CONTAINER.FIELD")
			continue
		}
		if st.Containers[name] == nil {
			bad("no container named %q in the stack", name)
			continue
		}
		if a, ok := setAliases[field]; ok {
			field = a
		}
		var node yaml.Node
		if err := yaml.Unmarshal([]byte(val), &node); err != nil {
			bad("invalid value: %v", strings.TrimPrefix(err.Error(), "yaml: "))
			continue
		}
		var v any
		if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
			d, cds := convert("--set", node.Content[0])
			if d == nil || len(cds) > 0 {
				bad("invalid value %q", val)
				continue
			}
			v = d.value
		}
		src := model.Source{Layer: model.LayerSet, Label: "--set " + raw}
		if pn, ok := strings.CutPrefix(field, "params."); ok {
			switch v.(type) {
			case string, int64, float64, bool:
			default:
				bad("a param value must be a string, number or boolean")
				continue
			}
			if c := st.Containers[name]; c.Loaded != nil {
				prm, ok := c.Loaded.Params[pn]
				if !ok {
					bad("unknown param %q of recipe %s", pn, c.Loaded.Name)
					continue
				}
				if msg := checkParamValue(prm, v); msg != "" {
					bad("%s", msg)
					continue
				}
			}
			out[name] = append(out[name], layer{src: src, set: model.Settings{field: {Value: v}}})
			continue
		}
		kind, known := settingFields[field]
		if !known || field == "extra_networks" || field == "mounts" || field == "devices" {
			bad("unknown field %q", field)
			continue
		}
		x := &decoder{d: &doc{}}
		sv, ok := x.settingValue(kind, v, nil)
		if !ok {
			msg := "invalid value"
			if len(x.ds) > 0 {
				msg = x.ds[0].Summary
			}
			bad("%s", msg)
			continue
		}
		if msg := checkSetAgainstSchema(name, field, v); msg != "" {
			bad("%s", msg)
			continue
		}
		out[name] = append(out[name], layer{src: src, set: model.Settings{field: {Value: sv}}})
	}
	return out, ds
}

// checkSetAgainstSchema validates a --set value with the stack schema (ranges,
// patterns, enums) by placing it in a minimal stack; it returns the first
// problem, or "".
func checkSetAgainstSchema(container, field string, v any) string {
	if schemaValidate == nil {
		return ""
	}
	c := map[string]any{"recipe": "x"}
	parts := strings.Split(field, ".")
	m := c
	for _, p := range parts[:len(parts)-1] {
		sub := map[string]any{}
		m[p] = sub
		m = sub
	}
	m[parts[len(parts)-1]] = v
	doc := map[string]any{"apiVersion": "lxcplan/v1", "kind": "Stack", "name": "x", "containers": map[string]any{container: c}}
	for _, viol := range schemaValidate(kindStack, doc) {
		return viol.Message
	}
	return ""
}

// ---- checks on resolved values ----

func checkResolved(des *model.Desired) diag.Diagnostics {
	var ds diag.Diagnostics
	st := des.Stack
	vmids, hostnames, ips, macs := map[string]string{}, map[string]string{}, map[string]string{}, map[string]string{}
	// Walk in file order so a duplicate is reported where it appears second.
	ordered := append([]*model.Container(nil), des.Containers...)
	sort.SliceStable(ordered, func(i, j int) bool {
		a, b := ordered[i].Pos, ordered[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	for _, c := range ordered {
		cp := "containers." + c.Name
		at := func(field string) (diag.Pos, string) {
			if s, ok := c.Provenance[field]; ok && !s.Pos.IsZero() {
				switch s.Layer {
				case model.LayerContainer:
					return s.Pos, cp + "." + field
				case model.LayerStackDefaults:
					return s.Pos, "defaults." + field
				}
			}
			return c.Pos, cp
		}
		errf := func(field, format string, args ...any) {
			pos, path := at(field)
			msg := fmt.Sprintf(format, args...)
			if !within(path, cp) {
				// The value came from the stack defaults: say whose it is.
				msg = "container " + c.Name + ": " + msg
			}
			ds = append(ds, diag.Errorf(diag.ClassInput, pos, path, "%s", msg))
		}
		dup := func(seen map[string]string, key, field, what string) {
			if other, ok := seen[key]; ok {
				errf(field, "%s is also used by %s", what, whose(other, c.Name))
				return
			}
			seen[key] = c.Name
		}
		// Extra networks are whole values: point at the list item.
		extraErr := func(i int, n model.Network, format string, args ...any) {
			pos, path := at("extra_networks")
			if !n.Pos.IsZero() {
				pos = n.Pos
			}
			if strings.HasSuffix(path, ".extra_networks") {
				path += fmt.Sprintf("[%d]", i)
			}
			ds = append(ds, diag.Errorf(diag.ClassInput, pos, path, format, args...))
		}
		dupExtra := func(seen map[string]string, key string, i int, n model.Network, what string) {
			if other, ok := seen[key]; ok {
				extraErr(i, n, "%s is also used by %s", what, whose(other, c.Name))
				return
			}
			seen[key] = c.Name
		}
		if c.VMID != 0 {
			dup(vmids, fmt.Sprint(c.VMID), "vmid", fmt.Sprintf("vmid %d", c.VMID))
		}
		if c.Hostname != "" {
			dup(hostnames, strings.ToLower(c.Hostname), "hostname", fmt.Sprintf("hostname %s", c.Hostname))
		}
		nets := append([]model.Network{c.Network}, c.ExtraNetworks...)
		for i, n := range nets {
			if pfx, err := netip.ParsePrefix(n.IP); err == nil {
				addr := pfx.Addr().String()
				var gwOut bool
				if gw, err := netip.ParseAddr(n.GW); err == nil && n.GW != "" && !pfx.Masked().Contains(gw) {
					gwOut = true
				}
				if i == 0 {
					dup(ips, addr, "network.ip", "address "+addr)
					if gwOut {
						errf("network.gw", "gateway %s is outside the subnet %s", n.GW, pfx.Masked())
					}
				} else {
					dupExtra(ips, addr, i-1, n, "address "+addr)
					if gwOut {
						extraErr(i-1, n, "gateway %s is outside the subnet %s", n.GW, pfx.Masked())
					}
				}
			}
			if pfx, err := netip.ParsePrefix(n.IP6); err == nil {
				addr := pfx.Addr().String()
				if i == 0 {
					dup(ips, addr, "network.ip6", "address "+addr)
				} else {
					dupExtra(ips, addr, i-1, n, "address "+addr)
				}
			}
			if n.MAC != "" {
				mac := strings.ToUpper(n.MAC)
				if i == 0 {
					dup(macs, mac, "network.mac", "MAC address "+mac)
				} else {
					dupExtra(macs, mac, i-1, n, "MAC address "+mac)
				}
			}
		}
		if c.Host == "" && len(st.Hosts) > 1 {
			ds = append(ds, diag.Errorf(diag.ClassInput, c.Pos, cp,
				"no host for this container: the stack declares %d hosts; set host here or defaults.host", len(st.Hosts)))
		}
		if h := st.Hosts[c.Host]; h != nil && h.User != "root" {
			for _, m := range c.Mounts {
				if m.IsBind() {
					pos, path := at("mounts")
					if !m.Pos.IsZero() {
						pos = m.Pos
					}
					ds = append(ds, diag.Errorf(diag.ClassInput, pos, path,
						"bind mounts need root on the host, but host %s connects as %s", h.Name, h.User))
					break
				}
			}
			if len(c.Devices) > 0 {
				pos, path := at("devices")
				ds = append(ds, diag.Errorf(diag.ClassInput, pos, path,
					"device passthrough needs root on the host, but host %s connects as %s", h.Name, h.User))
			}
		}
		// The mount feature only relaxes AppArmor for privileged containers:
		// the kernel refuses nfs, cifs and block file systems inside a user
		// namespace whatever the feature says.
		if c.Unprivileged && len(c.Features.Mount) > 0 {
			pos, path := at("features.mount")
			msg := fmt.Sprintf("mounting %s needs a privileged container: the kernel refuses these mounts in an unprivileged one; set unprivileged: false or bind-mount a host directory",
				strings.Join(c.Features.Mount, ", "))
			if !within(path, cp) {
				msg = "container " + c.Name + ": " + msg
			}
			ds = append(ds, diag.Errorf(diag.ClassInput, pos, path, "%s", msg))
		}
		// PVE documents keyctl and mknod as features for unprivileged
		// containers; a privileged one has them anyway, so asking for them
		// there is a sign of a misunderstanding, not an error.
		if !c.Unprivileged {
			for _, f := range []string{"keyctl", "mknod"} {
				on := c.Features.Keyctl
				if f == "mknod" {
					on = c.Features.Mknod
				}
				if src, ok := c.Provenance["features."+f]; on && ok && src.Layer != model.LayerBuiltin {
					pos, path := at("features." + f)
					ds = append(ds, diag.Warnf(pos, path, "%s only applies to unprivileged containers; it has no effect here", f))
				}
			}
		}
	}
	return ds
}

func whose(other, self string) string {
	if other == self {
		return "another interface of this container"
	}
	return "container " + other
}
