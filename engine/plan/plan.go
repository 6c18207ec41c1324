// Package plan computes what lxcplan would change: desired state (from the
// stack) against observed state (from the hosts) gives a Plan, a versioned
// document that the renderers print and `apply PLANFILE` executes.
//
// The package is pure: no I/O, no host access. Everything it needs arrives
// as values (model.Desired, inventory.State, Options), so a plan made from
// an exported inventory is the same as the live one.
//
// What apply does with a Change (the document is the contract):
//   - refuse with "stale plan" when Base no longer matches the container
//     (node, vmid, config digest), or when the stack file reloaded gives
//     another Apply.Marker.Spec;
//   - create/replace: pct create with Template.VolID (downloading it first
//     when Status is "download") and every Apply.Set option, marker state
//     creating; then run Steps; then write the marker (state ready);
//   - otherwise: pct migrate to TargetNode, pct set Apply.Set and
//     --delete Apply.Delete, pct resize Apply.Resize, restart when Restart,
//     run install steps from Apply.FromStep or the update Steps, and
//     rewrite the marker from Apply.Marker ([MarkerDoc.Marker],
//     [Marker.Render]) with the user text kept;
//   - fingerprints that depend on values only known during apply (a new
//     dependency's DHCP address) are recomputed with [NewMarkerDoc] and a
//     resolver that knows them, so the next plan is a no-op.
package plan

// Action is the one enum of design.md §7.
type Action string

const (
	ActionCreate        Action = "create"
	ActionUpdate        Action = "update"
	ActionUpdateRestart Action = "update-restart"
	ActionMigrate       Action = "migrate"
	ActionReprovision   Action = "reprovision"
	ActionUpgrade       Action = "upgrade"
	ActionReplace       Action = "replace"
	ActionDestroy       Action = "destroy"
	ActionNoOp          Action = "no-op"
)

// Actions lists every action in summary order.
var Actions = []Action{ActionCreate, ActionUpdate, ActionUpdateRestart, ActionMigrate, ActionReprovision,
	ActionUpgrade, ActionReplace, ActionDestroy, ActionNoOp}

// Destructive reports whether the action loses data (replace, destroy).
func (a Action) Destructive() bool { return a == ActionReplace || a == ActionDestroy }

// Rollback is how apply undoes a change that fails.
type Rollback string

const (
	RollbackDestroyCreated Rollback = "destroy-created"
	RollbackRevertConfig   Rollback = "revert-config"
	RollbackMigrateBack    Rollback = "migrate-back"
	RollbackSnapshot       Rollback = "snapshot"
	RollbackNone           Rollback = "none"
)

// RollbackOf is the design table's rollback method of an action.
func RollbackOf(a Action) Rollback {
	switch a {
	case ActionCreate:
		return RollbackDestroyCreated
	case ActionUpdate, ActionUpdateRestart:
		return RollbackRevertConfig
	case ActionMigrate:
		return RollbackMigrateBack
	case ActionReprovision, ActionUpgrade:
		return RollbackSnapshot
	}
	return RollbackNone
}

// FormatVersion is the plan document version: the major changes when an
// older reader would misread a document.
const FormatVersion = "1.0"

// SecretText replaces every secret value in a plan.
const SecretText = "(secret)"

// Plan is the plan document. Its JSON form (see [Plan.WriteJSON]) is the
// only thing renderers and `apply PLANFILE` read; every field is described
// in schema/plan.schema.json.
type Plan struct {
	FormatVersion string `json:"format_version"`
	Stack         string `json:"stack"`
	// StackFile is the stack file as the user named it (no host details).
	StackFile   string       `json:"stack_file,omitempty"`
	Summary     Summary      `json:"summary"`
	Destructive bool         `json:"destructive"`
	Changes     []*Change    `json:"changes"`
	Diagnostics []Diagnostic `json:"diagnostics"`
}

// Summary counts the changes by action.
type Summary struct {
	Create        int `json:"create"`
	Update        int `json:"update"`
	UpdateRestart int `json:"update_restart"`
	Migrate       int `json:"migrate"`
	Reprovision   int `json:"reprovision"`
	Upgrade       int `json:"upgrade"`
	Replace       int `json:"replace"`
	Destroy       int `json:"destroy"`
	NoOp          int `json:"no_op"`
}

func (s *Summary) add(a Action) {
	switch a {
	case ActionCreate:
		s.Create++
	case ActionUpdate:
		s.Update++
	case ActionUpdateRestart:
		s.UpdateRestart++
	case ActionMigrate:
		s.Migrate++
	case ActionReprovision:
		s.Reprovision++
	case ActionUpgrade:
		s.Upgrade++
	case ActionReplace:
		s.Replace++
	case ActionDestroy:
		s.Destroy++
	case ActionNoOp:
		s.NoOp++
	}
}

