package model

import "github.com/lxcplan/lxcplan/engine/diag"

// Desired is the whole desired state of a stack after precedence.
type Desired struct {
	Stack *Stack
	// Containers sorted by name.
	Containers []*Container
	// Provenance maps a full path ("containers.db.resources.memory") to the
	// layer its value came from.
	Provenance map[string]Source
}

// Container returns the resolved container called name, or nil.
func (d *Desired) Container(name string) *Container {
	for _, c := range d.Containers {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Container is one container with every setting resolved.
type Container struct {
	Name string
	Pos  diag.Pos

	Recipe RecipeRef
	// Loaded is nil when the recipe could not be loaded (git source).
	Loaded *Recipe

	Host        string
	VMID        int // 0: allocated at apply time
	Hostname    string
	Description string

	OS, Version, Arch string
	Resources         Resources
	Unprivileged      bool
	Features          Features
	Tun               bool
	GPU               string
	Tags              []string
	Ports             []int
	Nameserver        string
	Searchdomain      string
	Timezone          string
	Storage           string
	TemplateStorage   string

	Network       Network
	ExtraNetworks []Network
	Mounts        []Mount
	Devices       []Device

	OnBoot     bool
	Startup    Startup
	Protection bool
	HA         *HA

	DependsOn []Dependency
	// Params holds every recipe param with a value: from the stack, else the
	// recipe default. Secrets to be generated have Generate set and no value.
	Params map[string]ResolvedParam

	// Provenance maps a setting path ("resources.memory", "params.x") to its source.
	Provenance map[string]Source
}

// ParamNames returns the resolved param names in sorted order.
func (c *Container) ParamNames() []string { return sortedKeys(c.Params) }

// ResolvedParam is a param value after precedence. Value is a string template
// (references such as ${containers.db.ip} kept as written); it is empty when
// the value is generated.
type ResolvedParam struct {
	Value    string
	Type     ParamType
	Secret   bool
	Generate *Generate
}

// Resources are the container's sizes: cores, memory and swap in MiB, disk in GiB.
type Resources struct {
	Cores  int
	Memory int // MiB
	Swap   int // MiB
	Disk   float64
}

// Features are PVE container features (pct --features).
type Features struct {
	Nesting, Keyctl, Fuse, Mknod bool
	Mount                        []string
}

// Network is a container network interface (net0 is Container.Network).
type Network struct {
	Name     string // eth0 for the main interface
	Bridge   string
	IP       string // CIDR | dhcp | manual | ""
	GW       string
	IP6      string
	GW6      string
	VLAN     int
	MTU      int
	MAC      string
	Firewall bool
	Rate     float64
	Pos      diag.Pos
}

// Mount is a bind mount (HostPath set) or a volume (Storage set).
type Mount struct {
	HostPath string
	Storage  string
	Size     float64 // GiB, volumes only
	Path     string
	ReadOnly bool
	Backup   *bool
	Shared   bool
	Pos      diag.Pos
}

// IsBind reports whether m is a bind mount of a host path.
func (m Mount) IsBind() bool { return m.HostPath != "" }

// Device is a device passed through to the container (devN).
type Device struct {
	Path     string
	Mode     string
	UID, GID *int
	Pos      diag.Pos
}

// Startup is the boot order and delays (pct --startup); nil fields are unset.
type Startup struct {
	Order, Up, Down *int
}

// HA is the container's high-availability resource (ha-manager).
type HA struct {
	State       string
	Group       string
	MaxRestart  *int
	MaxRelocate *int
}
