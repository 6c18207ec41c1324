package sources_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/sources"
)

func opts(r *sources.Resolver) manifest.Options {
	return manifest.Options{Env: map[string]string{}, UserDefaultsFile: "-", Sources: r}
}

func diagLines(ds diag.Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.Error() + "\n")
	}
	return b.String()
}

// writeStack writes a stack using each recipe of each source once, one
// container per recipe.
func writeStack(t testing.TB, dir string, srcs map[string]string, use map[string][]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: lxcplan/v1\nkind: Stack\nname: t\nsources:\n")
	for _, name := range sortedKeys(srcs) {
		fmt.Fprintf(&b, "  %s: %s\n", name, srcs[name])
	}
	b.WriteString("hosts:\n  pve1: {address: pve1.lan}\ncontainers:\n")
	for _, s := range sortedKeys(use) {
		for _, r := range use[s] {
			fmt.Fprintf(&b, "  %s-%s: {recipe: %s/%s}\n", s, r, s, r)
		}
	}
	file := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// lockStack writes the lock for a loaded stack the way `recipes lock` does.
func lockStack(t testing.TB, r *sources.Resolver, stack string, st *model.Stack) *sources.Lock {
	t.Helper()
	sess := r.Session(stack)
	l := sources.NewLock()
	for _, res := range sess.Results() {
		if res.Kind != sources.KindPath {
			l.Sources[res.Name] = &sources.LockedSource{Git: res.URL, Ref: res.Ref, Kind: res.Kind, Commit: res.Commit, Recipes: map[string]*sources.LockedRecipe{}}
		}
	}
	for _, cn := range st.ContainerNames {
		c := st.Containers[cn]
		for _, res := range sess.Results() {
			if res.Name == c.Recipe.Source && l.Sources[res.Name] != nil {
				p, err := sources.Pin(res, c.Recipe.Name, c.Loaded.Version)
				if err != nil {
					t.Fatal(err)
				}
				l.Sources[res.Name].Recipes[c.Recipe.Name] = p
			}
		}
	}
	if err := sources.WriteLock(sess.LockPath(), l, manifest.YAMLCodec); err != nil {
		t.Fatal(err)
	}
	return l
}

var fileRe = regexp.MustCompile(`"(File|file)":"[^"]*"`)

// shape is the loaded recipes of a stack without where they were read from.
func shape(t *testing.T, st *model.Stack) string {
	t.Helper()
	var parts []string
	for _, cn := range st.ContainerNames {
		c := st.Containers[cn]
		if c.Loaded == nil {
			t.Fatalf("container %s has no recipe loaded", cn)
		}
		data, err := json.Marshal(c.Loaded)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, cn+"="+fileRe.ReplaceAllString(string(data), `"file":""`))
	}
	return strings.Join(parts, "\n")
}

