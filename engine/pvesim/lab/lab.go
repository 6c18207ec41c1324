// Package lab brings a Proxmox-compatible lab up on this machine and takes
// it down again: packages, a debootstrap template, a bridge with DHCP, DNS,
// NAT and an apt cache, and one real sshd per node in its own mount
// namespace. Everything it changes outside its own directories is recorded
// in a state file so Down undoes exactly that, even after a failed Up.
package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
)

// Defaults for UpOptions.
const (
	DefaultRoot     = "/var/lib/pvelab"
	DefaultCacheDir = "/var/cache/pvelab"
	DefaultBridge   = "vmbr0"
	firstSSHPort    = 10022
	aptCachePort    = 3142
)

// ErrNotRoot means the caller is not root; the lab changes the network.
var ErrNotRoot = errors.New("pvelab must run as root")

// ErrMismatch means a lab is already up with a different shape.
var ErrMismatch = errors.New("a different lab is already up")

// UpOptions configures [Up]. Zero values take the defaults.
type UpOptions struct {
	Root       string    // lab state dir (DefaultRoot)
	CacheDir   string    // template and apt cache dir (DefaultCacheDir)
	Nodes      int       // number of nodes pve1..pveN (2)
	PVEVersion int       // 8 or 9 (8)
	Binary     string    // pvelab binary to install in the lab bin dir; "" keeps whatever is there
	Log        io.Writer // progress messages; nil discards them
}

func (o *UpOptions) defaults() {
	if o.Root == "" {
		o.Root = DefaultRoot
	}
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir
	}
	if o.Nodes <= 0 {
		o.Nodes = 2
	}
	if o.PVEVersion == 0 {
		o.PVEVersion = 8
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// state records what Up changed, written after every step.
type state struct {
	Phase          string   `json:"phase"` // "starting" or "up"
	Procs          []Proc   `json:"procs"`
	Bridge         string   `json:"bridge,omitempty"`
	BridgeCreated  bool     `json:"bridge_created"`
	NftCreated     bool     `json:"nft_created"`
	IPForwardOld   string   `json:"ip_forward_old,omitempty"` // "" = untouched
	SubUIDAdded    bool     `json:"subuid_added"`
	SubGIDAdded    bool     `json:"subgid_added"`
	CreatedDirs    []string `json:"created_dirs,omitempty"`
	Installed      []string `json:"installed_packages,omitempty"`
	StoppedService []string `json:"stopped_services,omitempty"`
}

func statePath(root string) string { return filepath.Join(root, "state.json") }

func loadState(root string) (*state, error) {
	b, err := os.ReadFile(statePath(root))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode lab state: %w", err)
	}
	return &s, nil
}

// backupStatePath is the copy of root's state kept outside root, in the
// cache dir: a CI job that wiped /var/lib/pvelab (or a half-deleted root)
// must still let Down restore /etc/subuid, ip_forward and the mount-point
// directories Up created.
func backupStatePath(root string) string {
	name := strings.ReplaceAll(strings.Trim(filepath.Clean(root), "/"), "/", "_")
	return filepath.Join(DefaultCacheDir, "state", name+".json")
}

// save writes the state to root and to its backup before Up makes the
// change it records, so either copy describes everything done so far.
func (s *state) save(root string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode lab state: %w", err)
	}
	b = append(b, '\n')
	bk := backupStatePath(root)
	if err := os.MkdirAll(filepath.Dir(bk), 0o700); err != nil {
		return fmt.Errorf("lab state backup: %w", err)
	}
	if err := writeFileKeepMode(bk, b, 0o600); err != nil {
		return err
	}
	return writeFileKeepMode(statePath(root), b, 0o600)
}

// loadStateOrBackup reads root's state, falling back to the backup copy.
func loadStateOrBackup(root string) (*state, error) {
	st, err := loadState(root)
	if err == nil {
		return st, nil
	}
	b, berr := os.ReadFile(backupStatePath(root))
	if berr != nil {
		return nil, err
	}
	var s state
	if jerr := json.Unmarshal(b, &s); jerr != nil {
		return nil, fmt.Errorf("decode lab state backup: %w", jerr)
	}
	return &s, nil
}

