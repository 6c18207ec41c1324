package pve

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ErrParamVerification is the class of every "400 Parameter verification
// failed." error; [ParamErrors] and [*CmdError] of kind KindParamVerification
// match it with errors.Is.
var ErrParamVerification = errors.New("parameter verification failed")

// ParamError is one "<param>: <message>" line of a PVE 400 error.
type ParamError struct {
	// Param is the parameter path: "hostname", or "net0.ip" for a key inside
	// a property string.
	Param string
	// Msg is PVE's message text without any trailing newline.
	Msg string
	// NL records that PVE's message ends in "\n" (messages raised by format
	// validators do; built-in schema checks do not). The CLI then prints a
	// blank line after it, so the simulator needs this bit to be exact (§1.2).
	NL bool
}

func (e ParamError) String() string { return e.Param + ": " + e.Msg }

// ParamErrors is the list of failures of one parameter verification, in the
// order PVE would report them for a single parameter (the outer "format
// error" first, then the nested keys sorted).
type ParamErrors []ParamError

func (es ParamErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return "parameter verification failed: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrParamVerification) true.
func (es ParamErrors) Is(target error) bool { return target == ErrParamVerification }

// Map returns param → message, the shape of [CmdError.Params].
func (es ParamErrors) Map() map[string]string {
	m := make(map[string]string, len(es))
	for _, e := range es {
		m[e.Param] = e.Msg
	}
	return m
}

// Stderr renders the exact CLI text of the 400 error (§1.2): header, one
// "key: msg" line per error (a blank line after messages that end in a
// newline), then the usage line, e.g. "pct create <vmid> <ostemplate> [OPTIONS]".
//
// A property-string failure is a single entry of PVE's error hash whose
// message carries the nested "net0.ip: ..." lines (Exception::stringify
// appends them after "format error\n"). So the nested lines follow the
// outer line without a blank line, each adds its own blank line if its
// message ends in a newline, and the outer message's final newline adds one
// more blank line at the end.
func (es ParamErrors) Stderr(usage string) string {
	var b strings.Builder
	b.WriteString("400 Parameter verification failed.\n")
	for i := 0; i < len(es); i++ {
		e := es[i]
		b.WriteString(e.Param)
		b.WriteString(": ")
		b.WriteString(e.Msg)
		b.WriteString("\n")
		nested := false
		for i+1 < len(es) && nestedIn(es[i+1].Param, e.Param) {
			i++
			nested = true
			n := es[i]
			b.WriteString(n.Param)
			b.WriteString(": ")
			b.WriteString(n.Msg)
			b.WriteString("\n")
			if n.NL {
				b.WriteString("\n")
			}
		}
		// stringify always ends a message with nested errors in a newline.
		if e.NL || nested {
			b.WriteString("\n")
		}
	}
	if usage != "" {
		b.WriteString(usage)
		b.WriteString("\n")
	}
	return b.String()
}

// nestedIn reports whether param names a key inside the property string of
// outer ("net0.ip" in "net0"). An unnamed outer parameter (ParsePropertyString
// with param "") owns the bare keys that follow it.
func nestedIn(param, outer string) bool {
	if outer == "" {
		return param != ""
	}
	return strings.HasPrefix(param, outer+".")
}

// formatError is what a format validator "die"s with: a message that ends in
// a newline in PVE. It surfaces as "invalid format - <msg>".
type formatError struct{ msg string }

func (e *formatError) Error() string { return e.msg }

func fmtErr(format string, a ...any) error { return &formatError{fmt.Sprintf(format, a...)} }

// PropType is the JSON-schema type of one key of a property string.
type PropType int

const (
	TypeString PropType = iota
	TypeBool
	TypeInt
	TypeNumber
)

func (t PropType) String() string {
	switch t {
	case TypeBool:
		return "boolean"
	case TypeInt:
		return "integer"
	case TypeNumber:
		return "number"
	}
	return "string"
}

// Prop describes one key of a property-string format, with the subset of
// PVE's JSON schema that the container formats use.
type Prop struct {
	Type PropType
	// Optional is false for required keys (net's name, mp's mp); they are
	// printed right after the default key.
	Optional bool
	// DefaultKey marks the key a value without "key=" goes to.
	DefaultKey bool
	// Min/Max apply to integers and numbers when HasMin/HasMax are set.
	Min, Max       float64
	HasMin, HasMax bool
	// Pattern is matched against the whole value ("value does not match the
	// regex pattern").
	Pattern *regexp.Regexp
	Enum    []string
	// Format is a named-format validator; its error text becomes
	// "invalid format - <text>".
	Format func(string) error
}

// PropFormat is a property-string format: key name → description.
type PropFormat map[string]Prop

func (f PropFormat) defaultKey() string {
	for k, p := range f {
		if p.DefaultKey {
			return k
		}
	}
	return ""
}

// ParseBool parses PVE's boolean words (§1.1): 1|0|yes|no|on|off|true|false,
// case-insensitive.
func ParseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "1", "yes", "on", "true":
		return true, true
	case "0", "no", "off", "false":
		return false, true
	}
	return false, false
}

