package pvesim

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// scriptCmd is one simple command of a script and the operator after it
// ("", ";", "&&", "||", "|"). Redirects are collected separately.
type scriptCmd struct {
	argv     []string
	op       string
	stdout   string // "> file" target
	appendTo bool
}

var errUnterminated = errors.New("unterminated quoted string")

// splitScript splits a shell command line with POSIX quoting rules into
// simple commands. It understands '...', "..." (with \ escapes), \, the
// operators ; && || | and newlines, # comments, and stdout redirects
// (>file, >>file; 2>... and >&N are dropped). No expansion is performed.
func splitScript(s string) ([]scriptCmd, error) {
	var cmds []scriptCmd
	var cur scriptCmd
	var word strings.Builder
	inWord := false
	redirect := "" // pending redirect operator waiting for its target
	flushWord := func() {
		if !inWord {
			return
		}
		w := word.String()
		word.Reset()
		inWord = false
		switch redirect {
		case ">", ">>":
			cur.stdout, cur.appendTo = w, redirect == ">>"
			redirect = ""
			return
		case "drop":
			redirect = ""
			return
		}
		cur.argv = append(cur.argv, w)
	}
	endCmd := func(op string) {
		flushWord()
		cur.op = op
		if len(cur.argv) > 0 || op == "" {
			cmds = append(cmds, cur)
		}
		cur = scriptCmd{}
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errUnterminated
			}
			word.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case ch == '"':
			inWord = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
					i++
					if s[i] == '\n' {
						continue
					}
				}
				word.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errUnterminated
			}
		case ch == '\\':
			if i+1 < len(s) {
				i++
				if s[i] != '\n' {
					word.WriteByte(s[i])
					inWord = true
				}
			}
		case ch == ' ' || ch == '\t':
			flushWord()
		case ch == '\n' || ch == ';':
			endCmd(";")
		case ch == '&' && i+1 < len(s) && s[i+1] == '&':
			endCmd("&&")
			i++
		case ch == '|' && i+1 < len(s) && s[i+1] == '|':
			endCmd("||")
			i++
		case ch == '|':
			endCmd("|")
		case ch == '#' && !inWord:
			for i < len(s) && s[i] != '\n' {
				i++
			}
			i--
		case ch == '>' || (ch >= '0' && ch <= '9' && !inWord && i+1 < len(s) && s[i+1] == '>'):
			flushWord()
			fd := "1"
			if ch != '>' {
				fd = string(ch)
				i++
			}
			op := ">"
			if i+1 < len(s) && s[i+1] == '>' {
				op = ">>"
				i++
			}
			if i+1 < len(s) && s[i+1] == '&' {
				// >&2, 2>&1: fd duplication, nothing to capture.
				i++
				for i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
					i++
				}
				continue
			}
			if fd == "1" {
				redirect = op
			} else {
				redirect = "drop"
			}
		default:
			word.WriteByte(ch)
			inWord = true
		}
	}
	if redirect != "" && !inWord {
		return nil, errors.New("missing redirect target")
	}
	endCmd("")
	// Drop empty trailing commands.
	out := cmds[:0]
	for _, c := range cmds {
		if len(c.argv) > 0 {
			out = append(out, c)
		}
	}
	return out, nil
}

// SplitCommand splits one command line into argv with POSIX quoting. It
// fails on unterminated quotes and on shell operators, which need a shell.
func SplitCommand(cmdline string) ([]string, error) {
	cmds, err := splitScript(cmdline)
	if err != nil {
		return nil, err
	}
	if len(cmds) != 1 || cmds[0].stdout != "" {
		return nil, fmt.Errorf("split command: %q is not a simple command", cmdline)
	}
	return cmds[0].argv, nil
}

// SSHHandler adapts a node to the in-process SSH test server: each exec
// request's command line is interpreted as a PVE host shell would run it.
// It satisfies sshtest's Handler interface
// (Exec(ctx, cmdline, stdin, stdout, stderr) int).
type SSHHandler struct{ n *Node }

// Handler returns the SSH adapter of the node.
func (n *Node) Handler() *SSHHandler { return &SSHHandler{n: n} }

// Exec runs one SSH exec request.
func (h *SSHHandler) Exec(ctx context.Context, cmdline string, stdin io.Reader, stdout, stderr io.Writer) int {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	return h.script(ctx, cmdline, stdin, stdout, stderr)
}

