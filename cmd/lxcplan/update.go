package main

import (
	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/exec"
	"github.com/lxcplan/lxcplan/engine/lock"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/transport"
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
	return runOnStack(c, e, "lxcplan update", func(rs *runSetup, d *model.Desired, hosts map[string]transport.Runner, o exec.RunOptions) error {
		o.AllowUnprotected = c.Bool("allow-unprotected")
		_, res, err := exec.RunUpdate(rs.ctx, d, hosts, o)
		return rs.finish(res, err)
	})
}
