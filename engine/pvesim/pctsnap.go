package pvesim

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lxcplan/lxcplan/engine/pve"
)

// checkSnapName validates <snapname> (pve-configid, 2-40 characters).
func (c *call) snapName() (string, int, bool) {
	s := c.pos["snapname"]
	if len(s) > 40 {
		return "", c.perr("snapname", "value may only be 40 characters long", false), false
	}
	if !reSnapName.MatchString(s) {
		return "", c.perr("snapname", fmt.Sprintf("invalid format - invalid configuration ID '%s'", s), true), false
	}
	return s, 0, true
}

// snapshotVolumes lists (storage, volname) of every volume in a section
// and fails when one cannot be snapshotted.
func (n *Node) snapshotVolumes(s *pve.Section) ([]*storage, []string, error) {
	var sts []*storage
	var vols []string
	for _, k := range mountKeys(s) {
		v, _ := s.Get(k)
		st, vol, mt, ok := n.volumeOf(v)
		if !ok {
			if mt != nil && k != "rootfs" && !mt.Backup.Value(false) {
				continue // bind mounts and devices are not part of snapshots
			}
			return nil, nil, pveErr("snapshot feature is not available")
		}
		if !st.snapshots() {
			return nil, nil, pveErr("snapshot feature is not available")
		}
		sts = append(sts, st)
		vols = append(vols, vol)
	}
	return sts, vols, nil
}

func pctSnapshot(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	name, code, ok := c.snapName()
	if !ok {
		return code
	}
	n := c.n
	if name == "current" || name == "vzdump" {
		return c.die("unable to use snapshot name '%s' (reserved name)", name)
	}
	return c.runTask(true, func(t *task) error {
		conf, lk, err := c.loadLocked(vmid, t.out)
		if err != nil {
			return err
		}
		defer lk.release()
		if _, ok := conf.Snapshots[name]; ok {
			return pveErr("snapshot name '%s' already used", name)
		}
		if v, _ := conf.Get("template"); v == "1" {
			return pveErr("you can't take a snapshot if it's a template")
		}
		if err := checkLock(conf); err != nil {
			return err
		}
		sts, vols, err := n.snapshotVolumes(&conf.Section)
		if err != nil {
			return err
		}
		snap := conf.Section.Clone()
		snap.Description = ""
		if d, ok := c.opts["description"]; ok && d != "" {
			snap.Description = d
			if !strings.HasSuffix(d, "\n") {
				snap.Description += "\n"
			}
		}
		snap.Delete("lock")
		for _, k := range snap.Keys() {
			if strings.HasPrefix(k, "unused") {
				snap.Delete(k)
			}
		}
		snap.Set("snaptime", strconv.FormatInt(n.cluster.now().Unix(), 10))
		snap.Set("snapstate", "prepare")
		conf.Snapshots[name] = snap
		conf.Set("lock", "snapshot")
		if err := n.saveConf(vmid, conf); err != nil {
			return err
		}
		for i := range vols {
			if err := n.volumeSnapshot(sts[i], vols[i], name); err != nil {
				return fmt.Errorf("snapshot %s: %w", vols[i], err)
			}
		}
		snap.Delete("snapstate")
		conf.Delete("lock")
		conf.Set("parent", name)
		return n.saveConf(vmid, conf)
	})
}

func snapTime(s *pve.Section) int64 {
	v, _ := s.Get("snaptime")
	t, _ := strconv.ParseInt(v, 10, 64)
	return t
}

