package provision

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// ErrUnknownReference is wrapped by every error about a ${...} reference
// that names nothing (an unknown param, container, field or output).
var ErrUnknownReference = errors.New("unknown reference")

// Output is one computed output of a container. Secret is true when its
// value used a secret (a secret param or a dependency's secret output):
// such a value is shown redacted unless the user asks to reveal it.
type Output struct {
	Value  string
	Secret bool
}

// Dep is what a dependency exposes to references of the form
// ${containers.NAME.ip|hostname|vmid|outputs.KEY}. IP is the bare address.
type Dep struct {
	IP       string
	Hostname string
	VMID     int
	Outputs  map[string]Output
}

// Deps looks a dependency up by its container name in the stack.
type Deps func(name string) (Dep, bool)

// DepMap adapts a map to [Deps].
func DepMap(m map[string]Dep) Deps {
	return func(name string) (Dep, bool) {
		d, ok := m[name]
		return d, ok
	}
}

// Self is the container being provisioned, as references see it.
type Self struct {
	// IP is the bare address (no prefix length); empty when the container
	// has none (ip=manual), in which case ${container.ip} is an error.
	IP       string
	Hostname string
	VMID     int
}

// Values resolves the references of one container's recipe strings:
// ${params.NAME}, ${container.ip|hostname|vmid} and
// ${containers.NAME.ip|hostname|vmid|outputs.KEY}; `$$` is a literal `$`.
//
// Expansion is one pass: a substituted value is never expanded again, so a
// password containing "${" or "$$" arrives unchanged. Braced names without a
// dot (${HOME}) and bare $NAME are shell syntax and stay as written.
//
// Values remembers every secret value it has seen (secret params, secret
// outputs of dependencies that were referenced) so callers can register
// them for redaction with [Values.Redact]. It is safe for concurrent use.
type Values struct {
	self   Self
	params map[string]Output
	deps   Deps

	mu      sync.Mutex
	secrets []string
}

// NewValues resolves c's params against self and deps. generated holds the
// values of generated secrets (params with Generate set and no value), keyed
// by param name; a generated param missing from it is an error. Param values
// written in the stack may reference ${containers.X...} and ${container...};
// those references are resolved here (the stack's own `$$` escapes were
// already applied when the stack was read, so they are not applied again).
func NewValues(c *model.Container, self Self, generated map[string]string, deps Deps) (*Values, error) {
	v := &Values{self: self, params: map[string]Output{}, deps: deps}
	if c == nil {
		return v, nil
	}
	// First the literal and generated values, then the templated ones: a
	// stack param cannot reference another param, so order does not matter
	// beyond determinism.
	for _, name := range c.ParamNames() {
		p := c.Params[name]
		if p.Generate != nil && p.Value == "" {
			g, ok := generated[name]
			if !ok {
				return nil, fmt.Errorf("container %s: param %s: generated secret value not provided", c.Name, name)
			}
			v.params[name] = Output{Value: g, Secret: true}
			v.addSecret(g)
			continue
		}
		val, secret, err := v.expand(p.Value, false)
		if err != nil {
			return nil, fmt.Errorf("container %s: param %s: %w", c.Name, name, err)
		}
		secret = secret || p.Secret || p.Type == model.ParamSecret
		v.params[name] = Output{Value: val, Secret: secret}
		if secret {
			v.addSecret(val)
		}
	}
	return v, nil
}

// Self returns the container the values describe.
func (v *Values) Self() Self { return v.self }

// Param returns a resolved param.
func (v *Values) Param(name string) (Output, bool) {
	o, ok := v.params[name]
	return o, ok
}

// ParamNames returns the param names, sorted.
func (v *Values) ParamNames() []string { return slices.Sorted(maps.Keys(v.params)) }

// Expand resolves the references in a recipe string. secret reports whether
// any secret value went into the result.
func (v *Values) Expand(s string) (out string, secret bool, err error) {
	return v.expand(s, true)
}

// Redact returns every secret value known so far, for Command.Redact.
func (v *Values) Redact() []string {
	if v == nil {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.secrets)
}

// Redactor returns a redactor for every secret value known so far.
func (v *Values) Redactor() *transport.Redactor { return transport.NewRedactor(v.Redact()...) }

