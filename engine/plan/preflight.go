package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/pve"
)

// Pre-flight checks find, at plan time, what would make apply fail on the
// hosts: they become plan diagnostics (ClassHost, exit 1) instead of a
// rollback halfway through. They only look at what a change touches, so a
// container that is up to date never fails a plan because of its neighbours.

// preflight checks one planned change. live is nil for a create; ownVMID is
// the container's own vmid (excluded from conflict checks).
func (df *differ) preflight(c *model.Container, ch *Change, h *inventory.Host, cl *inventory.Cluster, desired map[string]Option, live *LiveConfig, ownVMID int) {
	if ch.Unknown || h == nil || !h.Reachable {
		return
	}
	creating := ch.Action == ActionCreate || ch.Action == ActionReplace
	// changed reports whether a field of the option (or of an indexed
	// option family: "net", "dev") is in the change.
	changed := func(name string) bool {
		for _, f := range ch.Fields {
			if k := topKey(f.Path); k == name || isIndexed(k, name) {
				return true
			}
		}
		return false
	}
	errHost := func(path, detail, format string, a ...any) {
		df.ds = append(df.ds, diag.Diagnostic{Severity: diag.SevError, Class: diag.ClassHost, Pos: c.Pos,
			Path: cpath(c) + path, Host: c.Host, Summary: fmt.Sprintf(format, a...), Detail: detail})
	}

	// Storage for the rootfs (a new one, or on the migration target).
	if creating || ch.Action == ActionMigrate {
		df.checkStorage(c, h, c.Storage, "rootdir", ".storage")
	}
	if creating {
		need := desired["rootfs"].Size
		if live != nil && live.RootStorage == c.Storage {
			need -= live.Size["rootfs"] // replace frees the old volume first
		}
		df.addNeed(c.Host, c.Storage, need, c)
	}
	for _, k := range sortedKeys(desired) {
		o := desired[k]
		if !isIndexed(k, "mp") || o.Size == 0 {
			continue
		}
		if _, exists := liveKey(live, k); exists && !creating {
			continue
		}
		st := storageOf(k, o, c)
		df.checkStorage(c, h, st, "rootdir", ".mounts")
		df.addNeed(c.Host, st, o.Size, c)
	}

	// Template.
	if creating && ch.Template != nil {
		df.checkStorage(c, h, ch.Template.Storage, "vztmpl", ".template_storage")
		id := templateIdentity(ch.Template.OS, ch.Template.Version, ch.Template.Arch)
		switch ch.Template.Status {
		case TemplateUnavailable:
			errHost(".os", "`pveam available` lists the templates the host can download",
				"no template for %s is available on host %s", id, c.Host)
		case TemplateUnknown:
			df.ds = append(df.ds, diag.Diagnostic{Severity: diag.SevWarning, Class: diag.ClassHost, Pos: c.Pos,
				Path: cpath(c) + ".os", Host: c.Host,
				Summary: fmt.Sprintf("no template for %s on storage %s of host %s: it will be downloaded if available", id, ch.Template.Storage, c.Host)})
		}
	}

	// Bridges and addresses of changed networks.
	netChanged := creating || changed("net")
	if netChanged {
		for _, k := range sortedKeys(desired) {
			if !isIndexed(k, "net") {
				continue
			}
			br := splitProps(desired[k].Canon)["bridge"]
			if br != "" && h.Bridges != nil && !containsStr(h.Bridges, br) {
				errHost(".network", "PVE accepts it but the container fails to start: create the bridge or fix the name",
					"bridge %s does not exist on host %s", br, c.Host)
			}
		}
	}
	if cl == nil || cl.Error != "" {
		return
	}
	if ch.Action == ActionCreate && c.VMID != 0 {
		if g, ok := cl.Guest(c.VMID); ok {
			if other := df.ownerOf(cl, c.VMID); other != "" {
				errHost(".vmid", "two containers of a stack cannot share a vmid",
					"vmid %d is already used by container %s of this stack", c.VMID, other)
			} else {
				errHost(".vmid", "choose another vmid or remove it to allocate one; lxcplan never takes over a guest it did not create",
					"vmid %d is already used by %s %s on node %s, which this stack does not manage", c.VMID, guestKind(g), orNone(g.Name), g.Node)
			}
		}
	}
	if c.Hostname != "" && (ch.Action == ActionCreate || changed("hostname")) {
		for _, g := range cl.Guests {
			if g.VMID != ownVMID && strings.EqualFold(g.Name, c.Hostname) {
				errHost(".hostname", "choose another hostname; lxcplan never takes over a guest it did not create",
					"hostname %s is already used by %s %d on node %s", c.Hostname, guestKind(g), g.VMID, g.Node)
			}
		}
	}
	if netChanged {
		for _, n := range append([]model.Network{c.Network}, c.ExtraNetworks...) {
			for _, ip := range []string{staticAddr(n.IP), staticAddr(n.IP6)} {
				if ip == "" {
					continue
				}
				for _, g := range cl.Guests {
					if g.VMID != ownVMID && containsStr(g.IPs, ip) {
						errHost(".network", "every static address must be unique in the cluster",
							"address %s is already used by %s %d (%s) on node %s", ip, guestKind(g), g.VMID, orNone(g.Name), g.Node)
					}
				}
			}
		}
	}

	// Features that only work in a privileged container.
	if (creating || changed("features")) && c.Unprivileged && len(c.Features.Mount) > 0 {
		df.ds = append(df.ds, diag.Diagnostic{Severity: diag.SevError, Class: diag.ClassInput, Pos: c.Pos,
			Path:    cpath(c) + ".features.mount",
			Summary: fmt.Sprintf("features.mount (%s) needs a privileged container", strings.Join(c.Features.Mount, ", ")),
			Detail:  "set unprivileged: false, or mount the share on the host and bind-mount it"})
	}
	// Security-relevant choices are flagged whenever they are made.
	if creating && !c.Unprivileged {
		df.ds = append(df.ds, diag.Diagnostic{Severity: diag.SevWarning, Class: diag.ClassInput, Pos: c.Pos,
			Path:    cpath(c) + ".unprivileged",
			Summary: "the container is privileged: root inside it is root on the host"})
	}
	if creating || changed("dev") {
		var devs []string
		for _, k := range sortedOptionKeys(keySet(desired)) {
			if isIndexed(k, "dev") {
				devs = append(devs, splitProps(desired[k].Canon)["value"])
			}
		}
		if len(devs) > 0 {
			df.ds = append(df.ds, diag.Diagnostic{Severity: diag.SevWarning, Class: diag.ClassInput, Pos: c.Pos,
				Path:    cpath(c) + ".devices",
				Summary: "host devices are passed through: " + strings.Join(devs, ", ")})
		}
	}
	if creating && c.GPU == "auto" {
		df.ds = append(df.ds, diag.Diagnostic{Severity: diag.SevWarning, Class: diag.ClassHost, Pos: c.Pos,
			Path: cpath(c) + ".gpu", Host: c.Host,
			Summary: "gpu: auto is resolved on the host at apply; its devices are not shown in the plan"})
	}
}

