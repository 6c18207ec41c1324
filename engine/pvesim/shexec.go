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
	"sort"
	"strconv"
	"strings"
)

// shell runs the sh subset of [parseSh] for a memory node's host: lists,
// && || ! and pipelines (run one after another over buffers), if/elif/else,
// for, while/until, case, { } and ( ) groups, redirections (< > >> >| <>
// N>&M, /dev/null, bash's /dev/tcp/HOST/PORT), parameters ($1.. "$@" $# $?
// $$ $0, ${x:-y} ${x#p} ${x%p} and friends), $(...) and `...`, field
// splitting and pathname globs, and the builtins cd, exit, set (-e -u --),
// shift, umask, export, unset, local, read, eval, exec, trap (EXIT),
// break/continue, return, test/[, echo, printf, pwd, command. Everything
// else is a command of the node ([shellSys]).
type shell struct {
	sys              shellSys
	vars             map[string]string
	arg0             string
	args             []string
	status           int
	cwd              string // the shell's working directory as the node sees it
	umask            os.FileMode
	errexit, nounset bool
	pid              int
	trapExit         string
	// bash is set for the login shell and bash -c: its echo takes no
	// escapes, dash's (sh) does.
	bash bool
	// errw is the stderr of the command being expanded, where command
	// substitutions write theirs.
	errw io.Writer
	// condDepth > 0 while running a condition (if, while, && operands, !):
	// set -e does not apply there.
	condDepth int
}

// shellSys is the node behind a shell: where its paths live on the host
// and the commands it has.
type shellSys interface {
	hostPath(p string) string
	command(ctx context.Context, sh *shell, argv []string, stdin io.Reader, stdout, stderr io.Writer) int
	probe(addr string, port int) bool
	// materialize makes a file known only to the SSH server's memory FS
	// (an upload) readable at its path.
	materialize(p string)
}

type shIO struct {
	in       io.Reader
	out, err io.Writer
}

// Control flow travels as errors.
type shExit struct{ code int }

func (e *shExit) Error() string { return "exit " + strconv.Itoa(e.code) }

type shLoopCtl struct {
	brk bool
	n   int
}

func (e *shLoopCtl) Error() string { return "break/continue outside a loop" }

func newShell(sys shellSys, cwd string, umask os.FileMode) *shell {
	if cwd == "" {
		cwd = "/root"
	}
	return &shell{sys: sys, vars: map[string]string{}, arg0: "sh", cwd: cwd, umask: umask, pid: 4242}
}

// subshell copies the shell for ( ), $( ) and pipeline elements.
func (s *shell) subshell() *shell {
	c := *s
	c.vars = make(map[string]string, len(s.vars))
	for k, v := range s.vars {
		c.vars[k] = v
	}
	c.args = append([]string(nil), s.args...)
	c.trapExit = ""
	return &c
}

// abs resolves p against the working directory.
func (s *shell) abs(p string) string {
	if strings.HasPrefix(p, "/") {
		return path.Clean(p)
	}
	return path.Join(s.cwd, p)
}

// host maps a path of the node to the host's file system.
func (s *shell) host(p string) string { return s.sys.hostPath(s.abs(p)) }

// runScript parses and runs a whole script, as sh -c does, and returns its
// exit status.
func (s *shell) runScript(ctx context.Context, script string, sio shIO) int {
	l, err := parseSh(script)
	if err != nil {
		fmt.Fprintf(sio.err, "%s: 1: %v\n", s.arg0, err)
		return 2
	}
	if s.errw == nil {
		s.errw = sio.err
	}
	code := s.runScriptList(ctx, l, sio)
	if s.trapExit != "" {
		t := s.trapExit
		s.trapExit = ""
		s.status = code
		s.runScript(ctx, t, sio)
	}
	return code
}

func (s *shell) runList(ctx context.Context, l *shList, sio shIO) error {
	for _, ao := range l.items {
		if err := ctx.Err(); err != nil {
			s.status = 130
			return &shExit{code: 130}
		}
		if err := s.runAndOr(ctx, ao, sio); err != nil {
			return err
		}
	}
	return nil
}

func (s *shell) runAndOr(ctx context.Context, ao *shAndOr, sio shIO) error {
	for i, pl := range ao.pipes {
		if i > 0 {
			if (ao.ops[i-1] == "&&") != (s.status == 0) {
				continue
			}
		}
		last := i == len(ao.pipes)-1
		if !last {
			s.condDepth++
		}
		err := s.runPipeline(ctx, pl, sio)
		if !last {
			s.condDepth--
		}
		if err != nil {
			return err
		}
		if last && s.status != 0 && s.errexit && s.condDepth == 0 && !pl.neg {
			return &shExit{code: s.status}
		}
	}
	return nil
}

func (s *shell) runPipeline(ctx context.Context, pl *shPipeline, sio shIO) error {
	if pl.neg {
		s.condDepth++
		defer func() { s.condDepth-- }()
	}
	if len(pl.cmds) == 1 {
		if err := s.runCommand(ctx, pl.cmds[0], sio); err != nil {
			return err
		}
	} else {
		// Each element runs in a subshell, one after another, its output
		// buffered for the next: enough for the filters scripts use.
		in := sio.in
		for i, c := range pl.cmds {
			var buf bytes.Buffer
			out := sio.out
			if i < len(pl.cmds)-1 {
				out = &buf
			}
			sub := s.subshell()
			err := sub.runCommand(ctx, c, shIO{in: in, out: out, err: sio.err})
			var ex *shExit
			if errors.As(err, &ex) {
				sub.status = ex.code
			} else if err != nil {
				return err
			}
			s.status = sub.status
			in = &buf
		}
	}
	if pl.neg {
		if s.status == 0 {
			s.status = 1
		} else {
			s.status = 0
		}
	}
	return nil
}

