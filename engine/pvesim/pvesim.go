// Package pvesim simulates the command-line behaviour of a Proxmox VE node
// (pct, pveam, pvesm, pvesh, ha-manager, pveversion) as documented in
// docs/pve-reference.md (§N in comments), over a cluster directory laid out
// like /etc/pve and a pluggable container [Runtime].
//
// PVE semantics live here: config files, storages, volumes, locks,
// validation and output. A Runtime only makes containers real (LXC in the
// lab, [MemoryRuntime] in tests).
//
// Config files and property strings are read and written with engine/pve,
// the one Go implementation of PVE's formats.
//
// Lab nodes and memory nodes differ in a few places:
//   - pmxcfs: the memory node's [SSHHandler] interprets mkdir/rmdir/touch
//     under /etc/pve/priv/lock/ with pmxcfs semantics (mkdir is the lock,
//     120 s expiry, touch -d @0 is an unlock request). In the lab /etc/pve
//     is a plain directory shown by a real shell: mkdir is still atomic and
//     exclusive, but locks never expire and utime(0,0) does nothing.
//   - Cross-node uniqueness of VMIDs (pmxcfs' EEXIST) is an flock on
//     <LockRoot>/cluster.lock in both.
//   - A lab process has the runtime of its own node only: whether a CT of
//     another node runs is read from marker files the simulator writes on
//     start/stop, and pct migrate --restart needs [Cluster.RuntimeFor] to
//     start the CT on the target.
//   - Host paths: memory nodes keep "/" (except /etc/pve and /var/lib/vz)
//     under a per-node directory of the temp dir; lab nodes use real paths.
//   - Host shell: a memory node's [SSHHandler] runs command lines with a
//     small sh interpreter (shexec.go: lists, if/for/while/case, "$@",
//     $(...), redirections, globs) over built-in coreutils (hostcmd.go),
//     and answers the config dump of pve.DumpConfigsArgv natively; lab
//     nodes have OpenSSH, a real /bin/sh and real coreutils.
package pvesim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
)

// Cluster is a set of simulated nodes sharing one cluster directory (the
// /etc/pve of every node).
type Cluster struct {
	// Dir is the host path of the cluster directory (/etc/pve).
	Dir string
	// LockRoot holds flock files: <LockRoot>/<node>/ is a node's
	// /run/lock/lxc, and <LockRoot>/cluster.lock stands in for pmxcfs'
	// atomic vmlist check across nodes.
	LockRoot string
	// StateDir keeps simulator state that is not in /etc/pve (fault
	// counters, task logs).
	StateDir string
	// PVEVersion is 8 or 9 and selects output variants (§12).
	PVEVersion int
	// TemplateCache is the directory pveam downloads templates from.
	TemplateCache string
	// Bridges lists the bridges that exist on every node; starting a CT on
	// another bridge fails like lxcnetaddbr does, and a memory node's
	// `ip link show` lists them.
	Bridges []string
	// Now is the clock (tests may replace it).
	Now func() time.Time
	// OnDrop is called when a fault rule asks for the connection to be
	// dropped; the SSH side decides what that means.
	OnDrop func(node string)
	// RuntimeFor supplies the runtime of another node when a command must
	// act there (pct migrate --restart starts the CT on the target). Lab
	// nodes only know their own runtime; memory clusters share one.
	RuntimeFor func(node string) Runtime
	// StatsDelay mimics pvestatd: for this long after creation a guest
	// shows status "unknown" and no name or usage in /cluster/resources
	// (about 10 s on PVE, §8). Zero disables it.
	StatsDelay time.Duration
	// HostFiles, when set, supplies host files that are not on disk, e.g.
	// uploads the in-process SSH server's scp sink kept in memory
	// (sshtest.MemFS); such a file is copied to disk the first time a
	// command needs it.
	HostFiles func(path string) (data []byte, mode os.FileMode, ok bool)
	// Probe, when set, decides whether a connection from a node to
	// addr:port succeeds (curl and bash's /dev/tcp in the memory shell).
	// Unset, an address of a running container of the memory runtime is
	// open on the ports it listens on ([MemoryRuntime.Listen]).
	Probe func(addr string, port int) bool

	faults *faultSet
	cmdlog *commandLog

	mu       sync.Mutex
	nodes    map[string]*Node
	order    []string
	pmxLocks map[string]time.Time // memory pmxcfs locks: dir → last refresh
	mem      *MemoryRuntime
	tmpRoot  string
	rnd      *rand.Rand // deterministic MACs in memory clusters
}

// Node is one simulated PVE node of a [Cluster].
type Node struct {
	// Name is the node name ("pve1").
	Name string
	// StorageRoot is the host dir behind /var/lib/vz (storage "local"); the
	// other storages live in siblings named after the storage without its
	// "local-" prefix (<StorageRoot>/../lvm, ../zfs, ../dir).
	StorageRoot string
	// Cores and MemTotal are the host's size as pvesh reports it.
	Cores    int
	MemTotal int64

	cluster *Cluster
	rt      Runtime
}

