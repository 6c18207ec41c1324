package pve

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The Format* functions print outputs exactly as PVE does (§3, §6, §7).
// The simulator uses them; lxcplan's tests use them to check that each
// parser reads back what PVE prints.

// FormatPctList prints pct list: nothing at all when there are no CTs.
func FormatPctList(es []ListEntry) []byte {
	if len(es) == 0 {
		return nil
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%-10s %-10s %-12s %-20s\n", "VMID", "Status", "Lock", "Name")
	for _, e := range es {
		fmt.Fprintf(&b, "%-10s %-10s %-12s %-20s\n", strconv.Itoa(e.VMID), e.Status, e.Lock, e.Name)
	}
	return b.Bytes()
}

// FormatPctStatus prints plain pct status.
func FormatPctStatus(status string) []byte {
	if status == "" {
		status = "unknown"
	}
	return []byte("status: " + status + "\n")
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// FormatPctStatusVerbose prints pct status --verbose: every defined key
// except cpu, sorted. pid is printed when non-zero, lock and tags when set,
// template when true; Extra (pressure*) as given.
func FormatPctStatusVerbose(s *CTStatus) []byte {
	kv := map[string]string{
		"cpus": fmtFloat(s.CPUs), "disk": strconv.FormatInt(s.Disk, 10),
		"diskread": strconv.FormatInt(s.DiskRead, 10), "diskwrite": strconv.FormatInt(s.DiskWrite, 10),
		"maxdisk": strconv.FormatInt(s.MaxDisk, 10), "maxmem": strconv.FormatInt(s.MaxMem, 10),
		"maxswap": strconv.FormatInt(s.MaxSwap, 10), "mem": strconv.FormatInt(s.Mem, 10), "name": s.Name,
		"netin": strconv.FormatInt(s.NetIn, 10), "netout": strconv.FormatInt(s.NetOut, 10), "status": s.Status,
		"swap": strconv.FormatInt(s.Swap, 10), "type": s.Type, "uptime": strconv.FormatInt(s.Uptime, 10),
		"vmid": strconv.Itoa(s.VMID),
	}
	if s.PID != 0 {
		kv["pid"] = strconv.Itoa(s.PID)
	}
	if s.Lock != "" {
		kv["lock"] = s.Lock
	}
	if s.Tags != "" {
		kv["tags"] = s.Tags
	}
	if s.Template {
		kv["template"] = "1"
	}
	for k, v := range s.Extra {
		if _, ok := kv[k]; !ok && k != "cpu" {
			kv[k] = v
		}
	}
	var b bytes.Buffer
	for _, k := range sortedKeys(kv) {
		b.WriteString(k + ": " + kv[k] + "\n")
	}
	return b.Bytes()
}

// FormatPctConfig prints pct config for a section (§3.3): keys sorted, the
// description encoded on one line at its sorted position, digest omitted,
// lxc.* lines last.
func FormatPctConfig(s *Section) []byte {
	kv := map[string]string{}
	for k, v := range s.Options {
		if k != "digest" {
			kv[k] = v
		}
	}
	if s.Description != "" {
		kv["description"] = EncodeText(s.Description)
	}
	var b bytes.Buffer
	for _, k := range sortedKeys(kv) {
		b.WriteString(k + ": " + kv[k] + "\n")
	}
	for _, r := range s.Raw {
		b.WriteString(r.Key + ": " + r.Value + "\n")
	}
	return b.Bytes()
}

// SnapshotTree orders a config's snapshots as pct listsnapshot does (§3.4):
// roots and siblings by snaptime, "current" (child of the main section's
// parent) always last among its siblings. Times are rendered in loc.
func SnapshotTree(c *Config, loc *time.Location) []SnapshotEntry {
	type node struct {
		name     string
		time     int64
		hasTime  bool
		descr    string
		parent   string
		children []*node
	}
	nodes := map[string]*node{}
	for name, s := range c.Snapshots {
		n := &node{name: name, descr: s.Description, parent: s.Options["parent"]}
		if t, err := strconv.ParseInt(s.Options["snaptime"], 10, 64); err == nil {
			n.time, n.hasTime = t, true
		}
		nodes[name] = n
	}
	cur := &node{name: "current", parent: c.Options["parent"]}
	var roots []*node
	all := append([]*node{cur}, nil...)
	for _, name := range c.SnapshotNames() {
		all = append(all, nodes[name])
	}
	for _, n := range all {
		if p, ok := nodes[n.parent]; ok && n.parent != n.name {
			p.children = append(p.children, n)
		} else {
			roots = append(roots, n)
		}
	}
	less := func(ns []*node) {
		sort.SliceStable(ns, func(i, j int) bool {
			a, b := ns[i], ns[j]
			if a.hasTime != b.hasTime {
				return a.hasTime
			}
			if a.time != b.time {
				return a.time < b.time
			}
			return a.name < b.name
		})
	}
	var out []SnapshotEntry
	seen := map[*node]bool{}
	var walk func(n *node, depth int, parent string)
	walk = func(n *node, depth int, parent string) {
		if seen[n] {
			return // a parent cycle in a hand-edited config
		}
		seen[n] = true
		e := SnapshotEntry{Name: n.name, Parent: parent, Depth: depth, Current: n == cur}
		if n.hasTime {
			e.Time = time.Unix(n.time, 0).In(loc).Format("2006-01-02 15:04:05")
		}
		e.Description, _, _ = strings.Cut(n.descr, "\n")
		out = append(out, e)
		less(n.children)
		for _, c := range n.children {
			walk(c, depth+1, n.name)
		}
	}
	less(roots)
	for _, r := range roots {
		walk(r, 0, "")
	}
	return out
}

// FormatPctListSnapshot prints the tree of pct listsnapshot.
func FormatPctListSnapshot(es []SnapshotEntry) []byte {
	var b bytes.Buffer
	for _, e := range es {
		prefix := strings.Repeat(" ", e.Depth) + "`->"
		width := 30 - len(prefix)
		if width < 0 {
			width = 0
		}
		descr := e.Description
		switch {
		case e.Current:
			descr = "You are here!"
		case descr == "":
			descr = "no-description"
		}
		fmt.Fprintf(&b, "%s %-*s %-23s %s\n", prefix, width, e.Name, e.Time, descr)
	}
	return b.Bytes()
}

// FormatPveamAvailable prints pveam available; withArch selects the
// pve-manager >= 9.2.8 three-column layout.
func FormatPveamAvailable(ts []AvailableTemplate, withArch bool) []byte {
	var b bytes.Buffer
	for _, t := range ts {
		if withArch {
			fmt.Fprintf(&b, "%-15s %-60s %s\n", t.Section, t.Template, t.Arch)
		} else {
			fmt.Fprintf(&b, "%-15s %s\n", t.Section, t.Template)
		}
	}
	return b.Bytes()
}

// FormatPveamList prints pveam list from sizes in bytes (Size).
func FormatPveamList(ts []StoredTemplate) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%-60s %-6s\n", "NAME", "SIZE")
	for _, t := range ts {
		fmt.Fprintf(&b, "%-60s %-4.2fMB\n", t.VolID, float64(t.Size)/float64(MiB))
	}
	return b.Bytes()
}

// FormatPvesmStatus prints pvesm status; kibHeader selects the
// libpve-storage-perl >= 9.0.14 header ("Total (KiB)" ...).
func FormatPvesmStatus(ss []StorageStatus, kibHeader bool) []byte {
	maxlen := 0
	for _, s := range ss {
		if len(s.Name) > maxlen {
			maxlen = len(s.Name)
		}
	}
	maxlen++
	var b bytes.Buffer
	total, used, avail := "Total", "Used", "Available"
	if kibHeader {
		total, used, avail = "Total (KiB)", "Used (KiB)", "Available (KiB)"
	}
	fmt.Fprintf(&b, "%-*s %10s %10s %15s %15s %15s %8s\n", maxlen, "Name", "Type", "Status", total, used, avail, "%")
	for _, s := range ss {
		pct := "     N/A"
		if s.PercentKnown {
			pct = fmt.Sprintf("% 7.2f%%", s.Percent)
		}
		fmt.Fprintf(&b, "%-*s %10s %10s %15d %15d %15d %s\n", maxlen, s.Name, s.Type, s.Status, s.Total, s.Used, s.Avail, pct)
	}
	return b.Bytes()
}

// FormatPvesmList prints pvesm list.
func FormatPvesmList(vs []Volume) []byte {
	maxVolid, maxSize := len("Volid"), len("Size")
	for _, v := range vs {
		maxVolid = max(maxVolid, len(v.VolID))
		maxSize = max(maxSize, len(strconv.FormatInt(v.Size, 10)))
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%-*s %-7s %-9s %*s %s\n", maxVolid, "Volid", "Format", "Type", maxSize, "Size", "VMID")
	for _, v := range vs {
		fmt.Fprintf(&b, "%-*s %-7s %-9s %*d", maxVolid, v.VolID, v.Format, v.Type, maxSize, v.Size)
		if v.VMID != 0 {
			fmt.Fprintf(&b, " %d", v.VMID)
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}
