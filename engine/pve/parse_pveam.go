package pve

import (
	"fmt"
	"strconv"
	"strings"
)

// AvailableTemplate is one line of pveam available.
type AvailableTemplate struct {
	Section  string // system|mail|turnkeylinux
	Template string // "debian-12-standard_12.7-1_amd64.tar.zst"
	// Arch is set only by pve-manager >= 9.2.8, which prints a third column.
	Arch string
}

// ParsePveamAvailable parses both layouts of pveam available (§6.2) by
// splitting on whitespace: section, template, optional arch. Empty output
// (catalog never downloaded) gives no entries.
func ParsePveamAvailable(out []byte) ([]AvailableTemplate, error) {
	var res []AvailableTemplate
	for i, l := range lines(out) {
		f := strings.Fields(l)
		switch {
		case len(f) == 0:
			continue
		case len(f) < 2:
			return nil, fmt.Errorf("parse pveam available: line %d: want section and template: %q", i+1, l)
		}
		t := AvailableTemplate{Section: f[0], Template: f[1]}
		if len(f) > 2 {
			t.Arch = f[2]
		}
		res = append(res, t)
	}
	return res, nil
}

// StoredTemplate is one row of pveam list <storage>.
type StoredTemplate struct {
	VolID string // "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
	// SizeMB is the printed size in MiB (two decimals), so Size is approximate.
	SizeMB float64
	Size   int64
}

// ParsePveamList parses pveam list (§6.3); a storage without templates
// prints only the header.
func ParsePveamList(out []byte) ([]StoredTemplate, error) {
	var res []StoredTemplate
	header := false
	for i, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if !header {
			if f[0] != "NAME" {
				return nil, fmt.Errorf("parse pveam list: line %d: missing NAME header: %q", i+1, l)
			}
			header = true
			continue
		}
		if len(f) < 2 {
			return nil, fmt.Errorf("parse pveam list: line %d: want volid and size: %q", i+1, l)
		}
		mb, err := strconv.ParseFloat(strings.TrimSuffix(f[1], "MB"), 64)
		if err != nil || !strings.HasSuffix(f[1], "MB") {
			return nil, fmt.Errorf("parse pveam list: line %d: bad size %q", i+1, f[1])
		}
		res = append(res, StoredTemplate{VolID: f[0], SizeMB: mb, Size: int64(mb * float64(MiB))})
	}
	return res, nil
}

// PveamUpdateFailed reports whether pveam update's output says it failed;
// the command exits 0 either way (§6.1).
func PveamUpdateFailed(stdout, stderr []byte) bool {
	return strings.Contains(string(stderr), "update failed") || !strings.Contains(string(stdout), "update successful")
}
