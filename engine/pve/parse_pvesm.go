package pve

import (
	"fmt"
	"strconv"
	"strings"
)

// StorageStatus is one row of pvesm status (§7.1). Sizes are KiB.
type StorageStatus struct {
	Name   string
	Type   string
	Status string // active|inactive|disabled
	Total  int64
	Used   int64
	Avail  int64
	// Percent is the used percentage; PercentKnown is false for "N/A"
	// (a disabled storage).
	Percent      float64
	PercentKnown bool
}

// Enabled reports whether the storage is not disabled.
func (s StorageStatus) Enabled() bool { return s.Status != "disabled" }

// ParsePvesmStatus parses pvesm status in both header variants (PVE 8
// "Total Used Available", PVE 9 "Total (KiB) ..."): the header line is
// skipped and data rows are split on whitespace.
func ParsePvesmStatus(out []byte) ([]StorageStatus, error) {
	var res []StorageStatus
	header := false
	for i, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if !header {
			if f[0] != "Name" {
				return nil, fmt.Errorf("parse pvesm status: line %d: missing Name header: %q", i+1, l)
			}
			header = true
			continue
		}
		if len(f) < 7 {
			return nil, fmt.Errorf("parse pvesm status: line %d: want 7 fields, got %d: %q", i+1, len(f), l)
		}
		s := StorageStatus{Name: f[0], Type: f[1], Status: f[2]}
		for j, p := range []*int64{&s.Total, &s.Used, &s.Avail} {
			n, err := strconv.ParseInt(f[3+j], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("parse pvesm status: line %d: bad size %q", i+1, f[3+j])
			}
			*p = n
		}
		if f[6] != "N/A" {
			pct, err := strconv.ParseFloat(strings.TrimSuffix(f[6], "%"), 64)
			if err != nil || !strings.HasSuffix(f[6], "%") {
				return nil, fmt.Errorf("parse pvesm status: line %d: bad percentage %q", i+1, f[6])
			}
			s.Percent, s.PercentKnown = pct, true
		}
		res = append(res, s)
	}
	return res, nil
}

// Volume is one row of pvesm list (§7.2).
type Volume struct {
	VolID  string
	Format string // raw, subvol, tzst, txz, tgz, tbz2, tar, ...
	Type   string // rootdir, images, vztmpl, iso, backup, ...
	Size   int64  // bytes
	VMID   int    // 0 when the volume belongs to no guest
}

// ParsePvesmList parses pvesm list <storage>.
func ParsePvesmList(out []byte) ([]Volume, error) {
	var res []Volume
	header := false
	for i, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if !header {
			if f[0] != "Volid" {
				return nil, fmt.Errorf("parse pvesm list: line %d: missing Volid header: %q", i+1, l)
			}
			header = true
			continue
		}
		if len(f) < 4 || len(f) > 5 {
			return nil, fmt.Errorf("parse pvesm list: line %d: want 4 or 5 fields, got %d: %q", i+1, len(f), l)
		}
		v := Volume{VolID: f[0], Format: f[1], Type: f[2]}
		n, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parse pvesm list: line %d: bad size %q", i+1, f[3])
		}
		v.Size = n
		if len(f) == 5 {
			if v.VMID, err = parseVMID(f[4]); err != nil {
				return nil, fmt.Errorf("parse pvesm list: line %d: %w", i+1, err)
			}
		}
		res = append(res, v)
	}
	return res, nil
}

// ParsePvesmPath parses pvesm path: the path on one line.
func ParsePvesmPath(out []byte) (string, error) {
	p := strings.TrimSpace(string(out))
	if p == "" || strings.Contains(p, "\n") {
		return "", fmt.Errorf("parse pvesm path: want one line, got %q", out)
	}
	return p, nil
}
