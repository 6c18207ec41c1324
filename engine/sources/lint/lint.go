// Package lint checks a recipe repository the way its own CI should before
// anyone uses it as a source: every recipe valid, one recipe per name, each
// folder named after its recipe and self-contained.
package lint

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/manifest"
)

// Result is what Dir found.
type Result struct {
	// Folder is the recipes folder that was checked.
	Folder string
	// Recipes are the recipe folders checked, sorted.
	Recipes []string
	Diags   diag.Diagnostics
}

// Dir lints a recipe repository: dir is its root (holding recipes/) or the
// recipes/ folder itself. Every problem names the recipe file it is in. The
// error is for a dir that cannot be read at all.
func Dir(dir string) (*Result, error) {
	folder := dir
	if fi, err := os.Stat(filepath.Join(dir, "recipes")); err == nil && fi.IsDir() {
		folder = filepath.Join(dir, "recipes")
	}
	entries, err := os.ReadDir(folder)
	if err != nil {
		return nil, fmt.Errorf("lint %s: %w", dir, err)
	}
	res := &Result{Folder: folder}
	byName := map[string][]string{} // recipe name -> files declaring it
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") {
			continue
		}
		rdir := filepath.Join(folder, e.Name())
		file := filepath.Join(rdir, "recipe.yaml")
		res.Recipes = append(res.Recipes, e.Name())
		if fi, err := os.Stat(file); err != nil || fi.IsDir() {
			res.Diags = append(res.Diags, diag.Errorf(diag.ClassInput, diag.Pos{File: rdir}, "",
				"recipe folder %s has no recipe.yaml", e.Name()))
			continue
		}
		r, ds := manifest.LoadRecipeFile(file, manifest.Options{})
		res.Diags = append(res.Diags, ds...)
		res.Diags = append(res.Diags, escapingLinks(rdir, file)...)
		if r == nil || r.Name == "" {
			continue
		}
		byName[r.Name] = append(byName[r.Name], file)
		if r.Name != e.Name() {
			res.Diags = append(res.Diags, diag.Errorf(diag.ClassInput, diag.Pos{File: file}, "name",
				"recipe %q lives in folder %s; the folder must be named after the recipe (recipes/%s/recipe.yaml)", r.Name, e.Name(), r.Name))
		}
	}
	for name, files := range byName {
		if len(files) < 2 {
			continue
		}
		sort.Strings(files)
		for _, f := range files {
			res.Diags = append(res.Diags, diag.Errorf(diag.ClassInput, diag.Pos{File: f}, "name",
				"duplicate recipe name %q, also declared in %s", name, strings.Join(others(files, f), ", ")))
		}
	}
	res.Diags.Sort()
	return res, nil
}

func others(all []string, not string) []string {
	var out []string
	for _, s := range all {
		if s != not {
			out = append(out, s)
		}
	}
	return out
}

// escapingLinks reports symbolic links in a recipe folder that point outside
// it: the folder is what a lock pins and vendor copies, so everything a
// recipe uses must be inside.
func escapingLinks(rdir, file string) diag.Diagnostics {
	var ds diag.Diagnostics
	root, err := filepath.EvalSymlinks(rdir)
	if err != nil {
		return nil
	}
	_ = filepath.WalkDir(rdir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		rel, _ := filepath.Rel(rdir, p)
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			ds = append(ds, diag.Errorf(diag.ClassInput, diag.Pos{File: file}, "",
				"%s is a broken symbolic link", filepath.ToSlash(rel)))
			return nil
		}
		if in, _ := filepath.Rel(root, target); in == ".." || strings.HasPrefix(in, ".."+string(filepath.Separator)) || filepath.IsAbs(in) {
			ds = append(ds, diag.Errorf(diag.ClassInput, diag.Pos{File: file}, "",
				"%s is a symbolic link that escapes the recipe folder (to %s)", filepath.ToSlash(rel), target))
		}
		return nil
	})
	return ds
}
