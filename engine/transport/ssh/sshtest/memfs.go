package sshtest

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
)

// MemFS is a tiny in-memory file tree: what the scp sink writes and what
// [Coreutils] reads. Paths are absolute and slash-separated. "/" and "/tmp"
// exist from the start. It is safe for concurrent use.
type MemFS struct {
	mu    sync.Mutex
	files map[string]MemFile
	dirs  map[string]bool
	seq   int
}

// MemFile is one stored file.
type MemFile struct {
	Data []byte
	Mode os.FileMode
}

// NewMemFS returns an empty tree with "/" and "/tmp".
func NewMemFS() *MemFS {
	return &MemFS{files: map[string]MemFile{}, dirs: map[string]bool{"/": true, "/tmp": true}}
}

// IsDir reports whether p is a directory.
func (fs *MemFS) IsDir(p string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.dirs[path.Clean(p)]
}

// MkdirTemp creates a fresh directory under dir and returns its path.
func (fs *MemFS) MkdirTemp(dir string) (string, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	dir = path.Clean(dir)
	if !fs.dirs[dir] {
		return "", fmt.Errorf("%s: No such file or directory", dir)
	}
	fs.seq++
	p := path.Join(dir, fmt.Sprintf("tmp.sshtest%06d", fs.seq))
	fs.dirs[p] = true
	return p, nil
}

// Mkdir creates directory p (its parent must exist).
func (fs *MemFS) Mkdir(p string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	p = path.Clean(p)
	if !fs.dirs[path.Dir(p)] {
		return fmt.Errorf("%s: No such file or directory", p)
	}
	fs.dirs[p] = true
	return nil
}

// WriteFile stores data at p; the parent directory must exist.
func (fs *MemFS) WriteFile(p string, data []byte, mode os.FileMode) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	p = path.Clean(p)
	if !fs.dirs[path.Dir(p)] {
		return fmt.Errorf("%s: No such file or directory", p)
	}
	if fs.dirs[p] {
		return fmt.Errorf("%s: Is a directory", p)
	}
	fs.files[p] = MemFile{Data: append([]byte(nil), data...), Mode: mode}
	return nil
}

// ReadFile returns the file at p.
func (fs *MemFS) ReadFile(p string) (MemFile, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.files[path.Clean(p)]
	return f, ok
}

// RemoveAll removes p and everything below it; a missing p is not an error.
func (fs *MemFS) RemoveAll(p string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	p = path.Clean(p)
	for k := range fs.files {
		if k == p || strings.HasPrefix(k, p+"/") {
			delete(fs.files, k)
		}
	}
	for k := range fs.dirs {
		if (k == p || strings.HasPrefix(k, p+"/")) && k != "/" && k != "/tmp" {
			delete(fs.dirs, k)
		}
	}
}

// Paths lists every file and directory (directories with a trailing "/"),
// sorted; the built-in "/" and "/tmp" are left out.
func (fs *MemFS) Paths() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []string
	for k := range fs.files {
		out = append(out, k)
	}
	for k := range fs.dirs {
		if k != "/" && k != "/tmp" {
			out = append(out, k+"/")
		}
	}
	sort.Strings(out)
	return out
}
