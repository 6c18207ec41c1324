package pve

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// HAService is one "service <sid> (<node>, <state>)" line of ha-manager
// status. State is the displayed state (started, stopped, starting,
// queued, ignored, error, ...).
type HAService struct {
	SID   string // "ct:100"
	Node  string
	State string
}

// VMID returns the numeric ID of a "ct:N" or "vm:N" SID, 0 otherwise.
func (s HAService) VMID() int { return sidVMID(s.SID) }

func sidVMID(sid string) int {
	_, n, ok := strings.Cut(sid, ":")
	if !ok {
		return 0
	}
	v, _ := strconv.Atoi(n)
	return v
}

// HAManagerStatus is the part of ha-manager status that lxcplan uses.
type HAManagerStatus struct {
	// Quorum is the word after "quorum" ("OK"), "" when absent.
	Quorum   string
	Services []HAService
}

var reHAService = regexp.MustCompile(`^service (\S+) \(([^,]*), (.*)\)\s*$`)

// ParseHAStatus parses ha-manager status. Only quorum and service lines are
// interpreted; master, lrm and fencing lines changed across versions (§11,
// §12) and are skipped.
func ParseHAStatus(out []byte) (*HAManagerStatus, error) {
	st := &HAManagerStatus{}
	for i, l := range lines(out) {
		switch {
		case strings.HasPrefix(l, "quorum "):
			st.Quorum = strings.TrimSpace(strings.TrimPrefix(l, "quorum "))
		case strings.HasPrefix(l, "service "):
			m := reHAService.FindStringSubmatch(l)
			if m == nil {
				return nil, fmt.Errorf("parse ha-manager status: line %d: bad service line: %q", i+1, l)
			}
			// Anything after a further ", " is an addition of a later
			// version; the state itself never contains a comma.
			state, _, _ := strings.Cut(m[3], ", ")
			st.Services = append(st.Services, HAService{SID: m[1], Node: m[2], State: state})
		}
	}
	return st, nil
}

// HAResource is one resource of ha-manager config.
type HAResource struct {
	SID     string            // "ct:100"
	Options map[string]string // state, max_restart, group, comment, ...
}

// VMID returns the numeric ID of the resource.
func (r HAResource) VMID() int { return sidVMID(r.SID) }

// ParseHAConfig parses ha-manager config: "ct:100" then tab-indented
// "key value" lines, resources separated by blank lines. The resources.cfg
// form ("ct: 100") is accepted too.
func ParseHAConfig(out []byte) ([]HAResource, error) {
	var res []HAResource
	for i, l := range lines(out) {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if l[0] == '\t' || l[0] == ' ' {
			if len(res) == 0 {
				return nil, fmt.Errorf("parse ha-manager config: line %d: option before resource: %q", i+1, l)
			}
			k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
			res[len(res)-1].Options[k] = strings.TrimSpace(v)
			continue
		}
		typ, name, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok || typ == "" || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("parse ha-manager config: line %d: bad resource line: %q", i+1, l)
		}
		res = append(res, HAResource{SID: typ + ":" + strings.TrimSpace(name), Options: map[string]string{}})
	}
	return res, nil
}

// PveVersion is the first line of pveversion.
type PveVersion struct {
	Version string // "8.2.4"
	RepoID  string
	Kernel  string // "6.8.8-2-pve"
	// Packages is filled from pveversion --verbose: package → version text.
	Packages map[string]string
}

// Major returns the major version (8, 9).
func (v *PveVersion) Major() int { return majorOf(v.Version) }

var rePveversion = regexp.MustCompile(`^pve-manager/([^/\s]+)/(\S+) \(running kernel: ([^)]*)\)`)

// ParsePveversion parses pveversion, or pveversion --verbose (where the
// manager line is "pve-manager: 8.2.4 (running version: 8.2.4/faa8...)").
func ParsePveversion(out []byte) (*PveVersion, error) {
	v := &PveVersion{}
	for _, l := range lines(out) {
		if m := rePveversion.FindStringSubmatch(l); m != nil {
			v.Version, v.RepoID, v.Kernel = m[1], m[2], m[3]
			continue
		}
		k, val, ok := strings.Cut(l, ": ")
		if !ok || strings.ContainsAny(k, " \t") {
			continue
		}
		if v.Packages == nil {
			v.Packages = map[string]string{}
		}
		v.Packages[k] = val
		if k == "pve-manager" && v.Version == "" {
			if _, rv, ok := strings.Cut(val, "(running version: "); ok {
				ver, repo, _ := strings.Cut(strings.TrimSuffix(rv, ")"), "/")
				v.Version, v.RepoID = ver, repo
			}
		}
		if k == "proxmox-ve" && v.Kernel == "" {
			if _, rk, ok := strings.Cut(val, "(running kernel: "); ok {
				v.Kernel = strings.TrimSuffix(rk, ")")
			}
		}
	}
	if v.Version == "" {
		return nil, fmt.Errorf("parse pveversion: no pve-manager version in %q", out)
	}
	return v, nil
}
