package pvesim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ExecFunc answers one command run inside a memory container; it returns
// the command's exit code.
type ExecFunc func(argv []string, stdin io.Reader, stdout, stderr io.Writer) int

type memHandler struct {
	re *regexp.Regexp
	fn ExecFunc
}

type memDuration struct {
	re *regexp.Regexp
	d  time.Duration
}

type memFile struct {
	data     []byte
	uid, gid int
	mode     os.FileMode
}

type memCT struct {
	running  bool
	spec     StartSpec
	rootDir  string
	files    map[string]memFile
	packages map[string]bool
	users    map[string]int
	groups   map[string]int
	execs    [][]string
	listen   []int // ports open to probes; nil: every port
}

// MemoryRuntime is a [Runtime] that keeps containers in memory. Commands
// run inside them are answered by scripted handlers ([MemoryRuntime.Handle])
// or by built-in defaults for the commands recipes commonly use, so a
// whole recipe can "install" without a real container.
type MemoryRuntime struct {
	// DHCPPrefix is the first three octets of the deterministic DHCP lease
	// ("10.77.0."); a CT gets host part 100 + vmid%150 on each dhcp NIC.
	DHCPPrefix string
	// Strict makes unknown commands fail with 127 instead of succeeding.
	Strict bool
	// StartDelay and ExtractDelay simulate slow operations (benchmarks).
	StartDelay, ExtractDelay time.Duration

	mu        sync.Mutex
	cts       map[int]*memCT
	handlers  []memHandler
	durations []memDuration
}

var _ Runtime = (*MemoryRuntime)(nil)

// NewMemoryRuntime returns an empty memory runtime.
func NewMemoryRuntime() *MemoryRuntime {
	return &MemoryRuntime{DHCPPrefix: "10.77.0.", cts: map[int]*memCT{}}
}

// Handle registers fn for commands whose argv, joined by single spaces,
// matches the regexp pattern. Later registrations win over earlier ones
// and over the built-in defaults.
func (m *MemoryRuntime) Handle(pattern string, fn ExecFunc) error {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return fmt.Errorf("memory runtime handler: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.handlers = append(m.handlers, memHandler{re: re, fn: fn})
	return nil
}

// SetDuration makes every command matching pattern take d (simulated with
// a context-aware sleep), for benchmarks.
func (m *MemoryRuntime) SetDuration(pattern string, d time.Duration) error {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return fmt.Errorf("memory runtime duration: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.durations = append(m.durations, memDuration{re: re, d: d})
	return nil
}

func (m *MemoryRuntime) ct(vmid int) *memCT {
	c, ok := m.cts[vmid]
	if !ok {
		c = &memCT{files: map[string]memFile{}, packages: map[string]bool{},
			users: map[string]int{"root": 0}, groups: map[string]int{"root": 0}}
		m.cts[vmid] = c
	}
	return c
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Extract creates rootDir with a minimal os-release guessed from the
// template name.
func (m *MemoryRuntime) Extract(ctx context.Context, template, rootDir string, unprivileged bool) error {
	if err := sleepCtx(ctx, m.ExtractDelay); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(rootDir, "etc"), 0o755); err != nil {
		return fmt.Errorf("extract %s: %w", template, err)
	}
	base := filepath.Base(template)
	id, ver := "debian", "12"
	if m := regexp.MustCompile(`^([a-z]+)-([0-9.]+)`).FindStringSubmatch(base); m != nil {
		id, ver = m[1], m[2]
	}
	osr := fmt.Sprintf("ID=%s\nVERSION_ID=\"%s\"\n", id, ver)
	return os.WriteFile(filepath.Join(rootDir, "etc", "os-release"), []byte(osr), 0o644)
}

func (m *MemoryRuntime) Start(ctx context.Context, s StartSpec) error {
	if err := sleepCtx(ctx, m.StartDelay); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.ct(s.VMID)
	if c.running {
		return fmt.Errorf("container %d already running", s.VMID)
	}
	c.running, c.spec, c.rootDir = true, s, s.RootDir
	return nil
}

func (m *MemoryRuntime) Stop(ctx context.Context, vmid int, force bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ct(vmid).running = false
	return nil
}

func (m *MemoryRuntime) Running(vmid int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cts[vmid]
	return ok && c.running
}

func (m *MemoryRuntime) Remove(ctx context.Context, vmid int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.cts, vmid)
	return nil
}

// Spec returns the StartSpec a running (or last started) CT got.
func (m *MemoryRuntime) Spec(vmid int) (StartSpec, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cts[vmid]
	if !ok {
		return StartSpec{}, false
	}
	return c.spec, true
}

// Packages lists the packages "installed" in a CT by apt-get, sorted.
func (m *MemoryRuntime) Packages(vmid int) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cts[vmid]
	if !ok {
		return nil
	}
	return sortedKeys(c.packages)
}

