package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
)

// clusterName is the name the lab's cluster reports in .members.
const clusterName = "pvelab"

// storageCfg is the cluster's storage.cfg as a fresh Proxmox install with
// lvm-thin and ZFS would have it, plus a plain directory storage for
// rootdirs. The simulator maps each storage to a directory of the node.
const storageCfg = `dir: local
	path /var/lib/vz
	content iso,vztmpl,backup

lvmthin: local-lvm
	thinpool data
	vgname pve
	content rootdir,images

zfspool: local-zfs
	pool rpool/data
	sparse
	content images,rootdir

dir: local-dir
	path /var/lib/pvelab-dir
	content rootdir
	shared 0

`

// writeClusterDir creates the cluster directory skeleton. The simulator
// writes everything else (guest configs, locks, HA state).
func writeClusterDir(l *labconf.Lab) error {
	c := l.ClusterDir
	dirs := []struct {
		rel  string
		mode os.FileMode
	}{
		{"", 0o755}, {"ha", 0o755}, {"priv", 0o700}, {"priv/lock", 0o700},
		{"nodes", 0o755}, {"virtual-guest", 0o755}, {"sdn", 0o755}, {"firewall", 0o755},
		// Mount points for the per-node binds of nodes/<node>/lxc and
		// nodes/<node>, standing in for pmxcfs's lxc and local symlinks.
		{"lxc", 0o755}, {"local", 0o755},
	}
	for _, n := range l.Nodes {
		dirs = append(dirs,
			struct {
				rel  string
				mode os.FileMode
			}{"nodes/" + n.Name, 0o755},
			struct {
				rel  string
				mode os.FileMode
			}{"nodes/" + n.Name + "/lxc", 0o755},
			struct {
				rel  string
				mode os.FileMode
			}{"nodes/" + n.Name + "/qemu-server", 0o755})
	}
	for _, d := range dirs {
		p := filepath.Join(c, d.rel)
		if err := os.MkdirAll(p, d.mode); err != nil {
			return fmt.Errorf("cluster dir: %w", err)
		}
		if err := os.Chmod(p, d.mode); err != nil {
			return fmt.Errorf("cluster dir: %w", err)
		}
	}
	files := map[string]string{
		"storage.cfg":    storageCfg,
		"datacenter.cfg": "keyboard: en-us\n",
		"user.cfg":       "user:root@pam:1:0:::root@localhost::\n",
	}
	for name, content := range files {
		p := filepath.Join(c, name)
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			return fmt.Errorf("cluster dir: %w", err)
		}
	}
	// .members in the shared dir describes the first node; each node's
	// namespace binds its own copy over it, since pmxcfs answers
	// "nodename" per node.
	for i, n := range l.Nodes {
		b, err := membersJSON(l, n.Name)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(l.Root, "nodes", n.Name, "members"), b, 0o640); err != nil {
			return fmt.Errorf("cluster dir: %w", err)
		}
		if i == 0 {
			if err := os.WriteFile(filepath.Join(c, ".members"), b, 0o640); err != nil {
				return fmt.Errorf("cluster dir: %w", err)
			}
		}
	}
	return nil
}

type memberNode struct {
	ID     int    `json:"id"`
	Online int    `json:"online"`
	IP     string `json:"ip"`
}

type members struct {
	NodeName string `json:"nodename"`
	Version  int    `json:"version"`
	Cluster  struct {
		Name    string `json:"name"`
		Version int    `json:"version"`
		Nodes   int    `json:"nodes"`
		Quorate int    `json:"quorate"`
	} `json:"cluster"`
	NodeList map[string]memberNode `json:"nodelist"`
}

// membersJSON renders /etc/pve/.members as pmxcfs does for node self.
func membersJSON(l *labconf.Lab, self string) ([]byte, error) {
	m := members{NodeName: self, Version: len(l.Nodes) + 2, NodeList: map[string]memberNode{}}
	m.Cluster.Name = clusterName
	m.Cluster.Version = len(l.Nodes)
	m.Cluster.Nodes = len(l.Nodes)
	m.Cluster.Quorate = 1
	for i, n := range l.Nodes {
		m.NodeList[n.Name] = memberNode{ID: i + 1, Online: 1, IP: n.Host}
	}
	b, err := json.MarshalIndent(m, "", "")
	if err != nil {
		return nil, fmt.Errorf("encode .members: %w", err)
	}
	return append(b, '\n'), nil
}
