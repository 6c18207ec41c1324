package pve

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Validators of PVE's named formats used by the container options. Their
// messages are the exact texts PVE "die"s with (§9). They return a plain
// error carrying only that text; as part of a parameter check it is shown
// as "<param>: invalid format - <text>" (see [ParamErrors]).

var (
	ipv4Octet = `(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])`
	reIPv4    = regexp.MustCompile(`^` + ipv4Octet + `(?:\.` + ipv4Octet + `){3}$`)
	reMAC     = regexp.MustCompile(`(?i)^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$`)
	reNetName = regexp.MustCompile(`^[-_.\w\d]+$`)
	reTrunks  = regexp.MustCompile(`^\d+(?:;\d+)*$`)
)

func isIPv4(s string) bool { return reIPv4.MatchString(s) }

func isIPv6(s string) bool {
	if strings.ContainsAny(s, "%") || !strings.Contains(s, ":") {
		return false
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6()
}

func cidrOK(s string, v6 bool) bool {
	addr, pfx, ok := strings.Cut(s, "/")
	if !ok || pfx == "" || len(pfx) > 3 || strings.Trim(pfx, "0123456789") != "" {
		return false
	}
	n, _ := strconv.Atoi(pfx)
	if v6 {
		return isIPv6(addr) && n > 7 && n <= 128
	}
	return isIPv4(addr) && n > 7 && n <= 32
}

// VerifyMAC checks a unicast MAC (I/G bit clear), format mac-addr.
func VerifyMAC(s string) error {
	if !reMAC.MatchString(s) {
		return fmtErr("value does not look like a valid unicast MAC address")
	}
	return nil
}

// VerifyIPv4Config checks the net ip= value: dhcp, manual or a.b.c.d/8..32.
func VerifyIPv4Config(s string) error {
	if s == "dhcp" || s == "manual" || cidrOK(s, false) {
		return nil
	}
	return fmtErr("value does not look like a valid ipv4 network configuration")
}

// VerifyIPv6Config checks the net ip6= value: auto, dhcp, manual or v6/8..128.
func VerifyIPv6Config(s string) error {
	if s == "auto" || s == "dhcp" || s == "manual" || cidrOK(s, true) {
		return nil
	}
	return fmtErr("value does not look like a valid ipv6 network configuration")
}

// VerifyIPv4 checks a plain IPv4 address (gw=).
func VerifyIPv4(s string) error {
	if !isIPv4(s) {
		return fmtErr("value does not look like a valid IPv4 address")
	}
	return nil
}

// VerifyIPv6 checks a plain IPv6 address (gw6=).
func VerifyIPv6(s string) error {
	if !isIPv6(s) {
		return fmtErr("value does not look like a valid IPv6 address")
	}
	return nil
}

func optBoolProp() Prop { return Prop{Type: TypeBool, Optional: true} }

// NetFormat is the format of netN (§2.2).
var NetFormat = PropFormat{
	"name":         {Type: TypeString, Pattern: reNetName},
	"bridge":       {Type: TypeString, Optional: true, Pattern: reNetName},
	"firewall":     optBoolProp(),
	"gw":           {Type: TypeString, Optional: true, Format: VerifyIPv4},
	"gw6":          {Type: TypeString, Optional: true, Format: VerifyIPv6},
	"host-managed": optBoolProp(),
	"hwaddr":       {Type: TypeString, Optional: true, Format: VerifyMAC},
	"ip":           {Type: TypeString, Optional: true, Format: VerifyIPv4Config},
	"ip6":          {Type: TypeString, Optional: true, Format: VerifyIPv6Config},
	"link_down":    optBoolProp(),
	"mtu":          {Type: TypeInt, Optional: true, Min: 64, HasMin: true, Max: 65535, HasMax: true},
	"rate":         {Type: TypeNumber, Optional: true, Min: 0, HasMin: true},
	"tag":          {Type: TypeInt, Optional: true, Min: 1, HasMin: true, Max: 4094, HasMax: true},
	"trunks":       {Type: TypeString, Optional: true, Pattern: reTrunks},
	"type":         {Type: TypeString, Optional: true, Enum: []string{"veth"}},
}

// Net is a parsed netN value.
type Net struct {
	Name     string // required, e.g. "eth0"
	Bridge   string
	Firewall OptBool
	GW       string
	GW6      string
	// HostManaged exists from PVE 9 (pve-container 6.0.15).
	HostManaged OptBool
	// HWAddr as written; PVE generates an uppercase BC:24:11:... one if absent.
	HWAddr   string
	IP       string // "dhcp", "manual" or CIDR
	IP6      string // "auto", "dhcp", "manual" or CIDR
	LinkDown OptBool
	MTU      int // 0 = unset
	// Rate is kept as text (MB/s, may be fractional) so it renders as given.
	Rate   string
	Tag    int    // 0 = unset
	Trunks string // "vid;vid"
	Type   string // "veth" once PVE has written the config
}

// ParseNet parses and validates a netN value. param is the option name
// ("net0") used in error paths; the error is a [ParamErrors].
func ParseNet(param, s string) (*Net, error) {
	m, err := ParsePropertyString(param, NetFormat, s)
	if err != nil {
		return nil, err
	}
	return &Net{
		Name: m["name"], Bridge: m["bridge"], Firewall: optBool(m, "firewall"),
		GW: m["gw"], GW6: m["gw6"], HostManaged: optBool(m, "host-managed"),
		HWAddr: m["hwaddr"], IP: m["ip"], IP6: m["ip6"], LinkDown: optBool(m, "link_down"),
		MTU: atoi(m["mtu"]), Rate: m["rate"], Tag: atoi(m["tag"]), Trunks: m["trunks"], Type: m["type"],
	}, nil
}

// Map returns the key=value form of n.
func (n *Net) Map() map[string]string {
	m := map[string]string{}
	putStr(m, "name", n.Name)
	putStr(m, "bridge", n.Bridge)
	putBool(m, "firewall", n.Firewall)
	putStr(m, "gw", n.GW)
	putStr(m, "gw6", n.GW6)
	putBool(m, "host-managed", n.HostManaged)
	putStr(m, "hwaddr", n.HWAddr)
	putStr(m, "ip", n.IP)
	putStr(m, "ip6", n.IP6)
	putBool(m, "link_down", n.LinkDown)
	putInt(m, "mtu", n.MTU)
	putStr(m, "rate", n.Rate)
	putInt(m, "tag", n.Tag)
	putStr(m, "trunks", n.Trunks)
	putStr(m, "type", n.Type)
	return m
}

// String renders n as PVE writes it: name first, then keys alphabetically.
func (n *Net) String() string { return PrintPropertyString(NetFormat, n.Map()) }

// Validate re-checks n with PVE's rules (useful for values built in code).
func (n *Net) Validate(param string) error {
	_, err := ParseNet(param, n.String())
	return err
}
