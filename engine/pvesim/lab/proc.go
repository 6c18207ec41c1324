package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is a process the lab started. Down stops exactly these (and, for a
// node, every process left in its mount namespace), never anything found
// by name. StartTime (clock ticks since boot, /proc/PID/stat field 22)
// guards against a recycled pid.
type Proc struct {
	Name      string `json:"name"`
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
	// MountNS is the mount namespace (readlink /proc/PID/ns/mnt) of a node
	// sshd; empty for processes that share the host's.
	MountNS string `json:"mount_ns,omitempty"`
}

// procStat returns the state letter, parent pid and start time of pid.
func procStat(pid int) (state byte, ppid int, start uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	// The command name may contain spaces and parentheses; fields resume
	// after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 20 {
		return 0, 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	ppid, _ = strconv.Atoi(f[1])
	start, _ = strconv.ParseUint(f[19], 10, 64)
	return f[0][0], ppid, start, nil
}

// Alive reports whether the recorded process still runs (zombies count as
// gone: they only wait to be reaped).
func (p Proc) Alive() bool {
	if p.PID <= 0 {
		return false
	}
	st, _, start, err := procStat(p.PID)
	if err != nil || st == 'Z' || st == 'X' {
		return false
	}
	return p.StartTime == 0 || start == p.StartTime
}

// startProc starts argv in its own process group with stdio on logPath,
// records it, and reaps it in the background so a long-lived caller (a
// test) does not collect zombies.
func startProc(name string, argv []string, logPath string, extra func(*exec.Cmd)) (Proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return Proc{}, fmt.Errorf("start %s: %w", name, err)
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return Proc{}, fmt.Errorf("start %s: %w", name, err)
	}
	defer devnull.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = devnull
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if extra != nil {
		extra(cmd)
	}
	if err := cmd.Start(); err != nil {
		return Proc{}, fmt.Errorf("start %s: %w", name, err)
	}
	p := Proc{Name: name, PID: cmd.Process.Pid}
	if _, _, start, err := procStat(p.PID); err == nil {
		p.StartTime = start
	}
	go cmd.Wait() //nolint:errcheck // reaping only; liveness is checked through /proc
	return p, nil
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p Proc) stop(grace time.Duration) {
	if !p.Alive() {
		return
	}
	// Only signal the group if the recorded pid still leads it; otherwise
	// the pid alone.
	if pgid, err := syscall.Getpgid(p.PID); err == nil && pgid == p.PID {
		_ = syscall.Kill(-p.PID, syscall.SIGTERM)
	} else {
		_ = syscall.Kill(p.PID, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !p.Alive() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	if pgid, err := syscall.Getpgid(p.PID); err == nil && pgid == p.PID {
		_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	}
	_ = syscall.Kill(p.PID, syscall.SIGKILL)
	for i := 0; i < 40 && p.Alive(); i++ {
		time.Sleep(50 * time.Millisecond)
	}
}

// mountNS returns the mount namespace id of pid.
func mountNS(pid int) string {
	s, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	if err != nil {
		return ""
	}
	return s
}

// pidsInMountNS lists every process whose mount namespace is ns. A node's
// sessions call setsid and leave sshd's process group, and `pct start`
// daemonizes lxc-start monitors, so the namespace, not the group, is what
// identifies everything a node started.
func pidsInMountNS(ns string) []int {
	if ns == "" || ns == mountNS(os.Getpid()) {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if mountNS(pid) == ns {
			out = append(out, pid)
		}
	}
	return out
}

// killMountNS kills every process left in ns, first politely.
func killMountNS(ns string) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		pids := pidsInMountNS(ns)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, sig)
		}
		for i := 0; i < 40; i++ {
			if len(livePids(pidsInMountNS(ns))) == 0 {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func livePids(pids []int) []int {
	var out []int
	for _, pid := range pids {
		if st, _, _, err := procStat(pid); err == nil && st != 'Z' {
			out = append(out, pid)
		}
	}
	return out
}

// readPidFile reads a daemon's pid file; a missing file is not an error.
func readPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
