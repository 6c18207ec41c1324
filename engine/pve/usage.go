package pve

import (
	"fmt"
	"strings"
)

// usages are the short usage lines the CLI prints after a 400 error (§1.2):
// "<tool> <sub> <args>" plus " [OPTIONS]" when the method has optional
// parameters. pct create/status/exec, pveam download and pvesm status are
// quoted in the reference; the others are derived with the same rule.
var usages = map[string]string{
	"pct create":       "pct create <vmid> <ostemplate> [OPTIONS]",
	"pct set":          "pct set <vmid> [OPTIONS]",
	"pct start":        "pct start <vmid> [OPTIONS]",
	"pct stop":         "pct stop <vmid> [OPTIONS]",
	"pct shutdown":     "pct shutdown <vmid> [OPTIONS]",
	"pct reboot":       "pct reboot <vmid> [OPTIONS]",
	"pct destroy":      "pct destroy <vmid> [OPTIONS]",
	"pct exec":         "pct exec <vmid> [<extra-args>] [OPTIONS]",
	"pct push":         "pct push <vmid> <file> <destination> [OPTIONS]",
	"pct pull":         "pct pull <vmid> <path> <destination> [OPTIONS]",
	"pct resize":       "pct resize <vmid> <disk> <size> [OPTIONS]",
	"pct snapshot":     "pct snapshot <vmid> <snapname> [OPTIONS]",
	"pct listsnapshot": "pct listsnapshot <vmid>",
	"pct rollback":     "pct rollback <vmid> <snapname> [OPTIONS]",
	"pct delsnapshot":  "pct delsnapshot <vmid> <snapname> [OPTIONS]",
	"pct migrate":      "pct migrate <vmid> <target> [OPTIONS]",
	"pct unlock":       "pct unlock <vmid>",
	"pct config":       "pct config <vmid> [OPTIONS]",
	"pct pending":      "pct pending <vmid>",
	"pct status":       "pct status <vmid> [OPTIONS]",
	"pct list":         "pct list",
	"pct template":     "pct template <vmid>",
	"pveam update":     "pveam update",
	"pveam available":  "pveam available  [OPTIONS]",
	"pveam download":   "pveam download <storage> <template>",
	"pvesm status":     "pvesm status  [OPTIONS]",
	"pvesm list":       "pvesm list <storage> [OPTIONS]",
	"pvesm path":       "pvesm path <volume>",
}

// Usage returns the short usage line of "<tool> <sub>", e.g.
// Usage("pct", "create"), and false when it is not in the table.
func Usage(tool, sub string) (string, bool) {
	u, ok := usages[tool+" "+sub]
	return u, ok
}

// MACWithPrefix builds a MAC address as PVE generates one for a new netN:
// the datacenter prefix (default "BC:24:11", §2.2) followed by three bytes,
// uppercase hex. The caller supplies the random bytes.
func MACWithPrefix(prefix string, b [3]byte) string {
	if prefix == "" {
		prefix = "BC:24:11"
	}
	return strings.ToUpper(fmt.Sprintf("%s:%02X:%02X:%02X", prefix, b[0], b[1], b[2]))
}
