package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"sort"
	"strings"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/pve"
)

// FormatVersion is the version of the inventory file written by WriteJSON.
// Bump it on any change an older reader would misread.
const FormatVersion = 1

// State is everything lxcplan observed on the hosts of a stack: the input of
// the planner, and (as JSON) the file of `lxcplan inventory export`, which
// `plan --inventory` reads to plan offline.
//
// The JSON holds container configs as PVE stores them, descriptions
// included, copied as is: whatever a user put in a description is in the
// file. lxcplan itself never writes secrets into configs or descriptions
// (generated secrets live under /etc/pve/priv, which is never read here).
// No user or key of any host is recorded; only the text of a connection
// error (Host.Error) may name a host's address.
type State struct {
	FormatVersion int `json:"format_version"`
	// Hosts by the stack's host key (not the PVE node name).
	Hosts map[string]*Host `json:"hosts"`
	// Clusters sorted by ID; a standalone node is a cluster of one.
	Clusters []*Cluster `json:"clusters"`
}

// Host is one host of the stack as observed.
type Host struct {
	// Key is the stack's name for the host ("pve1").
	Key string `json:"key"`
	// Node is the PVE node name the host reported about itself.
	Node string `json:"node,omitempty"`
	// Cluster is the ID of the Cluster this host belongs to.
	Cluster string `json:"cluster,omitempty"`
	// Reachable is false when the host could not be observed at all (no
	// connection, or it did not say which node it is). The planner must then
	// treat the containers meant for it as unknown, never as absent.
	Reachable bool `json:"reachable"`
	// Error says why the host is not reachable.
	Error      string `json:"error,omitempty"`
	PVEVersion string `json:"pve_version,omitempty"`
	// Storages sorted by name, as this node sees them.
	Storages []Storage `json:"storages"`
	// Templates maps a template-capable, active storage to the volume IDs
	// of the templates on it, sorted. A storage whose listing failed is
	// absent (and a warning says so).
	Templates map[string][]string `json:"templates"`
	// Bridges are the Linux bridges of the node, sorted; nil when they could
	// not be listed (a warning says so).
	Bridges []string `json:"bridges"`
	// Warnings are partial failures: the host was observed but something on
	// it could not be read.
	Warnings []string `json:"warnings,omitempty"`
}

// Storage is one storage as a node reports it (/nodes/<node>/storage).
type Storage struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Content []string `json:"content"` // sorted: "images", "rootdir", "vztmpl", ...
	Active  bool     `json:"active"`
	Enabled bool     `json:"enabled"`
	Shared  bool     `json:"shared"`
	Total   int64    `json:"total_bytes"`
	Avail   int64    `json:"avail_bytes"`
	// Snapshots says whether container volumes on this storage type can be
	// snapshotted (lvmthin, zfspool, rbd, btrfs; pve-reference §2.9).
	Snapshots bool `json:"snapshots"`
}

// HasContent reports whether the storage may hold content type c.
func (s Storage) HasContent(c string) bool {
	for _, x := range s.Content {
		if x == c {
			return true
		}
	}
	return false
}

// snapshotTypes are the storage types whose container volumes support
// snapshots (pve-reference §2.9).
var snapshotTypes = map[string]bool{"lvmthin": true, "zfspool": true, "rbd": true, "btrfs": true}

// Cluster is a PVE cluster (or a standalone node) and the guests on it.
type Cluster struct {
	// ID identifies the cluster in this State: its cluster name, or the node
	// name of a standalone node (disambiguated with "@<host key>" when two
	// differ but share a name).
	ID string `json:"id"`
	// Name is the PVE cluster name, "" for a standalone node.
	Name string `json:"name,omitempty"`
	// Nodes are the member node names, sorted.
	Nodes []string `json:"nodes"`
	// Hosts are the stack's host keys that are nodes of this cluster, sorted.
	Hosts []string `json:"hosts"`
	// Error says why the guests could not be read from any host of the
	// cluster; Containers and Guests are then empty and mean nothing.
	Error string `json:"error,omitempty"`
	// Containers are the LXC containers, sorted by VMID.
	Containers []*Container `json:"containers"`
	// Guests are every VM and container, sorted by VMID, for vmid, name and
	// IP conflict checks.
	Guests []Guest `json:"guests"`
	// Warnings are partial failures (a config file that could not be read).
	Warnings []string `json:"warnings,omitempty"`
}

