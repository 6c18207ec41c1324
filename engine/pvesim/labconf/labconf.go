// Package labconf is the description of a running lab that `pvelab up`
// writes and every PVE command inside a lab node reads. It is the only
// thing the lab infrastructure and the simulator share, so it holds plain
// data and the file codec, nothing else.
package labconf

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// DefaultPath is where `pvelab up` writes the lab description; PVE
// commands read it unless env PVELAB_CONFIG names another file.
const DefaultPath = "/var/lib/pvelab/lab.json"

// EnvConfig and EnvNode are the variables a node's sshd sets for every
// session so the PVE tools know which lab and which node they act for.
const (
	EnvConfig = "PVELAB_CONFIG"
	EnvNode   = "PVELAB_NODE"
)

// ErrInvalid marks a lab description that decodes but cannot describe a
// usable lab (no nodes, duplicate names).
var ErrInvalid = errors.New("invalid lab description")

// Lab describes one running lab.
type Lab struct {
	Root          string // lab state dir, e.g. /var/lib/pvelab
	PVEVersion    int    // 8 or 9: selects output variants
	ClusterDir    string // host path of the shared cluster dir, mounted at /etc/pve inside each node's namespace
	Bridge        string // vmbr0
	Subnet        string // e.g. 10.77.0.0/24
	Gateway       string // bridge address, e.g. 10.77.0.1
	DNS           string // resolver for containers (the bridge address)
	AptProxy      string // http://10.77.0.1:3142 (apt-cacher-ng) or ""
	TemplateCache string // dir with built templates
	CommandLog    string // JSON-lines command log path
	FaultsFile    string // JSON fault rules path
	Runtime       string // "lxc" (the lab) or "memory"
	Nodes         []Node
}

// Node is one lab node: an sshd in its own mount namespace.
type Node struct {
	Name        string // pve1, pve2
	Host        string // 127.0.0.1
	Port        int    // sshd port
	User        string // root
	LXCPath     string // per-node lxcpath for lxc-start -P
	StorageRoot string // per-node storage base dir on the host, mounted at /var/lib/vz inside the namespace
}

// Load reads a lab description written by [Lab.Save].
func Load(path string) (*Lab, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read lab description: %w", err)
	}
	var l Lab
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("decode lab description %s: %w", path, err)
	}
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("lab description %s: %w", path, err)
	}
	return &l, nil
}

func (l *Lab) validate() error {
	seen := map[string]bool{}
	for _, n := range l.Nodes {
		if n.Name == "" {
			return fmt.Errorf("%w: node without a name", ErrInvalid)
		}
		if seen[n.Name] {
			return fmt.Errorf("%w: node %q listed twice", ErrInvalid, n.Name)
		}
		seen[n.Name] = true
	}
	return nil
}

// Save writes the description atomically (temp file + rename) so a
// concurrent reader never sees a half-written file.
func (l *Lab) Save(path string) error {
	if err := l.validate(); err != nil {
		return fmt.Errorf("save lab description: %w", err)
	}
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("encode lab description: %w", err)
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save lab description: %w", err)
	}
	f, err := os.CreateTemp(dir, ".lab-*.json")
	if err != nil {
		return fmt.Errorf("save lab description: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("save lab description: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("save lab description: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save lab description: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save lab description: %w", err)
	}
	return nil
}

// Node returns the node called name.
func (l *Lab) Node(name string) (*Node, bool) {
	for i := range l.Nodes {
		if l.Nodes[i].Name == name {
			return &l.Nodes[i], true
		}
	}
	return nil, false
}