// lock serialises up/down/reset on one machine. It lives in the cache dir
// because Down deletes the lab root.
func lock(cacheDir string) (func(), error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(cacheDir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// Up brings the lab up and returns its description. When a healthy lab is
// already up it returns that one; a broken one is taken down first. A
// failed Up takes down what it did.
func Up(ctx context.Context, opts UpOptions) (*labconf.Lab, error) {
	opts.defaults()
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if opts.PVEVersion != 8 && opts.PVEVersion != 9 {
		return nil, fmt.Errorf("pve version %d: want 8 or 9", opts.PVEVersion)
	}
	unlock, err := lock(opts.CacheDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if st, err := loadState(opts.Root); err == nil {
		l, lerr := labconf.Load(filepath.Join(opts.Root, "lab.json"))
		if st.Phase == "up" && lerr == nil && healthy(st) {
			if len(l.Nodes) != opts.Nodes || l.PVEVersion != opts.PVEVersion {
				return nil, fmt.Errorf("%w: %d nodes, pve %d (run pvelab down first)", ErrMismatch, len(l.Nodes), l.PVEVersion)
			}
			if opts.Binary != "" {
				if err := installBinary(opts.Root, opts.Binary); err != nil {
					return nil, err
				}
			}
			return l, nil
		}
	}
	// Anything else may be the remains of an interrupted run (a state
	// file, its backup, the marked bridge, the nft table, a root dir with
	// containers): down undoes what is the lab's and is a no-op on a clean
	// machine, so Up never trips over leftovers.
	if leftovers(ctx, opts.Root) {
		fmt.Fprintln(opts.Log, "found leftovers of an earlier lab; taking them down first")
		if err := down(ctx, opts.Root); err != nil {
			return nil, fmt.Errorf("take down broken lab: %w", err)
		}
	}
	l, err := up(ctx, opts)
	if err != nil {
		if derr := down(context.WithoutCancel(ctx), opts.Root); derr != nil {
			return nil, errors.Join(err, fmt.Errorf("undo failed up: %w", derr))
		}
		return nil, err
	}
	return l, nil
}

// leftovers reports whether anything of a lab is on the machine.
func leftovers(ctx context.Context, root string) bool {
	for _, p := range []string{root, backupStatePath(root)} {
		if _, err := os.Lstat(p); err == nil {
			return true
		}
	}
	return nftTableExists(ctx) || (linkExists(ctx, DefaultBridge) && linkAlias(DefaultBridge) == bridgeAlias)
}

func healthy(st *state) bool {
	for _, p := range st.Procs {
		if !p.Alive() {
			return false
		}
	}
	return len(st.Procs) > 0
}

func up(ctx context.Context, opts UpOptions) (*labconf.Lab, error) {
	root := opts.Root
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("lab dir: %w", err)
	}
	st := &state{Phase: "starting", Bridge: DefaultBridge}
	if err := st.save(root); err != nil {
		return nil, err
	}
	installedPkgs, err := ensurePackages(ctx, opts.Log)
	if err != nil {
		return nil, err
	}
	st.Installed = installedPkgs
	st.StoppedService = stopAutoStarted(ctx, installedPkgs)
	if err := st.save(root); err != nil {
		return nil, err
	}
	tmpl, _, err := EnsureTemplate(ctx, opts.CacheDir, opts.Log)
	if err != nil {
		return nil, err
	}

	used, err := usedPrefixes(ctx)
	if err != nil {
		return nil, fmt.Errorf("pick subnet: %w", err)
	}
	subnet, err := pickSubnet(used)
	if err != nil {
		return nil, err
	}
	gw := subnet.Addr().Next()
	l := &labconf.Lab{
		Root:          root,
		PVEVersion:    opts.PVEVersion,
		ClusterDir:    filepath.Join(root, "cluster"),
		Bridge:        DefaultBridge,
		Subnet:        subnet.String(),
		Gateway:       gw.String(),
		DNS:           gw.String(),
		TemplateCache: filepath.Join(opts.CacheDir, "templates"),
		CommandLog:    filepath.Join(root, "commands.jsonl"),
		FaultsFile:    filepath.Join(root, "faults.json"),
		Runtime:       "lxc",
	}
	fmt.Fprintf(opts.Log, "network %s on %s\n", subnet, l.Bridge)
	if err := upNetwork(ctx, st, l, subnet, opts.CacheDir); err != nil {
		return nil, err
	}

	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		has, err := hasLine(f, subIDLine)
		if err != nil {
			return nil, err
		}
		if has {
			continue
		}
		// Recorded before the change: an interrupted Up must not leave a
		// line that Down does not know it added.
		if f == "/etc/subuid" {
			st.SubUIDAdded = true
		} else {
			st.SubGIDAdded = true
		}
		if err := st.save(root); err != nil {
			return nil, err
		}
		if _, err := ensureLine(f, subIDLine); err != nil {
			return nil, err
		}
	}

	idFile := filepath.Join(root, "id_ed25519")
	if _, err := os.Stat(idFile); err != nil {
		if err := run(ctx, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pvelab-client", "-f", idFile); err != nil {
			return nil, fmt.Errorf("client key: %w", err)
		}
	}
	pub, err := os.ReadFile(idFile + ".pub")
	if err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(root, "authorized_keys"), pub, 0o600); err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	if err := installBinary(root, opts.Binary); err != nil {
		return nil, err
	}
	for _, f := range []string{l.CommandLog} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			return nil, fmt.Errorf("lab files: %w", err)
		}
	}

	taken := map[int]bool{}
	for i := 1; i <= opts.Nodes; i++ {
		name := fmt.Sprintf("pve%d", i)
		port, err := freePort("127.0.0.1", firstSSHPort+i-1, taken)
		if err != nil {
			return nil, err
		}
		taken[port] = true
		dir := nodeDir(root, name)
		n := labconf.Node{
			Name: name, Host: "127.0.0.1", Port: port, User: "root",
			LXCPath:     filepath.Join(dir, "lxc"),
			StorageRoot: filepath.Join(dir, "vz"),
		}
		for _, d := range []string{n.LXCPath, n.StorageRoot,
			filepath.Join(n.StorageRoot, "template", "cache"), filepath.Join(n.StorageRoot, "template", "iso"),
			filepath.Join(n.StorageRoot, "images"), filepath.Join(n.StorageRoot, "dump"), filepath.Join(n.StorageRoot, "private"),
			filepath.Join(dir, "lvm"), filepath.Join(dir, "zfs"), filepath.Join(dir, "dir")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, fmt.Errorf("node %s: %w", name, err)
			}
		}
		if err := linkOrCopy(tmpl, filepath.Join(n.StorageRoot, "template", "cache", TemplateName)); err != nil {
			return nil, fmt.Errorf("node %s template: %w", name, err)
		}
		l.Nodes = append(l.Nodes, n)
	}
	if err := writeClusterDir(l); err != nil {
		return nil, err
	}
	if err := l.Save(filepath.Join(root, "lab.json")); err != nil {
		return nil, err
	}
	for _, d := range append([]string{"/run/sshd"}, hostMountPoints...) {
		if _, err := os.Stat(d); os.IsNotExist(err) {
			st.CreatedDirs = append(st.CreatedDirs, d)
			if err := st.save(root); err != nil {
				return nil, err
			}
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, fmt.Errorf("mount point %s: %w", d, err)
			}
		}
	}
	var known []string
	for _, n := range l.Nodes {
		p, err := startNode(ctx, l, n)
		if err != nil {
			return nil, err
		}
		st.Procs = append(st.Procs, p)
		if err := st.save(root); err != nil {
			return nil, err
		}
		line, err := hostKeyLine(l, n)
		if err != nil {
			return nil, err
		}
		known = append(known, line)
	}
	if err := os.WriteFile(filepath.Join(root, "known_hosts"), []byte(strings.Join(known, "\n")+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	if err := os.WriteFile(filepath.Join(root, "hosts.yaml"), []byte(HostsSnippet(l)), 0o644); err != nil {
		return nil, fmt.Errorf("hosts snippet: %w", err)
	}
	st.Phase = "up"
	if err := st.save(root); err != nil {
		return nil, err
	}
	return l, nil
}

func upNetwork(ctx context.Context, st *state, l *labconf.Lab, subnet netip.Prefix, cacheDir string) error {
	root := l.Root
	if linkExists(ctx, l.Bridge) {
		return fmt.Errorf("bridge %s already exists and is not recorded as the lab's (remove it or run pvelab down)", l.Bridge)
	}
	st.BridgeCreated = true // recorded first: a half-made bridge is still ours
	if err := st.save(root); err != nil {
		return err
	}
	gw := subnet.Addr().Next()
	if err := createBridge(ctx, l.Bridge, gw, subnet.Bits()); err != nil {
		return err
	}
	if old := readSysctl(ipForwardPath); old != "1" {
		st.IPForwardOld = old
		if err := st.save(root); err != nil {
			return err
		}
		if err := os.WriteFile(ipForwardPath, []byte("1\n"), 0o644); err != nil {
			return fmt.Errorf("enable ip_forward: %w", err)
		}
	}
	if nftTableExists(ctx) {
		_ = run(ctx, nil, "nft", "delete", "table", "ip", nftTable)
	}
	st.NftCreated = true
	if err := st.save(root); err != nil {
		return err
	}
	rules := filepath.Join(root, "nft.rules")
	if err := os.WriteFile(rules, []byte(nftRules(subnet)), 0o644); err != nil {
		return fmt.Errorf("nft rules: %w", err)
	}
	if err := run(ctx, nil, "nft", "-f", rules); err != nil {
		return fmt.Errorf("nat: %w", err)
	}
	p, err := startDnsmasq(ctx, l, subnet)
	if err != nil {
		return err
	}
	st.Procs = append(st.Procs, p)
	if err := st.save(root); err != nil {
		return err
	}
	p, port, err := startAptCache(ctx, l, cacheDir)
	if err != nil {
		return err
	}
	st.Procs = append(st.Procs, p)
	l.AptProxy = fmt.Sprintf("http://%s:%d", l.Gateway, port)
	return st.save(root)
}

func startDnsmasq(ctx context.Context, l *labconf.Lab, subnet netip.Prefix) (Proc, error) {
	gw := subnet.Addr().Next()
	base := subnet.Addr().As4()
	lo := netip.AddrFrom4([4]byte{base[0], base[1], base[2], 100})
	hi := netip.AddrFrom4([4]byte{base[0], base[1], base[2], 250})
	args := []string{"/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
		"--user=root", "--group=root", "--strict-order", "--bind-interfaces",
		"--except-interface=lo", "--interface=" + l.Bridge, "--listen-address=" + gw.String(),
		"--dhcp-range=" + lo.String() + "," + hi.String() + ",255.255.255.0,12h",
		"--dhcp-option=option:router," + gw.String(),
		"--dhcp-option=option:dns-server," + gw.String(),
		"--dhcp-leasefile=" + filepath.Join(l.Root, "dnsmasq.leases"),
		"--dhcp-authoritative", "--dhcp-lease-max=150",
		"--pid-file=" + filepath.Join(l.Root, "dnsmasq.pid"),
		"--no-resolv", "--no-hosts", "--domain-needed",
	}
	servers := 0
	for _, ns := range hostResolvers() {
		if a, err := netip.ParseAddr(ns); err == nil && !subnet.Contains(a) {
			args = append(args, "--server="+ns)
			servers++
		}
	}
	if servers == 0 {
		return Proc{}, errors.New("dnsmasq: no usable resolver in /etc/resolv.conf")
	}
	p, err := startProc("dnsmasq", args, filepath.Join(l.Root, "dnsmasq.log"), nil)
	if err != nil {
		return Proc{}, err
	}
	if err := waitListening(ctx, gw.String(), 53, p, 5*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(l.Root, "dnsmasq.log"))
		return p, fmt.Errorf("dnsmasq: %w: %s", err, strings.TrimSpace(string(log)))
	}
	return p, nil
}

