package pve

// PveamUpdate builds `pveam update`. It exits 0 even when the update failed
// (§6.1); check its output with [PveamUpdateFailed].
func PveamUpdate() []string { return []string{"pveam", "update"} }

// PveamAvailable builds `pveam available [--section S]`; section is
// system|mail|turnkeylinux or "" for all.
func PveamAvailable(section string) []string {
	var o optList
	o.str("section", section)
	return o.argv("pveam", "available")
}

// PveamList builds `pveam list <storage>`.
func PveamList(storage string) []string { return []string{"pveam", "list", storage} }

// PveamDownload builds `pveam download <storage> <template>`. It exits 0 even
// when the download task failed; verify with pveam list.
func PveamDownload(storage, template string) []string {
	return []string{"pveam", "download", storage, template}
}

// PveamRemove builds `pveam remove <volid>`.
func PveamRemove(volid string) []string { return []string{"pveam", "remove", volid} }
