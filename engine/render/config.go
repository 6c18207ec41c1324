package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/lxcplan/lxcplan/engine/model"
)

// ConfigYAML writes the resolved desired state as YAML, the output of
// `lxcplan config`. Secrets are never printed.
func ConfigYAML(w io.Writer, d *model.Desired) error {
	var b bytes.Buffer
	writeYAMLMap(&b, configTree(d), 0)
	_, err := w.Write(b.Bytes())
	return err
}

// ConfigJSON writes the resolved desired state as indented JSON.
func ConfigJSON(w io.Writer, d *model.Desired) error {
	data, err := json.MarshalIndent(configTree(d), "", "  ")
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// ConfigExplain writes every resolved field on its own line with the layer
// it came from:
//
//	containers.db.resources.memory = 2048   # stack containers.db (stack.yaml:14)
func ConfigExplain(w io.Writer, d *model.Desired) error {
	var b bytes.Buffer
	for i, c := range d.Containers {
		if i > 0 {
			b.WriteByte('\n')
		}
		es := entries(c)
		lefts := make([]string, len(es))
		width := 0
		for j, e := range es {
			lefts[j] = "containers." + c.Name + "." + e.key + " = " + flow(e.val)
			// Long values (mount lists) do not push every comment right.
			if len(lefts[j]) <= explainAlignMax {
				width = max(width, len(lefts[j]))
			}
		}
		for j, e := range es {
			b.WriteString(lefts[j])
			b.WriteString(strings.Repeat(" ", max(width-len(lefts[j]), 0)+3))
			b.WriteString("# ")
			b.WriteString(source(c, e.key).String())
			b.WriteByte('\n')
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// explainAlignMax is the longest "path = value" that comments align after.
const explainAlignMax = 64

func source(c *model.Container, key string) model.Source {
	if s, ok := c.Provenance[key]; ok {
		return s
	}
	label := model.Source{Layer: model.LayerContainer, Label: "stack containers." + c.Name, Pos: c.Pos}
	switch {
	case key == "recipe":
		label.Pos = c.Recipe.Pos
	case strings.HasPrefix(key, "depends_on."):
		name := strings.TrimPrefix(key, "depends_on.")
		for _, d := range c.DependsOn {
			if d.Name == name {
				label.Pos = d.Pos
			}
		}
	case key == "recipe_version" && c.Loaded != nil:
		label = model.Source{Layer: model.LayerRecipe, Label: "recipe " + c.Loaded.Name, Pos: c.Loaded.Pos}
	}
	return label
}

// kv is one key of an ordered mapping; omap keeps keys in the order given so
// output is deterministic and reads in a natural order.
type kv struct {
	K string
	V any
}
type omap []kv

func (m omap) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range m {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.K)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.V)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// set puts v at the dotted key, creating intermediate mappings.
func (m omap) set(key string, v any) omap {
	head, rest, nested := strings.Cut(key, ".")
	for i := range m {
		if m[i].K == head {
			if nested {
				sub, _ := m[i].V.(omap)
				m[i].V = sub.set(rest, v)
			} else {
				m[i].V = v
			}
			return m
		}
	}
	if nested {
		return append(m, kv{head, omap(nil).set(rest, v)})
	}
	return append(m, kv{head, v})
}

type entry struct {
	key string
	val any
}

// entries lists the resolved fields of c in display order, keyed like
// Container.Provenance.
func entries(c *model.Container) []entry {
	var es []entry
	add := func(k string, v any) { es = append(es, entry{k, v}) }
	str := func(k, v string) {
		if v != "" {
			add(k, v)
		}
	}
	add("recipe", c.Recipe.Raw)
	if c.Loaded != nil {
		add("recipe_version", c.Loaded.Version)
	}
	str("host", c.Host)
	if c.VMID != 0 {
		add("vmid", c.VMID)
	}
	str("hostname", c.Hostname)
	str("description", c.Description)
	str("os", c.OS)
	str("version", c.Version)
	str("arch", c.Arch)
	add("resources.cores", c.Resources.Cores)
	add("resources.memory", c.Resources.Memory)
	add("resources.swap", c.Resources.Swap)
	add("resources.disk", c.Resources.Disk)
	add("unprivileged", c.Unprivileged)
	add("features.nesting", c.Features.Nesting)
	add("features.keyctl", c.Features.Keyctl)
	add("features.fuse", c.Features.Fuse)
	add("features.mknod", c.Features.Mknod)
	if len(c.Features.Mount) > 0 {
		add("features.mount", c.Features.Mount)
	}
	add("tun", c.Tun)
	str("gpu", c.GPU)
	if len(c.Tags) > 0 {
		add("tags", c.Tags)
	}
	if len(c.Ports) > 0 {
		add("ports", c.Ports)
	}
	str("nameserver", c.Nameserver)
	str("searchdomain", c.Searchdomain)
	str("timezone", c.Timezone)
	str("storage", c.Storage)
	str("template_storage", c.TemplateStorage)
	n := c.Network
	str("network.bridge", n.Bridge)
	str("network.ip", n.IP)
	str("network.gw", n.GW)
	str("network.ip6", n.IP6)
	str("network.gw6", n.GW6)
	if n.VLAN != 0 {
		add("network.vlan", n.VLAN)
	}
	if n.MTU != 0 {
		add("network.mtu", n.MTU)
	}
	str("network.mac", n.MAC)
	add("network.firewall", n.Firewall)
	if n.Rate != 0 {
		add("network.rate", n.Rate)
	}
	if len(c.ExtraNetworks) > 0 {
		var l []any
		for _, x := range c.ExtraNetworks {
			l = append(l, networkMap(x))
		}
		add("extra_networks", l)
	}
	if len(c.Mounts) > 0 {
		var l []any
		for _, m := range c.Mounts {
			var o omap
			if m.IsBind() {
				o = append(o, kv{"host_path", m.HostPath})
			} else {
				o = append(o, kv{"storage", m.Storage}, kv{"size", m.Size})
			}
			o = append(o, kv{"path", m.Path})
			if m.ReadOnly {
				o = append(o, kv{"read_only", true})
			}
			if m.Backup != nil {
				o = append(o, kv{"backup", *m.Backup})
			}
			if m.Shared {
				o = append(o, kv{"shared", true})
			}
			l = append(l, o)
		}
		add("mounts", l)
	}
	if len(c.Devices) > 0 {
		var l []any
		for _, d := range c.Devices {
			o := omap{{"path", d.Path}}
			if d.Mode != "" {
				o = append(o, kv{"mode", d.Mode})
			}
			if d.UID != nil {
				o = append(o, kv{"uid", *d.UID})
			}
			if d.GID != nil {
				o = append(o, kv{"gid", *d.GID})
			}
			l = append(l, o)
		}
		add("devices", l)
	}
	add("onboot", c.OnBoot)
	if c.Startup.Order != nil {
		add("startup.order", *c.Startup.Order)
	}
	if c.Startup.Up != nil {
		add("startup.up", *c.Startup.Up)
	}
	if c.Startup.Down != nil {
		add("startup.down", *c.Startup.Down)
	}
	add("protection", c.Protection)
	if c.HA != nil {
		add("ha.state", c.HA.State)
		str("ha.group", c.HA.Group)
		if c.HA.MaxRestart != nil {
			add("ha.max_restart", *c.HA.MaxRestart)
		}
		if c.HA.MaxRelocate != nil {
			add("ha.max_relocate", *c.HA.MaxRelocate)
		}
	}
	for _, d := range c.DependsOn {
		add("depends_on."+d.Name, string(d.Condition))
	}
	for _, name := range c.ParamNames() {
		p := c.Params[name]
		switch {
		case p.Generate != nil && p.Value == "":
			add("params."+name, fmt.Sprintf("<generated: %d %s characters>", p.Generate.Length, p.Generate.Charset))
		case p.Secret && !isReference(p.Value):
			add("params."+name, "<secret>")
		default:
			add("params."+name, p.Value)
		}
	}
	return es
}

var refOnlyRe = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)+\}$`)

func isReference(s string) bool { return refOnlyRe.MatchString(s) }

func networkMap(n model.Network) omap {
	o := omap{{"name", n.Name}}
	for _, f := range []struct{ k, v string }{{"bridge", n.Bridge}, {"ip", n.IP}, {"gw", n.GW}, {"ip6", n.IP6}, {"gw6", n.GW6}} {
		if f.v != "" {
			o = append(o, kv{f.k, f.v})
		}
	}
	if n.VLAN != 0 {
		o = append(o, kv{"vlan", n.VLAN})
	}
	if n.MTU != 0 {
		o = append(o, kv{"mtu", n.MTU})
	}
	if n.MAC != "" {
		o = append(o, kv{"mac", n.MAC})
	}
	if n.Firewall {
		o = append(o, kv{"firewall", true})
	}
	if n.Rate != 0 {
		o = append(o, kv{"rate", n.Rate})
	}
	return o
}

func configTree(d *model.Desired) omap {
	var cs omap
	for _, c := range d.Containers {
		var o omap
		for _, e := range entries(c) {
			o = o.set(e.key, e.val)
		}
		cs = append(cs, kv{c.Name, o})
	}
	var root omap
	if d.Stack != nil {
		root = append(root, kv{"name", d.Stack.Name})
	}
	return append(root, kv{"containers", cs})
}

// ---- a small YAML writer: render does not import a YAML library ----

func writeYAMLMap(b *bytes.Buffer, m omap, indent int) {
	pad := strings.Repeat("  ", indent)
	for _, e := range m {
		b.WriteString(pad)
		b.WriteString(yamlScalar(e.K))
		b.WriteByte(':')
		switch v := e.V.(type) {
		case omap:
			if len(v) == 0 {
				b.WriteString(" {}\n")
				continue
			}
			b.WriteByte('\n')
			writeYAMLMap(b, v, indent+1)
		case []any:
			if len(v) == 0 {
				b.WriteString(" []\n")
				continue
			}
			b.WriteByte('\n')
			for _, item := range v {
				b.WriteString(pad + "  - " + flow(item) + "\n")
			}
		default:
			b.WriteString(" " + flow(v) + "\n")
		}
	}
}

// flow renders a value on one line in YAML flow style.
func flow(v any) string {
	switch t := v.(type) {
	case string:
		return yamlScalar(t)
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	case []string:
		parts := make([]string, len(t))
		for i, s := range t {
			parts[i] = yamlScalar(s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []int:
		parts := make([]string, len(t))
		for i, n := range t {
			parts[i] = strconv.Itoa(n)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = flow(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case omap:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = yamlScalar(e.K) + ": " + flow(e.V)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case nil:
		return "null"
	}
	return yamlScalar(fmt.Sprint(v))
}

var (
	plainSafeRe = regexp.MustCompile(`^[A-Za-z0-9_/][A-Za-z0-9_./@+-]*$`)
	numberishRe = regexp.MustCompile(`^[-+]?(\.?[0-9]|0[xob])`)
)

// yamlScalar quotes a string unless YAML would read it back, unquoted, as
// the same string.
func yamlScalar(s string) string {
	switch strings.ToLower(s) {
	case "", "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n":
		return strconv.Quote(s)
	}
	if plainSafeRe.MatchString(s) && !numberishRe.MatchString(s) {
		return s
	}
	return strconv.Quote(s)
}
