package pvesim

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lxcplan/lxcplan/engine/pve"
)

// task is a foreground worker (§1.4): its output goes to stdout, a failure
// is printed on stderr as one line, warnings as "WARN: " lines.
type task struct {
	out   io.Writer
	warns int
}

func (t *task) printf(format string, a ...any) { fmt.Fprintf(t.out, format, a...) }

func (t *task) warn(format string, a ...any) {
	t.warns++
	fmt.Fprintf(t.out, "WARN: "+format+"\n", a...)
}

// runTask runs fn as a task. upidExit selects the exit code on failure:
// 255 for commands wired to $upid_exit, 0 for the others (§1.3).
func (c *call) runTask(upidExit bool, fn func(t *task) error) int {
	t := &task{out: c.stdout}
	err := fn(t)
	if err != nil {
		msg := strings.TrimRight(err.Error(), "\n")
		msg = strings.ReplaceAll(msg, "\n", " ")
		fmt.Fprintln(c.stderr, msg)
		if upidExit {
			return exitDie
		}
		return 0
	}
	if t.warns > 0 {
		fmt.Fprintf(c.stderr, "Task finished with %d warning(s)!\n", t.warns)
	}
	return 0
}

// fail prints err as die does.
func (c *call) fail(err error) int { return c.die("%s", err.Error()) }

// Running state. The local runtime is authoritative; for containers of
// other lab nodes (no runtime in this process) a marker file written on
// start and removed on stop stands in.

func (c *Cluster) runMarker(node string, vmid int) string {
	return filepath.Join(c.StateDir, "running", node+"-"+strconv.Itoa(vmid))
}

func (n *Node) isRunning(vmid int) bool {
	if n.rt != nil {
		return n.rt.Running(vmid)
	}
	_, err := os.Stat(n.cluster.runMarker(n.Name, vmid))
	return err == nil
}

func (n *Node) markRunning(vmid int, on bool) {
	p := n.cluster.runMarker(n.Name, vmid)
	if on {
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(strconv.FormatInt(n.cluster.now().Unix(), 10)+"\n"), 0o644)
		return
	}
	os.Remove(p)
}

// startedAt returns the CT's start time, if known.
func (n *Node) startedAt(vmid int) (time.Time, bool) {
	b, err := os.ReadFile(n.cluster.runMarker(n.Name, vmid))
	if err != nil {
		return time.Time{}, false
	}
	s, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(s, 0), true
}

// applyPending moves [pve:pending] into the main section (start, reboot,
// and pct set on a stopped CT).
func applyPending(conf *pve.Config) bool {
	if conf.Pending == nil {
		return false
	}
	for _, d := range conf.Pending.PendingDeletes() {
		conf.Delete(d.Key)
	}
	for k, v := range conf.Pending.Options {
		if k == "delete" {
			continue
		}
		conf.Set(k, v)
	}
	if conf.Pending.Description != "" {
		conf.Description = conf.Pending.Description
	}
	conf.Pending = nil
	return true
}

