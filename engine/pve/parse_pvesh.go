package pve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Flex is a number in pvesh JSON. Perl serialises some numbers as strings
// (nextid is the documented case, §8), so Flex accepts both 100 and "100",
// and null or "" as zero.
type Flex float64

// UnmarshalJSON accepts a JSON number, a numeric string, "" or null.
func (f *Flex) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*f = 0
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		s = strings.TrimSpace(str)
		if s == "" {
			*f = 0
			return nil
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %s", b)
	}
	*f = Flex(v)
	return nil
}

// Int returns the value truncated to an int64.
func (f Flex) Int() int64 { return int64(f) }

func decodeJSON(what string, out []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(out))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("parse %s: %w", what, err)
	}
	return nil
}

// decodeList decodes a JSON array of T; null (as for a stopped CT's
// interfaces) gives nil.
func decodeList[T any](what string, out []byte) ([]T, error) {
	var l []T
	if err := decodeJSON(what, out, &l); err != nil {
		return nil, err
	}
	return l, nil
}

// ParseNextID parses `pvesh get /cluster/nextid` in JSON ("100" or 100) or
// text ("100\n") form.
func ParseNextID(out []byte) (int, error) {
	var f Flex
	// Text output ("100\n") and a JSON number parse alike.
	s := bytes.TrimSpace(out)
	if err := f.UnmarshalJSON(s); err != nil {
		return 0, fmt.Errorf("parse nextid: %w", err)
	}
	if f < 100 || float64(f) != float64(int64(f)) || f > 999999999 {
		return 0, fmt.Errorf("parse nextid: %s is not a valid vmid", s)
	}
	return int(f), nil
}

// CTStatus is the state of one container as reported by pct status
// --verbose, pvesh /nodes/<n>/lxc and .../status/current (§3.2, §8).
// Sizes are bytes, Uptime seconds, CPU a fraction of Cpus.
type CTStatus struct {
	VMID      int
	Status    string
	Name      string
	Type      string
	Lock      string
	Tags      string // "a;b"
	Template  bool
	CPUs      float64
	CPU       float64
	MaxMem    int64
	Mem       int64
	MaxSwap   int64
	Swap      int64
	MaxDisk   int64
	Disk      int64
	NetIn     int64
	NetOut    int64
	DiskRead  int64
	DiskWrite int64
	Uptime    int64
	PID       int
	// HAManaged comes from status/current's "ha" object.
	HAManaged bool
	HAState   string
	// Extra keeps every other key (pressure*, future fields) as text.
	Extra map[string]string
}

// set assigns one key from its text form.
func (s *CTStatus) set(k, v string) error {
	num := func() (float64, error) {
		if v == "" {
			return 0, nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("parse status: %s: not a number: %q", k, v)
		}
		return f, nil
	}
	ints := map[string]*int64{
		"maxmem": &s.MaxMem, "mem": &s.Mem, "maxswap": &s.MaxSwap, "swap": &s.Swap, "maxdisk": &s.MaxDisk,
		"disk": &s.Disk, "netin": &s.NetIn, "netout": &s.NetOut, "diskread": &s.DiskRead,
		"diskwrite": &s.DiskWrite, "uptime": &s.Uptime,
	}
	switch k {
	case "status":
		s.Status = v
	case "name":
		s.Name = v
	case "type":
		s.Type = v
	case "lock":
		s.Lock = v
	case "tags":
		s.Tags = v
	case "vmid", "pid", "template", "cpus", "cpu":
		f, err := num()
		if err != nil {
			return err
		}
		switch k {
		case "vmid":
			s.VMID = int(f)
		case "pid":
			s.PID = int(f)
		case "template":
			s.Template = f != 0
		case "cpus":
			s.CPUs = f
		case "cpu":
			s.CPU = f
		}
	default:
		p, ok := ints[k]
		if !ok {
			if s.Extra == nil {
				s.Extra = map[string]string{}
			}
			s.Extra[k] = v
			return nil
		}
		f, err := num()
		if err != nil {
			return err
		}
		*p = int64(f)
	}
	return nil
}