func (s *shell) runCommand(ctx context.Context, c *shCommand, sio shIO) error {
	if c.body != nil {
		rio, closeAll, code := s.redirect(ctx, c.redirs, sio)
		if code != 0 {
			s.status = code
			return nil
		}
		defer closeAll()
		return s.runCompound(ctx, c.body, rio)
	}
	// $? in the words is the status of the previous command.
	s.errw = sio.err
	subStatus := -1
	argv, err := s.expandWords(ctx, c.words, &subStatus)
	if err != nil {
		return s.expandFailed(err, sio)
	}
	var assigns [][2]string
	for _, a := range c.assigns {
		name, raw, _ := strings.Cut(a, "=")
		v, err := s.expandWord(ctx, raw, &subStatus)
		if err != nil {
			return s.expandFailed(err, sio)
		}
		assigns = append(assigns, [2]string{name, v})
	}
	if len(argv) == 0 {
		for _, a := range assigns {
			s.vars[a[0]] = a[1]
		}
		if len(c.redirs) > 0 {
			_, closeAll, code := s.redirect(ctx, c.redirs, sio)
			closeAll()
			if code != 0 {
				s.status = code
				return nil
			}
		}
		s.status = max(subStatus, 0)
		return nil
	}
	if argv[0] == "exec" && len(argv) == 1 {
		// exec with redirections only: they apply to the shell; here they
		// are opened (which is what a probe like exec 3<>/dev/tcp/... tests)
		// and closed again.
		_, closeAll, code := s.redirect(ctx, c.redirs, sio)
		closeAll()
		s.status = code
		return nil
	}
	rio, closeAll, code := s.redirect(ctx, c.redirs, sio)
	if code != 0 {
		s.status = code
		return nil
	}
	defer closeAll()
	return s.runSimple(ctx, argv, assigns, rio)
}

func (s *shell) expandFailed(err error, sio shIO) error {
	var ex *shExit
	if errors.As(err, &ex) {
		return err
	}
	fmt.Fprintf(sio.err, "%s: 1: %v\n", s.arg0, err)
	s.status = 2
	return &shExit{code: 2}
}

func (s *shell) runCompound(ctx context.Context, body any, sio shIO) error {
	switch n := body.(type) {
	case *shGroup:
		if !n.subshell {
			return s.runList(ctx, n.body, sio)
		}
		sub := s.subshell()
		code := sub.runScriptList(ctx, n.body, sio)
		s.status = code
		return nil
	case *shIf:
		for i, cond := range n.conds {
			s.condDepth++
			err := s.runList(ctx, cond, sio)
			s.condDepth--
			if err != nil {
				return err
			}
			if s.status == 0 {
				return s.runList(ctx, n.bodies[i], sio)
			}
		}
		s.status = 0
		if n.els != nil {
			return s.runList(ctx, n.els, sio)
		}
		return nil
	case *shFor:
		items := s.args
		if n.hasIn {
			var err error
			if items, err = s.expandWords(ctx, n.words, nil); err != nil {
				return s.expandFailed(err, sio)
			}
		}
		s.status = 0
		for _, it := range items {
			s.vars[n.name] = it
			if stop, err := s.loopBody(ctx, n.body, sio); stop || err != nil {
				return err
			}
		}
		return nil
	case *shWhile:
		last := 0
		for {
			s.condDepth++
			err := s.runList(ctx, n.cond, sio)
			s.condDepth--
			if err != nil {
				return err
			}
			if (s.status == 0) == n.until {
				s.status = last
				return nil
			}
			if stop, err := s.loopBody(ctx, n.body, sio); stop || err != nil {
				return err
			}
			last = s.status
		}
	case *shCase:
		w, err := s.expandWord(ctx, n.word, nil)
		if err != nil {
			return s.expandFailed(err, sio)
		}
		s.status = 0
		for _, it := range n.items {
			for _, p := range it.pats {
				pat, err := s.expandPattern(ctx, p)
				if err != nil {
					return s.expandFailed(err, sio)
				}
				if shMatch(pat, w) {
					return s.runList(ctx, it.body, sio)
				}
			}
		}
		return nil
	}
	return fmt.Errorf("unknown command node %T", body)
}

// loopBody runs one iteration; stop is true after a break.
func (s *shell) loopBody(ctx context.Context, body *shList, sio shIO) (stop bool, err error) {
	err = s.runList(ctx, body, sio)
	var lc *shLoopCtl
	if errors.As(err, &lc) {
		if lc.n > 1 {
			lc.n--
			return true, lc
		}
		return lc.brk, nil
	}
	return false, err
}

func (s *shell) runScriptList(ctx context.Context, l *shList, sio shIO) int {
	err := s.runList(ctx, l, sio)
	var ex *shExit
	if errors.As(err, &ex) {
		return ex.code
	}
	return s.status
}

