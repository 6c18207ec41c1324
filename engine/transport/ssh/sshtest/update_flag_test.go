package sshtest

import "flag"

// This package has no golden files; it accepts -update anyway so that
// "go test ./... -update" works across the whole module.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files (none in this package)")
	}
}
