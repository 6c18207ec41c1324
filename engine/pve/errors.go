package pve

import (
	"errors"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// ErrKind classifies a failed PVE command by its stderr text (§4, §10).
type ErrKind int

const (
	KindUnknown ErrKind = iota
	// KindAlreadyExists: the VMID is taken (on any node), including the lost
	// create race and pmxcfs refusing the write; retry with a new ID.
	KindAlreadyExists
	// KindConfigMissing: "Configuration file 'nodes/X/lxc/N.conf' does not exist".
	KindConfigMissing
	// KindNotRunning: the command needs a running CT.
	KindNotRunning
	// KindAlreadyRunning: pct start on a running CT.
	KindAlreadyRunning
	// KindRunning: the command needs a stopped CT (destroy without --force).
	KindRunning
	// KindLocked: the config's lock: field is set; see [CmdError.Lock].
	KindLocked
	// KindFlockTimeout: the node-local config flock (or the migration lock,
	// or a cfs lock) could not be taken in time.
	KindFlockTimeout
	// KindNoSuchStorage: the storage does not exist.
	KindNoSuchStorage
	// KindStorageUnavailable: the storage is disabled or not on this node.
	KindStorageUnavailable
	// KindNotRootdirCapable: the storage cannot hold container volumes.
	KindNotRootdirCapable
	// KindTemplateMissing: the OS template is not there (or is not a vztmpl
	// volume), or pveam does not know it.
	KindTemplateMissing
	// KindParamVerification: a 400 error not covered by a more specific kind;
	// see [CmdError.Params].
	KindParamVerification
	// KindProtection: protection mode forbids the operation.
	KindProtection
	// KindNoQuorum: the cluster has no quorum.
	KindNoQuorum
	// KindPermission: 403, or not run as root.
	KindPermission
	// KindUsage: bad command line (unknown command, too many arguments ...).
	KindUsage
	// KindSnapshotExists / KindSnapshotMissing: snapshot name conflicts.
	KindSnapshotExists
	KindSnapshotMissing
	// KindUnsupported: e.g. "snapshot feature is not available".
	KindUnsupported
	// KindSizeUnchanged: pct resize to the current size; usually harmless.
	KindSizeUnchanged
	// KindCannotShrink: pct resize to a smaller size.
	KindCannotShrink
	// KindStartFailed: "startup for container 'N' failed".
	KindStartFailed
	// KindShutdownTimeout: "container did not stop".
	KindShutdownTimeout
)

var kindNames = map[ErrKind]string{
	KindUnknown: "unknown", KindAlreadyExists: "already exists", KindConfigMissing: "config missing",
	KindNotRunning: "not running", KindAlreadyRunning: "already running", KindRunning: "running",
	KindLocked: "locked", KindFlockTimeout: "lock timeout", KindNoSuchStorage: "no such storage",
	KindStorageUnavailable: "storage unavailable", KindNotRootdirCapable: "storage cannot hold containers",
	KindTemplateMissing: "template missing", KindParamVerification: "parameter verification failed",
	KindProtection: "protected", KindNoQuorum: "no quorum", KindPermission: "permission denied",
	KindUsage: "usage error", KindSnapshotExists: "snapshot exists", KindSnapshotMissing: "snapshot missing",
	KindUnsupported: "unsupported", KindSizeUnchanged: "size unchanged", KindCannotShrink: "cannot shrink",
	KindStartFailed: "start failed", KindShutdownTimeout: "shutdown timeout",
}

func (k ErrKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Sentinels, one per kind, for errors.Is. A *CmdError matches the sentinel
// of its Kind, and also [ErrParamVerification] when it came from a 400.
var (
	ErrAlreadyExists      = errors.New("already exists")
	ErrConfigMissing      = errors.New("config missing")
	ErrNotRunning         = errors.New("not running")
	ErrAlreadyRunning     = errors.New("already running")
	ErrRunning            = errors.New("container is running")
	ErrLocked             = errors.New("locked")
	ErrFlockTimeout       = errors.New("lock timeout")
	ErrNoSuchStorage      = errors.New("no such storage")
	ErrStorageUnavailable = errors.New("storage unavailable")
	ErrNotRootdirCapable  = errors.New("storage cannot hold containers")
	ErrTemplateMissing    = errors.New("template missing")
	ErrProtection         = errors.New("protection mode enabled")
	ErrNoQuorum           = errors.New("no quorum")
	ErrPermission         = errors.New("permission denied")
	ErrUsage              = errors.New("usage error")
	ErrSnapshotExists     = errors.New("snapshot exists")
	ErrSnapshotMissing    = errors.New("snapshot missing")
	ErrUnsupported        = errors.New("unsupported")
	ErrSizeUnchanged      = errors.New("size unchanged")
	ErrCannotShrink       = errors.New("cannot shrink")
	ErrStartFailed        = errors.New("start failed")
	ErrShutdownTimeout    = errors.New("shutdown timeout")
	// ErrStatusUnknown is for callers that see status "unknown" (a guest
	// pvestatd has not reported yet, §8); it is transient.
	ErrStatusUnknown = errors.New("status unknown")
	// ErrTaskFailed marks a failure found in the stderr of a command that
	// exited 0 (see [LiesAboutExitCode]).
	ErrTaskFailed = errors.New("task failed")
)

var kindSentinel = map[ErrKind]error{
	KindAlreadyExists: ErrAlreadyExists, KindConfigMissing: ErrConfigMissing, KindNotRunning: ErrNotRunning,
	KindAlreadyRunning: ErrAlreadyRunning, KindRunning: ErrRunning, KindLocked: ErrLocked,
	KindFlockTimeout: ErrFlockTimeout, KindNoSuchStorage: ErrNoSuchStorage,
	KindStorageUnavailable: ErrStorageUnavailable, KindNotRootdirCapable: ErrNotRootdirCapable,
	KindTemplateMissing: ErrTemplateMissing, KindParamVerification: ErrParamVerification,
	KindProtection: ErrProtection, KindNoQuorum: ErrNoQuorum, KindPermission: ErrPermission,
	KindUsage: ErrUsage, KindSnapshotExists: ErrSnapshotExists, KindSnapshotMissing: ErrSnapshotMissing,
	KindUnsupported: ErrUnsupported, KindSizeUnchanged: ErrSizeUnchanged, KindCannotShrink: ErrCannotShrink,
	KindStartFailed: ErrStartFailed, KindShutdownTimeout: ErrShutdownTimeout,
}

// CmdError is a PVE command failure classified from its stderr. Branch on
// Kind and the fields (or errors.Is with the sentinels), never on Message.
type CmdError struct {
	Kind ErrKind
	// Message is the line that decided the kind (Perl's " at FILE line N."
	// suffix removed), or the last stderr line for KindUnknown.
	Message string
	// Params holds param → message for "400 Parameter verification failed."
	Params map[string]string
	// Lock is the config lock for KindLocked ("backup", "snapshot", ...).
	Lock string
	// VMID, Node, Storage, Snapshot are filled when the message names them.
	VMID     int
	Node     string
	Storage  string
	Snapshot string
	// TaskFailed is set when the failure was found in the output of a
	// command that exited 0 (see [LiesAboutExitCode]).
	TaskFailed bool
	// Stderr is the full stderr, kept for diagnostics.
	Stderr string
}

func (e *CmdError) Error() string {
	msg := e.Message
	if len(e.Params) > 0 {
		var parts []string
		for _, k := range sortedKeys(e.Params) {
			parts = append(parts, k+": "+e.Params[k])
		}
		msg = strings.Join(parts, "; ")
	}
	if msg == "" {
		msg = "no error message"
	}
	return e.Kind.String() + ": " + msg
}

// Is matches the sentinel of e.Kind, ErrParamVerification for 400 errors
// and ErrTaskFailed for failures hidden behind exit code 0.
func (e *CmdError) Is(target error) bool {
	if s, ok := kindSentinel[e.Kind]; ok && s == target {
		return true
	}
	if target == ErrParamVerification && e.Params != nil {
		return true
	}
	return target == ErrTaskFailed && e.TaskFailed
}

func sortedKeys(m map[string]string) []string {
	s := NewSection()
	s.Options = m
	return s.Keys()
}

var (
	rePerlAt       = regexp.MustCompile(` at \S+\.p[ml] line \d+\.?$`)
	reLocked       = regexp.MustCompile(`CT is locked \(([^)]*)\)`)
	reFlock        = regexp.MustCompile(`can't lock file '([^']*)' - got timeout`)
	reFlockVMID    = regexp.MustCompile(`pve-config-(\d+)\.lock`)
	reExistsOnNode = regexp.MustCompile(`(?:CT|VM) (\d+) already exists on node '([^']*)'`)
	reAtomicExists = regexp.MustCompile(`close \(rename\) atomic file '[^']*/(\d+)\.conf' failed: File exists`)
	reConfMissing  = regexp.MustCompile(`Configuration file 'nodes/([^/']+)/(?:lxc|qemu-server)/(\d+)\.conf' does not exist`)
	reNotRunning   = regexp.MustCompile(`^(?:CT|VM) (\d+) not running|^container '(\d+)' not running!|can only push files to a running CT|can only pull files from a running VM`)
	reAlreadyRun   = regexp.MustCompile(`^CT (\d+) already running`)
	reDestroyRun   = regexp.MustCompile(`unable to destroy CT (\d+) - container is running`)
	reNoStorage    = regexp.MustCompile(`storage '([^']*)' does not exist`)
	reStorageUnav  = regexp.MustCompile(`storage '([^']*)' (?:is disabled|is not available on node '([^']*)')`)
	reNoRootdir    = regexp.MustCompile(`storage '([^']*)' (?:does not support container directories|does not allow content type 'rootdir')`)
	reTmplMissing  = regexp.MustCompile(`can't find file '([^']*)'|content type needs to be 'vztmpl'|unable to parse directory volume name`)
	reProtection   = regexp.MustCompile(`protection mode enabled`)
	reNoQuorum     = regexp.MustCompile(`no quorum`)
	rePermission   = regexp.MustCompile(`^403 |please run as root`)
	reUsage        = regexp.MustCompile(`^400 (?:not enough arguments|too many arguments|unable to parse (?:boolean )?option)|^ERROR: unknown command|^Unknown option:`)
	reSnapExists   = regexp.MustCompile(`snapshot name '([^']*)' already used`)
	reSnapMissing  = regexp.MustCompile(`snapshot '([^']*)' does not exist`)
	reUnsupported  = regexp.MustCompile(`snapshot feature is not available|live migration is currently not implemented|Storage does not support templates!|does not support templates`)
	reMigLock      = regexp.MustCompile(`Failed to obtain guest migration lock|error with cfs lock '[^']*': got lock (?:request )?timeout`)
	reStartFailed  = regexp.MustCompile(`startup for container '(\d+)' failed`)
	reVMIDInMsg    = regexp.MustCompile(`(?:CT|VM) (\d+)\b`)
)

// Classify turns a failed command's stderr into a *CmdError. It never
// returns nil; unrecognised text gives KindUnknown with the last line.
func Classify(stderr string) *CmdError {
	e := &CmdError{Stderr: stderr}
	ls := lines([]byte(stderr))
	if i := indexLine(ls, "400 Parameter verification failed."); i >= 0 {
		classifyParams(e, ls[i+1:])
		return e
	}
	// Scan from the last line up: a task's own error comes last, after any
	// warnings and sub-command noise.
	for j := len(ls) - 1; j >= 0; j-- {
		l := strings.TrimSpace(rePerlAt.ReplaceAllString(ls[j], ""))
		if l == "" {
			continue
		}
		if classifyLine(e, l) {
			e.Message = l
			return e
		}
	}
	for j := len(ls) - 1; j >= 0; j-- {
		if l := strings.TrimSpace(rePerlAt.ReplaceAllString(ls[j], "")); l != "" {
			e.Message = l
			break
		}
	}
	return e
}

func indexLine(ls []string, want string) int {
	for i, l := range ls {
		if strings.TrimSpace(l) == want {
			return i
		}
	}
	return -1
}

func classifyParams(e *CmdError, rest []string) {
	e.Kind = KindParamVerification
	e.Params = map[string]string{}
	e.Message = "400 Parameter verification failed."
	for _, l := range rest {
		k, v, ok := strings.Cut(l, ": ")
		if !ok || k == "" || strings.ContainsAny(k, " \t<[") {
			continue // blank lines and the usage line
		}
		e.Params[k] = v
	}
	// Some parameter errors have a more useful kind; Params stays filled.
	for _, k := range sortedKeys(e.Params) {
		v := e.Params[k]
		switch {
		case k == "storage" && strings.Contains(v, "does not support container directories"):
			e.Kind, e.Storage = KindNotRootdirCapable, firstSub(reNoRootdir, v, 1)
		case k == "storage" && strings.Contains(v, "No such storage"):
			e.Kind = KindNoSuchStorage
		case k == "template" && strings.Contains(v, "no such template"):
			e.Kind = KindTemplateMissing
		case k == "vmid" && strings.Contains(v, "already exists"):
			e.Kind = KindAlreadyExists
			if m := reVMIDInMsg.FindStringSubmatch(v); m != nil {
				e.VMID, _ = strconv.Atoi(m[1])
			}
		default:
			continue
		}
		e.Message = k + ": " + v
		return
	}
}

func firstSub(re *regexp.Regexp, s string, i int) string {
	if m := re.FindStringSubmatch(s); m != nil && i < len(m) {
		return m[i]
	}
	return ""
}

func atoiSub(m []string, i int) int {
	if i < len(m) {
		n, _ := strconv.Atoi(m[i])
		return n
	}
	return 0
}

// classifyLine sets e.Kind from one line; order matters: wrapped messages
// ("unable to create CT 100 - can't lock file ...") must hit the inner cause.
func classifyLine(e *CmdError, l string) bool {
	if m := reFlock.FindStringSubmatch(l); m != nil {
		e.Kind = KindFlockTimeout
		e.VMID = atoiSub(reFlockVMID.FindStringSubmatch(m[1]), 1)
		return true
	}
	if reMigLock.MatchString(l) {
		e.Kind = KindFlockTimeout
		return true
	}
	if m := reLocked.FindStringSubmatch(l); m != nil {
		e.Kind, e.Lock = KindLocked, m[1]
		return true
	}
	if m := reExistsOnNode.FindStringSubmatch(l); m != nil {
		e.Kind, e.VMID, e.Node = KindAlreadyExists, atoiSub(m, 1), m[2]
		return true
	}
	if m := reAtomicExists.FindStringSubmatch(l); m != nil {
		e.Kind, e.VMID = KindAlreadyExists, atoiSub(m, 1)
		return true
	}
	if m := reConfMissing.FindStringSubmatch(l); m != nil {
		e.Kind, e.Node, e.VMID = KindConfigMissing, m[1], atoiSub(m, 2)
		return true
	}
	if m := reDestroyRun.FindStringSubmatch(l); m != nil {
		e.Kind, e.VMID = KindRunning, atoiSub(m, 1)
		return true
	}
	if m := reNotRunning.FindStringSubmatch(l); m != nil {
		e.Kind = KindNotRunning
		if e.VMID = atoiSub(m, 1); e.VMID == 0 {
			e.VMID = atoiSub(m, 2)
		}
		return true
	}
	if m := reAlreadyRun.FindStringSubmatch(l); m != nil {
		e.Kind, e.VMID = KindAlreadyRunning, atoiSub(m, 1)
		return true
	}
	if m := reNoRootdir.FindStringSubmatch(l); m != nil {
		e.Kind, e.Storage = KindNotRootdirCapable, m[1]
		return true
	}
	if m := reNoStorage.FindStringSubmatch(l); m != nil {
		e.Kind, e.Storage = KindNoSuchStorage, m[1]
		return true
	}
	if m := reStorageUnav.FindStringSubmatch(l); m != nil {
		e.Kind, e.Storage, e.Node = KindStorageUnavailable, m[1], m[2]
		return true
	}
	if reTmplMissing.MatchString(l) {
		e.Kind = KindTemplateMissing
		return true
	}
	if reProtection.MatchString(l) {
		e.Kind = KindProtection
		return true
	}
	if reNoQuorum.MatchString(l) {
		e.Kind = KindNoQuorum
		return true
	}
	if rePermission.MatchString(l) {
		e.Kind = KindPermission
		return true
	}
	if reUsage.MatchString(l) {
		e.Kind = KindUsage
		return true
	}
	if m := reSnapExists.FindStringSubmatch(l); m != nil {
		e.Kind, e.Snapshot = KindSnapshotExists, m[1]
		return true
	}
	if m := reSnapMissing.FindStringSubmatch(l); m != nil {
		e.Kind, e.Snapshot = KindSnapshotMissing, m[1]
		return true
	}
	if reUnsupported.MatchString(l) {
		e.Kind = KindUnsupported
		return true
	}
	if strings.Contains(l, "disk is already at specified size") {
		e.Kind = KindSizeUnchanged
		return true
	}
	if strings.Contains(l, "unable to shrink disk size") {
		e.Kind = KindCannotShrink
		return true
	}
	if m := reStartFailed.FindStringSubmatch(l); m != nil {
		e.Kind, e.VMID = KindStartFailed, atoiSub(m, 1)
		return true
	}
	if strings.Contains(l, "container did not stop") {
		e.Kind = KindShutdownTimeout
		return true
	}
	return false
}

// transientLocks are config locks that go away on their own: another
// operation (often vzdump) holds the CT. "create" is not among them (a lost
// create race needs a new VMID), nor "mounted" or "destroyed", which need
// a person.
var transientLocks = map[string]bool{
	"backup": true, "snapshot": true, "snapshot-delete": true, "migrate": true,
	"rollback": true, "disk": true, "fstrim": true, "clone": true,
}

// IsTransient reports whether retrying the same command later may succeed:
// a transient config lock, a lock timeout, lost quorum, or a status
// pvestatd has not reported yet.
func IsTransient(err error) bool {
	if errors.Is(err, ErrStatusUnknown) {
		return true
	}
	var ce *CmdError
	if !errors.As(err, &ce) {
		return false
	}
	switch ce.Kind {
	case KindFlockTimeout, KindNoQuorum:
		return true
	case KindLocked:
		return transientLocks[ce.Lock]
	}
	return false
}

// LiesAboutExitCode reports whether argv is a command that exits 0 even when
// its task failed (§1.3): pct push, pull, resize, template; pveam download
// and update. Their stderr must be checked with [HiddenFailure].
func LiesAboutExitCode(argv []string) bool {
	if len(argv) < 2 {
		return false
	}
	switch path.Base(argv[0]) {
	case "pct":
		switch argv[1] {
		case "push", "pull", "resize", "template":
			return true
		}
	case "pveam":
		switch argv[1] {
		case "download", "update":
			return true
		}
	}
	return false
}

// benignStderr matches stderr lines a successful task may still print.
// "vm N - ..." lines are config-parser warnings (§5), printed by any pct
// command that reads a config with a bad line.
var benignStderr = regexp.MustCompile(`^(?:Task finished with \d+ warning\(s\)!|trying to acquire lock\.\.\.|\s*OK|WARN: .*|warning: .*|vm \d+ - .*)$`)

// HiddenFailure looks for a task failure in the output of a command that
// exited 0 anyway (see [LiesAboutExitCode]) and returns its message.
func HiddenFailure(argv []string, stdout, stderr []byte) (string, bool) {
	if len(argv) >= 2 && path.Base(argv[0]) == "pveam" && argv[1] == "update" {
		if PveamUpdateFailed(stdout, stderr) {
			msg := strings.TrimSpace(string(stderr))
			if msg == "" {
				msg = "update failed"
			}
			return msg, true
		}
		return "", false
	}
	var bad []string
	for _, l := range lines(stderr) {
		t := strings.TrimSpace(l)
		if t == "" || benignStderr.MatchString(t) {
			continue
		}
		bad = append(bad, t)
	}
	if len(bad) == 0 {
		return "", false
	}
	return strings.Join(bad, "\n"), true
}

// CheckResult turns a finished command into an error: nil on success, else
// a *CmdError classified from stderr. For commands that lie about their exit
// code a zero exit is checked with [HiddenFailure] too.
//
// pct exec is not special-cased: its exit code is the inner command's
// (§2.5), so a non-zero code there may be the program's own answer, and
// callers of exec should look at the code before calling CheckResult.
func CheckResult(argv []string, exitCode int, stdout, stderr []byte) error {
	if exitCode == 0 {
		if !LiesAboutExitCode(argv) {
			return nil
		}
		msg, failed := HiddenFailure(argv, stdout, stderr)
		if !failed {
			return nil
		}
		e := Classify(msg)
		e.TaskFailed = true
		e.Stderr = string(stderr)
		return e
	}
	return Classify(string(stderr))
}
