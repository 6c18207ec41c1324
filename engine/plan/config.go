package plan

import (
	"sort"
	"strconv"
	"strings"

	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/pve"
)

// Live and desired settings are compared on PVE's canonical forms: every
// option is rendered the way PVE writes it back (property strings re-ordered,
// booleans as 1/0, tags normalised), with the parts PVE fills in by itself
// taken out (type=veth, a generated hwaddr when none is declared, the
// allocated volume name). Sizes are compared as numbers apart from the
// strings, because PVE rewrites them (8 → size=8G).

// Option is one desired pct option.
type Option struct {
	// Canon is the canonical form compared with the live config.
	Canon string
	// Set is the value passed to pct create / pct set.
	Set string
	// Size is the desired size in bytes of rootfs and volume mounts (0:
	// not a sized volume).
	Size int64
	// LearnGID marks a GPU device node whose gid is only a default: apply
	// replaces it with the render/video gid read from the container's own
	// /etc/group (helper-scripts §3), so the live gid of the same node is
	// what was learned, not drift.
	LearnGID bool
}

// DesiredConfig builds the pct options lxcplan sets for a container, keyed by
// option name ("memory", "net0", "mp1", "rootfs"...). The description is not
// included: it is the user's text plus the marker, written by apply.
func DesiredConfig(c *model.Container, stack string) map[string]Option {
	out := map[string]Option{}
	put := func(k, v string) {
		if v != "" {
			out[k] = Option{Canon: v, Set: v}
		}
	}
	put("hostname", c.Hostname)
	if c.Resources.Cores > 0 {
		put("cores", strconv.Itoa(c.Resources.Cores))
	}
	mem := c.Resources.Memory
	if mem == 0 {
		mem = 512
	}
	put("memory", strconv.Itoa(mem))
	put("swap", strconv.Itoa(c.Resources.Swap))
	put("onboot", boolText(c.OnBoot))
	put("protection", boolText(c.Protection))
	put("tags", desiredTags(c, stack))
	put("timezone", c.Timezone)
	put("nameserver", strings.Join(pve.SplitList(c.Nameserver), " "))
	put("searchdomain", strings.Join(pve.SplitList(c.Searchdomain), " "))
	st := pve.Startup{}
	if c.Startup.Order != nil {
		st.Order, st.HasOrder = *c.Startup.Order, true
	}
	if c.Startup.Up != nil {
		st.Up, st.HasUp = *c.Startup.Up, true
	}
	if c.Startup.Down != nil {
		st.Down, st.HasDown = *c.Startup.Down, true
	}
	put("startup", st.String())
	f := pve.Features{Nesting: trueOnly(c.Features.Nesting), Keyctl: trueOnly(c.Features.Keyctl),
		Fuse: trueOnly(c.Features.Fuse), Mknod: trueOnly(c.Features.Mknod)}
	f.Mount = append([]string(nil), c.Features.Mount...)
	sort.Strings(f.Mount)
	put("features", f.String())

	nets := append([]model.Network{c.Network}, c.ExtraNetworks...)
	for i, n := range nets {
		if i == 0 && n.Bridge == "" && n.IP == "" && n.IP6 == "" {
			continue // no network declared at all
		}
		name := n.Name
		if name == "" {
			name = "eth" + strconv.Itoa(i)
		}
		pn := pve.Net{Name: name, Bridge: n.Bridge, GW: n.GW, GW6: n.GW6, HWAddr: strings.ToUpper(n.MAC),
			IP: n.IP, IP6: n.IP6, MTU: n.MTU, Tag: n.VLAN, Firewall: trueOnly(n.Firewall)}
		if n.Rate > 0 {
			pn.Rate = strconv.FormatFloat(n.Rate, 'f', -1, 64)
		}
		put("net"+strconv.Itoa(i), pn.String())
	}

	if c.Storage != "" {
		disk := c.Resources.Disk
		if disk == 0 {
			disk = 4
		}
		out["rootfs"] = Option{
			Canon: c.Storage,
			Set:   c.Storage + ":" + strconv.FormatFloat(disk, 'f', -1, 64),
			Size:  gib(disk),
		}
	}
	for i, m := range c.Mounts {
		k := "mp" + strconv.Itoa(i)
		pm := pve.Mount{MP: m.Path, RO: trueOnly(m.ReadOnly), Shared: trueOnly(m.Shared)}
		if m.Backup != nil {
			pm.Backup = pve.Bool(*m.Backup)
		}
		if m.IsBind() {
			pm.Volume = m.HostPath
			s := pm.String()
			out[k] = Option{Canon: s, Set: s}
			continue
		}
		pm.Volume = m.Storage
		canon := pm.String()
		pm.Volume = m.Storage + ":" + strconv.FormatFloat(m.Size, 'f', -1, 64)
		out[k] = Option{Canon: canon, Set: pm.String(), Size: gib(m.Size)}
	}
	devs := desiredDevices(c)
	firstGPU := len(devs) - len(gpuNodes(c.GPU)) // the GPU nodes come last
	for i, d := range devs {
		s := d.String()
		out["dev"+strconv.Itoa(i)] = Option{Canon: s, Set: s, LearnGID: i >= firstGPU}
	}
	return out
}

