package manifest

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/model"
)

// decoder turns the plain-value form of a document into model values. It
// checks types itself, so it never panics on input the schema did not see
// (or that the schema let through); its problems carry positions like the
// schema's.
type decoder struct {
	d  *doc
	ds diag.Diagnostics // structural problems (the schema finds these too)
	// sem holds problems no schema can find: references, shipped files.
	sem diag.Diagnostics
}

func (x *decoder) errAt(p []string, format string, args ...any) {
	x.ds = append(x.ds, diag.Errorf(diag.ClassInput, x.d.pos(p), x.d.display(p), format, args...))
}

func (x *decoder) errKey(p []string, format string, args ...any) {
	x.ds = append(x.ds, diag.Errorf(diag.ClassInput, x.d.keyPos(p), x.d.display(p), format, args...))
}

func child(p []string, tok string) []string { return append(p[:len(p):len(p)], tok) }

func sortedMapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

func (x *decoder) mapping(v any, p []string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		x.errAt(p, "must be a mapping, not %s", typeName(v))
	}
	return m, ok
}

func (x *decoder) list(v any, p []string) ([]any, bool) {
	l, ok := v.([]any)
	if !ok {
		x.errAt(p, "must be a list, not %s", typeName(v))
	}
	return l, ok
}

func (x *decoder) str(v any, p []string) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case int64, float64:
		x.errAt(p, "must be a string, not %s; quote it: \"%v\"", typeName(v), t)
		return "", false
	}
	x.errAt(p, "must be a string, not %s", typeName(v))
	return "", false
}

func (x *decoder) integer(v any, p []string) (int64, bool) {
	switch t := v.(type) {
	case int64:
		return t, true
	case float64:
		if t == float64(int64(t)) && t < 1e18 && t > -1e18 {
			return int64(t), true
		}
	}
	x.errAt(p, "must be an integer, not %s", typeName(v))
	return 0, false
}

func (x *decoder) number(v any, p []string) (float64, bool) {
	switch t := v.(type) {
	case int64:
		return float64(t), true
	case float64:
		return t, true
	}
	x.errAt(p, "must be a number, not %s", typeName(v))
	return 0, false
}

func (x *decoder) boolean(v any, p []string) (bool, bool) {
	b, ok := v.(bool)
	if !ok {
		x.errAt(p, "must be true or false, not %s", typeName(v))
	}
	return b, ok
}

func (x *decoder) strings(v any, p []string) ([]string, bool) {
	l, ok := x.list(v, p)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(l))
	good := true
	for i, e := range l {
		s, ok := x.str(e, child(p, strconv.Itoa(i)))
		good = good && ok
		out = append(out, s)
	}
	return out, good
}

func (x *decoder) ints(v any, p []string) ([]int64, bool) {
	l, ok := x.list(v, p)
	if !ok {
		return nil, false
	}
	out := make([]int64, 0, len(l))
	good := true
	for i, e := range l {
		n, ok := x.integer(e, child(p, strconv.Itoa(i)))
		good = good && ok
		out = append(out, n)
	}
	return out, good
}

// fields walks a mapping, calling the handler for each known key and
// reporting unknown ones at the key.
func (x *decoder) fields(m map[string]any, p []string, handlers map[string]func(v any, p []string)) {
	for _, k := range sortedMapKeys(m) {
		h, ok := handlers[k]
		if !ok {
			x.errKey(child(p, k), "unknown field %q", k)
			continue
		}
		h(m[k], child(p, k))
	}
}

func (x *decoder) setStr(dst *string) func(any, []string) {
	return func(v any, p []string) {
		if s, ok := x.str(v, p); ok {
			*dst = s
		}
	}
}

func (x *decoder) setBool(dst *bool) func(any, []string) {
	return func(v any, p []string) {
		if b, ok := x.boolean(v, p); ok {
			*dst = b
		}
	}
}

func (x *decoder) setInt(dst *int) func(any, []string) {
	return func(v any, p []string) {
		if n, ok := x.integer(v, p); ok {
			*dst = int(n)
		}
	}
}

func (x *decoder) setIntPtr(dst **int) func(any, []string) {
	return func(v any, p []string) {
		if n, ok := x.integer(v, p); ok {
			i := int(n)
			*dst = &i
		}
	}
}

