package pvesim

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/lxcplan/lxcplan/engine/pve"
)

var pctTable toolTable

func init() {
	createOpts := ctOptionKinds()
	for k, v := range withOpts([]string{"storage", "password", "ssh-public-keys", "pool", "bwlimit"},
		[]string{"start", "restore", "force", "unique", "ignore-unpack-errors", "ha-managed"}, nil) {
		createOpts[k] = v
	}
	setOpts := ctOptionKinds()
	for k, v := range withOpts([]string{"digest"}, nil, []string{"delete", "revert"}) {
		setOpts[k] = v
	}
	vmidOnly := func(name string, opts map[string]optKind, run func(*call) int) *cmdSpec {
		return &cmdSpec{name: name, args: []string{"vmid"}, opts: opts, run: run}
	}
	pctTable = toolTable{
		"create":   {name: "create", args: []string{"vmid", "ostemplate"}, opts: createOpts, run: pctCreate},
		"start":    vmidOnly("start", withOpts(nil, []string{"debug", "skiplock"}, nil), pctStart),
		"stop":     vmidOnly("stop", withOpts(nil, []string{"skiplock", "overrule-shutdown"}, nil), pctStop),
		"shutdown": vmidOnly("shutdown", withOpts([]string{"timeout"}, []string{"forceStop"}, nil), pctShutdown),
		"reboot":   vmidOnly("reboot", withOpts([]string{"timeout"}, nil, nil), pctReboot),
		"destroy":  vmidOnly("destroy", withOpts(nil, []string{"force", "purge", "destroy-unreferenced-disks"}, nil), pctDestroy),
		"exec": {name: "exec", args: []string{"vmid"}, optArgs: []string{"extra-args"}, variadic: true,
			opts: withOpts(nil, []string{"keep-env"}, nil), run: pctExec},
		"push":         {name: "push", args: []string{"vmid", "file", "destination"}, opts: withOpts([]string{"perms", "user", "group"}, nil, nil), run: pctPush},
		"pull":         {name: "pull", args: []string{"vmid", "path", "destination"}, opts: withOpts([]string{"perms", "user", "group"}, nil, nil), run: pctPull},
		"config":       vmidOnly("config", withOpts([]string{"snapshot"}, []string{"current"}, nil), pctConfig),
		"pending":      vmidOnly("pending", nil, pctPending),
		"set":          vmidOnly("set", setOpts, pctSet),
		"resize":       {name: "resize", args: []string{"vmid", "disk", "size"}, opts: withOpts([]string{"digest"}, nil, nil), run: pctResize},
		"list":         {name: "list", run: pctList},
		"status":       vmidOnly("status", withOpts(nil, []string{"verbose"}, nil), pctStatus),
		"snapshot":     {name: "snapshot", args: []string{"vmid", "snapname"}, opts: withOpts([]string{"description"}, nil, nil), run: pctSnapshot},
		"listsnapshot": vmidOnly("listsnapshot", nil, pctListSnapshot),
		"rollback":     {name: "rollback", args: []string{"vmid", "snapname"}, opts: withOpts(nil, []string{"start"}, nil), run: pctRollback},
		"delsnapshot":  {name: "delsnapshot", args: []string{"vmid", "snapname"}, opts: withOpts(nil, []string{"force"}, nil), run: pctDelSnapshot},
		"unlock":       vmidOnly("unlock", nil, pctUnlock),
		"migrate":      {name: "migrate", args: []string{"vmid", "target"}, opts: withOpts([]string{"timeout", "target-storage", "bwlimit"}, []string{"restart", "online"}, nil), run: pctMigrate},
		"template":     vmidOnly("template", nil, pctTemplate),
		"mount":        vmidOnly("mount", nil, pctMount),
		"unmount":      vmidOnly("unmount", nil, pctUnmount),
	}
}

// validateOptions checks every given config option; errors are returned in
// option order (PVE uses hash order, which is random).
func (c *call) validateOptions(allowed func(string) bool) (map[string]string, []paramErr) {
	vals := map[string]string{}
	var errs []paramErr
	for _, k := range c.order {
		if !allowed(k) {
			continue
		}
		val, ok := optionValidator(k)
		if !ok {
			continue
		}
		v, e := val(c.n, k, c.opts[k])
		if e != nil {
			errs = append(errs, e...)
			continue
		}
		vals[k] = v
	}
	return vals, errs
}

