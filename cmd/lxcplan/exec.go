package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/transport"
)

func execCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a command inside one of the stack's containers (pct exec on its host)",
		UsageText: "lxcplan exec STACK CONTAINER -- CMD...",
		Description: `Finds the container by its lxcplan marker, wherever it lives, and runs CMD in it with
pct exec. Standard input is passed on when it is not a terminal. The exit code is the
command's own; 1 with a message when the container does not exist or is not running.`,
		// Everything after CONTAINER belongs to CMD, flags included.
		SkipFlagParsing: true,
		Action:          func(c *cli.Context) error { return execAction(c, e) },
	}
}

func execAction(c *cli.Context, e *env) error {
	args := c.Args().Slice()
	if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
		return cli.ShowSubcommandHelp(c)
	}
	if len(args) < 2 {
		return usagef("exec: want STACK CONTAINER -- CMD...; usage: %s", c.Command.UsageText)
	}
	path, name, argv := args[0], args[1], args[2:]
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return usagef("exec: no command given; usage: %s", c.Command.UsageText)
	}
	v, err := openStack(c.Context, e, path, manifestOptions(c))
	if err != nil {
		return err
	}
	defer v.Close()
	o, err := v.running(name)
	if err != nil {
		printDiagnostics(e.errOut, v.ds)
		return &exitError{code: exitFailed, err: err}
	}
	r, err := v.runner(c.Context, o.host)
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("exec: connect to %s: %w", o.host, err)}
	}
	cmd := transport.Command{Argv: pve.PctExec(o.ct.VMID, pve.Unset, argv...)}
	if in := execStdin(e.in); in != nil {
		cmd.Stdin = in
	}
	res, err := r.Run(c.Context, cmd)
	// TODO(transport): the runner returns output when the command ends; a
	// streaming Command (Stdout/Stderr writers) would let long commands
	// show their output as it comes.
	if _, werr := e.out.Write(res.Stdout); werr != nil && err == nil {
		err = fmt.Errorf("exec: write output: %w", werr)
	}
	_, _ = e.errOut.Write(res.Stderr)
	var ee *transport.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		// The inner command's exit code, already explained by its stderr.
		code := ee.Code
		if code <= 0 || code > 255 {
			code = exitFailed
		}
		return &exitError{code: code}
	}
	return &exitError{code: exitFailed, err: fmt.Errorf("exec in %s (%d on %s): %w", name, o.ct.VMID, o.host, err)}
}

// running finds a declared or orphaned container that runs, or says why
// there is none to exec in.
func (v *stackView) running(name string) (*ownedCT, error) {
	stack := v.d.Stack.Name
	fs := v.owned[name]
	c := v.d.Container(name)
	switch {
	case len(fs) > 1:
		return nil, fmt.Errorf("container %s of stack %s exists %d times; lxcplan cannot tell which one to use", name, stack, len(fs))
	case len(fs) == 0 && c == nil:
		return nil, fmt.Errorf("container %s is not in stack %s", name, stack)
	case len(fs) == 0 && v.hostDown(c):
		return nil, fmt.Errorf("container %s: host %s could not be observed", name, c.Host)
	case len(fs) == 0:
		return nil, fmt.Errorf("container %s of stack %s does not exist; run lxcplan apply", name, stack)
	}
	o := fs[0]
	if o.host == "" {
		return nil, fmt.Errorf("container %s (%d) is on node %s, which is not a host of stack %s", name, o.ct.VMID, o.ct.Node, stack)
	}
	if o.ct.Status != "running" {
		st := o.ct.Status
		if st == "" {
			st = "not running"
		}
		return nil, fmt.Errorf("container %s (%d on %s) is %s; start it with: pct start %d", name, o.ct.VMID, o.host, st, o.ct.VMID)
	}
	return o, nil
}

// execStdin is what exec passes on as the command's standard input: a pipe
// or file, never an interactive terminal (there is no pty, and the SSH
// session would wait for the terminal's end of input before finishing).
func execStdin(in io.Reader) io.Reader {
	if in == nil {
		return nil
	}
	if f, ok := in.(*os.File); ok {
		if isTerminal(f) {
			return nil
		}
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			// /dev/null and the like: nothing to send.
			return nil
		}
	}
	return in
}
