package pvesim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lxcplan/lxcplan/engine/pve"
)

// Exec runs one SSH exec request: the command line is a script for the
// node's login shell (see [shell] for the sh subset it understands).
func (h *SSHHandler) Exec(ctx context.Context, cmdline string, stdin io.Reader, stdout, stderr io.Writer) int {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	sh := newShell(hostSys{h}, "/root", 0o022)
	sh.bash = true // root's login shell on PVE
	return sh.runScript(ctx, cmdline, shIO{in: stdin, out: stdout, err: stderr})
}

// Exec runs one argv on the node as its login shell would: the PVE tools,
// sh -c scripts and the coreutils the [SSHHandler] knows. It is the
// argv-level entry point for in-process runners.
func (n *Node) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(argv) == 0 {
		return 0
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	h := n.Handler()
	return h.command(ctx, newShell(hostSys{h}, "/root", 0o022), argv, stdin, stdout, stderr)
}

// hostSys is the node behind a memory node's shell.
type hostSys struct{ h *SSHHandler }

func (s hostSys) hostPath(p string) string { return s.h.n.hostPath(p) }

func (s hostSys) command(ctx context.Context, sh *shell, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return s.h.command(ctx, sh, argv, stdin, stdout, stderr)
}

func (s hostSys) materialize(p string) { s.h.n.materialize(p) }

func (s hostSys) probe(addr string, port int) bool { return s.h.n.cluster.probe(addr, port) }

// probe answers a connection attempt from a node to addr:port: through
// [Cluster.Probe] when set, else open when addr belongs to a running
// container of the memory runtime that listens on port.
func (c *Cluster) probe(addr string, port int) bool {
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	if c.Probe != nil {
		return c.Probe(addr, port)
	}
	if c.mem == nil {
		return false
	}
	return c.mem.listening(addr, port)
}

// command runs one command of the node's shell sh (its working directory
// and umask apply). PVE tools go to [RunTool]; everything else is the set
// of coreutils below.
func (h *SSHHandler) command(ctx context.Context, sh *shell, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	n := h.n
	tool := path.Base(argv[0])
	if slices.Contains(Tools, tool) {
		return RunTool(ctx, n, tool, argv[1:], stdin, stdout, stderr)
	}
	args := argv[1:]
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			n.materialize(sh.abs(a))
		}
	}
	switch tool {
	case "sh", "bash", "dash":
		return h.subShell(ctx, sh, tool, argv, stdin, stdout, stderr)
	case "true", ":":
		return 0
	case "false":
		return 1
	case "echo":
		return shEcho(args, stdout, false) // /bin/echo takes no escapes
	case "printf":
		return shPrintf(args, stdout, stderr)
	case "test", "[":
		sub := sh.subshell()
		sub.runSimple(ctx, append([]string{tool}, args...), nil, shIO{in: stdin, out: stdout, err: stderr})
		return sub.status
	case "hostname":
		fmt.Fprintln(stdout, n.Name)
		return 0
	case "id":
		fmt.Fprintln(stdout, "0")
		return 0
	case "chown", "sync", "chgrp":
		return 0
	case "sleep":
		if len(args) > 0 {
			d, err := time.ParseDuration(strings.TrimSuffix(args[0], "s") + "s")
			if err == nil {
				if sleepCtx(ctx, d) != nil {
					return 130
				}
			}
		}
		return 0
	case "timeout":
		return h.timeout(ctx, sh, args, stdin, stdout, stderr)
	case "tee":
		return h.tee(sh, args, stdin, stdout, stderr)
	case "cat":
		return h.cat(sh, args, stdin, stdout, stderr)
	case "head", "tail":
		return h.headTail(sh, tool, args, stdin, stdout, stderr)
	case "ls":
		return h.ls(sh, args, stdout, stderr)
	case "mkdir":
		return h.mkdir(sh, args, stderr)
	case "rmdir":
		return h.rmdir(sh, args, stderr)
	case "touch":
		return h.touch(sh, args, stderr)
	case "rm":
		return h.rm(sh, args, stderr)
	case "mv":
		return h.mv(sh, args, stderr)
	case "cp":
		return h.cp(sh, args, stderr)
	case "install":
		return h.install(sh, args, stdin, stderr)
	case "chmod":
		return h.chmod(sh, args, stderr)
	case "mktemp":
		return h.mktemp(sh, args, stdout, stderr)
	case "stat":
		return h.stat(sh, args, stdout, stderr)
	case "date":
		return h.date(args, stdout, stderr)
	case "sha256sum":
		return h.sha256sum(sh, args, stdin, stdout, stderr)
	case "base64":
		return h.base64(sh, args, stdin, stdout, stderr)
	case "basename":
		if len(args) > 0 {
			b := path.Base(args[0])
			if len(args) > 1 {
				b = strings.TrimSuffix(b, args[1])
			}
			fmt.Fprintln(stdout, b)
		}
		return 0
	case "dirname":
		if len(args) > 0 {
			fmt.Fprintln(stdout, path.Dir(args[0]))
		}
		return 0
	case "curl":
		return h.curl(args, stdout, stderr)
	case "ip":
		return h.ip(args, stdout, stderr)
	case "scp":
		return h.scpSink(args, stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "sh: 1: %s: not found\n", argv[0])
	return 127
}

