package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/lock"
	"github.com/lxcplan/lxcplan/engine/manifest"
)

func unlockCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "unlock",
		Usage:     "remove a stale stack lock left by a run that is gone",
		UsageText: "lxcplan unlock STACK",
		Description: `Removes the stack's cluster-wide lock whatever its age and prints who held it. Use it
only when that run is gone: a run still holding the lock notices and stops. Exit 1 when the
stack is not locked.`,
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "STACK")
			if err != nil {
				return err
			}
			st, ds := manifest.LoadStackFile(path, manifestOptions(c))
			ds.Sort()
			if ds.HasErrors() {
				return ds.Err()
			}
			printDiagnostics(e.errOut, ds)
			names := st.HostNames()
			if len(names) == 0 {
				return fmt.Errorf("unlock: stack %s declares no hosts", st.Name)
			}
			hs := newHostSet(e, st)
			defer hs.Close()
			// The lock lives on the cluster filesystem of the stack's first
			// host (sorted), where apply takes it.
			host := names[0]
			r, err := hs.dialer(host)(c.Context)
			if err != nil {
				return &exitError{code: exitFailed, err: fmt.Errorf("unlock: connect to %s (%s): %w", host, hs.address(host), err)}
			}
			h, err := lock.Unlock(c.Context, r, st.Name)
			switch {
			case errors.Is(err, lock.ErrNotLocked):
				return &exitError{code: exitFailed, err: fmt.Errorf("stack %s is not locked; nothing to do", st.Name)}
			case err != nil:
				return &exitError{code: exitFailed, err: err}
			}
			who := "an unknown holder (no readable holder file)"
			if h != (lock.Holder{}) {
				who = h.String()
			}
			fmt.Fprintf(e.out, "removed the lock of stack %s held by %s\n", st.Name, who)
			return nil
		},
	}
}
