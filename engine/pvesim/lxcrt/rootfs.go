package lxcrt

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"strings"

	"github.com/lxcplan/lxcplan/engine/pvesim"
)

const (
	pveBegin = "# --- BEGIN PVE ---"
	pveEnd   = "# --- END PVE ---"
)

// guestFile is one file written into the container before it starts.
type guestFile struct {
	Path    string // relative to the rootfs, slash separated
	Content string
	Mode    fs.FileMode
	// Merge keeps the file's lines outside the PVE section, as Proxmox
	// does for /etc/hosts.
	Merge bool
}

// guestFiles computes what Proxmox writes into a container at start
// (hostname, hosts, resolv.conf, network), plus the lab's apt proxy.
func guestFiles(s pvesim.StartSpec, dns, aptProxy string) []guestFile {
	host := s.Hostname
	if host == "" {
		host = fmt.Sprintf("CT%d", s.VMID)
	}
	short, _, _ := strings.Cut(host, ".")
	fqdn := host
	if !strings.Contains(host, ".") && s.Searchdomain != "" {
		fqdn = host + "." + strings.Fields(s.Searchdomain)[0]
	}
	hostsIP := "127.0.1.1"
	for _, n := range s.Nets {
		if p, err := netip.ParsePrefix(n.IP); err == nil && p.Addr().Is4() {
			hostsIP = p.Addr().String()
			break
		}
	}
	names := fqdn
	if fqdn != short {
		names += " " + short
	}
	files := []guestFile{
		{Path: "etc/hostname", Content: short + "\n", Mode: 0o644},
		{Path: "etc/hosts", Mode: 0o644, Merge: true,
			Content: fmt.Sprintf("%s\n%s %s\n%s\n", pveBegin, hostsIP, names, pveEnd)},
	}
	var rc strings.Builder
	rc.WriteString(pveBegin + "\n")
	if s.Searchdomain != "" {
		rc.WriteString("search " + s.Searchdomain + "\n")
	}
	ns := strings.Fields(s.Nameserver)
	if len(ns) == 0 && dns != "" {
		ns = []string{dns}
	}
	for _, a := range ns {
		rc.WriteString("nameserver " + a + "\n")
	}
	rc.WriteString(pveEnd + "\n")
	files = append(files, guestFile{Path: "etc/resolv.conf", Content: rc.String(), Mode: 0o644})
	for i, n := range s.Nets {
		name := n.Name
		if name == "" {
			name = fmt.Sprintf("eth%d", i)
		}
		files = append(files, guestFile{Path: "etc/systemd/network/" + name + ".network", Content: networkdUnit(name, n), Mode: 0o644})
	}
	if aptProxy != "" {
		files = append(files, guestFile{Path: "etc/apt/apt.conf.d/00pvelab-proxy",
			Content: fmt.Sprintf("// written by pvelab at container start: the lab's apt cache\nAcquire::http::Proxy \"%s\";\n", aptProxy), Mode: 0o644})
	}
	return files
}

// networkdUnit renders a systemd-networkd unit for one interface in the
// shape Proxmox writes for distributions that use networkd.
func networkdUnit(name string, n pvesim.NetSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[Match]\nName = %s\n\n[Network]\nDescription = Interface %s autoconfigured by PVE\n", name, name)
	v4dhcp := n.IP == "dhcp"
	v6dhcp := n.IP6 == "dhcp"
	if n.IP != "" && !v4dhcp && n.IP != "manual" {
		fmt.Fprintf(&b, "Address = %s\n", n.IP)
	}
	if n.GW != "" && !v4dhcp {
		fmt.Fprintf(&b, "Gateway = %s\n", n.GW)
	}
	if n.IP6 != "" && !v6dhcp && n.IP6 != "auto" && n.IP6 != "manual" {
		fmt.Fprintf(&b, "Address = %s\n", n.IP6)
	}
	if n.GW6 != "" && !v6dhcp && n.IP6 != "auto" {
		fmt.Fprintf(&b, "Gateway = %s\n", n.GW6)
	}
	switch {
	case v4dhcp && v6dhcp:
		b.WriteString("DHCP = yes\n")
	case v4dhcp:
		b.WriteString("DHCP = ipv4\n")
	case v6dhcp:
		b.WriteString("DHCP = ipv6\n")
	default:
		b.WriteString("DHCP = no\n")
	}
	if n.IP6 == "auto" || v6dhcp {
		b.WriteString("IPv6AcceptRA = true\n")
	} else {
		b.WriteString("IPv6AcceptRA = false\n")
	}
	if n.MTU > 0 {
		fmt.Fprintf(&b, "\n[Link]\nMTUBytes = %d\n", n.MTU)
	}
	return b.String()
}

// mergePVESection replaces the PVE-marked section of old with section
// (which carries its own markers), appending it if there is none.
func mergePVESection(old, section string) string {
	if old == "" {
		old = "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n"
	}
	if i := strings.Index(old, pveBegin); i >= 0 {
		if j := strings.Index(old[i:], pveEnd); j >= 0 {
			rest := old[i+j+len(pveEnd):]
			rest = strings.TrimPrefix(rest, "\n")
			return old[:i] + section + rest
		}
	}
	if !strings.HasSuffix(old, "\n") {
		old += "\n"
	}
	return old + section
}

// writeGuestFiles writes files into rootDir through an os.Root, so a
// symlink planted in the container cannot redirect a host write outside
// the rootfs. Files are owned by the container's root.
func writeGuestFiles(rootDir string, files []guestFile, uid, gid int) error {
	r, err := os.OpenRoot(rootDir)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	defer r.Close()
	for _, f := range files {
		dir, base := path.Split(f.Path)
		if fileExists(r, path.Join(dir, ".pve-ignore."+base)) {
			continue
		}
		if err := r.MkdirAll(strings.TrimSuffix(dir, "/"), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		content := f.Content
		if fi, err := r.Lstat(f.Path); err == nil {
			if f.Merge && fi.Mode().IsRegular() {
				old, err := r.ReadFile(f.Path)
				if err != nil {
					return fmt.Errorf("write %s: %w", f.Path, err)
				}
				content = mergePVESection(string(old), f.Content)
			} else if f.Merge {
				content = mergePVESection("", f.Content)
			}
			// A symlink (resolv.conf → systemd-resolved) is replaced by a
			// file, as Proxmox does.
			if err := r.Remove(f.Path); err != nil {
				return fmt.Errorf("write %s: %w", f.Path, err)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("write %s: %w", f.Path, err)
		} else if f.Merge {
			content = mergePVESection("", f.Content)
		}
		if err := r.WriteFile(f.Path, []byte(content), f.Mode); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		if err := r.Lchown(f.Path, uid, gid); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	return nil
}

func fileExists(r *os.Root, name string) bool {
	_, err := r.Lstat(name)
	return err == nil
}
