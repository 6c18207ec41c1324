package sources

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/model"
)

// Session resolves the sources of one stack against the lock beside it.
// Each source is resolved once per session; its diagnostics are returned by
// the first call only, so a source used by ten containers is reported once.
type Session struct {
	r         *Resolver
	stackFile string
	lockPath  string

	once     sync.Once
	lock     *Lock
	lockDiag diag.Diagnostics

	mu       sync.Mutex
	results  map[string]*Resolved
	verified map[string]bool
}

// Session returns the session of the stack file stackFile, creating it on
// first use; later calls for the same stack return the same session, so a
// command can read what the loader resolved.
func (r *Resolver) Session(stackFile string) *Session {
	key, err := filepath.Abs(stackFile)
	if err != nil {
		key = stackFile
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sessions == nil {
		r.sessions = map[string]*Session{}
	}
	s := r.sessions[key]
	if s == nil {
		s = &Session{r: r, stackFile: stackFile, lockPath: filepath.Join(filepath.Dir(stackFile), LockFile),
			results: map[string]*Resolved{}, verified: map[string]bool{}}
		r.sessions[key] = s
	}
	return s
}

// LockPath is the lock file of the stack.
func (s *Session) LockPath() string { return s.lockPath }

// Lock returns the lock read from disk (nil when there is none) and the
// problems reading it.
func (s *Session) Lock() (*Lock, diag.Diagnostics) {
	s.once.Do(func() {
		l, err := ReadLock(s.lockPath, s.r.Codec)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			s.lockDiag = diag.Diagnostics{diag.Errorf(diag.ClassInput, diag.Pos{File: s.lockPath}, "",
				"%v; fix it or delete it and run lxcplan recipes lock %s", err, s.stackFile)}
		default:
			s.lock = l
		}
	})
	return s.lock, s.lockDiag
}

// Results lists the sources resolved so far, by name.
func (s *Session) Results() []*Resolved {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Resolved, 0, len(s.results))
	for _, r := range s.results {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *Session) fix(source string) string {
	return "run lxcplan recipes lock " + s.stackFile + " --update " + source
}

// Source resolves a declared source to its folder. A nil result means the
// recipes of the source cannot be used (the diagnostics say why). Git
// sources are checked against the lock: URL, ref and resolved commit.
func (s *Session) Source(ctx context.Context, src *model.RecipeSource) (*Resolved, diag.Diagnostics) {
	s.mu.Lock()
	if res, done := s.results[src.Name]; done {
		s.mu.Unlock()
		return res, nil
	}
	s.mu.Unlock()
	res, ds := s.resolve(ctx, src)
	s.mu.Lock()
	s.results[src.Name] = res
	s.mu.Unlock()
	return res, ds
}