// addSecret registers s, and the form it takes inside a single-quoted
// shell word (run scripts export values quoted), so both are masked.
func (v *Values) addSecret(s string) {
	if s == "" {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	forms := []string{s}
	if q := strings.ReplaceAll(s, "'", `'\''`); q != s {
		forms = append(forms, q)
	}
	for _, f := range forms {
		if !slices.Contains(v.secrets, f) {
			v.secrets = append(v.secrets, f)
		}
	}
}

// expand does the one-pass substitution; unescape turns `$$` into `$`
// (recipe text) or leaves it alone (stack param values, already unescaped).
func (v *Values) expand(s string, unescape bool) (string, bool, error) {
	if !strings.Contains(s, "$") {
		return s, false, nil
	}
	var b strings.Builder
	secret := false
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			if unescape {
				b.WriteByte('$')
			} else {
				b.WriteString("$$")
			}
			i += 2
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				// Unterminated: shell text such as "${" in an awk script.
				b.WriteString(s[i:])
				i = len(s)
				continue
			}
			inner := s[i+2 : i+2+end]
			if !isReference(inner) {
				// ${HOME}, ${x:-y}: shell syntax, not ours.
				b.WriteString(s[i : i+3+end])
				i += 3 + end
				continue
			}
			val, sec, err := v.lookup(inner)
			if err != nil {
				return "", false, err
			}
			secret = secret || sec
			b.WriteString(val)
			i += 3 + end
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), secret, nil
}

// refRe is the syntax of a dotted reference, as engine/manifest defines it.
var refRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)+$`)

// isReference reports whether the body of ${...} is a dotted lxcplan
// reference rather than shell syntax.
func isReference(inner string) bool { return refRe.MatchString(inner) }

func (v *Values) lookup(ref string) (string, bool, error) {
	unknown := func(why string) (string, bool, error) {
		return "", false, fmt.Errorf("%w ${%s}: %s", ErrUnknownReference, ref, why)
	}
	parts := strings.Split(ref, ".")
	switch parts[0] {
	case "params":
		if len(parts) != 2 {
			return unknown("use ${params.NAME}")
		}
		p, ok := v.params[parts[1]]
		if !ok {
			return unknown("no such param")
		}
		return p.Value, p.Secret, nil
	case "container":
		if len(parts) != 2 {
			return unknown("use ${container.ip|hostname|vmid}")
		}
		return v.selfField(ref, parts[1], v.self.IP, v.self.Hostname, v.self.VMID)
	case "containers":
		if len(parts) < 3 {
			return unknown("use ${containers.NAME.ip|hostname|vmid|outputs.KEY}")
		}
		if v.deps == nil {
			return unknown("no dependency values available")
		}
		d, ok := v.deps(parts[1])
		if !ok {
			return unknown("no such container among the dependencies")
		}
		if parts[2] == "outputs" {
			if len(parts) != 4 {
				return unknown("use ${containers.NAME.outputs.KEY}")
			}
			o, ok := d.Outputs[parts[3]]
			if !ok {
				return unknown("container " + parts[1] + " has no such output")
			}
			if o.Secret {
				v.addSecret(o.Value)
			}
			return o.Value, o.Secret, nil
		}
		if len(parts) != 3 {
			return unknown("use ${containers.NAME.ip|hostname|vmid|outputs.KEY}")
		}
		return v.selfField(ref, parts[2], d.IP, d.Hostname, d.VMID)
	}
	return unknown("a reference starts with params., container. or containers.")
}

func (v *Values) selfField(ref, field, ip, hostname string, vmid int) (string, bool, error) {
	switch field {
	case "ip":
		if ip == "" {
			return "", false, fmt.Errorf("%w ${%s}: the container has no address (ip=manual, or not known yet)", ErrUnknownReference, ref)
		}
		return ip, false, nil
	case "hostname":
		return hostname, false, nil
	case "vmid":
		if vmid <= 0 {
			return "", false, fmt.Errorf("%w ${%s}: the vmid is not known yet", ErrUnknownReference, ref)
		}
		return strconv.Itoa(vmid), false, nil
	}
	return "", false, fmt.Errorf("%w ${%s}: use ip, hostname or vmid", ErrUnknownReference, ref)
}

// Outputs computes c's recipe outputs. An output that used a secret is
// marked Secret (and registered for redaction).
func Outputs(c *model.Container, v *Values) (map[string]Output, error) {
	out := map[string]Output{}
	if c == nil || c.Loaded == nil {
		return out, nil
	}
	for _, name := range c.Loaded.OutputNames() {
		val, secret, err := v.Expand(c.Loaded.Outputs[name].Template)
		if err != nil {
			return nil, fmt.Errorf("container %s: output %s: %w", c.Name, name, err)
		}
		if secret {
			v.addSecret(val)
		}
		out[name] = Output{Value: val, Secret: secret}
	}
	return out, nil
}
