package model

import (
	"fmt"
	"sort"

	"github.com/lxcplan/lxcplan/engine/diag"
)

// Setting is one container setting as written in one layer (built-in
// defaults, user defaults, recipe, stack defaults, container, --set).
//
// Value is a string, int64, float64, bool, []string, []int64, []Network,
// []Mount or []Device depending on the field.
type Setting struct {
	Value any
	Pos   diag.Pos
}

// Settings maps a canonical setting path ("resources.memory",
// "network.ip", "features.nesting", "mounts"...) to its value in one layer.
type Settings map[string]Setting

// Keys returns the setting paths in sorted order.
func (s Settings) Keys() []string { return sortedKeys(s) }

// Stack is a stack file as written, after interpolation and validation.
type Stack struct {
	File       string
	Pos        diag.Pos
	APIVersion string
	Name       string

	Sources map[string]*RecipeSource
	Hosts   map[string]*Host
	// Defaults are the stack's `defaults:` settings.
	Defaults Settings
	// Containers by name; ContainerNames lists them sorted.
	Containers     map[string]*StackContainer
	ContainerNames []string
}

// HostNames returns the declared host names in sorted order.
func (s *Stack) HostNames() []string { return sortedKeys(s.Hosts) }

// RecipeSource is a shared recipe repository declared under `sources:`.
type RecipeSource struct {
	Name string
	Git  string
	Ref  string
	Path string
	Pos  diag.Pos
}

// Host is a Proxmox node the stack deploys to.
type Host struct {
	Name     string
	Address  string
	User     string // default root
	Port     int    // default 22
	Identity string
	Local    bool
	Pos      diag.Pos
}

// RefKind says how a recipe reference is resolved.
type RefKind int

const (
	RefBuiltin RefKind = iota // "redis"
	RefPath                   // "./x.yaml", "../x.yaml", "/abs/x.yaml"
	RefSource                 // "community/redis[@1.2.0]"
)

// RecipeRef is the `recipe:` field of a container.
type RecipeRef struct {
	Raw     string
	Kind    RefKind
	Source  string // RefSource
	Name    string // RefBuiltin, RefSource
	Version string // optional @version of RefSource
	Path    string // RefPath, as written
	Pos     diag.Pos
}

// StackContainer is one entry of `containers:` as written.
type StackContainer struct {
	Name   string
	Pos    diag.Pos // position of the container's key
	Recipe RecipeRef
	// Loaded is the recipe the reference resolved to; nil when it could not
	// be loaded (unknown, or a git source not fetched by this command).
	Loaded *Recipe
	// Settings are the container's own fields (everything except recipe,
	// depends_on and params).
	Settings  Settings
	DependsOn []Dependency
	Params    map[string]ParamArg
	ParamsPos diag.Pos
}

// Condition is what a dependency waits for.
type Condition string

const (
	CondStarted Condition = "started"
	CondHealthy Condition = "healthy"
)

// Dependency is one depends_on entry.
type Dependency struct {
	Name      string
	Condition Condition
	Pos       diag.Pos
}

// ParamArg is a parameter value given by the stack: a string, int64, float64
// or bool. Strings may hold ${containers.X...} references, kept verbatim.
type ParamArg struct {
	Value  any
	Pos    diag.Pos // the value
	KeyPos diag.Pos // the param name
}

// Layer is a level of the precedence chain, lowest first.
type Layer int

const (
	LayerBuiltin Layer = iota
	LayerUserDefaults
	LayerRecipe
	LayerStackDefaults
	LayerContainer
	LayerSet
	// LayerDerived marks values computed from others (hostname = container
	// name, the only declared host).
	LayerDerived
)

func (l Layer) String() string {
	switch l {
	case LayerBuiltin:
		return "built-in default"
	case LayerUserDefaults:
		return "user defaults"
	case LayerRecipe:
		return "recipe"
	case LayerStackDefaults:
		return "stack defaults"
	case LayerContainer:
		return "stack container"
	case LayerSet:
		return "--set"
	case LayerDerived:
		return "derived"
	}
	return fmt.Sprintf("layer(%d)", int(l))
}

// Source records where a resolved value came from.
type Source struct {
	Layer Layer
	// Label names the layer instance: "recipe postgresql", "stack defaults",
	// "stack containers.db", "--set db.memory=4096", "built-in default".
	Label string
	Pos   diag.Pos
}

// String renders e.g. "recipe postgresql (recipes/postgresql/recipe.yaml:12)".
func (s Source) String() string {
	if s.Pos.File == "" {
		return s.Label
	}
	p := s.Pos
	p.Col = 0
	return fmt.Sprintf("%s (%s)", s.Label, p.String())
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