// redirect applies redirections to sio. It returns the new streams, a
// function closing the files it opened, and a non-zero status when one
// could not be opened.
func (s *shell) redirect(ctx context.Context, rs []shRedir, sio shIO) (shIO, func(), int) {
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	for _, r := range rs {
		target, err := s.expandWord(ctx, r.target, nil)
		if err != nil {
			fmt.Fprintf(sio.err, "%s: 1: %v\n", s.arg0, err)
			return sio, closeAll, 2
		}
		fd := r.fd
		if fd < 0 {
			fd = 1
			if r.op == "<" || r.op == "<&" || r.op == "<>" {
				fd = 0
			}
		}
		var rd io.Reader
		var wr io.Writer
		switch {
		case r.op == ">&" || r.op == "<&":
			switch target {
			case "1":
				wr = sio.out
			case "2":
				wr = sio.err
			case "0":
				rd = sio.in
			case "-":
				wr, rd = io.Discard, strings.NewReader("")
			default:
				fmt.Fprintf(sio.err, "%s: 1: %s: Bad file descriptor\n", s.arg0, target)
				return sio, closeAll, 2
			}
		case target == "/dev/null":
			wr, rd = io.Discard, strings.NewReader("")
		case target == "/dev/stdout":
			wr = sio.out
		case target == "/dev/stderr":
			wr = sio.err
		case target == "/dev/stdin":
			rd = sio.in
		case strings.HasPrefix(target, "/dev/tcp/") || strings.HasPrefix(target, "/dev/udp/"):
			host, port, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(target, "/dev/tcp/"), "/dev/udp/"), "/")
			p, err := strconv.Atoi(port)
			if err != nil || !s.sys.probe(host, p) {
				fmt.Fprintf(sio.err, "%s: connect: Connection refused\n%s: line 1: %s: Connection refused\n", s.arg0, s.arg0, target)
				return sio, closeAll, 1
			}
			wr, rd = io.Discard, strings.NewReader("")
		default:
			flags := os.O_RDONLY
			switch r.op {
			case ">", ">|":
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			case ">>":
				flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
			case "<>":
				flags = os.O_RDWR | os.O_CREATE
			}
			if flags == os.O_RDONLY {
				s.sys.materialize(s.abs(target))
			}
			f, err := os.OpenFile(s.host(target), flags, 0o666&^s.umask)
			if err != nil {
				if r.op == "<" {
					fmt.Fprintf(sio.err, "%s: 1: cannot open %s: %s\n", s.arg0, target, errText(err))
				} else {
					fmt.Fprintf(sio.err, "%s: 1: cannot create %s: %s\n", s.arg0, target, errText(err))
				}
				return sio, closeAll, 2
			}
			files = append(files, f)
			rd, wr = f, f
		}
		switch fd {
		case 0:
			if rd != nil {
				sio.in = rd
			}
		case 1:
			if wr != nil {
				sio.out = wr
			}
		case 2:
			if wr != nil {
				sio.err = wr
			}
		}
	}
	return sio, closeAll, 0
}

func (s *shell) runSimple(ctx context.Context, argv []string, assigns [][2]string, sio shIO) error {
	name, args := argv[0], argv[1:]
	special := func() {
		for _, a := range assigns {
			s.vars[a[0]] = a[1]
		}
	}
	switch name {
	case ":", "true":
		special()
		s.status = 0
	case "false":
		s.status = 1
	case "exit", "return":
		special()
		code := s.status
		if len(args) > 0 {
			v, err := strconv.Atoi(args[0])
			if err != nil {
				fmt.Fprintf(sio.err, "%s: 1: %s: Illegal number: %s\n", s.arg0, name, args[0])
				v = 2
			}
			code = v & 0xff
		}
		s.status = code
		return &shExit{code: code}
	case "break", "continue":
		n := 1
		if len(args) > 0 {
			n, _ = strconv.Atoi(args[0])
			n = max(n, 1)
		}
		s.status = 0
		return &shLoopCtl{brk: name == "break", n: n}
	case "cd":
		dir := "/root"
		for _, a := range args {
			if a != "--" && a != "-P" && a != "-L" {
				dir = a
			}
		}
		p := s.abs(dir)
		if fi, err := os.Stat(s.sys.hostPath(p)); err != nil || !fi.IsDir() {
			fmt.Fprintf(sio.err, "%s: 1: cd: can't cd to %s\n", s.arg0, dir)
			s.status = 2
			return nil
		}
		s.cwd, s.status = p, 0
	case "pwd":
		fmt.Fprintln(sio.out, s.cwd)
		s.status = 0
	case "set":
		return s.set(args, sio)
	case "shift":
		n := 1
		if len(args) > 0 {
			n, _ = strconv.Atoi(args[0])
		}
		if n > len(s.args) || n < 0 {
			fmt.Fprintf(sio.err, "%s: 1: shift: can't shift that many\n", s.arg0)
			s.status = 2
			return &shExit{code: 2}
		}
		s.args, s.status = s.args[n:], 0
	case "umask":
		if len(args) == 0 {
			fmt.Fprintf(sio.out, "%04o\n", s.umask)
		} else if v, err := strconv.ParseUint(args[0], 8, 32); err == nil {
			s.umask = os.FileMode(v) & 0o777
		} else {
			fmt.Fprintf(sio.err, "%s: 1: umask: Illegal mode: %s\n", s.arg0, args[0])
			s.status = 2
			return nil
		}
		s.status = 0
	case "export", "readonly", "local":
		special()
		for _, a := range args {
			if n, v, ok := strings.Cut(a, "="); ok && isShName(n) {
				s.vars[n] = v
			}
		}
		s.status = 0
	case "unset":
		for _, a := range args {
			delete(s.vars, a)
		}
		s.status = 0
	case "trap":
		// Only the EXIT trap matters for scripts that clean up after themselves.
		if len(args) >= 2 {
			for _, sig := range args[1:] {
				if sig == "EXIT" || sig == "0" {
					s.trapExit = args[0]
					if args[0] == "-" {
						s.trapExit = ""
					}
				}
			}
		}
		s.status = 0
	case "read":
		return s.read(args, sio)
	case "eval":
		code := s.runScriptNested(ctx, strings.Join(args, " "), sio)
		s.status = code
	case "exec":
		code := s.external(ctx, args, sio)
		s.status = code
		return &shExit{code: code}
	case "command":
		if len(args) > 0 && args[0] == "-v" {
			if len(args) > 1 {
				fmt.Fprintln(sio.out, args[1])
				s.status = 0
			}
			return nil
		}
		if len(args) > 0 {
			return s.runSimple(ctx, args, nil, sio)
		}
	case "wait":
		s.status = 0
	case "test", "[":
		if name == "[" {
			if len(args) == 0 || args[len(args)-1] != "]" {
				fmt.Fprintf(sio.err, "%s: 1: [: missing ]\n", s.arg0)
				s.status = 2
				return nil
			}
			args = args[:len(args)-1]
		}
		s.status = s.test(args, sio)
	case "echo":
		s.status = shEcho(args, sio.out, !s.bash)
	case "printf":
		s.status = shPrintf(args, sio.out, sio.err)
	default:
		s.status = s.external(ctx, argv, sio)
	}
	return nil
}

