package journal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lxcplan/lxcplan/engine/journal"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// The executor journals each mutating step before running it, and rolls
// back from the journal when the run fails.
func Example() {
	dir, _ := os.MkdirTemp("", "journal-example")
	defer os.RemoveAll(dir)
	j, _ := journal.Open(journal.PathFor(dir, "media", "20261126T120000Z-1a2b"))
	defer j.Close()
	_ = j.Start(journal.Meta{Stack: "media", RunID: "20261126T120000Z-1a2b"})

	host := transport.RunFunc(func(ctx context.Context, c transport.Command) (transport.Result, error) {
		fmt.Println("run:", transport.Quote(c.Argv))
		return transport.Result{}, nil
	})
	step := journal.Step{Host: "pve1", Container: "db", ID: "create",
		Do:   []string{"pct", "create", "101", "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"},
		Undo: [][]string{{"pct", "stop", "101"}, {"pct", "destroy", "101", "--purge"}}}
	id, err := j.Begin(step) // before the step runs: if this fails, do not run it
	if err != nil {
		return
	}
	if _, err := host.Run(context.Background(), transport.Command{Argv: step.Do}); err != nil {
		_ = j.Failed(id, err)
	} else {
		_ = j.Done(id)
	}

	// A later step failed: replay the undos, last first.
	rep, err := journal.Rollback(context.Background(), j.Log(), map[string]transport.Runner{"pve1": host}, nil)
	fmt.Println("complete:", err == nil && rep.Complete(), "file:", filepath.Base(j.Path()))
	// Output:
	// run: pct create 101 local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst
	// run: pct stop 101
	// run: pct destroy 101 --purge
	// complete: true file: media-20261126T120000Z-1a2b.jsonl
}
