package schema

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// Violation is one way a document breaks its schema.
type Violation struct {
	// Path is the instance location as tokens, e.g.
	// ["containers","db","resources","memory"]; for an unknown key the last
	// token is the unknown key itself, and for a missing field it is the
	// object that lacks it. Array indexes are decimal tokens.
	Path []string
	// Keyword is the failing JSON Schema keyword ("required", "type",
	// "pattern", "oneOf", …).
	Keyword string
	// Message is one readable sentence, lowercase, without a trailing period.
	Message string
}

// Validate checks a decoded document (map[string]any, []any, string, bool,
// nil and Go numbers, as produced by decoding YAML into any) against the
// kind's schema. It returns every violation, leaves only, sorted by Path; an
// empty result means the document is valid. It never panics: a problem with
// the schema itself is reported as a violation with Keyword "schema".
func Validate(k Kind, doc any) (vs []Violation) {
	defer func() {
		if r := recover(); r != nil {
			vs = []Violation{{Path: []string{}, Keyword: "schema", Message: fmt.Sprintf("internal error while validating: %v", r)}}
		}
	}()
	e, err := compiled(k)
	if err != nil {
		return []Violation{{Path: []string{}, Keyword: "schema", Message: err.Error()}}
	}
	// A valid document in plain values, the common case, needs neither the
	// normalising copy nor the library (see fast.go).
	plain := normal(doc, true)
	if e.fast && plain && check(e.sch, doc, 0) == valid {
		return []Violation{}
	}
	n := normalizer{}
	v := doc
	if !plain || !normal(doc, false) {
		// Only a document the normalizer would change needs its copy;
		// neither the library nor the collector modifies v.
		v = n.value(doc, nil)
	}
	c := collector{ix: e.index, doc: v}
	if err := e.sch.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return []Violation{{Path: []string{}, Keyword: "schema", Message: fmt.Sprintf("cannot validate: %v", err)}}
		}
		vs = c.leaves(ve)
	}
	vs = n.merge(vs)
	return tidy(vs)
}

// normalizer turns a decoded document into the value types the validator
// accepts, and remembers values no schema can describe (NaN, ±Inf, Go types
// a YAML or JSON decoder would not produce).
type normalizer struct {
	bad []Violation
}

func (n *normalizer) value(v any, path []string) any {
	switch x := v.(type) {
	case nil, string, bool, int64, float64:
		if f, ok := x.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			n.bad = append(n.bad, Violation{Path: slices.Clone(path), Keyword: "type", Message: "must be a finite number, not .nan or .inf"})
			return nil
		}
		return v
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint:
		return uintValue(uint64(x))
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return uintValue(x)
	case float32:
		return n.value(float64(x), path)
	case json.Number:
		if _, ok := new(big.Rat).SetString(string(x)); ok {
			return x
		}
		n.bad = append(n.bad, Violation{Path: slices.Clone(path), Keyword: "type", Message: fmt.Sprintf("must be a number, not %q", string(x))})
		return nil
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = n.value(e, append(path, k))
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			ks := fmt.Sprint(k)
			m[ks] = n.value(e, append(path, ks))
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = n.value(e, append(path, strconv.Itoa(i)))
		}
		return l
	}
	// Typed slices and maps ([]string, map[string]string, …) from callers
	// that build documents in Go.
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		l := make([]any, rv.Len())
		for i := range l {
			l[i] = n.value(rv.Index(i).Interface(), append(path, strconv.Itoa(i)))
		}
		return l
	case reflect.Map:
		m := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			ks := fmt.Sprint(it.Key().Interface())
			m[ks] = n.value(it.Value().Interface(), append(path, ks))
		}
		return m
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return rv.Bool()
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		return n.value(rv.Elem().Interface(), path)
	}
	if s, ok := v.(fmt.Stringer); ok {
		return s.String()
	}
	n.bad = append(n.bad, Violation{Path: slices.Clone(path), Keyword: "type", Message: fmt.Sprintf("has a value of unsupported Go type %T", v)})
	return nil
}

func uintValue(u uint64) any {
	if u <= math.MaxInt64 {
		return int64(u)
	}
	return json.Number(strconv.FormatUint(u, 10))
}

// merge replaces whatever the validator said about a value the normalizer
// had to blank out with the normalizer's own explanation.
func (n *normalizer) merge(vs []Violation) []Violation {
	if len(n.bad) == 0 {
		return vs
	}
	out := vs[:0]
	for _, v := range vs {
		blanked := false
		for _, b := range n.bad {
			if slices.Equal(v.Path, b.Path) {
				blanked = true
				break
			}
		}
		if !blanked {
			out = append(out, v)
		}
	}
	return append(out, n.bad...)
}

// tidy removes duplicates and redundant messages and sorts by path.
func tidy(vs []Violation) []Violation {
	// An object with an unknown key and too many keys (a step with a typo
	// next to its kind) needs only the unknown-key message.
	unknownIn := map[string]bool{}
	for _, v := range vs {
		if v.Keyword == "additionalProperties" && len(v.Path) > 0 {
			unknownIn[strings.Join(v.Path[:len(v.Path)-1], "\x00")] = true
		}
	}
	out := make([]Violation, 0, len(vs))
	seen := map[string]bool{}
	for _, v := range vs {
		if v.Path == nil {
			v.Path = []string{}
		}
		if v.Keyword == "maxProperties" && unknownIn[strings.Join(v.Path, "\x00")] {
			continue
		}
		key := strings.Join(v.Path, "\x00") + "\x01" + v.Keyword + "\x01" + v.Message
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if c := comparePaths(out[i].Path, out[j].Path); c != 0 {
			return c < 0
		}
		if out[i].Keyword != out[j].Keyword {
			return out[i].Keyword < out[j].Keyword
		}
		return out[i].Message < out[j].Message
	})
	return out
}

// comparePaths orders paths token by token, array indexes numerically.
func comparePaths(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		ai, aerr := strconv.Atoi(a[i])
		bi, berr := strconv.Atoi(b[i])
		if aerr == nil && berr == nil {
			return cmp.Compare(ai, bi)
		}
		return strings.Compare(a[i], b[i])
	}
	return cmp.Compare(len(a), len(b))
}

// pointerTokens splits a JSON pointer ("/containers/db/vmid") into tokens.
func pointerTokens(p string) []string {
	if p == "" {
		return []string{}
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range parts {
		s = strings.ReplaceAll(s, "~1", "/")
		parts[i] = strings.ReplaceAll(s, "~0", "~")
	}
	return parts
}

// lookup returns the value at path in doc.
func lookup(doc any, path []string) (any, bool) {
	v := doc
	for _, t := range path {
		switch x := v.(type) {
		case map[string]any:
			e, ok := x[t]
			if !ok {
				return nil, false
			}
			v = e
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}