var reStorageID = regexp.MustCompile(`(?i)^[a-z][a-z0-9\-_.]*[a-z0-9]$`)

// detectOS guesses ostype from the template name as PVE's setup would
// from the extracted tree.
func detectOS(tmpl string) string {
	base := filepath.Base(tmpl)
	for _, p := range []struct{ prefix, os string }{
		{"debian", "debian"}, {"ubuntu", "ubuntu"}, {"alpine", "alpine"}, {"centos", "centos"},
		{"rockylinux", "centos"}, {"almalinux", "centos"}, {"fedora", "fedora"}, {"archlinux", "archlinux"},
		{"opensuse", "opensuse"}, {"gentoo", "gentoo"}, {"devuan", "devuan"}, {"nixos", "nixos"},
	} {
		if strings.HasPrefix(base, p.prefix) {
			return p.os
		}
	}
	return "unmanaged"
}

func detectArch(tmpl string) string {
	for _, a := range []string{"arm64", "armhf", "i386", "riscv64", "riscv32"} {
		if strings.Contains(filepath.Base(tmpl), "_"+a+".") {
			return a
		}
	}
	return "amd64"
}

// newVolume is one volume pct create or set must allocate.
type newVolume struct {
	key      string
	storage  *storage
	size     int64
	mt       *pve.Mount
	existing bool // a reference to an existing volume, checked when allocating
}

