package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/manifest"
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
			for _, path := range c.Args().Slice() {
				ds := manifest.ValidateFile(path, opts)
				if !ds.HasErrors() {
					fmt.Fprintf(e.out, "%s: valid\n", path)
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
func manifestOptions(c *cli.Context) manifest.Options {
	return manifest.Options{Sets: c.StringSlice("set")}
}