// Cluster returns the cluster the node belongs to.
func (n *Node) Cluster() *Cluster { return n.cluster }

// Runtime returns the node's container runtime.
func (n *Node) Runtime() Runtime { return n.rt }

// Node returns the named node.
func (c *Cluster) Node(name string) (*Node, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[name]
	return n, ok
}

// Nodes returns the node names in declaration order.
func (c *Cluster) Nodes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.order...)
}

// Memory returns the shared in-memory runtime of a memory cluster (nil for
// a lab node).
func (c *Cluster) Memory() *MemoryRuntime { return c.mem }

// Close removes a memory cluster's temporary directory.
func (c *Cluster) Close() error {
	if c.tmpRoot == "" {
		return nil
	}
	return os.RemoveAll(c.tmpRoot)
}

func (c *Cluster) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Cluster) addNode(n *Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodes == nil {
		c.nodes = map[string]*Node{}
	}
	n.cluster = c
	c.nodes[n.Name] = n
	c.order = append(c.order, n.Name)
}

// MemoryCatalog is the template catalog of a memory cluster (and the
// fallback names offered when a lab template cache is empty).
var MemoryCatalog = []string{
	"alpine-3.20-default_20240908_amd64.tar.xz",
	"debian-12-standard_12.7-1_amd64.tar.zst",
	"debian-13-standard_13.1-2_amd64.tar.zst",
	"ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
}

