package sources

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/model"
)

func readTree(t *testing.T, res *Resolved, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(res.Dir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestResolveGitRefKinds(t *testing.T) {
	isolateGit(t)
	origin, url := newOrigin(t, "web")
	first := gitIn(t, origin, "rev-parse", "HEAD")
	writeRecipe(t, origin, "web", "1.1.0", "second")
	second := commitAll(t, origin, "second")
	gitIn(t, origin, "tag", "light") // lightweight tag on the second commit
	writeRecipe(t, origin, "web", "1.2.0", "third")
	third := commitAll(t, origin, "third")

	tests := []struct {
		name, ref  string
		kind       Kind
		commit     string
		wantInFile string
	}{
		{"annotated tag", "v1.0.0", KindTag, first, "first"},
		{"lightweight tag", "light", KindTag, second, "second"},
		{"branch", "main", KindBranch, third, "third"},
		{"full commit, not a tip", first, KindCommit, first, "first"},
		{"abbreviated commit", second[:10], KindCommit, second, "second"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Resolver{CacheDir: t.TempDir()}
			res, err := r.ResolveGit(context.Background(), url, tt.ref, "", false)
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != tt.kind || res.Commit != tt.commit || !res.Fetched {
				t.Errorf("got kind %s commit %s fetched %v, want %s %s true", res.Kind, res.Commit, res.Fetched, tt.kind, tt.commit)
			}
			if got := readTree(t, res, "recipes/web/files/web.conf"); !strings.Contains(got, tt.wantInFile) {
				t.Errorf("web.conf = %q, want it from the %s commit", got, tt.wantInFile)
			}
		})
	}
}

func TestResolveGitErrors(t *testing.T) {
	isolateGit(t)
	_, url := newOrigin(t, "web")
	r := &Resolver{CacheDir: t.TempDir()}
	tests := []struct{ url, ref, want string }{
		{url, "v9.9.9", `has no tag or branch named "v9.9.9"`},
		{url, "--upload-pack=touch", "invalid source: ref"},
		{"-oops", "v1", "invalid source: git URL"},
		{"ext::sh -c touch% /tmp/x", "v1", "ext:: transport"},
		{url, "deadbeefdeadbeef", `has no commit "deadbeefdeadbeef"`},
		{"file://" + filepath.Join(t.TempDir(), "nothing"), "v1", "git ls-remote"},
	}
	for _, tt := range tests {
		_, err := r.ResolveGit(context.Background(), tt.url, tt.ref, "", false)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ResolveGit(%q, %q) = %v, want an error containing %q", tt.url, tt.ref, err, tt.want)
		}
	}
	if _, err := r.ResolveGit(context.Background(), url, "-x", "", false); !errors.Is(err, ErrBadSource) {
		t.Errorf("a ref like an option: %v, want ErrBadSource", err)
	}
}

