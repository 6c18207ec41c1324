package pve

import "fmt"

// PveshGet builds `pvesh get <path> --output-format json [extra...]`. JSON is
// the only output lxcplan parses: the text tables depend on the locale that
// SSH passes through (§8).
func PveshGet(path string, extra ...string) []string {
	out := []string{"pvesh", "get", path, "--output-format", "json"}
	return append(out, extra...)
}

// API paths of §8.
const (
	PathNextID           = "/cluster/nextid"
	PathClusterResources = "/cluster/resources"
	PathClusterStatus    = "/cluster/status"
	PathNodes            = "/nodes"
	PathVersion          = "/version"
)

// PathNodeStorage is /nodes/<node>/storage.
func PathNodeStorage(node string) string { return "/nodes/" + node + "/storage" }

// PathNodeLXC is /nodes/<node>/lxc.
func PathNodeLXC(node string) string { return "/nodes/" + node + "/lxc" }

// PathLXCConfig is /nodes/<node>/lxc/<vmid>/config.
func PathLXCConfig(node string, vmid int) string {
	return fmt.Sprintf("/nodes/%s/lxc/%d/config", node, vmid)
}

// PathLXCStatus is /nodes/<node>/lxc/<vmid>/status/current.
func PathLXCStatus(node string, vmid int) string {
	return fmt.Sprintf("/nodes/%s/lxc/%d/status/current", node, vmid)
}

// PathLXCInterfaces is /nodes/<node>/lxc/<vmid>/interfaces.
func PathLXCInterfaces(node string, vmid int) string {
	return fmt.Sprintf("/nodes/%s/lxc/%d/interfaces", node, vmid)
}

// PveshNextID asks for a free VMID; vmid > 0 asks whether that one is free.
// The answer races with other creators (§10); retry on "already exists".
func PveshNextID(vmid int) []string {
	if vmid > 0 {
		return PveshGet(PathNextID, "--vmid", id(vmid))
	}
	return PveshGet(PathNextID)
}

// PveshClusterResources lists cluster resources of a type (vm, storage,
// node, sdn; "" for all).
func PveshClusterResources(typ string) []string {
	if typ == "" {
		return PveshGet(PathClusterResources)
	}
	return PveshGet(PathClusterResources, "--type", typ)
}

// PveshNodeStorage lists a node's storages, optionally filtered by
// content type (e.g. "rootdir").
func PveshNodeStorage(node, content string) []string {
	if content == "" {
		return PveshGet(PathNodeStorage(node))
	}
	return PveshGet(PathNodeStorage(node), "--content", content)
}
