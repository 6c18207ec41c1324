package schema

import (
	"math"
	"math/big"
	"slices"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// The JSON Schema library builds a location string, an error value and a
// map of unevaluated properties for every value it visits, even when the
// document is valid, and validating is most of what `lxcplan validate`
// costs. Most documents are valid, so Validate first asks this checker,
// which walks the compiled schema without allocating. Only a document it
// cannot prove valid goes through the library, which then produces the
// violations exactly as before: the checker never decides what is reported,
// only whether there is anything to report.
//
// To stay exact the checker answers in three ways. "Unknown" covers every
// case whose semantics it does not copy exactly (an unusual Go type, a
// fractional bound, a deep chain of in-place subschemas); unknown is never
// treated as valid, and it does not turn into valid through not, oneOf or
// if, so a wrong shortcut cannot hide a violation. "Invalid" must be as
// exact as "valid": a branch wrongly called invalid could make a oneOf
// look satisfied. fast_test.go compares both answers with the library.

// verdict is the checker's answer for one value against one subschema.
type verdict uint8

const (
	valid verdict = iota
	invalid
	unknown
)

// maxInplace bounds the chain of subschemas applied to one value ($ref,
// allOf, if, …) so a schema that refers to itself cannot recurse forever;
// the library reports such loops, so the checker leaves them to it.
const maxInplace = 64

// fastSupported reports whether every subschema reachable from root uses only
// keywords the checker implements. Anything else (formats asserted, content,
// dependencies, unevaluated*, uniqueItems, contains, multipleOf, dynamic
// references, extensions, pre-2020 items) disables the fast path for the
// whole kind.
func fastSupported(root *jsonschema.Schema) bool {
	seen := map[*jsonschema.Schema]bool{}
	var ok func(s *jsonschema.Schema) bool
	ok = func(s *jsonschema.Schema) bool {
		if s == nil || seen[s] {
			return true
		}
		seen[s] = true
		switch {
		case s.Format != "", s.ContentEncoding != "", s.ContentMediaType != "", s.ContentSchema != nil,
			s.RecursiveRef != nil, s.DynamicRef != nil,
			len(s.Dependencies) > 0, len(s.DependentRequired) > 0, len(s.DependentSchemas) > 0,
			s.UnevaluatedProperties != nil, s.UnevaluatedItems != nil,
			s.RegexProperties, s.UniqueItems, s.Contains != nil, s.MultipleOf != nil,
			s.Items != nil, s.AdditionalItems != nil, len(s.Extensions) > 0:
			return false
		}
		for _, r := range []*big.Rat{s.Minimum, s.Maximum, s.ExclusiveMinimum, s.ExclusiveMaximum} {
			if r != nil && !exactBound(r) {
				return false
			}
		}
		subs := []*jsonschema.Schema{s.Ref, s.Not, s.If, s.Then, s.Else, s.PropertyNames, s.Items2020}
		switch ap := s.AdditionalProperties.(type) {
		case nil, bool:
		case *jsonschema.Schema:
			subs = append(subs, ap)
		default:
			return false
		}
		for _, p := range s.Properties {
			subs = append(subs, p)
		}
		for _, p := range s.PatternProperties {
			subs = append(subs, p)
		}
		for _, l := range [][]*jsonschema.Schema{s.AllOf, s.AnyOf, s.OneOf, s.PrefixItems} {
			subs = append(subs, l...)
		}
		for _, c := range subs {
			if !ok(c) {
				return false
			}
		}
		return true
	}
	return ok(root)
}

// normal reports whether v holds only the value types the library reads
// the way Validate's normalizer would hand them over: nothing to convert,
// no NaN or infinity to report. With ints false it also rejects Go ints,
// which the normalizer turns into int64 (messages print both alike, but
// a copy the normalizer would not have changed is then exactly v).
func normal(v any, ints bool) bool {
	switch x := v.(type) {
	case nil, bool, string, int64:
		return true
	case int:
		return ints
	case float64:
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	case map[string]any:
		for _, e := range x {
			if !normal(e, ints) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range x {
			if !normal(e, ints) {
				return false
			}
		}
		return true
	}
	return false
}

// exactBound reports whether a numeric bound is an integer small enough that
// comparing it with an int64 or a float64 gives the library's answer (it
// compares exact decimals): every such integer is exactly a float64.
func exactBound(r *big.Rat) bool {
	return r.IsInt() && r.Num().IsInt64() && math.Abs(float64(r.Num().Int64())) <= 1<<53
}

// check is the verdict for value v against subschema s; inplace counts the
// subschemas already applied to this same value.
func check(s *jsonschema.Schema, v any, inplace int) verdict {
	if s == nil {
		return valid
	}
	if inplace > maxInplace {
		return unknown
	}
	if s.Always != nil {
		if *s.Always {
			return valid
		}
		return invalid
	}
	res := valid
	// merge folds one keyword's verdict into res: any invalid keyword makes
	// the value invalid, otherwise any unknown one leaves it unknown.
	merge := func(r verdict) bool {
		if r == invalid {
			res = invalid
			return false
		}
		if r == unknown {
			res = unknown
		}
		return true
	}
	if len(s.Types) > 0 && !merge(checkType(s.Types, v)) {
		return res
	}
	if len(s.Constant) > 0 && !merge(sameValue(v, s.Constant[0])) {
		return res
	}
	if len(s.Enum) > 0 {
		r := invalid
		for _, e := range s.Enum {
			switch sameValue(v, e) {
			case valid:
				r = valid
			case unknown:
				if r == invalid {
					r = unknown
				}
			}
			if r == valid {
				break
			}
		}
		if !merge(r) {
			return res
		}
	}
	switch x := v.(type) {
	case map[string]any:
		if !merge(checkObject(s, x)) {
			return res
		}
	case []any:
		if s.MinItems != -1 && len(x) < s.MinItems || s.MaxItems != -1 && len(x) > s.MaxItems {
			return invalid
		}
		for i, e := range x {
			var sub *jsonschema.Schema
			switch {
			case i < len(s.PrefixItems):
				sub = s.PrefixItems[i]
			case s.Items2020 != nil:
				sub = s.Items2020
			}
			if sub != nil && !merge(check(sub, e, 0)) {
				return res
			}
		}
	case string:
		if s.MinLength != -1 || s.MaxLength != -1 {
			n := utf8.RuneCountInString(x)
			if s.MinLength != -1 && n < s.MinLength || s.MaxLength != -1 && n > s.MaxLength {
				return invalid
			}
		}
		if s.Pattern != nil && !s.Pattern.MatchString(x) {
			return invalid
		}
	case int, int64, float64:
		if !merge(checkBounds(s, x)) {
			return res
		}
	}
	if s.Ref != nil && !merge(check(s.Ref, v, inplace+1)) {
		return res
	}
	if s.Not != nil && !merge(negate(check(s.Not, v, inplace+1))) {
		return res
	}
	for _, sub := range s.AllOf {
		if !merge(check(sub, v, inplace+1)) {
			return res
		}
	}
	if len(s.AnyOf) > 0 {
		r := invalid
		for _, sub := range s.AnyOf {
			switch check(sub, v, inplace+1) {
			case valid:
				r = valid
			case unknown:
				r = unknown
			}
			if r == valid {
				break
			}
		}
		if !merge(r) {
			return res
		}
	}
	if len(s.OneOf) > 0 {
		matched, unsure := 0, false
		for _, sub := range s.OneOf {
			switch check(sub, v, inplace+1) {
			case valid:
				matched++
			case unknown:
				unsure = true
			}
		}
		r := invalid
		switch {
		case matched > 1:
			r = invalid
		case unsure:
			r = unknown
		case matched == 1:
			r = valid
		}
		if !merge(r) {
			return res
		}
	}
	if s.If != nil {
		r := unknown
		switch check(s.If, v, inplace+1) {
		case valid:
			r = check(s.Then, v, inplace+1)
		case invalid:
			r = check(s.Else, v, inplace+1)
		}
		if !merge(r) {
			return res
		}
	}
	return res
}

func negate(r verdict) verdict {
	switch r {
	case valid:
		return invalid
	case invalid:
		return valid
	}
	return unknown
}

func checkObject(s *jsonschema.Schema, m map[string]any) verdict {
	if s.MinProperties != -1 && len(m) < s.MinProperties || s.MaxProperties != -1 && len(m) > s.MaxProperties {
		return invalid
	}
	for _, name := range s.Required {
		if _, ok := m[name]; !ok {
			return invalid
		}
	}
	res := valid
	for name, e := range m {
		if s.PropertyNames != nil {
			if r := checkName(s.PropertyNames, name, 0); r == invalid {
				return invalid
			} else if r == unknown {
				res = unknown
			}
		}
		evaluated := false
		if sub, ok := s.Properties[name]; ok {
			evaluated = true
			if r := check(sub, e, 0); r == invalid {
				return invalid
			} else if r == unknown {
				res = unknown
			}
		}
		for re, sub := range s.PatternProperties {
			if !re.MatchString(name) {
				continue
			}
			evaluated = true
			if r := check(sub, e, 0); r == invalid {
				return invalid
			} else if r == unknown {
				res = unknown
			}
		}
		if evaluated {
			continue
		}
		switch ap := s.AdditionalProperties.(type) {
		case bool:
			if !ap {
				return invalid
			}
		case *jsonschema.Schema:
			if r := check(ap, e, 0); r == invalid {
				return invalid
			} else if r == unknown {
				res = unknown
			}
		}
	}
	return res
}

// checkName is check for a property name: the same verdict, without
// boxing the string into an interface (an allocation per key) in the
// usual case of a subschema that only has string keywords.
func checkName(s *jsonschema.Schema, name string, inplace int) verdict {
	if s == nil {
		return valid
	}
	if inplace > maxInplace {
		return unknown
	}
	if s.Always != nil || len(s.Constant) > 0 || len(s.Enum) > 0 || s.Not != nil ||
		len(s.AllOf) > 0 || len(s.AnyOf) > 0 || len(s.OneOf) > 0 || s.If != nil {
		return check(s, name, inplace)
	}
	if len(s.Types) > 0 && !slices.Contains(s.Types, "string") {
		return invalid
	}
	if s.MinLength != -1 || s.MaxLength != -1 {
		n := utf8.RuneCountInString(name)
		if s.MinLength != -1 && n < s.MinLength || s.MaxLength != -1 && n > s.MaxLength {
			return invalid
		}
	}
	if s.Pattern != nil && !s.Pattern.MatchString(name) {
		return invalid
	}
	return checkName(s.Ref, name, inplace+1)
}

// checkType matches the library's type names; a float64 is an "integer"
// when it has no fractional part (the shortest decimal of an integral
// float64 is that integer, and of any other float64 is not an integer).
func checkType(types []string, v any) verdict {
	var have string
	integral := false
	switch x := v.(type) {
	case nil:
		have = "null"
	case bool:
		have = "boolean"
	case string:
		have = "string"
	case map[string]any:
		have = "object"
	case []any:
		have = "array"
	case int, int64:
		have, integral = "number", true
	case float64:
		have, integral = "number", x == math.Trunc(x)
	default:
		return unknown
	}
	for _, t := range types {
		if t == have || t == "integer" && integral {
			return valid
		}
	}
	return invalid
}

// number returns v as an int64 or a float64 (isInt tells which).
func number(v any) (i int64, f float64, isInt, ok bool) {
	switch x := v.(type) {
	case int:
		return int64(x), 0, true, true
	case int64:
		return x, 0, true, true
	case float64:
		return 0, x, false, true
	}
	return 0, 0, false, false
}

// cmpBound compares v with an integer bound (see exactBound): -1, 0 or +1.
func cmpBound(v any, r *big.Rat) (int, bool) {
	i, f, isInt, ok := number(v)
	if !ok || !exactBound(r) {
		return 0, false
	}
	b := r.Num().Int64()
	if isInt {
		switch {
		case i < b:
			return -1, true
		case i > b:
			return 1, true
		}
		return 0, true
	}
	// b is exactly a float64, and the shortest decimal of f lies strictly
	// between f's neighbours, so comparing floats gives the decimal answer.
	switch fb := float64(b); {
	case f < fb:
		return -1, true
	case f > fb:
		return 1, true
	}
	return 0, true
}

func checkBounds(s *jsonschema.Schema, v any) verdict {
	if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return unknown
	}
	for _, b := range []struct {
		r  *big.Rat
		ok func(int) bool
	}{
		{s.Minimum, func(c int) bool { return c >= 0 }},
		{s.ExclusiveMinimum, func(c int) bool { return c > 0 }},
		{s.Maximum, func(c int) bool { return c <= 0 }},
		{s.ExclusiveMaximum, func(c int) bool { return c < 0 }},
	} {
		if b.r == nil {
			continue
		}
		c, ok := cmpBound(v, b.r)
		if !ok {
			return unknown
		}
		if !b.ok(c) {
			return invalid
		}
	}
	return valid
}

// sameValue is the library's equality for const and enum, for scalars; a
// structured constant or a number it cannot compare exactly is unknown.
func sameValue(v, c any) verdict {
	switch cv := c.(type) {
	case nil:
		if v == nil {
			return valid
		}
		if _, _, _, ok := number(v); ok || isPlain(v) {
			return invalid
		}
	case string:
		if s, ok := v.(string); ok {
			if s == cv {
				return valid
			}
			return invalid
		}
		if isPlain(v) {
			return invalid
		}
	case bool:
		if b, ok := v.(bool); ok {
			if b == cv {
				return valid
			}
			return invalid
		}
		if isPlain(v) {
			return invalid
		}
	}
	return unknown
}

// isPlain reports whether v is a value of a type the library knows and the
// checker compares exactly (numbers excepted: they compare as numbers).
func isPlain(v any) bool {
	switch v.(type) {
	case nil, bool, string, map[string]any, []any, int, int64:
		return true
	case float64:
		f := v.(float64)
		return !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return false
}
