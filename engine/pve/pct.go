package pve

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// optList collects "--name value" pairs and emits them sorted by name
// (indexed names such as net2/net10 numerically), so argv is deterministic
// and golden-testable.
//
// Booleans are always passed with an explicit "1"/"0": PVE declares them with
// an optional value, so a bare "--start" followed by a positional-looking
// word would swallow that word (§1.1).
type optList struct{ pairs [][2]string }

func (o *optList) str(name, v string) {
	if v != "" {
		o.pairs = append(o.pairs, [2]string{name, v})
	}
}

func (o *optList) num(name string, v int) {
	if v != 0 {
		o.str(name, strconv.Itoa(v))
	}
}

func (o *optList) nump(name string, v *int) {
	if v != nil {
		o.str(name, strconv.Itoa(*v))
	}
}

func (o *optList) flag(name string, b OptBool) {
	if b != Unset {
		o.str(name, boolStr(b == True))
	}
}

func (o *optList) on(name string, b bool) {
	if b {
		o.str(name, "1")
	}
}

func sortKey(name string) string {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	if i == len(name) || i == 0 {
		return name
	}
	n, _ := strconv.Atoi(name[i:])
	return fmt.Sprintf("%s%010d", name[:i], n)
}

func (o *optList) argv(head ...string) []string {
	sort.SliceStable(o.pairs, func(i, j int) bool { return sortKey(o.pairs[i][0]) < sortKey(o.pairs[j][0]) })
	out := append([]string(nil), head...)
	for _, p := range o.pairs {
		out = append(out, "--"+p[0], p[1])
	}
	return out
}

func id(vmid int) string { return strconv.Itoa(vmid) }

// Int returns a pointer to n, for the option fields where 0 is a real value.
func Int(n int) *int { return &n }

// ConfigOptions are the container settings shared by pct create and pct set
// (§2.1, §2.7). Zero values mean "not given" (pointers and [OptBool] where 0
// or false is meaningful).
type ConfigOptions struct {
	Arch        string
	CMode       string // console|shell|tty
	Console     OptBool
	Cores       int
	CPULimit    string // number 0-8192, may be fractional
	CPUUnits    *int
	Debug       OptBool
	Description string
	Devs        map[int]*Dev // dev0..dev255
	// Entrypoint exists from PVE 9 (pve-container 6.0.15).
	Entrypoint string
	// Features is rendered by [Features.String]; PVE stores it verbatim.
	// Use SetOptions.Delete to remove it; an empty value is not sent.
	Features     *Features
	Hookscript   string
	Hostname     string
	Memory       int            // MiB
	Mounts       map[int]*Mount // mp0..mp255
	Nameserver   []string       // passed space-separated
	Nets         map[int]*Net   // net0..net31
	OnBoot       OptBool
	OSType       string
	Protection   OptBool
	Rootfs       *Mount
	SearchDomain []string // passed space-separated
	Startup      *Startup
	Swap         *int // MiB
	Tags         []string
	Template     OptBool
	Timezone     string
	TTY          *int
	Unprivileged OptBool
}

func (c *ConfigOptions) add(o *optList) {
	o.str("arch", c.Arch)
	o.str("cmode", c.CMode)
	o.flag("console", c.Console)
	o.num("cores", c.Cores)
	o.str("cpulimit", c.CPULimit)
	o.nump("cpuunits", c.CPUUnits)
	o.flag("debug", c.Debug)
	o.str("description", c.Description)
	for i, d := range c.Devs {
		if d != nil {
			o.str("dev"+id(i), d.String())
		}
	}
	o.str("entrypoint", c.Entrypoint)
	if c.Features != nil {
		// An empty value is not passed: remove features with --delete.
		o.str("features", c.Features.String())
	}
	o.str("hookscript", c.Hookscript)
	o.str("hostname", c.Hostname)
	o.num("memory", c.Memory)
	for i, m := range c.Mounts {
		if m != nil {
			o.str("mp"+id(i), m.String())
		}
	}
	o.str("nameserver", strings.Join(c.Nameserver, " "))
	for i, n := range c.Nets {
		if n != nil {
			o.str("net"+id(i), n.String())
		}
	}
	o.flag("onboot", c.OnBoot)
	o.str("ostype", c.OSType)
	o.flag("protection", c.Protection)
	if c.Rootfs != nil {
		o.str("rootfs", c.Rootfs.String())
	}
	o.str("searchdomain", strings.Join(c.SearchDomain, " "))
	if c.Startup != nil {
		o.str("startup", c.Startup.String())
	}
	o.nump("swap", c.Swap)
	o.str("tags", strings.Join(c.Tags, ";"))
	o.flag("template", c.Template)
	o.str("timezone", c.Timezone)
	o.nump("tty", c.TTY)
	o.flag("unprivileged", c.Unprivileged)
}

