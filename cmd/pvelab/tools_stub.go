//go:build pvelab_nosim

package main

import (
	"context"
	"fmt"
	"io"
)

// runTool stands in while engine/pvesim does not build: `go build -tags
// pvelab_nosim` gives a pvelab that manages the lab but has no PVE tools.
func runTool(_ context.Context, tool string, _ []string, _ io.Reader, _, stderr io.Writer) int {
	fmt.Fprintf(stderr, "%s: this pvelab was built without the simulator (tag pvelab_nosim)\n", tool)
	return 255
}
