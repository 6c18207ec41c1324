// Package provision runs a recipe's steps inside a container that exists and
// runs: it translates each install or update step into `pct exec` commands
// (and file writes) for the container's host, runs them in order through a
// [transport.Runner], and reports one event per step. It also waits for a
// container's address ([WaitForAddress]), probes its health ([Probe],
// [WaitHealthy]) and computes its outputs ([Outputs]).
//
// References in recipe strings (${params.x}, ${container.ip},
// ${containers.db.outputs.password}) are resolved by [Values] before
// anything is sent. Recipe scripts and file contents travel on the
// command's standard input, never in argv, so secret values in them do not
// show up in the host's process list; every command also lists the known
// secrets in Command.Redact, so traces, dry-run records and errors mask
// them. Run scripts additionally see every param as LXCPLAN_PARAM_<NAME>
// (upper-cased), and the container's address, hostname and vmid as
// LXCPLAN_CONTAINER_IP, _HOSTNAME and _VMID.
//
// Files shipped with a recipe (file: {source}) are copied byte for byte;
// only `content`, scripts, env values, unit text, paths, names and health
// commands are templates, and in all of them `$$` stands for `$` (also in
// systemd unit text, where systemd's own `$$` must be written `$$$$`).
//
// Every command is built as argv with engine/pve's builders; values are
// passed as separate words (or on stdin) to a small set of constant
// scripts run as `pct exec VMID -- sh -c SCRIPT NAME ARG...`, where NAME is
// lxcplan-run, lxcplan-write, lxcplan-user, lxcplan-group, lxcplan-download or
// lxcplan-apt-repo — a stable shape simulators can match.
package provision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/transport"
	"github.com/lxcplan/lxcplan/recipes"
)

// Phase is where a step is in its life.
type Phase string

const (
	PhaseStart  Phase = "start"
	PhaseRetry  Phase = "retry" // a transient failure; the command runs again
	PhaseDone   Phase = "done"
	PhaseFailed Phase = "failed"
)

// StepEvent reports progress of one step. Description and Err never hold a
// secret value.
type StepEvent struct {
	Container string
	// Update is true for update steps (RunUpdate), false for install steps.
	Update      bool
	Index       int
	Kind        model.StepKind
	Description string
	Phase       Phase
	// Attempt counts tries of the current command (PhaseRetry: the one
	// that failed).
	Attempt int
	// Duration is the step's run time so far (PhaseDone, PhaseFailed).
	Duration time.Duration
	// Err is set for PhaseRetry and PhaseFailed.
	Err error
}

// StepError is a step that failed. Its message names the container, the
// step's index and kind, the command (redacted) and its stderr (redacted).
type StepError struct {
	Container string
	Update    bool
	Index     int
	Kind      model.StepKind
	// Command is the failing command as displayed (redacted); empty when
	// the step failed before a command ran (an unknown reference, say).
	Command string
	// Stderr is the failing command's standard error, redacted.
	Stderr string
	// Stdout is the end of its standard output, redacted; the message shows
	// it when stderr is empty (scripts that report on stdout).
	Stdout string
	Err    error
}

