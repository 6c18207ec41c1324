// Package sources resolves the shared recipe repositories a stack declares
// under `sources:` to folders on disk, and keeps them honest with a lock file.
//
// Git sources are fetched with the system git into a cache
// ($XDG_CACHE_HOME/lxcplan/sources): one bare repository per URL, plus one
// extracted tree per commit. A commit already extracted is used without any
// network call, so a stack whose lock pins commits works offline. The lock
// (lxcplan.lock beside the stack) records the commit of every git source and
// the sha256 of every file of every recipe used, so a moved tag or a changed
// file is reported instead of silently applied.
//
// This package knows nothing about the recipe format: engine/manifest parses
// recipes and calls in here to find their folders.
package sources

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Kind says how a git ref was resolved.
type Kind string

const (
	KindTag    Kind = "tag"
	KindBranch Kind = "branch" // unpinned: the commit moves
	KindCommit Kind = "commit"
	KindPath   Kind = "path" // a local folder, not git
)

// Resolved is a source as found on disk.
type Resolved struct {
	Name   string
	URL    string // git sources
	Ref    string // git sources, as written
	Commit string // git sources: the full commit id
	Kind   Kind
	// Dir is the repository root: it holds recipes/<name>/recipe.yaml.
	Dir string
	// Fetched is true when this resolution contacted the remote.
	Fetched bool
}

// Resolver fetches and caches git sources. The zero value is not usable;
// call NewResolver. A Resolver is safe for concurrent use.
type Resolver struct {
	// CacheDir holds the cache; "" means $XDG_CACHE_HOME/lxcplan/sources
	// (or ~/.cache/lxcplan/sources).
	CacheDir string
	// Git is the git program; "" means "git" on $PATH.
	Git string
	// Update lists the sources resolved afresh, ignoring their lock entry
	// (`recipes lock --update SOURCE`); UpdateAll does that for every source.
	Update    map[string]bool
	UpdateAll bool
	// AllowUnlocked accepts sources and recipes missing from an existing
	// lock (`recipes lock` adds them) instead of reporting errors.
	AllowUnlocked bool
	// CheckRemote asks the remote (one `git ls-remote`) whether a tag or
	// branch still points at the locked commit even when that commit is
	// cached, so a moved tag is caught on this machine too. An unreachable
	// remote then only warns. Off by default: a locked stack needs no
	// network at all.
	CheckRemote bool
	// Timeout bounds each git command; 0 means 10 minutes.
	Timeout time.Duration
	// Codec reads and writes lxcplan.lock; use manifest.YAMLCodec. Without
	// one, a stack that has a lock file cannot be loaded.
	Codec Codec

	mu       sync.Mutex
	sessions map[string]*Session
	repoMu   map[string]*sync.Mutex
}

// NewResolver returns a Resolver using the default cache and git, reading
// and writing lock files with c (manifest.YAMLCodec).
func NewResolver(c Codec) *Resolver { return &Resolver{Codec: c} }

func (r *Resolver) updating(name string) bool { return r.UpdateAll || r.Update[name] }

// Cache returns the cache folder in use.
func (r *Resolver) Cache() (string, error) {
	if r.CacheDir != "" {
		return r.CacheDir, nil
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" || !filepath.IsAbs(base) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the recipe source cache: %w", err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "lxcplan", "sources"), nil
}

// lockRepo serialises work on one cached repository inside this process;
// git's own lock files protect it from other processes.
func (r *Resolver) lockRepo(dir string) func() {
	r.mu.Lock()
	if r.repoMu == nil {
		r.repoMu = map[string]*sync.Mutex{}
	}
	m := r.repoMu[dir]
	if m == nil {
		m = &sync.Mutex{}
		r.repoMu[dir] = m
	}
	r.mu.Unlock()
	m.Lock()
	return m.Unlock
}

