package pve

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// RawLine is one raw "lxc.*" entry of a config section, kept in file order.
type RawLine struct {
	Key   string // "lxc.cgroup2.devices.allow"
	Value string
}

// Section is one section of a container config: the main config, the
// [pve:pending] section, or a snapshot.
type Section struct {
	// Description is the decoded text of the "#" lines, each line ending in
	// "\n" as PVE stores it.
	Description string
	// Options holds every "key: value" line (except lxc.*), including keys
	// this package does not know, so that nothing is lost on a rewrite. The
	// writer sorts them, as PVE does.
	Options map[string]string
	// Raw holds the lxc.* lines in order.
	Raw []RawLine
}

// NewSection returns an empty section ready for use.
func NewSection() *Section { return &Section{Options: map[string]string{}} }

// Get returns an option's value.
func (s *Section) Get(key string) (string, bool) {
	v, ok := s.Options[key]
	return v, ok
}

// Set sets an option (allocating Options if needed).
func (s *Section) Set(key, value string) {
	if s.Options == nil {
		s.Options = map[string]string{}
	}
	s.Options[key] = value
}

// Delete removes an option.
func (s *Section) Delete(key string) { delete(s.Options, key) }

// Keys returns the option keys in writing order (ASCII sort).
func (s *Section) Keys() []string {
	keys := make([]string, 0, len(s.Options))
	for k := range s.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s *Section) empty() bool {
	return s == nil || (s.Description == "" && len(s.Options) == 0 && len(s.Raw) == 0)
}

// Clone returns a deep copy.
func (s *Section) Clone() *Section {
	if s == nil {
		return nil
	}
	c := &Section{Description: s.Description, Options: make(map[string]string, len(s.Options))}
	for k, v := range s.Options {
		c.Options[k] = v
	}
	c.Raw = append([]RawLine(nil), s.Raw...)
	return c
}

// PendingDelete is one entry of the pending "delete:" list.
type PendingDelete struct {
	Key   string
	Force bool // written with a leading "!"
}

// PendingDeletes parses the "delete" option of a [pve:pending] section.
func (s *Section) PendingDeletes() []PendingDelete {
	var out []PendingDelete
	for _, k := range SplitList(s.Options["delete"]) {
		d := PendingDelete{Key: strings.TrimPrefix(k, "!"), Force: strings.HasPrefix(k, "!")}
		if d.Key != "" {
			out = append(out, d)
		}
	}
	return out
}

// Config is a parsed /etc/pve/lxc/<ID>.conf (§5). The zero value is not
// usable; use [NewConfig] or [ParseConfig].
type Config struct {
	Section
	// Pending is the [pve:pending] section, nil when there is none.
	Pending *Section
	// Snapshots by name; the writer emits them in name order.
	Snapshots map[string]*Section
	// Warnings are the complaints PVE's non-strict reader prints on stderr
	// for lines it cannot use, without the "vm <id> - " prefix.
	Warnings []string
}

// NewConfig returns an empty config.
func NewConfig() *Config {
	return &Config{Section: Section{Options: map[string]string{}}, Snapshots: map[string]*Section{}}
}

// SnapshotNames returns the snapshot names sorted.
func (c *Config) SnapshotNames() []string {
	names := make([]string, 0, len(c.Snapshots))
	for n := range c.Snapshots {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var (
	reSectionPending = regexp.MustCompile(`(?i)^\[pve:pending\]\s*$`)
	reSectionSnap    = regexp.MustCompile(`(?i)^\[([a-z][a-z0-9_\-]+)\]\s*$`)
	reLXCLine        = regexp.MustCompile(`^(lxc\.[a-z0-9_\-\.]+)(?::|\s*=)\s*(.*?)\s*$`)
	reDescrLine      = regexp.MustCompile(`^description:\s*(.*\S)\s*$`)
	reDeleteLine     = regexp.MustCompile(`^delete:\s*(.*\S)\s*$`)
	reOptionLine     = regexp.MustCompile(`^([a-z][a-z_]*\d*):\s*(.+?)\s*$`)
)

// ParseConfig reads a config file the way PVE's parse_pct_config does in
// non-strict mode: unusable lines become [Config.Warnings], never errors.
// The error return is reserved for input that is not a config at all (NUL
// bytes).
func ParseConfig(data []byte) (*Config, error) {
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, errors.New("parse config: file contains NUL bytes")
	}
	c := NewConfig()
	cur := &c.Section
	section := ""
	for _, line := range strings.Split(string(data), "\n") {
		// Cheap prefix tests guard the regexps: this runs for every config
		// of every CT on every observation.
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] == '[' {
			if reSectionPending.MatchString(line) {
				section = "pending"
				c.Pending = NewSection()
				cur = c.Pending
				continue
			}
			if m := reSectionSnap.FindStringSubmatch(line); m != nil {
				section = m[1]
				s := NewSection()
				c.Snapshots[m[1]] = s
				cur = s
				continue
			}
		}
		if line[0] == '#' {
			cur.Description += DecodeText(line[1:]) + "\n"
			continue
		}
		if strings.HasPrefix(line, "lxc.") {
			if m := reLXCLine.FindStringSubmatch(line); m != nil {
				if m[1] == "lxc.rootfs.path" {
					c.Warnings = append(c.Warnings, fmt.Sprintf("%s: lxc.rootfs.path is auto generated by PVE", m[1]))
					continue
				}
				cur.Raw = append(cur.Raw, RawLine{Key: m[1], Value: m[2]})
				continue
			}
		}
		if strings.HasPrefix(line, "description:") {
			if m := reDescrLine.FindStringSubmatch(line); m != nil {
				cur.Description += DecodeText(m[1])
				continue
			}
		}
		if strings.HasPrefix(line, "delete:") {
			if m := reDeleteLine.FindStringSubmatch(line); m != nil {
				if section == "pending" {
					cur.Set("delete", m[1])
				} else {
					c.Warnings = append(c.Warnings, "property 'delete' is only allowed in [pve:pending]")
				}
				continue
			}
		}
		if k, v, ok := optionLine(line); ok {
			cur.Set(k, v)
			continue
		}
		c.Warnings = append(c.Warnings, "unable to parse config: "+line)
	}
	return c, nil
}