// TestStackThroughLoader: a stack's git source is fetched by the manifest
// loader, its lock verified, and the vendored copy loads identically.
func TestStackThroughLoader(t *testing.T) {
	sources.IsolateGit(t)
	origin, url := sources.NewOrigin(t, "web", "db")
	dir := t.TempDir()
	stack := writeStack(t, dir, map[string]string{"comm": fmt.Sprintf("{git: %q, ref: v1.0.0}", url)},
		map[string][]string{"comm": {"web", "db"}})

	// Without a resolver, git sources stay unfetched (validate's behaviour).
	_, ds := manifest.LoadStackFile(stack, manifest.Options{Env: map[string]string{}, UserDefaultsFile: "-"})
	if !strings.Contains(diagLines(ds), "are not fetched by this command yet") {
		t.Errorf("nil resolver:\n%s", diagLines(ds))
	}

	r := sources.NewResolver(manifest.YAMLCodec)
	st, ds := manifest.LoadStackFile(stack, opts(r))
	if len(ds) != 0 {
		t.Fatalf("load:\n%s", diagLines(ds))
	}
	want := shape(t, st)
	lock := lockStack(t, r, stack, st)

	// The lock verifies, from the warm cache, with the origin gone.
	if err := os.Rename(origin, origin+".gone"); err != nil {
		t.Fatal(err)
	}
	st, ds = manifest.LoadStackFile(stack, opts(sources.NewResolver(manifest.YAMLCodec)))
	if len(ds) != 0 {
		t.Fatalf("offline load:\n%s", diagLines(ds))
	}
	if got := shape(t, st); got != want {
		t.Errorf("offline load differs:\n%s\nwant\n%s", got, want)
	}

	// Vendor, switch the source to the vendored folder: same recipes.
	r = sources.NewResolver(manifest.YAMLCodec)
	r.Session(stack)
	if _, ds := manifest.LoadStackFile(stack, opts(r)); ds.HasErrors() {
		t.Fatal(diagLines(ds))
	}
	byName := map[string]*sources.Resolved{}
	for _, res := range r.Session(stack).Results() {
		byName[res.Name] = res
	}
	vendor := filepath.Join(dir, "vendor")
	copied, err := sources.Vendor(lock, byName, vendor)
	if err != nil || strings.Join(copied, ",") != "comm/db,comm/web" {
		t.Fatalf("vendor: %v %v", copied, err)
	}
	writeStack(t, dir, map[string]string{"comm": "{path: ./vendor}"}, map[string][]string{"comm": {"web", "db"}})
	st, ds = manifest.LoadStackFile(stack, opts(sources.NewResolver(manifest.YAMLCodec)))
	if len(ds) != 0 {
		t.Fatalf("vendored load:\n%s", diagLines(ds))
	}
	if got := shape(t, st); got != want {
		t.Errorf("vendored load differs:\n%s\nwant\n%s", got, want)
	}
	// The vendored copy is still held to the lock.
	if err := os.WriteFile(filepath.Join(vendor, "recipes", "db", "files", "db.conf"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, ds = manifest.LoadStackFile(stack, opts(sources.NewResolver(manifest.YAMLCodec)))
	if got := diagLines(ds); !strings.Contains(got, "containers.comm-db.recipe: recipe comm/db 1.0.0 (the copy in ") ||
		!strings.Contains(got, "file files/db.conf has sha256:") {
		t.Errorf("tampered vendored copy:\n%s", got)
	}
}

// TestMissingFromLock: a recipe the lock does not know is refused, except
// while locking.
func TestMissingFromLock(t *testing.T) {
	sources.IsolateGit(t)
	_, url := sources.NewOrigin(t, "web", "db")
	dir := t.TempDir()
	src := map[string]string{"comm": fmt.Sprintf("{git: %q, ref: v1.0.0}", url)}
	stack := writeStack(t, dir, src, map[string][]string{"comm": {"web"}})
	r := sources.NewResolver(manifest.YAMLCodec)
	st, ds := manifest.LoadStackFile(stack, opts(r))
	if ds.HasErrors() {
		t.Fatal(diagLines(ds))
	}
	lockStack(t, r, stack, st)
	writeStack(t, dir, src, map[string][]string{"comm": {"web", "db"}})
	_, ds = manifest.LoadStackFile(stack, opts(sources.NewResolver(manifest.YAMLCodec)))
	if got := diagLines(ds); !strings.Contains(got, "containers.comm-db.recipe: recipe comm/db is not in lxcplan.lock; run lxcplan recipes lock "+stack) {
		t.Errorf("got:\n%s", got)
	}
	_, ds = manifest.LoadStackFile(stack, opts(&sources.Resolver{AllowUnlocked: true, Codec: manifest.YAMLCodec}))
	if ds.HasErrors() {
		t.Errorf("while locking:\n%s", diagLines(ds))
	}
}

// The benchmarks below answer the performance questions:
//
//	BenchmarkColdFetch: fetching a source into an empty cache.
//	BenchmarkLoadWarmGitSources - BenchmarkLoadPathSources: what git sources
//	and the lock add to loading a stack (and so to plan) with a warm cache,
//	20 recipes from 2 sources.

func BenchmarkColdFetch(b *testing.B) {
	sources.IsolateGit(b)
	_, url := sources.NewOrigin(b, benchNames(10)...)
	for b.Loop() {
		r := &sources.Resolver{CacheDir: b.TempDir(), Codec: manifest.YAMLCodec}
		if _, err := r.ResolveGit(b.Context(), url, "v1.0.0", "", false); err != nil {
			b.Fatal(err)
		}
	}
}

func benchNames(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("app%02d", i))
	}
	return out
}

// benchStack makes two origins of 10 recipes each, a stack using all 20 and
// its lock, with the cache warm. It returns the stack file and the two
// cached trees.
func benchStack(b *testing.B) (string, []string) {
	sources.IsolateGit(b)
	_, urlA := sources.NewOrigin(b, benchNames(10)...)
	_, urlB := sources.NewOrigin(b, benchNames(10)...)
	dir := b.TempDir()
	stack := writeStack(b, dir, map[string]string{
		"a": fmt.Sprintf("{git: %q, ref: v1.0.0}", urlA),
		"b": fmt.Sprintf("{git: %q, ref: v1.0.0}", urlB),
	}, map[string][]string{"a": benchNames(10), "b": benchNames(10)})
	r := sources.NewResolver(manifest.YAMLCodec)
	st, ds := manifest.LoadStackFile(stack, opts(r))
	if ds.HasErrors() {
		b.Fatal(diagLines(ds))
	}
	lockStack(b, r, stack, st)
	var trees []string
	for _, res := range r.Session(stack).Results() {
		trees = append(trees, res.Dir)
	}
	return stack, trees
}

func BenchmarkLoadWarmGitSources(b *testing.B) {
	stack, _ := benchStack(b)
	for b.Loop() {
		// A new resolver per load, as in a new lxcplan process.
		if _, ds := manifest.LoadStackFile(stack, opts(sources.NewResolver(manifest.YAMLCodec))); ds.HasErrors() {
			b.Fatal(diagLines(ds))
		}
	}
}

func BenchmarkLoadPathSources(b *testing.B) {
	_, trees := benchStack(b)
	dir := b.TempDir()
	stack := writeStack(b, dir, map[string]string{
		"a": fmt.Sprintf("{path: %q}", trees[0]),
		"b": fmt.Sprintf("{path: %q}", trees[1]),
	}, map[string][]string{"a": benchNames(10), "b": benchNames(10)})
	for b.Loop() {
		if _, ds := manifest.LoadStackFile(stack, opts(nil)); ds.HasErrors() {
			b.Fatal(diagLines(ds))
		}
	}
}
