package pvesim

import (
	"context"
	"io"
	"os"
)

// NetSpec describes one container network interface as the runtime needs it.
// IP is "dhcp", "manual" or an address in CIDR form.
type NetSpec struct {
	Name, Bridge, HWAddr, IP, GW, IP6, GW6 string
	MTU, Tag                               int
}

// MountSpec is a host directory (volume dir or bind path) mounted into the container.
type MountSpec struct {
	Source, Target string
	ReadOnly       bool
}

// DeviceSpec is a device node passed through to the container.
type DeviceSpec struct {
	Path     string
	Mode     string
	UID, GID int
}

// StartSpec is everything the runtime needs to make a container run.
type StartSpec struct {
	VMID                     int
	Hostname                 string
	RootDir                  string
	Unprivileged             bool
	Arch                     string
	Memory, Swap, Cores      int
	Nesting                  bool
	Features                 string
	Nets                     []NetSpec
	Mounts                   []MountSpec
	Devices                  []DeviceSpec
	RawLXC                   []string // lxc.* lines from the config
	Nameserver, Searchdomain string
}

// Runtime makes containers real. The simulator owns PVE semantics (config
// files, storages, volumes, locks, validation, output); the runtime only
// runs processes. Volumes are host directories chosen by the simulator.
type Runtime interface {
	// Extract unpacks a template tarball (.tar.zst/.tar.gz/.tar.xz) into rootDir (created, empty), shifting ownership for unprivileged containers.
	Extract(ctx context.Context, template, rootDir string, unprivileged bool) error
	Start(ctx context.Context, s StartSpec) error
	Stop(ctx context.Context, vmid int, force bool) error // force: kill immediately; else clean shutdown with a timeout
	Running(vmid int) bool
	Exec(ctx context.Context, vmid int, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
	Push(ctx context.Context, vmid int, hostSrc, ctDst string, uid, gid int, mode os.FileMode) error
	Pull(ctx context.Context, vmid int, ctSrc, hostDst string) error
	// Interfaces lists the container's live addresses (for pvesh .../interfaces and DHCP discovery).
	Interfaces(ctx context.Context, vmid int) ([]Iface, error)
	Remove(ctx context.Context, vmid int) error // forget runtime state (the simulator deletes volume dirs itself)
}

// Iface is one live container interface; Inet is like "10.77.0.23/24".
type Iface struct{ Name, HWAddr, Inet, Inet6 string }
