package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// env is what every command needs: the streams it writes to and the logger
// built from the global flags. It is created per run, never global, so tests
// can run many apps side by side.
type env struct {
	in     io.Reader
	out    io.Writer
	errOut io.Writer
	log    zerolog.Logger
	color  bool // colour on stdout is allowed (a terminal and no NO_COLOR / --no-color)

	trace             bool
	knownHosts        string
	acceptNewHostKeys bool
}

// run is main without os.Exit, so tests drive the whole CLI in-process.
func run(args []string, in io.Reader, out, errOut io.Writer) int {
	app, e := newApp(in, out, errOut)
	err := app.Run(interspersed(app, args))
	return exitCode(err, e.errOut)
}

func newApp(in io.Reader, out, errOut io.Writer) (*cli.App, *env) {
	e := &env{in: in, out: out, errOut: errOut, log: zerolog.Nop()}
	app := &cli.App{
		Name:    "lxcplan",
		Usage:   "declare, plan and apply app containers on Proxmox VE",
		Version: version,
		Description: `Exit codes: 0 success; 1 failure (on the hosts, or apply failed and rolled back);
2 plan has changes and 3 destructive changes (plan --detailed-exitcode);
4 apply failed and rollback is incomplete; 64 usage error; 65 invalid input files.`,
		Reader:               in,
		Writer:               out,
		ErrWriter:            errOut,
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "trace, debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", Value: "console", Usage: "console or json"},
			&cli.BoolFlag{Name: "no-color", Usage: "never colour output (also NO_COLOR)"},
			&cli.BoolFlag{Name: "trace", Aliases: []string{"x"}, Usage: "print each remote command as it runs"},
			&cli.StringFlag{Name: "known-hosts", Usage: "known_hosts file (default ~/.ssh/known_hosts)"},
			&cli.BoolFlag{Name: "accept-new-host-keys", Usage: "record host keys of hosts seen for the first time"},
		},
		Before: func(c *cli.Context) error { return e.setup(c) },
		// The library must never call os.Exit: exit codes are mapped in one place (exit.go).
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return &usageError{err}
		},
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(errOut, "error: unknown command %q; see 'lxcplan --help'\n", name)
		},
		Commands: []*cli.Command{
			validateCommand(e),
			schemaCommand(e),
			configCommand(e),
			graphCommand(e),
			recipesCommand(e),
			hostsCommand(e),
			applyCommand(e),
			planCommand(e),
			diffCommand(e),
			inventoryCommand(e),
			statusCommand(e),
			execCommand(e),
			outputsCommand(e),
			unlockCommand(e),
			destroyCommand(e),
			updateCommand(e),
		},
	}
	setUsageHandlers(app.Commands)
	return app, e
}

// setUsageHandlers makes flag errors of every subcommand usage errors (exit 64).
func setUsageHandlers(cmds []*cli.Command) {
	for _, c := range cmds {
		if c.OnUsageError == nil {
			c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return &usageError{err} }
		}
		setUsageHandlers(c.Subcommands)
	}
}

// setup builds the logger from the global flags. Logs and diagnostics go to
// stderr; results go to stdout.
func (e *env) setup(c *cli.Context) error {
	noColor := c.Bool("no-color") || os.Getenv("NO_COLOR") != ""
	e.color = !noColor && isTerminal(e.out)
	e.trace = c.Bool("trace")
	e.knownHosts = c.String("known-hosts")
	e.acceptNewHostKeys = c.Bool("accept-new-host-keys")

	level, err := zerolog.ParseLevel(strings.ToLower(c.String("log-level")))
	if err != nil || level == zerolog.NoLevel {
		return usagef("--log-level %q: want trace, debug, info, warn or error", c.String("log-level"))
	}
	var w io.Writer
	switch c.String("log-format") {
	case "json":
		w = e.errOut
	case "console":
		w = zerolog.ConsoleWriter{Out: e.errOut, NoColor: noColor || !isTerminal(e.errOut), TimeFormat: "15:04:05"}
	default:
		return usagef("--log-format %q: want console or json", c.String("log-format"))
	}
	e.log = zerolog.New(w).Level(level).With().Timestamp().Logger()
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// oneArg returns the single positional argument a command needs.
func oneArg(c *cli.Context, what string) (string, error) {
	switch c.NArg() {
	case 1:
		return c.Args().First(), nil
	case 0:
		return "", usagef("%s: missing %s; usage: %s", c.Command.Name, what, c.Command.UsageText)
	}
	return "", usagef("%s: want one %s, got %d arguments", c.Command.Name, what, c.NArg())
}
