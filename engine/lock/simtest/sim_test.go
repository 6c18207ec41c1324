// Package simtest runs the stack lock against the PVE simulator's memory
// cluster. It is a separate package so that work in progress on the
// simulator cannot break the lock package's own tests.
package simtest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/lock"
	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/transport"
)

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

// requireShell skips unless the node's shell expands positional parameters
// of `sh -c SCRIPT sh ARGS...` and has stat -c %Y and date +%s, which the
// lock's constant scripts use.
func requireShell(t *testing.T, r transport.Runner) {
	t.Helper()
	res, err := r.Run(context.Background(), transport.Command{Argv: []string{"sh", "-c", `printf '%s\n' "$1"; date +%s; stat -c %Y -- "$2"`, "sh", "probe", "/etc/pve"}})
	if err != nil || !bytes.HasPrefix(res.Stdout, []byte("probe\n")) || bytes.Count(res.Stdout, []byte("\n")) != 3 {
		t.Skipf("pvesim shell lacks sh -c positional parameters, date +%%s or stat -c %%Y (got %q, %v)", res.Stdout, err)
	}
}

func cluster(t *testing.T) *pvesim.Cluster {
	t.Helper()
	c, err := pvesim.NewMemoryCluster("pve1", "pve2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func node(t *testing.T, c *pvesim.Cluster, name string) transport.Runner {
	t.Helper()
	n, ok := c.Node(name)
	if !ok {
		t.Fatalf("no node %s", name)
	}
	return nodeRunner(n)
}

func TestMkdirIsClusterWide(t *testing.T) {
	// Needs only plain argv: what the protocol rests on.
	c := cluster(t)
	ctx := context.Background()
	r1, r2 := node(t, c, "pve1"), node(t, c, "pve2")
	dir := lock.DefaultDir + "/lxcplan-media"
	if _, err := r1.Run(ctx, transport.Command{Argv: []string{"mkdir", dir}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Run(ctx, transport.Command{Argv: []string{"mkdir", dir}}); !errors.Is(err, transport.ErrCommandFailed) {
		t.Fatalf("second mkdir on the other node: %v", err)
	}
	if _, err := r2.Run(ctx, transport.Command{Argv: []string{"touch", "-c", dir}}); err != nil {
		t.Errorf("refresh from the other node: %v", err)
	}
	if _, err := r2.Run(ctx, transport.Command{Argv: []string{"rmdir", dir}}); err != nil {
		t.Fatal(err)
	}
}

func TestTwoNodesRace(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	r1, r2 := node(t, c, "pve1"), node(t, c, "pve2")
	requireShell(t, r1)
	type result struct {
		l   *lock.Lock
		err error
	}
	ch := make(chan result, 2)
	for i, r := range []transport.Runner{r1, r2} {
		go func() {
			l, err := lock.Acquire(ctx, r, "media", lock.Options{
				Holder:  lock.Holder{User: "root", Host: "ci", PID: 100 + i, Command: "lxcplan apply"},
				Timeout: 200 * time.Millisecond, Poll: 20 * time.Millisecond,
			})
			ch <- result{l, err}
		}()
	}
	a, b := <-ch, <-ch
	if (a.l == nil) == (b.l == nil) {
		t.Fatalf("want exactly one winner: %v / %v", a.err, b.err)
	}
	if a.l == nil {
		a, b = b, a
	}
	var le *lock.LockedError
	if !errors.As(b.err, &le) || le.Holder == nil || le.Holder.PID != a.l.Holder().PID {
		t.Errorf("loser: %v", b.err)
	}
	if err := a.l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Unlock(ctx, r2, "media"); !errors.Is(err, lock.ErrNotLocked) {
		t.Errorf("unlock after release: %v", err)
	}
}
