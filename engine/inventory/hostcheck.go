// Package inventory observes Proxmox hosts: what is there, read-only. It
// never changes anything and never waits for anything to happen.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// HostReport is what `lxcplan hosts check` learns about one host.
type HostReport struct {
	Name    string `json:"name"`    // the stack's host key
	Address string `json:"address"` // as configured, for the reader

	Reachable       bool `json:"reachable"`
	Authenticated   bool `json:"authenticated"`
	HostKeyVerified bool `json:"host_key_verified"`

	Node         string   `json:"node,omitempty"`    // PVE node name (not the stack's host key)
	Cluster      string   `json:"cluster,omitempty"` // empty for a standalone node
	ClusterNodes []string `json:"cluster_nodes,omitempty"`
	Quorate      bool     `json:"quorate,omitempty"`
	PVEVersion   string   `json:"pve_version,omitempty"`

	Storages []StorageInfo `json:"storages,omitempty"`
	Bridges  []string      `json:"bridges,omitempty"`

	// Problems lists what makes the host unusable, one sentence each.
	Problems []string `json:"problems,omitempty"`
}

// StorageInfo is one storage as the node reports it.
type StorageInfo struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Active  bool     `json:"active"`
	Content []string `json:"content"`
	Total   int64    `json:"total_bytes"`
	Avail   int64    `json:"avail_bytes"`
}

// OK reports whether the host is usable.
func (r *HostReport) OK() bool { return len(r.Problems) == 0 }

// Dialer connects to a host; it returns an error classified by the
// transport's sentinels when it cannot (unreachable, auth, host key).
type Dialer func(ctx context.Context) (transport.Runner, error)

// CheckHost connects with dial and asks the host what it is. It costs four
// read-only commands, whatever the size of the host.
func CheckHost(ctx context.Context, name, address string, dial Dialer) HostReport {
	rep := HostReport{Name: name, Address: address}
	r, err := dial(ctx)
	if err != nil {
		switch {
		case errors.Is(err, transport.ErrHostKeyUnknown), errors.Is(err, transport.ErrHostKeyChanged):
			rep.Reachable = true
		case errors.Is(err, transport.ErrAuth):
			rep.Reachable, rep.HostKeyVerified = true, true
		}
		rep.Problems = append(rep.Problems, err.Error())
		return rep
	}
	rep.Reachable, rep.Authenticated, rep.HostKeyVerified = true, true, true

	run := func(argv []string) ([]byte, error) {
		res, err := r.Run(ctx, transport.Command{Argv: argv, ReadOnly: true})
		if err != nil {
			return nil, err
		}
		return res.Stdout, nil
	}

	if out, err := run(pve.Pveversion(false)); err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("not a Proxmox VE node: %v", err))
		return rep
	} else if v, err := pve.ParsePveversion(out); err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("read pveversion: %v", err))
	} else {
		rep.PVEVersion = v.Version
		if m := v.Major(); m != 0 && m < 8 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("Proxmox VE %s is not supported; lxcplan needs 8 or 9", v.Version))
		}
	}

	if out, err := run(pve.PveshGet("/cluster/status")); err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("read cluster status: %v", err))
	} else if entries, err := pve.ParseClusterStatus(out); err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("read cluster status: %v", err))
	} else {
		for _, e := range entries {
			switch e.Type {
			case "cluster":
				rep.Cluster = e.Name
				rep.Quorate = e.Quorate.Int() == 1
			case "node":
				rep.ClusterNodes = append(rep.ClusterNodes, e.Name)
				if e.Local.Int() == 1 {
					rep.Node = e.Name
				}
			}
		}
		sort.Strings(rep.ClusterNodes)
		if rep.Cluster == "" {
			rep.ClusterNodes = nil // a standalone node: no membership to show
		}
		if rep.Node == "" {
			rep.Problems = append(rep.Problems, "the cluster status names no local node")
		}
		if rep.Cluster != "" && !rep.Quorate {
			rep.Problems = append(rep.Problems, fmt.Sprintf("cluster %q has no quorum: /etc/pve is read-only", rep.Cluster))
		}
	}

	if rep.Node != "" {
		if out, err := run(pve.PveshGet(pve.PathNodeStorage(rep.Node))); err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("read storages: %v", err))
		} else if ss, err := pve.ParseNodeStorage(out); err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("read storages: %v", err))
		} else {
			for _, s := range ss {
				rep.Storages = append(rep.Storages, StorageInfo{
					Name: s.Storage, Type: s.Type, Active: s.Active.Int() == 1,
					Content: pve.SplitList(s.Content), Total: s.Total.Int(), Avail: s.Avail.Int(),
				})
			}
			sort.Slice(rep.Storages, func(i, j int) bool { return rep.Storages[i].Name < rep.Storages[j].Name })
		}
	}

	if out, err := run([]string{"ip", "-o", "link", "show", "type", "bridge"}); err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("list bridges: %v", err))
	} else {
		rep.Bridges = parseBridges(out)
	}
	return rep
}

// parseBridges reads `ip -o link show type bridge`: "3: vmbr0: <BROADCAST,...> mtu ...".
func parseBridges(out []byte) []string {
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		if i := strings.IndexByte(name, '@'); i >= 0 {
			name = name[:i]
		}
		if name != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// CheckHosts checks every host in parallel; reports come back in the order of names.
func CheckHosts(ctx context.Context, names []string, addresses map[string]string, dial func(name string) Dialer) []HostReport {
	out := make([]HostReport, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = CheckHost(ctx, n, addresses[n], dial(n))
		}()
	}
	wg.Wait()
	return out
}
