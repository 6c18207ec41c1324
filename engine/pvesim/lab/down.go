package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
)

// Down takes the lab under root down: containers, node sshds (and every
// process left in their namespaces), dnsmasq, apt-cacher-ng, the nft
// table, the bridge, and the system-file changes Up recorded. It succeeds
// on a half-up or absent lab, so CI can call it first on a dirty machine.
func Down(ctx context.Context, root string) error {
	if root == "" {
		root = DefaultRoot
	}
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	unlock, err := lock(DefaultCacheDir)
	if err != nil {
		return err
	}
	defer unlock()
	return down(ctx, root)
}

func down(ctx context.Context, root string) error {
	st, err := loadStateOrBackup(root)
	if err != nil {
		// No (readable) record: undo only what is unmistakably the lab's.
		st = &state{Bridge: DefaultBridge}
	}
	// The record may predate the daemons' pid files (an interrupted Up);
	// those name root in their command line, so they are ours.
	st.Procs = mergeProcs(st.Procs, procsFromPidFiles(root))
	var errs []error
	stopContainers(ctx, root)
	for _, p := range st.Procs {
		p.stop(3 * time.Second)
		if p.MountNS != "" {
			killMountNS(p.MountNS)
		}
	}
	if nftTableExists(ctx) {
		if err := run(ctx, nil, "nft", "delete", "table", "ip", nftTable); err != nil {
			errs = append(errs, err)
		}
	}
	br := st.Bridge
	if br == "" {
		br = DefaultBridge
	}
	if linkExists(ctx, br) && (st.BridgeCreated || linkAlias(br) == bridgeAlias) {
		if err := run(ctx, nil, "ip", "link", "del", "dev", br); err != nil {
			errs = append(errs, err)
		}
	}
	if st.IPForwardOld != "" {
		if err := os.WriteFile(ipForwardPath, []byte(st.IPForwardOld+"\n"), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restore ip_forward: %w", err))
		}
	}
	if st.SubUIDAdded {
		if err := removeLine("/etc/subuid", subIDLine); err != nil {
			errs = append(errs, err)
		}
	}
	if st.SubGIDAdded {
		if err := removeLine("/etc/subgid", subIDLine); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(st.CreatedDirs) - 1; i >= 0; i-- {
		// Remove, not RemoveAll: only an empty mount point we made goes.
		if err := os.Remove(st.CreatedDirs[i]); err != nil && !os.IsNotExist(err) {
			errs = append(errs, fmt.Errorf("remove %s: %w", st.CreatedDirs[i], err))
		}
	}
	if m := mountsUnder(root); len(m) > 0 {
		errs = append(errs, fmt.Errorf("mounts left under %s, not deleting it: %s", root, strings.Join(m, ", ")))
	} else if err := os.RemoveAll(root); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", root, err))
	}
	if len(errs) > 0 {
		// The backup stays: a retried down still knows what to restore.
		return fmt.Errorf("pvelab down: %w", errors.Join(errs...))
	}
	if err := os.Remove(backupStatePath(root)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("pvelab down: %w", err)
	}
	return nil
}

// mergeProcs adds the processes of b that a does not list by pid.
func mergeProcs(a, b []Proc) []Proc {
	seen := map[int]bool{}
	for _, p := range a {
		seen[p.PID] = true
	}
	for _, p := range b {
		if !seen[p.PID] {
			a = append(a, p)
		}
	}
	return a
}

// nodeLXCPaths lists every node lxcpath under root, with or without a lab
// description.
func nodeLXCPaths(root string) []string {
	paths, _ := filepath.Glob(filepath.Join(root, "nodes", "*", "lxc"))
	return paths
}

// stopContainers kills every container under the node lxcpaths and drops
// its lxc directory. It never runs lxc-destroy, which would delete the
// rootfs wherever lxc.rootfs.path points.
func stopContainers(ctx context.Context, root string) {
	for _, lp := range nodeLXCPaths(root) {
		ents, _ := os.ReadDir(lp)
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			if _, err := os.Stat(filepath.Join(lp, e.Name(), "config")); err != nil {
				continue
			}
			// Bounded: a wedged container must not keep down from
			// finishing the rest of the cleanup.
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_ = run(sctx, nil, "lxc-stop", "-P", lp, "-n", e.Name(), "-k")
			cancel()
			os.RemoveAll(filepath.Join(lp, e.Name()))
		}
	}
}

