package inventory

import (
	"slices"
	"testing"

	"github.com/lxcplan/lxcplan/engine/pve"
)

// The dump script, its parser and its producer live in engine/pve (tested
// there, including against a real /bin/sh); inventory only has to send that
// very argv and read it with that very parser.
func TestDumpIsPVEs(t *testing.T) {
	if !slices.Equal(DumpConfigsArgv(), pve.DumpConfigsArgv()) {
		t.Fatalf("inventory sends %q, pve defines %q", DumpConfigsArgv(), pve.DumpConfigsArgv())
	}
	files, warns, err := parseDump(formatDump([]dumpFile{{Node: "pve", Kind: kindLXC, VMID: 100, Data: []byte(sampleConfig)}}))
	if err != nil || len(warns) != 0 || len(files) != 1 || string(files[0].Data) != sampleConfig {
		t.Fatalf("round trip: %v %v %+v", err, warns, files)
	}
}