// desiredDevices are the declared devices, then /dev/net/tun, then the GPU
// nodes (gid 44 video, 104 render: the Debian defaults the helper scripts
// use). gpu: auto is resolved on the host at apply and is not listed.
func desiredDevices(c *model.Container) []pve.Dev {
	var out []pve.Dev
	for _, d := range c.Devices {
		pd := pve.Dev{Path: d.Path, Mode: d.Mode}
		if d.UID != nil {
			pd.UID, pd.HasUID = *d.UID, true
		}
		if d.GID != nil {
			pd.GID, pd.HasGID = *d.GID, true
		}
		out = append(out, pd)
	}
	if c.Tun {
		out = append(out, pve.Dev{Path: "/dev/net/tun"})
	}
	return append(out, gpuNodes(c.GPU)...)
}

// gpuNodes are the device nodes of a gpu: setting with their default gids.
func gpuNodes(gpu string) []pve.Dev {
	g := func(path string, gid int) pve.Dev { return pve.Dev{Path: path, GID: gid, HasGID: true} }
	switch gpu {
	case "intel":
		return []pve.Dev{g("/dev/dri/card0", 44), g("/dev/dri/renderD128", 104)}
	case "amd":
		return []pve.Dev{g("/dev/dri/card0", 44), g("/dev/dri/renderD128", 104), g("/dev/kfd", 104)}
	case "nvidia":
		return []pve.Dev{g("/dev/nvidia0", 44), g("/dev/nvidia-uvm", 44), g("/dev/nvidiactl", 44)}
	}
	return nil
}

// desiredTags are the declared tags plus the ownership tags, as PVE stores
// them.
func desiredTags(c *model.Container, stack string) string {
	all := append([]string{OwnerTag, stack}, c.Tags...)
	s, err := pve.NormalizeTags(strings.Join(all, ";"))
	if err != nil {
		// The schema already refused bad tags; keep the raw text so the
		// comparison shows the difference instead of hiding it.
		return strings.Join(all, ";")
	}
	return s
}

// LiveConfig is the canonical form of a live config's main section, keyed
// like [DesiredConfig]; sizes are returned apart. mac tells, per netN key,
// whether the desired side declares a hwaddr (otherwise the live one is
// ignored); backup likewise for mpN.
type LiveConfig struct {
	Canon map[string]string
	Size  map[string]int64
	// Storage of the rootfs volume ("" when it is not a storage volume).
	RootStorage string
	// Unparsable lists options PVE's reader would warn about.
	Unparsable []string
}