func (e *StepError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "container %s: %s step %d (%s): ", e.Container, stepSet(e.Update), e.Index, e.Kind)
	var ee *transport.ExitError
	if errors.As(e.Err, &ee) {
		cmd := e.Command
		if cmd == "" {
			cmd = transport.Quote(ee.Argv)
		}
		fmt.Fprintf(&b, "%s: exit status %d", cmd, ee.Code)
		s := strings.TrimSpace(e.Stderr)
		if s == "" {
			s = strings.TrimSpace(e.Stdout)
		}
		if s != "" {
			if len(s) > maxStderr {
				s = "…" + s[len(s)-maxStderr:]
			}
			b.WriteString(": ")
			b.WriteString(s)
		}
		return b.String()
	}
	if e.Command != "" {
		fmt.Fprintf(&b, "%s: ", e.Command)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// maxStderr bounds the stderr shown in a StepError's message; the end is
// kept, where apt and shells put the reason.
const maxStderr = 1024

func (e *StepError) Unwrap() error { return e.Err }

func stepSet(update bool) string {
	if update {
		return "update"
	}
	return "install"
}

// Provisioner runs recipe steps on one container's host.
type Provisioner struct {
	// Runner runs commands on the host the container lives on.
	Runner transport.Runner
	// Pusher writes files into containers. Nil uses [ExecPusher] over Runner.
	Pusher Pusher
	// Files returns the folder a recipe's shipped files are read from
	// (file: {source}). Nil uses [RecipeFiles].
	Files func(r *model.Recipe) (fs.FS, error)
	// Attempts bounds tries of a package-manager or download command that
	// failed in a transient way (dpkg lock, mirror, DNS); 0 means 4.
	Attempts int
	// Backoff is the first delay between tries, doubled each time; 0 means 2s.
	Backoff time.Duration
	// Sleep waits between tries; nil waits on a timer (tests replace it).
	Sleep func(ctx context.Context, d time.Duration) error
}

// RecipeFiles returns the folder of r: the recipe's directory in the
// built-in library, or the folder its file is in.
func RecipeFiles(r *model.Recipe) (fs.FS, error) {
	if r == nil {
		return nil, errors.New("recipe not loaded")
	}
	if r.Builtin {
		sub, err := fs.Sub(recipes.FS, r.Name)
		if err != nil {
			return nil, fmt.Errorf("built-in recipe %s: %w", r.Name, err)
		}
		return sub, nil
	}
	if r.File == "" {
		return nil, fmt.Errorf("recipe %s: no folder known for its files", r.Name)
	}
	return os.DirFS(filepath.Dir(r.File)), nil
}

// Run runs c's install steps from index from (0 for a new container; the
// first changed step for a reprovision) inside container vmid, in order,
// stopping at the first failure, which it returns as a *StepError.
// observe, if not nil, receives one event per step phase.
func (p *Provisioner) Run(ctx context.Context, c *model.Container, vmid int, vals *Values, from int, observe func(StepEvent)) error {
	if c == nil || c.Loaded == nil {
		return errors.New("provision: container has no loaded recipe")
	}
	return p.run(ctx, c, vmid, vals, c.Loaded.Install, from, false, observe)
}

// RunUpdate runs c's update steps (lxcplan update, or an upgrade to a new
// recipe version) inside container vmid.
func (p *Provisioner) RunUpdate(ctx context.Context, c *model.Container, vmid int, vals *Values, observe func(StepEvent)) error {
	if c == nil || c.Loaded == nil {
		return errors.New("provision: container has no loaded recipe")
	}
	return p.run(ctx, c, vmid, vals, c.Loaded.Update, 0, true, observe)
}

func (p *Provisioner) run(ctx context.Context, c *model.Container, vmid int, vals *Values, steps []model.Step, from int, update bool, observe func(StepEvent)) error {
	if from < 0 || from > len(steps) {
		return fmt.Errorf("container %s: %s step %d out of range (recipe has %d)", c.Name, stepSet(update), from, len(steps))
	}
	if vals == nil {
		return fmt.Errorf("container %s: no values to resolve references with", c.Name)
	}
	if observe == nil {
		observe = func(StepEvent) {}
	}
	fam, err := osFamily(c.OS)
	if err != nil {
		return fmt.Errorf("container %s: %w", c.Name, err)
	}
	env := &stepEnv{vmid: vmid, fam: fam, vals: vals, st: &state{}}
	for i := from; i < len(steps); i++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("container %s: stopped before %s step %d: %w", c.Name, stepSet(update), i, err)
		}
		s := steps[i]
		red := vals.Redactor()
		ev := StepEvent{Container: c.Name, Update: update, Index: i, Kind: s.Kind, Description: describeWith(s, vals, red)}
		start := time.Now()
		ev.Phase = PhaseStart
		observe(ev)
		fail := func(cmd string, err error) error {
			red := vals.Redactor()
			err = red.Error(err)
			se := &StepError{Container: c.Name, Update: update, Index: i, Kind: s.Kind, Command: red.String(cmd), Err: err}
			var ee *transport.ExitError
			if errors.As(err, &ee) {
				se.Stderr = red.String(string(ee.Stderr))
			}
			var wo *withStdout
			if errors.As(err, &wo) {
				out := red.String(string(wo.stdout))
				if len(out) > maxStderr {
					out = "…" + out[len(out)-maxStderr:]
				}
				se.Stdout = out
			}
			ev.Phase, ev.Duration, ev.Err = PhaseFailed, time.Since(start), se
			observe(ev)
			return se
		}
		if s.Kind == model.StepFile && s.File != nil && s.File.Source != "" && env.files == nil {
			files := p.Files
			if files == nil {
				files = RecipeFiles
			}
			if env.files, err = files(c.Loaded); err != nil {
				return fail("", err)
			}
		}
		ops, err := env.ops(s)
		if err != nil {
			return fail("", err)
		}
		for _, op := range ops {
			if cmd, err := p.do(ctx, op, vals, func(attempt int, err error) {
				r := ev
				r.Phase, r.Attempt, r.Duration, r.Err = PhaseRetry, attempt, time.Since(start), vals.Redactor().Error(err)
				observe(r)
			}); err != nil {
				return fail(cmd, err)
			}
		}
		ev.Phase, ev.Duration = PhaseDone, time.Since(start)
		observe(ev)
	}
	return nil
}

