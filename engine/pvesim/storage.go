package pvesim

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// storage is one entry of storage.cfg.
type storage struct {
	ID       string
	Type     string // dir, lvmthin, zfspool, ...
	Content  []string
	Disabled bool
	Path     string // dir storages: the path as the node sees it
	Pool     string // zfspool
	VG       string // lvm
}

func (s *storage) allows(content string) bool {
	for _, c := range s.Content {
		if c == content {
			return true
		}
	}
	return false
}

// snapshots reports whether volumes of this storage support snapshots
// (§2.9: lvmthin, zfspool, rbd and btrfs do; raw images on dir do not).
func (s *storage) snapshots() bool {
	switch s.Type {
	case "lvmthin", "zfspool", "rbd", "btrfs":
		return true
	}
	return false
}

var reStorageHead = regexp.MustCompile(`^([a-z][a-z0-9]*):\s*(\S+)\s*$`)

// storages parses storage.cfg; the result is keyed by ID.
func (c *Cluster) storages() (map[string]*storage, error) {
	f, err := os.Open(filepath.Join(c.Dir, "storage.cfg"))
	if err != nil {
		return nil, fmt.Errorf("read storage.cfg: %w", err)
	}
	defer f.Close()
	out := map[string]*storage{}
	var cur *storage
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if m := reStorageHead.FindStringSubmatch(line); m != nil {
			cur = &storage{Type: m[1], ID: m[2]}
			out[cur.ID] = cur
			continue
		}
		if cur == nil {
			continue
		}
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		v = strings.TrimSpace(v)
		switch k {
		case "content":
			cur.Content = splitComma(v)
		case "disable":
			cur.Disabled = v == "" || v == "1"
		case "path":
			cur.Path = v
		case "pool":
			cur.Pool = v
		case "vgname":
			cur.VG = v
		}
	}
	return out, sc.Err()
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// errNoStorage etc. carry PVE's exact texts.
type pveError struct{ msg string }

func (e *pveError) Error() string { return e.msg }

func pveErr(format string, a ...any) error { return &pveError{fmt.Sprintf(format, a...)} }

// storage returns an enabled storage or PVE's error.
func (n *Node) storage(id string) (*storage, error) {
	all, err := n.cluster.storages()
	if err != nil {
		return nil, err
	}
	s, ok := all[id]
	if !ok {
		return nil, pveErr("storage '%s' does not exist", id)
	}
	if s.Disabled {
		return nil, pveErr("storage '%s' is disabled", id)
	}
	return s, nil
}

// hostDir is where a storage's data lives on the host for this node.
func (n *Node) hostDir(s *storage) string {
	if s.ID == "local" {
		return n.StorageRoot
	}
	return filepath.Join(filepath.Dir(n.StorageRoot), strings.TrimPrefix(s.ID, "local-"))
}

var reVolid = regexp.MustCompile(`(?i)^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$`)