var (
	reInteger = regexp.MustCompile(`^-?\d+$`)
	reNumber  = regexp.MustCompile(`^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$`)
	reKV      = regexp.MustCompile(`^([^=]+)=(.+)$`)
)

// ParsePropertyString splits s ("k=v,k2=v2", with one optional bare value for
// the default key) and checks it against f the way PVE's
// parse_property_string does. Boolean values are normalised to "1"/"0".
// param names the option ("net0") and prefixes nested error paths
// ("net0.ip"); it may be empty.
//
// The returned error is always a bare [ParamErrors] (never wrapped, so a
// type assertion works) whose first entry is the outer
// "<param>: invalid format - ..." line, as PVE prints it. The same holds
// for ParseNet, ParseRootfs, ParseMount, ParseFeatures, ParseStartup and
// ParseDev.
func ParsePropertyString(param string, f PropFormat, s string) (map[string]string, error) {
	res, err := splitPropertyString(f, s)
	if err != nil {
		return nil, ParamErrors{{Param: param, Msg: "invalid format - " + err.Error(), NL: true}}
	}
	var nested ParamErrors
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := k
		if param != "" {
			path = param + "." + k
		}
		v, ok := res[k]
		if e, bad := checkProp(path, f[k], v, ok); bad {
			nested = append(nested, e)
		}
	}
	if len(nested) > 0 {
		return nil, append(ParamErrors{{Param: param, Msg: "invalid format - format error", NL: true}}, nested...)
	}
	return res, nil
}

// splitPropertyString is the first half of parse_property_string: split,
// detect duplicate and unknown keys, normalise booleans.
func splitPropertyString(f PropFormat, s string) (map[string]string, error) {
	res := map[string]string{}
	defKey := ""
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		if m := reKV.FindStringSubmatch(part); m != nil {
			k, v := m[1], m[2]
			if _, dup := res[k]; dup {
				return nil, fmtErr("duplicate key in comma-separated list property: %s", k)
			}
			p, known := f[k]
			if !known {
				return nil, fmtErr("invalid key in comma-separated list property: %s", k)
			}
			if p.Type == TypeBool {
				if b, ok := ParseBool(v); ok {
					v = boolStr(b)
				}
			}
			res[k] = v
			continue
		}
		if strings.Contains(part, "=") {
			return nil, fmtErr("missing key in comma-separated list property")
		}
		if defKey != "" {
			return nil, fmtErr("duplicate key in comma-separated list property: %s", defKey)
		}
		defKey = f.defaultKey()
		if defKey == "" {
			return nil, fmtErr("value without key, but schema does not define a default key")
		}
		if res[defKey] != "" {
			return nil, fmtErr("duplicate key in comma-separated list property: %s", defKey)
		}
		res[defKey] = part
	}
	return res, nil
}