// subShell runs sh/bash: "sh -c SCRIPT [NAME [ARG...]]" with $0 = NAME
// and $1... = ARGs, or a script read from stdin. The config dump of
// [pve.DumpConfigsArgv] is answered natively from the cluster directory
// (same output, without interpreting a loop over every guest).
func (h *SSHHandler) subShell(ctx context.Context, parent *shell, tool string, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if slices.Equal(argv, pve.DumpConfigsArgv()) {
		return h.dumpConfigs(stdout, stderr)
	}
	sh := newShell(parent.sys, parent.cwd, parent.umask)
	sh.arg0, sh.bash = tool, tool == "bash"
	args := argv[1:]
	script, fromStdin := "", true
	for len(args) > 0 && len(args[0]) > 1 && (args[0][0] == '-' || args[0][0] == '+') {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		if a == "-o" || a == "+o" {
			if len(args) > 0 {
				args = args[1:]
			}
			continue
		}
		for _, f := range a[1:] {
			switch f {
			case 'c':
				fromStdin = false
			case 'e':
				sh.errexit = a[0] == '-'
			case 'u':
				sh.nounset = a[0] == '-'
			}
		}
	}
	if !fromStdin {
		if len(args) == 0 {
			fmt.Fprintf(stderr, "%s: 0: -c requires an argument\n", tool)
			return 2
		}
		script, args = args[0], args[1:]
		if len(args) > 0 {
			sh.arg0, args = args[0], args[1:]
		}
		sh.args = args
	} else {
		b, _ := io.ReadAll(stdin)
		script, stdin = string(b), strings.NewReader("")
		sh.args = args
	}
	return sh.runScript(ctx, script, shIO{in: stdin, out: stdout, err: stderr})
}

// dumpConfigs answers [pve.DumpConfigsArgv] as the script does on a node:
// every */lxc/*.conf then every */qemu-server/*.conf under /etc/pve/nodes
// that is a regular file, in glob order.
func (h *SSHHandler) dumpConfigs(stdout, stderr io.Writer) int {
	root := filepath.Join(h.n.cluster.Dir, "nodes")
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		fmt.Fprintln(stderr, "sh: 1: cd: can't cd to /etc/pve/nodes")
		return 2
	}
	var entries []pve.DumpEntry
	for _, dir := range []string{"lxc", "qemu-server"} {
		matches, _ := filepath.Glob(filepath.Join(root, "*", dir, "*.conf"))
		var rels []string
		for _, m := range matches {
			rel, err := filepath.Rel(root, m)
			if err != nil || strings.HasPrefix(filepath.Base(m), ".") || strings.HasPrefix(rel, ".") {
				continue
			}
			rels = append(rels, filepath.ToSlash(rel))
		}
		slices.Sort(rels)
		for _, rel := range rels {
			p := filepath.Join(root, filepath.FromSlash(rel))
			if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
				continue
			}
			data, err := os.ReadFile(p)
			if err != nil {
				fmt.Fprintf(stderr, "base64: %s: %s\n", rel, errText(err))
			}
			entries = append(entries, pve.DumpEntry{Path: rel, Data: data, Unreadable: err != nil})
		}
	}
	stdout.Write(pve.FormatDumpEntries(entries))
	return 0
}

// timeout runs "timeout [-k D] [-s SIG] DURATION CMD..." and exits 124
// when CMD outlives DURATION.
func (h *SSHHandler) timeout(ctx context.Context, sh *shell, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		if (args[0] == "-k" || args[0] == "-s") && len(args) > 1 {
			args = args[1:]
		}
		args = args[1:]
	}
	if len(args) < 2 {
		fmt.Fprintln(stderr, "timeout: missing operand")
		return 125
	}
	d, err := parseSleep(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "timeout: invalid time interval '%s'\n", args[0])
		return 125
	}
	cctx := ctx
	if d > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	code := h.command(cctx, sh, args[1:], stdin, stdout, stderr)
	if d > 0 && cctx.Err() != nil && ctx.Err() == nil {
		return 124
	}
	return code
}

