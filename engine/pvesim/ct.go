package pvesim

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lxcplan/lxcplan/engine/pve"
)

// This file holds the container config model: where config files live,
// reading and writing them with engine/pve's codec, and the flocks.

func (n *Node) confRel(vmid int) string { return fmt.Sprintf("nodes/%s/lxc/%d.conf", n.Name, vmid) }

func (n *Node) confPath(vmid int) string { return filepath.Join(n.cluster.Dir, n.confRel(vmid)) }

// loadConf reads this node's config of vmid. Parser warnings go to warn
// (stderr) as PVE's non-strict reader prints them.
func (n *Node) loadConf(vmid int, warn io.Writer) (*pve.Config, string, error) {
	raw, err := os.ReadFile(n.confPath(vmid))
	if err != nil {
		return nil, "", pveErr("Configuration file '%s' does not exist", n.confRel(vmid))
	}
	conf, err := pve.ParseConfig(raw)
	if err != nil {
		return nil, "", fmt.Errorf("parse %s: %w", n.confRel(vmid), err)
	}
	if warn != nil {
		for _, w := range conf.Warnings {
			fmt.Fprintf(warn, "vm %d - %s\n", vmid, w)
		}
	}
	return conf, pve.Digest(raw), nil
}

// saveConf writes the config atomically.
func (n *Node) saveConf(vmid int, conf *pve.Config) error {
	if err := conf.Check(); err != nil {
		return err
	}
	if err := writeAtomic(n.confPath(vmid), conf.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", n.confRel(vmid), err)
	}
	return nil
}

// guestOwner finds which node holds a guest ID, and whether it is a
// container ("CT") or a QEMU guest ("VM").
func (c *Cluster) guestOwner(vmid int) (node, kind string, ok bool) {
	for _, nn := range c.Nodes() {
		if _, err := os.Stat(filepath.Join(c.Dir, "nodes", nn, "lxc", strconv.Itoa(vmid)+".conf")); err == nil {
			return nn, "CT", true
		}
		if _, err := os.Stat(filepath.Join(c.Dir, "nodes", nn, "qemu-server", strconv.Itoa(vmid)+".conf")); err == nil {
			return nn, "VM", true
		}
	}
	return "", "", false
}

// guests lists every guest ID of the cluster with its node.
func (c *Cluster) guests() map[int]string {
	out := map[int]string{}
	for _, nn := range c.Nodes() {
		for _, sub := range []string{"lxc", "qemu-server"} {
			ents, _ := os.ReadDir(filepath.Join(c.Dir, "nodes", nn, sub))
			for _, e := range ents {
				if id, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".conf")); err == nil && strings.HasSuffix(e.Name(), ".conf") {
					out[id] = nn
				}
			}
		}
	}
	return out
}

// nodeCTs lists this node's container IDs, sorted.
func (n *Node) nodeCTs() []int {
	var ids []int
	ents, _ := os.ReadDir(filepath.Join(n.cluster.Dir, "nodes", n.Name, "lxc"))
	for _, e := range ents {
		if id, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".conf")); err == nil && strings.HasSuffix(e.Name(), ".conf") {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	return ids
}

func vmExistsErr(vmid int, node, kind string) error {
	return pveErr("%s %d already exists on node '%s'", kind, vmid, node)
}

// flock is a held lock file.
type flock struct{ f *os.File }

func (l *flock) release() {
	if l != nil && l.f != nil {
		syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		l.f.Close()
	}
}

