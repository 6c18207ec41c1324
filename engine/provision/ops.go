package provision

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// Op is one operation of a step: a command run on the container's host
// (almost always `pct exec VMID -- ...`), or a file copied into the
// container.
type Op struct {
	// Argv is the host command. Unset when Push is set.
	Argv []string
	// Stdin, when non-nil, is sent to the command's standard input. Scripts
	// and file contents travel here, never in argv, so a secret in them is
	// not visible in the host's process list.
	Stdin []byte
	// Push copies a file into the container through the [Pusher].
	Push *PushSpec
	// Retry marks package-manager commands whose failure may be transient
	// (a dpkg lock held by unattended-upgrades, a mirror hiccup).
	Retry bool
	// Timeout bounds the command; 0 leaves only the caller's context.
	Timeout time.Duration
}

// PushSpec is a file to write inside a container.
type PushSpec struct {
	VMID    int
	Dest    string
	Content []byte
	Mode    os.FileMode
	// User and Group are names or ids resolved inside the container; empty
	// keeps root.
	User, Group string
	// Secret: the content used a secret.
	Secret bool
}

// family is the package/service flavour of a container's OS.
type family int

const (
	famDebian family = iota // apt + systemd
	famAlpine               // apk + OpenRC
)

func osFamily(osName string) (family, error) {
	switch strings.ToLower(osName) {
	case "", "debian", "ubuntu", "devuan", "kali":
		return famDebian, nil
	case "alpine":
		return famAlpine, nil
	}
	return 0, fmt.Errorf("recipe steps support Debian-family and Alpine containers, not %q", osName)
}

// state is what one provisioning run remembers between steps.
type state struct {
	// aptFresh: apt-get update ran in this run and no repository was added
	// since, so package installs need no new update.
	aptFresh bool
}

// stepEnv is what translating a step needs.
type stepEnv struct {
	vmid  int
	fam   family
	vals  *Values
	files fs.FS // the recipe's folder, for file: {source}
	st    *state
}

// oneLine joins shell statements with "; ", so lxcplan's constant scripts
// stay one line in traces, dry-run output and command logs.
func oneLine(stmts ...string) string { return strings.Join(stmts, "; ") }

// Argument checks. Values reach commands as separate argv words, so these
// are not about quoting: they keep a word from being read as an option
// ("-rf") or a value from breaking out of a line in a generated file.
var (
	pkgRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9+.:=~_-]*$`)
	userRe    = regexp.MustCompile(`^[a-z_][a-z0-9_-]*\$?$`)
	ownerRe   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$`)
	svcRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9@._:-]*$`)
	repoRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	envKeyRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	urlRe     = regexp.MustCompile(`^https?://[^\s]+$`)
	sha256Re  = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	modeRe    = regexp.MustCompile(`^0?[0-7]{3}$|^[0-7]{4}$`)
	singleRe  = regexp.MustCompile(`^[^\s]+$`)
	paramEnvR = regexp.MustCompile(`[^A-Za-z0-9_]`)
)

func checkAbs(what, p string) error {
	if !path.IsAbs(p) || strings.ContainsAny(p, "\n\x00") {
		return fmt.Errorf("%s %q must be an absolute path inside the container", what, p)
	}
	return nil
}

func parseMode(s string, def os.FileMode) (os.FileMode, error) {
	if s == "" {
		return def, nil
	}
	if !modeRe.MatchString(s) {
		return 0, fmt.Errorf("mode %q must be octal like \"0644\"", s)
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("mode %q: %w", s, err)
	}
	if n > 0o777 {
		// pct push and the SSH upload carry permission bits only.
		return 0, fmt.Errorf("mode %q: setuid, setgid and sticky bits are not supported; use a run step with chmod", s)
	}
	return os.FileMode(n), nil
}

func checkOwner(what, s string) error {
	if s != "" && !ownerRe.MatchString(s) {
		return fmt.Errorf("%s %q is not a user or group name", what, s)
	}
	return nil
}