func parseSleep(s string) (time.Duration, error) {
	unit := time.Second
	switch {
	case strings.HasSuffix(s, "m"):
		unit, s = time.Minute, strings.TrimSuffix(s, "m")
	case strings.HasSuffix(s, "h"):
		unit, s = time.Hour, strings.TrimSuffix(s, "h")
	case strings.HasSuffix(s, "s"):
		s = strings.TrimSuffix(s, "s")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return time.Duration(v * float64(unit)), nil
}

// operands drops options (anything starting with "-" before "--") and
// returns the rest; flags gets each option letter seen.
func operands(args []string) (files []string, flags string) {
	for i, a := range args {
		if a == "--" {
			return append(files, args[i+1:]...), flags
		}
		if strings.HasPrefix(a, "--") {
			flags += "\x00" + a[2:]
			continue
		}
		if len(a) > 1 && a[0] == '-' {
			flags += a[1:]
			continue
		}
		files = append(files, a)
	}
	return files, flags
}

// readInput reads a file operand ("-" and /dev/stdin are stdin).
func (h *SSHHandler) readInput(sh *shell, f string, stdin io.Reader) ([]byte, error) {
	switch f {
	case "-", "/dev/stdin":
		return io.ReadAll(stdin)
	case "/dev/null":
		return nil, nil
	}
	return os.ReadFile(sh.host(f))
}

func (h *SSHHandler) cat(sh *shell, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	files, _ := operands(args)
	if len(files) == 0 {
		io.Copy(stdout, stdin)
		return 0
	}
	code := 0
	for _, f := range files {
		b, err := h.readInput(sh, f, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "cat: %s: %s\n", f, errText(err))
			code = 1
			continue
		}
		stdout.Write(b)
	}
	return code
}

func (h *SSHHandler) tee(sh *shell, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	files, flags := operands(args)
	b, _ := io.ReadAll(stdin)
	code := 0
	for _, f := range files {
		flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		if strings.Contains(flags, "a") {
			flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		}
		fh, err := os.OpenFile(sh.host(f), flag, 0o666&^sh.umask)
		if err == nil {
			_, err = fh.Write(b)
			fh.Close()
		}
		if err != nil {
			fmt.Fprintf(stderr, "tee: %s: %s\n", f, errText(err))
			code = 1
		}
	}
	stdout.Write(b)
	return code
}

func (h *SSHHandler) rm(sh *shell, args []string, stderr io.Writer) int {
	files, flags := operands(args)
	force := strings.Contains(flags, "f")
	recursive := strings.ContainsAny(flags, "rR")
	code := 0
	for _, f := range files {
		hp := sh.host(f)
		fi, err := os.Lstat(hp)
		switch {
		case err != nil:
			if !force {
				fmt.Fprintf(stderr, "rm: cannot remove '%s': %s\n", f, errText(err))
				code = 1
			}
			continue
		case fi.IsDir() && !recursive:
			fmt.Fprintf(stderr, "rm: cannot remove '%s': Is a directory\n", f)
			code = 1
			continue
		}
		if err := os.RemoveAll(hp); err != nil {
			fmt.Fprintf(stderr, "rm: cannot remove '%s': %s\n", f, errText(err))
			code = 1
		}
		h.forgetPmxLock(sh.abs(f))
	}
	return code
}

func (h *SSHHandler) rmdir(sh *shell, args []string, stderr io.Writer) int {
	files, _ := operands(args)
	code := 0
	for _, f := range files {
		if err := os.Remove(sh.host(f)); err != nil {
			fmt.Fprintf(stderr, "rmdir: failed to remove '%s': %s\n", f, errText(err))
			code = 1
			continue
		}
		h.forgetPmxLock(sh.abs(f))
	}
	return code
}

func (h *SSHHandler) forgetPmxLock(p string) {
	if !isPmxLock(p) {
		return
	}
	c := h.n.cluster
	c.mu.Lock()
	delete(c.pmxLocks, path.Clean(p))
	c.mu.Unlock()
}

// mv renames; -n keeps an existing target, a directory target receives
// the source under its own name.
func (h *SSHHandler) mv(sh *shell, args []string, stderr io.Writer) int {
	files, flags := operands(args)
	if len(files) < 2 {
		fmt.Fprintln(stderr, "mv: missing file operand")
		return 1
	}
	dst := files[len(files)-1]
	code := 0
	for _, src := range files[:len(files)-1] {
		to := dst
		if fi, err := os.Stat(sh.host(dst)); err == nil && fi.IsDir() {
			to = path.Join(dst, path.Base(src))
		}
		if strings.Contains(flags, "n") {
			if _, err := os.Lstat(sh.host(to)); err == nil {
				continue
			}
		}
		if err := os.Rename(sh.host(src), sh.host(to)); err != nil {
			fmt.Fprintf(stderr, "mv: cannot move '%s' to '%s': %s\n", src, to, errText(err))
			code = 1
		}
	}
	return code
}

