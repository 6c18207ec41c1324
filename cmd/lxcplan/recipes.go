package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/sources"
	"github.com/lxcplan/lxcplan/engine/sources/lint"
	"github.com/lxcplan/lxcplan/recipes"
)

func recipesCommand(e *env) *cli.Command {
	stackFlag := &cli.StringFlag{Name: "stack", Usage: "also the recipes of this stack's sources"}
	formatFlag := &cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"}
	return &cli.Command{
		Name:      "recipes",
		Usage:     "recipe library and shared recipe sources: list, show, search, lint, new, lock, vendor",
		UsageText: "lxcplan recipes list|show|search|lint|new|lock|vendor",
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Usage:     "one recipe per line, name first (source/name for a source's recipes)",
				UsageText: "lxcplan recipes list [--stack STACK] [--format text|json]",
				Flags:     []cli.Flag{stackFlag, formatFlag},
				Action: func(c *cli.Context) error {
					if c.NArg() != 0 {
						return usagef("recipes list: unexpected argument %q; usage: %s", c.Args().First(), c.Command.UsageText)
					}
					return listRecipes(e, c, "")
				},
			},
			{
				Name:      "search",
				Usage:     "recipes whose name, description or category contains TERM (any case)",
				UsageText: "lxcplan recipes search [--stack STACK] [--format text|json] TERM",
				Flags:     []cli.Flag{stackFlag, formatFlag},
				Action: func(c *cli.Context) error {
					term, err := oneArg(c, "TERM")
					if err != nil {
						return err
					}
					return listRecipes(e, c, term)
				},
			},
			{
				Name:      "show",
				Usage:     "print a recipe as shipped",
				UsageText: "lxcplan recipes show [--stack STACK] NAME|SOURCE/NAME",
				Flags:     []cli.Flag{stackFlag},
				Action: func(c *cli.Context) error {
					name, err := oneArg(c, "NAME")
					if err != nil {
						return err
					}
					return showRecipe(e, c, name)
				},
			},
			{
				Name:      "lint",
				Usage:     "validate every recipe of a recipe repository (what its CI runs)",
				UsageText: "lxcplan recipes lint DIR",
				Action: func(c *cli.Context) error {
					dir, err := oneArg(c, "DIR")
					if err != nil {
						return err
					}
					return lintRecipes(e, dir)
				},
			},
			{
				Name:      "new",
				Usage:     "scaffold DIR/recipes/NAME/recipe.yaml, every field explained",
				UsageText: "lxcplan recipes new [--dir DIR] NAME",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "dir", Value: ".", Usage: "repository root (or its recipes/ folder)"}},
				Action: func(c *cli.Context) error {
					name, err := oneArg(c, "NAME")
					if err != nil {
						return err
					}
					return newRecipe(e, c.String("dir"), name)
				},
			},
			{
				Name:      "lock",
				Usage:     "pin the stack's sources and recipes in lxcplan.lock beside it",
				UsageText: "lxcplan recipes lock STACK [--update [SOURCE...]]",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "update", Usage: "resolve the refs of SOURCE (default: every source) afresh"}},
				Action:    func(c *cli.Context) error { return lockRecipes(e, c) },
			},
			{
				Name:      "vendor",
				Usage:     "copy every locked recipe into DIR, usable as a path: source offline",
				UsageText: "lxcplan recipes vendor STACK DIR",
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return usagef("vendor: want STACK and DIR, got %d arguments; usage: %s", c.NArg(), c.Command.UsageText)
					}
					return vendorRecipes(e, c.Args().Get(0), c.Args().Get(1))
				},
			},
		},
	}
}

type recipeSummary struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Category    string `json:"category,omitempty"`
	Description string `json:"description,omitempty"`
	Website     string `json:"website,omitempty"`
	Ports       []int  `json:"ports,omitempty"`
	// Source is the stack source the recipe comes from ("" for built-in);
	// Ref is what a stack writes in `recipe:` to use it.
	Source string `json:"source,omitempty"`
	Ref    string `json:"ref"`
}

// listedRecipe is one recipe of the library or of a source.
type listedRecipe struct {
	source string // "" for built-in
	file   string // recipe.yaml on disk ("" for built-in)
	r      *model.Recipe
}

func (l listedRecipe) ref() string {
	if l.source == "" {
		return l.r.Name
	}
	return l.source + "/" + l.r.Name
}

