package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/recipes"
)

func recipesCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "recipes",
		Usage:     "list and show recipes of the built-in library",
		UsageText: "lxcplan recipes list|show",
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Usage:     "one recipe per line, name first",
				UsageText: "lxcplan recipes list [--format text|json]",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"}},
				Action: func(c *cli.Context) error {
					format := c.String("format")
					if format != "text" && format != "json" {
						return usagef("recipes list: --format %q: want text or json", format)
					}
					rs, err := builtinRecipes()
					if err != nil {
						return err
					}
					if format == "json" {
						return writeJSON(e, recipeSummaries(rs))
					}
					tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
					for _, r := range rs {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Version, r.Category, r.Description)
					}
					return tw.Flush()
				},
			},
			{
				Name:      "show",
				Usage:     "print a recipe",
				UsageText: "lxcplan recipes show NAME",
				Action: func(c *cli.Context) error {
					name, err := oneArg(c, "NAME")
					if err != nil {
						return err
					}
					data, err := recipeText(name)
					if err != nil {
						return err
					}
					_, err = e.out.Write(data)
					return err
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
}

func recipeSummaries(rs []*model.Recipe) []recipeSummary {
	out := make([]recipeSummary, 0, len(rs))
	for _, r := range rs {
		out = append(out, recipeSummary{Name: r.Name, Version: r.Version, Category: r.Category,
			Description: r.Description, Website: r.Website, Ports: recipePorts(r)})
	}
	return out
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
