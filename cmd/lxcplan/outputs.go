package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/plan"
)

func outputsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "outputs",
		Usage:     "show the recipe outputs of the stack's containers",
		UsageText: "lxcplan outputs STACK [CONTAINER] [--reveal] [--format text|json]",
		Description: `Computes each container's outputs from its recipe, with the addresses apply learned,
the params, its dependencies' outputs and the stack's secrets read from the cluster. Outputs
that use a secret read (secret) unless --reveal is given. Exit 1 when a host could not be read
or the named container has no outputs to show (it does not exist yet).`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "reveal", Usage: "show secret outputs in clear"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"},
			setFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return usagef("outputs: want STACK [CONTAINER]; usage: %s", c.Command.UsageText)
			}
			path, only := c.Args().Get(0), c.Args().Get(1)
			format := c.String("format")
			if format != "text" && format != "json" {
				return usagef("outputs: --format %q: want text or json", format)
			}
			v, err := openStack(c.Context, e, path, manifestOptions(c))
			if err != nil {
				return err
			}
			defer v.Close()
			if only != "" && v.d.Container(only) == nil {
				return &exitError{code: exitFailed, err: fmt.Errorf("container %s is not in stack %s", only, v.d.Stack.Name)}
			}
			vals := v.values(c.Context)
			doc := map[string]map[string]string{}
			var missing []string
			for _, ct := range v.d.Containers {
				if only != "" && ct.Name != only {
					continue
				}
				cv := vals[ct.Name]
				if cv == nil || cv.err != nil {
					why := "no values"
					if cv != nil {
						why = v.reg.String(cv.err.Error())
					}
					missing = append(missing, ct.Name)
					fmt.Fprintf(e.errOut, "%s: no outputs: %s\n", ct.Name, why)
					continue
				}
				m := map[string]string{}
				for name, o := range cv.outputs {
					val := o.Value
					if o.Secret && !c.Bool("reveal") {
						val = plan.SecretText
					} else if !o.Secret && !c.Bool("reveal") {
						// A value that is not secret by derivation may still
						// hold a registered secret by coincidence.
						val = v.reg.String(val)
					}
					m[name] = val
				}
				doc[ct.Name] = m
			}
			if format == "json" {
				err = writeJSON(e, doc)
			} else {
				err = writeOutputs(e.out, doc)
			}
			if err != nil {
				return fmt.Errorf("outputs: write output: %w", err)
			}
			if perr := v.hostProblems("outputs"); perr != nil {
				return perr
			}
			if only != "" && len(missing) > 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("outputs of %s are not available", only)}
			}
			return nil
		},
	}
}

// writeOutputs prints one block per container: its name, then its outputs
// as aligned "name = value" lines.
func writeOutputs(w io.Writer, doc map[string]map[string]string) error {
	var b strings.Builder
	for i, ct := range slices.Sorted(maps.Keys(doc)) {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(ct + "\n")
		outs := doc[ct]
		names := slices.Sorted(maps.Keys(outs))
		if len(names) == 0 {
			b.WriteString("  (no outputs)\n")
		}
		wn := 0
		for _, n := range names {
			wn = max(wn, len(n))
		}
		for _, n := range names {
			fmt.Fprintf(&b, "  %-*s = %s\n", wn, n, outs[n])
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