func (x *decoder) setStrings(dst *[]string) func(any, []string) {
	return func(v any, p []string) {
		if l, ok := x.strings(v, p); ok {
			*dst = l
		}
	}
}

func (x *decoder) required(m map[string]any, p []string, names ...string) bool {
	ok := true
	for _, n := range names {
		if _, has := m[n]; !has {
			x.errAt(p, "missing required field %q", n)
			ok = false
		}
	}
	return ok
}

// ---- container settings ----

type fkind int

const (
	fString fkind = iota
	fInt
	fNumber
	fBool
	fStrings
	fInts
	fNetworks
	fMounts
	fDevices
)

// settingFields lists every container setting by canonical path.
var settingFields = map[string]fkind{
	"host": fString, "vmid": fInt, "hostname": fString, "description": fString,
	"os": fString, "version": fString, "arch": fString,
	"resources.cores": fInt, "resources.memory": fInt, "resources.swap": fInt, "resources.disk": fNumber,
	"unprivileged":     fBool,
	"features.nesting": fBool, "features.keyctl": fBool, "features.fuse": fBool, "features.mknod": fBool, "features.mount": fStrings,
	"tun": fBool, "gpu": fString, "tags": fStrings, "ports": fInts,
	"nameserver": fString, "searchdomain": fString, "timezone": fString,
	"storage": fString, "template_storage": fString,
	"network.bridge": fString, "network.ip": fString, "network.gw": fString, "network.ip6": fString, "network.gw6": fString,
	"network.vlan": fInt, "network.mtu": fInt, "network.mac": fString, "network.firewall": fBool, "network.rate": fNumber,
	"extra_networks": fNetworks, "mounts": fMounts, "devices": fDevices,
	"onboot": fBool, "startup.order": fInt, "startup.up": fInt, "startup.down": fInt, "protection": fBool,
	"ha.state": fString, "ha.group": fString, "ha.max_restart": fInt, "ha.max_relocate": fInt,
}

// groups are the settings written as nested mappings.
var groups = map[string]bool{"resources": true, "features": true, "network": true, "startup": true, "ha": true}

// settingsShape says which settings a layer may write.
type settingsShape int

const (
	shapeContainer settingsShape = iota // stack containers.X
	shapeDefaults                       // stack defaults, user defaults file
	shapeRecipe                         // recipe container
)

func allowed(shape settingsShape, top string) bool {
	switch shape {
	case shapeContainer:
		return top != "ports"
	case shapeDefaults:
		return top != "ports" && top != "vmid" && top != "hostname"
	case shapeRecipe:
		switch top {
		case "os", "version", "arch", "resources", "unprivileged", "features", "tun", "gpu", "ports", "tags", "nameserver", "searchdomain", "timezone":
			return true
		}
	}
	return false
}

var recipeSizes = map[string]bool{"cores": true, "memory": true, "swap": true, "disk": true}

// settings decodes a settings mapping; skip names keys handled by the caller.
func (x *decoder) settings(m map[string]any, p []string, shape settingsShape, skip ...string) model.Settings {
	out := model.Settings{}
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	for _, k := range sortedMapKeys(m) {
		if skipped[k] {
			continue
		}
		kp := child(p, k)
		v := m[k]
		if shape == shapeRecipe && recipeSizes[k] {
			x.setting(out, "resources."+k, v, kp)
			continue
		}
		if !allowed(shape, k) {
			x.errKey(kp, "unknown field %q", k)
			continue
		}
		if groups[k] && (shape != shapeRecipe || k != "resources") {
			sub, ok := x.mapping(v, kp)
			if !ok {
				continue
			}
			for _, sk := range sortedMapKeys(sub) {
				full := k + "." + sk
				if _, known := settingFields[full]; !known {
					x.errKey(child(kp, sk), "unknown field %q", sk)
					continue
				}
				x.setting(out, full, sub[sk], child(kp, sk))
			}
			continue
		}
		if _, known := settingFields[k]; !known {
			x.errKey(kp, "unknown field %q", k)
			continue
		}
		x.setting(out, k, v, kp)
	}
	return out
}

