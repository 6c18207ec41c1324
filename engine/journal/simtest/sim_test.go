// Package simtest replays journals against the PVE simulator's memory
// cluster, so the idempotency rules meet the simulator's real error texts.
// It is a separate package so that work in progress on the simulator cannot
// break the journal package's own tests.
package simtest

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/journal"
	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/transport"
)

const tmpl = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"

// nodeRunner sends commands to a simulated node the way the SSH transport
// does: quoted with transport.Quote into one command line.
func nodeRunner(n *pvesim.Node) transport.Runner {
	h := n.Handler()
	return transport.RunFunc(func(ctx context.Context, c transport.Command) (transport.Result, error) {
		var out, errb bytes.Buffer
		code := h.Exec(ctx, transport.Quote(c.Argv), c.Stdin, &out, &errb)
		res := transport.Result{Stdout: out.Bytes(), Stderr: errb.Bytes(), ExitCode: code}
		if code != 0 {
			return res, &transport.ExitError{Host: n.Name, Argv: c.Argv, Code: code, Stderr: res.Stderr}
		}
		return res, nil
	})
}

func setup(t *testing.T) (transport.Runner, func(string) (string, error)) {
	t.Helper()
	c, err := pvesim.NewMemoryCluster("pve1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	n, _ := c.Node("pve1")
	r := nodeRunner(n)
	run := func(line string) (string, error) {
		res, err := r.Run(context.Background(), transport.Command{Argv: strings.Fields(line)})
		return string(res.Stdout), err
	}
	if _, err := run("pveam download local debian-12-standard_12.7-1_amd64.tar.zst"); err != nil {
		t.Fatal(err)
	}
	return r, run
}

func TestCreateRolledBackTwice(t *testing.T) {
	ctx := context.Background()
	r, run := setup(t)
	path := filepath.Join(t.TempDir(), "media-r1.jsonl")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	create := journal.Step{Host: "pve1", Container: "web", ID: "create",
		Do:   []string{"pct", "create", "100", tmpl, "--storage", "local-lvm", "--hostname", "web"},
		Undo: [][]string{{"pct", "stop", "100"}, {"pct", "destroy", "100", "--purge"}}}
	id, err := j.Begin(create)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx, transport.Command{Argv: create.Do}); err != nil {
		t.Fatal(err)
	}
	if err := j.Done(id); err != nil {
		t.Fatal(err)
	}
	start := journal.Step{Host: "pve1", Container: "web", ID: "start", Do: []string{"pct", "start", "100"},
		Undo: [][]string{{"pct", "stop", "100"}}}
	id, _ = j.Begin(start)
	if _, err := r.Run(ctx, transport.Command{Argv: start.Do}); err != nil {
		t.Fatal(err)
	}
	_ = j.Done(id)
	runners := map[string]transport.Runner{"pve1": r}
	// Undo of start stops the CT; undo of create then meets a stopped CT
	// (pct stop: "CT 100 not running", tolerated) and destroys it.
	rep, err := journal.Rollback(ctx, j.Log(), runners, nil)
	if err != nil {
		t.Fatalf("rollback: %v\n%s", err, rep.Summary())
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := run("pct status 100"); err == nil {
		t.Fatal("CT 100 still exists")
	}
	// The same undos again, as if the journal had not recorded them: the
	// CT is gone, and both pct stop and pct destroy must be tolerated.
	j2, err := journal.Open(filepath.Join(t.TempDir(), "again.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if _, err := j2.Begin(create); err != nil {
		t.Fatal(err)
	}
	if rep, err := journal.Rollback(ctx, j2.Log(), runners, nil); err != nil {
		t.Fatalf("second rollback of a gone CT: %v\n%s", err, rep.Summary())
	}
}

func TestRollbackToMissingSnapshotIsLeft(t *testing.T) {
	ctx := context.Background()
	r, run := setup(t)
	if _, err := run("pct create 100 " + tmpl + " --storage local-lvm --hostname db"); err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.Begin(journal.Step{Host: "pve1", Container: "db", ID: "install/1",
		Do:   []string{"pct", "exec", "100", "--", "true"},
		Undo: [][]string{{"pct", "rollback", "100", "lxcplan-r1"}}}); err != nil {
		t.Fatal(err)
	}
	rep, err := journal.Rollback(ctx, j.Log(), map[string]transport.Runner{"pve1": r}, nil)
	if !errors.Is(err, journal.ErrIncomplete) || len(rep.Left) != 1 {
		t.Fatalf("rollback = %v, %+v", err, rep)
	}
	t.Logf("left: %s", rep.Left[0])
}
