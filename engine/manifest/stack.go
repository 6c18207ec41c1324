package manifest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/sources"
	"github.com/lxcplan/lxcplan/recipes"
)

// Options tune loading; the zero value reads the real environment, the
// default user defaults file and the built-in recipes.
type Options struct {
	// Env is the environment for interpolation; nil means os.Environ.
	Env map[string]string
	// Sets are --set NAME.FIELD=VALUE overrides, the top layer.
	Sets []string
	// UserDefaultsFile is the user defaults file; "" means
	// $XDG_CONFIG_HOME/lxcplan/defaults.yaml (or ~/.config/...), "-" none.
	UserDefaultsFile string
	// BuiltinRecipes is the built-in library; nil means recipes.FS.
	BuiltinRecipes fs.FS
	// Sources fetches git sources and checks lxcplan.lock; nil leaves git
	// sources unfetched (their recipes are skipped with a warning).
	Sources *sources.Resolver
}

func (o Options) builtin() fs.FS {
	if o.BuiltinRecipes != nil {
		return o.BuiltinRecipes
	}
	return recipes.FS
}

func (o Options) environ() map[string]string {
	if o.Env != nil {
		return o.Env
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// ValidateFile runs every check on a recipe or a stack, telling them apart by
// their `kind`.
func ValidateFile(path string, o Options) diag.Diagnostics {
	data, ds := readFile(path)
	if ds.HasErrors() {
		return ds
	}
	if sniffKind(data) == "Recipe" {
		_, ds = recipeFromData(path, data)
		return ds
	}
	_, ds = stackFromData(path, data, o)
	return ds
}

// ValidateFiles is ValidateFile for each of paths, GOMAXPROCS files at a
// time (`lxcplan validate` over a whole monorepo). Result i belongs to
// paths[i], so output stays in argument order.
func ValidateFiles(paths []string, o Options) []diag.Diagnostics {
	out := make([]diag.Diagnostics, len(paths))
	if o.Env == nil {
		// Read the environment once, not once per stack.
		o.Env = o.environ()
	}
	workers := min(runtime.GOMAXPROCS(0), len(paths))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(paths) {
					return
				}
				out[i] = ValidateFile(paths[i], o)
			}
		})
	}
	wg.Wait()
	return out
}

var kindLineRe = regexp.MustCompile(`(?m)^kind:\s*["']?([A-Za-z]+)`)

func sniffKind(data []byte) string {
	if m := kindLineRe.FindSubmatch(data); m != nil {
		return string(m[1])
	}
	return ""
}

// LoadStackFile reads a stack, interpolates it, validates it against the
// schema, loads the recipes it uses and runs every semantic check, including
// those on resolved values (duplicates, subnets, hosts). All problems are
// returned, sorted by position.
func LoadStackFile(path string, o Options) (*model.Stack, diag.Diagnostics) {
	data, ds := readFile(path)
	if ds.HasErrors() {
		return nil, ds
	}
	return stackFromData(path, data, o)
}

// stackFromData is LoadStackFile once the file is read.
func stackFromData(path string, data []byte, o Options) (*model.Stack, diag.Diagnostics) {
	st, ds := loadStack(path, data, o)
	ds = dedupe(ds)
	ds.Sort()
	return st, ds
}