func (x *decoder) setting(out model.Settings, name string, v any, p []string) {
	val, ok := x.settingValue(settingFields[name], v, p)
	if ok {
		out[name] = model.Setting{Value: val, Pos: x.d.pos(p)}
	}
}

func (x *decoder) settingValue(k fkind, v any, p []string) (any, bool) {
	switch k {
	case fString:
		return x.str(v, p)
	case fInt:
		return x.integer(v, p)
	case fNumber:
		return x.number(v, p)
	case fBool:
		return x.boolean(v, p)
	case fStrings:
		return x.strings(v, p)
	case fInts:
		return x.ints(v, p)
	case fNetworks:
		return x.networks(v, p)
	case fMounts:
		return x.mounts(v, p)
	case fDevices:
		return x.devices(v, p)
	}
	return nil, false
}

func (x *decoder) network(m map[string]any, p []string, extra bool) model.Network {
	n := model.Network{Pos: x.d.pos(p)}
	h := map[string]func(any, []string){
		"bridge": x.setStr(&n.Bridge), "ip": x.setStr(&n.IP), "gw": x.setStr(&n.GW),
		"ip6": x.setStr(&n.IP6), "gw6": x.setStr(&n.GW6), "vlan": x.setInt(&n.VLAN), "mtu": x.setInt(&n.MTU),
		"mac": x.setStr(&n.MAC), "firewall": x.setBool(&n.Firewall),
		"rate": func(v any, p []string) {
			if f, ok := x.number(v, p); ok {
				n.Rate = f
			}
		},
	}
	if extra {
		h["name"] = x.setStr(&n.Name)
		x.required(m, p, "name")
	}
	x.fields(m, p, h)
	return n
}

func (x *decoder) networks(v any, p []string) ([]model.Network, bool) {
	l, ok := x.list(v, p)
	if !ok {
		return nil, false
	}
	out := []model.Network{}
	for i, e := range l {
		ep := child(p, strconv.Itoa(i))
		if m, ok := x.mapping(e, ep); ok {
			out = append(out, x.network(m, ep, true))
		}
	}
	return out, true
}

func (x *decoder) mounts(v any, p []string) ([]model.Mount, bool) {
	l, ok := x.list(v, p)
	if !ok {
		return nil, false
	}
	out := []model.Mount{}
	for i, e := range l {
		ep := child(p, strconv.Itoa(i))
		m, ok := x.mapping(e, ep)
		if !ok {
			continue
		}
		mt := model.Mount{Pos: x.d.pos(ep)}
		_, bind := m["host_path"]
		_, vol := m["storage"]
		h := map[string]func(any, []string){
			"path": x.setStr(&mt.Path), "read_only": x.setBool(&mt.ReadOnly),
			"backup": func(v any, p []string) {
				if b, ok := x.boolean(v, p); ok {
					mt.Backup = &b
				}
			},
		}
		switch {
		case bind && vol:
			x.errAt(ep, "a mount has either host_path (bind mount) or storage (volume), not both")
			continue
		case bind:
			h["host_path"] = x.setStr(&mt.HostPath)
			h["shared"] = x.setBool(&mt.Shared)
			x.required(m, ep, "path")
		case vol:
			h["storage"] = x.setStr(&mt.Storage)
			h["size"] = func(v any, p []string) {
				if f, ok := x.number(v, p); ok {
					mt.Size = f
				}
			}
			x.required(m, ep, "size", "path")
		default:
			x.errAt(ep, "a mount needs host_path (bind mount) or storage (volume)")
			continue
		}
		x.fields(m, ep, h)
		out = append(out, mt)
	}
	return out, true
}

func (x *decoder) devices(v any, p []string) ([]model.Device, bool) {
	l, ok := x.list(v, p)
	if !ok {
		return nil, false
	}
	out := []model.Device{}
	for i, e := range l {
		ep := child(p, strconv.Itoa(i))
		m, ok := x.mapping(e, ep)
		if !ok {
			continue
		}
		d := model.Device{Pos: x.d.pos(ep)}
		x.required(m, ep, "path")
		x.fields(m, ep, map[string]func(any, []string){
			"path": x.setStr(&d.Path), "mode": x.setStr(&d.Mode),
			"uid": x.setIntPtr(&d.UID), "gid": x.setIntPtr(&d.GID),
		})
		out = append(out, d)
	}
	return out, true
}