func (h *SSHHandler) cp(sh *shell, args []string, stderr io.Writer) int {
	files, _ := operands(args)
	if len(files) < 2 {
		fmt.Fprintln(stderr, "cp: missing file operand")
		return 1
	}
	dst := files[len(files)-1]
	code := 0
	for _, src := range files[:len(files)-1] {
		to := dst
		if fi, err := os.Stat(sh.host(dst)); err == nil && fi.IsDir() {
			to = path.Join(dst, path.Base(src))
		}
		b, err := os.ReadFile(sh.host(src))
		if err == nil {
			err = os.WriteFile(sh.host(to), b, 0o666&^sh.umask)
		}
		if err != nil {
			fmt.Fprintf(stderr, "cp: cannot copy '%s': %s\n", src, errText(err))
			code = 1
		}
	}
	return code
}

// install copies SRC to DST with -m MODE (default 0755), or creates
// directories with -d; -D creates DST's parents; -o/-g are accepted.
func (h *SSHHandler) install(sh *shell, args []string, stdin io.Reader, stderr io.Writer) int {
	mode := os.FileMode(0o755)
	dirs, parents := false, false
	var files []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			files = append(files, args[i+1:]...)
			i = len(args)
		case a == "-m" || a == "-o" || a == "-g":
			if i+1 >= len(args) {
				fmt.Fprintf(stderr, "install: option requires an argument -- '%s'\n", a[1:])
				return 1
			}
			if a == "-m" {
				v, err := strconv.ParseUint(args[i+1], 8, 32)
				if err != nil {
					fmt.Fprintf(stderr, "install: invalid mode '%s'\n", args[i+1])
					return 1
				}
				mode = os.FileMode(v)
			}
			i++
		case strings.HasPrefix(a, "-m") && len(a) > 2:
			v, err := strconv.ParseUint(a[2:], 8, 32)
			if err != nil {
				fmt.Fprintf(stderr, "install: invalid mode '%s'\n", a[2:])
				return 1
			}
			mode = os.FileMode(v)
		case a == "-d":
			dirs = true
		case a == "-D":
			parents = true
		case strings.HasPrefix(a, "-") && len(a) > 1:
		default:
			files = append(files, a)
		}
	}
	if dirs {
		for _, d := range files {
			hp := sh.host(d)
			if err := os.MkdirAll(hp, 0o755); err == nil {
				err = os.Chmod(hp, mode)
			} else {
				fmt.Fprintf(stderr, "install: cannot create directory '%s': %s\n", d, errText(err))
				return 1
			}
		}
		return 0
	}
	if len(files) != 2 {
		fmt.Fprintln(stderr, "install: missing destination file operand")
		return 1
	}
	src, dst := files[0], files[1]
	b, err := h.readInput(sh, src, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "install: cannot stat '%s': %s\n", src, errText(err))
		return 1
	}
	if fi, err := os.Stat(sh.host(dst)); err == nil && fi.IsDir() {
		dst = path.Join(dst, path.Base(src))
	}
	hp := sh.host(dst)
	if parents {
		os.MkdirAll(filepath.Dir(hp), 0o755)
	}
	// Like install(1): a new file replaces the old one, created with the
	// final mode from the start.
	tmp := hp + ".install-tmp"
	if err := os.WriteFile(tmp, b, mode.Perm()); err != nil {
		fmt.Fprintf(stderr, "install: cannot create regular file '%s': %s\n", dst, errText(err))
		return 1
	}
	os.Chmod(tmp, mode)
	if err := os.Rename(tmp, hp); err != nil {
		os.Remove(tmp)
		fmt.Fprintf(stderr, "install: cannot create regular file '%s': %s\n", dst, errText(err))
		return 1
	}
	return 0
}

func (h *SSHHandler) chmod(sh *shell, args []string, stderr io.Writer) int {
	files, _ := operands(args)
	if len(files) < 2 {
		fmt.Fprintln(stderr, "chmod: missing operand")
		return 1
	}
	v, err := strconv.ParseUint(files[0], 8, 32)
	if err != nil {
		return 0 // symbolic modes are accepted and ignored
	}
	code := 0
	for _, f := range files[1:] {
		if err := os.Chmod(sh.host(f), os.FileMode(v)); err != nil {
			fmt.Fprintf(stderr, "chmod: cannot access '%s': %s\n", f, errText(err))
			code = 1
		}
	}
	return code
}