// File returns a file written into a CT by push, tee or a redirect-free
// cat handler.
func (m *MemoryRuntime) File(vmid int, p string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cts[vmid]
	if !ok {
		return nil, false
	}
	f, ok := c.files[path.Clean(p)]
	return f.data, ok
}

// Execs returns every argv run in a CT, oldest first.
func (m *MemoryRuntime) Execs(vmid int) [][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cts[vmid]
	if !ok {
		return nil
	}
	return append([][]string(nil), c.execs...)
}

func (m *MemoryRuntime) Exec(ctx context.Context, vmid int, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	m.mu.Lock()
	c := m.ct(vmid)
	if !c.running {
		m.mu.Unlock()
		return 0, fmt.Errorf("container %d is not running", vmid)
	}
	c.execs = append(c.execs, append([]string(nil), argv...))
	line := strings.Join(argv, " ")
	var fn ExecFunc
	for i := len(m.handlers) - 1; i >= 0; i-- {
		if m.handlers[i].re.MatchString(line) {
			fn = m.handlers[i].fn
			break
		}
	}
	var d time.Duration
	for _, x := range m.durations {
		if x.re.MatchString(line) {
			d = x.d
		}
	}
	m.mu.Unlock()
	if err := sleepCtx(ctx, d); err != nil {
		return 0, err
	}
	if fn != nil {
		return fn(argv, stdin, stdout, stderr), nil
	}
	return m.builtin(ctx, vmid, argv, stdin, stdout, stderr), nil
}

