package pvesim

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/lxcplan/lxcplan/engine/pve"
)

// printSection prints a section as pct config does (§3.3): keys sorted
// with the encoded description at its sorted position, lxc.* last.
func printSection(w io.Writer, s *pve.Section) {
	type kv struct{ k, v string }
	var lines []kv
	for k, v := range s.Options {
		if k == "digest" {
			continue
		}
		lines = append(lines, kv{k, v})
	}
	if s.Description != "" {
		lines = append(lines, kv{"description", pve.EncodeText(s.Description)})
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].k < lines[j].k })
	for _, l := range lines {
		fmt.Fprintf(w, "%s: %s\n", l.k, l.v)
	}
	for _, r := range s.Raw {
		fmt.Fprintf(w, "%s: %s\n", r.Key, r.Value)
	}
}

// mergedPending is the config with pending values applied and pending
// deletions removed.
func mergedPending(conf *pve.Config) *pve.Section {
	s := conf.Section.Clone()
	if conf.Pending == nil {
		return s
	}
	for k, v := range conf.Pending.Options {
		if k != "delete" {
			s.Set(k, v)
		}
	}
	if conf.Pending.Description != "" {
		s.Description = conf.Pending.Description
	}
	for _, d := range conf.Pending.PendingDeletes() {
		if d.Key == "description" {
			s.Description = ""
		}
		s.Delete(d.Key)
	}
	return s
}

func pctConfig(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	if c.has("snapshot") && c.flag("current") {
		return c.perr("snapshot", "cannot use 'snapshot' parameter with 'current'", false)
	}
	conf, _, err := c.n.loadConf(vmid, c.stderr)
	if err != nil {
		return c.fail(err)
	}
	if name, ok := c.opts["snapshot"]; ok {
		s, ok := conf.Snapshots[name]
		if !ok {
			return c.die("snapshot '%s' does not exist", name)
		}
		printSection(c.stdout, s)
		return 0
	}
	if c.flag("current") {
		printSection(c.stdout, &conf.Section)
		return 0
	}
	printSection(c.stdout, mergedPending(conf))
	return 0
}

func pctPending(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	conf, _, err := c.n.loadConf(vmid, c.stderr)
	if err != nil {
		return c.fail(err)
	}
	cur := conf.Section.Clone()
	if cur.Description != "" {
		cur.Set("description", pve.EncodeText(cur.Description))
	}
	pend := pve.NewSection()
	dels := map[string]bool{}
	if conf.Pending != nil {
		pend = conf.Pending.Clone()
		if pend.Description != "" {
			pend.Set("description", pve.EncodeText(pend.Description))
		}
		for _, d := range conf.Pending.PendingDeletes() {
			dels[d.Key] = true
		}
		pend.Delete("delete")
	}
	keys := map[string]bool{}
	for k := range cur.Options {
		keys[k] = true
	}
	for k := range pend.Options {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		if k == "digest" {
			continue
		}
		v, hasV := cur.Get(k)
		p, hasP := pend.Get(k)
		switch {
		case hasV && dels[k]:
			fmt.Fprintf(c.stdout, "del %s: %s\n", k, v)
		case hasV && hasP:
			fmt.Fprintf(c.stdout, "cur %s: %s\nnew %s: %s\n", k, v, k, p)
		case hasV:
			fmt.Fprintf(c.stdout, "cur %s: %s\n", k, v)
		case hasP:
			fmt.Fprintf(c.stdout, "new %s: %s\n", k, p)
		}
	}
	return 0
}

// Options a running CT applies at once or hot-plugs (§2.7); everything
// else goes to [pve:pending].
var (
	immediateOptions = map[string]bool{"description": true, "onboot": true, "startup": true, "protection": true,
		"hostname": true, "hookscript": true, "cores": true, "tags": true, "lock": true}
	hotplugOptions = map[string]bool{"cpulimit": true, "cpuunits": true, "memory": true, "swap": true}
	reNetKey       = regexp.MustCompile(`^net\d+$`)
	reMpDevKey     = regexp.MustCompile(`^(mp|dev)\d+$`)
)

func liveOption(k string, conf *pve.Config) bool {
	if immediateOptions[k] || hotplugOptions[k] || reNetKey.MatchString(k) {
		return true
	}
	if reMpDevKey.MatchString(k) {
		_, exists := conf.Get(k)
		return !exists // new mpN/devN are hot-plugged, changes are pending
	}
	return false
}

// requiredOptions cannot be deleted; readOnlyOptions cannot change.
var (
	requiredOptions = map[string]bool{"memory": true, "rootfs": true, "ostype": true}
	readOnlyOptions = map[string]bool{"unprivileged": true}
)

