package main

import (
	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/render"
)

func configCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "config",
		Usage:     "print the fully resolved desired state of a stack",
		UsageText: "lxcplan config STACK [--explain] [--format yaml|json] [--set CONTAINER.FIELD=VALUE]...",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "explain", Usage: "show every value with the layer (and file:line) it came from"},
			&cli.StringFlag{Name: "format", Value: "yaml", Usage: "yaml or json"},
			setFlag(),
		},
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "STACK")
			if err != nil {
				return err
			}
			format := c.String("format")
			if format != "yaml" && format != "json" {
				return usagef("config: --format %q: want yaml or json", format)
			}
			d, err := loadDesired(e, path, manifestOptions(c))
			if err != nil {
				return err
			}
			switch {
			case c.Bool("explain"):
				return render.ConfigExplain(e.out, d)
			case format == "json":
				return render.ConfigJSON(e.out, d)
			}
			return render.ConfigYAML(e.out, d)
		},
	}
}

// loadDesired loads, checks and resolves a stack; warnings are printed, errors returned.
func loadDesired(e *env, path string, opts manifest.Options) (*model.Desired, error) {
	st, ds := manifest.LoadStackFile(path, opts)
	if ds.HasErrors() {
		ds.Sort()
		return nil, ds.Err()
	}
	d, rds := manifest.Resolve(st, opts)
	ds = append(ds, rds...)
	ds.Sort()
	if ds.HasErrors() {
		return nil, ds.Err()
	}
	printDiagnostics(e.errOut, ds)
	return d, nil
}