// builtin answers the commands recipes commonly run.
func (m *MemoryRuntime) builtin(ctx context.Context, vmid int, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(argv) == 0 {
		return 0
	}
	// Strip a leading env assignment list ("env A=B cmd", "A=B cmd").
	if argv[0] == "env" {
		argv = argv[1:]
	}
	for len(argv) > 0 && strings.Contains(argv[0], "=") && !strings.HasPrefix(argv[0], "-") {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return 0
	}
	cmd := path.Base(argv[0])
	m.mu.Lock()
	c := m.ct(vmid)
	m.mu.Unlock()
	switch cmd {
	case "true", ":":
		return 0
	case "false":
		return 1
	case "exit":
		if len(argv) > 1 {
			v, _ := strconv.Atoi(argv[1])
			return v
		}
		return 0
	case "sh", "bash", "dash":
		if len(argv) >= 3 && argv[1] == "-c" {
			return runScript(argv[2], stdin, stdout, stderr, func(a []string, in io.Reader, out, errw io.Writer) int {
				code, err := m.Exec(ctx, vmid, a, in, out, errw)
				if err != nil {
					fmt.Fprintln(errw, err)
					return 126
				}
				return code
			}, func(p string, data []byte, appendTo bool) {
				if appendTo {
					if old, ok := m.readFile(c, p); ok {
						data = append(append([]byte(nil), old...), data...)
					}
				}
				m.writeFile(c, p, data, 0, 0, 0o644)
			})
		}
		if len(argv) == 1 || argv[1] == "-s" || argv[1] == "-" {
			b, _ := io.ReadAll(stdin)
			return m.builtin(ctx, vmid, []string{"sh", "-c", string(b)}, strings.NewReader(""), stdout, stderr)
		}
		return 0
	case "echo":
		args := argv[1:]
		nl := true
		if len(args) > 0 && args[0] == "-n" {
			nl, args = false, args[1:]
		}
		io.WriteString(stdout, strings.Join(args, " "))
		if nl {
			io.WriteString(stdout, "\n")
		}
		return 0
	case "cat":
		if len(argv) == 1 {
			io.Copy(stdout, stdin)
			return 0
		}
		code := 0
		for _, p := range argv[1:] {
			if b, ok := m.readFile(c, p); ok {
				stdout.Write(b)
			} else {
				fmt.Fprintf(stderr, "cat: %s: No such file or directory\n", p)
				code = 1
			}
		}
		return code
	case "tee":
		b, _ := io.ReadAll(stdin)
		for _, p := range argv[1:] {
			if !strings.HasPrefix(p, "-") {
				m.writeFile(c, p, b, 0, 0, 0o644)
			}
		}
		stdout.Write(b)
		return 0
	case "hostname":
		fmt.Fprintln(stdout, c.spec.Hostname)
		return 0
	case "uname":
		if len(argv) > 1 && argv[1] == "-m" {
			fmt.Fprintln(stdout, "x86_64")
		} else {
			fmt.Fprintln(stdout, "Linux")
		}
		return 0
	case "id":
		fmt.Fprintln(stdout, "0")
		return 0
	case "test", "[":
		return memTest(argv[1:], func(p string) (bool, bool) { return m.exists(c, p) })
	case "ip":
		// The one-line format of `ip -o addr show`.
		ifs, _ := m.Interfaces(ctx, vmid)
		for i, f := range ifs {
			if f.Inet != "" {
				scope := "global " + f.Name
				brd := ""
				if f.Name == "lo" {
					scope = "host lo"
				} else if p, err := netip.ParsePrefix(f.Inet); err == nil && p.Addr().Is4() {
					a := p.Addr().As4()
					bits := uint32(0xffffffff) >> p.Bits()
					v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) | bits
					brd = fmt.Sprintf(" brd %d.%d.%d.%d", v>>24, v>>16&0xff, v>>8&0xff, v&0xff)
				}
				fmt.Fprintf(stdout, "%d: %s    inet %s%s scope %s\\       valid_lft forever preferred_lft forever\n", i+1, f.Name, f.Inet, brd, scope)
			}
			if f.Inet6 != "" {
				scope := "link"
				if f.Name == "lo" {
					scope = "host"
				}
				fmt.Fprintf(stdout, "%d: %s    inet6 %s scope %s \\       valid_lft forever preferred_lft forever\n", i+1, f.Name, f.Inet6, scope)
			}
		}
		return 0
	case "systemctl":
		if len(argv) > 1 {
			switch argv[1] {
			case "is-system-running":
				fmt.Fprintln(stdout, "running")
			case "is-active":
				fmt.Fprintln(stdout, "active")
			case "is-enabled":
				fmt.Fprintln(stdout, "enabled")
			}
		}
		return 0
	case "getent":
		if len(argv) < 3 {
			return 0
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		switch argv[1] {
		case "group":
			if id, ok := c.groups[argv[2]]; ok {
				fmt.Fprintf(stdout, "%s:x:%d:\n", argv[2], id)
				return 0
			}
		case "passwd":
			if id, ok := c.users[argv[2]]; ok {
				fmt.Fprintf(stdout, "%s:x:%d:%d::/home/%s:/bin/sh\n", argv[2], id, id, argv[2])
				return 0
			}
		}
		return 2
	case "groupadd", "addgroup":
		m.mu.Lock()
		c.groups[argv[len(argv)-1]] = 1000 + len(c.groups)
		m.mu.Unlock()
		return 0
	case "useradd", "adduser":
		m.mu.Lock()
		c.users[argv[len(argv)-1]] = 1000 + len(c.users)
		m.mu.Unlock()
		return 0
	case "apt-get", "apt":
		install := false
		for _, a := range argv[1:] {
			switch {
			case a == "install":
				install = true
			case install && !strings.HasPrefix(a, "-"):
				m.mu.Lock()
				c.packages[strings.SplitN(a, "=", 2)[0]] = true
				m.mu.Unlock()
			}
		}
		return 0
	case "dpkg", "dpkg-query":
		for _, a := range argv[1:] {
			if strings.HasPrefix(a, "-") || strings.HasPrefix(a, "${") {
				continue
			}
			m.mu.Lock()
			ok := c.packages[a]
			m.mu.Unlock()
			if !ok {
				fmt.Fprintf(stderr, "dpkg-query: package '%s' is not installed and no information is available\n", a)
				return 1
			}
		}
		return 0
	}
	if m.Strict {
		fmt.Fprintf(stderr, "sh: 1: %s: not found\n", argv[0])
		return 127
	}
	return 0
}