// CreateOptions are the options of pct create (§2.1).
type CreateOptions struct {
	ConfigOptions
	BWLimit   string
	Force     OptBool // only valid together with Restore
	HAManaged OptBool // pve-container >= 6.0.14
	// IgnoreUnpackErrors passes --ignore-unpack-errors.
	IgnoreUnpackErrors OptBool
	// Password is sent in argv; callers must register it for redaction.
	// Never send --password bare: it prompts on a TTY.
	Password string
	Pool     string
	Restore  OptBool
	// SSHPublicKeys is a file path on the PVE host, not the key text.
	SSHPublicKeys string
	Start         OptBool
	Storage       string
	Unique        OptBool // requires Restore
}

// PctCreate builds `pct create <vmid> <ostemplate> [OPTIONS]`.
func PctCreate(vmid int, ostemplate string, c *CreateOptions) []string {
	var o optList
	if c != nil {
		c.ConfigOptions.add(&o)
		o.str("bwlimit", c.BWLimit)
		o.flag("force", c.Force)
		o.flag("ha-managed", c.HAManaged)
		o.flag("ignore-unpack-errors", c.IgnoreUnpackErrors)
		o.str("password", c.Password)
		o.str("pool", c.Pool)
		o.flag("restore", c.Restore)
		o.str("ssh-public-keys", c.SSHPublicKeys)
		o.flag("start", c.Start)
		o.str("storage", c.Storage)
		o.flag("unique", c.Unique)
	}
	return o.argv("pct", "create", id(vmid), ostemplate)
}

// SetOptions are the options of pct set (§2.7).
type SetOptions struct {
	ConfigOptions
	// Delete lists options to remove; "!opt" forces. Passed comma-joined.
	Delete []string
	// Revert lists pending changes to drop.
	Revert []string
	// Digest guards against concurrent modification (SHA-1 of the file).
	Digest string
}

// PctSet builds `pct set <vmid> [OPTIONS] [--delete a,b]`.
func PctSet(vmid int, s *SetOptions) []string {
	var o optList
	if s != nil {
		s.ConfigOptions.add(&o)
		o.str("delete", strings.Join(s.Delete, ","))
		o.str("revert", strings.Join(s.Revert, ","))
		o.str("digest", s.Digest)
	}
	return o.argv("pct", "set", id(vmid))
}

// StartOptions are the options of pct start.
type StartOptions struct {
	Debug    bool
	SkipLock bool
}

// PctStart builds `pct start <vmid>`.
func PctStart(vmid int, s StartOptions) []string {
	var o optList
	o.on("debug", s.Debug)
	o.on("skiplock", s.SkipLock)
	return o.argv("pct", "start", id(vmid))
}

// StopOptions are the options of pct stop.
type StopOptions struct {
	SkipLock bool
	// OverruleShutdown aborts a running shutdown task first.
	OverruleShutdown bool
}

// PctStop builds `pct stop <vmid>` (a hard stop: lxc-stop --kill).
func PctStop(vmid int, s StopOptions) []string {
	var o optList
	o.on("overrule-shutdown", s.OverruleShutdown)
	o.on("skiplock", s.SkipLock)
	return o.argv("pct", "stop", id(vmid))
}

// ShutdownOptions are the options of pct shutdown.
type ShutdownOptions struct {
	Timeout   int // seconds; 0 = PVE default (60)
	ForceStop bool
}

// PctShutdown builds `pct shutdown <vmid>`.
func PctShutdown(vmid int, s ShutdownOptions) []string {
	var o optList
	o.num("timeout", s.Timeout)
	o.on("forceStop", s.ForceStop)
	return o.argv("pct", "shutdown", id(vmid))
}

// PctReboot builds `pct reboot <vmid> [--timeout T]`; timeout 0 = default.
func PctReboot(vmid, timeout int) []string {
	var o optList
	o.num("timeout", timeout)
	return o.argv("pct", "reboot", id(vmid))
}

// DestroyOptions are the options of pct destroy (§2.4).
type DestroyOptions struct {
	Force                    bool
	Purge                    bool
	DestroyUnreferencedDisks bool
}

// PctDestroy builds `pct destroy <vmid>`.
func PctDestroy(vmid int, d DestroyOptions) []string {
	var o optList
	o.on("destroy-unreferenced-disks", d.DestroyUnreferencedDisks)
	o.on("force", d.Force)
	o.on("purge", d.Purge)
	return o.argv("pct", "destroy", id(vmid))
}

// PctExec builds `pct exec <vmid> [--keep-env X] -- <argv...>`. The "--" is
// always present: without it any inner argument starting with "-" is parsed
// as a pct option (§2.5).
func PctExec(vmid int, keepEnv OptBool, argv ...string) []string {
	var o optList
	o.flag("keep-env", keepEnv)
	out := o.argv("pct", "exec", id(vmid))
	out = append(out, "--")
	return append(out, argv...)
}

