package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/sources/lint"
)

// TestScaffoldPassesLint: whatever the name, `recipes new` output passes
// `recipes lint` unchanged.
func TestScaffoldPassesLint(t *testing.T) {
	for _, name := range []string{"a", "myapp", "my-app-2", "0ad", "a-very-long-recipe-name-indeed"} {
		dir := t.TempDir()
		var out bytes.Buffer
		if err := newRecipe(&env{out: &out}, dir, name); err != nil {
			t.Fatalf("new %s: %v", name, err)
		}
		res, err := lint.Dir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Diags) != 0 || len(res.Recipes) != 1 {
			t.Errorf("scaffold %s: %d recipes, problems:\n%v", name, len(res.Recipes), res.Diags.Err())
		}
		data, err := os.ReadFile(filepath.Join(dir, "recipes", name, "recipe.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "\nname: "+name+" ") {
			t.Errorf("scaffold %s does not declare its name", name)
		}
	}
}

func TestRecipeNameOK(t *testing.T) {
	for name, want := range map[string]bool{
		"redis": true, "a1": true, "0ad": true, "x-y": true,
		"": false, "-x": false, "Redis": false, "a_b": false, "a/b": false, "../x": false, "a b": false,
	} {
		if got := recipeNameOK(name); got != want {
			t.Errorf("recipeNameOK(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestLockArgs: --update may come before or after STACK, and source names
// only go with it.
func TestLockArgs(t *testing.T) {
	tests := []struct {
		args    []string
		stack   string
		update  bool
		names   []string
		wantErr string
	}{
		{args: []string{"s.yaml"}, stack: "s.yaml"},
		{args: []string{"--update", "s.yaml"}, stack: "s.yaml", update: true},
		{args: []string{"s.yaml", "--update", "comm"}, stack: "s.yaml", update: true, names: []string{"comm"}},
		{args: []string{"--update", "s.yaml", "a", "b"}, stack: "s.yaml", update: true, names: []string{"a", "b"}},
		{args: []string{}, wantErr: "missing STACK"},
		{args: []string{"s.yaml", "comm"}, wantErr: "source names go with --update"},
	}
	for _, tt := range tests {
		var stack string
		var update bool
		var names []string
		var gotErr error
		app, _ := newApp(nil, &bytes.Buffer{}, &bytes.Buffer{})
		for _, c := range app.Commands {
			if c.Name != "recipes" {
				continue
			}
			for _, sc := range c.Subcommands {
				if sc.Name == "lock" {
					sc.Action = func(c *cli.Context) error {
						stack, update, names, gotErr = lockArgs(c)
						return nil
					}
				}
			}
		}
		if err := app.Run(append([]string{"lxcplan", "recipes", "lock"}, tt.args...)); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if tt.wantErr != "" {
			if gotErr == nil || !strings.Contains(gotErr.Error(), tt.wantErr) {
				t.Errorf("%v: error %v, want %q", tt.args, gotErr, tt.wantErr)
			}
			continue
		}
		if gotErr != nil || stack != tt.stack || update != tt.update || !reflect.DeepEqual(names, tt.names) && len(names)+len(tt.names) > 0 {
			t.Errorf("%v: got %q %v %q %v", tt.args, stack, update, names, gotErr)
		}
	}
}
