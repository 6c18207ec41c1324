// Package exec applies a plan to the hosts: it walks the plan's dependency
// graph with a global and a per-host limit, runs each container's change
// (create, update, migrate, reprovision under a snapshot, replace, destroy),
// journals every mutating step with its undo before it runs, and replays the
// journal in reverse when anything fails (design.md §7, style.md rules 7–9).
//
// Apply takes the stack lock for granted: [RunApply] is the whole sequence
// lock → observe → diff → apply → release that `lxcplan apply` runs, so the
// state a plan is computed from cannot change under it.
package exec

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/journal"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/provision"
	"github.com/lxcplan/lxcplan/engine/secrets"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// Error classes of an apply; branch with errors.Is.
var (
	// ErrFailed: the apply failed and everything it did was rolled back
	// (or kept, with --on-failure keep). Exit code 1.
	ErrFailed = errors.New("apply failed")
	// ErrRollbackIncomplete: the apply failed and the rollback could not
	// undo everything; Result.Left and the journal say what is left. Exit 4.
	ErrRollbackIncomplete = errors.New("rollback incomplete")
	// ErrNeedsConfirmation: the plan destroys or replaces containers and
	// Options.Yes is not set. Nothing ran.
	ErrNeedsConfirmation = errors.New("destructive changes need --yes")
	// ErrUnprotected: a reprovision or upgrade would run on storage without
	// snapshots and Options.AllowUnprotected is not set. Nothing ran.
	ErrUnprotected = errors.New("no snapshot protection")
	// ErrProtected: the plan destroys a container with protection set.
	ErrProtected = errors.New("container is protected")
	// ErrStalePlan: a saved plan no longer matches the hosts.
	ErrStalePlan = errors.New("stale plan")
	// ErrNotApplicable: the plan has errors or unknown containers.
	ErrNotApplicable = errors.New("plan cannot be applied")
)

// FailureMode says what to do with finished work when a run fails.
type FailureMode string

const (
	// Rollback replays the journal in reverse (the default).
	Rollback FailureMode = "rollback"
	// Keep leaves everything as it is, for debugging.
	Keep FailureMode = "keep"
)

// Defaults for Options.
const (
	DefaultParallelism     = 10
	DefaultPerHost         = 4
	DefaultAttempts        = 5
	DefaultBackoff         = time.Second
	DefaultRollbackTimeout = 30 * time.Minute
)

// Options tune Apply. The zero value is usable: defaults apply.
type Options struct {
	// Parallelism caps containers worked on at once (0: DefaultParallelism).
	Parallelism int
	// PerHost caps containers worked on at once per host (0: DefaultPerHost).
	PerHost   int
	OnFailure FailureMode
	// AllowUnprotected lets reprovision and upgrade run without a snapshot
	// on storage that cannot take one.
	AllowUnprotected bool
	// Yes allows destroys and replaces.
	Yes bool
	// DryRun: the runners record instead of running (transport.DryRun).
	// The executor then skips the waits that need a real container
	// (address, health) and writes no journal.
	DryRun bool
	// Observer sees every event; it must not block for long.
	Observer func(Event)
	// JournalDir is where the run's journal goes (default journal.DefaultDir).
	JournalDir string
	// RunID names the run (journal file, snapshot names); empty: a new one.
	RunID string
	// Secrets is the run's registry of secret values: every value read or
	// generated is added before it is used, so runners built with its
	// Middleware mask it. Nil makes a new one.
	Secrets *secrets.Registry
	// SecretsDir overrides secrets.DefaultDir (tests, lab).
	SecretsDir string
	// SecretKey is the stack's fingerprint key (plan.Options.SecretKey).
	// RunApply reads it from the cluster when it is nil, and Apply creates
	// it (journaled) when none is stored yet.
	SecretKey []byte
	// NoStackKey: never create the fingerprint key (tests that compare
	// command logs exactly).
	NoStackKey bool
	// Attempts and Backoff bound retries of transient PVE errors.
	Attempts int
	Backoff  time.Duration
	// AddressTimeout bounds the network wait (0: provision default).
	AddressTimeout time.Duration
	// RollbackTimeout bounds the whole rollback.
	RollbackTimeout time.Duration
	// Provisioner builds the step runner for a host; nil uses
	// provision.Provisioner with the runner.
	Provisioner func(host string, r transport.Runner) *provision.Provisioner
	// Sleep and Now replace the clock in tests.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
}

