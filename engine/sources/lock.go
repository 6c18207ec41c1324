package sources

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LockFile is the name of the lock file, beside the stack file.
const LockFile = "lxcplan.lock"

const lockHeader = `# lxcplan.lock: the recipe sources of this stack, pinned.
# Written by "lxcplan recipes lock"; do not edit by hand. For each git source
# it records the commit its ref resolved to, and for each recipe used its
# version and the sha256 of recipe.yaml and of every file in its folder.
# plan and apply refuse recipes that differ; after a deliberate upstream
# change run "lxcplan recipes lock STACK --update [SOURCE]". Commit this file.
`

// Lock is the content of lxcplan.lock.
type Lock struct {
	Version int                      `yaml:"version"`
	Sources map[string]*LockedSource `yaml:"sources"`
}

// LockedSource pins one source. Git is empty for a source that was vendored
// into a path source: its recipes are still verified against the digests.
type LockedSource struct {
	Git     string                   `yaml:"git,omitempty"`
	Ref     string                   `yaml:"ref,omitempty"`
	Kind    Kind                     `yaml:"kind,omitempty"` // what ref was: tag, branch or commit
	Commit  string                   `yaml:"commit,omitempty"`
	Recipes map[string]*LockedRecipe `yaml:"recipes"`
}

// LockedRecipe pins one recipe: Files maps each file's slash path relative to
// the recipe folder (recipe.yaml included) to "sha256:<hex>".
type LockedRecipe struct {
	Version string            `yaml:"version"`
	Files   map[string]string `yaml:"files"`
}

// NewLock returns an empty lock of the current format.
func NewLock() *Lock { return &Lock{Version: 1, Sources: map[string]*LockedSource{}} }

// Codec encodes and decodes the lock file. The lock is YAML, but only
// engine/manifest may import the YAML library, and manifest imports this
// package, so callers hand in manifest.YAMLCodec rather than this package
// importing it.
type Codec interface {
	// Marshal renders v with sorted map keys, so equal values give equal bytes.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into v strictly: unknown fields are errors.
	// Empty data leaves v unchanged.
	Unmarshal(data []byte, v any) error
}

// ErrNoCodec is returned when a lock file must be read or written but no
// Codec was given.
var ErrNoCodec = errors.New("no lock file codec (set sources.Resolver.Codec)")

// ReadLock reads a lock file with c; the error wraps fs.ErrNotExist when
// there is none.
func ReadLock(name string, c Codec) (*Lock, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("read %s: %w", name, ErrNoCodec)
	}
	l := NewLock()
	if err := c.Unmarshal(data, l); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if l.Version != 1 {
		return nil, fmt.Errorf("read %s: lock format version %d is not supported (want 1)", name, l.Version)
	}
	if l.Sources == nil {
		l.Sources = map[string]*LockedSource{}
	}
	for sn, s := range l.Sources {
		if s == nil {
			return nil, fmt.Errorf("read %s: source %s is empty", name, sn)
		}
		if s.Recipes == nil {
			s.Recipes = map[string]*LockedRecipe{}
		}
		for rn, r := range s.Recipes {
			if r == nil || len(r.Files) == 0 {
				return nil, fmt.Errorf("read %s: recipe %s/%s has no files", name, sn, rn)
			}
		}
	}
	return l, nil
}

// Marshal renders the lock: header comment, then the body encoded by c with
// sorted keys, so the same pins always give the same bytes (and small diffs
// in review).
func (l *Lock) Marshal(c Codec) ([]byte, error) {
	if c == nil {
		return nil, ErrNoCodec
	}
	body, err := c.Marshal(l)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(lockHeader)
	b.Write(body)
	return b.Bytes(), nil
}

// WriteLock writes the lock atomically, encoded by c.
func WriteLock(name string, l *Lock, c Codec) error {
	data, err := l.Marshal(c)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := writeFileAtomic(name, data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// RecipeDir is the folder of recipe name in a repository rooted at repo:
// recipes/<name>, or <name> at the root for a bare recipes/ folder given as
// the repository. "" when neither holds a recipe.yaml.
func RecipeDir(repo, name string) string {
	for _, d := range []string{filepath.Join(repo, "recipes", name), filepath.Join(repo, name)} {
		if fi, err := os.Stat(filepath.Join(d, "recipe.yaml")); err == nil && !fi.IsDir() {
			return d
		}
	}
	return ""
}

// DigestDir hashes every file under dir: slash path relative to dir →
// "sha256:<hex>". A symbolic link is hashed as its target text, so changing
// where it points is a change too.
func DigestDir(dir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		h := sha256.New()
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			h.Write([]byte("symlink:" + target))
		case d.Type().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
		default:
			return nil
		}
		out[filepath.ToSlash(rel)] = "sha256:" + hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hash recipe folder %s: %w", dir, err)
	}
	return out, nil
}

// FileMismatch describes the first difference between locked and found
// digests ("" when they agree), naming the file and both digests.
func FileMismatch(locked, found map[string]string) string {
	names := map[string]bool{}
	for k := range locked {
		names[k] = true
	}
	for k := range found {
		names[k] = true
	}
	for _, n := range sortedKeys(names) {
		want, has := locked[n]
		got, exists := found[n]
		switch {
		case !exists:
			return fmt.Sprintf("file %s is missing (lxcplan.lock expects %s)", n, short(want))
		case !has:
			return fmt.Sprintf("file %s is not in lxcplan.lock (found %s)", n, short(got))
		case want != got:
			return fmt.Sprintf("file %s has %s, lxcplan.lock expects %s", n, short(got), short(want))
		}
	}
	return ""
}

func short(d string) string {
	if len(d) > len("sha256:")+16 {
		return d[:len("sha256:")+16]
	}
	return d
}

// Change is one recipe whose pin differs between two locks.
type Change struct {
	Source, Recipe string
	Old, New       *LockedRecipe // nil when added / removed
	OldCommit      string
	NewCommit      string
}

func (c Change) String() string {
	id := c.Source + "/" + c.Recipe
	switch {
	case c.Old == nil:
		return fmt.Sprintf("added    %s %s", id, c.New.Version)
	case c.New == nil:
		return fmt.Sprintf("removed  %s %s", id, c.Old.Version)
	}
	var files []string
	for _, n := range unionKeys(c.Old.Files, c.New.Files) {
		if c.Old.Files[n] != c.New.Files[n] {
			files = append(files, n)
		}
	}
	ver := c.Old.Version
	if c.New.Version != c.Old.Version {
		ver = c.Old.Version + " -> " + c.New.Version
	}
	return fmt.Sprintf("changed  %s %s (%s)", id, ver, strings.Join(files, ", "))
}

// Diff lists the recipes added, removed or changed from old to new (old may
// be nil), sorted by source then recipe.
func Diff(old, new *Lock) []Change {
	if old == nil {
		old = NewLock()
	}
	var out []Change
	for _, sn := range unionKeys(old.Sources, new.Sources) {
		os, ns := old.Sources[sn], new.Sources[sn]
		var or, nr map[string]*LockedRecipe
		var oc, nc string
		if os != nil {
			or, oc = os.Recipes, os.Commit
		}
		if ns != nil {
			nr, nc = ns.Recipes, ns.Commit
		}
		for _, rn := range unionKeys(or, nr) {
			a, b := or[rn], nr[rn]
			if a != nil && b != nil && a.Version == b.Version && FileMismatch(a.Files, b.Files) == "" {
				continue
			}
			out = append(out, Change{Source: sn, Recipe: rn, Old: a, New: b, OldCommit: oc, NewCommit: nc})
		}
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return sortedKeys(m)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