var (
	// A ref is handed to git as an argument: refuse anything that could be
	// read as an option or a revision expression.
	refRe     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._/+-]*$`)
	hexRe     = regexp.MustCompile(`^[0-9a-f]{4,40}$`)
	fullHexRe = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// ErrBadSource marks a source whose URL or ref cannot be used at all.
var ErrBadSource = errors.New("invalid source")

func checkSpec(url, ref string) error {
	if url == "" || strings.HasPrefix(url, "-") || strings.ContainsAny(url, "\n\r\x00") {
		return fmt.Errorf("%w: git URL %q", ErrBadSource, url)
	}
	if strings.HasPrefix(strings.ToLower(url), "ext::") {
		return fmt.Errorf("%w: git URL %q: the ext:: transport runs commands and is not allowed", ErrBadSource, url)
	}
	if !refRe.MatchString(ref) || strings.Contains(ref, "..") {
		return fmt.Errorf("%w: ref %q: use a tag, a branch or a commit id", ErrBadSource, ref)
	}
	return nil
}

// repoMeta remembers what each ref resolved to when it was last fetched, so
// a tag can be used again without asking the remote.
type repoMeta struct {
	URL  string             `json:"url"`
	Refs map[string]metaRef `json:"refs"`
}

type metaRef struct {
	Commit  string    `json:"commit"`
	Kind    Kind      `json:"kind"`
	Fetched time.Time `json:"fetched"`
}

func readMeta(repo string) repoMeta {
	m := repoMeta{Refs: map[string]metaRef{}}
	data, err := os.ReadFile(filepath.Join(repo, "lxcplan-refs.json"))
	if err == nil {
		_ = json.Unmarshal(data, &m) // a damaged record only costs a fetch
	}
	if m.Refs == nil {
		m.Refs = map[string]metaRef{}
	}
	return m
}

func writeMeta(repo string, m repoMeta) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(repo, "lxcplan-refs.json"), append(data, '\n'))
}

// repoDir is the cache folder of one URL: named by a hash so any URL maps to
// a safe file name, and two spellings never share a clone by accident.
func (r *Resolver) repoDir(url string) (string, error) {
	cache, err := r.Cache()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(cache, hex.EncodeToString(sum[:12])), nil
}

func treeDir(repo, commit string) string { return filepath.Join(repo, "trees", commit) }

func haveTree(repo, commit string) bool {
	if !fullHexRe.MatchString(commit) {
		return false
	}
	fi, err := os.Stat(treeDir(repo, commit))
	return err == nil && fi.IsDir()
}

// ResolveGit returns a local tree of url at ref. pin is the commit the lock
// records ("" when unlocked). Without refresh, a tree already in the cache is
// used with no network call when it is pinned (by pin, or because ref is a
// full commit id) or when ref is a tag fetched before; otherwise the remote is
// asked. With refresh the remote is always asked and the tree re-extracted
// (which also repairs a damaged cache).
func (r *Resolver) ResolveGit(ctx context.Context, url, ref, pin string, refresh bool) (*Resolved, error) {
	if err := checkSpec(url, ref); err != nil {
		return nil, err
	}
	repo, err := r.repoDir(url)
	if err != nil {
		return nil, err
	}
	defer r.lockRepo(repo)()
	meta := readMeta(repo)
	res := &Resolved{URL: url, Ref: ref}
	if !refresh {
		known, seen := meta.Refs[ref]
		switch {
		case pin != "" && haveTree(repo, pin):
			res.Commit, res.Kind = pin, known.Kind
			if !seen {
				res.Kind = guessKind(ref, pin)
			}
		case pin == "" && fullHexRe.MatchString(ref) && haveTree(repo, ref):
			res.Commit, res.Kind = ref, KindCommit
		case pin == "" && seen && known.Kind != KindBranch && haveTree(repo, known.Commit):
			res.Commit, res.Kind = known.Commit, known.Kind
		}
		if res.Commit != "" {
			res.Dir = treeDir(repo, res.Commit)
			return res, nil
		}
	}
	if err := r.ensureRepo(ctx, repo, url); err != nil {
		return nil, err
	}
	commit, kind, err := r.fetch(ctx, repo, url, ref)
	if err != nil {
		return nil, err
	}
	if refresh || !haveTree(repo, commit) {
		if err := r.extract(ctx, repo, commit); err != nil {
			return nil, err
		}
	}
	meta.URL = url
	meta.Refs[ref] = metaRef{Commit: commit, Kind: kind, Fetched: time.Now().UTC()}
	if err := writeMeta(repo, meta); err != nil {
		return nil, fmt.Errorf("record fetched ref: %w", err)
	}
	res.Commit, res.Kind, res.Dir, res.Fetched = commit, kind, treeDir(repo, commit), true
	return res, nil
}

func guessKind(ref, commit string) Kind {
	if hexRe.MatchString(ref) && strings.HasPrefix(commit, ref) {
		return KindCommit
	}
	return KindTag
}

func (r *Resolver) ensureRepo(ctx context.Context, repo, url string) error {
	if fi, err := os.Stat(filepath.Join(repo, "HEAD")); err == nil && !fi.IsDir() {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(repo), 0o755); err != nil {
		return fmt.Errorf("create recipe source cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(repo), ".init-")
	if err != nil {
		return fmt.Errorf("create recipe source cache: %w", err)
	}
	if _, err := r.git(ctx, "", "init", "--quiet", "--bare", "--template=", tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, repo); err != nil {
		os.RemoveAll(tmp)
		if _, serr := os.Stat(filepath.Join(repo, "HEAD")); serr == nil {
			return nil // another process won the race
		}
		return fmt.Errorf("create recipe source cache: %w", err)
	}
	return nil
}

// fetch brings the commit of ref into repo: a shallow fetch of exactly that
// ref first, a full fetch when the server refuses it (some servers do not
// serve commits by id). The commit is taken from `git ls-remote`, never from
// FETCH_HEAD, which a concurrent fetch into the same cache could overwrite;
// the fetch only has to make that commit present.
func (r *Resolver) fetch(ctx context.Context, repo, url, ref string) (string, Kind, error) {
	// The second pattern brings the peeled line of an annotated tag.
	out, err := r.git(ctx, repo, "ls-remote", "--", url, ref, ref+"^{}")
	if err != nil {
		return "", "", fmt.Errorf("ask %s for %s: %w", url, ref, err)
	}
	kind, full, commit := classify(out, ref)
	if kind == "" {
		if !hexRe.MatchString(ref) {
			return "", "", fmt.Errorf("%s has no tag or branch named %q", url, ref)
		}
		kind = KindCommit
		if fullHexRe.MatchString(ref) {
			commit, full = ref, ref
		}
	}
	if commit != "" {
		if c, ok := r.peel(ctx, repo, commit); ok {
			return c, kind, nil
		}
		if _, err := r.git(ctx, repo, "fetch", "--quiet", "--depth", "1", "--no-tags", "--", url, full); err == nil {
			if c, ok := r.peel(ctx, repo, commit); ok {
				return c, kind, nil
			}
		}
	}
	args := []string{"fetch", "--quiet", "--no-tags"}
	if _, err := os.Stat(filepath.Join(repo, "shallow")); err == nil {
		args = append(args, "--unshallow")
	}
	args = append(args, "--", url, "+refs/heads/*:refs/lxcplan/heads/*", "+refs/tags/*:refs/lxcplan/tags/*")
	if _, err := r.git(ctx, repo, args...); err != nil {
		return "", "", fmt.Errorf("fetch %s: %w", url, err)
	}
	if commit != "" {
		c, ok := r.peel(ctx, repo, commit)
		if !ok {
			return "", "", fmt.Errorf("%s: %s moved while it was fetched; try again", url, ref)
		}
		return c, kind, nil
	}
	// An abbreviated commit id: only the full history can expand it.
	c, err := r.git(ctx, repo, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if err != nil {
		return "", "", fmt.Errorf("%s has no commit %q", url, ref)
	}
	return strings.TrimSpace(string(c)), kind, nil
}

// RemoteCommit asks the remote which commit ref points at now, without
// fetching anything.
func (r *Resolver) RemoteCommit(ctx context.Context, url, ref string) (string, Kind, error) {
	if err := checkSpec(url, ref); err != nil {
		return "", "", err
	}
	out, err := r.git(ctx, "", "ls-remote", "--", url, ref, ref+"^{}")
	if err != nil {
		return "", "", fmt.Errorf("ask %s for %s: %w", url, ref, err)
	}
	kind, _, commit := classify(out, ref)
	if kind == "" {
		return "", "", fmt.Errorf("%s has no tag or branch named %q", url, ref)
	}
	return commit, kind, nil
}

// peelsTo reports whether object id (a tag object a server listed without
// its peeled line) is cached and points at commit.
func (r *Resolver) peelsTo(ctx context.Context, url, id, commit string) bool {
	repo, err := r.repoDir(url)
	if err != nil {
		return false
	}
	c, ok := r.peel(ctx, repo, id)
	return ok && c == commit
}

// peel returns the commit object id points at (itself, or the commit of a
// tag object) when it is present in repo.
func (r *Resolver) peel(ctx context.Context, repo, id string) (string, bool) {
	out, err := r.git(ctx, repo, "rev-parse", "--verify", "--quiet", id+"^{commit}")
	if err != nil {
		return "", false
	}
	c := strings.TrimSpace(string(out))
	return c, fullHexRe.MatchString(c)
}

// classify reads `git ls-remote` output: the kind of ref, its full name and
// the commit it points at (the peeled line of an annotated tag). A tag wins
// over a branch of the same name, as it does in git itself.
func classify(out []byte, ref string) (kind Kind, full, commit string) {
	var tagObj, peeled, head, headFull string
	for _, line := range strings.Split(string(out), "\n") {
		id, name, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if !ok || !fullHexRe.MatchString(id) {
			continue
		}
		base := strings.TrimSuffix(name, "^{}")
		switch {
		case base == "refs/tags/"+ref || (base == ref && strings.HasPrefix(ref, "refs/tags/")):
			full = base
			if strings.HasSuffix(name, "^{}") {
				peeled = id
			} else {
				tagObj = id
			}
		case base == "refs/heads/"+ref || base == ref:
			head, headFull = id, base
		}
	}
	switch {
	case peeled != "":
		return KindTag, full, peeled
	case tagObj != "":
		return KindTag, full, tagObj
	case head != "":
		return KindBranch, headFull, head
	}
	return "", "", ""
}

// extract writes the files of commit to trees/<commit>, through a temporary
// folder renamed into place, so a tree in the cache is always complete.
func (r *Resolver) extract(ctx context.Context, repo, commit string) error {
	data, err := r.git(ctx, repo, "archive", "--format=tar", commit)
	if err != nil {
		return fmt.Errorf("read commit %s: %w", commit, err)
	}
	trees := filepath.Join(repo, "trees")
	if err := os.MkdirAll(trees, 0o755); err != nil {
		return fmt.Errorf("extract commit %s: %w", commit, err)
	}
	tmp, err := os.MkdirTemp(trees, ".tmp-")
	if err != nil {
		return fmt.Errorf("extract commit %s: %w", commit, err)
	}
	defer os.RemoveAll(tmp)
	if err := untar(bytes.NewReader(data), tmp); err != nil {
		return fmt.Errorf("extract commit %s: %w", commit, err)
	}
	dst := treeDir(repo, commit)
	old := ""
	if _, err := os.Stat(dst); err == nil {
		old = dst + ".old-" + filepath.Base(tmp)
		if err := os.Rename(dst, old); err != nil {
			return fmt.Errorf("replace cached commit %s: %w", commit, err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("extract commit %s: %w", commit, err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return nil
}

// untar writes regular files and folders only: links and devices in a
// recipe repository are never needed, and a link could point outside.
func untar(rd io.Reader, dst string) error {
	tr := tar.NewReader(rd)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(h.Name)
		if name == "." || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			continue
		}
		target := filepath.Join(dst, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			mode := os.FileMode(0o644)
			if h.Mode&0o111 != 0 {
				mode = 0o755
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			_, cerr := io.Copy(f, tr)
			if err := f.Close(); cerr == nil {
				cerr = err
			}
			if cerr != nil {
				return cerr
			}
		}
	}
}

// git runs the system git with argv only (no shell), without prompting for
// credentials, and returns its stdout; stderr becomes part of the error.
func (r *Resolver) git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	prog := r.Git
	if prog == "" {
		prog = "git"
	}
	full := []string{"-c", "protocol.ext.allow=never"}
	if dir != "" {
		full = append(full, "--git-dir", dir)
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, prog, full...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return nil, fmt.Errorf("git %s: %w", args[0], err)
		}
		return nil, fmt.Errorf("git %s: %w: %s", args[0], err, lastLines(msg, 3))
	}
	return stdout.Bytes(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

func writeFileAtomic(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+"-")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Chmod(f.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(f.Name(), name)
	}
	if werr != nil {
		os.Remove(f.Name())
	}
	return werr
}