func loadStack(path string, data []byte, o Options) (*model.Stack, diag.Diagnostics) {
	root, ds := parseYAML(path, data)
	if ds.HasErrors() {
		return nil, ds
	}
	env := o.environ()
	dotenv, eds := loadDotEnv(filepath.Join(filepath.Dir(path), ".env"))
	ds = append(ds, eds...)
	if len(dotenv) > 0 {
		merged := make(map[string]string, len(env)+len(dotenv))
		for k, v := range dotenv {
			merged[k] = v
		}
		for k, v := range env { // the environment wins over .env
			merged[k] = v
		}
		env = merged
	}
	ip := newInterpolator(path, env)
	ip.walk(root, "")
	ds = append(ds, ip.ds...)

	d, cds := convert(path, root)
	ds = append(ds, cds...)
	if d == nil {
		return nil, ds
	}
	sv := schemaDiags(d, kindStack)
	x := &decoder{d: d}
	st := x.stack()
	// A value YAML could not read, or whose interpolation failed, is
	// reported once, not again as a type or pattern mismatch.
	ds = append(ds, dropAt(mergeDecode(sv, sv, x), append(cds, ip.ds.Errors()...))...)
	if st == nil {
		return nil, ds
	}
	l := &loader{o: o, stackDir: filepath.Dir(path), cache: map[string]*loadedRecipe{}}
	ds = append(ds, l.recipes(st)...)
	ds = append(ds, l.verifyLocked(st)...) // sources.go: lxcplan.lock
	ds = append(ds, checkStack(st, d)...)
	if _, rds := resolve(st, o, true); len(rds) > 0 {
		ds = append(ds, rds...)
	}
	return st, ds
}

