package manifest

import (
	"context"
	"path/filepath"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/sources"
)

// sourceState is what one stack load knows about its recipe sources.
type sourceState struct {
	session *sources.Session // nil when Options.Sources is nil
	warned  map[string]bool
}

// sourceDir returns the folder holding recipes/ of source src, for the
// recipe reference ref of container name. ok is false when the recipes of
// the source cannot be used; the diagnostics say why.
//
// With Options.Sources nil, git sources are not fetched (validation stays
// offline and never runs git): their recipes are skipped with a warning.
func (l *loader) sourceDir(st *model.Stack, src *model.RecipeSource, name string, ref model.RecipeRef) (string, diag.Diagnostics, bool) {
	if l.src == nil {
		l.src = &sourceState{warned: map[string]bool{}}
		if l.o.Sources != nil {
			l.src.session = l.o.Sources.Session(st.File)
		}
	}
	if l.src.session == nil {
		if src.Git != "" {
			var ds diag.Diagnostics
			if !l.src.warned[src.Name] {
				l.src.warned[src.Name] = true
				ds = append(ds, diag.Warnf(ref.Pos, "containers."+name+".recipe",
					"recipes from git source %q are not fetched by this command yet; checks that need recipe %s are skipped", src.Name, ref.Name))
			}
			return "", ds, false
		}
		base := src.Path
		if !filepath.IsAbs(base) {
			base = filepath.Join(l.stackDir, filepath.FromSlash(base))
		}
		return base, nil, true
	}
	res, ds := l.src.session.Source(context.Background(), src)
	if res == nil {
		return "", ds, false
	}
	return res.Dir, ds, true
}

// verifyLocked compares every recipe a container takes from a source with
// lxcplan.lock (when the stack has one and sources are resolved).
func (l *loader) verifyLocked(st *model.Stack) diag.Diagnostics {
	if l.src == nil || l.src.session == nil {
		return nil
	}
	var ds diag.Diagnostics
	for _, name := range st.ContainerNames {
		ref := st.Containers[name].Recipe
		src := st.Sources[ref.Source]
		if ref.Kind != model.RefSource || ref.Name == "" || src == nil {
			continue
		}
		ds = append(ds, l.src.session.VerifyRecipe(src, ref.Name, ref.Pos, "containers."+name+".recipe")...)
	}
	return ds
}