func pctSet(c *call) int {
	if code, ok := c.rejectV9Options(); !ok {
		return code
	}
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	n := c.n
	vals, errs := c.validateOptions(func(string) bool { return true })
	var dels []string
	if d, ok := c.opts["delete"]; ok {
		for _, k := range pve.SplitList(d) {
			if _, known := optionValidator(k); !known && k != "description" {
				errs = append(errs, paramErr{param: "delete", msg: fmt.Sprintf("unknown option '%s'", k)})
				continue
			}
			dels = append(dels, k)
		}
	}
	var reverts []string
	if r, ok := c.opts["revert"]; ok {
		reverts = pve.SplitList(r)
	}
	if len(errs) > 0 {
		return c.paramFail(errs...)
	}
	if len(vals) == 0 && len(dels) == 0 && len(reverts) == 0 {
		return c.die("no options specified")
	}
	lk, err := n.lockConfig(c.ctx, vmid, lockConfigTimeout, c.stderr)
	if err != nil {
		return c.fail(err)
	}
	defer lk.release()
	conf, digest, err := n.loadConf(vmid, c.stderr)
	if err != nil {
		return c.fail(err)
	}
	if d, ok := c.opts["digest"]; ok && d != digest {
		return c.die("detected modified configuration - file changed by other user? Try again.")
	}
	if _, setsLock := vals["lock"]; !setsLock {
		if err := checkLock(conf); err != nil {
			return c.fail(err)
		}
	}
	for _, k := range dels {
		if requiredOptions[k] {
			return c.die("unable to delete required option '%s'", k)
		}
		if readOnlyOptions[k] {
			return c.die("unable to delete read-only option: '%s'", k)
		}
	}
	for k := range vals {
		if readOnlyOptions[k] {
			if old, ok := conf.Get(k); !ok || old != vals[k] {
				return c.die("unable to modify read-only option: '%s'", k)
			}
		}
		if v, _ := conf.Get("protection"); v == "1" && reMpDevKey.MatchString(k) && strings.HasPrefix(k, "mp") {
			if _, exists := conf.Get(k); exists {
				return c.die("can't update CT %d drive '%s' - protection mode enabled", vmid, k)
			}
		}
	}
	vols, perrs, err := c.planVolumes(vals, "local", false)
	if err != nil {
		return c.fail(err)
	}
	if perrs != nil {
		return c.paramFail(perrs...)
	}
	if _, err := n.allocate(vmid, vols, vals, io.Discard); err != nil {
		return c.fail(err)
	}
	running := n.isRunning(vmid)
	if conf.Pending == nil {
		conf.Pending = pve.NewSection()
	}
	for _, k := range reverts {
		conf.Pending.Delete(k)
		removePendingDelete(conf.Pending, k)
	}
	for _, k := range sortedKeys(vals) {
		v := vals[k]
		removePendingDelete(conf.Pending, k)
		if k == "description" {
			if !strings.HasSuffix(v, "\n") && v != "" {
				v += "\n"
			}
			if running && !liveOption(k, conf) {
				conf.Pending.Description = v
			} else {
				conf.Description = v
			}
			continue
		}
		if running && !liveOption(k, conf) {
			conf.Pending.Set(k, v)
			continue
		}
		conf.Pending.Delete(k)
		conf.Set(k, v)
	}
	for _, k := range dels {
		_, isSet := conf.Get(k)
		if k == "description" {
			isSet = conf.Description != ""
		}
		_, isPending := conf.Pending.Get(k)
		if !isSet && !isPending {
			fmt.Fprintf(c.stderr, "cannot delete '%s' - not set in current configuration!\n", k)
			continue
		}
		conf.Pending.Delete(k)
		if !isSet {
			continue
		}
		// Existing mpN/devN and non-live options wait for the next start.
		if running && (reMpDevKey.MatchString(k) || !liveOption(k, conf)) {
			addPendingDelete(conf.Pending, k)
			continue
		}
		if k == "description" {
			conf.Description = ""
		} else {
			n.unuseVolume(conf, k)
			conf.Delete(k)
		}
	}
	if !running {
		applyPending(conf)
	}
	if conf.Pending != nil && len(conf.Pending.Options) == 0 && conf.Pending.Description == "" {
		conf.Pending = nil
	}
	if err := n.saveConf(vmid, conf); err != nil {
		return c.fail(err)
	}
	return 0
}

