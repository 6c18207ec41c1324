package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed moves a command's flags in front of its positional arguments,
// so `lxcplan plan stack.yaml --format json` works as people type it.
// urfave/cli v2 stops parsing flags at the first positional argument; the
// design's synopses (design.md §5) put flags after STACK. Everything after a
// literal "--" is left alone (`lxcplan exec STACK CT -- CMD --with-flags`).
func interspersed(app *cli.App, args []string) []string {
	if len(args) == 0 {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	flags := app.Flags
	cmds := app.Commands
	for {
		// Copy this level's leading flags, up to the (sub)command name.
		i := 0
		for i < len(rest) && strings.HasPrefix(rest[i], "-") && rest[i] != "--" {
			n := flagArity(flags, rest[i])
			if i+n >= len(rest) {
				n = len(rest) - 1 - i
			}
			out = append(out, rest[i:i+1+n]...)
			i += 1 + n
		}
		rest = rest[i:]
		if len(rest) == 0 || rest[0] == "--" {
			return append(out, rest...)
		}
		cmd := findCommand(cmds, rest[0])
		if cmd == nil {
			return append(out, rest...)
		}
		out = append(out, rest[0])
		rest = rest[1:]
		if len(cmd.Subcommands) > 0 {
			flags, cmds = cmd.Flags, cmd.Subcommands
			continue
		}
		// The leaf command: flags first, then positionals in their order.
		var fl, pos []string
		for j := 0; j < len(rest); j++ {
			a := rest[j]
			if a == "--" {
				pos = append(pos, rest[j:]...)
				break
			}
			if strings.HasPrefix(a, "-") && a != "-" {
				n := flagArity(cmd.Flags, a)
				if j+n >= len(rest) {
					n = len(rest) - 1 - j
				}
				fl = append(fl, rest[j:j+1+n]...)
				j += n
				continue
			}
			pos = append(pos, a)
		}
		out = append(out, fl...)
		return append(out, pos...)
	}
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		for _, n := range c.Names() {
			if n == name {
				return c
			}
		}
	}
	return nil
}

// flagArity is 1 when the flag takes a separate value word, else 0
// (booleans, --name=value, unknown flags: urfave reports those itself).
func flagArity(flags []cli.Flag, arg string) int {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return 0
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if _, ok := f.(*cli.BoolFlag); ok {
				return 0
			}
			return 1
		}
	}
	return 0
}