func recipeSummaries(rs []listedRecipe) []recipeSummary {
	out := make([]recipeSummary, 0, len(rs))
	for _, l := range rs {
		r := l.r
		out = append(out, recipeSummary{Name: r.Name, Version: r.Version, Category: r.Category,
			Description: r.Description, Website: r.Website, Ports: recipePorts(r), Source: l.source, Ref: l.ref()})
	}
	return out
}

func listRecipes(e *env, c *cli.Context, term string) error {
	format := c.String("format")
	if format != "text" && format != "json" {
		return usagef("recipes %s: --format %q: want text or json", c.Command.Name, format)
	}
	all, ds, err := allRecipes(e, c.String("stack"))
	if err != nil {
		return err
	}
	if term != "" {
		t := strings.ToLower(term)
		var hits []listedRecipe
		for _, l := range all {
			if strings.Contains(strings.ToLower(l.r.Name), t) || strings.Contains(strings.ToLower(l.r.Description), t) ||
				strings.Contains(strings.ToLower(l.r.Category), t) {
				hits = append(hits, l)
			}
		}
		all = hits
	}
	if format == "json" {
		if err := writeJSON(e, recipeSummaries(all)); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
		for _, l := range all {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.ref(), l.r.Version, l.r.Category, l.r.Description)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return ds.Err()
}

// allRecipes is the built-in library followed by every recipe of every
// source of stack (when given). Broken source recipes are left out and
// their problems returned, so the good ones are still listed.
func allRecipes(e *env, stack string) ([]listedRecipe, diag.Diagnostics, error) {
	rs, err := builtinRecipes()
	if err != nil {
		return nil, nil, err
	}
	var all []listedRecipe
	for _, r := range rs {
		all = append(all, listedRecipe{r: r})
	}
	if stack == "" {
		return all, nil, nil
	}
	resolved, err := stackSources(e, stack, sources.NewResolver(manifest.YAMLCodec))
	if err != nil {
		return nil, nil, err
	}
	var ds diag.Diagnostics
	for _, res := range resolved {
		found, rds := sourceRecipes(res)
		ds = append(ds, rds...)
		all = append(all, found...)
	}
	return all, ds, nil
}

// sourceRecipes loads every recipe folder of a resolved source, by name.
func sourceRecipes(res *sources.Resolved) ([]listedRecipe, diag.Diagnostics) {
	folder := filepath.Join(res.Dir, "recipes")
	if fi, err := os.Stat(folder); err != nil || !fi.IsDir() {
		folder = res.Dir
	}
	entries, err := os.ReadDir(folder)
	if err != nil {
		return nil, diag.Diagnostics{diag.Errorf(diag.ClassInput, diag.Pos{}, "sources."+res.Name, "read source %s: %v", res.Name, err)}
	}
	var out []listedRecipe
	var ds diag.Diagnostics
	for _, en := range entries {
		file := filepath.Join(folder, en.Name(), "recipe.yaml")
		if !en.IsDir() {
			continue
		}
		if _, err := os.Stat(file); err != nil {
			continue
		}
		r, rds := manifest.LoadRecipeFile(file, manifest.Options{})
		ds = append(ds, rds...)
		if r != nil && !rds.HasErrors() {
			out = append(out, listedRecipe{source: res.Name, file: file, r: r})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].r.Name < out[j].r.Name })
	return out, ds
}