// unuseVolume turns a deleted mpN volume into an unusedN entry, as PVE
// does (the volume is kept).
func (n *Node) unuseVolume(conf *pve.Config, key string) {
	if !strings.HasPrefix(key, "mp") {
		return
	}
	v, _ := conf.Get(key)
	if _, _, mt, ok := n.volumeOf(v); ok {
		for i := 0; i <= 255; i++ {
			k := "unused" + strconv.Itoa(i)
			if _, used := conf.Get(k); !used {
				conf.Set(k, mt.Volume)
				return
			}
		}
	}
}

func removePendingDelete(p *pve.Section, key string) {
	var keep []string
	for _, d := range p.PendingDeletes() {
		if d.Key != key {
			s := d.Key
			if d.Force {
				s = "!" + s
			}
			keep = append(keep, s)
		}
	}
	if len(keep) == 0 {
		p.Delete("delete")
	} else {
		p.Set("delete", strings.Join(keep, ","))
	}
}

func addPendingDelete(p *pve.Section, key string) {
	removePendingDelete(p, key)
	if d, ok := p.Get("delete"); ok && d != "" {
		p.Set("delete", d+","+key)
	} else {
		p.Set("delete", key)
	}
}

func pctResize(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	n := c.n
	disk := c.pos["disk"]
	if disk != "rootfs" && !regexp.MustCompile(`^mp(\d|[1-9]\d|1\d\d|2[0-4]\d|25[0-5])$`).MatchString(disk) {
		return c.perr("disk", fmt.Sprintf("value '%s' does not have a value in the enumeration 'rootfs, mp0, mp1, ...'", disk), false)
	}
	size, rel, ok := pve.ParseResizeSize(c.pos["size"])
	if !ok {
		return c.perr("size", "value does not match the regex pattern", false)
	}
	lk, err := n.lockConfig(c.ctx, vmid, lockConfigTimeout, c.stderr)
	if err != nil {
		return c.fail(err)
	}
	defer lk.release()
	conf, digest, err := n.loadConf(vmid, c.stderr)
	if err != nil {
		return c.fail(err)
	}
	if d, ok := c.opts["digest"]; ok && d != digest {
		return c.die("detected modified configuration - file changed by other user? Try again.")
	}
	if err := checkLock(conf); err != nil {
		return c.fail(err)
	}
	val, ok := conf.Get(disk)
	if !ok {
		return c.die("disk '%s' does not exist", disk)
	}
	st, vol, mt, ok := n.volumeOf(val)
	if !ok {
		return c.die("can't resize mount point owned by another container")
	}
	cur := mt.Size
	newSize := size
	if rel {
		newSize = cur + size
	}
	if newSize < cur {
		return c.die("unable to shrink disk size")
	}
	if newSize == cur {
		return c.die("disk is already at specified size")
	}
	// Not wired to $upid_exit (§1.3).
	return c.runTask(false, func(t *task) error {
		if st.Type == "lvmthin" || st.Type == "lvm" {
			vg := st.VG
			if vg == "" {
				vg = "pve"
			}
			t.printf("  Size of logical volume %s/%s changed from %s to %s.\n", vg, vol, lvmSize(cur), lvmSize(newSize))
			t.printf("  Logical volume %s/%s successfully resized.\n", vg, vol)
		}
		mt.Size, mt.SizeSet = newSize, true
		conf.Set(disk, mt.String())
		return n.saveConf(vmid, conf)
	})
}

func lvmSize(b int64) string {
	return fmt.Sprintf("%.2f GiB (%d extents)", float64(b)/float64(pve.GiB), b/(4<<20))
}

func ctName(conf *pve.Config, vmid int) string {
	if h, ok := conf.Get("hostname"); ok && strings.TrimSpace(h) != "" {
		return strings.Join(strings.Fields(h), "")
	}
	return fmt.Sprintf("CT%d", vmid)
}

func pctList(c *call) int {
	n := c.n
	ids := n.nodeCTs()
	if len(ids) == 0 {
		return 0
	}
	fmt.Fprintf(c.stdout, "%-10s %-10s %-12s %-20s\n", "VMID", "Status", "Lock", "Name")
	for _, id := range ids {
		conf, _, err := n.loadConf(id, c.stderr)
		if err != nil {
			continue
		}
		status := "stopped"
		if n.isRunning(id) {
			status = "running"
		}
		lock, _ := conf.Get("lock")
		fmt.Fprintf(c.stdout, "%-10d %-10s %-12s %-20s\n", id, status, lock, ctName(conf, id))
	}
	return 0
}

