package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/engine/sources"
)

func validateCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check recipes and stacks: schema and semantic checks, every problem at once",
		UsageText: "lxcplan validate FILE...",
		Flags:     []cli.Flag{setFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usagef("validate: missing FILE; usage: lxcplan validate FILE...")
			}
			opts := manifestOptions(c)
			var all diag.Diagnostics
			// Files are checked in parallel; results stay in argument order.
			paths := c.Args().Slice()
			for i, ds := range manifest.ValidateFiles(paths, opts) {
				if !ds.HasErrors() {
					fmt.Fprintf(e.out, "%s: valid\n", paths[i])
				}
				all = append(all, ds...)
			}
			all.Sort()
			if !all.HasErrors() {
				printDiagnostics(e.errOut, all) // warnings only
				return nil
			}
			return all.Err()
		},
	}
}

func setFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "set", Usage: "override a resolved value: CONTAINER.FIELD=VALUE (repeatable)"}
}

// manifestOptions collects the loader options common to every command that reads a stack.
// Git recipe sources are fetched (or read from the cache) and checked against
// lxcplan.lock. Commands that change hosts also ask the remote whether a
// pinned tag moved, so a moved tag stops plan and apply even on a machine
// whose cache already holds the old commit.
func manifestOptions(c *cli.Context) manifest.Options {
	res := sources.NewResolver(manifest.YAMLCodec)
	switch c.Command.Name {
	case "plan", "apply", "update":
		res.CheckRemote = true
	}
	return manifest.Options{Sets: c.StringSlice("set"), Sources: res}
}