func (h *SSHHandler) script(ctx context.Context, s string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmds, err := splitScript(s)
	if err != nil {
		fmt.Fprintf(stderr, "sh: 1: Syntax error: %v\n", err)
		return 2
	}
	code := 0
	skip := false
	var piped *bytes.Buffer // output of the previous command when it ended in "|"
	for _, sc := range cmds {
		in := stdin
		if piped != nil {
			in, piped = piped, nil
		}
		if !skip {
			out := stdout
			if sc.op == "|" {
				piped = &bytes.Buffer{}
				out = piped
			}
			var f *os.File
			if sc.stdout != "" && sc.stdout != "/dev/null" {
				flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
				if sc.appendTo {
					flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
				}
				f, err = os.OpenFile(h.n.hostPath(sc.stdout), flags, 0o644)
				if err != nil {
					fmt.Fprintf(stderr, "sh: 1: cannot create %s: %s\n", sc.stdout, errText(err))
					code = 2
					goto next
				}
				out = f
			} else if sc.stdout == "/dev/null" {
				out = io.Discard
			}
			code = h.run(ctx, sc.argv, in, out, stderr)
			if f != nil {
				f.Close()
			}
		}
	next:
		switch sc.op {
		case "&&":
			skip = code != 0
		case "||":
			skip = code == 0
		default:
			skip = false
		}
	}
	return code
}

// hostPath maps an absolute path as the node sees it to the host: /etc/pve
// is the cluster dir, /var/lib/vz the node's storage root, everything else
// lives under the node's fake root (memory clusters) or is real (lab).
func (n *Node) hostPath(p string) string {
	c := n.cluster
	if !strings.HasPrefix(p, "/") {
		if c.tmpRoot == "" {
			return p // relative to the real working directory
		}
		p = "/root/" + p // a login shell starts in root's home
	}
	p = path.Clean(p)
	switch {
	case p == "/etc/pve/lxc" || strings.HasPrefix(p, "/etc/pve/lxc/"):
		return filepath.Join(c.Dir, "nodes", n.Name, "lxc", strings.TrimPrefix(p, "/etc/pve/lxc"))
	case p == "/etc/pve/local" || strings.HasPrefix(p, "/etc/pve/local/"):
		return filepath.Join(c.Dir, "nodes", n.Name, strings.TrimPrefix(p, "/etc/pve/local"))
	case p == "/etc/pve" || strings.HasPrefix(p, "/etc/pve/"):
		return filepath.Join(c.Dir, strings.TrimPrefix(p, "/etc/pve"))
	case p == "/var/lib/vz" || strings.HasPrefix(p, "/var/lib/vz/"):
		return filepath.Join(n.StorageRoot, strings.TrimPrefix(p, "/var/lib/vz"))
	}
	if c.tmpRoot == "" {
		return p
	}
	return filepath.Join(c.tmpRoot, "nodes", n.Name, "root", p)
}

// materialize copies a host file known only to [Cluster.HostFiles] to
// disk, so that commands reading it see it.
func (n *Node) materialize(p string) {
	hf := n.cluster.HostFiles
	if hf == nil || !strings.HasPrefix(p, "/") {
		return
	}
	hp := n.hostPath(p)
	if _, err := os.Stat(hp); err == nil {
		return
	}
	data, mode, ok := hf(path.Clean(p))
	if !ok {
		return
	}
	os.MkdirAll(filepath.Dir(hp), 0o755)
	if mode == 0 {
		mode = 0o644
	}
	os.WriteFile(hp, data, mode.Perm())
}

func errText(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, os.ErrExist):
		return "File exists"
	case errors.Is(err, os.ErrPermission):
		return "Permission denied"
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// pmxcfsLockTTL is how long a pmxcfs lock lives without a refresh (§14).
const pmxcfsLockTTL = 120 * time.Second

func isPmxLock(p string) bool {
	return strings.HasPrefix(path.Clean(p), "/etc/pve/priv/lock/")
}