// FileOptions are the options of pct push and pct pull (§2.6).
type FileOptions struct {
	Perms string // octal ("0644") or 0xHEX
	User  string
	Group string
}

func (f FileOptions) add(o *optList) {
	o.str("group", f.Group)
	o.str("perms", f.Perms)
	o.str("user", f.User)
}

// PctPush builds `pct push <vmid> <file> <destination>`. It exits 0 even when
// its task fails; see [LiesAboutExitCode].
func PctPush(vmid int, file, dest string, f FileOptions) []string {
	var o optList
	f.add(&o)
	return o.argv("pct", "push", id(vmid), file, dest)
}

// PctPull builds `pct pull <vmid> <path> <destination>`.
func PctPull(vmid int, path, dest string, f FileOptions) []string {
	var o optList
	f.add(&o)
	return o.argv("pct", "pull", id(vmid), path, dest)
}

// PctResize builds `pct resize <vmid> <disk> <size>`; size follows
// [ParseResizeSize] ("+2G", "16G"; no unit means bytes).
func PctResize(vmid int, disk, size string) []string {
	return []string{"pct", "resize", id(vmid), disk, size}
}

// PctSnapshot builds `pct snapshot <vmid> <snapname> [--description D]`.
func PctSnapshot(vmid int, name, description string) []string {
	var o optList
	o.str("description", description)
	return o.argv("pct", "snapshot", id(vmid), name)
}

// PctListSnapshot builds `pct listsnapshot <vmid>`.
func PctListSnapshot(vmid int) []string { return []string{"pct", "listsnapshot", id(vmid)} }

// PctRollback builds `pct rollback <vmid> <snapname> [--start 1]`.
func PctRollback(vmid int, name string, start bool) []string {
	var o optList
	o.on("start", start)
	return o.argv("pct", "rollback", id(vmid), name)
}

// PctDelSnapshot builds `pct delsnapshot <vmid> <snapname> [--force 1]`.
func PctDelSnapshot(vmid int, name string, force bool) []string {
	var o optList
	o.on("force", force)
	return o.argv("pct", "delsnapshot", id(vmid), name)
}

// MigrateOptions are the options of pct migrate (§2.10).
type MigrateOptions struct {
	// Restart migrates a running CT by stopping and restarting it; Online
	// fails inside the task for LXC, so prefer Restart.
	Restart bool
	Online  bool
	Timeout int // seconds for the restart shutdown; 0 = default (180)
	// TargetStorage maps storages, e.g. "local-lvm:fast" or a single ID.
	TargetStorage string
	BWLimit       string
}

// PctMigrate builds `pct migrate <vmid> <target>`.
func PctMigrate(vmid int, target string, m MigrateOptions) []string {
	var o optList
	o.str("bwlimit", m.BWLimit)
	o.on("online", m.Online)
	o.on("restart", m.Restart)
	o.str("target-storage", m.TargetStorage)
	o.num("timeout", m.Timeout)
	return o.argv("pct", "migrate", id(vmid), target)
}

// PctUnlock builds `pct unlock <vmid>`.
func PctUnlock(vmid int) []string { return []string{"pct", "unlock", id(vmid)} }

// PctTemplate builds `pct template <vmid>`.
func PctTemplate(vmid int) []string { return []string{"pct", "template", id(vmid)} }

// ConfigQuery selects what pct config prints.
type ConfigQuery struct {
	// Current shows the current values without pending changes merged in.
	Current bool
	// Snapshot shows a snapshot's config; exclusive with Current.
	Snapshot string
}

// PctConfig builds `pct config <vmid>`.
func PctConfig(vmid int, q ConfigQuery) []string {
	var o optList
	o.on("current", q.Current)
	o.str("snapshot", q.Snapshot)
	return o.argv("pct", "config", id(vmid))
}

// PctPending builds `pct pending <vmid>`.
func PctPending(vmid int) []string { return []string{"pct", "pending", id(vmid)} }

// PctStatus builds `pct status <vmid> [--verbose 1]`.
func PctStatus(vmid int, verbose bool) []string {
	var o optList
	o.on("verbose", verbose)
	return o.argv("pct", "status", id(vmid))
}

// PctList builds `pct list`.
func PctList() []string { return []string{"pct", "list"} }

// Pveversion builds `pveversion [--verbose]`. Unlike the CLIHandler tools,
// pveversion uses plain Getopt flags, so --verbose takes no value.
func Pveversion(verbose bool) []string {
	if verbose {
		return []string{"pveversion", "--verbose"}
	}
	return []string{"pveversion"}
}
