package pve

import "strings"

// StatusQuery holds the filters of pvesm status (§7.1).
type StatusQuery struct {
	// Content keeps only enabled storages allowing any of these types.
	Content []string
	Storage string
	Enabled bool
	Target  string
}

// PvesmStatus builds `pvesm status [OPTIONS]`.
func PvesmStatus(q StatusQuery) []string {
	var o optList
	o.str("content", strings.Join(q.Content, ","))
	o.on("enabled", q.Enabled)
	o.str("storage", q.Storage)
	o.str("target", q.Target)
	return o.argv("pvesm", "status")
}

// PvesmList builds `pvesm list <storage> [--content T] [--vmid N]`; vmid 0
// means no filter.
func PvesmList(storage, content string, vmid int) []string {
	var o optList
	o.str("content", content)
	o.num("vmid", vmid)
	return o.argv("pvesm", "list", storage)
}

// PvesmPath builds `pvesm path <volid>`.
func PvesmPath(volid string) []string { return []string{"pvesm", "path", volid} }