func pctListSnapshot(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	conf, _, err := c.n.loadConf(vmid, c.stderr)
	if err != nil {
		return c.fail(err)
	}
	children := map[string][]string{}
	for _, name := range conf.SnapshotNames() {
		p, _ := conf.Snapshots[name].Get("parent")
		if _, ok := conf.Snapshots[p]; !ok {
			p = ""
		}
		children[p] = append(children[p], name)
	}
	parent, _ := conf.Get("parent")
	if _, ok := conf.Snapshots[parent]; !ok {
		parent = ""
	}
	children[parent] = append(children[parent], "current")
	var walk func(node string, depth int)
	walk = func(node string, depth int) {
		kids := children[node]
		sort.SliceStable(kids, func(i, j int) bool {
			if kids[i] == "current" || kids[j] == "current" {
				return kids[j] == "current" && kids[i] != "current"
			}
			return snapTime(conf.Snapshots[kids[i]]) < snapTime(conf.Snapshots[kids[j]])
		})
		for _, k := range kids {
			prefix := strings.Repeat(" ", depth) + "`->"
			width := 30 - len(prefix)
			if k == "current" {
				fmt.Fprintf(c.stdout, "%s %-*s %-23s %s\n", prefix, width, k, "", "You are here!")
				continue
			}
			s := conf.Snapshots[k]
			desc := strings.SplitN(s.Description, "\n", 2)[0]
			if desc == "" {
				desc = "no-description"
			}
			ts := time.Unix(snapTime(s), 0).Local().Format("2006-01-02 15:04:05")
			fmt.Fprintf(c.stdout, "%s %-*s %-23s %s\n", prefix, width, k, ts, desc)
			walk(k, depth+1)
		}
	}
	walk("", 0)
	return 0
}

func pctRollback(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	name, code, ok := c.snapName()
	if !ok {
		return code
	}
	n := c.n
	return c.runTask(true, func(t *task) error {
		ml, err := n.lockMigrate(c.ctx, vmid, t.out)
		if err != nil {
			return err
		}
		defer ml.release()
		conf, lk, err := c.loadLocked(vmid, t.out)
		if err != nil {
			return err
		}
		defer lk.release()
		snap, ok := conf.Snapshots[name]
		if !ok {
			return pveErr("snapshot '%s' does not exist", name)
		}
		if v, _ := conf.Get("template"); v == "1" {
			return pveErr("you can't rollback if vm is a template")
		}
		if st, _ := snap.Get("snapstate"); st != "" {
			return pveErr("unable to rollback to incomplete snapshot (snapstate = %s)", st)
		}
		if err := checkLock(conf); err != nil {
			return err
		}
		sts, vols, err := n.snapshotVolumes(snap)
		if err != nil {
			return err
		}
		for i := range vols {
			if sts[i].Type != "zfspool" {
				continue
			}
			// zfs rollback only works to the most recent snapshot: on zfs
			// the snapshots form a chain, so it must have no child.
			for _, other := range conf.SnapshotNames() {
				if p, _ := conf.Snapshots[other].Get("parent"); p == name {
					return pveErr("can't rollback, '%s' is not most recent snapshot on '%s'", name, vols[i])
				}
			}
		}
		if n.isRunning(vmid) {
			if err := n.doStop(c.ctx, vmid, true); err != nil {
				return err
			}
		}
		conf.Set("lock", "rollback")
		if err := n.saveConf(vmid, conf); err != nil {
			return err
		}
		for i := range vols {
			if err := n.volumeRollback(sts[i], vols[i], name); err != nil {
				return err
			}
		}
		main := snap.Clone()
		main.Description = conf.Description
		for _, k := range conf.Keys() {
			if strings.HasPrefix(k, "unused") {
				v, _ := conf.Get(k)
				main.Set(k, v)
			}
		}
		main.Delete("snaptime")
		main.Delete("snapstate")
		main.Set("parent", name)
		conf.Section = *main
		conf.Pending = nil
		if err := n.saveConf(vmid, conf); err != nil {
			return err
		}
		if c.flag("start") {
			return n.doStart(c.ctx, vmid, conf, t)
		}
		return nil
	})
}