// run executes one simple command of the host shell.
func (h *SSHHandler) run(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	n := h.n
	tool := path.Base(argv[0])
	for _, t := range Tools {
		if tool == t {
			return RunTool(ctx, n, tool, argv[1:], stdin, stdout, stderr)
		}
	}
	args := h.expandGlobs(argv[1:])
	for _, a := range args {
		n.materialize(a)
	}
	switch tool {
	case "tee":
		b, _ := io.ReadAll(stdin)
		code := 0
		for _, a := range args {
			if strings.HasPrefix(a, "-") {
				continue
			}
			if err := os.WriteFile(n.hostPath(a), b, 0o644); err != nil {
				fmt.Fprintf(stderr, "tee: %s: %s\n", a, errText(err))
				code = 1
			}
		}
		stdout.Write(b)
		return code
	case "printf":
		if len(args) > 0 {
			f := strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\\`, `\`).Replace(args[0])
			vals := make([]any, 0, len(args)-1)
			for _, a := range args[1:] {
				vals = append(vals, a)
			}
			fmt.Fprintf(stdout, strings.ReplaceAll(f, "%d", "%s"), vals...)
		}
		return 0
	case "head", "tail":
		return h.headTail(tool, args, stdin, stdout, stderr)
	case "mktemp":
		dir := false
		for _, a := range args {
			if a == "-d" || a == "--directory" {
				dir = true
			}
		}
		f, err := os.CreateTemp(n.hostPath("/tmp"), "tmp.")
		if err != nil {
			fmt.Fprintf(stderr, "mktemp: failed to create file via template '/tmp/tmp.XXXXXXXXXX': %s\n", errText(err))
			return 1
		}
		name := filepath.Base(f.Name())
		f.Close()
		if dir {
			os.Remove(f.Name())
			os.Mkdir(f.Name(), 0o700)
		}
		fmt.Fprintln(stdout, "/tmp/"+name)
		return 0
	case "chown", "sync":
		return 0
	case "chmod":
		var mode uint64
		var err error
		code := 0
		for i, a := range args {
			if strings.HasPrefix(a, "-") {
				continue
			}
			if mode == 0 && err == nil && i < len(args)-1 {
				mode, err = strconv.ParseUint(a, 8, 32)
				if err != nil {
					// Symbolic modes are accepted and ignored.
					err = nil
					mode = 1 << 31
				}
				continue
			}
			if mode != 1<<31 {
				if e := os.Chmod(n.hostPath(a), os.FileMode(mode)); e != nil {
					fmt.Fprintf(stderr, "chmod: cannot access '%s': %s\n", a, errText(e))
					code = 1
				}
			}
		}
		return code
	case "sh", "bash", "dash":
		for len(args) > 0 && (args[0] == "-e" || args[0] == "-eu" || args[0] == "-u") {
			args = args[1:]
		}
		if len(args) >= 2 && args[0] == "-c" {
			s := args[1]
			if s == "--" && len(args) >= 3 {
				s = args[2]
			}
			return h.script(ctx, s, stdin, stdout, stderr)
		}
		b, _ := io.ReadAll(stdin)
		return h.script(ctx, string(b), strings.NewReader(""), stdout, stderr)
	case "true", ":":
		return 0
	case "false":
		return 1
	case "exit":
		if len(args) > 0 {
			v, _ := strconv.Atoi(args[0])
			return v
		}
		return 0
	case "echo":
		nl := true
		if len(args) > 0 && args[0] == "-n" {
			nl, args = false, args[1:]
		}
		io.WriteString(stdout, strings.Join(args, " "))
		if nl {
			io.WriteString(stdout, "\n")
		}
		return 0
	case "hostname":
		fmt.Fprintln(stdout, n.Name)
		return 0
	case "id":
		fmt.Fprintln(stdout, "0")
		return 0
	case "cat":
		if len(args) == 0 {
			io.Copy(stdout, stdin)
			return 0
		}
		code := 0
		for _, a := range args {
			b, err := os.ReadFile(n.hostPath(a))
			if err != nil {
				fmt.Fprintf(stderr, "cat: %s: %s\n", a, errText(err))
				code = 1
				continue
			}
			stdout.Write(b)
		}
		return code
	case "ls":
		return h.ls(args, stdout, stderr)
	case "test", "[":
		return memTest(args, func(p string) (bool, bool) {
			fi, err := os.Stat(n.hostPath(p))
			return err == nil, err == nil && fi.IsDir()
		})
	case "mkdir":
		return h.mkdir(args, stderr)
	case "rmdir":
		code := 0
		for _, a := range args {
			if strings.HasPrefix(a, "-") {
				continue
			}
			if err := os.Remove(n.hostPath(a)); err != nil {
				fmt.Fprintf(stderr, "rmdir: failed to remove '%s': %s\n", a, errText(err))
				code = 1
				continue
			}
			if isPmxLock(a) {
				n.cluster.mu.Lock()
				delete(n.cluster.pmxLocks, path.Clean(a))
				n.cluster.mu.Unlock()
			}
		}
		return code
	case "touch":
		return h.touch(args, stderr)
	case "rm":
		code := 0
		for _, a := range args {
			if strings.HasPrefix(a, "-") {
				continue
			}
			if err := os.RemoveAll(n.hostPath(a)); err != nil {
				fmt.Fprintf(stderr, "rm: cannot remove '%s': %s\n", a, errText(err))
				code = 1
			}
		}
		return code
	case "scp":
		return h.scpSink(args, stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "sh: 1: %s: not found\n", argv[0])
	return 127
}

// expandGlobs expands unquoted-looking absolute path patterns as sh
// would; a pattern without matches stays literal. (The splitter does not
// keep quoting, so a quoted pattern is expanded too.)
func (h *SSHHandler) expandGlobs(args []string) []string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, "/") && strings.ContainsAny(a, "*?[") {
			if m := h.glob(a); len(m) > 0 {
				out = append(out, m...)
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// headTail implements head/tail -n N (and tail -n +N); with several files
// each gets a "==> name <==" header, the usual way to read many files in
// one command.
func (h *SSHHandler) headTail(tool string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	count, from := 10, false
	var files []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-n" && i+1 < len(args):
			v := args[i+1]
			i++
			from = strings.HasPrefix(v, "+")
			count, _ = strconv.Atoi(strings.TrimPrefix(v, "+"))
		case strings.HasPrefix(a, "-n"):
			v := a[2:]
			from = strings.HasPrefix(v, "+")
			count, _ = strconv.Atoi(strings.TrimPrefix(v, "+"))
		case a == "-q":
		default:
			files = append(files, a)
		}
	}
	pick := func(b []byte) string {
		lines := strings.SplitAfter(string(b), "\n")
		if len(lines) > 0 && lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		switch {
		case tool == "head":
			if count < len(lines) {
				lines = lines[:count]
			}
		case from:
			if count > 1 {
				if count-1 < len(lines) {
					lines = lines[count-1:]
				} else {
					lines = nil
				}
			}
		default:
			if count < len(lines) {
				lines = lines[len(lines)-count:]
			}
		}
		return strings.Join(lines, "")
	}
	if len(files) == 0 {
		b, _ := io.ReadAll(stdin)
		io.WriteString(stdout, pick(b))
		return 0
	}
	code := 0
	for i, f := range files {
		b, err := os.ReadFile(h.n.hostPath(f))
		if err != nil {
			fmt.Fprintf(stderr, "%s: cannot open '%s' for reading: %s\n", tool, f, errText(err))
			code = 1
			continue
		}
		if len(files) > 1 {
			if i > 0 {
				io.WriteString(stdout, "\n")
			}
			fmt.Fprintf(stdout, "==> %s <==\n", f)
		}
		io.WriteString(stdout, pick(b))
	}
	return code
}

// glob expands a pattern against the node's view of the filesystem and
// returns matches as the node would print them.
func (h *SSHHandler) glob(pattern string) []string {
	if !strings.ContainsAny(pattern, "*?[") {
		return []string{pattern}
	}
	hp := h.n.hostPath(pattern)
	prefixHost := h.n.hostPath(path.Dir(strings.SplitN(pattern, "*", 2)[0]) + "/")
	prefixShown := path.Dir(strings.SplitN(pattern, "*", 2)[0])
	matches, _ := filepath.Glob(hp)
	sort.Strings(matches)
	var out []string
	for _, m := range matches {
		rel, err := filepath.Rel(prefixHost, m)
		if err != nil {
			continue
		}
		out = append(out, path.Join(prefixShown, filepath.ToSlash(rel)))
	}
	return out
}

func (h *SSHHandler) ls(args []string, stdout, stderr io.Writer) int {
	var paths []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			paths = append(paths, a)
		}
	}
	if len(paths) == 0 {
		paths = []string{"/root"}
	}
	code := 0
	for _, p := range paths {
		hp := h.n.hostPath(p)
		fi, err := os.Stat(hp)
		if err != nil {
			fmt.Fprintf(stderr, "ls: cannot access '%s': No such file or directory\n", p)
			code = 2
			continue
		}
		if !fi.IsDir() {
			fmt.Fprintln(stdout, p)
			continue
		}
		ents, _ := os.ReadDir(hp)
		for _, e := range ents {
			fmt.Fprintln(stdout, e.Name())
		}
	}
	return code
}

// mkdir implements pmxcfs' lock semantics under /etc/pve/priv/lock/: the
// mkdir is the lock and fails with EEXIST while anyone holds it.
func (h *SSHHandler) mkdir(args []string, stderr io.Writer) int {
	parents := false
	code := 0
	for _, a := range args {
		if a == "-p" || a == "--parents" {
			parents = true
		}
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		hp := h.n.hostPath(a)
		var err error
		if parents && !isPmxLock(a) {
			err = os.MkdirAll(hp, 0o755)
		} else {
			err = os.Mkdir(hp, 0o755)
		}
		if err != nil {
			fmt.Fprintf(stderr, "mkdir: cannot create directory '%s': %s\n", a, errText(err))
			code = 1
			continue
		}
		if isPmxLock(a) {
			c := h.n.cluster
			c.mu.Lock()
			if c.pmxLocks == nil {
				c.pmxLocks = map[string]time.Time{}
			}
			c.pmxLocks[path.Clean(a)] = c.now()
			c.mu.Unlock()
		}
	}
	return code
}

// touch refreshes a pmxcfs lock (utime to now) or, with a zero time
// (touch -d @0), sends an unlock request that drops the lock once it is
// older than 120 s (§14). Elsewhere it creates or updates a file.
func (h *SSHHandler) touch(args []string, stderr io.Writer) int {
	zero := false
	var files []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-d" || a == "-t" || a == "--date":
			if i+1 < len(args) {
				v := args[i+1]
				zero = v == "@0" || strings.HasPrefix(v, "1970") || v == "197001010000"
				i++
			}
		case strings.HasPrefix(a, "--date="):
			zero = strings.TrimPrefix(a, "--date=") == "@0"
		case strings.HasPrefix(a, "-"):
		default:
			files = append(files, a)
		}
	}
	c := h.n.cluster
	code := 0
	for _, f := range files {
		hp := h.n.hostPath(f)
		if isPmxLock(f) {
			key := path.Clean(f)
			c.mu.Lock()
			t, held := c.pmxLocks[key]
			if !held {
				if _, err := os.Stat(hp); err == nil {
					// A lock dir created behind our back (lab restart) counts as fresh.
					t, held = c.now(), true
					if c.pmxLocks == nil {
						c.pmxLocks = map[string]time.Time{}
					}
					c.pmxLocks[key] = t
				}
			}
			switch {
			case !held:
				c.mu.Unlock()
				fmt.Fprintf(stderr, "touch: cannot touch '%s': No such file or directory\n", f)
				code = 1
				continue
			case zero:
				if c.now().Sub(t) > pmxcfsLockTTL {
					os.Remove(hp)
					delete(c.pmxLocks, key)
				}
			default:
				c.pmxLocks[key] = c.now()
			}
			c.mu.Unlock()
			continue
		}
		fh, err := os.OpenFile(hp, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "touch: cannot touch '%s': %s\n", f, errText(err))
			code = 1
			continue
		}
		fh.Close()
		now := c.now()
		if zero {
			now = time.Unix(0, 0)
		}
		os.Chtimes(hp, now, now)
	}
	return code
}

// scpSink implements the receiving side of `scp -t <target>` for single
// files, as go-scp drives it.
func (h *SSHHandler) scpSink(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	target := ""
	sink := false
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			if strings.Contains(a, "t") {
				sink = true
			}
			continue
		}
		target = a
	}
	if !sink || target == "" {
		fmt.Fprintln(stderr, "scp: only sink mode (-t) is supported")
		return 1
	}
	r := bufio.NewReader(stdin)
	stdout.Write([]byte{0})
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0
		}
		if !strings.HasPrefix(line, "C") {
			stdout.Write([]byte{0})
			continue
		}
		f := strings.Fields(strings.TrimSpace(line[1:]))
		if len(f) != 3 {
			stdout.Write([]byte{1})
			return 1
		}
		mode, _ := strconv.ParseUint(f[0], 8, 32)
		size, _ := strconv.ParseInt(f[1], 10, 64)
		dst := target
		if fi, err := os.Stat(h.n.hostPath(target)); err == nil && fi.IsDir() {
			dst = path.Join(target, f[2])
		}
		stdout.Write([]byte{0})
		buf := make([]byte, size)
		if _, err := io.ReadFull(r, buf); err != nil {
			return 1
		}
		r.ReadByte() // trailing \0
		hp := h.n.hostPath(dst)
		os.MkdirAll(filepath.Dir(hp), 0o755)
		if err := os.WriteFile(hp, buf, os.FileMode(mode)); err != nil {
			fmt.Fprintf(stderr, "scp: %s: %s\n", dst, errText(err))
			stdout.Write([]byte{1})
			return 1
		}
		stdout.Write([]byte{0})
	}
}

// Exec runs one argv on the node as its login shell would: the PVE tools,
// sh -c scripts and the small set of coreutils the [SSHHandler] knows.
// It is the argv-level entry point for in-process runners.
func (n *Node) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(argv) == 0 {
		return 0
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	return n.Handler().run(ctx, argv, stdin, stdout, stderr)
}

// shellQuote quotes one argument for a POSIX shell, leaving safe words bare.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
