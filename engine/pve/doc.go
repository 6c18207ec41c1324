// Package pve holds the Proxmox VE formats lxcplan speaks: property strings
// (net0, rootfs, mp0, features, startup, dev0), the container config file
// /etc/pve/lxc/<ID>.conf, argv builders for pct, pveam, pvesm, pvesh,
// ha-manager and pveversion, parsers for their outputs, and the classifier
// that turns their stderr into typed errors.
//
// The package does no I/O. It is shared by lxcplan (which builds commands and
// parses what comes back) and by the PVE simulator (engine/pvesim, which must
// parse the same inputs and print the same outputs), so every format here
// follows docs/pve-reference.md byte for byte, including PVE's exact error
// texts. Section numbers (§N) in comments refer to that document.
package pve
