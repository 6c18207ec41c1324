package lxcrt

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Extract unpacks template into rootDir. For an unprivileged container the
// tree is then shifted into the id range the container's root maps to,
// and setuid/setgid bits, which chown clears, are put back.
func (r *Runtime) Extract(ctx context.Context, template, rootDir string, unprivileged bool) error {
	var comp string
	switch {
	case strings.HasSuffix(template, ".tar.zst"):
		comp = "--zstd"
	case strings.HasSuffix(template, ".tar.gz"), strings.HasSuffix(template, ".tgz"):
		comp = "--gzip"
	case strings.HasSuffix(template, ".tar.xz"):
		comp = "--xz"
	default:
		return fmt.Errorf("extract %s: unknown compression: %w", template, ErrSpec)
	}
	if err := os.MkdirAll(rootDir, 0o755); err != nil {
		return fmt.Errorf("extract %s: %w", template, err)
	}
	// dev/* is skipped: autodev provides /dev, and stray device nodes in
	// other templates must not reach the volume.
	cmd := exec.CommandContext(ctx, "tar", comp, "-x", "-p", "--numeric-owner", "--same-owner",
		"--exclude=./dev/*", "-f", template, "-C", rootDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("extract %s: %w: %s", template, err, strings.TrimSpace(string(out)))
	}
	if unprivileged {
		if err := shiftIDs(rootDir, IDShift); err != nil {
			return fmt.Errorf("extract %s: shift ids: %w", template, err)
		}
	}
	return nil
}

// shiftIDs adds shift to the owner and group of every file under dir.
// Hard links are shifted once (by inode), and ids already in the shifted
// range are left alone, so a re-run is harmless.
func shiftIDs(dir string, shift int) error {
	type ino struct{ dev, ino uint64 }
	seen := map[ino]bool{}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		k := ino{uint64(st.Dev), st.Ino}
		if seen[k] {
			return nil
		}
		seen[k] = true
		uid, gid := int(st.Uid), int(st.Gid)
		if uid >= shift && gid >= shift {
			return nil
		}
		if uid < IDRange {
			uid += shift
		}
		if gid < IDRange {
			gid += shift
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFLNK && st.Mode&(syscall.S_ISUID|syscall.S_ISGID) != 0 {
			if err := syscall.Chmod(p, st.Mode&0o7777); err != nil {
				return err
			}
		}
		return nil
	})
}
