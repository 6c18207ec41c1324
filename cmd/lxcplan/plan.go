package main

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/exec"
	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/render"
	"github.com/lxcplan/lxcplan/engine/secrets"
	"github.com/lxcplan/lxcplan/engine/transport"
)

func planCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "show what apply would change: the stack against the hosts (or an exported inventory)",
		UsageText: "lxcplan plan STACK [--format text|json|markdown] [--out FILE] [--detailed-exitcode]\n" +
			"                   [--inventory FILE] [--target NAME]...",
		Description: `Exit codes: 0 success (with --detailed-exitcode: no changes); 2 changes and 3 destructive
changes (replace, destroy), only with --detailed-exitcode; 1 problems on the hosts (unreachable host,
vmid or address held by a guest this stack does not manage, ...); 65 invalid stack; 64 usage error.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text, json or markdown"},
			&cli.StringFlag{Name: "out", Usage: "save the plan document (JSON) to FILE, for `lxcplan apply FILE`"},
			&cli.BoolFlag{Name: "detailed-exitcode", Usage: "exit 2 when there are changes, 3 when some are destructive"},
			&cli.StringFlag{Name: "inventory", Usage: "plan offline from an `lxcplan inventory export` file; no host is contacted"},
			&cli.StringSliceFlag{Name: "target", Usage: "plan only this container and what it depends on (repeatable)"},
			setFlag(),
		},
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "STACK")
			if err != nil {
				return err
			}
			format := c.String("format")
			if !validPlanFormat(format) {
				return usagef("plan: --format %q: want text, json or markdown", format)
			}
			d, err := loadDesired(e, path, manifestOptions(c))
			if err != nil {
				return err
			}
			var obs *inventory.State
			var key []byte
			if f := c.String("inventory"); f != "" {
				if obs, err = readInventory(f); err != nil {
					return err
				}
			} else {
				// The observation's diagnostics are part of the plan's
				// (plan.Diff includes them), so they are not printed here.
				obs, key = observeWithKey(c.Context, e, d.Stack)
			}
			p, ds := plan.Diff(d, obs, plan.Options{Targets: c.StringSlice("target"), StackFile: path, SecretKey: key})
			return finishPlan(e, p, ds, planOutput{
				format: format, out: c.String("out"), detailed: c.Bool("detailed-exitcode"), what: "plan",
			})
		},
	}
}

func validPlanFormat(f string) bool { return f == "text" || f == "json" || f == "markdown" }

// planOutput says how a computed plan is shown and how it ends.
type planOutput struct {
	format   string
	out      string // plan file to write, "" for none
	detailed bool   // --detailed-exitcode
	what     string // the verb, for messages
}

// finishPlan renders the plan document, saves it, and maps it to the exit
// code: errors first (1 on the hosts, 65 in the input, 64 usage), then,
// with --detailed-exitcode, 3 for destructive changes and 2 for changes.
//
// The text view includes the diagnostics (it is the whole document for a
// person); the JSON and Markdown views carry them in their own form, so
// they are also printed to stderr for the person watching the run.
func finishPlan(e *env, p *plan.Plan, ds diag.Diagnostics, o planOutput) error {
	var buf bytes.Buffer
	var err error
	switch o.format {
	case "json":
		err = render.PlanJSON(&buf, p)
	case "markdown":
		err = render.PlanMarkdown(&buf, p)
	default:
		err = render.PlanText(&buf, p, render.PlanTextOptions{Color: e.color})
	}
	if err != nil {
		return err
	}
	if _, err := e.out.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("%s: write output: %w", o.what, err)
	}
	if o.format != "text" {
		printDiagnostics(e.errOut, p.Diags())
	}
	if ds.HasErrors() {
		n := 0
		for _, d := range ds {
			if d.Severity == diag.SevError {
				n++
			}
		}
		msg := fmt.Errorf("%s: %d %s found: this plan cannot be applied", o.what, n, map[bool]string{true: "problem", false: "problems"}[n == 1])
		if o.out != "" {
			msg = fmt.Errorf("%w; %s was not written", msg, o.out)
		}
		return &exitError{code: errorCode(ds), err: msg}
	}
	if o.out != "" {
		var f bytes.Buffer
		if err := p.WriteJSON(&f); err != nil {
			return err
		}
		if err := os.WriteFile(o.out, f.Bytes(), 0o644); err != nil {
			return fmt.Errorf("%s: save plan: %w", o.what, err)
		}
		e.log.Info().Str("file", o.out).Msg("plan saved")
	}
	if o.detailed {
		switch {
		case p.Destructive:
			return &exitError{code: exitDestructive}
		case p.HasChanges():
			return &exitError{code: exitChanges}
		}
	}
	return nil
}

// errorCode is the exit code of a plan with errors: a usage mistake (an
// unknown --target) before an invalid stack (65, found without any host),
// before problems on the hosts (1).
func errorCode(ds diag.Diagnostics) int {
	code := exitFailed
	for _, d := range ds {
		if d.Severity != diag.SevError {
			continue
		}
		switch d.Class {
		case diag.ClassUsage:
			return exitUsage
		case diag.ClassInput:
			code = exitInvalidInput
		}
	}
	return code
}

// readInventory reads an exported inventory; a bad file is invalid input.
func readInventory(path string) (*inventory.State, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &exitError{code: exitInvalidInput, err: fmt.Errorf("read inventory: %w", err)}
	}
	defer f.Close()
	s, err := inventory.ReadJSON(f)
	if err != nil {
		return nil, &exitError{code: exitInvalidInput, err: fmt.Errorf("%s: %w", path, err)}
	}
	return s, nil
}

// observeWithKey is observeStack plus the stack's fingerprint key, read
// (never created: plan changes nothing) from the first host's cluster, so
// secret values given in the stack are compared. Without a readable key the
// plan warns that secrets are not compared, as it does offline.
func observeWithKey(ctx context.Context, e *env, st *model.Stack) (*inventory.State, []byte) {
	hs := newHostSet(e, st)
	defer hs.Close()
	var targets []inventory.HostTarget
	for _, name := range st.HostNames() {
		targets = append(targets, inventory.HostTarget{Key: name, Dial: hs.dialer(name)})
	}
	obs, _ := inventory.Observe(ctx, targets, inventory.Options{})
	names := st.HostNames()
	if len(names) == 0 {
		return obs, nil
	}
	r, err := hs.dialer(names[0])(ctx)
	if err != nil {
		return obs, nil
	}
	reg := secrets.NewRegistry() // masks the key in a -x trace
	key, err := exec.ReadStackKey(ctx, transport.Chain(r, reg.Middleware()), st.Name, reg, "")
	if err != nil {
		e.log.Warn().Err(err).Msg("read the stack's fingerprint key")
		return obs, nil
	}
	return obs, key
}

// observeStack reads every host of the stack, one connection per host.
func observeStack(ctx context.Context, e *env, st *model.Stack) (*inventory.State, diag.Diagnostics) {
	hs := newHostSet(e, st)
	defer hs.Close()
	var targets []inventory.HostTarget
	for _, name := range st.HostNames() {
		targets = append(targets, inventory.HostTarget{Key: name, Dial: hs.dialer(name)})
	}
	return inventory.Observe(ctx, targets, inventory.Options{})
}