func (o *Options) defaults() {
	if o.Parallelism <= 0 {
		o.Parallelism = DefaultParallelism
	}
	if o.PerHost <= 0 {
		o.PerHost = DefaultPerHost
	}
	if o.OnFailure == "" {
		o.OnFailure = Rollback
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.RollbackTimeout <= 0 {
		o.RollbackTimeout = DefaultRollbackTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	if o.Secrets == nil {
		o.Secrets = secrets.NewRegistry()
	}
	if o.RunID == "" {
		o.RunID = journal.NewRunID(o.Now())
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Inputs are what Apply executes: the plan, and the desired and observed
// state it was computed from (the plan document has no recipe steps).
type Inputs struct {
	Plan    *plan.Plan
	Desired *model.Desired
	State   *inventory.State
}

// Phases of a container, as events report them.
const (
	PhaseQueued      = "queued"
	PhaseWaiting     = "waiting"
	PhaseAllocating  = "allocating"
	PhaseTemplate    = "template"
	PhaseCreating    = "creating"
	PhaseStarting    = "starting"
	PhaseNetwork     = "network"
	PhaseConfiguring = "configuring"
	PhaseMigrating   = "migrating"
	PhaseSnapshot    = "snapshot"
	PhaseInstalling  = "installing"
	PhaseHealth      = "health"
	PhaseReady       = "ready"
	PhaseUnchanged   = "unchanged"
	PhaseDestroying  = "destroying"
	PhaseDestroyed   = "destroyed"
	PhaseRetry       = "retry"
	PhaseFailed      = "failed"
	PhaseSkipped     = "skipped"
	PhaseRollingBack = "rolling back"
	PhaseRolledBack  = "rolled back"
	PhaseUndoFailed  = "undo failed"
)

// Event is one step of progress. Message and Err never hold a secret.
type Event struct {
	Time      time.Time
	Container string
	Host      string
	VMID      int
	// Phase is one of the Phase* constants; installing steps read
	// "installing step 3/7".
	Phase   string
	Message string
	Err     error
}

// Status of one container at the end of a run.
const (
	StatusOK         = "ok"
	StatusUnchanged  = "unchanged"
	StatusFailed     = "failed"
	StatusSkipped    = "skipped"
	StatusDestroyed  = "destroyed"
	StatusRolledBack = "rolled back"
	// StatusInterrupted: the container was being worked on when another
	// failed (or Ctrl-C) and was cancelled; its failure is a consequence.
	StatusInterrupted = "interrupted"
)

// ContainerResult is one row of the summary table.
type ContainerResult struct {
	Name   string
	Host   string
	VMID   int
	Action plan.Action
	Status string
	IP     string
	// Outputs are the recipe outputs; Secret ones must be shown redacted.
	Outputs  map[string]provision.Output
	Duration time.Duration
	Err      error
}

// Result is the outcome of Apply.
type Result struct {
	RunID       string
	JournalPath string
	Containers  []*ContainerResult
	// Left is exactly what the rollback could not undo (exit 4).
	Left []journal.Left
	// RolledBack reports that a rollback ran and completed.
	RolledBack bool
	// Mutations counts the mutating steps run.
	Mutations int
}

// Container returns the row of name, or nil.
func (r *Result) Container(name string) *ContainerResult {
	for _, c := range r.Containers {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// emitter delivers events with the run's clock, masking secrets.
type emitter struct {
	obs func(Event)
	now func() time.Time
	reg *secrets.Registry
	mu  sync.Mutex
}

func (e *emitter) emit(ev Event) {
	if e.obs == nil {
		return
	}
	ev.Time = e.now()
	ev.Message = e.reg.String(ev.Message)
	if ev.Err != nil {
		ev.Err = e.reg.Error(ev.Err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.obs(ev)
}

// sortResults orders the summary rows by name.
func sortResults(rs []*ContainerResult) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Name < rs[j].Name })
}

// check refuses a plan apply must not run, before anything happens.
func check(in Inputs, opts Options) error {
	p := in.Plan
	if p == nil || in.Desired == nil || in.State == nil {
		return fmt.Errorf("%w: plan, desired and observed state are required", ErrNotApplicable)
	}
	if p.Diags().HasErrors() {
		return fmt.Errorf("%w: %w", ErrNotApplicable, p.Diags().Err())
	}
	for _, ch := range p.Changes {
		if ch.Unknown {
			return fmt.Errorf("%w: container %s: %s", ErrNotApplicable, ch.Container, ch.Reason)
		}
		if ch.Action.Destructive() && !opts.Yes {
			return fmt.Errorf("%w: %s %s", ErrNeedsConfirmation, ch.Action, ch.Container)
		}
		if ch.Action != plan.ActionDestroy && ch.Action != plan.ActionNoOp && in.Desired.Container(ch.Container) == nil {
			return fmt.Errorf("%w: container %s is not in the stack", ErrStalePlan, ch.Container)
		}
	}
	return nil
}