func pctDelSnapshot(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	name, code, ok := c.snapName()
	if !ok {
		return code
	}
	n := c.n
	return c.runTask(true, func(t *task) error {
		if !c.flag("force") {
			ml, err := n.lockMigrate(c.ctx, vmid, io.Discard)
			if err != nil {
				return pveErr("Failed to obtain guest migration lock - replication running?")
			}
			defer ml.release()
		}
		conf, lk, err := c.loadLocked(vmid, t.out)
		if err != nil {
			return err
		}
		defer lk.release()
		snap, ok := conf.Snapshots[name]
		if !ok {
			return pveErr("snapshot '%s' does not exist", name)
		}
		if !c.flag("force") {
			if err := checkLock(conf); err != nil {
				return err
			}
		}
		conf.Set("lock", "snapshot-delete")
		snap.Set("snapstate", "delete")
		if err := n.saveConf(vmid, conf); err != nil {
			return err
		}
		for _, k := range mountKeys(snap) {
			v, _ := snap.Get(k)
			if st, vol, _, ok := n.volumeOf(v); ok {
				n.volumeSnapshotDelete(st, vol, name)
			}
		}
		parent, hasParent := snap.Get("parent")
		relink := func(s *pve.Section) {
			if p, _ := s.Get("parent"); p == name {
				if hasParent {
					s.Set("parent", parent)
				} else {
					s.Delete("parent")
				}
			}
		}
		for _, other := range conf.SnapshotNames() {
			relink(conf.Snapshots[other])
		}
		relink(&conf.Section)
		delete(conf.Snapshots, name)
		conf.Delete("lock")
		return n.saveConf(vmid, conf)
	})
}

func pctMigrate(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	n := c.n
	target := c.pos["target"]
	if target == n.Name {
		return c.perr("target", "target is local node.", false)
	}
	to, ok := n.cluster.Node(target)
	if !ok {
		return c.die("no such cluster node '%s'", target)
	}
	if _, _, err := n.loadConf(vmid, c.stderr); err != nil {
		return c.fail(err)
	}
	running := n.isRunning(vmid)
	if running && !c.flag("restart") && !c.flag("online") {
		return c.die("can't migrate running container without --online or --restart")
	}
	if n.cluster.haManaged(vmid) {
		fmt.Fprintf(c.stdout, "Requesting HA migration for CT %d to node %s\n", vmid, target)
	}
	start := n.cluster.now()
	logf := func(t *task, format string, a ...any) {
		t.printf("%s %s\n", n.cluster.now().Format("2006-01-02 15:04:05"), fmt.Sprintf(format, a...))
	}
	return c.runTask(true, func(t *task) error {
		ml, err := n.lockMigrate(c.ctx, vmid, t.out)
		if err != nil {
			return err
		}
		defer ml.release()
		conf, lk, err := c.loadLocked(vmid, t.out)
		if err != nil {
			return err
		}
		defer lk.release()
		if err := checkLock(conf); err != nil {
			return err
		}
		abort := func(err error) error {
			logf(t, "ERROR: migration aborted (duration %s): %s", hms(n.cluster.now().Sub(start)), err)
			return pveErr("migration aborted")
		}
		if running && c.flag("online") && !c.flag("restart") {
			return abort(pveErr("lxc live migration is currently not implemented"))
		}
		if running {
			logf(t, "shutdown CT %d", vmid)
			if err := n.doStop(c.ctx, vmid, false); err != nil {
				return abort(err)
			}
		}
		logf(t, "starting migration of CT %d to node '%s' (127.0.0.1)", vmid, target)
		for _, v := range n.volumesOf(conf) {
			sid, vol, _ := parseVolid(v)
			st, err := n.storage(sid)
			if err != nil {
				return abort(err)
			}
			logf(t, "found local volume '%s' (in current VM config)", v)
			if err := n.moveVolume(st, vol, to); err != nil {
				return abort(err)
			}
			logf(t, "volume '%s' is '%s' on the target", v, v)
		}
		cl, err := n.cluster.lockCluster(c.ctx)
		if err != nil {
			return abort(err)
		}
		err = os.Rename(n.confPath(vmid), to.confPath(vmid))
		cl.release()
		if err != nil {
			return abort(err)
		}
		if n.rt != nil {
			n.rt.Remove(c.ctx, vmid)
		}
		logf(t, "start final cleanup")
		if running {
			logf(t, "start container on target node")
			if to.rt == nil && n.cluster.RuntimeFor != nil {
				to.rt = n.cluster.RuntimeFor(target)
			}
			tconf, _, err := to.loadConf(vmid, io.Discard)
			if err == nil {
				err = to.doStart(c.ctx, vmid, tconf, t)
			}
			if err != nil {
				return abort(err)
			}
		}
		logf(t, "migration finished successfully (duration %s)", hms(n.cluster.now().Sub(start)))
		return nil
	})
}

func hms(d time.Duration) string {
	s := int(d.Seconds())
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}