// Container is one LXC container with its full config.
type Container struct {
	VMID int    `json:"vmid"`
	Node string `json:"node"`
	// Status is running, stopped or unknown (a guest pvestatd has not
	// reported yet), from /cluster/resources; "" when the container appeared
	// after that list was read.
	Status   string `json:"status,omitempty"`
	Name     string `json:"name,omitempty"`
	Lock     string `json:"lock,omitempty"`
	Template bool   `json:"template,omitempty"`
	HAState  string `json:"hastate,omitempty"`
	// Tags as stored in the config, sorted.
	Tags []string `json:"tags,omitempty"`
	// ConfigText is /etc/pve/nodes/<node>/lxc/<vmid>.conf byte for byte,
	// pending and snapshot sections included.
	ConfigText string `json:"config"`
	// Digest is PVE's digest of the file (for pct set --digest).
	Digest string `json:"digest,omitempty"`
	// ConfigError says why the config could not be read (the container is
	// listed but its file was gone or unreadable); the planner must treat
	// the container as unknown.
	ConfigError string `json:"config_error,omitempty"`

	// Config is ConfigText parsed; nil when ConfigError is set.
	Config *pve.Config `json:"-"`
}

// Description is the container's decoded description ("" without config).
func (c *Container) Description() string {
	if c.Config == nil {
		return ""
	}
	return c.Config.Description
}

// HasTag reports whether the container carries tag t.
func (c *Container) HasTag(t string) bool {
	for _, x := range c.Tags {
		if x == t {
			return true
		}
	}
	return false
}

// Guest is any VM or container of a cluster.
type Guest struct {
	VMID     int    `json:"vmid"`
	Type     string `json:"type"` // lxc|qemu
	Node     string `json:"node"`
	Name     string `json:"name,omitempty"` // hostname (CT) or name (VM)
	Status   string `json:"status,omitempty"`
	Template bool   `json:"template,omitempty"`
	// IPs are the static addresses (without prefix length) of every netN
	// (CT) or ipconfigN (VM) entry, sorted.
	IPs []string `json:"ips,omitempty"`
}

// Host returns the host with the stack key, or nil.
func (s *State) Host(key string) *Host {
	if s == nil {
		return nil
	}
	return s.Hosts[key]
}