func (s *shell) external(ctx context.Context, argv []string, sio shIO) int {
	if len(argv) == 0 {
		return 0
	}
	if err := ctx.Err(); err != nil {
		return 130
	}
	return s.sys.command(ctx, s, argv, sio.in, sio.out, sio.err)
}

// runScriptNested runs script text in this shell (eval).
func (s *shell) runScriptNested(ctx context.Context, script string, sio shIO) int {
	l, err := parseSh(script)
	if err != nil {
		fmt.Fprintf(sio.err, "%s: 1: %v\n", s.arg0, err)
		return 2
	}
	if err := s.runList(ctx, l, sio); err != nil {
		var ex *shExit
		if errors.As(err, &ex) {
			return ex.code
		}
	}
	return s.status
}

func (s *shell) set(args []string, sio shIO) error {
	s.status = 0
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			s.args = append([]string(nil), args[i+1:]...)
			return nil
		}
		if a == "-o" || a == "+o" {
			i++ // pipefail and friends: accepted
			continue
		}
		if len(a) < 2 || (a[0] != '-' && a[0] != '+') {
			s.args = append([]string(nil), args[i:]...)
			return nil
		}
		on := a[0] == '-'
		for _, f := range a[1:] {
			switch f {
			case 'e':
				s.errexit = on
			case 'u':
				s.nounset = on
			case 'x', 'f', 'C', 'v':
			default:
				fmt.Fprintf(sio.err, "%s: 1: set: Illegal option %c%c\n", s.arg0, a[0], f)
				s.status = 2
				return &shExit{code: 2}
			}
		}
	}
	return nil
}

// read reads one line of stdin into variables ("read -r a b").
func (s *shell) read(args []string, sio shIO) error {
	raw := false
	var names []string
	for _, a := range args {
		switch {
		case a == "-r":
			raw = true
		case strings.HasPrefix(a, "-"):
		default:
			names = append(names, a)
		}
	}
	if len(names) == 0 {
		names = []string{"REPLY"}
	}
	// Read byte by byte so that what follows the line stays for the next
	// command, as read(1) does on a pipe.
	var line []byte
	var b [1]byte
	eof := false
	for {
		n, err := sio.in.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			line = append(line, b[0])
		}
		if err != nil {
			eof = true
			break
		}
	}
	text := string(line)
	if !raw {
		text = strings.ReplaceAll(text, "\\", "")
	}
	fields := strings.Fields(text)
	for i, n := range names {
		switch {
		case i >= len(fields):
			s.vars[n] = ""
		case i == len(names)-1:
			// The last name takes the rest of the line.
			rest := strings.TrimLeft(text, " \t")
			for j := 0; j < i; j++ {
				rest = strings.TrimLeft(strings.TrimPrefix(rest, fields[j]), " \t")
			}
			s.vars[n] = strings.TrimRight(rest, " \t")
		default:
			s.vars[n] = fields[i]
		}
	}
	s.status = 0
	if eof && len(line) == 0 {
		s.status = 1
	}
	return nil
}

