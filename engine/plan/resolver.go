package plan

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/lxcplan/lxcplan/engine/model"
)

// NewResolver resolves references to the stack's containers from what the
// plan knows: a declared static address, else the address the marker
// learned at apply (DHCP); the hostname and a declared vmid; an output is
// its recipe template expanded in the dependency's own scope (secret when
// it uses a secret). markers maps a container name to its marker (nil
// when the container does not exist yet).
func NewResolver(d *model.Desired, markers map[string]*Marker) Resolver {
	byName := make(map[string]*model.Container, len(d.Containers))
	for _, c := range d.Containers {
		byName[c.Name] = c
	}
	var r ResolverFunc
	r = func(ref string) (Value, bool) {
		rest, ok := strings.CutPrefix(ref, "containers.")
		if !ok {
			return Value{}, false
		}
		name, field, ok := strings.Cut(rest, ".")
		if !ok {
			return Value{}, false
		}
		c := byName[name]
		if c == nil {
			return Value{}, false
		}
		switch {
		case field == "ip":
			if a := staticAddr(c.Network.IP); a != "" {
				return Value{Text: a}, true
			}
			if m := markers[name]; m != nil {
				iface := c.Network.Name
				if iface == "" {
					iface = "eth0"
				}
				if a := m.Addresses[iface]; a != "" {
					return Value{Text: a}, true
				}
			}
			return Value{}, false
		case field == "ip6":
			if a := staticAddr(c.Network.IP6); a != "" {
				return Value{Text: a}, true
			}
			return Value{}, false
		case field == "hostname":
			return Value{Text: c.Hostname}, true
		case field == "vmid":
			if c.VMID != 0 {
				return Value{Text: strconv.Itoa(c.VMID)}, true
			}
			return Value{}, false
		case strings.HasPrefix(field, "outputs."):
			out := strings.TrimPrefix(field, "outputs.")
			if c.Loaded == nil {
				return Value{}, false
			}
			o, ok := c.Loaded.Outputs[out]
			if !ok {
				return Value{}, false
			}
			return scope{c: c, res: r}.expand(o.Template, 1)
		}
		return Value{}, false
	}
	return r
}

// staticAddr is the bare address of a CIDR ("10.0.0.5/24" → "10.0.0.5"), or
// "" for dhcp, manual, auto and "".
func staticAddr(cidr string) string {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return ""
	}
	return p.Addr().String()
}