// CanonLive computes the canonical live config, ignoring what the desired
// side does not declare (hwaddr, mount backup flags).
func CanonLive(sec *pve.Section, desired map[string]Option) LiveConfig {
	lc := LiveConfig{Canon: map[string]string{}, Size: map[string]int64{}}
	opt := func(k, def string) {
		if v, ok := sec.Options[k]; ok {
			lc.Canon[k] = v
		} else if def != "" {
			lc.Canon[k] = def
		}
	}
	opt("hostname", "")
	opt("cores", "")
	opt("memory", "512")
	opt("swap", "512")
	opt("timezone", "")
	for _, k := range []string{"onboot", "protection"} {
		v := "0"
		if s, ok := sec.Options[k]; ok {
			if b, ok := pve.ParseBool(s); ok {
				v = boolText(b)
			} else {
				v = s
			}
		}
		lc.Canon[k] = v
	}
	if v, ok := sec.Options["tags"]; ok {
		if n, err := pve.NormalizeTags(v); err == nil {
			lc.Canon["tags"] = n
		} else {
			lc.Canon["tags"] = v
		}
	}
	for _, k := range []string{"nameserver", "searchdomain"} {
		if v, ok := sec.Options[k]; ok {
			lc.Canon[k] = strings.Join(pve.SplitList(v), " ")
		}
	}
	if v, ok := sec.Options["startup"]; ok {
		if st, err := pve.ParseStartup(v); err == nil {
			lc.Canon["startup"] = st.String()
		} else {
			lc.Canon["startup"] = v
			lc.Unparsable = append(lc.Unparsable, "startup")
		}
	}
	if v, ok := sec.Options["features"]; ok {
		if f, err := pve.ParseFeatures(v); err == nil {
			f.Nesting, f.Keyctl, f.Fuse, f.Mknod, f.ForceRWSys = trueOnly(f.Nesting == pve.True),
				trueOnly(f.Keyctl == pve.True), trueOnly(f.Fuse == pve.True), trueOnly(f.Mknod == pve.True), trueOnly(f.ForceRWSys == pve.True)
			sort.Strings(f.Mount)
			if s := f.String(); s != "" {
				lc.Canon["features"] = s
			}
		} else {
			lc.Canon["features"] = v
			lc.Unparsable = append(lc.Unparsable, "features")
		}
	}
	for _, k := range sec.Keys() {
		v := sec.Options[k]
		switch {
		case isIndexed(k, "net"):
			n, err := pve.ParseNet(k, v)
			if err != nil {
				lc.Canon[k] = v
				lc.Unparsable = append(lc.Unparsable, k)
				continue
			}
			n.Type = ""
			n.Firewall = trueOnly(n.Firewall == pve.True)
			n.LinkDown = trueOnly(n.LinkDown == pve.True)
			n.HostManaged = trueOnly(n.HostManaged == pve.True)
			n.HWAddr = strings.ToUpper(n.HWAddr)
			if d, ok := desired[k]; !ok || !strings.Contains(d.Canon, "hwaddr=") {
				n.HWAddr = ""
			}
			lc.Canon[k] = n.String()
		case isIndexed(k, "mp"):
			m, err := pve.ParseMount(k, v)
			if err != nil {
				lc.Canon[k] = v
				lc.Unparsable = append(lc.Unparsable, k)
				continue
			}
			if m.SizeSet {
				lc.Size[k] = m.Size
			}
			lc.Canon[k] = canonMount(m, desired[k])
		case isIndexed(k, "dev"):
			d, err := pve.ParseDev(k, v)
			if err != nil {
				lc.Canon[k] = v
				lc.Unparsable = append(lc.Unparsable, k)
				continue
			}
			if want, ok := desired[k]; ok && want.LearnGID && d.HasGID {
				// The gid apply learned from the container: compare the
				// rest, with the default gid the desired side carries.
				if wd, err := pve.ParseDev(k, want.Canon); err == nil && wd.Path == d.Path {
					d.GID = wd.GID
				}
			}
			lc.Canon[k] = d.String()
		}
	}
	if v, ok := sec.Options["rootfs"]; ok {
		if m, err := pve.ParseRootfs(v); err == nil {
			if m.SizeSet {
				lc.Size["rootfs"] = m.Size
			}
			lc.RootStorage = volumeStorage(m.Volume)
			lc.Canon["rootfs"] = lc.RootStorage
		} else {
			lc.Unparsable = append(lc.Unparsable, "rootfs")
		}
	}
	return lc
}

// canonMount renders a live mount point like DesiredConfig does: the
// storage instead of the allocated volume, no size, default flags dropped.
func canonMount(m *pve.Mount, d Option) string {
	c := *m
	c.SizeSet, c.Size = false, 0
	if !strings.HasPrefix(c.Volume, "/") {
		c.Volume = volumeStorage(c.Volume)
	}
	c.RO = trueOnly(c.RO == pve.True)
	c.Shared = trueOnly(c.Shared == pve.True)
	if !strings.Contains(d.Canon, "backup=") {
		c.Backup = pve.Unset
	}
	return c.String()
}