// stackSources loads stack through the same loader as plan (fetching git
// sources, verifying the lock) and resolves every declared source, used or
// not, sorted by name. Warnings go to stderr.
func stackSources(e *env, stack string, res *sources.Resolver) ([]*sources.Resolved, error) {
	st, ds := manifest.LoadStackFile(stack, manifest.Options{Sources: res})
	if ds.HasErrors() {
		return nil, ds.Err()
	}
	printDiagnostics(e.errOut, ds)
	sess := res.Session(stack)
	var out []*sources.Resolved
	var sds diag.Diagnostics
	for _, name := range sortedNames(st.Sources) {
		r, rds := sess.Source(context.Background(), st.Sources[name])
		sds = append(sds, rds...)
		if r != nil {
			out = append(out, r)
		}
	}
	if sds.HasErrors() {
		return nil, sds.Err()
	}
	printDiagnostics(e.errOut, sds)
	return out, nil
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func showRecipe(e *env, c *cli.Context, name string) error {
	src, rname, fromSource := strings.Cut(name, "/")
	if !fromSource {
		data, err := recipeText(name)
		if err != nil {
			return err
		}
		_, err = e.out.Write(data)
		return err
	}
	stack := c.String("stack")
	if stack == "" {
		return usagef("recipes show %s: a source recipe needs --stack STACK to find source %q", name, src)
	}
	resolved, err := stackSources(e, stack, sources.NewResolver(manifest.YAMLCodec))
	if err != nil {
		return err
	}
	for _, res := range resolved {
		if res.Name != src {
			continue
		}
		dir := sources.RecipeDir(res.Dir, rname)
		if dir == "" {
			return diag.Diagnostics{diag.Errorf(diag.ClassInput, diag.Pos{}, "", "source %q has no recipe %q", src, rname)}.Err()
		}
		data, err := os.ReadFile(filepath.Join(dir, "recipe.yaml"))
		if err != nil {
			return fmt.Errorf("show %s: %w", name, err)
		}
		_, err = e.out.Write(data)
		return err
	}
	return diag.Diagnostics{diag.Errorf(diag.ClassInput, diag.Pos{}, "", "stack %s declares no source %q", stack, src)}.Err()
}

// builtinRecipes loads every recipe of the library; a broken built-in recipe
// is a bug, reported as an input error naming the file.
func builtinRecipes() ([]*model.Recipe, error) {
	names, err := manifest.BuiltinRecipeNames(recipes.FS)
	if err != nil {
		return nil, fmt.Errorf("list built-in recipes: %w", err)
	}
	var all diag.Diagnostics
	var rs []*model.Recipe
	for _, n := range names {
		r, ds := manifest.LoadBuiltinRecipe(n, manifest.Options{})
		all = append(all, ds...)
		if r != nil && !ds.HasErrors() {
			rs = append(rs, r)
		}
	}
	if all.HasErrors() {
		return nil, all.Err()
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Name < rs[j].Name })
	return rs, nil
}

// recipeText returns the recipe file as shipped, so `show` prints exactly
// what a user would copy into a repository of their own.
func recipeText(name string) ([]byte, error) {
	names, err := manifest.BuiltinRecipeNames(recipes.FS)
	if err != nil {
		return nil, err
	}
	i := sort.SearchStrings(names, name)
	if i == len(names) || names[i] != name {
		return nil, diag.Diagnostics{diag.Errorf(diag.ClassInput, diag.Pos{}, "",
			"unknown recipe %q; built-in recipes: %s", name, strings.Join(names, ", "))}.Err()
	}
	return manifest.BuiltinRecipeSource(name)
}

func lintRecipes(e *env, dir string) error {
	res, err := lint.Dir(dir)
	if err != nil {
		return diag.Diagnostics{diag.Errorf(diag.ClassInput, diag.Pos{File: dir}, "", "%v", errors.Unwrap(err))}.Err()
	}
	if res.Diags.HasErrors() {
		return res.Diags.Err()
	}
	printDiagnostics(e.errOut, res.Diags)
	fmt.Fprintf(e.out, "%s: %d recipes, no problems\n", res.Folder, len(res.Recipes))
	return nil
}

// lockArgs splits `lock` arguments: STACK first, then SOURCE names, which
// only --update takes. --update is accepted after STACK as well, the place
// the diagnostics suggest it.
func lockArgs(c *cli.Context) (stack string, update bool, names []string, err error) {
	update = c.Bool("update")
	var pos []string
	for _, a := range c.Args().Slice() {
		if a == "--update" {
			update = true
			continue
		}
		pos = append(pos, a)
	}
	if len(pos) == 0 {
		return "", false, nil, usagef("lock: missing STACK; usage: %s", c.Command.UsageText)
	}
	if len(pos) > 1 && !update {
		return "", false, nil, usagef("lock: source names go with --update; usage: %s", c.Command.UsageText)
	}
	return pos[0], update, pos[1:], nil
}