// exec wraps an inner argv in `pct exec VMID -- ...`. --keep-env stays at
// PVE's default: with a cleared environment lxc-attach may leave PATH
// unset, and dpkg then fails to find ldconfig. Variables that matter are
// set explicitly (env DEBIAN_FRONTEND=..., the run script's exports).
func (e *stepEnv) exec(argv ...string) []string {
	return pve.PctExec(e.vmid, pve.Unset, argv...)
}

// script runs a constant script (never built from values) with values as
// positional parameters: sh -c SCRIPT NAME ARG...
func (e *stepEnv) script(name, script string, args ...string) []string {
	return e.exec(append([]string{"sh", "-c", script, name}, args...)...)
}

// aptEnv is prepended to every apt-get call: no debconf prompts, keep local
// config files on upgrades (recipes write their own files), and wait for a
// dpkg lock held by unattended-upgrades before failing.
func (e *stepEnv) apt(args ...string) []string {
	argv := []string{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "-y",
		"-o", "DPkg::Lock::Timeout=120",
		"-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"}
	return e.exec(append(argv, args...)...)
}

func (e *stepEnv) aptUpdate() []Op {
	if e.st.aptFresh {
		return nil
	}
	e.st.aptFresh = true
	return []Op{{Argv: e.apt("update"), Retry: true}}
}

func checkPackages(pkgs []string) error {
	for _, p := range pkgs {
		if !pkgRe.MatchString(p) {
			return fmt.Errorf("invalid package name %q", p)
		}
	}
	return nil
}

// ops translates one step into operations.
func (e *stepEnv) ops(s model.Step) ([]Op, error) {
	switch s.Kind {
	case model.StepApt:
		return e.aptOps(s.Packages)
	case model.StepAptUpgrade:
		return e.upgradeOps(s.Packages)
	case model.StepAptRepo:
		return e.repoOps(s.AptRepo)
	case model.StepFile:
		return e.fileOps(s.File)
	case model.StepUser:
		return e.userOps(s.User)
	case model.StepDownload:
		return e.downloadOps(s.Download)
	case model.StepRun:
		return e.runOps(s.Run)
	case model.StepService:
		return e.serviceOps(s.Service)
	}
	return nil, fmt.Errorf("unknown step kind %q", s.Kind)
}

func (e *stepEnv) aptOps(pkgs []string) ([]Op, error) {
	if len(pkgs) == 0 {
		return nil, nil
	}
	if err := checkPackages(pkgs); err != nil {
		return nil, err
	}
	if e.fam == famAlpine {
		return []Op{{Argv: e.exec(append([]string{"apk", "add", "--no-cache"}, pkgs...)...), Retry: true}}, nil
	}
	ops := e.aptUpdate()
	return append(ops, Op{Argv: e.apt(append([]string{"--no-install-recommends", "install"}, pkgs...)...), Retry: true}), nil
}

func (e *stepEnv) upgradeOps(pkgs []string) ([]Op, error) {
	if err := checkPackages(pkgs); err != nil {
		return nil, err
	}
	if e.fam == famAlpine {
		return []Op{{Argv: e.exec(append([]string{"apk", "upgrade", "--no-cache"}, pkgs...)...), Retry: true}}, nil
	}
	// A newer package needs a fresh index, even when install steps ran an
	// update earlier in a long-lived process.
	e.st.aptFresh = false
	ops := e.aptUpdate()
	if len(pkgs) == 0 {
		return append(ops, Op{Argv: e.apt("dist-upgrade"), Retry: true}), nil
	}
	return append(ops, Op{Argv: e.apt(append([]string{"--only-upgrade", "install"}, pkgs...)...), Retry: true}), nil
}

// repoScript fetches the repository key (when $2 is set), keeps it ASCII
// armoured (.asc) or binary (.gpg) as served — apt reads both by extension,
// so no gpg is needed in the container — and writes the deb822 source from
// stdin with the Signed-By line for that key.
var repoScript = oneLine(
	`set -eu`,
	`name=$1 url=$2`,
	`src=/etc/apt/sources.list.d/$name.sources`,
	`tmp=$(mktemp)`,
	`trap 'rm -f "$tmp" "$tmp.key"' EXIT`,
	`cat >"$tmp"`,
	`if [ -n "$url" ]; then install -d -m 0755 /etc/apt/keyrings`+
		`; if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 -o "$tmp.key" "$url"; else wget -q -O "$tmp.key" "$url"; fi`+
		`; if grep -q 'BEGIN PGP PUBLIC KEY BLOCK' "$tmp.key"; then ext=asc; else ext=gpg; fi`+
		`; rm -f "/etc/apt/keyrings/$name.asc" "/etc/apt/keyrings/$name.gpg"`+
		`; install -m 0644 "$tmp.key" "/etc/apt/keyrings/$name.$ext"`+
		`; echo "Signed-By: /etc/apt/keyrings/$name.$ext" >>"$tmp"; fi`,
	`install -m 0644 "$tmp" "$src"`,
)