// volumeStorage is the storage ID of a volume ID ("local-lvm:vm-100-disk-0"),
// or "" for a path.
func volumeStorage(v string) string {
	if strings.HasPrefix(v, "/") {
		return ""
	}
	s, _, ok := strings.Cut(v, ":")
	if !ok {
		return ""
	}
	return s
}

func isIndexed(k, prefix string) bool {
	rest, ok := strings.CutPrefix(k, prefix)
	if !ok || rest == "" || (len(rest) > 1 && rest[0] == '0') {
		return false
	}
	_, err := strconv.Atoi(rest)
	return err == nil
}

func boolText(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func trueOnly(b bool) pve.OptBool {
	if b {
		return pve.True
	}
	return pve.Unset
}

func gib(g float64) int64 { return int64(g * float64(pve.GiB)) }

// CreateOptions builds the pct create options for a container: every
// desired option in its Set form, plus arch, ostype and unprivileged, and
// the description (user text and marker) as given. Apply uses it so that
// what it creates is exactly what the plan compared.
func CreateOptions(c *model.Container, stack, description string) *pve.CreateOptions {
	o := &pve.CreateOptions{}
	o.Arch = archOf(c)
	o.OSType = c.OS
	o.Unprivileged = pve.Bool(c.Unprivileged)
	o.Description = description
	applyOptions(&o.ConfigOptions, DesiredConfig(c, stack), nil)
	return o
}

// applyOptions copies Set values of the selected keys (all when keys is nil)
// into pve option fields. Property strings are re-parsed so the pve types
// render them.
func applyOptions(o *pve.ConfigOptions, d map[string]Option, keys []string) {
	if keys == nil {
		keys = sortedKeys(d)
	}
	for _, k := range keys {
		opt, ok := d[k]
		if !ok {
			continue
		}
		v := opt.Set
		switch {
		case k == "hostname":
			o.Hostname = v
		case k == "arch":
			o.Arch = v
		case k == "ostype":
			o.OSType = v
		case k == "unprivileged":
			o.Unprivileged = pve.Bool(v == "1")
		case k == "cores":
			o.Cores, _ = strconv.Atoi(v)
		case k == "memory":
			o.Memory, _ = strconv.Atoi(v)
		case k == "swap":
			n, _ := strconv.Atoi(v)
			o.Swap = &n
		case k == "onboot":
			o.OnBoot = pve.Bool(v == "1")
		case k == "protection":
			o.Protection = pve.Bool(v == "1")
		case k == "tags":
			o.Tags = strings.Split(v, ";")
		case k == "timezone":
			o.Timezone = v
		case k == "nameserver":
			o.Nameserver = strings.Fields(v)
		case k == "searchdomain":
			o.SearchDomain = strings.Fields(v)
		case k == "startup":
			if st, err := pve.ParseStartup(v); err == nil {
				o.Startup = st
			}
		case k == "features":
			if f, err := pve.ParseFeatures(v); err == nil {
				o.Features = f
			}
		case k == "rootfs":
			o.Rootfs = &pve.Mount{Volume: v}
		case isIndexed(k, "net"):
			if n, err := pve.ParseNet(k, v); err == nil {
				if o.Nets == nil {
					o.Nets = map[int]*pve.Net{}
				}
				o.Nets[index(k)] = n
			}
		case isIndexed(k, "mp"):
			if m, err := pve.ParseMount(k, v); err == nil {
				if o.Mounts == nil {
					o.Mounts = map[int]*pve.Mount{}
				}
				o.Mounts[index(k)] = m
			}
		case isIndexed(k, "dev"):
			if dv, err := pve.ParseDev(k, v); err == nil {
				if o.Devs == nil {
					o.Devs = map[int]*pve.Dev{}
				}
				o.Devs[index(k)] = dv
			}
		}
	}
}

func index(k string) int {
	i := strings.IndexAny(k, "0123456789")
	n, _ := strconv.Atoi(k[i:])
	return n
}