func (s *Session) resolve(ctx context.Context, src *model.RecipeSource) (*Resolved, diag.Diagnostics) {
	path := "sources." + src.Name
	lock, ds := s.Lock()
	if src.Git == "" {
		dir := src.Path
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(filepath.Dir(s.stackFile), filepath.FromSlash(dir))
		}
		return &Resolved{Name: src.Name, Kind: KindPath, Dir: dir}, ds
	}
	if ds.HasErrors() {
		return nil, ds
	}
	var entry *LockedSource
	if lock != nil {
		entry = lock.Sources[src.Name]
	}
	pin := ""
	if !s.r.updating(src.Name) {
		switch {
		case entry != nil && entry.Git != src.Git:
			return nil, append(ds, diag.Errorf(diag.ClassInput, src.Pos, path,
				"source %q is git %s, but %s pins it to git %s; %s", src.Name, src.Git, LockFile, entry.Git, s.fix(src.Name)))
		case entry != nil && entry.Ref != src.Ref:
			return nil, append(ds, diag.Errorf(diag.ClassInput, src.Pos, path,
				"source %q has ref %s, but %s pins ref %s; %s", src.Name, src.Ref, LockFile, entry.Ref, s.fix(src.Name)))
		case entry != nil:
			pin = entry.Commit
		case lock != nil && !s.r.AllowUnlocked:
			return nil, append(ds, diag.Errorf(diag.ClassInput, src.Pos, path,
				"source %q is not in %s; run lxcplan recipes lock %s", src.Name, LockFile, s.stackFile))
		}
	}
	res, err := s.r.ResolveGit(ctx, src.Git, src.Ref, pin, s.r.updating(src.Name))
	if err != nil {
		class := diag.ClassHost
		if errors.Is(err, ErrBadSource) {
			class = diag.ClassInput
		}
		return nil, append(ds, diag.Errorf(class, src.Pos, path, "source %q: %v", src.Name, err))
	}
	res.Name = src.Name
	if !res.Fetched && pin != "" && entry.Kind != "" {
		// The cache may not know this ref (the commit came through another
		// ref); the lock remembers what it was when it was resolved.
		res.Kind = entry.Kind
	}
	if pin != "" && res.Commit == pin && !res.Fetched && s.r.CheckRemote && res.Kind != KindCommit {
		now, _, err := s.r.RemoteCommit(ctx, src.Git, src.Ref)
		switch {
		case err != nil:
			ds = append(ds, diag.Warnf(src.Pos, path, "source %q: could not check whether ref %s moved upstream (%v); using the locked commit %s",
				src.Name, src.Ref, err, abbrev(pin)))
		case now != pin && !s.r.peelsTo(ctx, src.Git, now, pin):
			res.Commit = now
		}
	}
	if pin != "" && res.Commit != pin {
		return nil, append(ds, diag.Errorf(diag.ClassInput, src.Pos, path,
			"source %q: ref %s now resolves to commit %s, but %s pins commit %s (the %s was moved upstream); review the change, then %s",
			src.Name, src.Ref, abbrev(res.Commit), LockFile, abbrev(pin), res.Kind, s.fix(src.Name)))
	}
	if res.Kind == KindBranch {
		how := "each fetch may bring different recipes"
		if pin != "" {
			how = "only " + LockFile + " pins it"
		}
		ds = append(ds, diag.Warnf(src.Pos, path,
			"source %q is unpinned: ref %s is a branch, so %s; use a tag or a commit id", src.Name, src.Ref, how))
	}
	return res, ds
}

func abbrev(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// VerifyRecipe compares the folder of recipe name in a resolved source with
// its lock entry. pos and path locate the reference in the stack. Each
// recipe is verified once per session.
func (s *Session) VerifyRecipe(src *model.RecipeSource, name string, pos diag.Pos, path string) diag.Diagnostics {
	lock, _ := s.Lock()
	s.mu.Lock()
	res := s.results[src.Name]
	key := src.Name + "/" + name
	done := s.verified[key]
	s.verified[key] = true
	s.mu.Unlock()
	if lock == nil || res == nil || done {
		return nil
	}
	dir := RecipeDir(res.Dir, name)
	if dir == "" {
		return nil // reported by the loader as an unknown recipe
	}
	entry := lock.Sources[src.Name]
	if entry == nil {
		// A path source that was never locked is the user's own folder.
		return nil
	}
	if s.r.updating(src.Name) {
		return nil
	}
	locked := entry.Recipes[name]
	if locked == nil {
		if s.r.AllowUnlocked {
			return nil
		}
		return diag.Diagnostics{diag.Errorf(diag.ClassInput, pos, path,
			"recipe %s/%s is not in %s; run lxcplan recipes lock %s", src.Name, name, LockFile, s.stackFile)}
	}
	found, err := DigestDir(dir)
	if err != nil {
		return diag.Diagnostics{diag.Errorf(diag.ClassInput, pos, path, "recipe %s/%s: %v", src.Name, name, err)}
	}
	if msg := FileMismatch(locked.Files, found); msg != "" {
		where := "the cached copy of commit " + abbrev(res.Commit)
		if res.Kind == KindPath {
			where = "the copy in " + res.Dir
		}
		return diag.Diagnostics{diag.Errorf(diag.ClassInput, pos, path,
			"recipe %s/%s %s (%s) does not match %s: %s; %s", src.Name, name, locked.Version, where, LockFile, msg, s.fix(src.Name))}
	}
	return nil
}

// Pin returns the lock entry of recipe name of a resolved source: its
// version and file digests as found now.
func Pin(res *Resolved, name, version string) (*LockedRecipe, error) {
	dir := RecipeDir(res.Dir, name)
	if dir == "" {
		return nil, &os.PathError{Op: "find recipe", Path: filepath.Join(res.Dir, "recipes", name), Err: fs.ErrNotExist}
	}
	files, err := DigestDir(dir)
	if err != nil {
		return nil, err
	}
	return &LockedRecipe{Version: version, Files: files}, nil
}