// dedupe drops repeated diagnostics (a recipe used by several containers is
// reported once).
func dedupe(ds diag.Diagnostics) diag.Diagnostics {
	seen := map[string]bool{}
	out := ds[:0]
	for _, d := range ds {
		k := d.Error()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	return out
}

func (x *decoder) stack() *model.Stack {
	m, ok := x.mapping(x.d.value, nil)
	if !ok {
		return nil
	}
	st := &model.Stack{
		File: x.d.file, Pos: x.d.pos(nil),
		Sources: map[string]*model.RecipeSource{}, Hosts: map[string]*model.Host{},
		Defaults: model.Settings{}, Containers: map[string]*model.StackContainer{},
	}
	x.required(m, nil, "apiVersion", "kind", "name", "containers")
	var kind string
	x.fields(m, nil, map[string]func(any, []string){
		"apiVersion": x.setStr(&st.APIVersion),
		"kind":       x.setStr(&kind),
		"name":       x.setStr(&st.Name),
		"sources": func(v any, p []string) {
			sm, ok := x.mapping(v, p)
			if !ok {
				return
			}
			for _, name := range sortedMapKeys(sm) {
				sp := child(p, name)
				em, ok := x.mapping(sm[name], sp)
				if !ok {
					continue
				}
				src := &model.RecipeSource{Name: name, Pos: x.d.keyPos(sp)}
				x.fields(em, sp, map[string]func(any, []string){
					"git": x.setStr(&src.Git), "ref": x.setStr(&src.Ref), "path": x.setStr(&src.Path),
				})
				_, git := em["git"]
				_, pth := em["path"]
				switch {
				case git == pth:
					x.errAt(sp, "a source has exactly one of git and path")
				case git:
					x.required(em, sp, "ref")
				}
				st.Sources[name] = src
			}
		},
		"hosts": func(v any, p []string) {
			hm, ok := x.mapping(v, p)
			if !ok {
				return
			}
			for _, name := range sortedMapKeys(hm) {
				hp := child(p, name)
				em, ok := x.mapping(hm[name], hp)
				if !ok {
					continue
				}
				h := &model.Host{Name: name, User: "root", Port: 22, Pos: x.d.keyPos(hp)}
				x.fields(em, hp, map[string]func(any, []string){
					"address": x.setStr(&h.Address), "user": x.setStr(&h.User), "port": x.setInt(&h.Port),
					"identity": x.setStr(&h.Identity), "local": x.setBool(&h.Local),
				})
				if !h.Local && h.Address == "" {
					x.errAt(hp, "a host needs an address or local: true")
				}
				st.Hosts[name] = h
			}
		},
		"defaults": func(v any, p []string) {
			if dm, ok := x.mapping(v, p); ok {
				st.Defaults = x.settings(dm, p, shapeDefaults)
			}
		},
		"containers": func(v any, p []string) {
			cm, ok := x.mapping(v, p)
			if !ok {
				return
			}
			if len(cm) == 0 {
				x.errAt(p, "a stack needs at least one container")
			}
			for _, name := range sortedMapKeys(cm) {
				if c := x.container(name, cm[name], child(p, name)); c != nil {
					st.Containers[name] = c
					st.ContainerNames = append(st.ContainerNames, name)
				}
			}
		},
	})
	if kind != "" && kind != "Stack" {
		x.errAt([]string{"kind"}, "must be Stack in a stack file, not %q", kind)
	}
	if st.APIVersion != "" && st.APIVersion != "lxcplan/v1" {
		x.errAt([]string{"apiVersion"}, "must be lxcplan/v1, not %q", st.APIVersion)
	}
	return st
}

func (x *decoder) container(name string, v any, p []string) *model.StackContainer {
	m, ok := x.mapping(v, p)
	if !ok {
		return nil
	}
	c := &model.StackContainer{Name: name, Pos: x.d.keyPos(p), Params: map[string]model.ParamArg{}}
	x.required(m, p, "recipe")
	if rv, has := m["recipe"]; has {
		rp := child(p, "recipe")
		if s, ok := x.str(rv, rp); ok {
			c.Recipe = x.recipeRef(s, rp)
		}
	}
	if dv, has := m["depends_on"]; has {
		c.DependsOn = x.dependsOn(dv, child(p, "depends_on"))
	}
	if pv, has := m["params"]; has {
		pp := child(p, "params")
		c.ParamsPos = x.d.keyPos(pp)
		if pm, ok := x.mapping(pv, pp); ok {
			for _, k := range sortedMapKeys(pm) {
				kp := child(pp, k)
				switch pm[k].(type) {
				case string, int64, float64, bool:
					c.Params[k] = model.ParamArg{Value: pm[k], Pos: x.d.pos(kp), KeyPos: x.d.keyPos(kp)}
				default:
					x.errAt(kp, "must be a string, number or boolean, not %s", typeName(pm[k]))
				}
			}
		}
	}
	c.Settings = x.settings(m, p, shapeContainer, "recipe", "depends_on", "params")
	return c
}

var recipeNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

func (x *decoder) recipeRef(s string, p []string) model.RecipeRef {
	r := model.RecipeRef{Raw: s, Pos: x.d.pos(p)}
	switch {
	case strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || strings.HasPrefix(s, "/"):
		r.Kind, r.Path = model.RefPath, s
		return r
	case strings.Contains(s, "/"):
		r.Kind = model.RefSource
		r.Source, s, _ = strings.Cut(s, "/")
	default:
		r.Kind = model.RefBuiltin
	}
	r.Name, r.Version, _ = strings.Cut(s, "@")
	if !recipeNameRe.MatchString(r.Name) || (r.Kind == model.RefSource && r.Source == "") ||
		(strings.Contains(s, "@") && !semverRe.MatchString(r.Version)) {
		x.errAt(p, "invalid recipe reference %q: use NAME, SOURCE/NAME[@VERSION] or a path starting with ./, ../ or /", r.Raw)
		r.Name = ""
	}
	return r
}

func (x *decoder) dependsOn(v any, p []string) []model.Dependency {
	var out []model.Dependency
	switch t := v.(type) {
	case []any:
		for i, e := range t {
			ep := child(p, strconv.Itoa(i))
			if s, ok := x.str(e, ep); ok {
				out = append(out, model.Dependency{Name: s, Condition: model.CondStarted, Pos: x.d.pos(ep)})
			}
		}
	case map[string]any:
		for _, name := range sortedMapKeys(t) {
			ep := child(p, name)
			dep := model.Dependency{Name: name, Condition: model.CondStarted, Pos: x.d.keyPos(ep)}
			if t[name] != nil {
				if dm, ok := x.mapping(t[name], ep); ok {
					var cond string
					x.fields(dm, ep, map[string]func(any, []string){"condition": x.setStr(&cond)})
					switch model.Condition(cond) {
					case "":
					case model.CondStarted, model.CondHealthy:
						dep.Condition = model.Condition(cond)
					default:
						x.errAt(child(ep, "condition"), "must be started or healthy, not %q", cond)
					}
				}
			}
			out = append(out, dep)
		}
	default:
		x.errAt(p, "must be a list of container names or a mapping, not %s", typeName(v))
	}
	return out
}

// ---- recipe loading ----

type loadedRecipe struct {
	r        *model.Recipe
	ds       diag.Diagnostics
	reported bool
}

type loader struct {
	o        Options
	stackDir string
	cache    map[string]*loadedRecipe
	src      *sourceState // sources.go
}

// recipes loads the recipe of every container (each file once).
//
// Files are parsed in parallel (a stack may use hundreds of recipes), and
// the results are attached in container order so diagnostics stay
// deterministic.
func (l *loader) recipes(st *model.Stack) diag.Diagnostics {
	var ds diag.Diagnostics
	type job struct {
		c   *model.StackContainer
		key string
	}
	var jobs []job
	loads := map[string]func() (*model.Recipe, diag.Diagnostics){}
	var order []string
	for _, name := range st.ContainerNames {
		c := st.Containers[name]
		ref := c.Recipe
		var key string
		var load func() (*model.Recipe, diag.Diagnostics)
		switch ref.Kind {
		case model.RefBuiltin:
			if ref.Name == "" {
				continue
			}
			fsys := l.o.builtin()
			if fi, err := fs.Stat(fsys, ref.Name+"/recipe.yaml"); err != nil || fi.IsDir() {
				ds = append(ds, diag.Errorf(diag.ClassInput, ref.Pos, "containers."+name+".recipe",
					"unknown recipe %q: no built-in recipe has that name%s", ref.Name, suggest(fsys, ref.Name)))
				continue
			}
			key = "builtin:" + ref.Name
			load = func() (*model.Recipe, diag.Diagnostics) { return loadBuiltinRecipe(fsys, ref.Name) }
		case model.RefPath:
			file := ref.Path
			if !filepath.IsAbs(file) {
				file = filepath.Join(l.stackDir, filepath.FromSlash(file))
			}
			if fi, err := os.Stat(file); err == nil && fi.IsDir() {
				file = filepath.Join(file, "recipe.yaml")
			}
			if _, err := os.Stat(file); err != nil {
				ds = append(ds, diag.Errorf(diag.ClassInput, ref.Pos, "containers."+name+".recipe",
					"recipe file %s does not exist", file))
				continue
			}
			key = "file:" + file
			load = func() (*model.Recipe, diag.Diagnostics) { return LoadRecipeFile(file, l.o) }
		case model.RefSource:
			if ref.Name == "" {
				continue
			}
			src, ok := st.Sources[ref.Source]
			if !ok {
				ds = append(ds, diag.Errorf(diag.ClassInput, ref.Pos, "containers."+name+".recipe",
					"source %q is not declared under sources", ref.Source))
				continue
			}
			base, sds, ok := l.sourceDir(st, src, name, ref) // sources.go
			ds = append(ds, sds...)
			if !ok {
				continue
			}
			file := filepath.Join(base, "recipes", ref.Name, "recipe.yaml")
			if _, err := os.Stat(file); err != nil {
				alt := filepath.Join(base, ref.Name, "recipe.yaml")
				if _, err2 := os.Stat(alt); err2 != nil {
					ds = append(ds, diag.Errorf(diag.ClassInput, ref.Pos, "containers."+name+".recipe",
						"unknown recipe %q: source %q has no %s", ref.Name, src.Name, file))
					continue
				}
				file = alt
			}
			key = "file:" + file
			load = func() (*model.Recipe, diag.Diagnostics) { return LoadRecipeFile(file, l.o) }
		}
		if _, ok := loads[key]; !ok {
			loads[key] = load
			order = append(order, key)
		}
		jobs = append(jobs, job{c: c, key: key})
	}
	l.loadAll(order, loads)
	for _, j := range jobs {
		c, ref, name := j.c, j.c.Recipe, j.c.Name
		lr := l.cache[j.key]
		if !lr.reported {
			lr.reported = true
			ds = append(ds, lr.ds...)
		}
		if lr.r == nil || lr.ds.HasErrors() {
			continue
		}
		if ref.Version != "" && ref.Version != lr.r.Version {
			ds = append(ds, diag.Errorf(diag.ClassInput, ref.Pos, "containers."+name+".recipe",
				"recipe %s is version %s, not %s", lr.r.Name, lr.r.Version, ref.Version))
			continue
		}
		if ref.Kind != model.RefPath && lr.r.Name != ref.Name {
			ds = append(ds, diag.Errorf(diag.ClassInput, ref.Pos, "containers."+name+".recipe",
				"recipe file %s is named %q, not %q", lr.r.File, lr.r.Name, ref.Name))
			continue
		}
		c.Loaded = lr.r
	}
	return ds
}

// loadAll runs the loads not cached yet, GOMAXPROCS at a time.
func (l *loader) loadAll(keys []string, loads map[string]func() (*model.Recipe, diag.Diagnostics)) {
	var todo []string
	for _, k := range keys {
		if _, ok := l.cache[k]; !ok {
			todo = append(todo, k)
		}
	}
	results := make([]*loadedRecipe, len(todo))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, k := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r, rds := loads[k]()
			results[i] = &loadedRecipe{r: r, ds: rds}
		}()
	}
	wg.Wait()
	for i, k := range todo {
		l.cache[k] = results[i]
	}
}

