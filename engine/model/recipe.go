// Package model holds the pure value types of lxcplan's desired state: recipes,
// stacks as written, and the resolved containers a plan is computed from.
//
// Nothing here does I/O; engine/manifest fills these values from files and
// keeps the file positions (diag.Pos) that diagnostics point at.
package model

import (
	"time"

	"github.com/lxcplan/lxcplan/engine/diag"
)

// Recipe is one app in one container, as loaded from a recipe.yaml.
type Recipe struct {
	// File is the path shown in diagnostics (e.g. "recipes/redis/recipe.yaml").
	File string
	// Builtin is true for recipes from the built-in library.
	Builtin bool
	Pos     diag.Pos

	APIVersion  string
	Name        string
	Version     string
	Description string
	Category    string
	Website     string

	// Container holds the recipe's container defaults, keyed by canonical
	// setting path (see Settings); sizes live under "resources.".
	Container Settings
	Params    map[string]*Param
	Install   []Step
	Health    *Health
	Update    []Step
	// Outputs are templates (may hold ${container.ip}, ${params.x}...).
	Outputs map[string]Output
}

// ParamNames returns the parameter names in sorted order.
func (r *Recipe) ParamNames() []string { return sortedKeys(r.Params) }

// OutputNames returns the output names in sorted order.
func (r *Recipe) OutputNames() []string { return sortedKeys(r.Outputs) }

// Output is one output template of a recipe.
type Output struct {
	Template string
	Pos      diag.Pos
}

// ParamType is the declared type of a recipe parameter.
type ParamType string

const (
	ParamString ParamType = "string"
	ParamInt    ParamType = "int"
	ParamBool   ParamType = "bool"
	ParamEnum   ParamType = "enum"
	ParamSecret ParamType = "secret"
)

// Param is a typed recipe input.
type Param struct {
	Name        string
	Type        ParamType
	Description string
	// Default is nil when the param has no default; otherwise a string, int64 or bool.
	Default  any
	Required bool
	Values   []string // enum only
	Generate *Generate
	Min, Max *int64 // int only
	Pattern  string // string only
	Pos      diag.Pos
}

// Generate says how to generate a secret when none is given.
type Generate struct {
	Length  int
	Charset string // alnum | hex | alpha | ascii
}

// StepKind names the kind of an install or update step.
type StepKind string

const (
	StepApt        StepKind = "apt"
	StepAptRepo    StepKind = "apt_repo"
	StepFile       StepKind = "file"
	StepUser       StepKind = "user"
	StepDownload   StepKind = "download"
	StepRun        StepKind = "run"
	StepService    StepKind = "service"
	StepAptUpgrade StepKind = "apt_upgrade"
)

// Step is one install or update step; exactly the field matching Kind is set.
type Step struct {
	Kind StepKind
	Pos  diag.Pos

	Packages []string // apt, apt_upgrade (empty apt_upgrade = everything)
	AptRepo  *AptRepoStep
	File     *FileStep
	User     *UserStep
	Download *DownloadStep
	Run      *RunStep
	Service  *ServiceStep
}

// AptRepoStep adds an APT repository (a deb822 source with its key).
type AptRepoStep struct {
	Name, URI, Suite string
	Components       []string
	KeyURL, Arch     string
}

// FileStep writes a file inside the container.
type FileStep struct {
	Path string
	// Exactly one of Content and Source is set; HasContent tells an empty
	// content apart from a missing one.
	Content    string
	HasContent bool
	// Source is relative to the recipe folder.
	Source             string
	Mode, Owner, Group string
}

// UserStep creates a user inside the container.
type UserStep struct {
	Name        string
	System      bool
	Home, Shell string
	Groups      []string
}

// DownloadStep fetches a URL, checks its sha256 and optionally extracts it.
type DownloadStep struct {
	URL, SHA256, Dest string
	Extract           bool
	Mode, Owner       string
}

// RunStep runs a shell script inside the container.
type RunStep struct {
	Script  string
	Cwd     string
	Env     map[string]string
	User    string
	Creates string
	Timeout time.Duration
}

// ServiceStep enables, starts or restarts a service (optionally writing its unit).
type ServiceStep struct {
	Name   string
	Enable *bool
	State  string
	// Unit is systemd unit text to write; nil means none.
	Unit *string
}

// Health defines "healthy" for a container.
type Health struct {
	TCP      int
	HTTP     *HTTPCheck
	Cmd      string
	Interval time.Duration
	Timeout  time.Duration
	Pos      diag.Pos
}

// HTTPCheck is a health probe: GET path on port answers status.
type HTTPCheck struct {
	Port   int
	Path   string
	Status int
}