// planVolumes resolves rootfs/mpN values into existing references and new
// allocations; bad storages give the param error of create.
func (c *call) planVolumes(vals map[string]string, defStorage string, createMode bool) ([]newVolume, []paramErr, error) {
	var out []newVolume
	keys := []string{}
	if _, ok := vals["rootfs"]; ok {
		keys = append(keys, "rootfs")
	}
	for _, k := range sortedKeys(vals) {
		if regexp.MustCompile(`^mp\d+$`).MatchString(k) {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		v := vals[k]
		var mt *pve.Mount
		var err error
		if k == "rootfs" {
			mt, err = pve.ParseRootfs(v)
		} else {
			mt, err = pve.ParseMount(k, v)
		}
		if err != nil {
			return nil, withParam(fromPVE(err), k), nil
		}
		if regexp.MustCompile(`^\d+(\.\d+)?$`).MatchString(mt.Volume) {
			mt.Volume = defStorage + ":" + mt.Volume
		}
		sid, gib, isNew := mt.NewVolume()
		if !isNew {
			if sid, _, ok := parseVolid(mt.Volume); ok {
				st, err := c.n.storage(sid)
				if err != nil {
					return nil, nil, err
				}
				// An existing volume is only resolved inside the task.
				out = append(out, newVolume{key: k, storage: st, mt: mt, existing: true})
			}
			continue
		}
		st, err := c.n.storage(sid)
		if err != nil {
			return nil, nil, err
		}
		if !st.allows("rootdir") {
			if createMode {
				return nil, pe("storage", fmt.Sprintf("storage '%s' does not support container directories", sid), false), nil
			}
			return nil, nil, pveErr("storage '%s' does not allow content type 'rootdir' (Container)", sid)
		}
		out = append(out, newVolume{key: k, storage: st, size: int64(gib * float64(pve.GiB)), mt: mt})
	}
	return out, nil, nil
}

// allocate creates the planned volumes and rewrites their config values.
func (n *Node) allocate(vmid int, vols []newVolume, vals map[string]string, out io.Writer) ([]string, error) {
	var made []string
	for _, v := range vols {
		if v.existing {
			_, vol, _ := parseVolid(v.mt.Volume)
			host, _, err := n.volumePath(v.storage, vol)
			if err != nil {
				return made, err
			}
			if _, err := os.Stat(host); err != nil {
				return made, pveErr("volume '%s' does not exist", v.mt.Volume)
			}
			vals[v.key] = v.mt.String()
			continue
		}
		name, err := n.allocVolume(v.storage, vmid, v.size, out)
		if err != nil {
			return made, err
		}
		made = append(made, v.storage.ID+":"+name)
		v.mt.Volume = v.storage.ID + ":" + name
		v.mt.Size, v.mt.SizeSet = v.size, true
		vals[v.key] = v.mt.String()
	}
	return made, nil
}

func (n *Node) freeVolids(volids []string, out io.Writer) {
	for _, id := range volids {
		sid, vol, ok := parseVolid(id)
		if !ok {
			continue
		}
		if st, err := n.storage(sid); err == nil {
			n.freeVolume(st, vol, out)
		}
	}
}

// resolveTemplate maps <ostemplate> to host and shown paths.
func (n *Node) resolveTemplate(tmpl string) (host, shown string, err error) {
	if strings.HasPrefix(tmpl, "/") {
		return n.hostPath(tmpl), tmpl, nil
	}
	sid, vol, ok := parseVolid(tmpl)
	if !ok {
		return "", "", pveErr("unable to parse volume ID '%s'", tmpl)
	}
	st, err := n.storage(sid)
	if err != nil {
		return "", "", err
	}
	if ct := volumeContent(vol); ct != "vztmpl" {
		if _, _, err := n.volumePath(st, vol); err != nil {
			return "", "", err
		}
		return "", "", pveErr("unable to use volume %s - content type needs to be 'vztmpl'", tmpl)
	}
	return n.volumePath(st, vol)
}

// v9Options exist only from PVE 9 (pve-container 6.0.14/6.0.15, §12); a
// PVE 8 node rejects them like any unknown option.
var v9Options = map[string]bool{"entrypoint": true, "env": true, "ha-managed": true}

func (c *call) rejectV9Options() (int, bool) {
	if c.n.cluster.PVEVersion >= 9 {
		return 0, true
	}
	for _, k := range c.order {
		if v9Options[k] {
			fmt.Fprintf(c.stderr, "Unknown option: %s\n", k)
			return bare400(c.stderr, "unable to parse option", c.usage()), false
		}
	}
	return 0, true
}

func pctCreate(c *call) int {
	n := c.n
	if code, ok := c.rejectV9Options(); !ok {
		return code
	}
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	tmpl := c.pos["ostemplate"]
	if len(tmpl) > 255 {
		return c.perr("ostemplate", "value may only be 255 characters long", false)
	}
	vals, errs := c.validateOptions(func(string) bool { return true })
	if c.has("password") && len(c.opts["password"]) < 5 {
		errs = append(errs, paramErr{param: "password", msg: "value must be at least 5 characters long"})
	}
	if c.has("unique") && !c.flag("restore") {
		errs = append(errs, paramErr{param: "restore", msg: "missing property required by 'unique'"})
	}
	defStorage := "local"
	if c.has("storage") {
		defStorage = c.opts["storage"]
		if !reStorageID.MatchString(defStorage) {
			errs = append(errs, paramErr{param: "storage", msg: fmt.Sprintf("invalid format - storage ID '%s' contains illegal characters", defStorage), nl: true})
		}
	}
	if v, ok := c.opts["bwlimit"]; ok {
		if _, e := vNum(0, 1e15)(n, "bwlimit", v); e != nil {
			errs = append(errs, e...)
		}
	}
	if len(errs) > 0 {
		return c.paramFail(errs...)
	}
	if node, kind, exists := n.cluster.guestOwner(vmid); exists {
		return c.fail(vmExistsErr(vmid, node, kind))
	}
	if f := c.opts["ssh-public-keys"]; f != "" {
		b, err := os.ReadFile(n.hostPath(f))
		if err != nil {
			return c.die("can't open '%s' - %s", f, errText(err))
		}
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if l != "" && !regexp.MustCompile(`^(ssh-|ecdsa-|sk-)\S+ \S+`).MatchString(l) {
				return c.die("SSH public key validation error")
			}
		}
	}
	if p := c.opts["pool"]; p != "" {
		return c.die("403 Permission check failed (pool '%s' does not exist)", p)
	}
	tmplHost, tmplShown, err := n.resolveTemplate(tmpl)
	if err != nil {
		return c.fail(err)
	}
	hasMP := false
	for k := range vals {
		if strings.HasPrefix(k, "mp") {
			hasMP = true
		}
	}
	if _, ok := vals["rootfs"]; !ok {
		if hasMP {
			return c.die("mount points configured, but 'rootfs' not set - aborting")
		}
		vals["rootfs"] = defStorage + ":4"
	}
	vols, perrs, err := c.planVolumes(vals, defStorage, true)
	if err != nil {
		return c.fail(err)
	}
	if perrs != nil {
		return c.paramFail(perrs...)
	}
	for k := range vals {
		if strings.HasPrefix(k, "unused") {
			fmt.Fprintf(c.stderr, "ignoring '%s', cannot create/restore with unused volume\n", k)
			delete(vals, k)
		}
	}

	// create_and_lock_config: flock (5 s), then the cluster-wide check and
	// the first write with "lock: create".
	lk, err := n.lockConfig(c.ctx, vmid, createLockTimeout, c.stderr)
	if err != nil {
		return c.die("unable to create CT %d - %s", vmid, err)
	}
	defer lk.release()
	cl, err := n.cluster.lockCluster(c.ctx)
	if err != nil {
		return c.die("unable to create CT %d - %s", vmid, err)
	}
	if node, kind, exists := n.cluster.guestOwner(vmid); exists {
		cl.release()
		return c.die("unable to create CT %d - %s", vmid, vmExistsErr(vmid, node, kind))
	}
	conf := pve.NewConfig()
	conf.Set("lock", "create")
	if err := n.saveConf(vmid, conf); err != nil {
		cl.release()
		return c.die("unable to create CT %d - %s", vmid, err)
	}
	cl.release()

	return c.runTask(true, func(t *task) error {
		made, err := n.allocate(vmid, vols, vals, t.out)
		fail := func(err error) error {
			n.freeVolids(made, io.Discard)
			os.Remove(n.confPath(vmid))
			return fmt.Errorf("unable to create CT %d - %s", vmid, err)
		}
		if err != nil {
			return fail(err)
		}
		if _, err := os.Stat(tmplHost); err != nil {
			t.printf("can't find file '%s'\n", tmpl)
			return fail(pveErr("can't find file '%s'", tmpl))
		}
		t.printf("extracting archive '%s'\n", tmplShown)
		spec, _ := n.startSpec(vmid, confFromVals(vals))
		unpriv := vals["unprivileged"] != "0"
		if n.rt == nil {
			return fail(pveErr("no container runtime for node '%s'", n.Name))
		}
		if err := n.rt.Extract(c.ctx, tmplHost, spec.RootDir, unpriv); err != nil {
			return fail(err)
		}
		if _, ok := vals["arch"]; !ok {
			vals["arch"] = detectArch(tmpl)
			t.printf("Detected container architecture: %s\n", vals["arch"])
		}
		if _, ok := vals["ostype"]; !ok {
			vals["ostype"] = detectOS(tmpl)
		}
		if _, ok := vals["hostname"]; !ok {
			vals["hostname"] = fmt.Sprintf("CT%d", vmid)
		}
		if _, ok := vals["memory"]; !ok {
			vals["memory"] = "512"
		}
		if _, ok := vals["swap"]; !ok {
			vals["swap"] = "512"
		}
		if _, ok := vals["unprivileged"]; !ok {
			vals["unprivileged"] = "1"
		}
		if vals["ostype"] != "unmanaged" {
			for _, kt := range []string{"rsa", "ecdsa", "ed25519"} {
				sum := sha256.Sum256([]byte(fmt.Sprintf("%d-%s-%s", vmid, kt, vals["hostname"])))
				t.printf("Creating SSH host key 'ssh_host_%s_key' - this may take some time ...\n", kt)
				t.printf("done: SHA256:%s root@%s\n", strings.TrimRight(base64.StdEncoding.EncodeToString(sum[:]), "="), vals["hostname"])
			}
		}
		final := confFromVals(vals)
		if err := n.saveConf(vmid, final); err != nil {
			return fail(err)
		}
		n.cluster.markCreated(vmid)
		if c.flag("ha-managed") {
			t.printf("Add as HA resource\n")
			state := "stopped"
			if c.flag("start") {
				state = "started"
			}
			n.cluster.haAdd(vmid, map[string]string{"state": state})
		}
		if c.flag("start") {
			if err := n.doStart(c.ctx, vmid, final, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// confFromVals builds a main section from option values.
func confFromVals(vals map[string]string) *pve.Config {
	conf := pve.NewConfig()
	for k, v := range vals {
		if k == "description" {
			conf.Description = v
			if v != "" && !strings.HasSuffix(v, "\n") {
				conf.Description += "\n"
			}
			continue
		}
		conf.Set(k, v)
	}
	return conf
}

// loadLocked takes the config flock and loads the config under it.
func (c *call) loadLocked(vmid int, w io.Writer) (*pve.Config, *flock, error) {
	lk, err := c.n.lockConfig(c.ctx, vmid, lockConfigTimeout, w)
	if err != nil {
		return nil, nil, err
	}
	conf, _, err := c.n.loadConf(vmid, c.stderr)
	if err != nil {
		lk.release()
		return nil, nil, err
	}
	return conf, lk, nil
}

func pctStart(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	n := c.n
	if n.isRunning(vmid) {
		return c.die("CT %d already running", vmid)
	}
	if n.cluster.haManaged(vmid) {
		fmt.Fprintf(c.stdout, "Requesting HA start for CT %d\n", vmid)
		n.cluster.haSet(vmid, map[string]string{"state": "started"})
		// The simulated CRM acts at once.
		return c.runTask(true, func(t *task) error {
			conf, lk, err := c.loadLocked(vmid, t.out)
			if err != nil {
				return err
			}
			defer lk.release()
			return n.doStart(c.ctx, vmid, conf, &task{out: io.Discard})
		})
	}
	return c.runTask(true, func(t *task) error {
		conf, lk, err := c.loadLocked(vmid, t.out)
		if err != nil {
			return err
		}
		defer lk.release()
		if v, _ := conf.Get("template"); v == "1" {
			return pveErr("you can't start a CT if it's a template")
		}
		if l, _ := conf.Get("lock"); l != "" && l != "mounted" && !c.flag("skiplock") {
			return checkLock(conf)
		}
		return n.doStart(c.ctx, vmid, conf, t)
	})
}

func pctStop(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	if code, done := c.stopWithoutTask(vmid, true); done {
		return code
	}
	n := c.n
	return c.runTask(true, func(t *task) error {
		conf, lk, err := c.loadLocked(vmid, t.out)
		if err != nil {
			return err
		}
		defer lk.release()
		if l, _ := conf.Get("lock"); l != "" && l != "mounted" && !c.flag("skiplock") {
			return checkLock(conf)
		}
		return n.doStop(c.ctx, vmid, true)
	})
}

// stopWithoutTask is what pct stop and pct shutdown share before
// their task: a CT that is not running fails (as a task when its config is
// unreadable, as pve does), and an HA-managed CT is stopped by requesting
// the stopped state from HA. done reports that the command ended with code.
func (c *call) stopWithoutTask(vmid int, force bool) (code int, done bool) {
	n := c.n
	if !n.isRunning(vmid) {
		if _, _, err := n.loadConf(vmid, nil); err != nil {
			return c.runTask(true, func(*task) error { return err }), true
		}
		return c.die("CT %d not running", vmid), true
	}
	if n.cluster.haManaged(vmid) {
		fmt.Fprintf(c.stdout, "Requesting HA stop for CT %d\n", vmid)
		n.cluster.haSet(vmid, map[string]string{"state": "stopped"})
		if err := n.doStop(c.ctx, vmid, force); err != nil {
			return c.fail(err), true
		}
		return 0, true
	}
	return 0, false
}

func pctShutdown(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	if c.has("timeout") && !reInt.MatchString(c.opts["timeout"]) {
		return c.perr("timeout", fmt.Sprintf("type check ('integer') failed - got '%s'", c.opts["timeout"]), false)
	}
	if code, done := c.stopWithoutTask(vmid, false); done {
		return code
	}
	n := c.n
	return c.runTask(true, func(t *task) error {
		conf, lk, err := c.loadLocked(vmid, t.out)
		if err != nil {
			return err
		}
		defer lk.release()
		if err := checkLock(conf); err != nil {
			return err
		}
		return n.doStop(c.ctx, vmid, false)
	})
}

func pctReboot(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	n := c.n
	if !n.isRunning(vmid) {
		return c.die("VM %d not running", vmid)
	}
	return c.runTask(true, func(t *task) error {
		conf, lk, err := c.loadLocked(vmid, t.out)
		if err != nil {
			return err
		}
		defer lk.release()
		if err := n.doStop(c.ctx, vmid, false); err != nil {
			return err
		}
		return n.doStart(c.ctx, vmid, conf, t)
	})
}

// volumesOf lists every storage volume a config references (main section
// and snapshots), deduplicated, in a stable order.
func (n *Node) volumesOf(conf *pve.Config) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s *pve.Section) {
		for _, k := range mountKeys(s) {
			v, _ := s.Get(k)
			if _, vol, mt, ok := n.volumeOf(v); ok && !seen[mt.Volume] {
				_ = vol
				seen[mt.Volume] = true
				out = append(out, mt.Volume)
			}
		}
		for _, k := range s.Keys() {
			if strings.HasPrefix(k, "unused") {
				v, _ := s.Get(k)
				if !seen[v] {
					seen[v] = true
					out = append(out, v)
				}
			}
		}
	}
	add(&conf.Section)
	for _, name := range conf.SnapshotNames() {
		add(conf.Snapshots[name])
	}
	return out
}

func pctDestroy(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	n := c.n
	check := func(conf *pve.Config) error {
		if v, _ := conf.Get("protection"); v == "1" {
			return pveErr("can't remove CT %d - protection mode enabled", vmid)
		}
		if err := checkLock(conf); err != nil {
			return err
		}
		if n.cluster.haConfigured(vmid) && !c.flag("purge") {
			return pveErr("unable to remove CT %d - used in HA resources and purge parameter not set.", vmid)
		}
		if n.isRunning(vmid) && !c.flag("force") {
			return pveErr("unable to destroy CT %d - container is running", vmid)
		}
		return nil
	}
	conf, _, err := n.loadConf(vmid, c.stderr)
	if err != nil {
		return c.fail(err)
	}
	if err := check(conf); err != nil {
		return c.fail(err)
	}
	return c.runTask(true, func(t *task) error {
		conf, lk, err := c.loadLocked(vmid, t.out)
		if err != nil {
			return err
		}
		defer lk.release()
		if err := check(conf); err != nil {
			return err
		}
		if n.isRunning(vmid) {
			t.printf("forced to stop CT %d before destroying!\n", vmid)
			if err := n.doStop(c.ctx, vmid, true); err != nil {
				return err
			}
		}
		vols := n.volumesOf(conf)
		locked := pve.NewConfig()
		locked.Set("lock", "destroyed")
		if err := n.saveConf(vmid, locked); err != nil {
			return err
		}
		n.freeVolids(vols, t.out)
		if n.rt != nil {
			n.rt.Remove(c.ctx, vmid)
		}
		n.markRunning(vmid, false)
		if c.flag("purge") {
			t.printf("purging CT %d from related configurations..\n", vmid)
			if n.cluster.haConfigured(vmid) {
				n.cluster.haRemove(vmid)
				t.printf("NOTE: removed CT %d from HA resource configuration.\n", vmid)
			}
		}
		if err := os.Remove(n.confPath(vmid)); err != nil {
			return fmt.Errorf("remove %s: %w", n.confRel(vmid), err)
		}
		return nil
	})
}

func pctExec(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	n := c.n
	if _, _, err := n.loadConf(vmid, c.stderr); err != nil {
		return c.fail(err)
	}
	if !n.isRunning(vmid) {
		return c.die("container '%d' not running!", vmid)
	}
	if len(c.extra) == 0 {
		return c.die("missing command at /usr/share/perl5/PVE/CLI/pct.pm line 205.")
	}
	rc, err := n.rt.Exec(c.ctx, vmid, c.extra, c.stdin, c.stdout, c.stderr)
	if err != nil {
		fmt.Fprintf(c.stderr, "lxc-attach: %d: %s\n", vmid, err)
		return 1
	}
	return rc
}

// parsePerms accepts octal ("644" → 0644) or 0xHEX (§2.6).
func parsePerms(s string) (os.FileMode, bool) {
	if strings.HasPrefix(strings.ToLower(s), "0x") {
		v, err := strconv.ParseUint(s[2:], 16, 32)
		return os.FileMode(v), err == nil
	}
	if !strings.HasPrefix(s, "0") {
		s = "0" + s
	}
	v, err := strconv.ParseUint(s, 8, 32)
	return os.FileMode(v), err == nil
}

// resolveID resolves a user or group inside the CT with getent.
func (c *call) resolveID(vmid int, db, name string) (int, bool) {
	if id, err := strconv.Atoi(name); err == nil {
		return id, true
	}
	var out strings.Builder
	rc, err := c.n.rt.Exec(c.ctx, vmid, []string{"getent", db, name}, strings.NewReader(""), &out, io.Discard)
	if err != nil || rc != 0 {
		return 0, false
	}
	f := strings.Split(strings.TrimSpace(out.String()), ":")
	if len(f) < 3 {
		return 0, false
	}
	id, err := strconv.Atoi(f[2])
	return id, err == nil
}

func pctPush(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	n := c.n
	if _, _, err := n.loadConf(vmid, c.stderr); err != nil {
		return c.fail(err)
	}
	if !n.isRunning(vmid) {
		return c.die("can only push files to a running CT")
	}
	// Not wired to $upid_exit: task failures exit 0 (§1.3).
	return c.runTask(false, func(t *task) error {
		lk, err := n.lockConfig(c.ctx, vmid, lockConfigTimeout, t.out)
		if err != nil {
			return err
		}
		defer lk.release()
		src := c.pos["file"]
		n.materialize(src)
		if _, err := os.Stat(n.hostPath(src)); err != nil {
			return pveErr("failed to open %s for reading", src)
		}
		mode := os.FileMode(0o644)
		if p, ok := c.opts["perms"]; ok {
			m, good := parsePerms(p)
			if !good {
				return pveErr("invalid mode: '%s'", p)
			}
			mode = m
		}
		uid, gid := 0, 0
		if u, ok := c.opts["user"]; ok {
			if uid, ok = c.resolveID(vmid, "passwd", u); !ok {
				return pveErr("failed to get uid for: %s", u)
			}
			gid = uid
		}
		if g, ok := c.opts["group"]; ok {
			if gid, ok = c.resolveID(vmid, "group", g); !ok {
				return pveErr("failed to get gid for: %s", g)
			}
		}
		if err := n.rt.Push(c.ctx, vmid, n.hostPath(src), c.pos["destination"], uid, gid, mode); err != nil {
			return err
		}
		return nil
	})
}

func pctPull(c *call) int {
	vmid, code, ok := c.vmid()
	if !ok {
		return code
	}
	n := c.n
	if _, _, err := n.loadConf(vmid, c.stderr); err != nil {
		return c.fail(err)
	}
	if !n.isRunning(vmid) {
		return c.die("can only pull files from a running VM at /usr/share/perl5/PVE/CLI/pct.pm line 446.")
	}
	return c.runTask(false, func(t *task) error {
		lk, err := n.lockConfig(c.ctx, vmid, lockConfigTimeout, t.out)
		if err != nil {
			return err
		}
		defer lk.release()
		dst := n.hostPath(c.pos["destination"])
		if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
			dst = filepath.Join(dst, filepath.Base(c.pos["path"]))
		}
		if err := n.rt.Pull(c.ctx, vmid, c.pos["path"], dst); err != nil {
			return err
		}
		if p, ok := c.opts["perms"]; ok {
			m, good := parsePerms(p)
			if !good {
				return pveErr("invalid mode: '%s'", p)
			}
			os.Chmod(dst, m)
		}
		return nil
	})
}
