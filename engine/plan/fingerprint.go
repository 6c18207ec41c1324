package plan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/model"
)

// Fingerprints are what the marker records so that the next plan can tell
// what changed without a state file. A fingerprint has two halves: a public
// SHA-256 over everything that is not secret (secret values replaced by
// their name), and — when secret values went in — an HMAC of those values
// under the stack's key. The marker is readable by anyone who can read the
// container config, so secrets never enter a plain hash (a short password
// would be found by brute force); the key lives on the cluster only.
//
// Text form: "sha256:<hex>" or "sha256:<hex>+hmac:<hex>"; "+hmac:?" when
// secrets went in but no key was given (an offline plan), which compares
// equal to any keyed half.

// Fingerprint is a parsed fingerprint.
type Fingerprint struct {
	Public string // hex
	// Keyed is the HMAC half: "" when no secret went in, "?" when secrets
	// went in without a key.
	Keyed string
}

func (f Fingerprint) String() string {
	if f.Public == "" {
		return ""
	}
	s := "sha256:" + f.Public
	if f.Keyed != "" {
		s += "+hmac:" + f.Keyed
	}
	return s
}

// ParseFingerprint reads the text form.
func ParseFingerprint(s string) (Fingerprint, bool) {
	pub, keyed, hasKeyed := strings.Cut(strings.TrimSpace(s), "+hmac:")
	pub, ok := strings.CutPrefix(pub, "sha256:")
	if !ok || pub == "" || !isHex(pub) {
		return Fingerprint{}, false
	}
	if hasKeyed && keyed != "?" && (keyed == "" || !isHex(keyed)) {
		return Fingerprint{}, false
	}
	return Fingerprint{Public: pub, Keyed: keyed}, true
}

// Same reports whether two fingerprints denote the same input. The keyed
// halves are compared only when both are known.
func (f Fingerprint) Same(g Fingerprint) bool {
	if f.Public != g.Public {
		return false
	}
	if f.Keyed == "?" || g.Keyed == "?" {
		return (f.Keyed == "") == (g.Keyed == "")
	}
	return f.Keyed == g.Keyed
}

