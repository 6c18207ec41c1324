package pvesim

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/lxcplan/lxcplan/engine/pve"
)

// optKind is how the CLI parser treats an option's value (§1.1).
type optKind int

const (
	optString optKind = iota // "=s": always takes the next argument
	optBool                  // ":s": bare means 1, swallows a following non-option word
	optList                  // "*-list": may repeat, repeats joined with ","
)

// cmdSpec describes one subcommand: its positional arguments, its options and
// its implementation. The parser needs only names and kinds; each command
// validates values itself so that messages match PVE's.
type cmdSpec struct {
	name     string
	args     []string // required positional names
	optArgs  []string // optional positional names
	variadic bool     // the last optArg collects every remaining argument (extra-args)
	opts     map[string]optKind
	run      func(c *call) int
}

// usage is PVE's short usage line (§1.2): "<tool> <sub> <args>" plus
// " [OPTIONS]" when the method has optional parameters. An empty args string
// still leaves its separating space ("pvesm status  [OPTIONS]").
func (s *cmdSpec) usage(tool string) string {
	var parts []string
	for _, a := range s.args {
		parts = append(parts, "<"+a+">")
	}
	for _, a := range s.optArgs {
		parts = append(parts, "[<"+a+">]")
	}
	u := tool + " " + s.name + " " + strings.Join(parts, " ")
	if len(s.opts) > 0 {
		u += " [OPTIONS]"
	}
	return u
}

// call is one parsed invocation.
type call struct {
	ctx    context.Context
	n      *Node
	tool   string
	spec   *cmdSpec
	pos    map[string]string
	extra  []string
	opts   map[string]string
	order  []string // option names in first-seen order
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func (c *call) has(name string) bool { _, ok := c.opts[name]; return ok }

// flag reports a boolean option's value (already normalised to "1"/"0").
func (c *call) flag(name string) bool { return c.opts[name] == "1" }

func (c *call) usage() string { return c.spec.usage(c.tool) }

// paramErr is one "<param>: <msg>" entry of a 400 error. nl records that
// PVE's message ends in a newline (format validators), which prints a blank
// line; nested holds "param.key" entries from property strings.
type paramErr struct {
	param  string
	msg    string
	nl     bool
	nested []paramErr
}

// render formats one entry as PVE's Exception::stringify does. A nested
// property-string failure is one hash entry whose message carries the inner
// lines, which is why the inner lines follow without a blank line and the
// blank lines pile up at the end (§1.2).
func (e paramErr) render() string {
	msg := e.msg
	if len(e.nested) > 0 {
		msg += "\n"
		for _, n := range e.nested {
			msg += n.param + ": " + n.msg + "\n"
			if n.nl {
				msg += "\n"
			}
		}
	} else if e.nl {
		msg += "\n"
	}
	return e.param + ": " + msg + "\n"
}

// fromPVE converts engine/pve's ParamErrors (outer line first, then nested
// lines) to our representation.
func fromPVE(err error) []paramErr {
	pes, ok := err.(pve.ParamErrors)
	if !ok || len(pes) == 0 {
		return []paramErr{{param: "?", msg: err.Error()}}
	}
	out := paramErr{param: pes[0].Param, msg: pes[0].Msg, nl: pes[0].NL}
	for _, e := range pes[1:] {
		out.nested = append(out.nested, paramErr{param: e.Param, msg: e.Msg, nl: e.NL})
	}
	return []paramErr{out}
}

// withParam renames the outer parameter of converted errors (engine/pve
// parses with a fixed name such as "rootfs" even for other options).
func withParam(es []paramErr, name string) []paramErr {
	for i := range es {
		if es[i].param != name {
			old := es[i].param
			es[i].param = name
			for j := range es[i].nested {
				es[i].nested[j].param = strings.Replace(es[i].nested[j].param, old+".", name+".", 1)
			}
		}
	}
	return es
}

// paramFail prints a "400 Parameter verification failed." error and
// returns the die exit code.
func (c *call) paramFail(es ...paramErr) int {
	var b strings.Builder
	b.WriteString("400 Parameter verification failed.\n")
	for _, e := range es {
		b.WriteString(e.render())
	}
	b.WriteString(c.usage())
	b.WriteString("\n")
	io.WriteString(c.stderr, b.String())
	return exitDie
}

// perr is shorthand for a single parameter error.
func (c *call) perr(param, msg string, nl bool) int {
	return c.paramFail(paramErr{param: param, msg: msg, nl: nl})
}

// die prints a plain error as Perl's top-level die does and returns 255.
// Messages without a trailing newline get Perl's " at FILE line N." suffix
// in PVE; callers pass that text explicitly where the reference shows it.
func (c *call) die(format string, a ...any) int {
	msg := fmt.Sprintf(format, a...)
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	io.WriteString(c.stderr, msg)
	return exitDie
}

// exitDie is what the simulator uses for every uncaught die (§1.3).
const exitDie = 255

// bare400 prints "400 <msg>" followed by the usage line.
func bare400(w io.Writer, msg, usage string) int {
	fmt.Fprintf(w, "400 %s\n%s\n", msg, usage)
	return exitDie
}

// lookupOpt resolves an option name: exact match first, then a unique
// prefix (Getopt::Long auto_abbrev). Getopt ignores case by default.
func lookupOpt(opts map[string]optKind, name string) (string, bool) {
	if _, ok := opts[name]; ok {
		return name, true
	}
	lname := strings.ToLower(name)
	if _, ok := opts[lname]; ok {
		return lname, true
	}
	var hit string
	n := 0
	for k := range opts {
		if strings.HasPrefix(k, lname) {
			hit = k
			n++
		}
	}
	if n == 1 {
		return hit, true
	}
	return "", false
}

// parseArgs implements PVE's get_options over a command spec. It returns
// false after printing the error (and the exit code to use).
func parseArgs(spec *cmdSpec, tool string, args []string, stderr io.Writer) (pos map[string]string, extra []string, opts map[string]string, order []string, code int, ok bool) {
	opts = map[string]string{}
	var positional []string
	usage := spec.usage(tool)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' || isNegativeNumber(a) {
			positional = append(positional, a)
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		val, hasVal := "", false
		if k, v, found := strings.Cut(name, "="); found {
			name, val, hasVal = k, v, true
		}
		full, known := lookupOpt(spec.opts, name)
		if !known || name == "" {
			fmt.Fprintf(stderr, "Unknown option: %s\n", strings.ToLower(name))
			return nil, nil, nil, nil, bare400(stderr, "unable to parse option", usage), false
		}
		kind := spec.opts[full]
		switch kind {
		case optBool:
			if !hasVal {
				if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
					val = args[i+1]
					i++
				} else {
					val = "1"
				}
			}
			b, good := pve.ParseBool(val)
			if val == "" {
				b, good = true, true
			}
			if !good {
				return nil, nil, nil, nil, bare400(stderr, "unable to parse boolean option", usage), false
			}
			val = "0"
			if b {
				val = "1"
			}
		default:
			if !hasVal {
				if i+1 >= len(args) {
					fmt.Fprintf(stderr, "Option %s requires an argument\n", full)
					return nil, nil, nil, nil, bare400(stderr, "unable to parse option", usage), false
				}
				val = args[i+1]
				i++
			}
		}
		if old, seen := opts[full]; seen {
			if kind == optList {
				val = old + "," + val
			}
		} else {
			order = append(order, full)
		}
		opts[full] = val
	}
	pos = map[string]string{}
	for _, name := range spec.args {
		if len(positional) == 0 {
			return nil, nil, nil, nil, bare400(stderr, "not enough arguments", usage), false
		}
		pos[name] = positional[0]
		positional = positional[1:]
	}
	for i, name := range spec.optArgs {
		if len(positional) == 0 {
			break
		}
		if spec.variadic && i == len(spec.optArgs)-1 {
			extra = positional
			positional = nil
			break
		}
		pos[name] = positional[0]
		positional = positional[1:]
	}
	if len(positional) > 0 {
		return nil, nil, nil, nil, bare400(stderr, "too many arguments", usage), false
	}
	return pos, extra, opts, order, 0, true
}

