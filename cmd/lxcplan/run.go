package main

import (
	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/exec"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// runOnStack is the wiring destroy and update share around the executor:
// load STACK, start the run (secrets, progress, Ctrl-C), connect to every
// host and build the run options with --target and the stack file set.
// run then adds its own options and calls the executor; the run is closed
// when run returns.
func runOnStack(c *cli.Context, e *env, command string, run func(rs *runSetup, d *model.Desired, hosts map[string]transport.Runner, o exec.RunOptions) error) error {
	stackPath, err := oneArg(c, "STACK")
	if err != nil {
		return err
	}
	d, err := loadDesired(e, stackPath, manifestOptions(c))
	if err != nil {
		return err
	}
	rs := startRun(c, e, d.Stack, command)
	defer rs.close()
	hosts, direct, err := connectAll(rs.ctx, rs.hs, d.Stack, rs.reg, nil)
	if err != nil {
		return err
	}
	// The stack lock lives on the first host of the stack.
	o, err := rs.options(c, direct[d.Stack.HostNames()[0]])
	if err != nil {
		return err
	}
	o.Targets = c.StringSlice("target")
	o.StackFile = stackPath
	return run(rs, d, hosts, o)
}

// finish ends the progress output, prints the summary of res when there is
// one and turns the executor's outcome into the exit status.
func (rs *runSetup) finish(res *exec.Result, err error) error {
	rs.pr.close()
	if res != nil {
		writeSummary(rs.e, res, rs.reg, false)
	}
	return applyExit(rs.e, err, res)
}