// shEcho is echo: -n drops the newline; dash's echo (escapes) also
// decodes \n \t \\ \0NNN and stops at \c.
func shEcho(args []string, out io.Writer, escapes bool) int {
	nl := true
	if len(args) > 0 && args[0] == "-n" {
		nl, args = false, args[1:]
	}
	s := strings.Join(args, " ")
	if escapes && strings.Contains(s, "\\") {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] != '\\' {
				b.WriteByte(s[i])
				continue
			}
			n, text, stop := shEscape(s[i:], true)
			if stop {
				io.WriteString(out, b.String())
				return 0
			}
			b.WriteString(text) // an unknown escape comes back as written
			i += n - 1
		}
		s = b.String()
	}
	io.WriteString(out, s)
	if nl {
		io.WriteString(out, "\n")
	}
	return 0
}

// test evaluates test(1) expressions: ! negation, -a/-o are not supported.
func (s *shell) test(args []string, sio shIO) int {
	neg := false
	for len(args) > 0 && args[0] == "!" && len(args) != 2 || len(args) == 2 && args[0] == "!" {
		neg, args = !neg, args[1:]
		if len(args) <= 1 {
			break
		}
	}
	r, ok := s.testExpr(args)
	if !ok {
		fmt.Fprintf(sio.err, "%s: 1: test: unexpected operator\n", s.arg0)
		return 2
	}
	if r != neg {
		return 0
	}
	return 1
}

func (s *shell) testExpr(args []string) (bool, bool) {
	switch len(args) {
	case 0:
		return false, true
	case 1:
		return args[0] != "", true
	case 2:
		op, p := args[0], args[1]
		switch op {
		case "-n":
			return p != "", true
		case "-z":
			return p == "", true
		}
		fi, err := os.Lstat(s.host(p))
		if err == nil && fi.Mode()&os.ModeSymlink != 0 && op != "-L" && op != "-h" {
			fi, err = os.Stat(s.host(p))
		}
		e := err == nil
		switch op {
		case "-e", "-r", "-w":
			return e, true
		case "-f":
			return e && fi.Mode().IsRegular(), true
		case "-d":
			return e && fi.IsDir(), true
		case "-s":
			return e && fi.Size() > 0, true
		case "-x":
			return e && fi.Mode()&0o111 != 0, true
		case "-L", "-h":
			return e && fi.Mode()&os.ModeSymlink != 0, true
		}
		return false, false
	case 3:
		a, op, b := args[0], args[1], args[2]
		switch op {
		case "=", "==":
			return a == b, true
		case "!=":
			return a != b, true
		}
		x, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
		y, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 64)
		if err1 != nil || err2 != nil {
			return false, false
		}
		switch op {
		case "-eq":
			return x == y, true
		case "-ne":
			return x != y, true
		case "-lt":
			return x < y, true
		case "-le":
			return x <= y, true
		case "-gt":
			return x > y, true
		case "-ge":
			return x >= y, true
		}
	}
	return false, false
}

// Expansion.

// shField is one field being built: its text, and the same text as a glob
// pattern (quoted characters escaped).
type shField struct {
	text, pat strings.Builder
	glob      bool // an unquoted glob character is in it
	set       bool // the field exists even if empty (quotes were seen)
}

type shExpander struct {
	s         *shell
	ctx       context.Context
	split     bool // field splitting and globs apply (command words)
	fields    []*shField
	subStatus *int
}

func (e *shExpander) cur() *shField {
	if len(e.fields) == 0 {
		e.fields = append(e.fields, &shField{})
	}
	return e.fields[len(e.fields)-1]
}

func (e *shExpander) lit(text string, quoted bool) {
	f := e.cur()
	f.text.WriteString(text)
	if quoted {
		f.pat.WriteString(escapeGlob(text))
		f.set = true
		return
	}
	f.pat.WriteString(text)
	if text != "" {
		f.set = true
	}
	if strings.ContainsAny(text, "*?[") {
		f.glob = true
	}
}

// value adds the result of an expansion; unquoted, it is split on white
// space when splitting applies.
func (e *shExpander) value(v string, quoted bool) {
	if quoted || !e.split {
		e.lit(v, true)
		return
	}
	if v == "" {
		return
	}
	parts := strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' })
	startsSep := strings.IndexByte(" \t\n", v[0]) >= 0
	endsSep := strings.IndexByte(" \t\n", v[len(v)-1]) >= 0
	for i, p := range parts {
		if i > 0 || startsSep && e.cur().set {
			e.fields = append(e.fields, &shField{})
		}
		e.lit(p, true)
	}
	if endsSep && len(parts) > 0 {
		e.fields = append(e.fields, &shField{})
	}
}

