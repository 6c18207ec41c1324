package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
)

// cmdEnv prints the lab as shell exports, for `eval "$(pvelab env)"` in
// scripts that point a stack at the lab through ${LAB_*} interpolation
// (plans/demo/stack.yaml): no JSON parser is needed on the machine.
func cmdEnv(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("env", stderr)
	path := fs.String("lab", labconf.DefaultPath, "lab description written by pvelab up")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "pvelab env: takes no arguments")
		return exitUsage
	}
	l, err := labconf.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "pvelab env: %v (is the lab up? run pvelab up)\n", err)
		return exitFailure
	}
	writeEnv(stdout, l)
	return exitOK
}

// writeEnv writes one export a line; node pveN becomes LAB_PVEN_*.
func writeEnv(w io.Writer, l *labconf.Lab) {
	d := describe(l)
	for _, n := range d.Nodes {
		key := "LAB_" + envName(n.Name)
		fmt.Fprintf(w, "export %s_HOST=%s\n", key, shellQuote(n.Host))
		fmt.Fprintf(w, "export %s_PORT=%d\n", key, n.Port)
		fmt.Fprintf(w, "export %s_USER=%s\n", key, shellQuote(n.User))
	}
	for _, kv := range [][2]string{
		{"LAB_IDENTITY", d.IdentityFile},
		{"LAB_KNOWN_HOSTS", d.KnownHosts},
		{"LAB_BRIDGE", d.Bridge},
		{"LAB_SUBNET", d.Subnet},
		{"LAB_GATEWAY", d.Gateway},
		{"LAB_TEMPLATE", d.Template},
		{"LAB_COMMAND_LOG", d.CommandLog},
		{"LAB_FAULTS_FILE", d.FaultsFile},
		{"LAB_HOSTS_YAML", filepath.Join(l.Root, "hosts.yaml")},
	} {
		fmt.Fprintf(w, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
}

// envName upper-cases a node name and maps anything but letters and
// digits to '_', so it is a valid shell variable name part.
func envName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, s)
}

// shellQuote quotes s for a POSIX shell unless it is plainly safe.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-:+=,@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