// suggest names a built-in recipe close to name (a typo), if there is one.
func suggest(fsys fs.FS, name string) string {
	names, err := BuiltinRecipeNames(fsys)
	if err != nil {
		return ""
	}
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ---- semantic checks on the stack as written ----

func checkStack(st *model.Stack, d *doc) diag.Diagnostics {
	var ds diag.Diagnostics
	errf := func(pos diag.Pos, path, format string, args ...any) {
		ds = append(ds, diag.Errorf(diag.ClassInput, pos, path, format, args...))
	}
	if h, ok := st.Defaults["host"]; ok {
		if name, _ := h.Value.(string); st.Hosts[name] == nil {
			errf(h.Pos, "defaults.host", "host %q is not declared under hosts", name)
		}
	}
	for _, name := range st.ContainerNames {
		c := st.Containers[name]
		cp := "containers." + name
		if h, ok := c.Settings["host"]; ok {
			if hn, _ := h.Value.(string); st.Hosts[hn] == nil {
				errf(h.Pos, cp+".host", "host %q is not declared under hosts", hn)
			}
		}
		for _, dep := range c.DependsOn {
			switch {
			case dep.Name == name:
				errf(dep.Pos, cp+".depends_on", "a container cannot depend on itself")
			case st.Containers[dep.Name] == nil:
				errf(dep.Pos, cp+".depends_on", "depends on unknown container %q", dep.Name)
			case dep.Condition == model.CondHealthy && st.Containers[dep.Name].Loaded != nil && st.Containers[dep.Name].Loaded.Health == nil:
				errf(dep.Pos, cp+".depends_on", "waits for %s to be healthy, but recipe %s has no health check; use condition: started",
					dep.Name, st.Containers[dep.Name].Loaded.Name)
			}
		}
		if c.Loaded != nil {
			r := c.Loaded
			for _, pn := range sortedKeys(c.Params) {
				arg := c.Params[pn]
				prm, ok := r.Params[pn]
				if !ok {
					errf(arg.KeyPos, cp+".params."+pn, "unknown param %q of recipe %s%s", pn, r.Name, paramHint(r))
					continue
				}
				if msg := checkParamValue(prm, arg.Value); msg != "" {
					errf(arg.Pos, cp+".params."+pn, "%s", msg)
				}
			}
			for _, pn := range r.ParamNames() {
				prm := r.Params[pn]
				if _, given := c.Params[pn]; given || !prm.Required || prm.Default != nil || prm.Generate != nil {
					continue
				}
				pos, path := c.Pos, cp
				if !c.ParamsPos.IsZero() {
					pos, path = c.ParamsPos, cp+".params"
				}
				errf(pos, path, "missing required param %q of recipe %s", pn, r.Name)
			}
		}
	}
	for _, cyc := range cycles(st) {
		c := st.Containers[cyc[0]]
		pos := c.Pos
		for _, dep := range c.DependsOn {
			if dep.Name == cyc[1] {
				pos = dep.Pos
			}
		}
		errf(pos, "containers."+cyc[0]+".depends_on", "dependency cycle: %s", strings.Join(cyc, " -> "))
	}
	// References to other containers, anywhere in the stack.
	walkStrings(d.value, nil, func(s string, p []string) {
		for _, ref := range references(s) {
			if msg := checkStackRef(st, ref); msg != "" {
				errf(d.pos(p), d.display(p), "%s", msg)
			}
		}
	})
	return ds
}

func paramHint(r *model.Recipe) string {
	names := r.ParamNames()
	if len(names) == 0 {
		return " (it has no params)"
	}
	return " (it has " + strings.Join(names, ", ") + ")"
}

func checkStackRef(st *model.Stack, ref string) string {
	parts := strings.Split(ref, ".")
	if parts[0] != "containers" {
		return "invalid reference ${" + ref + "}: a stack may reference ${containers.NAME.ip|hostname|vmid|outputs.KEY}"
	}
	c := st.Containers[parts[1]]
	if c == nil {
		return "reference ${" + ref + "} names no container " + strconv.Quote(parts[1])
	}
	if len(parts) < 3 {
		return "invalid reference ${" + ref + "}: name a field: ip, hostname, vmid or outputs.KEY"
	}
	switch parts[2] {
	case "ip", "hostname", "vmid":
		if len(parts) == 3 {
			return ""
		}
	case "outputs":
		if len(parts) == 4 {
			if c.Loaded != nil {
				if _, ok := c.Loaded.Outputs[parts[3]]; !ok {
					return "reference ${" + ref + "}: recipe " + c.Loaded.Name + " has no output " + strconv.Quote(parts[3])
				}
			}
			return ""
		}
	}
	return "invalid reference ${" + ref + "}: name a field: ip, hostname, vmid or outputs.KEY"
}

// cycles finds the dependency cycles of the stack, each rotated to start at
// its smallest name and closed (db -> app -> db), in a stable order.
func cycles(st *model.Stack) [][]string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	seen := map[string]bool{}
	var out [][]string
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		deps := make([]string, 0)
		for _, d := range st.Containers[n].DependsOn {
			if st.Containers[d.Name] != nil && d.Name != n {
				deps = append(deps, d.Name)
			}
		}
		sort.Strings(deps)
		for _, m := range deps {
			switch color[m] {
			case white:
				visit(m)
			case grey:
				i := len(stack) - 1
				for stack[i] != m {
					i--
				}
				cyc := append([]string(nil), stack[i:]...)
				min := 0
				for j := range cyc {
					if cyc[j] < cyc[min] {
						min = j
					}
				}
				cyc = append(cyc[min:], cyc[:min]...)
				cyc = append(cyc, cyc[0])
				if k := strings.Join(cyc, "\x00"); !seen[k] {
					seen[k] = true
					out = append(out, cyc)
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, n := range st.ContainerNames {
		if color[n] == white {
			visit(n)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