// HasChanges reports whether anything but no-op is planned.
func (p *Plan) HasChanges() bool {
	for _, c := range p.Changes {
		if c.Action != ActionNoOp {
			return true
		}
	}
	return false
}

// Change is what happens to one container. A change does everything its
// fields, apply inputs and steps say; Action names the most significant
// part (replace > migrate > upgrade > reprovision > update-restart > update).
type Change struct {
	Container   string   `json:"container"`
	Action      Action   `json:"action"`
	Destructive bool     `json:"destructive"`
	Drift       bool     `json:"drift"`
	Unknown     bool     `json:"unknown"`
	Host        string   `json:"host,omitempty"`
	Node        string   `json:"node,omitempty"`
	TargetNode  string   `json:"target_node,omitempty"`
	VMID        int      `json:"vmid"`
	Reason      string   `json:"reason"`
	Rollback    Rollback `json:"rollback"`
	Restart     bool     `json:"restart"`
	Fields      []Field  `json:"fields"`
	Steps       []Step   `json:"steps"`
	DependsOn   []string `json:"depends_on"`
	// Template is set for create and replace.
	Template *Template `json:"template,omitempty"`
	// Apply holds what apply executes; nil for no-op and unknown.
	Apply *ApplyInputs `json:"apply,omitempty"`
	// Base identifies the observed config the change was planned against;
	// nil for create.
	Base *Base `json:"base,omitempty"`
}

// Field is one setting's before → after. Before or After is nil when the
// setting is absent on that side. Secret values read SecretText.
type Field struct {
	Path   string  `json:"path"`
	Before *string `json:"before"`
	After  *string `json:"after"`
	Secret bool    `json:"secret"`
	Drift  bool    `json:"drift"`
}

// Step is one recipe step that will run, described in words.
type Step struct {
	// Phase is "install" or "update".
	Phase string `json:"phase"`
	// Index is the 0-based position in the recipe's install or update list.
	Index       int    `json:"index"`
	Kind        string `json:"kind"`
	Description string `json:"description"`
}

// Template is the OS template a create or replace uses.
type Template struct {
	// VolID is the resolved volume ID, "" when it cannot be resolved
	// without the catalog.
	VolID   string `json:"volid"`
	Storage string `json:"storage"`
	OS      string `json:"os"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
	// Status: "present" (in pveam list), "download" (in the catalog, not on
	// the storage), "unknown" (no catalog: downloaded if available),
	// "unavailable".
	Status string `json:"status"`
}

// ApplyInputs are the exact inputs apply needs.
type ApplyInputs struct {
	// Set maps pct options to the values passed to pct create / pct set.
	Set map[string]string `json:"set,omitempty"`
	// Delete lists options to remove with pct set --delete.
	Delete []string `json:"delete,omitempty"`
	// Resize maps a disk (rootfs, mpN) to its new size for pct resize.
	Resize map[string]string `json:"resize,omitempty"`
	// Description is the declared user text to keep above the marker; ""
	// keeps the current one.
	Description string `json:"description,omitempty"`
	// HA is the declared HA resource (state, group, max_restart,
	// max_relocate) apply adds or sets with ha-manager; nil leaves HA alone.
	HA map[string]string `json:"ha,omitempty"`
	// FromStep is the first install step to run (-1: none).
	FromStep int `json:"from_step"`
	// Marker is the marker apply writes once the change succeeded.
	Marker MarkerDoc `json:"marker"`
}

// MarkerDoc is the marker's content without learned addresses and state.
type MarkerDoc struct {
	Recipe   string            `json:"recipe"`
	Version  string            `json:"version"`
	Template string            `json:"template"`
	Spec     string            `json:"spec"`
	Config   map[string]string `json:"config"`
	Steps    []string          `json:"steps"`
	Depends  []string          `json:"depends"`
}

// Base is the observed state a change was planned against; apply refuses
// with "stale plan" when the config digest or location differ.
type Base struct {
	Node   string `json:"node"`
	VMID   int    `json:"vmid"`
	Digest string `json:"digest"`
}

// Diagnostic is a diag.Diagnostic in document form.
type Diagnostic struct {
	Severity string `json:"severity"`
	Class    string `json:"class"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Col      int    `json:"col,omitempty"`
	Path     string `json:"path,omitempty"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
	Host     string `json:"host,omitempty"`
}