// SameText compares two fingerprints in text form; unparsable ones differ.
func SameText(a, b string) bool {
	fa, ok1 := ParseFingerprint(a)
	fb, ok2 := ParseFingerprint(b)
	return ok1 && ok2 && fa.Same(fb)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Value is a resolved reference.
type Value struct {
	Text   string
	Secret bool
}

// Resolver yields the values of references a container's params and steps
// use that lie outside the container's own params: "containers.db.ip",
// "containers.db.outputs.password", "containers.db.hostname". Its own
// address is asked for as "containers.<self>.ip". ok false means the value is
// only known at apply (a dependency still to be created, a DHCP address not
// learned yet); the fingerprint then records it as unknown, so a dependency
// whose address changes shows up as a reprovision of its dependents.
type Resolver interface {
	Lookup(ref string) (Value, bool)
}

// ResolverFunc adapts a function to [Resolver].
type ResolverFunc func(ref string) (Value, bool)

// Lookup calls f.
func (f ResolverFunc) Lookup(ref string) (Value, bool) { return f(ref) }

// hasher accumulates canonical "key=value" lines and the secret values.
type hasher struct {
	pub     strings.Builder
	secrets []string
}

func (h *hasher) line(k, v string) {
	h.pub.WriteString(k)
	h.pub.WriteByte('=')
	h.pub.WriteString(strconv.Quote(v))
	h.pub.WriteByte('\n')
}

// value adds a resolved value: secrets by name in the public part and by
// value in the keyed part.
func (h *hasher) value(k string, v Value) {
	if v.Secret {
		h.line(k, "(secret)")
		h.secrets = append(h.secrets, k+"="+v.Text)
		return
	}
	h.line(k, v.Text)
}

func (h *hasher) sum(key []byte, n int) Fingerprint {
	s := sha256.Sum256([]byte(h.pub.String()))
	f := Fingerprint{Public: hex.EncodeToString(s[:])[:n]}
	if len(h.secrets) > 0 {
		if len(key) == 0 {
			f.Keyed = "?"
		} else {
			m := hmac.New(sha256.New, key)
			for _, s := range h.secrets {
				m.Write([]byte(strconv.Quote(s)))
				m.Write([]byte{'\n'})
			}
			f.Keyed = hex.EncodeToString(m.Sum(nil))[:16]
		}
	}
	return f
}

// reRef matches the dotted references kept verbatim by the manifest
// loader: ${params.x}, ${container.ip}, ${containers.db.outputs.url}.
var reRef = regexp.MustCompile(`\$\{((?:params|container|containers)\.[A-Za-z0-9_.\-]+)\}`)

// scope resolves references from one container's point of view.
type scope struct {
	c   *model.Container
	res Resolver
}

// refs returns the distinct references in s, sorted.
func refs(s string) []string {
	set := map[string]bool{}
	for _, m := range reRef.FindAllStringSubmatch(s, -1) {
		set[m[1]] = true
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// lookup resolves one reference; ok false means unknown until apply.
func (sc scope) lookup(ref string, depth int) (Value, bool) {
	if depth > 8 {
		return Value{}, false
	}
	switch {
	case strings.HasPrefix(ref, "params."):
		name := strings.TrimPrefix(ref, "params.")
		p, ok := sc.c.Params[name]
		if !ok {
			return Value{}, false
		}
		if p.Generate != nil && p.Value == "" {
			// Generated once, kept on the cluster and reused (even across a
			// replace): its identity is stable, its value never read here.
			return Value{Text: "generated:" + sc.c.Name + "." + name, Secret: false}, true
		}
		v, known := sc.expand(p.Value, depth+1)
		v.Secret = v.Secret || p.Secret
		return v, known
	case strings.HasPrefix(ref, "container."):
		return sc.external("containers."+sc.c.Name+"."+strings.TrimPrefix(ref, "container."), depth)
	default:
		return sc.external(ref, depth)
	}
}

func (sc scope) external(ref string, depth int) (Value, bool) {
	if sc.res == nil {
		return Value{}, false
	}
	v, ok := sc.res.Lookup(ref)
	return v, ok
}

// expand substitutes every reference in s. The result is secret when any
// referenced value is; known is false when any reference is unknown (its
// text then stays a "${ref}" placeholder so the value still identifies it).
func (sc scope) expand(s string, depth int) (Value, bool) {
	secret, known := false, true
	out := reRef.ReplaceAllStringFunc(s, func(m string) string {
		ref := m[2 : len(m)-1]
		v, ok := sc.lookup(ref, depth)
		if !ok {
			known = false
			return "${unknown:" + ref + "}"
		}
		secret = secret || v.Secret
		return v.Text
	})
	return Value{Text: out, Secret: secret}, known
}

// SpecInput is what the spec fingerprint covers besides the container.
type SpecInput struct {
	// Config is the canonical desired pct options (see [DesiredConfig]).
	Config map[string]string
	// Key is the stack's secret key for the keyed half; nil gives "?".
	Key []byte
	// Resolver yields dependency values; nil means all unknown.
	Resolver Resolver
}

// SpecFingerprint covers the declared settings (the canonical pct options,
// template os/version/arch, unprivileged, rootfs storage, recipe reference
// and version) and every resolved param value, dependencies' addresses and
// outputs included; secret values enter only the keyed half.
func SpecFingerprint(c *model.Container, in SpecInput) Fingerprint {
	var h hasher
	h.line("recipe", c.Recipe.Raw)
	h.line("recipe.version", recipeVersion(c))
	h.line("os", c.OS)
	h.line("version", c.Version)
	h.line("arch", archOf(c))
	h.line("unprivileged", strconv.FormatBool(c.Unprivileged))
	h.line("storage", c.Storage)
	keys := sortedKeys(in.Config)
	for _, k := range keys {
		h.line("config."+k, in.Config[k])
	}
	sc := scope{c: c, res: in.Resolver}
	for _, n := range c.ParamNames() {
		v, known := sc.lookup("params."+n, 0)
		if !known {
			h.line("params."+n, "(unknown) "+v.Text)
			continue
		}
		h.value("params."+n, v)
	}
	return h.sum(in.Key, 64)
}

// StepFingerprints returns one fingerprint per install step of the
// container's recipe: the step's content plus the resolved value of every
// reference it uses. A step that reads a file shipped with the recipe is
// covered by its path only (the planner does no I/O).
func StepFingerprints(c *model.Container, key []byte, res Resolver) []Fingerprint {
	if c.Loaded == nil {
		return nil
	}
	sc := scope{c: c, res: res}
	out := make([]Fingerprint, 0, len(c.Loaded.Install))
	for i, st := range c.Loaded.Install {
		st.Pos = diag.Pos{}
		body, err := json.Marshal(st)
		if err != nil {
			// Steps are plain data; Marshal cannot fail on them. Fall back
			// to the kind so a fingerprint still exists.
			body = []byte(st.Kind)
		}
		var h hasher
		h.line("index", strconv.Itoa(i))
		h.line("step", string(body))
		for _, r := range refs(string(body)) {
			v, known := sc.lookup(r, 0)
			if !known {
				h.line(r, "(unknown) "+v.Text)
				continue
			}
			h.value(r, v)
		}
		out = append(out, h.sum(key, 16))
	}
	return out
}

// ConfigHashes maps each canonical option to a short hash of its value: what
// the marker's "config" line records. The values are not secret (they are in
// the config in clear); the hash only keeps the marker short.
func ConfigHashes(cfg map[string]string) map[string]string {
	out := make(map[string]string, len(cfg))
	for k, v := range cfg {
		out[k] = shortHash(v)
	}
	return out
}

func shortHash(v string) string {
	s := sha256.Sum256([]byte(v))
	return hex.EncodeToString(s[:4])
}

func recipeVersion(c *model.Container) string {
	if c.Loaded != nil {
		return c.Loaded.Version
	}
	return c.Recipe.Version
}

func archOf(c *model.Container) string {
	if c.Arch == "" {
		return "amd64"
	}
	return c.Arch
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