// mountsUnder lists mount points at or below dir in this namespace.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 5 {
			continue
		}
		mp := unescapeMount(fs[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// ProcStatus is one recorded lab process in a [Status].
type ProcStatus struct {
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	Alive bool   `json:"alive"`
}

// Status is the state of the lab under a root.
type Status struct {
	Up         bool                `json:"up"`
	Phase      string              `json:"phase,omitempty"`
	Lab        *labconf.Lab        `json:"lab,omitempty"`
	Procs      []ProcStatus        `json:"procs,omitempty"`
	Bridge     bool                `json:"bridge"`
	NftTable   bool                `json:"nft_table"`
	Containers map[string][]string `json:"containers,omitempty"` // node → container ids with an lxc config
}

// GetStatus reports the lab under root without changing anything.
func GetStatus(ctx context.Context, root string) (*Status, error) {
	if root == "" {
		root = DefaultRoot
	}
	s := &Status{Bridge: linkExists(ctx, DefaultBridge) && linkAlias(DefaultBridge) == bridgeAlias, NftTable: nftTableExists(ctx)}
	st, err := loadState(root)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	s.Phase = st.Phase
	for _, p := range st.Procs {
		s.Procs = append(s.Procs, ProcStatus{Name: p.Name, PID: p.PID, Alive: p.Alive()})
	}
	s.Up = st.Phase == "up" && healthy(st)
	if l, err := labconf.Load(filepath.Join(root, "lab.json")); err == nil {
		s.Lab = l
		s.Containers = map[string][]string{}
		for _, n := range l.Nodes {
			ents, _ := os.ReadDir(n.LXCPath)
			ids := []string{}
			for _, e := range ents {
				if _, err := os.Stat(filepath.Join(n.LXCPath, e.Name(), "config")); err == nil {
					ids = append(ids, e.Name())
				}
			}
			s.Containers[n.Name] = ids
		}
	}
	return s, nil
}

// Reset destroys every container and volume, clears the cluster dir back
// to its skeleton and empties the command log and fault rules, keeping
// the network, the node sshds and the templates.
func Reset(ctx context.Context, root string) error {
	if root == "" {
		root = DefaultRoot
	}
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	unlock, err := lock(DefaultCacheDir)
	if err != nil {
		return err
	}
	defer unlock()
	l, err := labconf.Load(filepath.Join(root, "lab.json"))
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	stopContainers(ctx, root)
	if m := mountsUnder(root); len(m) > 0 {
		return fmt.Errorf("reset: mounts left under %s: %s", root, strings.Join(m, ", "))
	}
	var errs []error
	// The cluster dir stays (node namespaces bind it); its contents go.
	ents, _ := os.ReadDir(l.ClusterDir)
	for _, e := range ents {
		if e.Name() == "lxc" || e.Name() == "local" || e.Name() == ".members" {
			continue
		}
		if e.Name() == "nodes" {
			for _, n := range l.Nodes {
				// nodes/<node> and its lxc dir are bind sources: empty them
				// in place.
				nd := filepath.Join(l.ClusterDir, "nodes", n.Name)
				errs = append(errs, emptyDir(nd, map[string]bool{"lxc": true}))
				errs = append(errs, emptyDir(filepath.Join(nd, "lxc"), nil))
			}
			continue
		}
		errs = append(errs, os.RemoveAll(filepath.Join(l.ClusterDir, e.Name())))
	}
	for _, n := range l.Nodes {
		dir := nodeDir(root, n.Name)
		errs = append(errs, emptyDir(n.StorageRoot, map[string]bool{"template": true}))
		for _, s := range []string{"lvm", "zfs", "dir"} {
			errs = append(errs, emptyDir(filepath.Join(dir, s), nil))
		}
		for _, d := range []string{"images", "dump", "private"} {
			errs = append(errs, os.MkdirAll(filepath.Join(n.StorageRoot, d), 0o755))
		}
	}
	errs = append(errs, writeClusterDir(l))
	errs = append(errs, os.WriteFile(l.CommandLog, nil, 0o644))
	if err := os.Remove(l.FaultsFile); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	return nil
}

// emptyDir removes the contents of dir except the names in keep.
func emptyDir(dir string, keep map[string]bool) error {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		if keep[e.Name()] {
			continue
		}
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}

// procsFromPidFiles recovers the lab's daemons from the pid files they
// write under root, for a lab whose state file is gone. A pid counts only
// if its command line names root, so a recycled pid is never signalled.
func procsFromPidFiles(root string) []Proc {
	files := []string{filepath.Join(root, "dnsmasq.pid"), filepath.Join(root, "apt-cacher-ng", "pid")}
	sshd, _ := filepath.Glob(filepath.Join(root, "nodes", "*", "sshd.pid"))
	files = append(files, sshd...)
	var out []Proc
	for _, f := range files {
		pid, err := readPidFile(f)
		if err != nil || pid <= 0 {
			continue
		}
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.Contains(string(cmd), root+"/") {
			continue
		}
		p := Proc{Name: filepath.Base(f), PID: pid}
		if strings.HasSuffix(f, "sshd.pid") {
			p.MountNS = mountNS(pid)
		}
		out = append(out, p)
	}
	return out
}