// vmstatus computes PVE::LXC::vmstatus for one CT.
func (n *Node) vmstatus(vmid int, conf *pve.Config) map[string]any {
	running := n.isRunning(vmid)
	get := func(k string) string { v, _ := conf.Get(k); return v }
	mem, _ := strconv.ParseInt(get("memory"), 10, 64)
	if mem == 0 {
		mem = 512
	}
	swap := int64(512)
	if v, err := strconv.ParseInt(get("swap"), 10, 64); err == nil {
		swap = v
	}
	cpus := float64(n.Cores)
	if v, err := strconv.ParseFloat(get("cores"), 64); err == nil && v > 0 {
		cpus = v
	} else if v, err := strconv.ParseFloat(get("cpulimit"), 64); err == nil && v > 0 {
		cpus = v
	}
	maxdisk := 4 * pve.GiB
	if mt, err := pve.ParseRootfs(get("rootfs")); err == nil && mt.SizeSet && mt.Size > 0 {
		maxdisk = mt.Size
	}
	d := map[string]any{
		"vmid": vmid, "name": ctName(conf, vmid), "type": "lxc", "status": "stopped",
		"cpus": cpus, "maxmem": mem << 20, "maxswap": swap << 20, "maxdisk": maxdisk,
		"mem": 0, "swap": 0, "disk": 0, "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0,
		"uptime": 0, "cpu": 0,
	}
	if running {
		d["status"] = "running"
		d["pid"] = 10000 + vmid%50000
		d["mem"] = int64(48 << 20)
		d["disk"] = maxdisk / 20
		d["netin"], d["netout"] = 1024, 512
		if t, ok := n.startedAt(vmid); ok {
			d["uptime"] = int64(n.cluster.now().Sub(t).Seconds())
		}
		for _, k := range []string{"pressurecpufull", "pressurecpusome", "pressureiofull", "pressureiosome", "pressurememoryfull", "pressurememorysome"} {
			d[k] = 0
		}
	}
	if l := get("lock"); l != "" {
		d["lock"] = l
	}
	if t := get("tags"); t != "" {
		d["tags"] = t
	}
	if get("template") == "1" {
		d["template"] = 1
	}
	return d
}

func fmtAny(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func pctStatus(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	conf, _, err := c.n.loadConf(vmid, c.stderr)
	if err != nil {
		return c.fail(err)
	}
	st := c.n.vmstatus(vmid, conf)
	if !c.flag("verbose") {
		fmt.Fprintf(c.stdout, "status: %s\n", st["status"])
		return 0
	}
	delete(st, "cpu")
	for _, k := range sortedKeys(st) {
		fmt.Fprintf(c.stdout, "%s: %s\n", k, fmtAny(st[k]))
	}
	return 0
}

func pctUnlock(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	lk, err := c.n.lockConfig(c.ctx, vmid, lockConfigTimeout, c.stderr)
	if err != nil {
		return c.fail(err)
	}
	defer lk.release()
	conf, _, err := c.n.loadConf(vmid, c.stderr)
	if err != nil {
		return c.fail(err)
	}
	if _, ok := conf.Get("lock"); !ok {
		return c.die("no lock found trying to remove any lock")
	}
	conf.Delete("lock")
	if err := c.n.saveConf(vmid, conf); err != nil {
		return c.fail(err)
	}
	return 0
}

func pctMount(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	conf, lk, err := c.loadLocked(vmid, c.stderr)
	if err != nil {
		return c.fail(err)
	}
	defer lk.release()
	if err := checkLock(conf); err != nil {
		return c.fail(err)
	}
	conf.Set("lock", "mounted")
	if err := c.n.saveConf(vmid, conf); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "mounted CT %d in '/var/lib/lxc/%d/rootfs'\n", vmid, vmid)
	return 0
}

func pctUnmount(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	conf, lk, err := c.loadLocked(vmid, c.stderr)
	if err != nil {
		return c.fail(err)
	}
	defer lk.release()
	if l, _ := conf.Get("lock"); l == "mounted" {
		conf.Delete("lock")
	}
	if err := c.n.saveConf(vmid, conf); err != nil {
		return c.fail(err)
	}
	return 0
}

func pctTemplate(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	n := c.n
	conf, lk, err := c.loadLocked(vmid, c.stderr)
	if err != nil {
		return c.fail(err)
	}
	defer lk.release()
	if err := checkLock(conf); err != nil {
		return c.fail(err)
	}
	if v, _ := conf.Get("template"); v == "1" {
		return c.die("you can't convert a template to a template")
	}
	if n.isRunning(vmid) {
		return c.die("you can't convert a CT to template if the CT is running")
	}
	if len(conf.Snapshots) > 0 {
		return c.die("unable to create template, because CT contains snapshots")
	}
	// Not wired to $upid_exit (§1.3). Disks keep their names here: the
	// base-* rename is not simulated.
	return c.runTask(false, func(t *task) error {
		conf.Set("template", "1")
		return n.saveConf(vmid, conf)
	})
}
