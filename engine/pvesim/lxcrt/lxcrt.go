// Package lxcrt is the real-LXC implementation of [pvesim.Runtime] used by
// the lab: containers are started with the lxc-* commands under a
// per-node lxcpath, with the network configuration written into the
// rootfs before each start as Proxmox does.
//
// The runtime keeps no state in memory: every PVE command is a separate
// process, so everything it needs later (rootfs, id map) is read back
// from the LXC config it wrote.
package lxcrt

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
)

var (
	// ErrNotRunning: the container must be running for this operation.
	ErrNotRunning = errors.New("container not running")
	// ErrSpec: the start spec cannot be turned into an LXC config.
	ErrSpec = errors.New("invalid container spec")
	// ErrLXC: an lxc-* command failed.
	ErrLXC = errors.New("lxc command failed")
)

// StopTimeout bounds a clean shutdown before lxc-stop kills the container.
const StopTimeout = 30 * time.Second

// guestPath is PATH inside containers for Exec.
const guestPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Runtime runs the containers of one lab node.
type Runtime struct {
	lab     *labconf.Lab
	node    string
	lxcPath string
	host    hostFacts
}

var _ pvesim.Runtime = (*Runtime)(nil)

// New returns the runtime of node in lab.
func New(lab *labconf.Lab, node string) *Runtime {
	lp := filepath.Join(lab.Root, "nodes", node, "lxc")
	if n, ok := lab.Node(node); ok && n.LXCPath != "" {
		lp = n.LXCPath
	}
	return &Runtime{lab: lab, node: node, lxcPath: lp, host: detectHost()}
}

func (r *Runtime) name(vmid int) string { return strconv.Itoa(vmid) }

func (r *Runtime) configPath(vmid int) string {
	return filepath.Join(r.lxcPath, r.name(vmid), "config")
}

