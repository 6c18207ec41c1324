// Package simtest runs the secret store against the PVE simulator's memory
// cluster. It is a separate package so that work in progress on the
// simulator cannot break the secrets package's own tests.
package simtest

import (
	"bytes"
	"context"
	"testing"

	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/secrets"
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

func TestAcrossNodes(t *testing.T) {
	c, err := pvesim.NewMemoryCluster("pve1", "pve2")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n1, _ := c.Node("pve1")
	n2, _ := c.Node("pve2")
	r1, r2 := nodeRunner(n1), nodeRunner(n2)
	ctx := context.Background()
	// The store's scripts need a POSIX shell: positional parameters, umask,
	// if/for/case, printf '\0'.
	res, err := r1.Run(ctx, transport.Command{Argv: []string{"sh", "-c", `umask 077 && printf '%s\0' "$1"`, "sh", "probe"}})
	if err != nil || string(res.Stdout) != "probe\x00" {
		t.Skipf("pvesim shell cannot run the store's scripts yet (got %q, %v)", res.Stdout, err)
	}
	v, err := (&secrets.Store{Runner: r1, Stack: "media", Redactor: secrets.NewRegistry()}).GetOrCreate(ctx, "db", "password", secrets.Generate{Length: 24})
	if err != nil {
		t.Fatal(err)
	}
	// /etc/pve is shared: the other node reads the same value.
	all, err := (&secrets.Store{Runner: r2, Stack: "media", Redactor: secrets.NewRegistry()}).Load(ctx)
	if err != nil || all["db"]["password"] != v {
		t.Fatalf("Load on pve2 = %v, %v", all, err)
	}
}