// startAptCache runs a private apt-cacher-ng bound to the bridge address,
// with the system's remap configuration but the cache under cacheDir (it
// survives downs, so later labs install warm).
func startAptCache(ctx context.Context, l *labconf.Lab, cacheDir string) (Proc, int, error) {
	dir := filepath.Join(l.Root, "apt-cacher-ng")
	cache := filepath.Join(cacheDir, "apt-cacher-ng")
	for _, d := range []string{dir, cache} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return Proc{}, 0, fmt.Errorf("apt cache: %w", err)
		}
	}
	port, err := freePort(l.Gateway, aptCachePort, nil)
	if err != nil {
		return Proc{}, 0, fmt.Errorf("apt cache: %w", err)
	}
	// Our own config, not /etc/apt-cacher-ng: the package's remaps send
	// Debian requests to its own backend list (ftp.debian.org), while
	// containers use the host's mirror, which may be the only one
	// reachable. Without remaps it caches each URL as requested.
	conf := filepath.Join(dir, "conf")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		return Proc{}, 0, fmt.Errorf("apt cache: %w", err)
	}
	cfg := fmt.Sprintf("CacheDir: %s\nLogDir: %s\nSupportDir: /usr/lib/apt-cacher-ng\nBindAddress: %s\nPort: %d\nPidFile: %s\nSocketPath: %s\nForeGround: 1\nExThreshold: 4\n",
		cache, dir, l.Gateway, port, filepath.Join(dir, "pid"), filepath.Join(dir, "socket"))
	if err := os.WriteFile(filepath.Join(conf, "acng.conf"), []byte(cfg), 0o644); err != nil {
		return Proc{}, 0, fmt.Errorf("apt cache: %w", err)
	}
	args := []string{"/usr/sbin/apt-cacher-ng", "-c", conf}
	p, err := startProc("apt-cacher-ng", args, filepath.Join(dir, "stdout.log"), nil)
	if err != nil {
		return Proc{}, 0, err
	}
	if err := waitListening(ctx, l.Gateway, port, p, 10*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "stdout.log"))
		return p, 0, fmt.Errorf("apt-cacher-ng: %w: %s", err, strings.TrimSpace(string(log)))
	}
	return p, port, nil
}

// HostsSnippet renders the lab's nodes as YAML ready to paste under a
// stack's `hosts:`.
func HostsSnippet(l *labconf.Lab) string {
	var b strings.Builder
	b.WriteString("# pvelab nodes; known_hosts: " + filepath.Join(l.Root, "known_hosts") + "\n")
	for _, n := range l.Nodes {
		fmt.Fprintf(&b, "  %s: {address: %s, user: %s, port: %d, identity: %s}\n",
			n.Name, n.Host, n.User, n.Port, filepath.Join(l.Root, "id_ed25519"))
	}
	return b.String()
}

func linkOrCopy(src, dst string) error {
	os.Remove(dst)
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