// lxc runs an lxc-* command for vmid and returns its combined output.
func (r *Runtime) lxc(ctx context.Context, tool string, vmid int, args ...string) (string, error) {
	argv := append([]string{"-P", r.lxcPath, "-n", r.name(vmid)}, args...)
	out, err := exec.CommandContext(ctx, tool, argv...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%w: %s %s: %w: %s", ErrLXC, tool, strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Start writes the container's LXC config and guest network files, then
// starts it and waits until LXC reports RUNNING.
func (r *Runtime) Start(ctx context.Context, s pvesim.StartSpec) error {
	if r.Running(s.VMID) {
		return nil
	}
	cfg, err := configText(s, r.node, r.lab.Bridge, r.host)
	if err != nil {
		return fmt.Errorf("start %d: %w", s.VMID, err)
	}
	if fi, err := os.Stat(s.RootDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("start %d: rootfs %s: %w", s.VMID, s.RootDir, errors.Join(ErrSpec, err))
	}
	uid, gid := 0, 0
	if s.Unprivileged {
		uid, gid = IDShift, IDShift
	}
	if err := writeGuestFiles(s.RootDir, guestFiles(s, r.lab.DNS, r.lab.AptProxy), uid, gid); err != nil {
		return fmt.Errorf("start %d: %w", s.VMID, err)
	}
	dir := filepath.Dir(r.configPath(s.VMID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("start %d: %w", s.VMID, err)
	}
	if err := os.WriteFile(r.configPath(s.VMID), []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("start %d: %w", s.VMID, err)
	}
	logFile := filepath.Join(dir, "lxc.log")
	os.Remove(logFile)
	if _, err := r.lxc(ctx, "lxc-start", s.VMID, "-d", "-o", logFile, "-l", "WARN"); err != nil {
		return fmt.Errorf("start %d: %w%s", s.VMID, err, logTail(logFile))
	}
	if _, err := r.lxc(ctx, "lxc-wait", s.VMID, "-s", "RUNNING", "-t", "15"); err != nil {
		return fmt.Errorf("start %d: %w%s", s.VMID, err, logTail(logFile))
	}
	return nil
}

func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return "\n" + strings.TrimSpace(string(b))
}

// Stop stops the container: force kills at once, otherwise a clean
// shutdown that turns into a kill after StopTimeout.
func (r *Runtime) Stop(ctx context.Context, vmid int, force bool) error {
	if !r.Running(vmid) {
		return nil
	}
	args := []string{"-k"}
	if !force {
		args = []string{"-t", strconv.Itoa(int(StopTimeout / time.Second))}
	}
	if _, err := r.lxc(ctx, "lxc-stop", vmid, args...); err != nil {
		if !r.Running(vmid) {
			return nil
		}
		return fmt.Errorf("stop %d: %w", vmid, err)
	}
	return nil
}

// Running reports whether LXC has the container RUNNING.
func (r *Runtime) Running(vmid int) bool {
	if _, err := os.Stat(r.configPath(vmid)); err != nil {
		return false
	}
	out, err := exec.Command("lxc-info", "-P", r.lxcPath, "-n", r.name(vmid), "-s", "-H").Output()
	return err == nil && strings.TrimSpace(string(out)) == "RUNNING"
}

// Exec runs argv inside the container with a clean environment and
// returns its exit code.
func (r *Runtime) Exec(ctx context.Context, vmid int, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if len(argv) == 0 {
		return -1, fmt.Errorf("exec in %d: empty command: %w", vmid, ErrSpec)
	}
	if !r.Running(vmid) {
		return -1, fmt.Errorf("exec in %d: %w", vmid, ErrNotRunning)
	}
	args := []string{"-P", r.lxcPath, "-n", r.name(vmid), "--clear-env",
		"--set-var", "PATH=" + guestPath, "--set-var", "HOME=/root", "--set-var", "LANG=C.UTF-8", "--"}
	cmd := exec.CommandContext(ctx, "lxc-attach", append(args, argv...)...)
	if stdin == nil {
		stdin = bytes.NewReader(nil)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ctx.Err() != nil {
			return -1, fmt.Errorf("exec in %d: %w", vmid, ctx.Err())
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, fmt.Errorf("exec in %d: %w", vmid, err)
	}
	return 0, nil
}

// Push copies a host file into the running container (through the
// container's own view, so mount points and its id map apply).
func (r *Runtime) Push(ctx context.Context, vmid int, hostSrc, ctDst string, uid, gid int, mode os.FileMode) error {
	f, err := os.Open(hostSrc)
	if err != nil {
		return fmt.Errorf("push to %d: %w", vmid, err)
	}
	defer f.Close()
	// Write to a temp name and rename, so a failed copy leaves no
	// truncated target; positional args keep paths out of the script.
	script := `set -e; t="$1.pvelab-push.$$"; cat > "$t"; chown "$2:$3" "$t"; chmod "$4" "$t"; mv -f "$t" "$1"`
	var errb bytes.Buffer
	code, err := r.Exec(ctx, vmid, []string{"/bin/sh", "-c", script, "sh", ctDst,
		strconv.Itoa(uid), strconv.Itoa(gid), fmt.Sprintf("%o", unixMode(mode))}, f, io.Discard, &errb)
	if err != nil {
		return fmt.Errorf("push %s to %d:%s: %w", hostSrc, vmid, ctDst, err)
	}
	if code != 0 {
		return fmt.Errorf("push %s to %d:%s: %w: exit %d: %s", hostSrc, vmid, ctDst, ErrLXC, code, strings.TrimSpace(errb.String()))
	}
	return nil
}

// unixMode converts Go's mode bits to chmod's octal form.
func unixMode(m os.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// Pull copies a file out of the running container to hostDst.
func (r *Runtime) Pull(ctx context.Context, vmid int, ctSrc, hostDst string) error {
	tmp := hostDst + ".pvelab-pull"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("pull from %d: %w", vmid, err)
	}
	var errb bytes.Buffer
	code, err := r.Exec(ctx, vmid, []string{"cat", "--", ctSrc}, nil, f, &errb)
	cerr := f.Close()
	if err == nil && code != 0 {
		err = fmt.Errorf("%w: exit %d: %s", ErrLXC, code, strings.TrimSpace(errb.String()))
	}
	if err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, hostDst)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pull %d:%s to %s: %w", vmid, ctSrc, hostDst, err)
	}
	return nil
}

// Interfaces lists the container's interfaces with their first IPv4 and
// IPv6 addresses (global preferred), lo included as Proxmox's API does.
func (r *Runtime) Interfaces(ctx context.Context, vmid int) ([]pvesim.Iface, error) {
	var out, errb bytes.Buffer
	code, err := r.Exec(ctx, vmid, []string{"/bin/sh", "-c", "ip -o link show; ip -o addr show"}, nil, &out, &errb)
	if err != nil {
		return nil, fmt.Errorf("interfaces of %d: %w", vmid, err)
	}
	if code != 0 {
		return nil, fmt.Errorf("interfaces of %d: %w: exit %d: %s", vmid, ErrLXC, code, strings.TrimSpace(errb.String()))
	}
	return parseIPOutput(out.String()), nil
}

// parseIPOutput reads `ip -o link; ip -o addr` output.
func parseIPOutput(s string) []pvesim.Iface {
	var ifs []pvesim.Iface
	idx := map[string]int{}
	global6 := map[string]bool{}
	get := func(name string) *pvesim.Iface {
		if i, ok := idx[name]; ok {
			return &ifs[i]
		}
		idx[name] = len(ifs)
		ifs = append(ifs, pvesim.Iface{Name: name})
		return &ifs[len(ifs)-1]
	}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasSuffix(f[0], ":") {
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		name, _, _ = strings.Cut(name, "@")
		switch f[2] {
		case "inet":
			if it := get(name); it.Inet == "" {
				it.Inet = f[3]
			}
		case "inet6":
			it := get(name)
			global := !strings.HasPrefix(strings.ToLower(f[3]), "fe80:")
			if it.Inet6 == "" || (global && !global6[name]) {
				it.Inet6 = f[3]
				global6[name] = global
			}
		default:
			it := get(name)
			for i := 0; i+1 < len(f); i++ {
				if strings.HasPrefix(f[i], "link/") {
					it.HWAddr = strings.ToLower(f[i+1])
					break
				}
			}
		}
	}
	return ifs
}

// Remove forgets the container: it is killed if still running and its lxc
// directory deleted by hand. lxc-destroy is never used: it deletes the
// directory lxc.rootfs.path names, which is the simulator's volume.
func (r *Runtime) Remove(ctx context.Context, vmid int) error {
	if r.Running(vmid) {
		if err := r.Stop(ctx, vmid, true); err != nil {
			return fmt.Errorf("remove %d: %w", vmid, err)
		}
	}
	dir := filepath.Dir(r.configPath(vmid))
	if rootfs := r.rootfsOf(vmid); rootfs != "" {
		rel, err := filepath.Rel(dir, rootfs)
		if err == nil && !strings.HasPrefix(rel, "..") {
			return fmt.Errorf("remove %d: rootfs %s lies inside %s; not deleting it: %w", vmid, rootfs, dir, ErrSpec)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %d: %w", vmid, err)
	}
	return nil
}

func (r *Runtime) rootfsOf(vmid int) string {
	b, err := os.ReadFile(r.configPath(vmid))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == "lxc.rootfs.path" {
			v = strings.TrimSpace(v)
			return strings.TrimPrefix(v, "dir:")
		}
	}
	return ""
}