func lockRecipes(e *env, c *cli.Context) error {
	stack, update, names, err := lockArgs(c)
	if err != nil {
		return err
	}
	res := &sources.Resolver{AllowUnlocked: true, Codec: manifest.YAMLCodec}
	if update {
		if len(names) == 0 {
			res.UpdateAll = true
		}
		res.Update = map[string]bool{}
		for _, n := range names {
			res.Update[n] = true
		}
	}
	st, ds := manifest.LoadStackFile(stack, manifest.Options{Sources: res})
	if ds.HasErrors() {
		return ds.Err()
	}
	for _, n := range names {
		if st.Sources[n] == nil {
			return usagef("lock --update %s: stack %s declares no source %q", n, stack, n)
		}
	}
	printDiagnostics(e.errOut, ds)
	sess := res.Session(stack)
	old, _ := sess.Lock()
	lock := sources.NewLock()
	resolved := map[string]*sources.Resolved{}
	var sds diag.Diagnostics
	for _, name := range sortedNames(st.Sources) {
		src := st.Sources[name]
		var was *sources.LockedSource
		if old != nil {
			was = old.Sources[name]
		}
		if src.Git == "" && was == nil {
			continue // the user's own folder: not pinned
		}
		r, rds := sess.Source(context.Background(), src)
		sds = append(sds, rds...)
		switch {
		case r == nil:
		case src.Git == "":
			// A vendored copy stays pinned; its origin is kept for the record.
			lock.Sources[name] = &sources.LockedSource{Git: was.Git, Ref: was.Ref, Kind: was.Kind, Commit: was.Commit, Recipes: map[string]*sources.LockedRecipe{}}
		default:
			lock.Sources[name] = &sources.LockedSource{Git: r.URL, Ref: r.Ref, Kind: r.Kind, Commit: r.Commit, Recipes: map[string]*sources.LockedRecipe{}}
		}
		resolved[name] = r
	}
	if sds.HasErrors() {
		return sds.Err()
	}
	// Loading verified every pin that is not being updated, so pinning what
	// is there now keeps those pins and records the new and updated ones.
	for _, cn := range st.ContainerNames {
		ref := st.Containers[cn].Recipe
		ls := lock.Sources[ref.Source]
		loaded := st.Containers[cn].Loaded
		if ref.Kind != model.RefSource || ls == nil || loaded == nil {
			continue
		}
		pin, err := sources.Pin(resolved[ref.Source], ref.Name, loaded.Version)
		if err != nil {
			return fmt.Errorf("lock %s/%s: %w", ref.Source, ref.Name, err)
		}
		ls.Recipes[ref.Name] = pin
	}
	if err := sources.WriteLock(sess.LockPath(), lock, manifest.YAMLCodec); err != nil {
		return err
	}
	nrec := 0
	for _, s := range lock.Sources {
		nrec += len(s.Recipes)
	}
	fmt.Fprintf(e.out, "wrote %s: %d sources, %d recipes\n", sess.LockPath(), len(lock.Sources), nrec)
	if old != nil {
		for _, name := range sortedNames(lock.Sources) {
			was, now := old.Sources[name], lock.Sources[name]
			if was != nil && was.Commit != "" && was.Commit != now.Commit {
				fmt.Fprintf(e.out, "source %s: commit %s -> %s\n", name, shortCommit(was.Commit), shortCommit(now.Commit))
			}
		}
	}
	changes := sources.Diff(old, lock)
	if len(changes) == 0 {
		fmt.Fprintln(e.out, "no recipe changed")
	}
	for _, ch := range changes {
		fmt.Fprintln(e.out, ch.String())
	}
	return nil
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func vendorRecipes(e *env, stack, dir string) error {
	res := sources.NewResolver(manifest.YAMLCodec)
	resolved, err := stackSources(e, stack, res)
	if err != nil {
		return err
	}
	sess := res.Session(stack)
	lock, lds := sess.Lock()
	if lds.HasErrors() {
		return lds.Err()
	}
	if lock == nil {
		return diag.Diagnostics{diag.Errorf(diag.ClassInput, diag.Pos{File: stack}, "",
			"no %s beside the stack; run lxcplan recipes lock %s first", sources.LockFile, stack)}.Err()
	}
	byName := map[string]*sources.Resolved{}
	for _, r := range resolved {
		byName[r.Name] = r
	}
	copied, err := sources.Vendor(lock, byName, dir)
	if err != nil {
		return err
	}
	for _, id := range copied {
		fmt.Fprintf(e.out, "vendored %s\n", id)
	}
	fmt.Fprintf(e.out, "%d recipes in %s; to use them offline, point each source at it: {path: %s}\n",
		len(copied), filepath.Join(dir, "recipes"), dir)
	return nil
}

func writeJSON(e *env, v any) error {
	enc := json.NewEncoder(e.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// recipePorts reads the ports a recipe declares among its container defaults.
func recipePorts(r *model.Recipe) []int {
	st, ok := r.Container["ports"]
	if !ok {
		return nil
	}
	var ports []int
	switch v := st.Value.(type) {
	case []int:
		ports = v
	case []int64:
		for _, p := range v {
			ports = append(ports, int(p))
		}
	case []any:
		for _, p := range v {
			switch n := p.(type) {
			case int:
				ports = append(ports, n)
			case int64:
				ports = append(ports, int(n))
			}
		}
	}
	return ports
}

// scaffold is the recipe `recipes new` writes. It must pass `recipes lint`
// as generated (a test holds it to that), so every optional field that needs
// real values is shown commented out.
const scaffold = `# A lxcplan recipe: one app in one container. Reference: design.md section 3.
# Check it with "lxcplan recipes lint DIR" before you publish it.
apiVersion: lxcplan/v1        # format version; always lxcplan/v1
kind: Recipe                  # this file is a recipe (a stack says kind: Stack)
name: %[1]s                   # must equal the folder name: recipes/%[1]s/recipe.yaml
version: 0.1.0                # semver of the recipe; bump it when the recipe changes
description: TODO one line on what %[1]s is
category: Miscellaneous       # free text; the helper scripts' category names are good choices
website: https://example.org  # the app's home page

# Container defaults. A stack may override each of them per container.
container:
  os: debian                  # template = os + version, resolved against pveam available
  version: "12"
  cores: 1
  memory: 512                 # MiB
  disk: 4                     # GiB
  unprivileged: true
  features: {nesting: true}   # nesting is needed by systemd in Debian 12 containers
  ports: [8080]               # what the app listens on, for docs and firewalls

# Typed inputs instead of interactive prompts; each needs a default or
# generate, so the recipe applies with no params given.
params:
  port:
    type: int
    description: Port the app listens on
    default: 8080
    min: 1
    max: 65535
  # password: {type: secret, generate: {length: 24}}   # generated once, kept secret

# Ordered install steps, one kind each: apt, apt_repo, file, user, download,
# run, service. Values may use ${params.NAME} and ${container.ip|hostname|vmid}.
install:
  - apt: [curl]
  - file:
      path: /etc/%[1]s/%[1]s.conf
      mode: "0644"
      content: |
        # Written by lxcplan. Listen on the container's address, not only
        # on localhost: other containers of the stack connect to it.
        listen = 0.0.0.0:${params.port}
  # - file: {path: /etc/%[1]s/extra.conf, source: files/extra.conf}  # shipped beside this file
  # - download: {url: https://..., sha256: <64 hex digits>, dest: /opt/%[1]s}  # sha256 is required
  - run: {script: "echo installed > /etc/%[1]s/.installed", creates: /etc/%[1]s/.installed}
  # - service: {name: %[1]s, enable: true, state: restarted}

# The probe that defines "healthy": tcp, http or cmd.
health:
  tcp: 8080                   # a number: probes are not templated
  interval: 2s
  timeout: 120s

# Steps of "lxcplan update", run under a snapshot that is rolled back on failure.
update:
  - apt_upgrade: [curl]

# Shown after apply and usable by other containers; an output that uses a
# secret param is secret too.
outputs:
  url: "http://${container.ip}:${params.port}/"
`

func newRecipe(e *env, dir, name string) error {
	if !recipeNameOK(name) {
		return usagef("recipes new: invalid name %q: use lower-case letters, digits and dashes, starting with a letter or digit", name)
	}
	folder := filepath.Join(dir, "recipes")
	if filepath.Base(filepath.Clean(dir)) == "recipes" {
		folder = dir
	}
	rdir := filepath.Join(folder, name)
	file := filepath.Join(rdir, "recipe.yaml")
	if _, err := os.Stat(file); err == nil {
		return diag.Diagnostics{diag.Errorf(diag.ClassInput, diag.Pos{File: file}, "", "recipe %s already exists; not overwriting it", name)}.Err()
	}
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		return fmt.Errorf("recipes new %s: %w", name, err)
	}
	if err := os.WriteFile(file, []byte(fmt.Sprintf(scaffold, name)), 0o644); err != nil {
		return fmt.Errorf("recipes new %s: %w", name, err)
	}
	fmt.Fprintf(e.out, "created %s\n", file)
	return nil
}

func recipeNameOK(name string) bool {
	if name == "" || name[0] == '-' {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
