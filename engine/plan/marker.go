package plan

import (
	"sort"
	"strings"
)

// The marker is lxcplan's record on the container itself: there is no local
// state file, so ownership and the desired-state fingerprints live in the
// container's PVE description, below whatever the user wrote there.
//
// Layout (one "key: value" per line between the two fence lines):
//
//	<user text, any number of lines>
//	--- lxcplan (do not edit below) ---
//	stack: media
//	container: db
//	recipe: postgresql
//	version: 1.0.0
//	template: local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst
//	spec: sha256:<64 hex>[+hmac:<16 hex>]
//	config: cores=1a2b3c4d,hostname=5e6f7a8b,...
//	steps: sha256:<16 hex>[+hmac:<16 hex>],...
//	depends: a,b
//	addresses: eth0=10.77.0.23
//	state: ready
//	--- end lxcplan ---
//
// PVE stores the description as "#" lines encoded with encode_text (":" is
// "%3A" on disk); the parser works on the decoded text, so the colons here
// round-trip. Lines are matched after trimming spaces and "\r", the last
// begin fence wins (a user who pastes an old marker into the text does not
// confuse it), and unknown keys are ignored so that a newer lxcplan may add
// some.

// Marker fences.
const (
	MarkerBegin = "--- lxcplan (do not edit below) ---"
	MarkerEnd   = "--- end lxcplan ---"
)

// Marker states.
const (
	// StateCreating is written before pct create and replaced once the
	// container is fully provisioned; a container left in it was
	// interrupted and is planned as replace.
	StateCreating = "creating"
	StateReady    = "ready"
)

// OwnerTag is the PVE tag every container lxcplan manages carries.
const OwnerTag = "lxcplan"

// Marker is the parsed ownership and fingerprint block.
type Marker struct {
	Stack     string
	Container string
	// Recipe is the recipe reference as written in the stack; Version the
	// loaded recipe's version.
	Recipe  string
	Version string
	// Template is the resolved template volume ID the container was created
	// from; a newer template in the catalog never turns it into a replace.
	Template string
	// Spec is the spec fingerprint (see [SpecFingerprint]).
	Spec string
	// Config maps each pct option lxcplan set to a short hash of the value it
	// set (see [ConfigHashes]); it tells drift from a declared change.
	Config map[string]string
	// Steps holds one fingerprint per install step, in order.
	Steps []string
	// Depends lists the stack containers this one depends on, so a later
	// destroy can run in reverse dependency order without the stack file.
	Depends []string
	// Addresses are learned at apply (DHCP): interface name → bare address.
	Addresses map[string]string
	// State is StateCreating or StateReady (anything else is treated as an
	// interrupted run).
	State string
}

// ParseMarker finds the marker block in a decoded description.
func ParseMarker(description string) (*Marker, bool) {
	_, m, ok := SplitDescription(description)
	return m, ok
}

// SplitDescription separates the user's text from the marker block. The
// user text is everything outside the block (text a user added below it is
// kept, after the text above), without trailing newlines.
func SplitDescription(description string) (userText string, m *Marker, ok bool) {
	lines := strings.Split(description, "\n")
	begin := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == MarkerBegin {
			begin = i
		}
	}
	if begin < 0 {
		return strings.TrimRight(description, "\n"), nil, false
	}
	end := len(lines)
	for i := begin + 1; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == MarkerEnd {
			end = i
			break
		}
	}
	m = &Marker{}
	for _, l := range lines[begin+1 : end] {
		k, v, found := strings.Cut(strings.TrimSpace(l), ":")
		if !found {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "stack":
			m.Stack = v
		case "container":
			m.Container = v
		case "recipe":
			m.Recipe = v
		case "version":
			m.Version = v
		case "template":
			m.Template = v
		case "spec":
			m.Spec = v
		case "config":
			m.Config = parseKV(v)
		case "steps":
			m.Steps = splitComma(v)
		case "depends":
			m.Depends = splitComma(v)
		case "addresses":
			m.Addresses = parseKV(v)
		case "state":
			m.State = v
		}
	}
	var user []string
	user = append(user, lines[:begin]...)
	if end < len(lines) {
		user = append(user, lines[end+1:]...)
	}
	userText = strings.TrimRight(strings.Join(user, "\n"), "\n")
	if m.Stack == "" || m.Container == "" {
		return userText, nil, false
	}
	return userText, m, true
}

// Render returns the full description: userText, then the marker block.
// The result ends in a newline, as PVE hands descriptions back.
func (m *Marker) Render(userText string) string {
	var b strings.Builder
	if u := strings.TrimRight(userText, "\n"); u != "" {
		b.WriteString(u)
		b.WriteString("\n")
	}
	b.WriteString(MarkerBegin + "\n")
	line := func(k, v string) {
		if v != "" {
			b.WriteString(k + ": " + oneLine(v) + "\n")
		}
	}
	line("stack", m.Stack)
	line("container", m.Container)
	line("recipe", m.Recipe)
	line("version", m.Version)
	line("template", m.Template)
	line("spec", m.Spec)
	line("config", renderKV(m.Config))
	line("steps", strings.Join(cleanList(m.Steps), ","))
	line("depends", strings.Join(cleanList(m.Depends), ","))
	line("addresses", renderKV(m.Addresses))
	line("state", m.State)
	b.WriteString(MarkerEnd + "\n")
	return b.String()
}

// Owns reports whether a container with these tags and description belongs
// to the stack, and returns its marker: the tags lxcplan and the stack's
// name, and a marker naming the same stack. Tags are compared lowercased, as
// PVE stores them.
func Owns(tags []string, description, stack string) (*Marker, bool) {
	var owner, st bool
	for _, t := range tags {
		t = strings.ToLower(t)
		owner = owner || t == OwnerTag
		st = st || t == strings.ToLower(stack)
	}
	if !owner || !st {
		return nil, false
	}
	m, ok := ParseMarker(description)
	if !ok || m.Stack != stack {
		return nil, false
	}
	return m, true
}

func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, s)
	}
	return strings.TrimSpace(s)
}

// cleanList drops items a comma list cannot carry.
func cleanList(xs []string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		x = strings.TrimSpace(strings.ReplaceAll(oneLine(x), ",", " "))
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

func splitComma(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func parseKV(s string) map[string]string {
	m := map[string]string{}
	for _, kv := range splitComma(s) {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.TrimSpace(k) != "" {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

func renderKV(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if clean(k) != "" && !strings.Contains(k, "=") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, clean(k)+"="+clean(m[k]))
	}
	return strings.Join(parts, ",")
}

func clean(s string) string { return strings.TrimSpace(strings.ReplaceAll(oneLine(s), ",", " ")) }
