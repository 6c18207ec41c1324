// Command pvelab brings a Proxmox-compatible lab up on this machine and
// takes it down again. Invoked as pct, pveam, pvesm, pvesh, ha-manager or
// pveversion (the lab's bin dir links those names to it) it is that PVE
// command for the lab node named by $PVELAB_NODE.
//
// Exit codes: 0 ok, 1 failure, 64 usage error; as a PVE tool, the tool's.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/lxcplan/lxcplan/engine/pvesim/lab"
	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
)

const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 64
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: pvelab <command> [flags]

commands:
  up [--nodes N] [--pve 8|9] [--json]   bring the lab up (idempotent)
  down                                  take the lab down and remove what it changed
  status [--json]                       show the lab
  reset                                 destroy all containers and cluster state; keep network and sshd
  env                                   print shell exports (LAB_PVE1_HOST=..., LAB_IDENTITY=...) for a stack

exit codes: 0 ok, 1 failure, 64 usage error
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if tool := filepath.Base(args[0]); isTool(tool) {
		return runTool(ctx, tool, args[1:], stdin, stdout, stderr)
	}
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[1] {
	case "up":
		return cmdUp(ctx, args[2:], stdout, stderr)
	case "down":
		return cmdDown(ctx, args[2:], stderr)
	case "status":
		return cmdStatus(ctx, args[2:], stdout, stderr)
	case "reset":
		return cmdReset(ctx, args[2:], stderr)
	case "env":
		return cmdEnv(args[2:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	// Also reachable as `pvelab pct ...`, handy before the links exist.
	if isTool(args[1]) {
		return runTool(ctx, args[1], args[2:], stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "pvelab: unknown command %q\n%s", args[1], usage)
	return exitUsage
}

func isTool(name string) bool {
	for _, t := range lab.ToolNames {
		if t == name {
			return true
		}
	}
	return false
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("pvelab "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// upJSON is the `up --json` document; its keys are an interface other
// tools parse.
type upJSON struct {
	Nodes        []upNode `json:"nodes"`
	IdentityFile string   `json:"identity_file"`
	KnownHosts   string   `json:"known_hosts"`
	Bridge       string   `json:"bridge"`
	Subnet       string   `json:"subnet"`
	Gateway      string   `json:"gateway"`
	Template     string   `json:"template"`
	CommandLog   string   `json:"command_log"`
	FaultsFile   string   `json:"faults_file"`
}

type upNode struct {
	Name string `json:"name"`
	Host string `json:"host"`
	Port int    `json:"port"`
	User string `json:"user"`
}

func describe(l *labconf.Lab) upJSON {
	d := upJSON{
		IdentityFile: filepath.Join(l.Root, "id_ed25519"),
		KnownHosts:   filepath.Join(l.Root, "known_hosts"),
		Bridge:       l.Bridge, Subnet: l.Subnet, Gateway: l.Gateway,
		Template:   lab.TemplateVolid,
		CommandLog: l.CommandLog, FaultsFile: l.FaultsFile,
		Nodes: []upNode{},
	}
	for _, n := range l.Nodes {
		d.Nodes = append(d.Nodes, upNode{Name: n.Name, Host: n.Host, Port: n.Port, User: n.User})
	}
	return d
}

func cmdUp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("up", stderr)
	nodes := fs.Int("nodes", 2, "number of nodes (pve1..pveN)")
	pve := fs.Int("pve", 8, "Proxmox VE major version to imitate (8 or 9)")
	asJSON := fs.Bool("json", false, "print only a JSON description on stdout")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 || *nodes < 1 || *nodes > 16 || (*pve != 8 && *pve != 9) {
		fmt.Fprintln(stderr, "pvelab up: want --nodes 1..16, --pve 8|9 and no arguments")
		return exitUsage
	}
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "pvelab up: %v\n", err)
		return exitFailure
	}
	if b, err := filepath.EvalSymlinks(bin); err == nil {
		bin = b
	}
	// Re-running the installed copy must not copy it onto itself.
	if bin == filepath.Join(lab.DefaultRoot, "bin", "pvelab") {
		bin = ""
	}
	l, err := lab.Up(ctx, lab.UpOptions{Nodes: *nodes, PVEVersion: *pve, Binary: bin, Log: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "pvelab up: %v\n", err)
		return exitFailure
	}
	d := describe(l)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			return exitFailure
		}
		return exitOK
	}
	printHuman(stdout, l, d)
	return exitOK
}

func printHuman(w io.Writer, l *labconf.Lab, d upJSON) {
	fmt.Fprintf(w, "lab up: %d node(s), bridge %s %s (gateway %s), apt cache %s, pve %d\n",
		len(l.Nodes), l.Bridge, l.Subnet, l.Gateway, l.AptProxy, l.PVEVersion)
	for _, n := range l.Nodes {
		fmt.Fprintf(w, "  %s  ssh -i %s -o UserKnownHostsFile=%s -p %d %s@%s\n", n.Name, d.IdentityFile, d.KnownHosts, n.Port, n.User, n.Host)
	}
	fmt.Fprintf(w, "template: %s\nhosts snippet (paste under hosts:):\n%s", d.Template, lab.HostsSnippet(l))
}

func cmdDown(ctx context.Context, args []string, stderr io.Writer) int {
	fs := newFlags("down", stderr)
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return exitUsage
	}
	if err := lab.Down(context.WithoutCancel(ctx), lab.DefaultRoot); err != nil {
		fmt.Fprintf(stderr, "pvelab down: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("status", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return exitUsage
	}
	st, err := lab.GetStatus(ctx, lab.DefaultRoot)
	if err != nil {
		fmt.Fprintf(stderr, "pvelab status: %v\n", err)
		return exitFailure
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return exitFailure
		}
		return exitOK
	}
	switch {
	case st.Up:
		fmt.Fprintln(stdout, "lab: up")
	case st.Phase != "":
		fmt.Fprintf(stdout, "lab: broken (phase %s); run pvelab down\n", st.Phase)
	default:
		fmt.Fprintln(stdout, "lab: down")
	}
	for _, p := range st.Procs {
		state := "running"
		if !p.Alive {
			state = "gone"
		}
		fmt.Fprintf(stdout, "  %-16s pid %-8d %s\n", p.Name, p.PID, state)
	}
	if st.Lab != nil {
		printHuman(stdout, st.Lab, describe(st.Lab))
		for _, n := range st.Lab.Nodes {
			fmt.Fprintf(stdout, "  %s containers: %v\n", n.Name, st.Containers[n.Name])
		}
	}
	if !st.Up && (st.Bridge || st.NftTable) {
		fmt.Fprintf(stdout, "leftovers: bridge=%v nft table=%v (pvelab down removes them)\n", st.Bridge, st.NftTable)
	}
	return exitOK
}

func cmdReset(ctx context.Context, args []string, stderr io.Writer) int {
	fs := newFlags("reset", stderr)
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return exitUsage
	}
	if err := lab.Reset(ctx, lab.DefaultRoot); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintln(stderr, "pvelab reset: no lab is up")
			return exitFailure
		}
		fmt.Fprintf(stderr, "pvelab reset: %v\n", err)
		return exitFailure
	}
	return exitOK
}