// do runs one op and returns, on failure, the displayed command with the error.
func (p *Provisioner) do(ctx context.Context, op Op, vals *Values, retried func(int, error)) (string, error) {
	if ps := op.Push; ps != nil {
		return p.push(ctx, ps, vals)
	}
	cmd := transport.Command{Argv: op.Argv, Redact: vals.Redact()}
	attempts := p.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	if !op.Retry {
		attempts = 1
	}
	delay := p.Backoff
	if delay <= 0 {
		delay = 2 * time.Second
	}
	for attempt := 1; ; attempt++ {
		if op.Stdin != nil {
			cmd.Stdin = bytes.NewReader(op.Stdin)
		}
		cctx, cancel := ctx, context.CancelFunc(func() {})
		if op.Timeout > 0 {
			cctx, cancel = context.WithTimeout(ctx, op.Timeout)
		}
		res, err := p.Runner.Run(cctx, cmd)
		timedOut := op.Timeout > 0 && cctx.Err() != nil && ctx.Err() == nil
		cancel()
		if err == nil {
			return "", nil
		}
		if timedOut {
			err = fmt.Errorf("no answer within the step's timeout (%s): %w", op.Timeout-runGrace, err)
		}
		if len(res.Stdout) > 0 {
			err = &withStdout{err: err, stdout: res.Stdout}
		}
		if attempt >= attempts || !transientPackageError(err) || ctx.Err() != nil {
			return display(cmd), err
		}
		retried(attempt, err)
		if serr := p.sleep(ctx, delay); serr != nil {
			return display(cmd), err
		}
		delay *= 2
	}
}

// withStdout carries a failed command's stdout to the StepError.
type withStdout struct {
	err    error
	stdout []byte
}

func (w *withStdout) Error() string { return w.err.Error() }
func (w *withStdout) Unwrap() error { return w.err }

func (p *Provisioner) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	return sleepCtx(ctx, d)
}

func (p *Provisioner) push(ctx context.Context, ps *PushSpec, vals *Values) (string, error) {
	if p.Pusher == nil {
		op := pushOp(ps)
		cmd := transport.Command{Argv: op.Argv, Redact: vals.Redact()}
		err := ExecPusher{Runner: p.Runner, Redact: cmd.Redact}.Push(ctx, ps.VMID, contentReader(ps), int64(len(ps.Content)), ps.Dest, ps.Mode, ps.User, ps.Group)
		if err != nil {
			return display(cmd), err
		}
		return "", nil
	}
	// pct push needs the parent directory to exist (pve-reference §2.6).
	mk := transport.Command{Argv: (&stepEnv{vmid: ps.VMID}).exec("mkdir", "-p", "--", path.Dir(ps.Dest)), Redact: vals.Redact()}
	if _, err := p.Runner.Run(ctx, mk); err != nil {
		return display(mk), err
	}
	if err := p.Pusher.Push(ctx, ps.VMID, contentReader(ps), int64(len(ps.Content)), ps.Dest, ps.Mode, ps.User, ps.Group); err != nil {
		return "push " + ps.Dest, fmt.Errorf("write %s in container %d: %w", ps.Dest, ps.VMID, err)
	}
	return "", nil
}

// transientMarkers are stderr texts of package-manager and download
// failures that a later try may not hit: a dpkg lock held by
// unattended-upgrades, a mirror or DNS hiccup, a connection reset.
var transientMarkers = []string{
	"Could not get lock",
	"Unable to acquire the dpkg frontend lock",
	"Unable to lock directory",
	"is another process using it?",
	"Temporary failure resolving",
	"Could not resolve",
	"Failed to fetch",
	"Hash Sum mismatch",
	"Connection timed out",
	"Connection failed",
	"Could not connect to",
	"Unable to connect to",
	"Some index files failed to download",
	"temporary error (try again later)",
	"network error",
	"curl: (6)", "curl: (7)", "curl: (28)", "curl: (35)", "curl: (52)", "curl: (56)",
}

// transientPackageError classifies a failed command by its stderr.
func transientPackageError(err error) bool {
	var ee *transport.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	s := string(ee.Stderr)
	for _, m := range transientMarkers {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// scriptNames maps lxcplan's constant scripts to short stand-ins, so error
// messages show `sh -c <run script> lxcplan-run ...` instead of the whole
// wrapper text. Traces and dry-run records still show every word.
var scriptNames = map[string]string{
	runWrapper:        "<run script>",
	pushScript:        "<write script>",
	repoScript:        "<apt-repo script>",
	userScript:        "<user script>",
	alpineUserScript:  "<alpine user script>",
	alpineGroupScript: "<alpine group script>",
	downloadScript:    "<download script>",
}

// display is a command's redacted display form with the constant scripts
// shortened.
func display(c transport.Command) string {
	argv := transport.NewRedactor(c.Redact...).Argv(c.Argv)
	for i, w := range argv {
		if short, ok := scriptNames[w]; ok {
			argv[i] = short
		}
	}
	return transport.Quote(argv)
}

// describeWith is describe(s) with references resolved where they resolve,
// then masked.
func describeWith(s model.Step, vals *Values, red *transport.Redactor) string {
	d := describe(s)
	if x, _, err := vals.Expand(d); err == nil {
		d = x
	}
	return red.String(d)
}