func memTest(args []string, exists func(string) (bool, bool)) int {
	if len(args) > 0 && args[len(args)-1] == "]" {
		args = args[:len(args)-1]
	}
	if len(args) == 2 {
		e, dir := exists(args[1])
		ok := false
		switch args[0] {
		case "-e", "-r", "-s", "-x":
			ok = e
		case "-f":
			ok = e && !dir
		case "-d":
			ok = e && dir
		case "-n":
			ok = args[1] != ""
		case "-z":
			ok = args[1] == ""
		}
		if ok {
			return 0
		}
		return 1
	}
	if len(args) == 3 && (args[1] == "=" || args[1] == "!=") {
		if (args[0] == args[2]) == (args[1] == "=") {
			return 0
		}
		return 1
	}
	return 1
}

func (m *MemoryRuntime) readFile(c *memCT, p string) ([]byte, bool) {
	m.mu.Lock()
	f, ok := c.files[path.Clean(p)]
	root := c.rootDir
	m.mu.Unlock()
	if ok {
		return f.data, true
	}
	if root != "" {
		if b, err := os.ReadFile(filepath.Join(root, path.Clean("/"+p))); err == nil {
			return b, true
		}
	}
	return nil, false
}

func (m *MemoryRuntime) exists(c *memCT, p string) (exists, dir bool) {
	m.mu.Lock()
	_, ok := c.files[path.Clean(p)]
	root := c.rootDir
	m.mu.Unlock()
	if ok {
		return true, false
	}
	if root != "" {
		if fi, err := os.Stat(filepath.Join(root, path.Clean("/"+p))); err == nil {
			return true, fi.IsDir()
		}
	}
	return false, false
}

func (m *MemoryRuntime) writeFile(c *memCT, p string, b []byte, uid, gid int, mode os.FileMode) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.files[path.Clean(p)] = memFile{data: append([]byte(nil), b...), uid: uid, gid: gid, mode: mode}
}

func (m *MemoryRuntime) Push(ctx context.Context, vmid int, hostSrc, ctDst string, uid, gid int, mode os.FileMode) error {
	b, err := os.ReadFile(hostSrc)
	if err != nil {
		return fmt.Errorf("failed to open %s for reading", hostSrc)
	}
	m.mu.Lock()
	c := m.ct(vmid)
	m.mu.Unlock()
	if dir := path.Dir(path.Clean(ctDst)); dir != "/" {
		if e, isDir := m.exists(c, dir); !e || !isDir {
			if !m.knownDir(c, dir) {
				return fmt.Errorf("failed to create file: %s: No such file or directory", ctDst)
			}
		}
	}
	m.writeFile(c, ctDst, b, uid, gid, mode)
	return nil
}