func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`*?[\`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (s *shell) expand(ctx context.Context, raw string, split bool, subStatus *int) ([]*shField, error) {
	e := &shExpander{s: s, ctx: ctx, split: split, subStatus: subStatus}
	e.cur()
	if err := e.word(raw, false); err != nil {
		return nil, err
	}
	return e.fields, nil
}

// word expands raw text; inDquote is true inside "...".
func (e *shExpander) word(raw string, inDquote bool) error {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			if i+1 >= len(raw) {
				e.lit("\\", inDquote)
				i++
				continue
			}
			n := raw[i+1]
			if inDquote && strings.IndexByte("$`\"\\\n", n) < 0 {
				e.lit("\\", true)
				i++
				continue
			}
			if n != '\n' {
				e.lit(string(n), true)
			}
			i += 2
		case c == '\'' && !inDquote:
			j := strings.IndexByte(raw[i+1:], '\'')
			if j < 0 {
				return shSyntax("unterminated quoted string")
			}
			e.lit(raw[i+1:i+1+j], true)
			i += j + 2
		case c == '"' && !inDquote:
			j, err := scanDquote(raw, i+1)
			if err != nil {
				return err
			}
			inner := raw[i+1 : j-1]
			if inner == "$@" {
				// "$@": one field per positional parameter, none when there are none.
				for k, a := range e.s.args {
					if k > 0 {
						e.fields = append(e.fields, &shField{})
					}
					e.lit(a, true)
				}
			} else {
				e.lit("", true)
				if err := e.word(inner, true); err != nil {
					return err
				}
			}
			i = j
		case c == '`':
			j := strings.IndexByte(raw[i+1:], '`')
			if j < 0 {
				return shSyntax("unterminated `")
			}
			out, err := e.cmdSubst(raw[i+1 : i+1+j])
			if err != nil {
				return err
			}
			e.value(out, inDquote)
			i += j + 2
		case c == '$':
			n, err := e.dollar(raw[i:], inDquote)
			if err != nil {
				return err
			}
			i += n
		default:
			j := i + 1
			for j < len(raw) && strings.IndexByte("\\'\"`$", raw[j]) < 0 {
				j++
			}
			e.lit(raw[i:j], inDquote)
			i = j
		}
	}
	return nil
}

// dollar expands the $ construct at the start of s and returns its length.
func (e *shExpander) dollar(s string, quoted bool) (int, error) {
	if len(s) < 2 {
		e.lit("$", quoted)
		return 1, nil
	}
	switch c := s[1]; {
	case c == '(':
		if strings.HasPrefix(s, "$((") {
			return 0, shSyntax("arithmetic expansion is not supported")
		}
		j, err := scanNested(s, 1)
		if err != nil {
			return 0, err
		}
		out, err := e.cmdSubst(s[2 : j-1])
		if err != nil {
			return 0, err
		}
		e.value(out, quoted)
		return j, nil
	case c == '{':
		j, err := scanNested(s, 1)
		if err != nil {
			return 0, err
		}
		return j, e.braced(s[2:j-1], quoted)
	case c == '@' || c == '*':
		if quoted && c == '*' {
			e.lit(strings.Join(e.s.args, " "), true)
			return 2, nil
		}
		for k, a := range e.s.args {
			if k > 0 {
				if quoted {
					e.lit(" ", true)
				} else {
					e.fields = append(e.fields, &shField{})
				}
			}
			e.value(a, quoted)
		}
		return 2, nil
	case c >= '0' && c <= '9' || strings.IndexByte("#?$!-", c) >= 0:
		v, set := e.s.param(string(c))
		if !set && e.s.nounset && c >= '1' && c <= '9' {
			return 0, fmt.Errorf("%c: parameter not set", c)
		}
		e.value(v, quoted)
		return 2, nil
	case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		j := 2
		for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		v, set := e.s.param(s[1:j])
		if !set && e.s.nounset {
			return 0, fmt.Errorf("%s: parameter not set", s[1:j])
		}
		e.value(v, quoted)
		return j, nil
	}
	e.lit("$", quoted)
	return 1, nil
}

// braced expands ${...}.
func (e *shExpander) braced(body string, quoted bool) error {
	if strings.HasPrefix(body, "#") && len(body) > 1 {
		v, _ := e.s.param(body[1:])
		e.value(strconv.Itoa(len([]rune(v))), quoted)
		return nil
	}
	name := body
	op, arg := "", ""
	for i := 0; i < len(body); i++ {
		if strings.IndexByte(":-=+?#%", body[i]) >= 0 && i > 0 {
			name = body[:i]
			rest := body[i:]
			for _, o := range []string{":-", ":=", ":+", ":?", "##", "%%", "-", "=", "+", "?", "#", "%"} {
				if strings.HasPrefix(rest, o) {
					op, arg = o, rest[len(o):]
					break
				}
			}
			break
		}
	}
	if op == "" && name != body {
		return shSyntax("bad substitution")
	}
	v, set := e.s.param(name)
	word := func() (string, error) { return e.s.expandWord(e.ctx, arg, e.subStatus) }
	switch op {
	case "":
		if !set && e.s.nounset {
			return fmt.Errorf("%s: parameter not set", name)
		}
	case ":-", "-":
		if !set || op == ":-" && v == "" {
			w, err := word()
			if err != nil {
				return err
			}
			v = w
		}
	case ":=", "=":
		if !set || op == ":=" && v == "" {
			w, err := word()
			if err != nil {
				return err
			}
			v = w
			e.s.vars[name] = w
		}
	case ":+", "+":
		if set && (op == "+" || v != "") {
			w, err := word()
			if err != nil {
				return err
			}
			v = w
		} else {
			v = ""
		}
	case ":?", "?":
		if !set || op == ":?" && v == "" {
			w, _ := word()
			if w == "" {
				w = "parameter null or not set"
			}
			return fmt.Errorf("%s: %s", name, w)
		}
	case "#", "##", "%", "%%":
		pat, err := e.s.expandPattern(e.ctx, arg)
		if err != nil {
			return err
		}
		v = trimPattern(v, pat, op)
	}
	e.value(v, quoted)
	return nil
}