// mktemp creates a file (or with -d a directory) from a template whose
// trailing X's are replaced; default /tmp/tmp.XXXXXXXXXX. -p DIR and
// --tmpdir[=DIR] put a bare template in DIR (default /tmp).
func (h *SSHHandler) mktemp(sh *shell, args []string, stdout, stderr io.Writer) int {
	dir, tmpdir, template := false, "", ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-d" || a == "--directory":
			dir = true
		case a == "-p" && i+1 < len(args):
			tmpdir = args[i+1]
			i++
		case a == "-t" || a == "--tmpdir":
			tmpdir = "/tmp"
		case strings.HasPrefix(a, "--tmpdir="):
			tmpdir = strings.TrimPrefix(a, "--tmpdir=")
		case a == "-q" || a == "-u" || a == "--":
		default:
			template = a
		}
	}
	if template == "" {
		template, tmpdir = "tmp.XXXXXXXXXX", cmp(tmpdir, "/tmp")
	}
	if tmpdir != "" && !strings.Contains(template, "/") {
		template = path.Join(tmpdir, template)
	}
	x := len(template) - len(strings.TrimRight(template, "X"))
	if x < 3 {
		fmt.Fprintf(stderr, "mktemp: too few X's in template '%s'\n", template)
		return 1
	}
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for try := 0; try < 100; try++ {
		b := make([]byte, x)
		rand.Read(b)
		for i := range b {
			b[i] = letters[int(b[i])%len(letters)]
		}
		name := template[:len(template)-x] + string(b)
		hp := sh.host(name)
		var err error
		if dir {
			err = os.Mkdir(hp, 0o700)
		} else {
			var f *os.File
			if f, err = os.OpenFile(hp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
				f.Close()
			}
		}
		if os.IsExist(err) {
			continue
		}
		if err != nil {
			fmt.Fprintf(stderr, "mktemp: failed to create %s via template '%s': %s\n", map[bool]string{true: "directory", false: "file"}[dir], template, errText(err))
			return 1
		}
		fmt.Fprintln(stdout, name)
		return 0
	}
	fmt.Fprintf(stderr, "mktemp: failed to create file via template '%s': File exists\n", template)
	return 1
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// stat supports -c FORMAT (and --format=, --printf=) with %s %Y %X %Z %a
// %A %n %F %u %g %U %G %i %h; pmxcfs lock dirs report the time of their
// last refresh as %Y.
func (h *SSHHandler) stat(sh *shell, args []string, stdout, stderr io.Writer) int {
	format, nl := "", true
	var files []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "-c" || a == "--format") && i+1 < len(args):
			format = args[i+1]
			i++
		case strings.HasPrefix(a, "--format="):
			format = strings.TrimPrefix(a, "--format=")
		case strings.HasPrefix(a, "--printf="):
			format, nl = strings.TrimPrefix(a, "--printf="), false
		case a == "--":
			files = append(files, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && len(a) > 1:
		default:
			files = append(files, a)
		}
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "stat: missing operand")
		return 1
	}
	if format == "" {
		format = "  File: %n\n  Size: %s"
	}
	code := 0
	for _, f := range files {
		fi, err := os.Lstat(sh.host(f))
		if err != nil {
			fmt.Fprintf(stderr, "stat: cannot statx '%s': %s\n", f, errText(err))
			code = 1
			continue
		}
		mtime := fi.ModTime()
		if isPmxLock(sh.abs(f)) {
			c := h.n.cluster
			c.mu.Lock()
			if t, ok := c.pmxLocks[path.Clean(sh.abs(f))]; ok {
				mtime = t
			}
			c.mu.Unlock()
		}
		var b strings.Builder
		for i := 0; i < len(format); i++ {
			if format[i] != '%' || i+1 >= len(format) {
				b.WriteByte(format[i])
				continue
			}
			i++
			switch format[i] {
			case 's':
				b.WriteString(strconv.FormatInt(fi.Size(), 10))
			case 'Y', 'X', 'Z':
				b.WriteString(strconv.FormatInt(mtime.Unix(), 10))
			case 'a':
				b.WriteString(strconv.FormatUint(uint64(fi.Mode().Perm()), 8))
			case 'A':
				b.WriteString(fi.Mode().String())
			case 'n':
				b.WriteString(f)
			case 'F':
				switch {
				case fi.IsDir():
					b.WriteString("directory")
				case fi.Mode()&os.ModeSymlink != 0:
					b.WriteString("symbolic link")
				case fi.Size() == 0:
					b.WriteString("regular empty file")
				default:
					b.WriteString("regular file")
				}
			case 'u', 'g':
				b.WriteByte('0')
			case 'U', 'G':
				b.WriteString("root")
			case 'i':
				b.WriteString("1")
			case 'h':
				b.WriteString("1")
			case '%':
				b.WriteByte('%')
			default:
				b.WriteByte('?')
			}
		}
		if nl {
			b.WriteByte('\n')
		}
		io.WriteString(stdout, b.String())
	}
	return code
}

