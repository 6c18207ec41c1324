package provision

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// ErrNoAddress: the container did not get its address within the wait.
var ErrNoAddress = errors.New("no address")

// WaitEvent reports one unsuccessful try of a bounded wait (for an address
// or for health), so a slow container shows up in the logs.
type WaitEvent struct {
	VMID    int
	Attempt int
	Elapsed time.Duration
	// Message says what was seen, never a secret.
	Message string
}

// DefaultAddressTimeout is used when WaitForAddress gets no timeout; the
// helper scripts wait about two minutes too (helper-scripts §4.1).
const DefaultAddressTimeout = 2 * time.Minute

// netIface is the container interface lxcplan provisions through (net0).
const netIface = "eth0"

// waitSchedule is the pause after try n (1-based): 1 s, 2 s, then 3 s, as
// the helper scripts do.
func waitSchedule(n int) time.Duration {
	switch n {
	case 1:
		return time.Second
	case 2:
		return 2 * time.Second
	}
	return 3 * time.Second
}

// WaitForAddress waits until container vmid on node has its IPv4 address on
// eth0 and returns it bare (no prefix length). static is net0's ip setting:
// a CIDR address (returned once the interface carries it, checked with
// `pct exec VMID -- ip -o -4 addr show dev eth0`), "dhcp" or "" (the lease is
// read from `pvesh get /nodes/NODE/lxc/VMID/interfaces`), or "manual" (no
// address to wait for: returns ""). timeout 0 means [DefaultAddressTimeout];
// observe, if not nil, hears about every unsuccessful try.
func WaitForAddress(ctx context.Context, runner transport.Runner, node string, vmid int, static string, timeout time.Duration, observe func(WaitEvent)) (string, error) {
	if timeout <= 0 {
		timeout = DefaultAddressTimeout
	}
	var try func(context.Context) (string, string, error)
	switch {
	case static == "manual":
		return "", nil
	case static == "" || static == "dhcp":
		argv := pve.PveshGet(pve.PathLXCInterfaces(node, vmid))
		try = func(ctx context.Context) (string, string, error) {
			res, err := runner.Run(ctx, transport.Command{Argv: argv, ReadOnly: true})
			if err != nil {
				return "", "", err
			}
			ifs, err := pve.ParseInterfaces(res.Stdout)
			if err != nil {
				return "", "", err
			}
			for _, f := range ifs {
				if f.Name != netIface || f.Inet == "" {
					continue
				}
				p, err := netip.ParsePrefix(f.Inet)
				if err != nil {
					return "", "", fmt.Errorf("interfaces of %d: eth0 address %q: %w", vmid, f.Inet, err)
				}
				if a := p.Addr(); a.Is4() && !a.IsLinkLocalUnicast() {
					return a.String(), "", nil
				}
			}
			return "", "eth0 has no IPv4 lease yet", nil
		}
	default:
		want, err := bareAddr(static)
		if err != nil {
			return "", fmt.Errorf("container %d: static address %q: %w", vmid, static, err)
		}
		argv := pve.PctExec(vmid, pve.Unset, "ip", "-o", "-4", "addr", "show", "dev", netIface)
		try = func(ctx context.Context) (string, string, error) {
			res, err := runner.Run(ctx, transport.Command{Argv: argv, ReadOnly: true})
			if err != nil {
				// Not running yet, or ip failing early in boot: try again.
				var ee *transport.ExitError
				if errors.As(err, &ee) {
					return "", strings.TrimSpace(string(ee.Stderr)), nil
				}
				return "", "", err
			}
			if hasInet(string(res.Stdout), want) {
				return want, "", nil
			}
			return "", "eth0 does not carry " + want + " yet", nil
		}
	}
	start := time.Now()
	deadline := start.Add(timeout)
	var last string
	for n := 1; ; n++ {
		addr, msg, err := try(ctx)
		if err != nil {
			return "", fmt.Errorf("wait for the address of container %d on %s: %w", vmid, node, err)
		}
		if addr != "" {
			return addr, nil
		}
		last = msg
		if observe != nil {
			observe(WaitEvent{VMID: vmid, Attempt: n, Elapsed: time.Since(start), Message: msg})
		}
		left := time.Until(deadline)
		if left <= 0 {
			return "", fmt.Errorf("container %d on %s: %w on eth0 within %s (last: %s)", vmid, node, ErrNoAddress, timeout, last)
		}
		if err := sleepCtx(ctx, min(waitSchedule(n), left)); err != nil {
			return "", fmt.Errorf("wait for the address of container %d on %s: %w", vmid, node, err)
		}
	}
}

// bareAddr returns the address of a CIDR (or bare) IPv4/IPv6 setting.
func bareAddr(s string) (string, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr().String(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

// hasInet reports whether `ip -o -4 addr` output lists addr on some line
// ("2: eth0    inet 10.0.0.5/24 brd ... scope global eth0...").
func hasInet(out, addr string) bool {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" && strings.HasPrefix(f[i+1], addr+"/") {
				return true
			}
		}
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
