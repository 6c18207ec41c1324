package sources

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Vendor copies every recipe the lock pins, from the resolved sources (by
// name), into dst/recipes/<name>/, so dst can serve as a `path:` source on a
// site without network access. Each copy is verified against the lock. Two
// sources pinning different recipes of one name cannot share a folder and
// are refused. It returns the recipes copied as "source/name".
func Vendor(lock *Lock, resolved map[string]*Resolved, dst string) ([]string, error) {
	owner := map[string]string{} // recipe name -> source/name that claimed it
	var copied []string
	for _, sn := range sortedKeys(lock.Sources) {
		ls := lock.Sources[sn]
		res := resolved[sn]
		if len(ls.Recipes) == 0 {
			continue
		}
		if res == nil {
			return copied, fmt.Errorf("vendor source %s: it was not resolved (is it still declared in the stack?)", sn)
		}
		for _, rn := range sortedKeys(ls.Recipes) {
			id := sn + "/" + rn
			if prev, taken := owner[rn]; taken {
				ps, _, _ := cut(prev)
				if FileMismatch(lock.Sources[ps].Recipes[rn].Files, ls.Recipes[rn].Files) != "" {
					return copied, fmt.Errorf("vendor %s: %s is a different recipe of the same name; both cannot live in %s",
						id, prev, filepath.Join(dst, "recipes", rn))
				}
				continue
			}
			owner[rn] = id
			from := RecipeDir(res.Dir, rn)
			if from == "" {
				return copied, fmt.Errorf("vendor %s: no recipe folder in %s", id, res.Dir)
			}
			to := filepath.Join(dst, "recipes", rn)
			if err := os.RemoveAll(to); err != nil {
				return copied, fmt.Errorf("vendor %s: %w", id, err)
			}
			if err := copyTree(from, to); err != nil {
				return copied, fmt.Errorf("vendor %s: %w", id, err)
			}
			got, err := DigestDir(to)
			if err != nil {
				return copied, fmt.Errorf("vendor %s: %w", id, err)
			}
			if msg := FileMismatch(ls.Recipes[rn].Files, got); msg != "" {
				return copied, fmt.Errorf("vendor %s: the copy does not match %s: %s", id, LockFile, msg)
			}
			copied = append(copied, id)
		}
	}
	return copied, nil
}

func cut(id string) (string, string, bool) {
	for i := 0; i < len(id); i++ {
		if id[i] == '/' {
			return id[:i], id[i+1:], true
		}
	}
	return id, "", false
}

// copyTree copies regular files and folders, keeping the executable bit;
// symbolic links are recreated as links (their target is part of the digest).
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			return copyFile(p, target)
		}
		return nil
	})
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if fi.Mode()&0o111 != 0 {
		mode = 0o755
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, cerr := io.Copy(out, in)
	if err := out.Close(); cerr == nil {
		cerr = err
	}
	return cerr
}
