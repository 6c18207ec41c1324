package inventory

import "github.com/lxcplan/lxcplan/engine/pve"

// The config dump (one command reading every guest config of a cluster)
// lives in engine/pve, shared with the simulator that answers it; these
// names keep the rest of the package unchanged.

// DumpConfigsArgv is [pve.DumpConfigsArgv].
func DumpConfigsArgv() []string { return pve.DumpConfigsArgv() }

type (
	guestKind = pve.GuestKind
	dumpFile  = pve.DumpedFile
)

const (
	kindLXC  = pve.GuestLXC
	kindQemu = pve.GuestQemu
)

// parseDump is [pve.ParseConfigDump].
func parseDump(out []byte) ([]dumpFile, []string, error) { return pve.ParseConfigDump(out) }
