package main

import (
	"bytes"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/manifest"
)

func inventoryCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "inventory",
		Usage:     "work with the observed state of a stack's hosts",
		UsageText: "lxcplan inventory export STACK > inventory.json",
		Subcommands: []*cli.Command{{
			Name:  "export",
			Usage: "observe the hosts and print what was seen as JSON, for `plan --inventory` in CI",
			Description: `The file holds container configs as PVE stores them (descriptions included),
storages, templates and bridges: no user, key or secret of any host. It is written even when a host
cannot be observed (that host is recorded as unreachable), and the exit code is then 1.`,
			UsageText: "lxcplan inventory export STACK",
			Flags:     []cli.Flag{setFlag()},
			Action: func(c *cli.Context) error {
				path, err := oneArg(c, "STACK")
				if err != nil {
					return err
				}
				// Only the hosts are needed: a stack whose containers do not
				// resolve can still be observed.
				st, ds := manifest.LoadStackFile(path, manifestOptions(c))
				ds.Sort()
				if ds.HasErrors() {
					return ds.Err()
				}
				printDiagnostics(e.errOut, ds)
				s, ods := observeStack(c.Context, e, st)
				var buf bytes.Buffer
				if err := s.WriteJSON(&buf); err != nil {
					return err
				}
				if _, err := e.out.Write(buf.Bytes()); err != nil {
					return fmt.Errorf("inventory export: write output: %w", err)
				}
				printDiagnostics(e.errOut, ods)
				if ods.HasErrors() {
					return &exitError{code: exitFailed, err: fmt.Errorf("inventory export: some hosts could not be observed")}
				}
				return nil
			},
		}},
	}
}