// TestOfflineFromCache: once a commit is in the cache, resolving it again
// needs no remote at all (the origin is gone).
func TestOfflineFromCache(t *testing.T) {
	isolateGit(t)
	origin, url := newOrigin(t, "web")
	commit := gitIn(t, origin, "rev-parse", "HEAD")
	r := &Resolver{CacheDir: t.TempDir()}
	if _, err := r.ResolveGit(context.Background(), url, "v1.0.0", "", false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ResolveGit(context.Background(), url, commit, "", false); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(origin, origin+".gone"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ ref, pin string }{
		{"v1.0.0", ""},     // a tag fetched before
		{"v1.0.0", commit}, // pinned by a lock
		{commit, ""},       // a commit id
	} {
		res, err := r.ResolveGit(context.Background(), url, c.ref, c.pin, false)
		if err != nil {
			t.Fatalf("offline %s (pin %q): %v", c.ref, c.pin, err)
		}
		if res.Fetched || res.Commit != commit {
			t.Errorf("offline %s: fetched %v commit %s", c.ref, res.Fetched, res.Commit)
		}
	}
	// A branch is not pinned without a lock: it must ask the remote.
	if _, err := r.ResolveGit(context.Background(), url, "main", "", false); err == nil {
		t.Error("an unpinned branch resolved with the remote gone")
	}
}

// lockFor builds the lock a session's results and the named recipes give.
func lockFor(t *testing.T, s *Session, recipes map[string][]string) *Lock {
	t.Helper()
	l := NewLock()
	for _, res := range s.Results() {
		ls := &LockedSource{Git: res.URL, Ref: res.Ref, Kind: res.Kind, Commit: res.Commit, Recipes: map[string]*LockedRecipe{}}
		for _, n := range recipes[res.Name] {
			p, err := Pin(res, n, "1.0.0")
			if err != nil {
				t.Fatal(err)
			}
			ls.Recipes[n] = p
		}
		l.Sources[res.Name] = ls
	}
	return l
}

func diagText(ds diag.Diagnostics) string {
	var lines []string
	for _, d := range ds {
		lines = append(lines, d.Error())
	}
	return strings.Join(lines, "\n")
}

// TestSessionLock walks the life of a lock: write, verify, a moved tag seen
// from a cold cache, a tampered cache, and --update repairing both.
func TestSessionLock(t *testing.T) {
	isolateGit(t)
	origin, url := newOrigin(t, "web")
	stackDir := t.TempDir()
	stack := filepath.Join(stackDir, "stack.yaml")
	src := &model.RecipeSource{Name: "comm", Git: url, Ref: "v1.0.0", Pos: diag.Pos{File: stack, Line: 5, Col: 3}}
	ctx := context.Background()

	r := NewResolver(jsonCodec{})
	s := r.Session(stack)
	res, ds := s.Source(ctx, src)
	if res == nil || ds.HasErrors() {
		t.Fatalf("first resolve: %s", diagText(ds))
	}
	lock := lockFor(t, s, map[string][]string{"comm": {"web"}})
	if err := WriteLock(s.LockPath(), lock, jsonCodec{}); err != nil {
		t.Fatal(err)
	}
	old := res.Commit

	// Verified from the warm cache.
	s = NewResolver(jsonCodec{}).Session(stack)
	if res, ds := s.Source(ctx, src); res == nil || len(ds) != 0 || res.Fetched {
		t.Fatalf("warm resolve with lock: %v %s", res, diagText(ds))
	}
	if ds := s.VerifyRecipe(src, "web", diag.Pos{}, "containers.web.recipe"); len(ds) != 0 {
		t.Fatalf("verify: %s", diagText(ds))
	}

	// Tamper with the cached tree.
	conf := filepath.Join(res.Dir, "recipes", "web", "files", "web.conf")
	if err := os.WriteFile(conf, []byte("evil\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = NewResolver(jsonCodec{}).Session(stack)
	s.Source(ctx, src)
	ds = s.VerifyRecipe(src, "web", diag.Pos{}, "containers.web.recipe")
	if got := diagText(ds); !strings.Contains(got, `recipe comm/web 1.0.0 (the cached copy of commit `) ||
		!strings.Contains(got, "file files/web.conf has sha256:") || !strings.Contains(got, "lxcplan.lock expects sha256:") ||
		!strings.Contains(got, "--update comm") || ds[0].Class != diag.ClassInput {
		t.Errorf("tampered cache reported as:\n%s", got)
	}

	// Move the tag upstream; a cold cache (another machine, CI) sees it.
	writeRecipe(t, origin, "web", "1.0.0", "moved")
	moved := commitAll(t, origin, "moved")
	gitIn(t, origin, "tag", "-f", "-a", "-m", "moved", "v1.0.0")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	s = NewResolver(jsonCodec{}).Session(stack)
	res, ds = s.Source(ctx, src)
	want := `sources.comm: source "comm": ref v1.0.0 now resolves to commit ` + moved[:12] + `, but lxcplan.lock pins commit ` + old[:12] +
		` (the tag was moved upstream); review the change, then run lxcplan recipes lock ` + stack + ` --update comm`
	if res != nil || !strings.Contains(diagText(ds), want) {
		t.Errorf("moved tag: res %v, diagnostics\n%s\nwant\n%s", res, diagText(ds), want)
	}

	// --update resolves afresh and ignores the stale pin.
	r = &Resolver{Update: map[string]bool{"comm": true}, Codec: jsonCodec{}}
	s = r.Session(stack)
	res, ds = s.Source(ctx, src)
	if res == nil || ds.HasErrors() || res.Commit != moved {
		t.Fatalf("update: %v %s", res, diagText(ds))
	}
	newLock := lockFor(t, s, map[string][]string{"comm": {"web"}})
	changes := Diff(lock, newLock)
	if len(changes) != 1 || !strings.HasPrefix(changes[0].String(), "changed  comm/web 1.0.0 (files/web.conf, recipe.yaml)") {
		t.Errorf("changes = %v", changes)
	}
}

func TestSessionPinsAndWarnings(t *testing.T) {
	isolateGit(t)
	_, url := newOrigin(t, "web")
	stack := filepath.Join(t.TempDir(), "stack.yaml")
	ctx := context.Background()
	branch := &model.RecipeSource{Name: "edge", Git: url, Ref: "main"}
	s := NewResolver(jsonCodec{}).Session(stack)
	res, ds := s.Source(ctx, branch)
	if res == nil || len(ds) != 1 || ds[0].Severity != diag.SevWarning ||
		!strings.Contains(ds[0].Summary, `source "edge" is unpinned: ref main is a branch`) {
		t.Fatalf("branch: %v %s", res, diagText(ds))
	}
	if _, again := s.Source(ctx, branch); len(again) != 0 {
		t.Errorf("the warning was repeated: %s", diagText(again))
	}
	lock := lockFor(t, s, nil)
	if err := WriteLock(s.LockPath(), lock, jsonCodec{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		src  *model.RecipeSource
		want string
	}{
		{&model.RecipeSource{Name: "edge", Git: url, Ref: "v1.0.0"}, "source \"edge\" has ref v1.0.0, but lxcplan.lock pins ref main"},
		{&model.RecipeSource{Name: "edge", Git: url + "x", Ref: "main"}, "but lxcplan.lock pins it to git " + url},
		{&model.RecipeSource{Name: "other", Git: url, Ref: "main"}, `source "other" is not in lxcplan.lock; run lxcplan recipes lock ` + stack},
		{&model.RecipeSource{Name: "edge", Git: url, Ref: "main"}, "only lxcplan.lock pins it"},
	}
	for _, c := range cases {
		_, ds := NewResolver(jsonCodec{}).Session(stack).Source(ctx, c.src)
		if !strings.Contains(diagText(ds), c.want) {
			t.Errorf("%+v: got\n%s\nwant %q", c.src, diagText(ds), c.want)
		}
	}
	// A damaged lock is an input error naming the file.
	if err := os.WriteFile(s.LockPath(), []byte(`{"Version": 1, "Sources": {"x": {"bogus": 1}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, ds = NewResolver(jsonCodec{}).Session(stack).Source(ctx, branch)
	if !ds.HasErrors() || ds[0].Pos.File != s.LockPath() || !strings.Contains(ds[0].Summary, `unknown field "bogus"`) {
		t.Errorf("damaged lock: %s", diagText(ds))
	}
}

// TestCheckRemote: with CheckRemote, a tag moved upstream is caught even
// though the locked commit is cached; an unreachable remote only warns.
func TestCheckRemote(t *testing.T) {
	isolateGit(t)
	origin, url := newOrigin(t, "web")
	stack := filepath.Join(t.TempDir(), "stack.yaml")
	src := &model.RecipeSource{Name: "comm", Git: url, Ref: "v1.0.0"}
	ctx := context.Background()
	s := NewResolver(jsonCodec{}).Session(stack)
	if res, ds := s.Source(ctx, src); res == nil || ds.HasErrors() {
		t.Fatal(diagText(ds))
	}
	if err := WriteLock(s.LockPath(), lockFor(t, s, map[string][]string{"comm": {"web"}}), jsonCodec{}); err != nil {
		t.Fatal(err)
	}
	check := func() (*Resolved, diag.Diagnostics) {
		return (&Resolver{CheckRemote: true, Codec: jsonCodec{}}).Session(stack).Source(ctx, src)
	}
	if res, ds := check(); res == nil || len(ds) != 0 {
		t.Fatalf("unchanged tag: %s", diagText(ds))
	}
	writeRecipe(t, origin, "web", "1.0.0", "moved")
	commitAll(t, origin, "moved")
	gitIn(t, origin, "tag", "-f", "-a", "-m", "moved", "v1.0.0")
	if _, ds := NewResolver(jsonCodec{}).Session(stack).Source(ctx, src); len(ds) != 0 {
		t.Errorf("without CheckRemote the warm cache needs no remote: %s", diagText(ds))
	}
	if res, ds := check(); res != nil || !strings.Contains(diagText(ds), "(the tag was moved upstream)") {
		t.Errorf("moved tag with CheckRemote: %v\n%s", res, diagText(ds))
	}
	if err := os.Rename(origin, origin+".gone"); err != nil {
		t.Fatal(err)
	}
	res, ds := check()
	if res == nil || ds.HasErrors() || !strings.Contains(diagText(ds), "could not check whether ref v1.0.0 moved upstream") {
		t.Errorf("unreachable remote: %v\n%s", res, diagText(ds))
	}
}
