package main

import (
	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/render"
)

func graphCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "graph",
		Usage:     "print the container dependency graph, grouped by host",
		UsageText: "lxcplan graph STACK [--format dot|mermaid]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "dot", Usage: "dot or mermaid"},
			setFlag(),
		},
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "STACK")
			if err != nil {
				return err
			}
			format := c.String("format")
			if format != "dot" && format != "mermaid" {
				return usagef("graph: --format %q: want dot or mermaid", format)
			}
			d, err := loadDesired(e, path, manifestOptions(c))
			if err != nil {
				return err
			}
			g := graphOf(d)
			if format == "mermaid" {
				return render.GraphMermaid(e.out, g)
			}
			return render.GraphDOT(e.out, g)
		},
	}
}

// graphOf is the view of a resolved stack that the graph renderers need.
func graphOf(d *model.Desired) render.Graph {
	g := render.Graph{Stack: d.Stack.Name}
	for _, c := range d.Containers {
		g.Nodes = append(g.Nodes, render.GraphNode{Name: c.Name, Host: c.Host, Recipe: c.Recipe.Raw})
		for _, dep := range c.DependsOn {
			g.Edges = append(g.Edges, render.GraphEdge{From: c.Name, To: dep.Name, Condition: string(dep.Condition)})
		}
	}
	return g
}