// knownDir treats the usual FHS directories and parents of pushed files as
// existing, since a memory CT has no real tree.
func (m *MemoryRuntime) knownDir(c *memCT, dir string) bool {
	switch dir {
	case "/etc", "/root", "/tmp", "/usr", "/usr/local", "/usr/local/bin", "/usr/local/sbin", "/var", "/opt", "/srv", "/home", "/etc/systemd", "/etc/systemd/system", "/etc/default", "/etc/apt", "/etc/apt/sources.list.d", "/etc/apt/apt.conf.d", "/etc/ssh", "/var/lib", "/var/www", "/var/www/html", "/etc/nginx", "/etc/nginx/sites-enabled", "/etc/nginx/conf.d", "/etc/profile.d", "/etc/cron.d", "/var/log":
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for p := range c.files {
		if strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

func (m *MemoryRuntime) Pull(ctx context.Context, vmid int, ctSrc, hostDst string) error {
	m.mu.Lock()
	c := m.ct(vmid)
	m.mu.Unlock()
	b, ok := m.readFile(c, ctSrc)
	if !ok {
		return fmt.Errorf("failed to open %s for reading: No such file or directory", ctSrc)
	}
	return os.WriteFile(hostDst, b, 0o644)
}

// Interfaces reports eth addresses: dhcp NICs get a deterministic lease,
// static ones their configured address.
func (m *MemoryRuntime) Interfaces(ctx context.Context, vmid int) ([]Iface, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cts[vmid]
	if !ok || !c.running {
		return nil, nil
	}
	out := []Iface{{Name: "lo", HWAddr: "00:00:00:00:00:00", Inet: "127.0.0.1/8", Inet6: "::1/128"}}
	for _, n := range c.spec.Nets {
		f := Iface{Name: n.Name, HWAddr: strings.ToLower(n.HWAddr)}
		switch {
		case n.IP == "dhcp":
			f.Inet = m.DHCPPrefix + strconv.Itoa(100+vmid%150) + "/24"
		case n.IP != "" && n.IP != "manual":
			f.Inet = n.IP
		}
		f.Inet6 = linkLocal(f.HWAddr)
		out = append(out, f)
	}
	return out, nil
}

// linkLocal derives the EUI-64 fe80:: address of a MAC.
func linkLocal(mac string) string {
	parts := strings.Split(mac, ":")
	if len(parts) != 6 {
		return ""
	}
	b := make([]byte, 6)
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 16, 8)
		if err != nil {
			return ""
		}
		b[i] = byte(v)
	}
	b[0] ^= 2
	return fmt.Sprintf("fe80::%x:%x:%x:%x/64", uint16(b[0])<<8|uint16(b[1]), uint16(b[2])<<8|0xff, 0xfe00|uint16(b[3]), uint16(b[4])<<8|uint16(b[5]))
}

// runScript runs a tiny shell script: commands separated by ";", "&&",
// "||" or newlines, each split with POSIX quoting. Pipes, redirects and
// expansions are not interpreted (the whole script may still be matched
// by a handler registered for "sh -c ...").
func runScript(script string, stdin io.Reader, stdout, stderr io.Writer, run func([]string, io.Reader, io.Writer, io.Writer) int, write func(path string, data []byte, appendTo bool)) int {
	cmds, err := splitScript(script)
	if err != nil {
		fmt.Fprintf(stderr, "sh: 1: Syntax error: %v\n", err)
		return 2
	}
	code := 0
	skip := false
	var piped *bytes.Buffer
	for _, sc := range cmds {
		in, out := stdin, stdout
		if piped != nil {
			in, piped = piped, nil
		}
		if sc.op == "|" {
			piped = &bytes.Buffer{}
			out = piped
		}
		var redir *bytes.Buffer
		if sc.stdout != "" {
			redir = &bytes.Buffer{}
			out = redir
		}
		if !skip && len(sc.argv) > 0 {
			code = run(sc.argv, in, out, stderr)
			if redir != nil && sc.stdout != "/dev/null" && write != nil {
				write(sc.stdout, redir.Bytes(), sc.appendTo)
			}
		}
		switch sc.op {
		case "&&":
			skip = code != 0
		case "||":
			skip = code == 0
		default:
			skip = false
		}
		if sc.op == "" {
			break
		}
	}
	return code
}

// sortInts returns sorted copies for stable output.
func sortInts(v []int) []int {
	out := append([]int(nil), v...)
	sort.Ints(out)
	return out
}

// Listen declares the ports container vmid accepts connections on from
// its node (health probes in memory clusters). Without a declaration a
// running container accepts connections on every port.
func (m *MemoryRuntime) Listen(vmid int, ports ...int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ct(vmid).listen = append([]int{}, ports...)
}

// listening reports whether addr belongs to a running container that
// accepts connections on port.
func (m *MemoryRuntime) listening(addr string, port int) bool {
	m.mu.Lock()
	var ids []int
	for id, c := range m.cts {
		if c.running {
			ids = append(ids, id)
		}
	}
	m.mu.Unlock()
	for _, id := range ids {
		ifs, _ := m.Interfaces(context.Background(), id)
		for _, f := range ifs {
			if f.Name == "lo" {
				continue
			}
			for _, a := range []string{f.Inet, f.Inet6} {
				if ip, _, _ := strings.Cut(a, "/"); ip != "" && ip == addr {
					m.mu.Lock()
					l := m.cts[id].listen
					m.mu.Unlock()
					return l == nil || slices.Contains(l, port)
				}
			}
		}
	}
	return false
}