func trimPattern(v, pat, op string) string {
	switch op {
	case "#":
		for i := 0; i <= len(v); i++ {
			if shMatch(pat, v[:i]) {
				return v[i:]
			}
		}
	case "##":
		for i := len(v); i >= 0; i-- {
			if shMatch(pat, v[:i]) {
				return v[i:]
			}
		}
	case "%":
		for i := len(v); i >= 0; i-- {
			if shMatch(pat, v[i:]) {
				return v[:i]
			}
		}
	case "%%":
		for i := 0; i <= len(v); i++ {
			if shMatch(pat, v[i:]) {
				return v[:i]
			}
		}
	}
	return v
}

// param returns a parameter's value and whether it is set.
func (s *shell) param(name string) (string, bool) {
	switch name {
	case "#":
		return strconv.Itoa(len(s.args)), true
	case "?":
		return strconv.Itoa(s.status), true
	case "$":
		return strconv.Itoa(s.pid), true
	case "!":
		return "", false
	case "-":
		f := ""
		if s.errexit {
			f += "e"
		}
		if s.nounset {
			f += "u"
		}
		return f, true
	case "0":
		return s.arg0, true
	case "@", "*":
		return strings.Join(s.args, " "), true
	}
	if n, err := strconv.Atoi(name); err == nil {
		if n >= 1 && n <= len(s.args) {
			return s.args[n-1], true
		}
		return "", false
	}
	v, ok := s.vars[name]
	return v, ok
}

// cmdSubst runs script in a subshell and returns its output without
// trailing newlines.
func (e *shExpander) cmdSubst(script string) (string, error) {
	sub := e.s.subshell()
	var out bytes.Buffer
	code := sub.runScript(e.ctx, script, shIO{in: strings.NewReader(""), out: &out, err: e.s.stderr()})
	if e.subStatus != nil {
		*e.subStatus = code
	}
	return strings.TrimRight(out.String(), "\n"), nil
}

func (s *shell) stderr() io.Writer {
	if s.errw == nil {
		return io.Discard
	}
	return s.errw
}

// expandWords expands command words: fields are split and globbed.
func (s *shell) expandWords(ctx context.Context, raws []string, subStatus *int) ([]string, error) {
	var out []string
	for _, raw := range raws {
		fields, err := s.expand(ctx, raw, true, subStatus)
		if err != nil {
			return nil, err
		}
		for _, f := range fields {
			if !f.set {
				continue
			}
			if f.glob {
				if m := s.glob(f.pat.String()); len(m) > 0 {
					out = append(out, m...)
					continue
				}
			}
			out = append(out, f.text.String())
		}
	}
	return out, nil
}

// expandWord expands one word without splitting or globbing (assignments,
// redirect targets, case words).
func (s *shell) expandWord(ctx context.Context, raw string, subStatus *int) (string, error) {
	fields, err := s.expand(ctx, raw, false, subStatus)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f.text.String())
	}
	return b.String(), nil
}

// expandPattern expands a case or ${x#...} pattern: quoted parts match
// literally.
func (s *shell) expandPattern(ctx context.Context, raw string) (string, error) {
	fields, err := s.expand(ctx, raw, false, nil)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f.pat.String())
	}
	return b.String(), nil
}

