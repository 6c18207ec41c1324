package pvesim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
	case p == "/etc/pve/qemu-server" || strings.HasPrefix(p, "/etc/pve/qemu-server/"):
		return filepath.Join(c.Dir, "nodes", n.Name, "qemu-server", strings.TrimPrefix(p, "/etc/pve/qemu-server"))
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
	case errors.Is(err, syscall.EISDIR):
		return "Is a directory"
	case errors.Is(err, syscall.ENOTDIR):
		return "Not a directory"
	case errors.Is(err, syscall.ENOTEMPTY):
		return "Directory not empty"
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

// shellQuote quotes one argument for a POSIX shell, leaving safe words bare.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
