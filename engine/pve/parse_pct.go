package pve

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// lines splits command output into lines without their "\n" (and a "\r"
// that a PTY may add), dropping a final empty line.
func lines(out []byte) []string {
	s := strings.ReplaceAll(string(out), "\r\n", "\n")
	ls := strings.Split(s, "\n")
	if len(ls) > 0 && ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	return ls
}

func parseVMID(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("invalid vmid %q", s)
	}
	return n, nil
}

// ListEntry is one row of pct list (§3.1).
type ListEntry struct {
	VMID   int
	Status string // running|stopped
	Lock   string // "" when not locked
	Name   string
}

// ParsePctList parses pct list. Empty output means no containers (PVE prints
// not even the header then). Rows are split on whitespace, not on the
// printf columns: a long lock such as "snapshot-delete" or a name over 20
// characters shifts the columns.
func ParsePctList(out []byte) ([]ListEntry, error) {
	var res []ListEntry
	header := false
	for i, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if !header {
			if f[0] != "VMID" {
				return nil, fmt.Errorf("parse pct list: line %d: missing VMID header: %q", i+1, l)
			}
			header = true
			continue
		}
		var e ListEntry
		switch len(f) {
		case 3:
			e.Name = f[2]
		case 4:
			e.Lock, e.Name = f[2], f[3]
		default:
			return nil, fmt.Errorf("parse pct list: line %d: want 3 or 4 fields, got %d: %q", i+1, len(f), l)
		}
		var err error
		if e.VMID, err = parseVMID(f[0]); err != nil {
			return nil, fmt.Errorf("parse pct list: line %d: %w", i+1, err)
		}
		e.Status = f[1]
		res = append(res, e)
	}
	return res, nil
}

// parseKV parses "key: value" lines (pct status --verbose, pct config).
func parseKV(what string, out []byte, each func(k, v string)) error {
	for i, l := range lines(out) {
		if strings.TrimSpace(l) == "" {
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return fmt.Errorf("parse %s: line %d: not a key: value line: %q", what, i+1, l)
		}
		each(k, strings.TrimSpace(v))
	}
	return nil
}

// ParsePctStatus parses plain pct status ("status: running") and returns the
// status word.
func ParsePctStatus(out []byte) (string, error) {
	status := ""
	err := parseKV("pct status", out, func(k, v string) {
		if k == "status" {
			status = v
		}
	})
	if err != nil {
		return "", err
	}
	if status == "" {
		return "", fmt.Errorf("parse pct status: no status line")
	}
	return status, nil
}

// ParsePctStatusVerbose parses pct status --verbose (§3.2).
func ParsePctStatusVerbose(out []byte) (*CTStatus, error) {
	st := &CTStatus{Extra: map[string]string{}}
	var convErr error
	err := parseKV("pct status --verbose", out, func(k, v string) {
		if e := st.set(k, v); e != nil && convErr == nil {
			convErr = e
		}
	})
	if err == nil {
		err = convErr
	}
	if err != nil {
		return nil, err
	}
	if st.Status == "" {
		return nil, fmt.Errorf("parse pct status --verbose: no status line")
	}
	return st, nil
}

// ParsePctConfig parses pct config output (§3.3) into a section: options,
// the description (decoded from its one-line encoded form) and the lxc.*
// lines in order.
func ParsePctConfig(out []byte) (*Section, error) {
	s := NewSection()
	err := parseKV("pct config", out, func(k, v string) {
		switch {
		case k == "description":
			s.Description = DecodeText(v)
		case strings.HasPrefix(k, "lxc."):
			s.Raw = append(s.Raw, RawLine{Key: k, Value: v})
		default:
			s.Options[k] = v
		}
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// SnapshotEntry is one line of pct listsnapshot (§3.4).
type SnapshotEntry struct {
	Name string
	// Parent is the name of the entry one level up, "" for a root.
	Parent string
	Depth  int
	// Time is the host-local "YYYY-MM-DD HH:MM:SS" text, "" for current.
	Time string
	// Description is the first description line; PVE's placeholders
	// ("no-description", and "You are here!" for current) become "".
	Description string
	// Current marks the "current" pseudo-entry (the running state).
	Current bool
}

var reSnapTime = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\s+(.*))?$`)

// ParsePctListSnapshot parses the tree printed by pct listsnapshot. With no
// snapshots it yields only the current entry.
func ParsePctListSnapshot(out []byte) ([]SnapshotEntry, error) {
	var res []SnapshotEntry
	var stack []string // names by depth
	for i, l := range lines(out) {
		if strings.TrimSpace(l) == "" {
			continue
		}
		trimmed := strings.TrimLeft(l, " ")
		depth := len(l) - len(trimmed)
		rest, ok := strings.CutPrefix(trimmed, "`->")
		if !ok {
			return nil, fmt.Errorf("parse pct listsnapshot: line %d: no tree marker: %q", i+1, l)
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("parse pct listsnapshot: line %d: no name: %q", i+1, l)
		}
		if depth > len(stack) {
			return nil, fmt.Errorf("parse pct listsnapshot: line %d: depth %d without parent", i+1, depth)
		}
		e := SnapshotEntry{Name: f[0], Depth: depth}
		if depth > 0 {
			e.Parent = stack[depth-1]
		}
		stack = append(stack[:depth], e.Name)
		rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), e.Name))
		if m := reSnapTime.FindStringSubmatch(rest); m != nil {
			e.Time, e.Description = m[1], strings.TrimSpace(m[2])
		} else {
			e.Description = rest
		}
		if e.Name == "current" && e.Time == "" {
			e.Current = true
			if e.Description == "You are here!" {
				e.Description = ""
			}
		}
		if e.Description == "no-description" {
			e.Description = ""
		}
		res = append(res, e)
	}
	return res, nil
}
