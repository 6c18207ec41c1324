package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/schema"
)

func schemaCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "schema",
		Usage:     "print a JSON Schema (self-contained, for editors and CI)",
		UsageText: "lxcplan schema recipe|stack|plan",
		Action: func(c *cli.Context) error {
			kinds := schema.Kinds()
			names := make([]string, len(kinds))
			for i, k := range kinds {
				names[i] = string(k)
			}
			if c.NArg() != 1 {
				return usagef("schema: want one of %s", strings.Join(names, ", "))
			}
			for _, k := range kinds {
				if string(k) == c.Args().First() {
					text, err := schema.Text(k)
					if err != nil {
						return err
					}
					_, err = e.out.Write(text)
					return err
				}
			}
			return usagef("schema: unknown kind %q; want one of %s", c.Args().First(), strings.Join(names, ", "))
		},
	}
}
