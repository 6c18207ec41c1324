package manifest

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/recipes"
)

// LoadRecipeFile reads, validates and decodes the recipe at path. Files the
// recipe ships (`file: {source: ...}`) are looked up beside it.
func LoadRecipeFile(path string, o Options) (*model.Recipe, diag.Diagnostics) {
	data, ds := readFile(path)
	if ds.HasErrors() {
		return nil, ds
	}
	return recipeFromData(path, data)
}

// recipeFromData is LoadRecipeFile once the file is read.
func recipeFromData(path string, data []byte) (*model.Recipe, diag.Diagnostics) {
	dir := filepath.Dir(path)
	exists := func(rel string) bool {
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
		return err == nil && !fi.IsDir()
	}
	r, ds := parseRecipe(path, data, exists)
	ds.Sort()
	return r, ds
}

// loadBuiltinRecipe loads <name>/recipe.yaml from the built-in library.
func loadBuiltinRecipe(fsys fs.FS, name string) (*model.Recipe, diag.Diagnostics) {
	shown := "recipes/" + name + "/recipe.yaml"
	data, ds := readFSFile(fsys, name+"/recipe.yaml", shown)
	if ds.HasErrors() {
		return nil, ds
	}
	exists := func(rel string) bool {
		fi, err := fs.Stat(fsys, path.Join(name, rel))
		return err == nil && !fi.IsDir()
	}
	r, ds := parseRecipe(shown, data, exists)
	if r != nil {
		r.Builtin = true
	}
	return r, ds
}

// LoadBuiltinRecipe loads and validates one recipe of the built-in library
// (o.BuiltinRecipes, else recipes.FS).
func LoadBuiltinRecipe(name string, o Options) (*model.Recipe, diag.Diagnostics) {
	if !recipeNameRe.MatchString(name) {
		return nil, inputErr(diag.Pos{}, "", "invalid recipe name %q", name)
	}
	r, ds := loadBuiltinRecipe(o.builtin(), name)
	ds.Sort()
	return r, ds
}

// BuiltinRecipeSource returns the recipe.yaml of a built-in recipe as
// shipped (recipes.FS), for `lxcplan recipes show`.
func BuiltinRecipeSource(name string) ([]byte, error) {
	if !recipeNameRe.MatchString(name) {
		return nil, fmt.Errorf("read built-in recipe %q: invalid name", name)
	}
	data, err := fs.ReadFile(recipes.FS, name+"/recipe.yaml")
	if err != nil {
		return nil, fmt.Errorf("read built-in recipe %s: %w", name, err)
	}
	return data, nil
}