// date prints the cluster clock: "+FORMAT" with %s %Y %m %d %H %M %S %F
// %T %z %Z %%, -u for UTC, -d @N for a given time.
func (h *SSHHandler) date(args []string, stdout, stderr io.Writer) int {
	t := h.n.cluster.now()
	utc := false
	format := "%a %b %e %H:%M:%S %Z %Y"
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-u" || a == "--utc":
			utc = true
		case (a == "-d" || a == "--date") && i+1 < len(args):
			v := args[i+1]
			i++
			n, err := strconv.ParseInt(strings.TrimPrefix(v, "@"), 10, 64)
			if !strings.HasPrefix(v, "@") || err != nil {
				fmt.Fprintf(stderr, "date: invalid date '%s'\n", v)
				return 1
			}
			t = time.Unix(n, 0)
		case strings.HasPrefix(a, "+"):
			format = a[1:]
		}
	}
	if utc {
		t = t.UTC()
	}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 >= len(format) {
			b.WriteByte(format[i])
			continue
		}
		i++
		switch format[i] {
		case 's':
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		case 'Y':
			b.WriteString(t.Format("2006"))
		case 'm':
			b.WriteString(t.Format("01"))
		case 'd':
			b.WriteString(t.Format("02"))
		case 'e':
			b.WriteString(t.Format("_2"))
		case 'H':
			b.WriteString(t.Format("15"))
		case 'M':
			b.WriteString(t.Format("04"))
		case 'S':
			b.WriteString(t.Format("05"))
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'b':
			b.WriteString(t.Format("Jan"))
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'Z':
			b.WriteString(t.Format("MST"))
		case 'N':
			fmt.Fprintf(&b, "%09d", t.Nanosecond())
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	fmt.Fprintln(stdout, b.String())
	return 0
}

func (h *SSHHandler) sha256sum(sh *shell, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	files, _ := operands(args)
	if len(files) == 0 {
		files = []string{"-"}
	}
	code := 0
	for _, f := range files {
		b, err := h.readInput(sh, f, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "sha256sum: %s: %s\n", f, errText(err))
			code = 1
			continue
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(stdout, "%s  %s\n", hex.EncodeToString(sum[:]), f)
	}
	return code
}

// base64 encodes (lines of 76, or -w N; -w 0 for one line) or with -d
// decodes one file or stdin.
func (h *SSHHandler) base64(sh *shell, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	decode, wrap := false, 76
	var files []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-d" || a == "--decode":
			decode = true
		case a == "-w" && i+1 < len(args):
			wrap, _ = strconv.Atoi(args[i+1])
			i++
		case strings.HasPrefix(a, "--wrap="):
			wrap, _ = strconv.Atoi(strings.TrimPrefix(a, "--wrap="))
		case a == "--":
			files = append(files, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && len(a) > 1:
		default:
			files = append(files, a)
		}
	}
	f := "-"
	if len(files) > 1 {
		fmt.Fprintf(stderr, "base64: extra operand '%s'\n", files[1])
		return 1
	}
	if len(files) == 1 {
		f = files[0]
	}
	b, err := h.readInput(sh, f, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "base64: %s: %s\n", f, errText(err))
		return 1
	}
	if decode {
		clean := strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, string(b))
		out, err := base64.StdEncoding.DecodeString(clean)
		if err != nil {
			fmt.Fprintln(stderr, "base64: invalid input")
			return 1
		}
		stdout.Write(out)
		return 0
	}
	if wrap == 76 {
		var buf bytes.Buffer
		pve.WriteBase64Lines(&buf, b)
		stdout.Write(buf.Bytes())
		return 0
	}
	enc := base64.StdEncoding.EncodeToString(b)
	for wrap > 0 && len(enc) > wrap {
		io.WriteString(stdout, enc[:wrap]+"\n")
		enc = enc[wrap:]
	}
	if enc != "" || wrap == 0 {
		io.WriteString(stdout, enc+"\n")
	}
	return 0
}