// fromJSON fills s from a decoded pvesh object.
func (s *CTStatus) fromJSON(m map[string]json.RawMessage) error {
	for k, raw := range m {
		if k == "ha" {
			var ha struct {
				Managed Flex   `json:"managed"`
				State   string `json:"state"`
			}
			if err := json.Unmarshal(raw, &ha); err == nil {
				s.HAManaged, s.HAState = ha.Managed != 0, ha.State
			}
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		var text string
		switch x := v.(type) {
		case nil:
			continue
		case string:
			text = x
		case float64:
			text = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			text = boolStr(x)
		default:
			text = string(raw)
		}
		if err := s.set(k, text); err != nil {
			return err
		}
	}
	return nil
}

// ParseLXCStatus parses `pvesh get /nodes/<n>/lxc/<id>/status/current`.
func ParseLXCStatus(out []byte) (*CTStatus, error) {
	var m map[string]json.RawMessage
	if err := decodeJSON("lxc status", out, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("parse lxc status: null")
	}
	s := &CTStatus{}
	if err := s.fromJSON(m); err != nil {
		return nil, fmt.Errorf("parse lxc status: %w", err)
	}
	return s, nil
}

// ParseNodeLXC parses `pvesh get /nodes/<n>/lxc` (this node's CTs only).
func ParseNodeLXC(out []byte) ([]CTStatus, error) {
	var ms []map[string]json.RawMessage
	if err := decodeJSON("node lxc list", out, &ms); err != nil {
		return nil, err
	}
	res := make([]CTStatus, 0, len(ms))
	for _, m := range ms {
		var s CTStatus
		if err := s.fromJSON(m); err != nil {
			return nil, fmt.Errorf("parse node lxc list: %w", err)
		}
		res = append(res, s)
	}
	return res, nil
}

// Resource is one entry of /cluster/resources. For a new guest, until
// pvestatd has written data (~10 s), Status is "unknown" and name and usage
// are missing (§8).
type Resource struct {
	ID        string `json:"id"`   // "lxc/100", "qemu/101", "storage/pve/local", "node/pve"
	Type      string `json:"type"` // lxc|qemu|storage|node|sdn|pool
	VMID      Flex   `json:"vmid"`
	Node      string `json:"node"`
	Status    string `json:"status"`
	Name      string `json:"name"`
	Uptime    Flex   `json:"uptime"`
	Template  Flex   `json:"template"`
	MaxCPU    Flex   `json:"maxcpu"`
	CPU       Flex   `json:"cpu"`
	MaxMem    Flex   `json:"maxmem"`
	Mem       Flex   `json:"mem"`
	MaxDisk   Flex   `json:"maxdisk"`
	Disk      Flex   `json:"disk"`
	NetIn     Flex   `json:"netin"`
	NetOut    Flex   `json:"netout"`
	DiskRead  Flex   `json:"diskread"`
	DiskWrite Flex   `json:"diskwrite"`
	Pool      string `json:"pool"`
	Lock      string `json:"lock"`
	Tags      string `json:"tags"`
	HAState   string `json:"hastate"`
	// Storage entries.
	Storage    string `json:"storage"`
	PluginType string `json:"plugintype"`
	Content    string `json:"content"`
	Shared     Flex   `json:"shared"`
}

// ParseClusterResources parses `pvesh get /cluster/resources [--type T]`.
func ParseClusterResources(out []byte) ([]Resource, error) {
	return decodeList[Resource]("cluster resources", out)
}

// IPAddress is one address of an interface.
type IPAddress struct {
	Address string `json:"ip-address"`
	Type    string `json:"ip-address-type"` // inet|inet6
	Prefix  Flex   `json:"prefix"`
}

// Interface is one entry of /nodes/<n>/lxc/<id>/interfaces.
type Interface struct {
	Name        string      `json:"name"`
	HWAddr      string      `json:"hwaddr"`
	Inet        string      `json:"inet"`
	Inet6       string      `json:"inet6"`
	IPAddresses []IPAddress `json:"ip-addresses"`
}

// ParseInterfaces parses the interfaces call; null (a stopped CT) gives nil.
func ParseInterfaces(out []byte) ([]Interface, error) {
	return decodeList[Interface]("lxc interfaces", out)
}

// Version is /version.
type Version struct {
	Release string `json:"release"`
	RepoID  string `json:"repoid"`
	Version string `json:"version"`
	Console string `json:"console"`
}

// Major returns the major version number (8, 9), 0 if unknown.
func (v *Version) Major() int { return majorOf(v.Version) }

func majorOf(s string) int {
	n, _ := strconv.Atoi(strings.SplitN(s, ".", 2)[0])
	return n
}

// ParseVersion parses `pvesh get /version`.
func ParseVersion(out []byte) (*Version, error) {
	var v Version
	if err := decodeJSON("version", out, &v); err != nil {
		return nil, err
	}
	if v.Version == "" {
		return nil, fmt.Errorf("parse version: no version field")
	}
	return &v, nil
}

// ClusterStatusEntry is one entry of /cluster/status: one "cluster" entry
// (absent on a standalone node) and one "node" entry per member.
type ClusterStatusEntry struct {
	Type string `json:"type"` // cluster|node
	ID   string `json:"id"`
	Name string `json:"name"`
	// Cluster entries.
	Nodes   Flex `json:"nodes"`
	Quorate Flex `json:"quorate"`
	Version Flex `json:"version"`
	// Node entries.
	NodeID Flex   `json:"nodeid"`
	IP     string `json:"ip"`
	Online Flex   `json:"online"`
	Local  Flex   `json:"local"`
	Level  string `json:"level"`
}

// ParseClusterStatus parses `pvesh get /cluster/status`.
func ParseClusterStatus(out []byte) ([]ClusterStatusEntry, error) {
	return decodeList[ClusterStatusEntry]("cluster status", out)
}

// NodeInfo is one entry of /nodes. Stats are missing for offline nodes.
type NodeInfo struct {
	Node           string `json:"node"`
	Status         string `json:"status"` // online|offline|unknown
	ID             string `json:"id"`
	Type           string `json:"type"`
	CPU            Flex   `json:"cpu"`
	MaxCPU         Flex   `json:"maxcpu"`
	Mem            Flex   `json:"mem"`
	MaxMem         Flex   `json:"maxmem"`
	Disk           Flex   `json:"disk"`
	MaxDisk        Flex   `json:"maxdisk"`
	Uptime         Flex   `json:"uptime"`
	Level          string `json:"level"`
	SSLFingerprint string `json:"ssl_fingerprint"`
}

// ParseNodes parses `pvesh get /nodes`.
func ParseNodes(out []byte) ([]NodeInfo, error) {
	return decodeList[NodeInfo]("nodes", out)
}

// NodeStorage is one entry of /nodes/<n>/storage. Sizes are bytes.
type NodeStorage struct {
	Storage      string `json:"storage"`
	Type         string `json:"type"`
	Content      string `json:"content"` // "rootdir,images"
	Active       Flex   `json:"active"`
	Enabled      Flex   `json:"enabled"`
	Shared       Flex   `json:"shared"`
	Total        Flex   `json:"total"`
	Used         Flex   `json:"used"`
	Avail        Flex   `json:"avail"`
	UsedFraction Flex   `json:"used_fraction"`
}

// HasContent reports whether the storage allows content type c.
func (s *NodeStorage) HasContent(c string) bool {
	for _, x := range SplitList(s.Content) {
		if x == c {
			return true
		}
	}
	return false
}

// ParseNodeStorage parses `pvesh get /nodes/<n>/storage`.
func ParseNodeStorage(out []byte) ([]NodeStorage, error) {
	return decodeList[NodeStorage]("node storage", out)
}

// ParseLXCConfigJSON parses `pvesh get /nodes/<n>/lxc/<id>/config`: the
// description comes raw (real newlines), lxc.* entries as [key, value]
// pairs, numbers as JSON numbers. It returns the settings as a section and
// the config digest separately.
func ParseLXCConfigJSON(out []byte) (*Section, string, error) {
	var m map[string]json.RawMessage
	if err := decodeJSON("lxc config", out, &m); err != nil {
		return nil, "", err
	}
	if m == nil {
		return nil, "", fmt.Errorf("parse lxc config: null")
	}
	s := NewSection()
	digest := ""
	for k, raw := range m {
		switch k {
		case "lxc":
			var pairs [][]string
			if err := json.Unmarshal(raw, &pairs); err != nil {
				return nil, "", fmt.Errorf("parse lxc config: lxc: %w", err)
			}
			for _, p := range pairs {
				if len(p) == 2 {
					s.Raw = append(s.Raw, RawLine{Key: p[0], Value: p[1]})
				}
			}
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, "", fmt.Errorf("parse lxc config: %s: %w", k, err)
		}
		var text string
		switch x := v.(type) {
		case nil:
			continue
		case string:
			text = x
		case float64:
			text = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			text = boolStr(x)
		default:
			return nil, "", fmt.Errorf("parse lxc config: %s: unexpected %s", k, raw)
		}
		switch k {
		case "digest":
			digest = text
		case "description":
			s.Description = text
		default:
			s.Options[k] = text
		}
	}
	return s, digest, nil
}