// NewMemoryCluster builds a cluster for tests: the cluster dir and storages
// in a fresh temporary directory (removed by [Cluster.Close]), one shared
// [MemoryRuntime], PVE 8 output, and the given nodes ("pve" if none).
func NewMemoryCluster(nodes ...string) (*Cluster, error) {
	if len(nodes) == 0 {
		nodes = []string{"pve"}
	}
	root, err := os.MkdirTemp("", "pvesim-*")
	if err != nil {
		return nil, fmt.Errorf("new memory cluster: %w", err)
	}
	c := &Cluster{
		Dir:           filepath.Join(root, "etc-pve"),
		LockRoot:      filepath.Join(root, "lock"),
		StateDir:      filepath.Join(root, "state"),
		PVEVersion:    8,
		TemplateCache: filepath.Join(root, "templates"),
		Bridges:       []string{"vmbr0"},
		faults:        newFaultSet(""),
		cmdlog:        &commandLog{},
		mem:           NewMemoryRuntime(),
		tmpRoot:       root,
		rnd:           rand.New(rand.NewPCG(1, 2)),
	}
	if err := os.MkdirAll(c.TemplateCache, 0o755); err != nil {
		return nil, fmt.Errorf("new memory cluster: %w", err)
	}
	for _, t := range MemoryCatalog {
		// A few bytes stand for the tarball; the memory runtime never reads it.
		if err := os.WriteFile(filepath.Join(c.TemplateCache, t), []byte("pvesim template "+t+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("new memory cluster: %w", err)
		}
	}
	for _, name := range nodes {
		for _, d := range []string{"tmp", "root"} {
			if err := os.MkdirAll(filepath.Join(root, "nodes", name, "root", d), 0o755); err != nil {
				return nil, fmt.Errorf("new memory cluster: %w", err)
			}
		}
		n := &Node{Name: name, StorageRoot: filepath.Join(root, "nodes", name, "vz"), Cores: 8, MemTotal: 32 << 30, rt: c.mem}
		c.addNode(n)
	}
	if err := c.init(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// NewLabNode builds a node backed by the lab description (cluster dir on
// disk, LXC runtime given by the caller). The other lab nodes are known to
// the cluster too (for migrate and cluster-wide checks) but have no
// runtime: only the local node runs containers.
func NewLabNode(lab *labconf.Lab, nodeName string, rt Runtime) (*Node, error) {
	if lab == nil {
		return nil, errors.New("new lab node: no lab description")
	}
	if _, ok := lab.Node(nodeName); !ok {
		return nil, fmt.Errorf("new lab node: node %q is not in the lab", nodeName)
	}
	ver := lab.PVEVersion
	if ver == 0 {
		ver = 8
	}
	c := &Cluster{
		Dir:           lab.ClusterDir,
		LockRoot:      filepath.Join(lab.Root, "lock"),
		StateDir:      filepath.Join(lab.Root, "state"),
		PVEVersion:    ver,
		TemplateCache: lab.TemplateCache,
		faults:        newFaultSet(lab.FaultsFile),
		cmdlog:        &commandLog{path: lab.CommandLog},
	}
	if lab.Bridge != "" {
		c.Bridges = []string{lab.Bridge}
	}
	var self *Node
	for _, ln := range lab.Nodes {
		n := &Node{Name: ln.Name, StorageRoot: ln.StorageRoot, Cores: 4, MemTotal: 8 << 30}
		if ln.Name == nodeName {
			n.rt = rt
			self = n
		}
		c.addNode(n)
	}
	if err := c.init(); err != nil {
		return nil, err
	}
	return self, nil
}

// standardStorageCfg is a standard install plus the lab's extra storages
// (§7.4): dir "local" without rootdir, lvmthin, zfspool and a dir storage
// that can hold containers.
const standardStorageCfg = `dir: local
	path /var/lib/vz
	content iso,vztmpl,backup

lvmthin: local-lvm
	thinpool data
	vgname pve
	content rootdir,images

zfspool: local-zfs
	pool rpool/data
	sparse 1
	content images,rootdir

dir: local-dir
	path /srv/local-dir
	content rootdir,images,vztmpl
`

// init creates the cluster dir layout and any missing standard file.
func (c *Cluster) init() error {
	dirs := []string{c.Dir, filepath.Join(c.Dir, "priv", "lock"), filepath.Join(c.Dir, "ha"), c.LockRoot, c.StateDir}
	for _, n := range c.order {
		dirs = append(dirs, filepath.Join(c.Dir, "nodes", n, "lxc"), filepath.Join(c.Dir, "nodes", n, "qemu-server"),
			filepath.Join(c.LockRoot, n))
		if sr := c.nodes[n].StorageRoot; sr != "" {
			dirs = append(dirs, filepath.Join(sr, "template", "cache"))
		}
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("init cluster dir: %w", err)
		}
	}
	if err := writeIfMissing(filepath.Join(c.Dir, "storage.cfg"), standardStorageCfg); err != nil {
		return err
	}
	if err := writeIfMissing(filepath.Join(c.Dir, "ha", "resources.cfg"), ""); err != nil {
		return err
	}
	if err := writeIfMissing(filepath.Join(c.Dir, "datacenter.cfg"), "keyboard: en-us\n"); err != nil {
		return err
	}
	return writeIfMissing(filepath.Join(c.Dir, ".members"), c.membersJSON())
}

func writeIfMissing(path, content string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return fmt.Errorf("init cluster dir: %w", err)
	}
	return nil
}

// membersJSON renders pmxcfs' .members file.
func (c *Cluster) membersJSON() string {
	type member struct {
		ID     int    `json:"id"`
		Online int    `json:"online"`
		IP     string `json:"ip"`
	}
	list := map[string]member{}
	for i, n := range c.order {
		list[n] = member{ID: i + 1, Online: 1, IP: "127.0.0.1"}
	}
	first := ""
	if len(c.order) > 0 {
		first = c.order[0]
	}
	doc := map[string]any{
		"nodename": first,
		"version":  len(c.order) + 1,
		"cluster":  map[string]any{"name": "pvelab", "version": 1, "nodes": len(c.order), "quorate": 1},
		"nodelist": list,
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return string(b) + "\n"
}

// RunTool runs one PVE command (tool = "pct"|"pveam"|"pvesm"|"pvesh"|"ha-manager"|"pveversion")
// as node n would, returning the exit code. Every invocation is matched
// against the fault rules and written to the command log.
func RunTool(ctx context.Context, n *Node, tool string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if n == nil {
		fmt.Fprintln(stderr, "pvesim: no node")
		return exitDie
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	c := n.cluster
	start := c.now()
	argv := append([]string{tool}, args...)
	code := func() int {
		if f := c.faults.match(n.Name, argv); f != nil {
			if done, code := f.apply(ctx, c, n.Name, stderr); done {
				return code
			}
		}
		return runTool(ctx, n, tool, args, stdin, stdout, stderr)
	}()
	c.cmdlog.add(LogEntry{Time: start, Node: n.Name, Argv: argv, Exit: code, DurationMS: c.now().Sub(start).Milliseconds()})
	return code
}

func runTool(ctx context.Context, n *Node, tool string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch tool {
	case "pct":
		return pctTable.dispatch(ctx, n, tool, args, stdin, stdout, stderr)
	case "pveam":
		return pveamTable.dispatch(ctx, n, tool, args, stdin, stdout, stderr)
	case "pvesm":
		return pvesmTable.dispatch(ctx, n, tool, args, stdin, stdout, stderr)
	case "pvesh":
		return pveshTable.dispatch(ctx, n, tool, args, stdin, stdout, stderr)
	case "ha-manager":
		return haTable.dispatch(ctx, n, tool, args, stdin, stdout, stderr)
	case "pveversion":
		return runPveversion(n, args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "pvesim: unknown tool %q\n", tool)
	return 127
}

// Tools lists the command names RunTool accepts.
var Tools = []string{"pct", "pveam", "pvesm", "pvesh", "ha-manager", "pveversion"}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
