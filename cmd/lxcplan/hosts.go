package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/manifest"
)

func hostsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "hosts",
		Usage:     "work with the Proxmox hosts of a stack",
		UsageText: "lxcplan hosts check STACK",
		Subcommands: []*cli.Command{{
			Name:      "check",
			Usage:     "connect to every host: reachability, auth, host key, node, cluster, PVE version, storages, bridges",
			UsageText: "lxcplan hosts check STACK [--format text|json]",
			Flags:     []cli.Flag{&cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"}},
			Action: func(c *cli.Context) error {
				path, err := oneArg(c, "STACK")
				if err != nil {
					return err
				}
				format := c.String("format")
				if format != "text" && format != "json" {
					return usagef("hosts check: --format %q: want text or json", format)
				}
				st, ds := manifest.LoadStackFile(path, manifestOptions(c))
				ds.Sort()
				if ds.HasErrors() {
					return ds.Err()
				}
				printDiagnostics(e.errOut, ds)
				hs := newHostSet(e, st)
				defer hs.Close()
				names := st.HostNames()
				addrs := map[string]string{}
				for _, n := range names {
					addrs[n] = hs.address(n)
				}
				reps := inventory.CheckHosts(c.Context, names, addrs, hs.dialer)
				if format == "json" {
					if err := writeJSON(e, reps); err != nil {
						return err
					}
				} else {
					writeHostReports(e.out, reps)
				}
				var bad []string
				for _, r := range reps {
					if !r.OK() {
						bad = append(bad, r.Name)
					}
				}
				if len(bad) > 0 {
					return &exitError{code: exitFailed, err: fmt.Errorf("%d of %d hosts not usable: %s", len(bad), len(reps), strings.Join(bad, ", "))}
				}
				return nil
			},
		}},
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func writeHostReports(w io.Writer, reps []inventory.HostReport) {
	for i, r := range reps {
		if i > 0 {
			fmt.Fprintln(w)
		}
		status := "ok"
		if !r.OK() {
			status = "NOT USABLE"
		}
		fmt.Fprintf(w, "%s (%s): %s\n", r.Name, r.Address, status)
		fmt.Fprintf(w, "  reachable      %s\n", yesNo(r.Reachable))
		fmt.Fprintf(w, "  host key       %s\n", map[bool]string{true: "verified", false: "not verified"}[r.HostKeyVerified])
		fmt.Fprintf(w, "  authenticated  %s\n", yesNo(r.Authenticated))
		if r.Node != "" {
			fmt.Fprintf(w, "  node           %s\n", r.Node)
			if r.Cluster != "" {
				q := "quorate"
				if !r.Quorate {
					q = "NOT quorate"
				}
				fmt.Fprintf(w, "  cluster        %s (%s; %s)\n", r.Cluster, strings.Join(r.ClusterNodes, ", "), q)
			} else {
				fmt.Fprintf(w, "  cluster        none (standalone node)\n")
			}
		}
		if r.PVEVersion != "" {
			fmt.Fprintf(w, "  pve version    %s\n", r.PVEVersion)
		}
		for j, s := range r.Storages {
			label := ""
			if j == 0 {
				label = "storages"
			}
			state := ""
			if !s.Active {
				state = ", inactive"
			}
			fmt.Fprintf(w, "  %-14s %s (%s: %s; %s free of %s%s)\n", label, s.Name, s.Type,
				strings.Join(s.Content, ","), gib(s.Avail), gib(s.Total), state)
		}
		if r.Authenticated {
			b := strings.Join(r.Bridges, ", ")
			if b == "" {
				b = "none"
			}
			fmt.Fprintf(w, "  bridges        %s\n", b)
		}
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  problem        %s\n", p)
		}
	}
}

func gib(b int64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }
