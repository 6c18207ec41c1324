package main

import (
	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/exec"
	"github.com/lxcplan/lxcplan/engine/lock"
)

func updateCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "run the recipes' update steps, snapshot-protected and health-checked",
		UsageText: "lxcplan update STACK [--allow-unprotected] [--lock-timeout DURATION] [--target NAME]...",
		Description: `Takes the stack's cluster-wide lock and, container by container in dependency order,
takes a snapshot (pct snapshot VMID lxcplan-update-<run>), runs its recipe's update steps
and waits for its health probe. When all succeeded the snapshots are deleted. On any
failure (or Ctrl-C) every container this run touched is rolled back to its snapshot and
started again, and its health probe must pass: exit 1 then, or 4 when the rollback could
not complete (the journal is named).

--target NAME updates only that container (its dependencies are not updated with it).
Storage that cannot take snapshots is refused unless --allow-unprotected.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "allow-unprotected", Usage: "update containers on storage without snapshots"},
			&cli.DurationFlag{Name: "lock-timeout", Value: lock.DefaultTimeout, Usage: "how long to wait for the stack lock"},
			&cli.StringSliceFlag{Name: "target", Usage: "update only this container (repeatable)"},
			setFlag(),
		},
		Action: func(c *cli.Context) error { return updateAction(c, e) },
	}
}

func updateAction(c *cli.Context, e *env) error {
	stackPath, err := oneArg(c, "STACK")
	if err != nil {
		return err
	}
	d, err := loadDesired(e, stackPath, manifestOptions(c))
	if err != nil {
		return err
	}
	rs := startRun(c, e, d.Stack, "lxcplan update")
	defer rs.close()
	hosts, direct, err := connectAll(rs.ctx, rs.hs, d.Stack, rs.reg, nil)
	if err != nil {
		return err
	}
	o, err := rs.options(c, direct[d.Stack.HostNames()[0]])
	if err != nil {
		return err
	}
	o.AllowUnprotected = c.Bool("allow-unprotected")
	o.Targets = c.StringSlice("target")
	o.StackFile = stackPath
	_, res, err := exec.RunUpdate(rs.ctx, d, hosts, o)
	rs.pr.close()
	if res != nil {
		writeSummary(e, res, rs.reg, false)
	}
	return applyExit(e, err, res)
}
