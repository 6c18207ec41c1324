package lxcrt

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lxcplan/lxcplan/engine/pvesim"
)

// Unprivileged containers map container ids 0..65535 to host ids from
// IDShift; `pvelab up` grants root this range in /etc/subuid and subgid.
const (
	IDShift = 100000
	IDRange = 65536
)

// hostFacts are the properties of the machine the LXC config depends on,
// separated out so configText stays a pure function.
type hostFacts struct {
	CgroupV1 bool // host mounts cgroup v1 controllers
	MemSwap  bool // v1 memory.memsw.* is available
	CPUs     int
}

func detectHost() hostFacts {
	h := hostFacts{CPUs: cpuCount()}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		h.CgroupV1 = true
		if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil {
			h.MemSwap = true
		}
	}
	return h
}

func cpuCount() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return 1
	}
	n := 0
	for _, r := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, ok := strings.Cut(r, "-")
		a, _ := strconv.Atoi(lo)
		z := a
		if ok {
			z, _ = strconv.Atoi(hi)
		}
		n += z - a + 1
	}
	if n < 1 {
		n = 1
	}
	return n
}

// DefaultHWAddr derives a stable MAC in Proxmox's BC:24:11 range.
func DefaultHWAddr(node string, vmid int, iface string) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%d/%s", node, vmid, iface)
	s := h.Sum32()
	return fmt.Sprintf("BC:24:11:%02X:%02X:%02X", byte(s>>16), byte(s>>8), byte(s))
}