// glob expands a pathname pattern (relative to the working directory)
// against the node's files, sorted bytewise as in the C locale. Names
// starting with a dot match only a pattern starting with a dot.
func (s *shell) glob(pat string) []string {
	base := s.cwd
	rel := true
	if strings.HasPrefix(pat, "/") {
		base, rel = "/", false
	}
	parts := strings.Split(strings.Trim(pat, "/"), "/")
	cur := []string{base}
	for _, part := range parts {
		if part == "" {
			continue
		}
		var next []string
		if !strings.ContainsAny(part, "*?[") {
			// Existence is checked at the end: intermediate directories
			// need not exist on the host (/etc is not mapped, /etc/pve is).
			lit := shUnescape(part)
			for _, c := range cur {
				next = append(next, path.Join(c, lit))
			}
		} else {
			for _, c := range cur {
				ents, err := os.ReadDir(s.sys.hostPath(c))
				if err != nil {
					continue
				}
				for _, en := range ents {
					n := en.Name()
					if strings.HasPrefix(n, ".") && !strings.HasPrefix(part, ".") {
						continue
					}
					if shMatch(part, n) {
						next = append(next, path.Join(c, n))
					}
				}
			}
		}
		cur = next
		if len(cur) == 0 {
			return nil
		}
	}
	out := make([]string, 0, len(cur))
	for _, c := range cur {
		if _, err := os.Lstat(s.sys.hostPath(c)); err != nil {
			continue
		}
		if rel {
			r := strings.TrimPrefix(strings.TrimPrefix(c, s.cwd), "/")
			if s.cwd == "/" {
				r = strings.TrimPrefix(c, "/")
			}
			c = r
		}
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

func shUnescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// shMatch matches s against a sh pattern (* ? [...] [!...], \ escapes);
// unlike path.Match, * also matches '/'.
func shMatch(pat, s string) bool {
	for len(pat) > 0 {
		switch pat[0] {
		case '*':
			for len(pat) > 0 && pat[0] == '*' {
				pat = pat[1:]
			}
			if pat == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if shMatch(pat, s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
			pat, s = pat[1:], s[1:]
		case '[':
			if s == "" {
				return false
			}
			end := strings.IndexByte(pat[1:], ']')
			if end == 0 { // "[]...]": ] first is literal
				if e2 := strings.IndexByte(pat[2:], ']'); e2 >= 0 {
					end = e2 + 1
				} else {
					end = -1
				}
			}
			if end < 0 {
				if s[0] != '[' {
					return false
				}
				pat, s = pat[1:], s[1:]
				continue
			}
			class := pat[1 : 1+end]
			neg := strings.HasPrefix(class, "!") || strings.HasPrefix(class, "^")
			if neg {
				class = class[1:]
			}
			if classMatch(class, s[0]) == neg {
				return false
			}
			pat, s = pat[end+2:], s[1:]
		case '\\':
			if len(pat) > 1 {
				pat = pat[1:]
			}
			fallthrough
		default:
			if s == "" || s[0] != pat[0] {
				return false
			}
			pat, s = pat[1:], s[1:]
		}
	}
	return s == ""
}

func classMatch(class string, c byte) bool {
	for i := 0; i < len(class); i++ {
		lo := class[i]
		if lo == '\\' && i+1 < len(class) {
			i++
			lo = class[i]
		}
		if i+2 < len(class) && class[i+1] == '-' {
			hi := class[i+2]
			i += 2
			if lo <= c && c <= hi {
				return true
			}
			continue
		}
		if lo == c {
			return true
		}
	}
	return false
}

// shPrintf implements printf(1): %s %b %c %d %i %u %o %x %X %% with flags,
// width and precision, backslash escapes, and the format reused while
// arguments remain.
func shPrintf(args []string, out, errw io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(errw, "printf: usage: printf format [arg ...]")
		return 2
	}
	format, args := args[0], args[1:]
	w := bufio.NewWriter(out)
	defer w.Flush()
	code := 0
	for {
		used := 0
		stop := false
		for i := 0; i < len(format) && !stop; i++ {
			c := format[i]
			switch {
			case c == '\\':
				n, s, end := shEscape(format[i:], false)
				w.WriteString(s)
				i += n - 1
				stop = end
			case c == '%' && i+1 < len(format):
				j := i + 1
				for j < len(format) && strings.IndexByte("-+ #0", format[j]) >= 0 {
					j++
				}
				for j < len(format) && (format[j] >= '0' && format[j] <= '9' || format[j] == '.') {
					j++
				}
				if j >= len(format) {
					w.WriteString(format[i:])
					i = len(format)
					continue
				}
				verb := format[j]
				spec := format[i:j]
				arg := ""
				if verb != '%' && used < len(args) {
					arg = args[used]
				}
				if verb != '%' {
					used++
				}
				switch verb {
				case '%':
					w.WriteByte('%')
				case 's':
					fmt.Fprintf(w, spec+"s", arg)
				case 'b':
					var b strings.Builder
					for k := 0; k < len(arg); k++ {
						if arg[k] == '\\' {
							n, s, end := shEscape(arg[k:], true)
							b.WriteString(s)
							k += n - 1
							if end {
								stop = true
								break
							}
							continue
						}
						b.WriteByte(arg[k])
					}
					fmt.Fprintf(w, spec+"s", b.String())
				case 'c':
					if arg != "" {
						w.WriteByte(arg[0])
					}
				case 'd', 'i', 'u', 'o', 'x', 'X':
					v, err := strconv.ParseInt(strings.TrimSpace(arg), 0, 64)
					if arg == "" {
						v, err = 0, nil
					}
					if err != nil {
						fmt.Fprintf(errw, "printf: %s: invalid number\n", arg)
						code = 1
					}
					vv := map[byte]byte{'i': 'd', 'u': 'd'}[verb]
					if vv == 0 {
						vv = verb
					}
					fmt.Fprintf(w, spec+string(vv), v)
				default:
					fmt.Fprintf(errw, "printf: %%%c: invalid directive\n", verb)
					return 1
				}
				i = j
			default:
				w.WriteByte(c)
			}
		}
		args = args[min(used, len(args)):]
		if stop || used == 0 || len(args) == 0 {
			return code
		}
	}
}

// shEscape decodes the backslash escape at the start of s; inB selects
// %b's rules (\0NNN). It returns its length, its text and whether it was
// \c (stop output).
func shEscape(s string, inB bool) (int, string, bool) {
	if len(s) < 2 {
		return 1, "\\", false
	}
	switch c := s[1]; c {
	case 'n':
		return 2, "\n", false
	case 't':
		return 2, "\t", false
	case 'r':
		return 2, "\r", false
	case 'a':
		return 2, "\a", false
	case 'b':
		return 2, "\b", false
	case 'f':
		return 2, "\f", false
	case 'v':
		return 2, "\v", false
	case '\\':
		return 2, "\\", false
	case '"', '\'':
		return 2, string(c), false
	case 'c':
		return 2, "", true
	}
	if s[1] >= '0' && s[1] <= '7' {
		start := 1
		if inB && s[1] == '0' {
			start = 2
		}
		j, v := start, 0
		for j < len(s) && j < start+3 && s[j] >= '0' && s[j] <= '7' {
			v = v*8 + int(s[j]-'0')
			j++
		}
		return j, string([]byte{byte(v)}), false
	}
	return 2, s[:2], false
}