// checkProp is PVE's check_prop for a scalar; bad is true when it failed.
func checkProp(path string, p Prop, v string, present bool) (ParamError, bool) {
	fail := func(nl bool, format string, a ...any) (ParamError, bool) {
		return ParamError{Param: path, Msg: fmt.Sprintf(format, a...), NL: nl}, true
	}
	if !present {
		if !p.Optional {
			return fail(false, "property is missing and it is not optional")
		}
		return ParamError{}, false
	}
	switch p.Type {
	case TypeBool:
		if _, ok := ParseBool(v); !ok {
			return fail(false, "type check ('boolean') failed - got '%s'", v)
		}
	case TypeInt:
		if !reInteger.MatchString(v) {
			return fail(false, "type check ('integer') failed - got '%s'", v)
		}
	case TypeNumber:
		if !reNumber.MatchString(v) {
			return fail(false, "type check ('number') failed - got '%s'", v)
		}
	}
	if p.Type == TypeInt || p.Type == TypeNumber {
		n, err := strconv.ParseFloat(strings.TrimPrefix(v, "+"), 64)
		if err == nil && p.HasMin && n < p.Min {
			return fail(false, "value must have a minimum value of %s", fmtNum(p.Min))
		}
		if err == nil && p.HasMax && n > p.Max {
			return fail(false, "value must have a maximum value of %s", fmtNum(p.Max))
		}
	}
	if len(p.Enum) > 0 {
		found := false
		for _, e := range p.Enum {
			if e == v {
				found = true
			}
		}
		if !found {
			return fail(false, "value '%s' does not have a value in the enumeration '%s'", v, strings.Join(p.Enum, ", "))
		}
	}
	if p.Pattern != nil && !p.Pattern.MatchString(v) {
		return fail(false, "value does not match the regex pattern")
	}
	if p.Format != nil {
		if err := p.Format(v); err != nil {
			return fail(true, "invalid format - %s", err.Error())
		}
	}
	return ParamError{}, false
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// PrintPropertyString renders m in PVE's print_property_string order: the
// default key's bare value first, then required keys, then the rest, each
// group sorted. Keys not in f are printed last, sorted, so nothing is lost.
func PrintPropertyString(f PropFormat, m map[string]string) string {
	var parts []string
	done := map[string]bool{}
	if dk := f.defaultKey(); dk != "" {
		if v, ok := m[dk]; ok {
			parts = append(parts, v)
			done[dk] = true
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if p, ok := f[k]; ok && !p.Optional && !done[k] {
			parts = append(parts, k+"="+m[k])
			done[k] = true
		}
	}
	for _, k := range keys {
		if !done[k] {
			parts = append(parts, k+"="+m[k])
		}
	}
	return strings.Join(parts, ",")
}

// Size handling (§2.2, §9).

var (
	reSize    = regexp.MustCompile(`^(\d+(?:\.\d+)?)([KMGT](?:iB)?)?$`)
	reNewDisk = regexp.MustCompile(`^([^:\s]+):(\d+(?:\.\d+)?)$`)
	reResize  = regexp.MustCompile(`^(\+)?(\d+(?:\.\d+)?)([KMGT])?$`)
)

const (
	KiB int64 = 1 << 10
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
	TiB int64 = 1 << 40
)

func unitMul(u string) int64 {
	switch strings.TrimSuffix(u, "iB") {
	case "K":
		return KiB
	case "M":
		return MiB
	case "G":
		return GiB
	case "T":
		return TiB
	}
	return 1
}

// ParseSize parses a disk size as PVE's parse_size does:
// `\d+(\.\d+)?([KMGT](iB)?)?`, no unit meaning bytes. Fractions are
// truncated to whole bytes.
func ParseSize(s string) (int64, bool) {
	m := reSize.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil || n*float64(unitMul(m[2])) > 9e18 {
		return 0, false
	}
	return int64(n * float64(unitMul(m[2]))), true
}

// FormatSize renders bytes with the largest unit (K, M, G, T) that divides
// them exactly, like PVE's format_size. Zero renders as "0T", as PVE does
// for size=0 subvolumes.
func FormatSize(b int64) string {
	if b%KiB != 0 {
		return strconv.FormatInt(b, 10)
	}
	kb := b / KiB
	if kb%1024 != 0 {
		return strconv.FormatInt(kb, 10) + "K"
	}
	mb := kb / 1024
	if mb%1024 != 0 {
		return strconv.FormatInt(mb, 10) + "M"
	}
	gb := mb / 1024
	if gb%1024 != 0 {
		return strconv.FormatInt(gb, 10) + "G"
	}
	return strconv.FormatInt(gb/1024, 10) + "T"
}

// ParseNewVolume recognises the new-volume syntax STORAGE:N where N is a
// plain number of GiB, possibly fractional (§2.2). "local-lvm:8G" is not it:
// PVE takes that as an existing volume named "8G".
func ParseNewVolume(s string) (storage string, gib float64, ok bool) {
	m := reNewDisk.FindStringSubmatch(s)
	if m == nil {
		return "", 0, false
	}
	g, err := strconv.ParseFloat(m[2], 64)
	if err != nil {
		return "", 0, false
	}
	return m[1], g, true
}

// ParseResizeSize parses the <size> of pct resize: `\+?\d+(\.\d+)?[KMGT]?`,
// no unit meaning bytes; relative reports a leading "+".
func ParseResizeSize(s string) (bytes int64, relative bool, ok bool) {
	m := reResize.FindStringSubmatch(s)
	if m == nil {
		return 0, false, false
	}
	n, err := strconv.ParseFloat(m[2], 64)
	if err != nil || n*float64(unitMul(m[3])) > 9e18 {
		return 0, false, false
	}
	return int64(n * float64(unitMul(m[3]))), m[1] == "+", true
}

// OptBool is a boolean key of a property string that may also be absent:
// PVE distinguishes "acl=0" from no acl key at all.
type OptBool uint8

const (
	Unset OptBool = iota
	False
	True
)

// Bool makes an OptBool from a bool.
func Bool(b bool) OptBool {
	if b {
		return True
	}
	return False
}

// IsSet reports whether the key is present.
func (b OptBool) IsSet() bool { return b != Unset }

// Value is the boolean value; def is returned when unset.
func (b OptBool) Value(def bool) bool {
	if b == Unset {
		return def
	}
	return b == True
}

func optBool(m map[string]string, k string) OptBool {
	v, ok := m[k]
	if !ok {
		return Unset
	}
	b, _ := ParseBool(v)
	return Bool(b)
}

func putBool(m map[string]string, k string, b OptBool) {
	if b != Unset {
		m[k] = boolStr(b == True)
	}
}

func putStr(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func putInt(m map[string]string, k string, v int) {
	if v != 0 {
		m[k] = strconv.Itoa(v)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// paramFormatError wraps a format validator error for an option checked
// outside ParsePropertyString (startup).
func paramFormatError(param string, err error) error {
	var fe *formatError
	if errors.As(err, &fe) {
		return ParamErrors{{Param: param, Msg: "invalid format - " + fe.msg, NL: true}}
	}
	return err
}