// ownerOf names the stack container that owns a vmid in the cluster.
func (df *differ) ownerOf(cl *inventory.Cluster, vmid int) string {
	for name, fs := range df.owned {
		for _, f := range fs {
			if f.cl == cl && f.ct.VMID == vmid {
				return name
			}
		}
	}
	return ""
}

func keySet[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

func liveKey(live *LiveConfig, k string) (string, bool) {
	if live == nil {
		return "", false
	}
	v, ok := live.Canon[k]
	return v, ok
}

func guestKind(g inventory.Guest) string {
	if g.Type == "qemu" {
		return "VM"
	}
	return "container"
}

func containsStr(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// checkStorage verifies that a storage exists on the host, is enabled and
// active, and holds the content type.
func (df *differ) checkStorage(c *model.Container, h *inventory.Host, name, content, path string) {
	if name == "" {
		return
	}
	what := map[string]string{"rootdir": "container volumes (content rootdir)", "vztmpl": "templates (content vztmpl)"}[content]
	add := func(format string, a ...any) {
		df.ds = append(df.ds, diag.Diagnostic{Severity: diag.SevError, Class: diag.ClassHost, Pos: c.Pos,
			Path: cpath(c) + path, Host: c.Host, Summary: fmt.Sprintf(format, a...)})
	}
	for _, st := range h.Storages {
		if st.Name != name {
			continue
		}
		switch {
		case !st.Enabled:
			add("storage %s is disabled on host %s", name, c.Host)
		case !st.Active:
			add("storage %s is not active on host %s", name, c.Host)
		case !st.HasContent(content):
			add("storage %s on host %s does not hold %s", name, c.Host, what)
		}
		return
	}
	add("storage %s does not exist on host %s", name, c.Host)
}

func (df *differ) addNeed(host, storage string, bytes int64, c *model.Container) {
	if storage == "" || bytes <= 0 {
		return
	}
	k := [2]string{host, storage}
	df.need[k] += bytes
	df.needBy[k] = appendUnique(df.needBy[k], c.Name)
}

// checkFreeSpace compares what the plan allocates per host and storage with
// what the storage has free. A storage that reports no total is skipped (its
// size is not known).
func (df *differ) checkFreeSpace() {
	keys := make([][2]string, 0, len(df.need))
	for k := range df.need {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		h := df.obs.Host(k[0])
		if h == nil || !h.Reachable {
			continue
		}
		for _, st := range h.Storages {
			if st.Name != k[1] || st.Total == 0 {
				continue
			}
			if need := df.need[k]; need > st.Avail {
				df.ds = append(df.ds, diag.Diagnostic{Severity: diag.SevError, Class: diag.ClassHost, Host: k[0],
					Summary: fmt.Sprintf("not enough free space on storage %s of host %s: the plan allocates %s (for %s), %s is free",
						k[1], k[0], humanSize(need), strings.Join(df.needBy[k], ", "), humanSize(st.Avail))})
			}
		}
	}
}

// humanSize rounds up to a whole MiB for messages.
func humanSize(b int64) string { return pve.FormatSize(roundUp(b, pve.MiB)) }
