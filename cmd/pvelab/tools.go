//go:build !pvelab_nosim

package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
	"github.com/lxcplan/lxcplan/engine/pvesim/lxcrt"
)

// runTool is pvelab invoked as a PVE command inside a lab node's session.
func runTool(ctx context.Context, tool string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	path := os.Getenv(labconf.EnvConfig)
	if path == "" {
		path = labconf.DefaultPath
	}
	l, err := labconf.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", tool, err)
		return 255
	}
	node := os.Getenv(labconf.EnvNode)
	if node == "" && len(l.Nodes) > 0 {
		node = l.Nodes[0].Name
	}
	n, err := pvesim.NewLabNode(l, node, lxcrt.New(l, node))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", tool, err)
		return 255
	}
	// The simulator cannot import lxcrt; pct migrate --restart needs the
	// target node's runtime to start the CT there.
	n.Cluster().RuntimeFor = func(node string) pvesim.Runtime { return lxcrt.New(l, node) }
	return pvesim.RunTool(ctx, n, tool, args, stdin, stdout, stderr)
}