// BuiltinRecipeNames lists the recipes of a built-in library: every
// directory holding a recipe.yaml, sorted.
func BuiltinRecipeNames(fsys fs.FS) ([]string, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if fi, err := fs.Stat(fsys, e.Name()+"/recipe.yaml"); err == nil && !fi.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// parseRecipe runs everything on recipe bytes: YAML, schema, decoding and the
// recipe's own semantic checks. exists reports whether a file shipped with
// the recipe exists (path relative to the recipe folder).
func parseRecipe(file string, data []byte, exists func(string) bool) (*model.Recipe, diag.Diagnostics) {
	root, ds := parseYAML(file, data)
	if ds.HasErrors() {
		return nil, ds
	}
	d, cds := convert(file, root)
	ds = append(ds, cds...)
	if d == nil {
		return nil, ds
	}
	sv := schemaDiags(d, kindRecipe)
	x := &decoder{d: d}
	r := x.recipe(exists)
	ds = append(ds, dropAt(mergeDecode(sv, sv, x), cds)...)
	return r, ds
}

// mergeDecode adds the decoder's problems except those the schema already
// reported in other words: same position, or inside a value the schema
// flagged.
func mergeDecode(ds, schema diag.Diagnostics, x *decoder) diag.Diagnostics {
	for _, d := range x.ds {
		if !coveredBy(d, schema, false) {
			ds = append(ds, d)
		}
	}
	for _, d := range x.sem {
		if !coveredBy(d, schema, true) {
			ds = append(ds, d)
		}
	}
	return ds
}

// The schema checks every structural rule the decoder checks, so a decoder
// problem inside (or around) a value the schema flagged is the same problem;
// semantic problems (references, shipped files) are kept unless the schema
// reported one at the same place.
func coveredBy(d diag.Diagnostic, schema diag.Diagnostics, semantic bool) bool {
	for _, s := range schema {
		if s.Pos == d.Pos {
			return true
		}
		if semantic {
			continue
		}
		if s.Path == d.Path || within(d.Path, s.Path) || within(s.Path, d.Path) {
			return true
		}
	}
	return false
}

// within reports whether path p lies inside path parent.
func within(p, parent string) bool {
	if parent == "" || !strings.HasPrefix(p, parent) {
		return false
	}
	rest := p[len(parent):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}

// dropAt removes diagnostics at the positions of others (a scalar YAML could
// not read would otherwise also be reported as having the wrong type).
func dropAt(ds, at diag.Diagnostics) diag.Diagnostics {
	if len(at) == 0 {
		return ds
	}
	pos := map[diag.Pos]bool{}
	for _, d := range at {
		pos[d.Pos] = true
	}
	out := ds[:0:0]
	for _, d := range ds {
		if !pos[d.Pos] {
			out = append(out, d)
		}
	}
	return out
}

func (x *decoder) semErr(pos diag.Pos, p []string, format string, args ...any) {
	x.sem = append(x.sem, diag.Errorf(diag.ClassInput, pos, x.d.display(p), format, args...))
}

var (
	durationRe = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`)
	semverRe   = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
)

func (x *decoder) recipe(exists func(string) bool) *model.Recipe {
	m, ok := x.mapping(x.d.value, nil)
	if !ok {
		return nil
	}
	r := &model.Recipe{File: x.d.file, Pos: x.d.pos(nil), Params: map[string]*model.Param{}, Outputs: map[string]model.Output{}, Container: model.Settings{}}
	x.required(m, nil, "apiVersion", "kind", "name", "version", "container")
	var kind string
	x.fields(m, nil, map[string]func(any, []string){
		"apiVersion":  x.setStr(&r.APIVersion),
		"kind":        x.setStr(&kind),
		"name":        x.setStr(&r.Name),
		"version":     x.setStr(&r.Version),
		"description": x.setStr(&r.Description),
		"category":    x.setStr(&r.Category),
		"website":     x.setStr(&r.Website),
		"container": func(v any, p []string) {
			if cm, ok := x.mapping(v, p); ok {
				x.required(cm, p, "os", "version")
				r.Container = x.settings(cm, p, shapeRecipe)
			}
		},
		"params": func(v any, p []string) {
			if pm, ok := x.mapping(v, p); ok {
				for _, name := range sortedMapKeys(pm) {
					if prm := x.param(name, pm[name], child(p, name)); prm != nil {
						r.Params[name] = prm
					}
				}
			}
		},
		"install": func(v any, p []string) { r.Install = x.steps(v, p, false, exists) },
		"update":  func(v any, p []string) { r.Update = x.steps(v, p, true, exists) },
		"health":  func(v any, p []string) { r.Health = x.health(v, p) },
		"outputs": func(v any, p []string) {
			if om, ok := x.mapping(v, p); ok {
				for _, name := range sortedMapKeys(om) {
					if s, ok := x.str(om[name], child(p, name)); ok {
						r.Outputs[name] = model.Output{Template: s, Pos: x.d.pos(child(p, name))}
					}
				}
			}
		},
	})
	if kind != "" && kind != "Recipe" {
		x.errAt([]string{"kind"}, "must be Recipe in a recipe file, not %q", kind)
	}
	if r.APIVersion != "" && r.APIVersion != "lxcplan/v1" {
		x.errAt([]string{"apiVersion"}, "must be lxcplan/v1, not %q", r.APIVersion)
	}
	if r.Version != "" && !semverRe.MatchString(r.Version) {
		x.errAt([]string{"version"}, "must be a semantic version like 1.2.0, not %q", r.Version)
	}
	x.recipeRefs(r)
	return r
}

func (x *decoder) param(name string, v any, p []string) *model.Param {
	m, ok := x.mapping(v, p)
	if !ok {
		return nil
	}
	prm := &model.Param{Name: name, Pos: x.d.keyPos(p)}
	x.required(m, p, "type")
	var typ string
	var defPath []string
	var minP, maxP, valuesP, genP, patP []string
	x.fields(m, p, map[string]func(any, []string){
		"type":        x.setStr(&typ),
		"description": x.setStr(&prm.Description),
		"required":    x.setBool(&prm.Required),
		"default":     func(v any, p []string) { prm.Default, defPath = v, p },
		"values":      func(v any, p []string) { x.setStrings(&prm.Values)(v, p); valuesP = p },
		"pattern":     func(v any, p []string) { x.setStr(&prm.Pattern)(v, p); patP = p },
		"min": func(v any, p []string) {
			if n, ok := x.integer(v, p); ok {
				prm.Min = &n
			}
			minP = p
		},
		"max": func(v any, p []string) {
			if n, ok := x.integer(v, p); ok {
				prm.Max = &n
			}
			maxP = p
		},
		"generate": func(v any, p []string) {
			genP = p
			gm, ok := x.mapping(v, p)
			if !ok {
				return
			}
			g := &model.Generate{Length: 24, Charset: "alnum"}
			x.fields(gm, p, map[string]func(any, []string){
				"length": x.setInt(&g.Length), "charset": x.setStr(&g.Charset),
			})
			prm.Generate = g
		},
	})
	prm.Type = model.ParamType(typ)
	switch prm.Type {
	case model.ParamString, model.ParamInt, model.ParamBool, model.ParamEnum, model.ParamSecret:
	case "":
		return prm
	default:
		x.errAt(child(p, "type"), "must be one of string, int, bool, enum, secret, not %q", typ)
		return prm
	}
	if prm.Type == model.ParamEnum && prm.Values == nil && valuesP == nil {
		x.errAt(p, "an enum param needs values")
	}
	if valuesP != nil && prm.Type != model.ParamEnum {
		x.errKey(valuesP, "values is only allowed for enum params")
	}
	if genP != nil && prm.Type != model.ParamSecret {
		x.errKey(genP, "generate is only allowed for secret params")
	}
	if (minP != nil || maxP != nil) && prm.Type != model.ParamInt {
		x.errKey(firstNonNil(minP, maxP), "min and max are only allowed for int params")
	}
	if patP != nil && prm.Type != model.ParamString {
		x.errKey(patP, "pattern is only allowed for string params")
	}
	if patP != nil && prm.Pattern != "" {
		if _, err := regexp.Compile(prm.Pattern); err != nil {
			x.errAt(patP, "invalid regular expression: %v", err)
		}
	}
	if prm.Min != nil && prm.Max != nil && *prm.Min > *prm.Max {
		x.errAt(maxP, "max %d is below min %d", *prm.Max, *prm.Min)
	}
	if defPath != nil {
		if prm.Type == model.ParamSecret {
			x.errKey(defPath, "a secret param cannot have a default; use generate")
		} else if prm.Type == model.ParamEnum && len(prm.Values) == 0 {
			// reported above
		} else if msg := checkParamValue(prm, prm.Default); msg != "" {
			x.errAt(defPath, "default %s", msg)
		}
	}
	return prm
}

func firstNonNil(ps ...[]string) []string {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

// checkParamValue returns "" when v suits the param, else what is wrong
// ("must be an integer"). Values holding references are checked at apply time.
func checkParamValue(prm *model.Param, v any) string {
	if s, ok := v.(string); ok && strings.Contains(s, "${") {
		// A reference, or an interpolation that failed and was reported.
		return ""
	}
	switch prm.Type {
	case model.ParamInt:
		var n int64
		switch t := v.(type) {
		case int64:
			n = t
		case string:
			i, err := strconv.ParseInt(t, 10, 64)
			if err != nil {
				return "must be an integer, not " + strconv.Quote(t)
			}
			n = i
		default:
			return "must be an integer, not " + typeName(v)
		}
		if prm.Min != nil && n < *prm.Min {
			return "must be at least " + strconv.FormatInt(*prm.Min, 10)
		}
		if prm.Max != nil && n > *prm.Max {
			return "must be at most " + strconv.FormatInt(*prm.Max, 10)
		}
	case model.ParamBool:
		switch t := v.(type) {
		case bool:
		case string:
			if t != "true" && t != "false" {
				return "must be true or false, not " + strconv.Quote(t)
			}
		default:
			return "must be true or false, not " + typeName(v)
		}
	case model.ParamEnum:
		s, ok := v.(string)
		if !ok {
			s = scalarString(v)
		}
		for _, allowed := range prm.Values {
			if s == allowed {
				return ""
			}
		}
		return "must be one of " + strings.Join(prm.Values, ", ") + ", not " + strconv.Quote(s)
	case model.ParamString, model.ParamSecret:
		switch v.(type) {
		case string, int64, float64, bool:
		default:
			return "must be a string, not " + typeName(v)
		}
		if prm.Pattern != "" {
			if re, err := regexp.Compile(prm.Pattern); err == nil && !re.MatchString(scalarString(v)) {
				return "must match " + prm.Pattern
			}
		}
	}
	return ""
}

// scalarString renders a scalar the way it would be written in YAML.
func scalarString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return ""
	}
	return ""
}

var stepKinds = map[string]model.StepKind{
	"apt": model.StepApt, "apt_repo": model.StepAptRepo, "file": model.StepFile, "user": model.StepUser,
	"download": model.StepDownload, "run": model.StepRun, "service": model.StepService, "apt_upgrade": model.StepAptUpgrade,
}

func (x *decoder) steps(v any, p []string, update bool, exists func(string) bool) []model.Step {
	l, ok := x.list(v, p)
	if !ok {
		return nil
	}
	var out []model.Step
	for i, e := range l {
		ep := child(p, strconv.Itoa(i))
		m, ok := x.mapping(e, ep)
		if !ok {
			continue
		}
		if len(m) != 1 {
			x.errAt(ep, "a step has exactly one key naming its kind (apt, file, run...), found %d", len(m))
			continue
		}
		var name string
		for k := range m {
			name = k
		}
		kind, known := stepKinds[name]
		if !known || (kind == model.StepAptUpgrade && !update) {
			x.errKey(child(ep, name), "unknown step kind %q", name)
			continue
		}
		sp := child(ep, name)
		st := model.Step{Kind: kind, Pos: x.d.keyPos(sp)}
		sv := m[name]
		switch kind {
		case model.StepApt, model.StepAptUpgrade:
			if pk, ok := x.strings(sv, sp); ok {
				st.Packages = pk
			}
		case model.StepAptRepo:
			if sm, ok := x.mapping(sv, sp); ok {
				s := &model.AptRepoStep{}
				x.required(sm, sp, "name", "uri", "suite")
				x.fields(sm, sp, map[string]func(any, []string){
					"name": x.setStr(&s.Name), "uri": x.setStr(&s.URI), "suite": x.setStr(&s.Suite),
					"components": x.setStrings(&s.Components), "key_url": x.setStr(&s.KeyURL), "arch": x.setStr(&s.Arch),
				})
				st.AptRepo = s
			}
		case model.StepFile:
			if sm, ok := x.mapping(sv, sp); ok {
				s := &model.FileStep{}
				x.required(sm, sp, "path")
				var srcP []string
				x.fields(sm, sp, map[string]func(any, []string){
					"path": x.setStr(&s.Path),
					"content": func(v any, p []string) {
						if str, ok := x.str(v, p); ok {
							s.Content, s.HasContent = str, true
						}
					},
					"source": func(v any, p []string) { x.setStr(&s.Source)(v, p); srcP = p },
					"mode":   x.setStr(&s.Mode), "owner": x.setStr(&s.Owner), "group": x.setStr(&s.Group),
				})
				_, hasC := sm["content"]
				_, hasS := sm["source"]
				if hasC == hasS {
					x.errAt(sp, "a file step needs exactly one of content and source")
				}
				if srcP != nil && s.Source != "" {
					x.checkShipped(s.Source, srcP, exists)
				}
				st.File = s
			}
		case model.StepUser:
			if sm, ok := x.mapping(sv, sp); ok {
				s := &model.UserStep{}
				x.required(sm, sp, "name")
				x.fields(sm, sp, map[string]func(any, []string){
					"name": x.setStr(&s.Name), "system": x.setBool(&s.System), "home": x.setStr(&s.Home),
					"shell": x.setStr(&s.Shell), "groups": x.setStrings(&s.Groups),
				})
				st.User = s
			}
		case model.StepDownload:
			if sm, ok := x.mapping(sv, sp); ok {
				s := &model.DownloadStep{}
				x.required(sm, sp, "url", "sha256", "dest")
				x.fields(sm, sp, map[string]func(any, []string){
					"url": x.setStr(&s.URL), "sha256": x.setStr(&s.SHA256), "dest": x.setStr(&s.Dest),
					"extract": x.setBool(&s.Extract), "mode": x.setStr(&s.Mode), "owner": x.setStr(&s.Owner),
				})
				st.Download = s
			}
		case model.StepRun:
			s := &model.RunStep{}
			if script, ok := sv.(string); ok {
				s.Script = script
			} else if sm, ok := x.mapping(sv, sp); ok {
				x.required(sm, sp, "script")
				x.fields(sm, sp, map[string]func(any, []string){
					"script": x.setStr(&s.Script), "cwd": x.setStr(&s.Cwd), "user": x.setStr(&s.User),
					"creates": x.setStr(&s.Creates),
					"timeout": func(v any, p []string) { s.Timeout = x.duration(v, p) },
					"env": func(v any, p []string) {
						if em, ok := x.mapping(v, p); ok {
							s.Env = map[string]string{}
							for _, k := range sortedMapKeys(em) {
								if str, ok := x.str(em[k], child(p, k)); ok {
									s.Env[k] = str
								}
							}
						}
					},
				})
			}
			st.Run = s
		case model.StepService:
			if sm, ok := x.mapping(sv, sp); ok {
				s := &model.ServiceStep{}
				x.required(sm, sp, "name")
				x.fields(sm, sp, map[string]func(any, []string){
					"name": x.setStr(&s.Name), "state": x.setStr(&s.State),
					"enable": func(v any, p []string) {
						if b, ok := x.boolean(v, p); ok {
							s.Enable = &b
						}
					},
					"unit": func(v any, p []string) {
						if v == nil {
							return
						}
						if str, ok := x.str(v, p); ok {
							s.Unit = &str
						}
					},
				})
				st.Service = s
			}
		}
		out = append(out, st)
	}
	return out
}

// checkShipped makes sure a file shipped with the recipe stays inside the
// recipe folder and exists.
func (x *decoder) checkShipped(src string, p []string, exists func(string) bool) {
	clean := path.Clean(filepath.ToSlash(src))
	switch {
	case path.IsAbs(clean) || filepath.IsAbs(src) || filepath.VolumeName(src) != "":
		x.semErr(x.d.pos(p), p, "source %q must be relative to the recipe folder", src)
	case clean == ".." || strings.HasPrefix(clean, "../"):
		x.semErr(x.d.pos(p), p, "source %q escapes the recipe folder", src)
	case exists != nil && !exists(clean):
		x.semErr(x.d.pos(p), p, "source file %q does not exist in the recipe folder", src)
	}
}

func (x *decoder) duration(v any, p []string) time.Duration {
	s, ok := x.str(v, p)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(s)
	if !durationRe.MatchString(s) || err != nil {
		x.errAt(p, "must be a duration like 30s or 2m, not %q", s)
		return 0
	}
	return d
}

func (x *decoder) health(v any, p []string) *model.Health {
	m, ok := x.mapping(v, p)
	if !ok {
		return nil
	}
	h := &model.Health{Pos: x.d.pos(p), Interval: 2 * time.Second, Timeout: 120 * time.Second}
	probes := 0
	x.fields(m, p, map[string]func(any, []string){
		"tcp": func(v any, p []string) { probes++; x.setInt(&h.TCP)(v, p) },
		"cmd": func(v any, p []string) { probes++; x.setStr(&h.Cmd)(v, p) },
		"http": func(v any, p []string) {
			probes++
			hm, ok := x.mapping(v, p)
			if !ok {
				return
			}
			c := &model.HTTPCheck{Path: "/", Status: 200}
			x.required(hm, p, "port")
			x.fields(hm, p, map[string]func(any, []string){
				"port": x.setInt(&c.Port), "path": x.setStr(&c.Path), "status": x.setInt(&c.Status),
			})
			h.HTTP = c
		},
		"interval": func(v any, p []string) { h.Interval = x.duration(v, p) },
		"timeout":  func(v any, p []string) { h.Timeout = x.duration(v, p) },
	})
	if probes != 1 {
		x.errAt(p, "health needs exactly one of tcp, http and cmd")
	}
	return h
}

// recipeRefs checks ${params.X} and ${container.Y} references in every string
// of the recipe.
func (x *decoder) recipeRefs(r *model.Recipe) {
	top, _ := x.d.value.(map[string]any)
	check := func(s string, p []string) {
		for _, ref := range references(s) {
			parts := strings.Split(ref, ".")
			switch parts[0] {
			case "params":
				if len(parts) != 2 {
					x.semErr(x.d.pos(p), p, "invalid reference ${%s}: use ${params.NAME}", ref)
				} else if _, ok := r.Params[parts[1]]; !ok {
					x.semErr(x.d.pos(p), p, "reference ${%s} names no param of recipe %s", ref, r.Name)
				}
			case "container":
				if len(parts) != 2 || (parts[1] != "ip" && parts[1] != "hostname" && parts[1] != "vmid") {
					x.semErr(x.d.pos(p), p, "invalid reference ${%s}: a recipe may use ${container.ip}, ${container.hostname} and ${container.vmid}", ref)
				}
			default:
				x.semErr(x.d.pos(p), p, "invalid reference ${%s}: a recipe may use ${params.NAME} and ${container.ip|hostname|vmid}", ref)
			}
		}
	}
	// Only these sections are rendered with a container's values; the rest
	// of the recipe is not walked at all.
	for _, k := range sortedMapKeys(top) {
		switch k {
		case "install", "update", "outputs", "health":
			walkStrings(top[k], []string{k}, check)
		}
	}
}

// walkStrings calls fn for every string value in v with its path, in a
// stable order.
func walkStrings(v any, p []string, fn func(string, []string)) {
	switch t := v.(type) {
	case string:
		fn(t, p)
	case map[string]any:
		for _, k := range sortedMapKeys(t) {
			walkStrings(t[k], child(p, k), fn)
		}
	case []any:
		for i, e := range t {
			walkStrings(e, child(p, strconv.Itoa(i)), fn)
		}
	}
}

var refScanRe = regexp.MustCompile(`(\$+)\{([A-Za-z_][A-Za-z0-9_]*\.[^}]*)\}`)

// references returns the dotted references (${a.b}) in s, skipping escaped
// ones ($${a.b}).
func references(s string) []string {
	if !strings.Contains(s, "${") {
		return nil
	}
	var out []string
	for _, m := range refScanRe.FindAllStringSubmatch(s, -1) {
		// Malformed references were reported by interpolation.
		if len(m[1])%2 == 1 && refRe.MatchString(m[2]) {
			out = append(out, m[2])
		}
	}
	return out
}