// parseVolid splits "storage:volname".
func parseVolid(v string) (storeID, volname string, ok bool) {
	m := reVolid.FindStringSubmatch(v)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// volumePath maps a volume to its host directory and to the path PVE would
// show (pvesm path, messages).
func (n *Node) volumePath(s *storage, volname string) (host, shown string, err error) {
	hd := n.hostDir(s)
	switch s.Type {
	case "lvmthin", "lvm":
		if !regexp.MustCompile(`^(vm|base)-\d+-[\w\-.]+$`).MatchString(volname) {
			return "", "", pveErr("unable to parse lvm volume name '%s'", volname)
		}
		vg := s.VG
		if vg == "" {
			vg = "pve"
		}
		return filepath.Join(hd, volname), "/dev/" + vg + "/" + volname, nil
	case "zfspool":
		if !regexp.MustCompile(`^((vm|base|subvol|basevol)-\d+-[\w\-.]+)$`).MatchString(volname) {
			return "", "", pveErr("unable to parse zfs volume name '%s'", volname)
		}
		pool := s.Pool
		if pool == "" {
			pool = "rpool/data"
		}
		return filepath.Join(hd, volname), "/" + pool + "/" + volname, nil
	default: // dir-like
		sub := ""
		switch {
		case strings.HasPrefix(volname, "vztmpl/"):
			sub = filepath.Join("template", "cache", strings.TrimPrefix(volname, "vztmpl/"))
		case strings.HasPrefix(volname, "iso/"):
			sub = filepath.Join("template", "iso", strings.TrimPrefix(volname, "iso/"))
		case strings.HasPrefix(volname, "backup/"):
			sub = filepath.Join("dump", strings.TrimPrefix(volname, "backup/"))
		case strings.HasPrefix(volname, "snippets/"):
			sub = filepath.Join("snippets", strings.TrimPrefix(volname, "snippets/"))
		case regexp.MustCompile(`^\d+/[^/]+$`).MatchString(volname):
			sub = filepath.Join("images", volname)
		default:
			return "", "", pveErr("unable to parse directory volume name '%s'", volname)
		}
		return filepath.Join(hd, sub), s.Path + "/" + filepath.ToSlash(sub), nil
	}
}

// volumeContent is the content type a volume name implies.
func volumeContent(volname string) string {
	switch {
	case strings.HasPrefix(volname, "vztmpl/"):
		return "vztmpl"
	case strings.HasPrefix(volname, "iso/"):
		return "iso"
	case strings.HasPrefix(volname, "backup/"):
		return "backup"
	case strings.HasPrefix(volname, "snippets/"):
		return "snippets"
	}
	return "images"
}

var reDiskIdx = regexp.MustCompile(`-disk-(\d+)`)

// allocVolume creates a new volume directory for vmid and returns its
// name (§2.2's naming per storage type). Output lines mimic lvm2.
func (n *Node) allocVolume(s *storage, vmid int, size int64, out io.Writer) (string, error) {
	used := map[int]bool{}
	hd := n.hostDir(s)
	pattern := filepath.Join(hd, fmt.Sprintf("*-%d-disk-*", vmid))
	if s.Type != "lvmthin" && s.Type != "lvm" && s.Type != "zfspool" {
		pattern = filepath.Join(hd, "images", strconv.Itoa(vmid), "*")
	}
	matches, _ := filepath.Glob(pattern)
	for _, m := range matches {
		if sm := reDiskIdx.FindStringSubmatch(filepath.Base(m)); sm != nil {
			i, _ := strconv.Atoi(sm[1])
			used[i] = true
		}
	}
	idx := 0
	for used[idx] {
		idx++
	}
	var name string
	switch s.Type {
	case "lvmthin", "lvm", "rbd":
		name = fmt.Sprintf("vm-%d-disk-%d", vmid, idx)
	case "zfspool":
		name = fmt.Sprintf("subvol-%d-disk-%d", vmid, idx)
	default:
		if size > 0 {
			name = fmt.Sprintf("%d/vm-%d-disk-%d.raw", vmid, vmid, idx)
		} else {
			name = fmt.Sprintf("%d/subvol-%d-disk-%d.subvol", vmid, vmid, idx)
		}
	}
	host, _, err := n.volumePath(s, name)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(host, 0o755); err != nil {
		return "", fmt.Errorf("allocate volume %s: %w", name, err)
	}
	switch s.Type {
	case "lvmthin", "lvm":
		fmt.Fprintf(out, "  Logical volume \"%s\" created.\n", name)
	}
	if s.Type == "lvmthin" || s.Type == "lvm" || strings.HasSuffix(name, ".raw") {
		blocks := size / 4096
		fmt.Fprintf(out, "Creating filesystem with %d 4k blocks and %d inodes\n", blocks, blocks/4)
		fmt.Fprintf(out, "Filesystem UUID: %s\n", fakeUUID(vmid, idx))
		fmt.Fprintf(out, "Superblock backups stored on blocks: \n\t32768, 98304, 163840, 229376, 294912, 819200, 884736, 1605632\n")
	}
	return name, nil
}

func fakeUUID(vmid, idx int) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", vmid*2654435761%0xffffffff, idx, vmid%0xfff, idx%0xfff, vmid*7919+idx)
}

// freeVolume deletes a volume and its snapshots.
func (n *Node) freeVolume(s *storage, volname string, out io.Writer) error {
	host, _, err := n.volumePath(s, volname)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(host); err != nil {
		return fmt.Errorf("free volume %s: %w", volname, err)
	}
	os.RemoveAll(n.snapDir(s, volname))
	if s.Type == "lvmthin" || s.Type == "lvm" {
		fmt.Fprintf(out, "  Logical volume \"%s\" successfully removed.\n", volname)
	}
	if s.Type == "dir" {
		// The per-VMID images dir goes away with its last volume.
		os.Remove(filepath.Dir(host))
	}
	return nil
}