// configText renders the LXC config for s, with the keys lab-notes found
// a systemd container needs on these hosts.
func configText(s pvesim.StartSpec, node, defaultBridge string, h hostFacts) (string, error) {
	if s.VMID <= 0 {
		return "", fmt.Errorf("vmid %d: %w", s.VMID, ErrSpec)
	}
	if !filepath.IsAbs(s.RootDir) {
		return "", fmt.Errorf("rootfs %q not absolute: %w", s.RootDir, ErrSpec)
	}
	var b strings.Builder
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s = %v\n", k, v) }
	cg := "lxc.cgroup2."
	if h.CgroupV1 {
		cg = "lxc.cgroup."
	}
	b.WriteString("# written by pvelab lxcrt; regenerated at every start\n")
	arch := s.Arch
	if arch == "" {
		arch = "amd64"
	}
	kv("lxc.arch", arch)
	host := s.Hostname
	if host == "" {
		host = fmt.Sprintf("CT%d", s.VMID)
	}
	kv("lxc.uts.name", host)
	kv("lxc.rootfs.path", "dir:"+s.RootDir)
	kv("lxc.apparmor.profile", "unconfined")
	if s.Nesting {
		// /sys stays mixed (read-only but for net) even with nesting: with a
		// writable /sys, systemd-networkd waits for udev, which containers
		// lack, and the container never configures an address.
		kv("lxc.mount.auto", "proc:rw sys:mixed cgroup:rw")
	} else {
		kv("lxc.mount.auto", "proc:mixed sys:mixed cgroup:mixed")
	}
	kv("lxc.autodev", 1)
	kv("lxc.pty.max", 1024)
	kv("lxc.tty.max", 2)
	kv("lxc.signal.halt", "SIGRTMIN+3") // systemd's clean poweroff
	kv("lxc.cap.drop", "sys_time sys_module sys_rawio mac_admin mac_override")
	if s.Unprivileged {
		kv("lxc.idmap", fmt.Sprintf("u 0 %d %d", IDShift, IDRange))
		kv("lxc.idmap", fmt.Sprintf("g 0 %d %d", IDShift, IDRange))
	}
	if s.Memory > 0 {
		mem := int64(s.Memory) << 20
		if h.CgroupV1 {
			kv(cg+"memory.limit_in_bytes", mem)
			if h.MemSwap {
				kv(cg+"memory.memsw.limit_in_bytes", mem+int64(s.Swap)<<20)
			}
		} else {
			kv(cg+"memory.max", mem)
			kv(cg+"memory.swap.max", int64(s.Swap)<<20)
		}
	}
	if s.Cores > 0 {
		n := min(s.Cores, max(h.CPUs, 1))
		if n == 1 {
			kv(cg+"cpuset.cpus", "0")
		} else {
			kv(cg+"cpuset.cpus", fmt.Sprintf("0-%d", n-1))
		}
	}
	for i, n := range s.Nets {
		p := fmt.Sprintf("lxc.net.%d.", i)
		name := n.Name
		if name == "" {
			name = fmt.Sprintf("eth%d", i)
		}
		br := n.Bridge
		if br == "" {
			br = defaultBridge
		}
		hw := n.HWAddr
		if hw == "" {
			hw = DefaultHWAddr(node, s.VMID, name)
		}
		kv(p+"type", "veth")
		kv(p+"link", br)
		kv(p+"flags", "up")
		kv(p+"name", name)
		kv(p+"hwaddr", strings.ToUpper(hw))
		kv(p+"veth.pair", fmt.Sprintf("veth%di%d", s.VMID, i))
		if n.MTU > 0 {
			kv(p+"mtu", n.MTU)
		}
	}
	if len(s.Nets) == 0 {
		kv("lxc.net.0.type", "empty")
	}
	for _, m := range s.Mounts {
		if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Target) || strings.ContainsAny(m.Source+m.Target, " \t\n") {
			return "", fmt.Errorf("mount %s -> %s: %w", m.Source, m.Target, ErrSpec)
		}
		opts := "rbind,create=dir"
		if m.ReadOnly {
			opts += ",ro"
		}
		kv("lxc.mount.entry", fmt.Sprintf("%s %s none %s 0 0", m.Source, strings.TrimPrefix(filepath.Clean(m.Target), "/"), opts))
	}
	for _, d := range s.Devices {
		if !filepath.IsAbs(d.Path) || strings.ContainsAny(d.Path, " \t\n") {
			return "", fmt.Errorf("device %s: %w", d.Path, ErrSpec)
		}
		// Only stand-in nodes exist in the lab: bind the path as a file and,
		// for a real device node, let the container open it.
		kv("lxc.mount.entry", fmt.Sprintf("%s %s none bind,optional,create=file 0 0", d.Path, strings.TrimPrefix(filepath.Clean(d.Path), "/")))
		if typ, maj, mnr, ok := devNumbers(d.Path); ok {
			kv(cg+"devices.allow", fmt.Sprintf("%c %d:%d rwm", typ, maj, mnr))
		}
	}
	for _, f := range strings.Split(s.Features, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		if k == "fuse" && v == "1" {
			kv("lxc.mount.entry", "/dev/fuse dev/fuse none bind,optional,create=file 0 0")
			kv(cg+"devices.allow", "c 10:229 rwm")
		}
	}
	for _, raw := range s.RawLXC {
		line := strings.TrimSpace(raw)
		if line == "" || strings.ContainsAny(line, "\n\r") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok && strings.Contains(line, ":") {
			// Proxmox config form "lxc.key: value".
			k, v, ok = strings.Cut(line, ":")
		}
		if !ok {
			return "", fmt.Errorf("raw lxc line %q: %w", line, ErrSpec)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !strings.HasPrefix(k, "lxc.") {
			return "", fmt.Errorf("raw lxc line %q: %w", line, ErrSpec)
		}
		k = translateCgroupKey(k, h.CgroupV1)
		kv(k, v)
	}
	return b.String(), nil
}

// translateCgroupKey maps device rules written for cgroup v2 (what
// Proxmox 7+ documents) to v1 on a v1 host, and back.
func translateCgroupKey(k string, v1 bool) string {
	switch {
	case v1 && strings.HasPrefix(k, "lxc.cgroup2.devices."):
		return "lxc.cgroup." + strings.TrimPrefix(k, "lxc.cgroup2.")
	case !v1 && strings.HasPrefix(k, "lxc.cgroup.devices."):
		return "lxc.cgroup2." + strings.TrimPrefix(k, "lxc.cgroup.")
	}
	return k
}