// startSpec builds what the runtime needs from a config.
func (n *Node) startSpec(vmid int, conf *pve.Config) (StartSpec, error) {
	s := StartSpec{VMID: vmid, Arch: "amd64", Memory: 512, Swap: 512}
	get := func(k string) string { v, _ := conf.Get(k); return v }
	s.Hostname = get("hostname")
	if s.Hostname == "" {
		s.Hostname = fmt.Sprintf("CT%d", vmid)
	}
	if v := get("arch"); v != "" {
		s.Arch = v
	}
	s.Unprivileged = get("unprivileged") == "1"
	if v, err := strconv.Atoi(get("memory")); err == nil {
		s.Memory = v
	}
	if v, err := strconv.Atoi(get("swap")); err == nil {
		s.Swap = v
	}
	s.Cores, _ = strconv.Atoi(get("cores"))
	s.Features = get("features")
	if f, err := pve.ParseFeatures(s.Features); err == nil && s.Features != "" {
		s.Nesting = f.Nesting.Value(false)
	}
	s.Nameserver, s.Searchdomain = get("nameserver"), get("searchdomain")
	for _, k := range mountKeys(&conf.Section) {
		val := get(k)
		var mt *pve.Mount
		var err error
		if k == "rootfs" {
			mt, err = pve.ParseRootfs(val)
		} else {
			mt, err = pve.ParseMount(k, val)
		}
		if err != nil {
			return s, pveErr("unable to parse %s: %s", k, val)
		}
		host := ""
		if sid, vol, ok := parseVolid(mt.Volume); ok {
			st, err := n.storage(sid)
			if err != nil {
				return s, err
			}
			host, _, err = n.volumePath(st, vol)
			if err != nil {
				return s, err
			}
		} else {
			host = n.hostPath(mt.Volume)
		}
		if k == "rootfs" {
			s.RootDir = host
			continue
		}
		s.Mounts = append(s.Mounts, MountSpec{Source: host, Target: mt.MP, ReadOnly: mt.RO.Value(false)})
	}
	for i := 0; i <= 31; i++ {
		v := get("net" + strconv.Itoa(i))
		if v == "" {
			continue
		}
		nt, err := pve.ParseNet("net"+strconv.Itoa(i), v)
		if err != nil {
			return s, pveErr("unable to parse net%d: %s", i, v)
		}
		s.Nets = append(s.Nets, NetSpec{Name: nt.Name, Bridge: nt.Bridge, HWAddr: nt.HWAddr, IP: nt.IP, GW: nt.GW,
			IP6: nt.IP6, GW6: nt.GW6, MTU: nt.MTU, Tag: nt.Tag})
	}
	for i := 0; i <= 255; i++ {
		v := get("dev" + strconv.Itoa(i))
		if v == "" {
			continue
		}
		d, err := pve.ParseDev("dev"+strconv.Itoa(i), v)
		if err != nil {
			return s, pveErr("unable to parse dev%d: %s", i, v)
		}
		s.Devices = append(s.Devices, DeviceSpec{Path: d.Path, Mode: d.Mode, UID: d.UID, GID: d.GID})
	}
	for _, r := range conf.Raw {
		s.RawLXC = append(s.RawLXC, r.Key+" = "+r.Value)
	}
	return s, nil
}

// doStart starts a CT whose flock the caller holds: applies pending
// changes, checks bridges, and asks the runtime.
func (n *Node) doStart(ctx context.Context, vmid int, conf *pve.Config, t *task) error {
	if n.rt == nil {
		return pveErr("no container runtime for node '%s'", n.Name)
	}
	if applyPending(conf) {
		if err := n.saveConf(vmid, conf); err != nil {
			return err
		}
	}
	spec, err := n.startSpec(vmid, conf)
	if err != nil {
		return err
	}
	for _, nt := range spec.Nets {
		if nt.Bridge != "" && !n.cluster.hasBridge(nt.Bridge) {
			t.printf("bridge '%s' does not exist\n", nt.Bridge)
			return pveErr("startup for container '%d' failed", vmid)
		}
	}
	if err := n.rt.Start(ctx, spec); err != nil {
		t.printf("%s\n", strings.TrimRight(err.Error(), "\n"))
		return pveErr("startup for container '%d' failed", vmid)
	}
	n.markRunning(vmid, true)
	return nil
}

func (c *Cluster) hasBridge(b string) bool {
	for _, x := range c.Bridges {
		if x == b {
			return true
		}
	}
	return len(c.Bridges) == 0
}

func (n *Node) doStop(ctx context.Context, vmid int, force bool) error {
	if n.rt == nil {
		return pveErr("no container runtime for node '%s'", n.Name)
	}
	if err := n.rt.Stop(ctx, vmid, force); err != nil {
		return fmt.Errorf("command 'lxc-stop -n %d --kill' failed: %w", vmid, err)
	}
	n.markRunning(vmid, false)
	return nil
}

// markCreated records when a CT was created (for [Cluster.StatsDelay]).
func (c *Cluster) markCreated(vmid int) {
	p := filepath.Join(c.StateDir, "created", strconv.Itoa(vmid))
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte(strconv.FormatInt(c.now().UnixNano(), 10)+"\n"), 0o644)
}

func (c *Cluster) createdAt(vmid int) time.Time {
	b, err := os.ReadFile(filepath.Join(c.StateDir, "created", strconv.Itoa(vmid)))
	if err != nil {
		return time.Time{}
	}
	ns, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return time.Unix(0, ns)
}
