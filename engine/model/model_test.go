package model

import (
	"testing"

	"github.com/lxcplan/lxcplan/engine/diag"
)

func TestSourceString(t *testing.T) {
	tests := []struct {
		s    Source
		want string
	}{
		{Source{Layer: LayerRecipe, Label: "recipe postgresql", Pos: diag.Pos{File: "recipes/postgresql/recipe.yaml", Line: 12, Col: 3}}, "recipe postgresql (recipes/postgresql/recipe.yaml:12)"},
		{Source{Layer: LayerStackDefaults, Label: "stack defaults", Pos: diag.Pos{File: "stack.yaml", Line: 9}}, "stack defaults (stack.yaml:9)"},
		{Source{Layer: LayerSet, Label: "--set db.memory=4096"}, "--set db.memory=4096"},
		{Source{Layer: LayerBuiltin, Label: "built-in default"}, "built-in default"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	for l, want := range map[Layer]string{LayerBuiltin: "built-in default", LayerUserDefaults: "user defaults", LayerRecipe: "recipe",
		LayerStackDefaults: "stack defaults", LayerContainer: "stack container", LayerSet: "--set", LayerDerived: "derived", Layer(42): "layer(42)"} {
		if got := l.String(); got != want {
			t.Errorf("Layer(%d).String() = %q, want %q", l, got, want)
		}
	}
}

func TestSortedAccessors(t *testing.T) {
	r := &Recipe{Params: map[string]*Param{"b": {}, "a": {}}, Outputs: map[string]Output{"y": {}, "x": {}}}
	if got := r.ParamNames(); len(got) != 2 || got[0] != "a" {
		t.Errorf("ParamNames = %v", got)
	}
	if got := r.OutputNames(); len(got) != 2 || got[0] != "x" {
		t.Errorf("OutputNames = %v", got)
	}
	d := &Desired{Containers: []*Container{{Name: "app"}, {Name: "db"}}}
	if d.Container("db") == nil || d.Container("nope") != nil {
		t.Error("Desired.Container lookup")
	}
	if !(Mount{HostPath: "/x"}).IsBind() || (Mount{Storage: "local"}).IsBind() {
		t.Error("Mount.IsBind")
	}
}