// lockFile takes an exclusive flock on hostPath, waiting up to timeout like
// PVE's lock_file_full: after the first failed attempt it prints
// "trying to acquire lock..." to w, and " OK" once it gets the lock. shown
// is the path used in the timeout message.
func lockFile(ctx context.Context, hostPath, shown string, timeout time.Duration, w io.Writer) (*flock, error) {
	if err := os.MkdirAll(filepath.Dir(hostPath), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", shown, err)
	}
	f, err := os.OpenFile(hostPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", shown, err)
	}
	deadline := time.Now().Add(timeout)
	waited := false
	for {
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			if waited {
				io.WriteString(w, " OK\n")
			}
			return &flock{f: f}, nil
		}
		if !waited {
			io.WriteString(w, "trying to acquire lock...\n")
			waited = true
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, pveErr("can't lock file '%s' - got timeout", shown)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, pveErr("can't lock file '%s' - got timeout", shown)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Lock timeouts (§10); variables so tests can shorten them.
var (
	lockConfigTimeout = 10 * time.Second
	createLockTimeout = 5 * time.Second
	migrateLockTimout = 10 * time.Second
)

// lockConfig takes /run/lock/lxc/pve-config-<vmid>.lock (node-local).
func (n *Node) lockConfig(ctx context.Context, vmid int, timeout time.Duration, w io.Writer) (*flock, error) {
	name := fmt.Sprintf("pve-config-%d.lock", vmid)
	return lockFile(ctx, filepath.Join(n.cluster.LockRoot, n.Name, name), "/run/lock/lxc/"+name, timeout, w)
}

// lockMigrate takes /var/lock/pve-manager/pve-migrate-<vmid>.
func (n *Node) lockMigrate(ctx context.Context, vmid int, w io.Writer) (*flock, error) {
	name := fmt.Sprintf("pve-migrate-%d", vmid)
	return lockFile(ctx, filepath.Join(n.cluster.LockRoot, n.Name, name), "/var/lock/pve-manager/"+name, migrateLockTimout, w)
}

// lockCluster serialises vmlist changes across nodes, standing in for
// pmxcfs' atomic "ID exists anywhere" check.
func (c *Cluster) lockCluster(ctx context.Context) (*flock, error) {
	return lockFile(ctx, filepath.Join(c.LockRoot, "cluster.lock"), "cluster.lock", 30*time.Second, io.Discard)
}

// checkLock is PVE's check_lock.
func checkLock(conf *pve.Config) error {
	if l, ok := conf.Get("lock"); ok && l != "" {
		return pveErr("CT is locked (%s)", l)
	}
	return nil
}

var macRand = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))

// randomMAC is random_ether_addr with the default BC:24:11 prefix.
func (c *Cluster) randomMAC() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := macRand
	if c.rnd != nil {
		r = c.rnd
	}
	return fmt.Sprintf("BC:24:11:%02X:%02X:%02X", r.IntN(256), r.IntN(256), r.IntN(256))
}

// Option validation. Each validator returns the value to store or the
// parameter errors PVE prints.

type validator func(n *Node, key, v string) (string, []paramErr)

func pe(key, msg string, nl bool) []paramErr { return []paramErr{{param: key, msg: msg, nl: nl}} }

