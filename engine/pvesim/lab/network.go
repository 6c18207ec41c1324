package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// bridgeAlias marks a bridge as the lab's, so `down` without a state file
// (a dirty CI machine) removes vmbr0 only if the lab made it.
const bridgeAlias = "pvelab"

// nftTable is the nftables table the lab owns.
const nftTable = "pvelab"

// ErrNoSubnet means every candidate 10.x.0.0/24 overlaps something on the
// machine.
var ErrNoSubnet = errors.New("no free 10.x.0.0/24 subnet")

// usedPrefixes lists every IPv4 prefix the machine routes or owns and the
// resolvers it uses.
func usedPrefixes(ctx context.Context) ([]netip.Prefix, error) {
	var out []netip.Prefix
	routes, err := output(ctx, "ip", "-4", "route", "show", "table", "all")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(routes, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		dst := f[0]
		if dst == "local" || dst == "broadcast" || dst == "unreachable" || dst == "blackhole" || dst == "prohibit" || dst == "multicast" {
			if len(f) < 2 {
				continue
			}
			dst = f[1]
		}
		if dst == "default" {
			continue
		}
		if p, ok := parsePrefix(dst); ok {
			out = append(out, p)
		}
	}
	addrs, err := output(ctx, "ip", "-4", "-o", "addr")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(addrs, "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" {
				if p, ok := parsePrefix(f[i+1]); ok {
					out = append(out, p.Masked())
				}
			}
		}
	}
	for _, ns := range hostResolvers() {
		// The resolver's whole /16 is kept clear: these machines reach a
		// 10.x resolver through routes the lab cannot see (default route),
		// and a sibling /24 would shadow its neighbours.
		if a, err := netip.ParseAddr(ns); err == nil && a.Is4() {
			p, _ := a.Prefix(16)
			out = append(out, p)
		}
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, bool) {
	if !strings.Contains(s, "/") {
		s += "/32"
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, false
	}
	return p, true
}

// pickSubnet returns the first 10.x.0.0/24, x from 77 upwards and then
// wrapping, that overlaps nothing in used.
func pickSubnet(used []netip.Prefix) (netip.Prefix, error) {
	for i := 0; i < 256; i++ {
		x := (77 + i) % 256
		if x == 0 {
			continue
		}
		cand := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(x), 0, 0}), 24)
		free := true
		for _, u := range used {
			if u.Overlaps(cand) {
				free = false
				break
			}
		}
		if free {
			return cand, nil
		}
	}
	return netip.Prefix{}, ErrNoSubnet
}

// hostResolvers returns the nameserver addresses of /etc/resolv.conf.
func hostResolvers() []string {
	f, err := os.Open("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 2 && fs[0] == "nameserver" {
			out = append(out, fs[1])
		}
	}
	return out
}

func linkExists(ctx context.Context, name string) bool {
	return run(ctx, nil, "ip", "link", "show", "dev", name) == nil
}

func linkAlias(name string) string {
	b, err := os.ReadFile("/sys/class/net/" + name + "/ifalias")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func createBridge(ctx context.Context, name string, gw netip.Addr, bits int) error {
	steps := [][]string{
		{"link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0"},
		{"link", "set", "dev", name, "alias", bridgeAlias},
		{"addr", "add", fmt.Sprintf("%s/%d", gw, bits), "dev", name},
		{"link", "set", "dev", name, "up"},
	}
	for _, s := range steps {
		if err := run(ctx, nil, "ip", s...); err != nil {
			return fmt.Errorf("create bridge %s: %w", name, err)
		}
	}
	return nil
}

func nftRules(subnet netip.Prefix) string {
	return fmt.Sprintf(`table ip %[1]s {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr %[2]s ip daddr != %[2]s masquerade
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		ip saddr %[2]s accept
		ip daddr %[2]s ct state established,related accept
	}
}
`, nftTable, subnet)
}

func nftTableExists(ctx context.Context) bool {
	return run(ctx, nil, "nft", "list", "table", "ip", nftTable) == nil
}

func readSysctl(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

// portFree reports whether addr:port can be listened on now.
func portFree(addr string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, fmt.Sprint(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// freePort returns the first free port from start, or any free port.
func freePort(addr string, start int, taken map[int]bool) (int, error) {
	for p := start; p < start+200; p++ {
		if !taken[p] && portFree(addr, p) {
			return p, nil
		}
	}
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", addr, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