// optionLine matches `^([a-z][a-z_]*\d*):\s*(.+?)\s*$` without a regexp.
func optionLine(line string) (key, value string, ok bool) {
	k, v, found := strings.Cut(line, ":")
	if !found || k == "" || k[0] < 'a' || k[0] > 'z' {
		return "", "", false
	}
	i := 0
	for i < len(k) && (k[i] >= 'a' && k[i] <= 'z' || k[i] == '_') {
		i++
	}
	for i < len(k) && k[i] >= '0' && k[i] <= '9' {
		i++
	}
	if i != len(k) {
		return "", "", false
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", "", false
	}
	return k, v, true
}

// Bytes renders c as PVE's write_pct_config does (§5): description lines,
// sorted options, lxc.* lines; then [pve:pending] if non-empty; then each
// snapshot in name order, sections separated by a blank line.
func (c *Config) Bytes() []byte {
	var b bytes.Buffer
	writeSection(&b, &c.Section)
	if !c.Pending.empty() {
		b.WriteString("\n[pve:pending]\n")
		writeSection(&b, c.Pending)
	}
	for _, n := range c.SnapshotNames() {
		b.WriteString("\n[" + n + "]\n")
		writeSection(&b, c.Snapshots[n])
	}
	return b.Bytes()
}

// skippedKeys are never written as "key: value" (write_pct_config).
var skippedKeys = map[string]bool{
	"digest": true, "description": true, "pending": true, "snapshots": true, "snapname": true, "env": true, "lxc": true,
}

func writeSection(b *bytes.Buffer, s *Section) {
	for _, l := range descriptionLines(s.Description) {
		b.WriteString("#" + EncodeText(l) + "\n")
	}
	for _, k := range s.Keys() {
		if skippedKeys[k] {
			continue
		}
		b.WriteString(k + ": " + s.Options[k] + "\n")
	}
	for _, r := range s.Raw {
		b.WriteString(r.Key + ": " + r.Value + "\n")
	}
}

// descriptionLines is Perl's split(/\n/, $descr): trailing empty fields are
// dropped, inner empty lines kept.
func descriptionLines(d string) []string {
	lines := strings.Split(d, "\n")
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// Check reports what PVE's writer would die on: a newline inside a value
// ("detected invalid newline inside property '<k>'").
func (c *Config) Check() error {
	sections := []*Section{&c.Section}
	if c.Pending != nil {
		sections = append(sections, c.Pending)
	}
	for _, n := range c.SnapshotNames() {
		sections = append(sections, c.Snapshots[n])
	}
	for _, s := range sections {
		for _, k := range s.Keys() {
			if strings.Contains(s.Options[k], "\n") {
				return fmt.Errorf("detected invalid newline inside property '%s'", k)
			}
		}
		for _, r := range s.Raw {
			if strings.Contains(r.Value, "\n") {
				return fmt.Errorf("detected invalid newline inside property '%s'", r.Key)
			}
		}
	}
	return nil
}

// Digest is the config digest PVE reports: SHA-1 hex of the raw file.
func Digest(raw []byte) string {
	sum := sha1.Sum(raw)
	return hex.EncodeToString(sum[:])
}

// EncodeText is PVE's encode_text: control bytes, bytes >= 0x7f, ':' and '%'
// become %XX (uppercase hex); everything else, spaces included, is kept.
func EncodeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == ':' || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// DecodeText is PVE's decode_text: every %XX (any case) becomes its byte.
func DecodeText(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v, _ := hex.DecodeString(s[i+1 : i+3])
			b.WriteByte(v[0])
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// SplitList splits a PVE list string on ",", ";" or whitespace (or on NUL
// if one is present), dropping empty items (§1.1).
func SplitList(s string) []string {
	if strings.Contains(s, "\x00") {
		return nonEmpty(strings.Split(s, "\x00"))
	}
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v'
	})
}

func nonEmpty(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