// expander returns a function expanding a value of the step with e's values,
// so that several fields can be expanded in a row and *err checked once: after
// the first error it sets *err and expands nothing more.
func (e *stepEnv) expander(err *error) func(string) string {
	return func(s string) string {
		if *err != nil {
			return ""
		}
		out, _, xerr := e.vals.Expand(s)
		*err = xerr
		return out
	}
}

func (e *stepEnv) repoOps(r *model.AptRepoStep) ([]Op, error) {
	if r == nil {
		return nil, fmt.Errorf("apt_repo step without settings")
	}
	if e.fam == famAlpine {
		return nil, fmt.Errorf("apt_repo is not supported on alpine containers")
	}
	var err error
	x := e.expander(&err)
	name, uri, suite, keyURL, arch := x(r.Name), x(r.URI), x(r.Suite), x(r.KeyURL), x(r.Arch)
	comps := make([]string, len(r.Components))
	for i, c := range r.Components {
		comps[i] = x(c)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case !repoRe.MatchString(name):
		return nil, fmt.Errorf("apt_repo name %q must match [a-z0-9][a-z0-9._-]*", name)
	case !urlRe.MatchString(uri):
		return nil, fmt.Errorf("apt_repo uri %q must be an http(s) URL", uri)
	case keyURL != "" && !urlRe.MatchString(keyURL):
		return nil, fmt.Errorf("apt_repo key_url %q must be an http(s) URL", keyURL)
	case !singleRe.MatchString(suite):
		return nil, fmt.Errorf("apt_repo suite %q must be one word", suite)
	case arch != "" && !singleRe.MatchString(arch):
		return nil, fmt.Errorf("apt_repo arch %q must be one word", arch)
	}
	for _, c := range comps {
		if !singleRe.MatchString(c) {
			return nil, fmt.Errorf("apt_repo component %q must be one word", c)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by lxcplan (apt_repo %s).\nTypes: deb\nURIs: %s\nSuites: %s\n", name, uri, suite)
	if len(comps) > 0 {
		fmt.Fprintf(&b, "Components: %s\n", strings.Join(comps, " "))
	}
	if arch != "" {
		fmt.Fprintf(&b, "Architectures: %s\n", arch)
	}
	// The next install must see the new repository.
	e.st.aptFresh = false
	return []Op{{Argv: e.script("lxcplan-apt-repo", repoScript, name, keyURL), Stdin: []byte(b.String()), Retry: true}}, nil
}

func (e *stepEnv) fileOps(f *model.FileStep) ([]Op, error) {
	if f == nil {
		return nil, fmt.Errorf("file step without settings")
	}
	dest, _, err := e.vals.Expand(f.Path)
	if err != nil {
		return nil, err
	}
	if err := checkAbs("file path", dest); err != nil {
		return nil, err
	}
	var content []byte
	secret := false
	if f.Source != "" {
		// Shipped files are copied byte for byte: they are configs and
		// scripts in their own syntax ($uri, $$), not templates. Templated
		// text belongs in `content`.
		if e.files == nil {
			return nil, fmt.Errorf("file %s: recipe files are not available", f.Source)
		}
		src := path.Clean(f.Source)
		if !fs.ValidPath(src) {
			return nil, fmt.Errorf("file source %q escapes the recipe folder", f.Source)
		}
		content, err = fs.ReadFile(e.files, src)
		if err != nil {
			return nil, fmt.Errorf("read recipe file %s: %w", f.Source, err)
		}
	} else {
		var s string
		s, secret, err = e.vals.Expand(f.Content)
		if err != nil {
			return nil, err
		}
		content = []byte(s)
	}
	// A file holding a secret is private unless the recipe says otherwise.
	def := os.FileMode(0o644)
	if secret {
		def = 0o600
	}
	mode, err := parseMode(f.Mode, def)
	if err != nil {
		return nil, err
	}
	owner, _, err := e.vals.Expand(f.Owner)
	if err != nil {
		return nil, err
	}
	group, _, err := e.vals.Expand(f.Group)
	if err != nil {
		return nil, err
	}
	if err := checkOwner("owner", owner); err != nil {
		return nil, err
	}
	if err := checkOwner("group", group); err != nil {
		return nil, err
	}
	return []Op{{Push: &PushSpec{VMID: e.vmid, Dest: dest, Content: content, Mode: mode, User: owner, Group: group, Secret: secret}}}, nil
}

// userScript creates a user unless it exists: $1 is the name, the rest is
// the useradd/adduser argv. When it exists, only missing supplementary
// groups are added ($GROUPS_CSV in $2 for usermod; empty = nothing).
var userScript = oneLine(
	`set -eu`,
	`name=$1 groups=$2`,
	`shift 2`,
	`if id -u "$name" >/dev/null 2>&1; then if [ -n "$groups" ]; then usermod -a -G "$groups" "$name"; fi; exit 0; fi`,
	`exec "$@"`,
)

// alpineUserScript runs the adduser argv after $1 unless user $1 exists.
var alpineUserScript = oneLine(
	`set -eu`,
	`if id -u "$1" >/dev/null 2>&1; then exit 0; fi`,
	`shift`,
	`exec "$@"`,
)

// alpineGroupScript adds user $1 to group $2 unless it is a member already
// (BusyBox addgroup fails on a repeat).
var alpineGroupScript = oneLine(
	`set -eu`,
	`if id -nG "$1" | tr ' ' '\n' | grep -qx "$2"; then exit 0; fi`,
	`exec addgroup "$1" "$2"`,
)

func (e *stepEnv) userOps(u *model.UserStep) ([]Op, error) {
	if u == nil {
		return nil, fmt.Errorf("user step without settings")
	}
	var err error
	x := e.expander(&err)
	name, home, shell := x(u.Name), x(u.Home), x(u.Shell)
	groups := make([]string, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = x(g)
	}
	if err != nil {
		return nil, err
	}
	if !userRe.MatchString(name) || len(name) > 32 {
		return nil, fmt.Errorf("invalid user name %q", name)
	}
	for _, g := range groups {
		if !userRe.MatchString(g) {
			return nil, fmt.Errorf("invalid group name %q", g)
		}
	}
	if home != "" {
		if err := checkAbs("home", home); err != nil {
			return nil, err
		}
	}
	if shell != "" {
		if err := checkAbs("shell", shell); err != nil {
			return nil, err
		}
	}
	if e.fam == famAlpine {
		// BusyBox adduser: -D no password, -S system; groups added one by one.
		argv := []string{"adduser", "-D"}
		if u.System {
			argv = append(argv, "-S")
		}
		if home != "" {
			argv = append(argv, "-h", home)
		}
		if shell != "" {
			argv = append(argv, "-s", shell)
		}
		argv = append(argv, name)
		ops := []Op{{Argv: e.script("lxcplan-user", alpineUserScript, append([]string{name}, argv...)...)}}
		for _, g := range groups {
			ops = append(ops, Op{Argv: e.script("lxcplan-group", alpineGroupScript, name, g)})
		}
		return ops, nil
	}
	argv := []string{"useradd"}
	if u.System {
		argv = append(argv, "--system", "--user-group")
	} else {
		argv = append(argv, "--user-group", "--create-home")
	}
	if home != "" {
		argv = append(argv, "--home-dir", home)
		if u.System {
			argv = append(argv, "--create-home")
		}
	}
	if shell != "" {
		argv = append(argv, "--shell", shell)
	}
	csv := strings.Join(groups, ",")
	if csv != "" {
		argv = append(argv, "--groups", csv)
	}
	argv = append(argv, "--", name)
	return []Op{{Argv: e.script("lxcplan-user", userScript, append([]string{name, csv}, argv...)...)}}, nil
}

// downloadScript fetches $1, checks it against sha256 $2 and installs it at
// $3 (a file), or extracts it into $3 (a directory) when $4 is 1; $5 is the
// mode and $6 the owner (both optional). An existing file with the right
// checksum is left alone, so a reprovision does not fetch it again.
var downloadScript = oneLine(
	`set -eu`,
	`url=$1 sum=$2 dest=$3 extract=$4 mode=$5 owner=$6`,
	`if [ "$extract" != 1 ] && [ -f "$dest" ] && echo "$sum  $dest" | sha256sum -c --status - 2>/dev/null; then exit 0; fi`,
	`tmp=$(mktemp -d)`,
	`trap 'rm -rf "$tmp"' EXIT`,
	`trap 'exit 129' HUP INT TERM`,
	`if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 -o "$tmp/download" "$url"; else wget -q -O "$tmp/download" "$url"; fi`,
	`echo "$sum  $tmp/download" | sha256sum -c --quiet -`,
	`if [ "$extract" = 1 ]; then mkdir -p "$dest"; tar -xf "$tmp/download" -C "$dest"`+
		`; if [ -n "$owner" ]; then chown -R "$owner" "$dest"; fi`+
		`; if [ -n "$mode" ]; then chmod "$mode" "$dest"; fi`+
		`; else mkdir -p "$(dirname "$dest")"; install -m "${mode:-0644}" "$tmp/download" "$dest"`+
		`; if [ -n "$owner" ]; then chown "$owner" "$dest"; fi; fi`,
)

func (e *stepEnv) downloadOps(d *model.DownloadStep) ([]Op, error) {
	if d == nil {
		return nil, fmt.Errorf("download step without settings")
	}
	var err error
	x := e.expander(&err)
	url, sum, dest, owner := x(d.URL), strings.ToLower(x(d.SHA256)), x(d.Dest), x(d.Owner)
	if err != nil {
		return nil, err
	}
	if !urlRe.MatchString(url) {
		return nil, fmt.Errorf("download url %q must be an http(s) URL", url)
	}
	if !sha256Re.MatchString(sum) {
		return nil, fmt.Errorf("download sha256 %q must be 64 hex digits", d.SHA256)
	}
	if err := checkAbs("download dest", dest); err != nil {
		return nil, err
	}
	if err := checkOwner("owner", owner); err != nil {
		return nil, err
	}
	mode := ""
	if d.Mode != "" {
		m, err := parseMode(d.Mode, 0)
		if err != nil {
			return nil, err
		}
		mode = fmt.Sprintf("%04o", m.Perm())
	}
	extract := "0"
	if d.Extract {
		extract = "1"
	}
	return []Op{{Argv: e.script("lxcplan-download", downloadScript, url, sum, dest, extract, mode, owner), Retry: true}}, nil
}

// runWrapper runs the script it reads on stdin: $1 user (empty: root), $2
// timeout in seconds (0: none), $3 a path whose existence means "already
// done" (empty: always run). The script goes to a private temp file first
// and runs with stdin from /dev/null, so commands in it that read stdin
// cannot swallow the rest of it.
var runWrapper = oneLine(
	`set -eu`,
	`user=$1 limit=$2 creates=$3`,
	`if [ -n "$creates" ] && [ -e "$creates" ]; then echo "lxcplan: $creates exists, skipped"; exit 0; fi`,
	`f=$(mktemp)`,
	`trap 'rm -f "$f"' EXIT`,
	// A signal must still run the EXIT trap: the temp file may hold secrets.
	`trap 'exit 129' HUP INT TERM`,
	`cat >"$f"`,
	`set -- sh "$f"`,
	`if [ -n "$user" ]; then chown "$user" "$f"; set -- runuser -u "$user" -- "$@"; fi`,
	`if [ "$limit" != 0 ]; then set -- timeout -k 10 "$limit" "$@"; fi`,
	`"$@" </dev/null`,
)

// runGrace is how much longer than a run step's own timeout lxcplan waits
// for the command to come back (the inner timeout's kill delay plus slack).
// A variable so tests need not wait for it.
var runGrace = 30 * time.Second

// paramEnvName is the environment variable a param is exported as.
func paramEnvName(name string) string {
	return "LXCPLAN_PARAM_" + strings.ToUpper(paramEnvR.ReplaceAllString(name, "_"))
}

func (e *stepEnv) runOps(r *model.RunStep) ([]Op, error) {
	if r == nil {
		return nil, fmt.Errorf("run step without settings")
	}
	if r.User != "" && e.fam == famAlpine {
		return nil, fmt.Errorf("run as another user is not supported on alpine containers (no runuser)")
	}
	script, _, err := e.vals.Expand(r.Script)
	if err != nil {
		return nil, err
	}
	var env []string
	for _, k := range sortedKeys(r.Env) {
		if !envKeyRe.MatchString(k) {
			return nil, fmt.Errorf("invalid environment variable name %q", k)
		}
		v, _, err := e.vals.Expand(r.Env[k])
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", k, err)
		}
		env = append(env, k+"="+v)
	}
	cwd, user, creates := "", "", ""
	for _, p := range []struct {
		dst *string
		src string
	}{{&cwd, r.Cwd}, {&user, r.User}, {&creates, r.Creates}} {
		if *p.dst, _, err = e.vals.Expand(p.src); err != nil {
			return nil, err
		}
	}
	if cwd != "" {
		if err := checkAbs("cwd", cwd); err != nil {
			return nil, err
		}
	}
	if creates != "" {
		if err := checkAbs("creates", creates); err != nil {
			return nil, err
		}
	}
	if user != "" && !userRe.MatchString(user) {
		return nil, fmt.Errorf("invalid user name %q", user)
	}
	body := e.scriptBody(script, env, cwd)
	limit := "0"
	var timeout time.Duration
	if r.Timeout > 0 {
		secs := int((r.Timeout + time.Second - 1) / time.Second)
		limit = strconv.Itoa(secs)
		timeout = r.Timeout + runGrace
	}
	return []Op{{Argv: e.script("lxcplan-run", runWrapper, user, limit, creates), Stdin: body, Timeout: timeout}}, nil
}

// scriptBody prefixes a recipe script with the exports and directory it
// runs with. Values are quoted with transport.QuoteArg, the project's one
// shell-quoting function.
func (e *stepEnv) scriptBody(script string, env []string, cwd string) []byte {
	var b strings.Builder
	b.WriteString("# lxcplan: environment\n")
	self := e.vals.Self()
	vars := []string{
		"LXCPLAN_CONTAINER_IP=" + self.IP,
		"LXCPLAN_CONTAINER_HOSTNAME=" + self.Hostname,
		"LXCPLAN_CONTAINER_VMID=" + strconv.Itoa(self.VMID),
	}
	for _, n := range e.vals.ParamNames() {
		p, _ := e.vals.Param(n)
		vars = append(vars, paramEnvName(n)+"="+p.Value)
	}
	vars = append(vars, env...)
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, transport.QuoteArg(v))
	}
	if cwd != "" {
		fmt.Fprintf(&b, "cd %s\n", transport.QuoteArg(cwd))
	}
	b.WriteString("# lxcplan: recipe script\n")
	b.WriteString(script)
	if !strings.HasSuffix(script, "\n") {
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

var svcStates = map[string]string{
	"started": "start", "stopped": "stop", "restarted": "restart", "reloaded": "reload",
	"start": "start", "stop": "stop", "restart": "restart", "reload": "reload", "running": "start",
}

func (e *stepEnv) serviceOps(s *model.ServiceStep) ([]Op, error) {
	if s == nil {
		return nil, fmt.Errorf("service step without settings")
	}
	name, _, err := e.vals.Expand(s.Name)
	if err != nil {
		return nil, err
	}
	if !svcRe.MatchString(name) {
		return nil, fmt.Errorf("invalid service name %q", name)
	}
	verb := ""
	if s.State != "" {
		v, ok := svcStates[s.State]
		if !ok {
			return nil, fmt.Errorf("service state %q: use started, stopped, restarted or reloaded", s.State)
		}
		verb = v
	}
	var ops []Op
	if e.fam == famAlpine {
		if s.Unit != nil {
			return nil, fmt.Errorf("service unit text is systemd syntax; alpine containers use OpenRC")
		}
		if s.Enable != nil {
			if *s.Enable {
				ops = append(ops, Op{Argv: e.exec("rc-update", "add", name, "default")})
			} else {
				ops = append(ops, Op{Argv: e.exec("rc-update", "del", name, "default")})
			}
		}
		if verb != "" {
			ops = append(ops, Op{Argv: e.exec("rc-service", name, verb)})
		}
		return ops, nil
	}
	if s.Unit != nil {
		text, secret, err := e.vals.Expand(*s.Unit)
		if err != nil {
			return nil, err
		}
		unit := name
		if !strings.Contains(unit, ".") {
			unit += ".service"
		}
		mode := os.FileMode(0o644)
		if secret {
			mode = 0o600
		}
		ops = append(ops,
			Op{Push: &PushSpec{VMID: e.vmid, Dest: "/etc/systemd/system/" + unit, Content: []byte(text), Mode: mode, Secret: secret}},
			Op{Argv: e.exec("systemctl", "daemon-reload")})
	}
	if s.Enable != nil {
		if *s.Enable {
			ops = append(ops, Op{Argv: e.exec("systemctl", "enable", name)})
		} else {
			ops = append(ops, Op{Argv: e.exec("systemctl", "disable", name)})
		}
	}
	if verb != "" {
		ops = append(ops, Op{Argv: e.exec("systemctl", verb, name)})
	}
	return ops, nil
}

// describe says what a step does, in words, for progress lines. It uses the
// recipe text as written (references unexpanded), so it never carries a
// secret value.
func describe(s model.Step) string {
	switch s.Kind {
	case model.StepApt:
		return "apt: install " + strings.Join(s.Packages, " ")
	case model.StepAptUpgrade:
		if len(s.Packages) == 0 {
			return "apt_upgrade: upgrade every package"
		}
		return "apt_upgrade: upgrade " + strings.Join(s.Packages, " ")
	case model.StepAptRepo:
		if s.AptRepo != nil {
			return fmt.Sprintf("apt_repo: %s (%s %s)", s.AptRepo.Name, s.AptRepo.URI, s.AptRepo.Suite)
		}
	case model.StepFile:
		if f := s.File; f != nil {
			var attrs []string
			if f.Mode != "" {
				attrs = append(attrs, f.Mode)
			}
			if f.Owner != "" || f.Group != "" {
				o := f.Owner
				if f.Group != "" && f.Group != f.Owner {
					o += ":" + f.Group
				}
				attrs = append(attrs, o)
			}
			d := "file: " + f.Path
			if len(attrs) > 0 {
				d += " (" + strings.Join(attrs, " ") + ")"
			}
			if f.Source != "" {
				d += " from " + f.Source
			}
			return d
		}
	case model.StepUser:
		if s.User != nil {
			if s.User.System {
				return "user: " + s.User.Name + " (system)"
			}
			return "user: " + s.User.Name
		}
	case model.StepDownload:
		if s.Download != nil {
			return "download: " + s.Download.URL + " → " + s.Download.Dest
		}
	case model.StepRun:
		if r := s.Run; r != nil {
			d := "run: " + firstLine(r.Script)
			if r.User != "" {
				d += " (as " + r.User + ")"
			}
			return d
		}
	case model.StepService:
		if sv := s.Service; sv != nil {
			var what []string
			if sv.Unit != nil {
				what = append(what, "write unit")
			}
			if sv.Enable != nil {
				if *sv.Enable {
					what = append(what, "enable")
				} else {
					what = append(what, "disable")
				}
			}
			if sv.State != "" {
				what = append(what, sv.State)
			}
			return "service: " + sv.Name + " (" + strings.Join(what, ", ") + ")"
		}
	}
	return string(s.Kind)
}

// firstLine is the first meaningful line of a script, shortened.
func firstLine(script string) string {
	for _, l := range strings.Split(script, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || l == "set -e" || l == "set -eu" {
			continue
		}
		if len(l) > 60 {
			l = l[:57] + "..."
		}
		return l
	}
	return "(empty script)"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