// Cluster returns the cluster with the ID, or nil.
func (s *State) Cluster(id string) *Cluster {
	if s == nil {
		return nil
	}
	for _, c := range s.Clusters {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// ClusterOf returns the cluster of the host with the stack key, or nil when
// the host is unknown or was not reachable.
func (s *State) ClusterOf(key string) *Cluster {
	h := s.Host(key)
	if h == nil || h.Cluster == "" {
		return nil
	}
	return s.Cluster(h.Cluster)
}

// HostForNode returns the stack key of the reachable host that is node
// `node` of cluster `clusterID` (the first key, sorted, if several are), or
// "" when no host of the stack is that node. The planner uses it to tell
// which stack host a container actually lives on.
func (s *State) HostForNode(clusterID, node string) string {
	for _, k := range s.HostKeys() {
		h := s.Hosts[k]
		if h.Reachable && h.Cluster == clusterID && h.Node == node {
			return k
		}
	}
	return ""
}

// Container returns the container with the VMID, or nil.
func (c *Cluster) Container(vmid int) *Container {
	i := sort.Search(len(c.Containers), func(i int) bool { return c.Containers[i].VMID >= vmid })
	if i < len(c.Containers) && c.Containers[i].VMID == vmid {
		return c.Containers[i]
	}
	return nil
}

// Guest returns the guest with the VMID.
func (c *Cluster) Guest(vmid int) (Guest, bool) {
	i := sort.Search(len(c.Guests), func(i int) bool { return c.Guests[i].VMID >= vmid })
	if i < len(c.Guests) && c.Guests[i].VMID == vmid {
		return c.Guests[i], true
	}
	return Guest{}, false
}

// HostKeys returns the stack keys of all hosts, sorted.
func (s *State) HostKeys() []string {
	keys := make([]string, 0, len(s.Hosts))
	for k := range s.Hosts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Diagnostics describes what could not be observed: an error per unreachable
// host and per cluster whose guests could not be read, a warning per partial
// failure and per config line PVE itself would warn about. It is derived from
// the State alone, so an offline plan reports the same as the live one.
func (s *State) Diagnostics() diag.Diagnostics {
	var ds diag.Diagnostics
	for _, k := range s.HostKeys() {
		h := s.Hosts[k]
		if !h.Reachable {
			ds = append(ds, diag.Diagnostic{
				Severity: diag.SevError, Class: diag.ClassHost, Host: k,
				Summary: fmt.Sprintf("cannot observe host %s: %s", k, h.Error),
				Detail:  "its containers are planned as unknown; `lxcplan hosts check` shows what is wrong",
			})
		}
		for _, w := range h.Warnings {
			ds = append(ds, diag.Diagnostic{Severity: diag.SevWarning, Class: diag.ClassHost, Host: k, Summary: w})
		}
	}
	for _, c := range s.Clusters {
		host := firstOr(c.Hosts, c.ID)
		if c.Error != "" {
			ds = append(ds, diag.Diagnostic{
				Severity: diag.SevError, Class: diag.ClassHost, Host: host,
				Summary: fmt.Sprintf("cannot read the guests of %s: %s", c.describe(), c.Error),
				Detail:  "the containers of this cluster are planned as unknown",
			})
		}
		for _, w := range c.Warnings {
			ds = append(ds, diag.Diagnostic{Severity: diag.SevWarning, Class: diag.ClassHost, Host: host, Summary: w})
		}
		for _, ct := range c.Containers {
			if ct.ConfigError != "" {
				ds = append(ds, diag.Diagnostic{
					Severity: diag.SevWarning, Class: diag.ClassHost, Host: host,
					Summary: fmt.Sprintf("container %d on %s: %s", ct.VMID, ct.Node, ct.ConfigError),
				})
			}
			if ct.Config != nil {
				for _, w := range ct.Config.Warnings {
					ds = append(ds, diag.Diagnostic{
						Severity: diag.SevWarning, Class: diag.ClassHost, Host: host,
						Summary: fmt.Sprintf("container %d on %s: %s", ct.VMID, ct.Node, w),
					})
				}
			}
		}
	}
	return ds
}

func (c *Cluster) describe() string {
	if c.Name == "" {
		return "node " + c.ID
	}
	return "cluster " + c.Name
}

func firstOr(xs []string, def string) string {
	if len(xs) > 0 {
		return xs[0]
	}
	return def
}

// WriteJSON writes s as the inventory file: indented, fields and slices in a
// stable order, so two exports of the same state are byte-identical.
func (s *State) WriteJSON(w io.Writer) error {
	c := *s
	c.FormatVersion = FormatVersion
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return fmt.Errorf("write inventory: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write inventory: %w", err)
	}
	return nil
}

// ErrFormatVersion is returned by ReadJSON for an inventory file written in
// a format this lxcplan does not read.
var ErrFormatVersion = errors.New("unsupported inventory format_version")

// ReadJSON reads an inventory file written by WriteJSON. It is strict:
// unknown fields and format versions are errors, and every container config
// is parsed again from its text, exactly as Observe parses it.
func ReadJSON(r io.Reader) (*State, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	var probe struct {
		FormatVersion *int `json:"format_version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	if probe.FormatVersion == nil {
		return nil, fmt.Errorf("read inventory: %w: format_version is missing", ErrFormatVersion)
	}
	if *probe.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("read inventory: %w: %d (this lxcplan reads %d)", ErrFormatVersion, *probe.FormatVersion, FormatVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s State
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	return &s, nil
}

// check validates a decoded State and restores what JSON does not carry
// (parsed configs), in the canonical order.
func (s *State) check() error {
	if s.Hosts == nil {
		s.Hosts = map[string]*Host{}
	}
	seen := map[string]bool{}
	for i, c := range s.Clusters {
		if c == nil || c.ID == "" {
			return fmt.Errorf("clusters[%d]: no id", i)
		}
		if seen[c.ID] {
			return fmt.Errorf("cluster %q: listed twice", c.ID)
		}
		seen[c.ID] = true
		for _, ct := range c.Containers {
			if ct == nil || ct.VMID <= 0 || ct.Node == "" {
				return fmt.Errorf("cluster %q: a container without vmid or node", c.ID)
			}
			if ct.ConfigError == "" {
				cfg, err := pve.ParseConfig([]byte(ct.ConfigText))
				if err != nil {
					return fmt.Errorf("container %d: %w", ct.VMID, err)
				}
				ct.Config = cfg
			}
		}
	}
	// Hosts last: they refer to clusters.
	for k, h := range s.Hosts {
		if h == nil {
			return fmt.Errorf("host %q: null", k)
		}
		if h.Key != k {
			return fmt.Errorf("host %q: key %q does not match", k, h.Key)
		}
		if h.Cluster != "" && s.Cluster(h.Cluster) == nil {
			return fmt.Errorf("host %q: unknown cluster %q", k, h.Cluster)
		}
	}
	s.normalize()
	for _, c := range s.Clusters {
		for i := 1; i < len(c.Containers); i++ {
			if c.Containers[i].VMID == c.Containers[i-1].VMID {
				return fmt.Errorf("cluster %q: container %d listed twice", c.ID, c.Containers[i].VMID)
			}
		}
	}
	return nil
}

// normalize puts every slice in its canonical order.
func (s *State) normalize() {
	for _, h := range s.Hosts {
		sort.Slice(h.Storages, func(i, j int) bool { return h.Storages[i].Name < h.Storages[j].Name })
		for _, st := range h.Storages {
			sort.Strings(st.Content)
		}
		for _, v := range h.Templates {
			sort.Strings(v)
		}
		sort.Strings(h.Bridges)
	}
	sort.Slice(s.Clusters, func(i, j int) bool { return s.Clusters[i].ID < s.Clusters[j].ID })
	for _, c := range s.Clusters {
		sort.Strings(c.Nodes)
		sort.Strings(c.Hosts)
		sort.Slice(c.Containers, func(i, j int) bool { return c.Containers[i].VMID < c.Containers[j].VMID })
		sort.Slice(c.Guests, func(i, j int) bool { return c.Guests[i].VMID < c.Guests[j].VMID })
	}
}

// reIPKey matches the config keys that carry guest addresses: netN (CT) and
// ipconfigN (VM cloud-init).
var reIPKey = regexp.MustCompile(`^(net|ipconfig)[0-9]+$`)

// staticIPs returns the static addresses in a config section's netN and
// ipconfigN entries, without prefix length, sorted and de-duplicated. It
// reads the property strings leniently (ip= and ip6= only) so that one bad
// entry does not hide the others; dhcp, manual and auto are not addresses.
func staticIPs(sec *pve.Section) []string {
	if sec == nil {
		return nil
	}
	set := map[string]bool{}
	for k, v := range sec.Options {
		if !reIPKey.MatchString(k) {
			continue
		}
		for _, kv := range strings.Split(v, ",") {
			key, val, ok := strings.Cut(kv, "=")
			if !ok || (key != "ip" && key != "ip6") {
				continue
			}
			if p, err := netip.ParsePrefix(val); err == nil {
				set[p.Addr().String()] = true
			} else if a, err := netip.ParseAddr(val); err == nil {
				set[a.String()] = true
			}
		}
	}
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}