func isNegativeNumber(s string) bool {
	if len(s) < 2 || s[0] != '-' {
		return false
	}
	for _, r := range s[1:] {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
}

// toolTable is one tool's dispatch table.
type toolTable map[string]*cmdSpec

// expand resolves a subcommand name, accepting any unique prefix.
func (t toolTable) expand(name string) (*cmdSpec, bool) {
	if s, ok := t[name]; ok {
		return s, true
	}
	var hit *cmdSpec
	n := 0
	for k, s := range t {
		if strings.HasPrefix(k, name) {
			hit = s
			n++
		}
	}
	return hit, n == 1
}

// unknownCommand prints CLIHandler's short usage on stderr and returns 255.
func (t toolTable) unknownCommand(tool, msg string, w io.Writer) int {
	var b strings.Builder
	fmt.Fprintf(&b, "ERROR: %s\n", msg)
	fmt.Fprintf(&b, "USAGE: %s <COMMAND> [ARGS] [OPTIONS]\n", tool)
	names := make([]string, 0, len(t)+1)
	for k := range t {
		names = append(names, k)
	}
	names = append(names, "help")
	sort.Strings(names)
	for _, k := range names {
		if k == "help" {
			fmt.Fprintf(&b, "       %s help [<extra-args>] [OPTIONS]\n", tool)
			continue
		}
		fmt.Fprintf(&b, "       %s\n", t[k].usage(tool))
	}
	io.WriteString(w, b.String())
	return exitDie
}

// dispatch parses args against the table and runs the command.
func (t toolTable) dispatch(ctx context.Context, n *Node, tool string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return t.unknownCommand(tool, "no command specified", stderr)
	}
	spec, ok := t.expand(args[0])
	if !ok {
		return t.unknownCommand(tool, fmt.Sprintf("unknown command '%s %s'", tool, args[0]), stderr)
	}
	pos, extra, opts, order, code, ok := parseArgs(spec, tool, args[1:], stderr)
	if !ok {
		return code
	}
	c := &call{ctx: ctx, n: n, tool: tool, spec: spec, pos: pos, extra: extra, opts: opts, order: order,
		stdin: stdin, stdout: stdout, stderr: stderr}
	return spec.run(c)
}

// withOpts builds an option map from name lists per kind.
func withOpts(strs, bools, lists []string) map[string]optKind {
	m := map[string]optKind{}
	for _, s := range strs {
		m[s] = optString
	}
	for _, s := range bools {
		m[s] = optBool
	}
	for _, s := range lists {
		m[s] = optList
	}
	return m
}