// snapDir holds a volume's snapshots: <hostdir>/.snapshots/<volname>/<snap>.
func (n *Node) snapDir(s *storage, volname string) string {
	return filepath.Join(n.hostDir(s), ".snapshots", volname)
}

func (n *Node) volumeSnapshot(s *storage, volname, snap string) error {
	host, _, err := n.volumePath(s, volname)
	if err != nil {
		return err
	}
	dst := filepath.Join(n.snapDir(s, volname), snap)
	os.RemoveAll(dst)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return copyTree(host, dst)
}

func (n *Node) volumeRollback(s *storage, volname, snap string) error {
	host, _, err := n.volumePath(s, volname)
	if err != nil {
		return err
	}
	src := filepath.Join(n.snapDir(s, volname), snap)
	if _, err := os.Stat(src); err != nil {
		return pveErr("snapshot '%s' of volume '%s' does not exist", snap, volname)
	}
	if err := os.RemoveAll(host); err != nil {
		return err
	}
	return copyTree(src, host)
}

func (n *Node) volumeSnapshotDelete(s *storage, volname, snap string) error {
	return os.RemoveAll(filepath.Join(n.snapDir(s, volname), snap))
}

// moveVolume moves a volume (and its snapshots) to another node's storage
// dir, for migration.
func (n *Node) moveVolume(s *storage, volname string, to *Node) error {
	src, _, err := n.volumePath(s, volname)
	if err != nil {
		return err
	}
	dst, _, _ := to.volumePath(s, volname)
	if err := moveTree(src, dst); err != nil {
		return err
	}
	if _, err := os.Stat(n.snapDir(s, volname)); err == nil {
		return moveTree(n.snapDir(s, volname), to.snapDir(s, volname))
	}
	return nil
}

func moveTree(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	os.RemoveAll(dst)
	if err := os.Rename(src, dst); err == nil {
		return nil
	}
	if err := copyTree(src, dst); err != nil {
		return err
	}
	return os.RemoveAll(src)
}

// copyTree copies a directory like `cp -a --reflink=auto`, using cp when it
// exists because it keeps device nodes, xattrs and ownership of a real
// container rootfs.
func copyTree(src, dst string) error {
	if p, err := exec.LookPath("cp"); err == nil {
		out, err := exec.Command(p, "-a", "--reflink=auto", "-T", src, dst).CombinedOutput()
		if err != nil {
			return fmt.Errorf("copy %s: %s: %w", src, strings.TrimSpace(string(out)), err)
		}
		return nil
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		t := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(t, info.Mode().Perm())
		case info.Mode()&os.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, t)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(t, b, info.Mode().Perm())
		}
		return nil
	})
}

// dirUsage returns total, used and available bytes of the filesystem
// holding dir.
func dirUsage(dir string) (total, used, avail int64) {
	var st syscall.Statfs_t
	for d := dir; ; d = filepath.Dir(d) {
		if err := syscall.Statfs(d, &st); err == nil {
			break
		}
		if d == filepath.Dir(d) {
			return 0, 0, 0
		}
	}
	bs := int64(st.Bsize)
	total = int64(st.Blocks) * bs
	avail = int64(st.Bavail) * bs
	used = total - int64(st.Bfree)*bs
	return total, used, avail
}

// templates lists vztmpl volumes of a storage: name → size in bytes.
func (n *Node) templates(s *storage) map[string]int64 {
	out := map[string]int64{}
	dir := filepath.Join(n.hostDir(s), "template", "cache")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() || !reTemplateName.MatchString(e.Name()) {
			continue
		}
		if info, err := e.Info(); err == nil {
			out[e.Name()] = info.Size()
		}
	}
	return out
}

var reTemplateName = regexp.MustCompile(`\.tar(\.(gz|xz|zst|bz2))?$`)

// templateFormat is pvesm's format column for a template (§7.2).
func templateFormat(name string) string {
	m := regexp.MustCompile(`\.tar\.(gz|xz|zst|bz2)$`).FindStringSubmatch(name)
	if m == nil {
		return "tar"
	}
	return "t" + m[1]
}

// storageIDs returns sorted storage IDs.
func storageIDs(all map[string]*storage) []string {
	ids := make([]string, 0, len(all))
	for id := range all {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