var (
	reInt      = regexp.MustCompile(`^-?\d+$`)
	reNum      = regexp.MustCompile(`^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$`)
	reDNSLabel = `[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?`
	reDNSName  = regexp.MustCompile(`^(` + reDNSLabel + `\.)*` + reDNSLabel + `$`)
	reTag      = regexp.MustCompile(`(?i)^[a-z0-9_][a-z0-9_\-+.]*$`)
	reVMID     = regexp.MustCompile(`^[1-9][0-9]{2,8}$`)
	reSnapName = regexp.MustCompile(`(?i)^[a-z][a-z0-9_\-]+$`)
	reTZ       = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$`)
)

func vInt(lo, hi int64, hasHi bool) validator {
	return func(n *Node, key, v string) (string, []paramErr) {
		if !reInt.MatchString(v) {
			return "", pe(key, fmt.Sprintf("type check ('integer') failed - got '%s'", v), false)
		}
		x, _ := strconv.ParseInt(v, 10, 64)
		if x < lo {
			return "", pe(key, fmt.Sprintf("value must have a minimum value of %d", lo), false)
		}
		if hasHi && x > hi {
			return "", pe(key, fmt.Sprintf("value must have a maximum value of %d", hi), false)
		}
		return strconv.FormatInt(x, 10), nil
	}
}

func vNum(lo, hi float64) validator {
	return func(n *Node, key, v string) (string, []paramErr) {
		if !reNum.MatchString(v) {
			return "", pe(key, fmt.Sprintf("type check ('number') failed - got '%s'", v), false)
		}
		x, _ := strconv.ParseFloat(v, 64)
		if x < lo {
			return "", pe(key, fmt.Sprintf("value must have a minimum value of %s", strconv.FormatFloat(lo, 'f', -1, 64)), false)
		}
		if x > hi {
			return "", pe(key, fmt.Sprintf("value must have a maximum value of %s", strconv.FormatFloat(hi, 'f', -1, 64)), false)
		}
		return v, nil
	}
}

func vEnum(vals ...string) validator {
	return func(n *Node, key, v string) (string, []paramErr) {
		for _, x := range vals {
			if x == v {
				return v, nil
			}
		}
		return "", pe(key, fmt.Sprintf("value '%s' does not have a value in the enumeration '%s'", v, strings.Join(vals, ", ")), false)
	}
}

func vBool(n *Node, key, v string) (string, []paramErr) { return v, nil } // normalised by the parser

func vString(maxLen int) validator {
	return func(n *Node, key, v string) (string, []paramErr) {
		if maxLen > 0 && len(v) > maxLen {
			return "", pe(key, fmt.Sprintf("value may only be %d characters long", maxLen), false)
		}
		return v, nil
	}
}

func vHostname(n *Node, key, v string) (string, []paramErr) {
	if len(v) > 255 {
		return "", pe(key, "value may only be 255 characters long", false)
	}
	if !reDNSName.MatchString(v) {
		return "", pe(key, "invalid format - value does not look like a valid DNS name", true)
	}
	return v, nil
}

func vTags(n *Node, key, v string) (string, []paramErr) {
	seen := map[string]bool{}
	var tags []string
	for _, t := range pve.SplitList(v) {
		if !reTag.MatchString(t) {
			return "", pe(key, "invalid format - invalid characters in tag", true)
		}
		t = strings.ToLower(t)
		if !seen[t] {
			seen[t] = true
			tags = append(tags, t)
		}
	}
	sort.Strings(tags)
	return strings.Join(tags, ";"), nil
}

func vAddrList(n *Node, key, v string) (string, []paramErr) {
	items := pve.SplitList(v)
	for _, a := range items {
		host, _, _ := strings.Cut(a, "%")
		if pve.VerifyIPv4(host) != nil && pve.VerifyIPv6(host) != nil {
			return "", pe(key, fmt.Sprintf("invalid format - value does not look like a valid IP address: %s", a), true)
		}
	}
	return strings.Join(items, " "), nil
}

func vDomainList(n *Node, key, v string) (string, []paramErr) {
	items := pve.SplitList(v)
	for _, d := range items {
		if !reDNSName.MatchString(d) {
			return "", pe(key, "invalid format - value does not look like a valid DNS name", true)
		}
	}
	return strings.Join(items, " "), nil
}

func vTimezone(n *Node, key, v string) (string, []paramErr) {
	if v == "host" || v == "UTC" {
		return v, nil
	}
	if reTZ.MatchString(v) && strings.Contains(v, "/") {
		if _, err := os.Stat("/usr/share/zoneinfo"); err != nil {
			return v, nil
		}
		if _, err := os.Stat(filepath.Join("/usr/share/zoneinfo", v)); err == nil {
			return v, nil
		}
	}
	return "", pe(key, fmt.Sprintf("invalid format - invalid time zone '%s'", v), true)
}

func vFeatures(n *Node, key, v string) (string, []paramErr) {
	if _, err := pve.ParseFeatures(v); err != nil {
		return "", withParam(fromPVE(err), key)
	}
	return v, nil // stored verbatim (§2.2)
}

func vStartup(n *Node, key, v string) (string, []paramErr) {
	if _, err := pve.ParseStartup(v); err != nil {
		return "", withParam(fromPVE(err), key)
	}
	return v, nil
}

func vRootfs(n *Node, key, v string) (string, []paramErr) {
	if _, err := pve.ParseRootfs(v); err != nil {
		return "", withParam(fromPVE(err), key)
	}
	return v, nil
}

func vMount(n *Node, key, v string) (string, []paramErr) {
	if _, err := pve.ParseMount(key, v); err != nil {
		return "", withParam(fromPVE(err), key)
	}
	return v, nil
}

func vDev(n *Node, key, v string) (string, []paramErr) {
	if _, err := pve.ParseDev(key, v); err != nil {
		return "", withParam(fromPVE(err), key)
	}
	return v, nil
}

// vNet validates and re-renders a netN value: type=veth always, a
// generated BC:24:11 MAC when hwaddr is absent (§2.2).
func vNet(n *Node, key, v string) (string, []paramErr) {
	net, err := pve.ParseNet(key, v)
	if err != nil {
		return "", withParam(fromPVE(err), key)
	}
	if net.HWAddr == "" {
		net.HWAddr = n.cluster.randomMAC()
	}
	net.Type = "veth"
	return net.String(), nil
}

func vVolid(n *Node, key, v string) (string, []paramErr) {
	if _, _, ok := parseVolid(v); !ok {
		return "", pe(key, fmt.Sprintf("invalid format - unable to parse volume ID '%s'", v), true)
	}
	return v, nil
}

// ctOptions are the config options pct create and pct set accept.
var ctOptions = map[string]validator{
	"arch":         vEnum("amd64", "arm64", "armhf", "i386", "riscv32", "riscv64"),
	"cmode":        vEnum("shell", "console", "tty"),
	"console":      vBool,
	"cores":        vInt(1, 8192, true),
	"cpulimit":     vNum(0, 8192),
	"cpuunits":     vInt(0, 500000, true),
	"debug":        vBool,
	"description":  vString(8192),
	"entrypoint":   vString(0),
	"env":          vString(0),
	"features":     vFeatures,
	"hookscript":   vVolid,
	"hostname":     vHostname,
	"lock":         vEnum("backup", "create", "destroyed", "disk", "fstrim", "migrate", "mounted", "rollback", "snapshot", "snapshot-delete"),
	"memory":       vInt(16, 0, false),
	"nameserver":   vAddrList,
	"onboot":       vBool,
	"ostype":       vEnum("debian", "devuan", "ubuntu", "centos", "fedora", "opensuse", "archlinux", "alpine", "gentoo", "nixos", "unmanaged"),
	"protection":   vBool,
	"rootfs":       vRootfs,
	"searchdomain": vDomainList,
	"startup":      vStartup,
	"swap":         vInt(0, 0, false),
	"tags":         vTags,
	"template":     vBool,
	"timezone":     vTimezone,
	"tty":          vInt(0, 6, true),
	"unprivileged": vBool,
}

// indexedOption resolves netN/mpN/devN/unusedN to its validator.
func indexedOption(key string) (validator, bool) {
	m := regexp.MustCompile(`^(net|mp|dev|unused)(\d+)$`).FindStringSubmatch(key)
	if m == nil {
		return nil, false
	}
	i, _ := strconv.Atoi(m[2])
	switch m[1] {
	case "net":
		return vNet, i <= 31
	case "mp":
		return vMount, i <= 255
	case "dev":
		return vDev, i <= 255
	}
	return vString(0), i <= 255
}

func optionValidator(key string) (validator, bool) {
	if v, ok := ctOptions[key]; ok {
		return v, true
	}
	return indexedOption(key)
}

var boolOptions = map[string]bool{"console": true, "debug": true, "onboot": true, "protection": true, "template": true, "unprivileged": true}

// ctOptionKinds lists every config option for the CLI parser.
func ctOptionKinds() map[string]optKind {
	m := map[string]optKind{}
	for k := range ctOptions {
		if boolOptions[k] {
			m[k] = optBool
		} else {
			m[k] = optString
		}
	}
	for i := 0; i <= 31; i++ {
		m["net"+strconv.Itoa(i)] = optString
	}
	for i := 0; i <= 255; i++ {
		m["mp"+strconv.Itoa(i)] = optString
		m["dev"+strconv.Itoa(i)] = optString
		m["unused"+strconv.Itoa(i)] = optString
	}
	return m
}

// validateVMID checks <vmid> and returns it.
func (c *call) vmid() (int, int, bool) {
	v := c.pos["vmid"]
	if !reInt.MatchString(v) {
		return 0, c.perr("vmid", fmt.Sprintf("type check ('integer') failed - got '%s'", v), false), false
	}
	if !reVMID.MatchString(v) {
		return 0, c.perr("vmid", "invalid format - value does not look like a valid VM ID", true), false
	}
	id, _ := strconv.Atoi(v)
	return id, 0, true
}

// mountKeys lists rootfs and mpN keys of a section, rootfs first.
func mountKeys(s *pve.Section) []string {
	var keys []string
	if _, ok := s.Get("rootfs"); ok {
		keys = append(keys, "rootfs")
	}
	var mps []int
	for k := range s.Options {
		if strings.HasPrefix(k, "mp") {
			if i, err := strconv.Atoi(k[2:]); err == nil {
				mps = append(mps, i)
			}
		}
	}
	for _, i := range sortInts(mps) {
		keys = append(keys, "mp"+strconv.Itoa(i))
	}
	return keys
}

// volumeOf returns the storage and volume name of a mount value when it
// is a storage volume (not a bind mount or device).
func (n *Node) volumeOf(val string) (*storage, string, *pve.Mount, bool) {
	var mt *pve.Mount
	var err error
	if strings.Contains(val, "mp=") {
		mt, err = pve.ParseMount("mp", val)
	} else {
		mt, err = pve.ParseRootfs(val)
	}
	if err != nil {
		return nil, "", nil, false
	}
	sid, vol, ok := parseVolid(mt.Volume)
	if !ok {
		return nil, "", mt, false
	}
	s, err := n.storage(sid)
	if err != nil {
		return nil, "", mt, false
	}
	return s, vol, mt, true
}
