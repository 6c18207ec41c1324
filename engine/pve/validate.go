package pve

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Checks of single options (§9). Each returns nil or a [ParamErrors] with
// PVE's exact text for that parameter, so lxcplan can report at plan time
// what the host would say, and the simulator can say it.

var (
	reDNSName   = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\.)*[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$`)
	reVMID      = regexp.MustCompile(`^[1-9][0-9]{2,8}$`)
	reTag       = regexp.MustCompile(`(?i)^[a-z0-9_][a-z0-9_\-+.]*$`)
	reConfigID  = regexp.MustCompile(`(?i)^[a-z][a-z0-9_-]+$`)
	reStorageID = regexp.MustCompile(`(?i)^[a-z][a-z0-9\-_.]*[a-z0-9]$`)
	reVolumeID  = regexp.MustCompile(`(?i)^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$`)
)

func one(param, msg string, nl bool) error { return ParamErrors{{Param: param, Msg: msg, NL: nl}} }

// VerifyHostname checks --hostname: at most 255 characters, a DNS name
// (labels of letters, digits and inner hyphens; no underscores).
func VerifyHostname(s string) error {
	if len(s) > 255 {
		return one("hostname", "value may only be 255 characters long", false)
	}
	if !reDNSName.MatchString(s) {
		return one("hostname", "invalid format - value does not look like a valid DNS name", true)
	}
	return nil
}

// VerifyVMID checks a <vmid> argument given as text.
func VerifyVMID(s string) error {
	if !reInteger.MatchString(s) {
		return one("vmid", "type check ('integer') failed - got '"+s+"'", false)
	}
	if !reVMID.MatchString(s) {
		return one("vmid", "invalid format - value does not look like a valid VM ID", true)
	}
	return nil
}

// VerifySnapshotName checks a snapshot name: pve-configid, 2-40 characters.
// The reserved names are refused with a plain error, not a 400, so they are
// checked by [ReservedSnapshotName].
func VerifySnapshotName(s string) error {
	if len(s) > 40 {
		return one("snapname", "value may only be 40 characters long", false)
	}
	if !reConfigID.MatchString(s) {
		return one("snapname", "invalid format - invalid configuration ID '"+s+"'", true)
	}
	return nil
}

// ReservedSnapshotName returns PVE's error text for "current" and "vzdump".
func ReservedSnapshotName(s string) (string, bool) {
	if s == "current" || s == "vzdump" {
		return "unable to use snapshot name '" + s + "' (reserved name)", true
	}
	return "", false
}

// VerifyStorageID checks a storage ID. The message text is UNCONFIRMED.
func VerifyStorageID(param, s string) error {
	if !reStorageID.MatchString(s) {
		return one(param, "invalid format - storage ID '"+s+"' contains illegal characters", true)
	}
	return nil
}

// ParseVolumeID splits "storage:name"; the error is PVE's
// "volume: invalid format - unable to parse volume ID '<v>'" (§7.3).
func ParseVolumeID(param, s string) (storage, name string, err error) {
	m := reVolumeID.FindStringSubmatch(s)
	if m == nil {
		return "", "", one(param, "invalid format - unable to parse volume ID '"+s+"'", true)
	}
	return m[1], m[2], nil
}

// VerifyMemory checks --memory (MiB, >= 16).
func VerifyMemory(mib int) error {
	if mib < 16 {
		return one("memory", "value must have a minimum value of 16", false)
	}
	return nil
}

// VerifyPassword checks --password (at least 5 characters).
func VerifyPassword(s string) error {
	if len([]rune(s)) < 5 {
		return one("password", "value must be at least 5 characters long", false)
	}
	return nil
}

// VerifyDescription checks --description (at most 8192 characters).
func VerifyDescription(s string) error {
	if len(s) > 8192 {
		return one("description", "value may only be 8192 characters long", false)
	}
	return nil
}

// NormalizeTags validates a tag list (separators ",", ";", space) and
// returns it as PVE stores it with the default tag-style: lowercased,
// de-duplicated, sorted, joined with ";".
func NormalizeTags(s string) (string, error) {
	seen := map[string]bool{}
	var tags []string
	for _, t := range SplitList(s) {
		if !reTag.MatchString(t) {
			return "", one("tags", "invalid format - invalid characters in tag", true)
		}
		t = strings.ToLower(t)
		if !seen[t] {
			seen[t] = true
			tags = append(tags, t)
		}
	}
	sort.Strings(tags)
	return strings.Join(tags, ";"), nil
}

// indexed collects the options "<prefix><N>" of a section, parsed by parse.
func indexed[T any](s *Section, prefix string, max int, parse func(param, v string) (T, error)) (map[int]T, error) {
	out := map[int]T{}
	for k, v := range s.Options {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok || rest == "" || (len(rest) > 1 && rest[0] == '0') {
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 || n > max {
			continue
		}
		p, err := parse(k, v)
		if err != nil {
			return nil, err
		}
		out[n] = p
	}
	return out, nil
}

// Nets parses every netN option of the section.
func (s *Section) Nets() (map[int]*Net, error) { return indexed(s, "net", 31, ParseNet) }

// Mounts parses every mpN option of the section.
func (s *Section) Mounts() (map[int]*Mount, error) { return indexed(s, "mp", 255, ParseMount) }

// Devs parses every devN option of the section.
func (s *Section) Devs() (map[int]*Dev, error) { return indexed(s, "dev", 255, ParseDev) }

// Rootfs parses the rootfs option; nil, nil when it is absent.
func (s *Section) Rootfs() (*Mount, error) {
	v, ok := s.Options["rootfs"]
	if !ok {
		return nil, nil
	}
	return ParseRootfs(v)
}

// Features parses the features option; nil, nil when it is absent.
func (s *Section) Features() (*Features, error) {
	v, ok := s.Options["features"]
	if !ok {
		return nil, nil
	}
	return ParseFeatures(v)
}

// PendingLine is one line of pct pending (§2.7).
type PendingLine struct {
	Op    string // cur|new|del
	Key   string
	Value string
}

// ParsePctPending parses pct pending. The description value is decoded.
func ParsePctPending(out []byte) ([]PendingLine, error) {
	var res []PendingLine
	for i, l := range lines(out) {
		if strings.TrimSpace(l) == "" {
			continue
		}
		op, rest, ok := strings.Cut(l, " ")
		if !ok || (op != "cur" && op != "new" && op != "del") {
			return nil, parseLineErr("pct pending", i, l)
		}
		k, v, ok := strings.Cut(rest, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, parseLineErr("pct pending", i, l)
		}
		v = strings.TrimSpace(v)
		if k == "description" {
			v = DecodeText(v)
		}
		res = append(res, PendingLine{Op: op, Key: k, Value: v})
	}
	return res, nil
}

func parseLineErr(what string, i int, l string) error {
	return &lineError{what: what, line: i + 1, text: l}
}

type lineError struct {
	what string
	line int
	text string
}

func (e *lineError) Error() string {
	return "parse " + e.what + ": line " + strconv.Itoa(e.line) + ": unexpected " + strconv.Quote(e.text)
}