// curl answers http(s) requests from the node to a container: a probe
// that finds the address and port open gets 200 and an empty body.
// Supported: -o FILE (/dev/null), -w with %{http_code}, -s -S -f -L -k,
// --max-time/-m, --connect-timeout, --noproxy, -H and -X (ignored).
func (h *SSHHandler) curl(args []string, stdout, stderr io.Writer) int {
	writeOut, rawURL, silent, showErr := "", "", false, false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "-o", "--output", "-m", "--max-time", "--connect-timeout", "--noproxy", "-H", "--header", "-X", "--request", "--retry", "-u", "--user", "-A":
			i++
		case "-w", "--write-out":
			if i+1 < len(args) {
				writeOut = args[i+1]
			}
			i++
		default:
			if strings.HasPrefix(a, "-") && len(a) > 1 {
				if !strings.HasPrefix(a, "--") {
					silent = silent || strings.Contains(a, "s")
					showErr = showErr || strings.Contains(a, "S")
				}
				continue
			}
			rawURL = a
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		fmt.Fprintf(stderr, "curl: (3) URL using bad/illegal format or missing URL\n")
		return 3
	}
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		port, _ = strconv.Atoi(p)
	}
	code := "200"
	exit := 0
	if !h.n.cluster.probe(u.Hostname(), port) {
		code, exit = "000", 7
		if !silent || showErr {
			fmt.Fprintf(stderr, "curl: (7) Failed to connect to %s port %d after 0 ms: Couldn't connect to server\n", u.Hostname(), port)
		}
	}
	io.WriteString(stdout, strings.NewReplacer("%{http_code}", code, "%{response_code}", code, `\n`, "\n").Replace(writeOut))
	return exit
}

// ip answers "ip [-o] link show [type bridge | [dev] NAME]" from
// [Cluster.Bridges] in iproute2's format: lo, the uplink eno1 (enslaved to
// the first bridge) and the bridges.
func (h *SSHHandler) ip(args []string, stdout, stderr io.Writer) int {
	oneline := false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		if args[0] == "-o" || args[0] == "-oneline" {
			oneline = true
		}
		args = args[1:]
	}
	if len(args) == 0 || (args[0] != "link" && args[0] != "l") {
		fmt.Fprintf(stderr, "pvesim: ip %s is not simulated\n", strings.Join(args, " "))
		return 1
	}
	args = args[1:]
	if len(args) > 0 && (args[0] == "show" || args[0] == "list" || args[0] == "ls") {
		args = args[1:]
	}
	typ, dev := "", ""
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "type" && i+1 < len(args):
			typ = args[i+1]
			i++
		case args[i] == "dev" && i+1 < len(args):
			dev = args[i+1]
			i++
		case args[i] == "up":
		default:
			dev = args[i]
		}
	}
	type link struct {
		name, flags, rest, kind, lladdr string
	}
	bridges := h.n.cluster.Bridges
	links := []link{{name: "lo", flags: "<LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000", kind: "loopback",
		lladdr: "link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00"}}
	master := ""
	if len(bridges) > 0 {
		master = "master " + bridges[0] + " "
	}
	links = append(links, link{name: "eno1", flags: "<BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast " + master + "state UP mode DEFAULT group default qlen 1000",
		kind: "ether", lladdr: "link/ether " + nodeMAC(h.n.Name, "eno1") + " brd ff:ff:ff:ff:ff:ff"})
	for _, br := range bridges {
		links = append(links, link{name: br, flags: "<BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000",
			kind: "bridge", lladdr: "link/ether " + nodeMAC(h.n.Name, br) + " brd ff:ff:ff:ff:ff:ff"})
	}
	found := false
	for i, l := range links {
		if typ != "" && l.kind != typ {
			continue
		}
		if dev != "" && l.name != dev {
			continue
		}
		found = true
		sep := "\n    "
		if oneline {
			sep = "\\    "
		}
		fmt.Fprintf(stdout, "%d: %s: %s%s%s\n", i+1, l.name, l.flags, sep, l.lladdr)
	}
	if dev != "" && !found {
		fmt.Fprintf(stderr, "Device \"%s\" does not exist.\n", dev)
		return 1
	}
	return 0
}

// nodeMAC is a stable locally administered MAC for a node's interface.
func nodeMAC(node, iface string) string {
	sum := sha256.Sum256([]byte(node + "/" + iface))
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", sum[0], sum[1], sum[2])
}

