package pve

// HASID is the HA resource ID of a container: "ct:<vmid>".
func HASID(vmid int) string { return "ct:" + id(vmid) }

// HAOptions are the resource options of ha-manager add/set (§11).
type HAOptions struct {
	State       string // started|stopped|enabled|disabled|ignored
	MaxRestart  *int
	MaxRelocate *int
	Failback    OptBool
	Comment     string
	// Group is rejected on PVE 9 once groups have been migrated to rules.
	Group string
}

func (h HAOptions) add(o *optList) {
	o.str("comment", h.Comment)
	o.flag("failback", h.Failback)
	o.str("group", h.Group)
	o.nump("max_relocate", h.MaxRelocate)
	o.nump("max_restart", h.MaxRestart)
	o.str("state", h.State)
}

// HAAdd builds `ha-manager add ct:<vmid> [OPTIONS]`.
func HAAdd(vmid int, h HAOptions) []string {
	var o optList
	h.add(&o)
	return o.argv("ha-manager", "add", HASID(vmid))
}

// HASet builds `ha-manager set ct:<vmid> [OPTIONS]`.
func HASet(vmid int, h HAOptions) []string {
	var o optList
	h.add(&o)
	return o.argv("ha-manager", "set", HASID(vmid))
}

// HARemove builds `ha-manager remove ct:<vmid> [--purge 0|1]`.
func HARemove(vmid int, purge OptBool) []string {
	var o optList
	o.flag("purge", purge)
	return o.argv("ha-manager", "remove", HASID(vmid))
}

// HAStatus builds `ha-manager status [--verbose 1]`.
func HAStatus(verbose bool) []string {
	var o optList
	o.on("verbose", verbose)
	return o.argv("ha-manager", "status")
}

// HAConfig builds `ha-manager config`.
func HAConfig() []string { return []string{"ha-manager", "config"} }