// headTail implements head/tail -n N (and tail -n +N); with several files
// each gets a "==> name <==" header, the usual way to read many files in
// one command.
func (h *SSHHandler) headTail(sh *shell, tool string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
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
		b, err := os.ReadFile(sh.host(f))
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

func (h *SSHHandler) ls(sh *shell, args []string, stdout, stderr io.Writer) int {
	var paths []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			paths = append(paths, a)
		}
	}
	if len(paths) == 0 {
		paths = []string{sh.cwd}
	}
	code := 0
	for _, p := range paths {
		hp := sh.host(p)
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
// mkdir is the lock and fails with EEXIST while anyone holds it (mkdir -p
// of a held lock succeeds without taking it, as on a real node).
func (h *SSHHandler) mkdir(sh *shell, args []string, stderr io.Writer) int {
	parents := false
	mode := 0o777 &^ sh.umask
	var dirs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			dirs = append(dirs, args[i+1:]...)
			i = len(args)
		case a == "-p" || a == "--parents":
			parents = true
		case a == "-m" && i+1 < len(args):
			if v, err := strconv.ParseUint(args[i+1], 8, 32); err == nil {
				mode = os.FileMode(v)
			}
			i++
		case strings.HasPrefix(a, "-") && len(a) > 1:
			if strings.Contains(a, "p") {
				parents = true
			}
		default:
			dirs = append(dirs, a)
		}
	}
	code := 0
	for _, a := range dirs {
		hp := sh.host(a)
		var err error
		if parents {
			if fi, serr := os.Stat(hp); serr == nil && fi.IsDir() {
				continue
			}
			if err = os.MkdirAll(filepath.Dir(hp), 0o777&^sh.umask); err == nil {
				if err = os.Mkdir(hp, mode); os.IsExist(err) {
					err = nil
				}
			}
		} else {
			err = os.Mkdir(hp, mode)
		}
		if err != nil {
			fmt.Fprintf(stderr, "mkdir: cannot create directory '%s': %s\n", a, errText(err))
			code = 1
			continue
		}
		os.Chmod(hp, mode)
		if p := sh.abs(a); isPmxLock(p) {
			c := h.n.cluster
			c.mu.Lock()
			if c.pmxLocks == nil {
				c.pmxLocks = map[string]time.Time{}
			}
			now := c.now()
			c.pmxLocks[p] = now
			c.mu.Unlock()
			os.Chtimes(hp, now, now)
		}
	}
	return code
}

// touch refreshes a pmxcfs lock (utime to now) or, with a zero time
// (touch -d @0), sends an unlock request that drops the lock once it is
// older than 120 s (§14). Elsewhere it creates (unless -c) or updates a
// file, to -d @N when given.
func (h *SSHHandler) touch(sh *shell, args []string, stderr io.Writer) int {
	zero, noCreate := false, false
	var when *time.Time
	var files []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		v := ""
		switch {
		case a == "--":
			files = append(files, args[i+1:]...)
			i = len(args)
			continue
		case a == "-d" || a == "-t" || a == "--date":
			if i+1 < len(args) {
				v = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--date="):
			v = strings.TrimPrefix(a, "--date=")
		case a == "-c" || a == "--no-create":
			noCreate = true
			continue
		case strings.HasPrefix(a, "-") && len(a) > 1:
			noCreate = noCreate || strings.Contains(a, "c")
			continue
		default:
			files = append(files, a)
			continue
		}
		zero = v == "@0" || strings.HasPrefix(v, "1970") || v == "197001010000"
		if n, err := strconv.ParseInt(strings.TrimPrefix(v, "@"), 10, 64); err == nil && strings.HasPrefix(v, "@") {
			t := time.Unix(n, 0)
			when = &t
		}
	}
	c := h.n.cluster
	code := 0
	for _, f := range files {
		hp := sh.host(f)
		if p := sh.abs(f); isPmxLock(p) {
			c.mu.Lock()
			t, held := c.pmxLocks[p]
			if !held {
				if _, err := os.Stat(hp); err == nil {
					// A lock dir created behind our back (lab restart) counts as fresh.
					t, held = c.now(), true
					if c.pmxLocks == nil {
						c.pmxLocks = map[string]time.Time{}
					}
					c.pmxLocks[p] = t
				}
			}
			switch {
			case !held:
				c.mu.Unlock()
				if !noCreate {
					fmt.Fprintf(stderr, "touch: cannot touch '%s': No such file or directory\n", f)
					code = 1
				}
				continue
			case zero:
				if c.now().Sub(t) > pmxcfsLockTTL {
					os.Remove(hp)
					delete(c.pmxLocks, p)
				}
			default:
				now := c.now()
				c.pmxLocks[p] = now
				os.Chtimes(hp, now, now)
			}
			c.mu.Unlock()
			continue
		}
		if _, err := os.Stat(hp); err != nil && noCreate {
			continue
		}
		fh, err := os.OpenFile(hp, os.O_CREATE|os.O_WRONLY, 0o666&^sh.umask)
		if err != nil {
			fmt.Fprintf(stderr, "touch: cannot touch '%s': %s\n", f, errText(err))
			code = 1
			continue
		}
		fh.Close()
		now := c.now()
		if when != nil {
			now = *when
		}
		os.Chtimes(hp, now, now)
	}
	return code
}
