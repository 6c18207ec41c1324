package schema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// collector turns the validator's error tree into leaf violations with
// messages built from the failing subschema and the offending value, never
// from the validator's own wording.
type collector struct {
	ix  *index
	doc any
}

// lastToken returns the final token of a JSON pointer.
func lastToken(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// leaves flattens an error tree, resolving unions to one sensible story.
func (c *collector) leaves(e *jsonschema.ValidationError) []Violation {
	kw := lastToken(e.KeywordLocation)
	if kw == "oneOf" || kw == "anyOf" {
		return c.union(e, kw)
	}
	if len(e.Causes) > 0 {
		var out []Violation
		for _, cause := range e.Causes {
			out = append(out, c.leaves(cause)...)
		}
		return out
	}
	return c.leaf(e, kw)
}

// union explains a failed oneOf/anyOf. Branches whose type does not fit the
// value are dropped; if one branch is left (or, for oneOf, one branch is
// singled out by a key only it declares) its own errors are reported,
// otherwise one sentence from the union's description.
func (c *collector) union(e *jsonschema.ValidationError, kw string) []Violation {
	path := pointerTokens(e.InstanceLocation)
	owner := c.ix.owner(e.AbsoluteKeywordLocation)
	var branches []*jsonschema.Schema
	if owner != nil {
		if kw == "oneOf" {
			branches = owner.OneOf
		} else {
			branches = owner.AnyOf
		}
	}
	summary := []Violation{{Path: path, Keyword: kw, Message: ruleText(owner, "must match one of the allowed forms")}}
	if len(e.Causes) == 0 { // oneOf matched more than one branch
		return summary
	}
	type branch struct {
		idx int
		vs  []Violation
	}
	var cands []branch
	typeMismatches := 0
	prefix := e.KeywordLocation + "/"
	for _, cause := range e.Causes {
		idx := -1
		if rest, ok := strings.CutPrefix(cause.KeywordLocation, prefix); ok {
			tok, _, _ := strings.Cut(rest, "/")
			if i, err := strconv.Atoi(tok); err == nil {
				idx = i
			}
		}
		vs := c.leaves(cause)
		mismatch := false
		for _, v := range vs {
			if v.Keyword == "type" && slices.Equal(v.Path, path) {
				mismatch = true
				break
			}
		}
		if mismatch {
			typeMismatches++
			continue
		}
		cands = append(cands, branch{idx, vs})
	}
	if len(cands) == 1 && (kw == "oneOf" || typeMismatches == len(e.Causes)-1) {
		return cands[0].vs
	}
	if kw != "oneOf" || len(cands) == 0 {
		return summary
	}
	obj, _ := c.value(path)
	m, ok := obj.(map[string]any)
	if !ok {
		return summary
	}
	// Keys each candidate declares that no other candidate does.
	props := func(i int) map[string]*jsonschema.Schema {
		if i < 0 || i >= len(branches) {
			return nil
		}
		if s := deref(branches[i]); s != nil {
			return s.Properties
		}
		return nil
	}
	best, bestScore, tie := -1, 0, false
	for ci, b := range cands {
		score := 0
		for k := range props(b.idx) {
			if _, present := m[k]; !present {
				continue
			}
			unique := true
			for cj, o := range cands {
				if cj != ci {
					if _, dup := props(o.idx)[k]; dup {
						unique = false
						break
					}
				}
			}
			if unique {
				score++
			}
		}
		switch {
		case score > bestScore:
			best, bestScore, tie = ci, score, false
		case score == bestScore && score > 0:
			// Equal evidence: the branch that fits better wins.
			if len(b.vs) < len(cands[best].vs) {
				best, tie = ci, false
			} else if len(b.vs) == len(cands[best].vs) {
				tie = true
			}
		}
	}
	if best < 0 || tie {
		return summary
	}
	return cands[best].vs
}

func (c *collector) value(path []string) (any, bool) {
	return lookup(c.doc, path)
}

// ruleText returns a subschema's description when it is written as a rule
// ("must be …"), which is the convention for every subschema whose failure
// cannot be explained from its keywords alone (patterns, unions).
func ruleText(s *jsonschema.Schema, fallback string) string {
	for i := 0; s != nil && i < 16; i++ {
		if strings.HasPrefix(s.Description, "must ") {
			return s.Description
		}
		s = s.Ref
	}
	return fallback
}

// inPropertyNames reports whether a keyword location is the check of an
// object key rather than of a value (propertyNames, possibly via $ref).
func inPropertyNames(kwLoc string) bool {
	toks := strings.Split(kwLoc, "/")
	i := -1
	for j, t := range toks {
		if t == "propertyNames" {
			i = j
		}
	}
	if i < 0 {
		return false
	}
	for _, t := range toks[i+1 : len(toks)-1] {
		if t != "$ref" {
			return false
		}
	}
	return true
}

// leaf builds the violation(s) for one failed keyword.
func (c *collector) leaf(e *jsonschema.ValidationError, kw string) []Violation {
	path := pointerTokens(e.InstanceLocation)
	s := c.ix.owner(e.AbsoluteKeywordLocation)
	one := func(msg string) []Violation { return []Violation{{Path: path, Keyword: kw, Message: msg}} }
	if s == nil {
		return one(e.Message)
	}
	if inPropertyNames(e.KeywordLocation) {
		name := ""
		if len(path) > 0 {
			name = path[len(path)-1]
		}
		msg := c.valueMessage(s, kw, name, e)
		// The key itself is wrong: say so, so callers point at the key.
		return []Violation{{Path: path, Keyword: "propertyNames", Message: fmt.Sprintf("invalid name %q: %s", name, msg)}}
	}
	v, _ := c.value(path)
	switch kw {
	case "required":
		m, _ := v.(map[string]any)
		var out []Violation
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				out = append(out, Violation{Path: path, Keyword: kw, Message: fmt.Sprintf("missing required field %q", r)})
			}
		}
		if len(out) == 0 {
			return one(e.Message)
		}
		return out
	case "additionalProperties":
		return c.unknownKeys(s, path, v)
	case "minProperties", "maxProperties":
		m, _ := v.(map[string]any)
		if s.MinProperties == 1 && s.MaxProperties == 1 {
			if kw == "minProperties" {
				return one(ruleText(s, "must have exactly one key"))
			}
			keys := sortedKeys(m)
			return one(fmt.Sprintf("must have exactly one key naming its kind, found %d: %s", len(keys), strings.Join(keys, ", ")))
		}
		if kw == "minProperties" {
			if s.MinProperties == 1 {
				return one("must not be empty")
			}
			return one(fmt.Sprintf("must have at least %d entries", s.MinProperties))
		}
		return one(fmt.Sprintf("must have at most %d entries (found %d)", s.MaxProperties, len(m)))
	}
	return one(c.valueMessage(s, kw, v, e))
}

// valueMessage explains why the value v fails keyword kw of schema s.
func (c *collector) valueMessage(s *jsonschema.Schema, kw string, v any, e *jsonschema.ValidationError) string {
	switch kw {
	case "type":
		return typeMessage(s, v)
	case "enum":
		vals := make([]string, len(s.Enum))
		for i, x := range s.Enum {
			vals[i] = fmt.Sprint(x)
		}
		return fmt.Sprintf("must be one of %s (got %s)", strings.Join(vals, ", "), describe(v))
	case "const":
		if len(s.Constant) > 0 {
			return fmt.Sprintf("must be %s (got %s)", describe(s.Constant[0]), describe(v))
		}
	case "pattern", "format":
		return ruleText(s, "has an invalid format")
	case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
		return rangeMessage(s)
	case "minLength":
		if s.MinLength == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters long", s.MinLength)
	case "maxLength":
		return fmt.Sprintf("must be at most %d characters long", s.MaxLength)
	case "minItems":
		if s.MinItems == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must have at least %d items", s.MinItems)
	case "maxItems":
		n := 0
		if l, ok := v.([]any); ok {
			n = len(l)
		}
		return fmt.Sprintf("must have at most %d items (found %d)", s.MaxItems, n)
	case "uniqueItems":
		return "must not contain duplicates"
	case "multipleOf":
		return fmt.Sprintf("must be a multiple of %s", ratString(s.MultipleOf))
	case "not":
		return ruleText(s, "is not allowed here")
	}
	if m := ruleText(s, ""); m != "" {
		return m
	}
	return strings.TrimPrefix(e.Message, "jsonschema: ")
}

func rangeMessage(s *jsonschema.Schema) string {
	lo, hi := s.Minimum, s.Maximum
	switch {
	case lo != nil && hi != nil:
		return fmt.Sprintf("must be between %s and %s", ratString(lo), ratString(hi))
	case s.ExclusiveMinimum != nil && hi != nil:
		return fmt.Sprintf("must be greater than %s and at most %s", ratString(s.ExclusiveMinimum), ratString(hi))
	case lo != nil && s.ExclusiveMaximum != nil:
		return fmt.Sprintf("must be at least %s and less than %s", ratString(lo), ratString(s.ExclusiveMaximum))
	case lo != nil:
		return fmt.Sprintf("must be at least %s", ratString(lo))
	case hi != nil:
		return fmt.Sprintf("must be at most %s", ratString(hi))
	case s.ExclusiveMinimum != nil:
		return fmt.Sprintf("must be greater than %s", ratString(s.ExclusiveMinimum))
	case s.ExclusiveMaximum != nil:
		return fmt.Sprintf("must be less than %s", ratString(s.ExclusiveMaximum))
	}
	return "is out of range"
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// typeNames are the words users know: YAML has maps and lists.
var typeNames = map[string]string{
	"object":  "a map",
	"array":   "a list",
	"string":  "a string",
	"integer": "an integer",
	"number":  "a number",
	"boolean": "true or false",
	"null":    "null",
}

func jsonTypeOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case float64:
		if x != float64(int64(x)) {
			return "number"
		}
		return "integer"
	}
	return "integer"
}

func typeMessage(s *jsonschema.Schema, v any) string {
	want := make([]string, len(s.Types))
	for i, t := range s.Types {
		want[i] = typeNames[t]
	}
	got := jsonTypeOf(v)
	if len(s.Types) == 1 && s.Types[0] == "string" && (got == "integer" || got == "number" || got == "boolean") {
		if len(s.Examples) > 0 {
			if ex, ok := s.Examples[0].(string); ok && s.Pattern != nil {
				// The decoder may have changed the text (0644 reads as an
				// octal number), so show the expected shape, not the value.
				return fmt.Sprintf("must be a string; quote it, like %q", ex)
			}
		}
		return fmt.Sprintf("must be a string; quote it: %q", scalarText(v))
	}
	if str, ok := v.(string); ok && len(s.Types) == 1 {
		switch s.Types[0] {
		case "boolean":
			// yes/no/on/off are strings in YAML 1.2, and "true" is quoted.
			return fmt.Sprintf("must be true or false, not the string %q", str)
		case "integer", "number":
			if _, err := strconv.ParseFloat(str, 64); err == nil {
				return fmt.Sprintf("must be %s, not the string %q; remove the quotes", typeNames[s.Types[0]], str)
			}
		}
	}
	if len(s.Types) == 1 && s.Types[0] == "integer" && got == "number" {
		return fmt.Sprintf("must be an integer, not %s", scalarText(v))
	}
	gotName := typeNames[got]
	if got == "integer" {
		gotName = "a number"
	}
	if got == "boolean" {
		gotName = "a boolean"
	}
	return fmt.Sprintf("must be %s, not %s", joinOr(want), gotName)
}

func joinOr(l []string) string {
	switch len(l) {
	case 0:
		return "a value"
	case 1:
		return l[0]
	}
	return strings.Join(l[:len(l)-1], ", ") + " or " + l[len(l)-1]
}

// scalarText renders a scalar as YAML would show it.
func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case json.Number:
		return string(x)
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// describe renders a value for "(got …)": strings quoted, scalars as
// written, collections by their kind.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case map[string]any:
		return "a map"
	case []any:
		return "a list"
	case nil:
		return "null"
	}
	return scalarText(v)
}

// unknownKeys reports each key of the object that the schema does not allow,
// with a suggestion when a close allowed key exists.
func (c *collector) unknownKeys(s *jsonschema.Schema, path []string, v any) []Violation {
	m, _ := v.(map[string]any)
	var out []Violation
	for _, k := range sortedKeys(m) {
		if _, ok := s.Properties[k]; ok {
			continue
		}
		if matchesAny(s.PatternProperties, k) {
			continue
		}
		msg := fmt.Sprintf("unknown field %q", k)
		if sug := suggest(k, s.Properties); sug != "" {
			msg += fmt.Sprintf("; did you mean %q?", sug)
		} else if parent := nestedIn(s, k); parent != "" && !metaKeys[k] {
			// A stack container takes sizes under resources, a recipe
			// container directly: point at the right place.
			msg = fmt.Sprintf("field %q is not allowed here; it belongs under %q", k, parent)
		} else if c.ix.props[k] && s.Title != "" && len(path) > 0 {
			// The document's own title names a file, not a place.
			msg = fmt.Sprintf("field %q is not allowed in %s %s", k, article(s.Title), s.Title)
		}
		out = append(out, Violation{Path: append(slices.Clone(path), k), Keyword: "additionalProperties", Message: msg})
	}
	return out
}

// metaKeys appear at many levels, so a misplaced one is more likely meant
// for the object it is in than for a nested one: no "belongs under" hint.
var metaKeys = map[string]bool{"description": true, "name": true, "version": true}

// nestedIn returns the property of s whose object schema declares k, if
// exactly one does.
func nestedIn(s *jsonschema.Schema, k string) string {
	found := ""
	for name, p := range s.Properties {
		if p = deref(p); p == nil {
			continue
		}
		if _, ok := p.Properties[k]; ok {
			if found != "" {
				return ""
			}
			found = name
		}
	}
	return found
}

func article(noun string) string {
	if noun != "" && strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an"
	}
	return "a"
}

func matchesAny(pp map[*regexp.Regexp]*jsonschema.Schema, k string) bool {
	for re := range pp {
		if re.MatchString(k) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// suggest returns the allowed key closest to k within edit distance 2, or "".
// Very short keys get no suggestion: any two-letter key is two edits from
// any other.
func suggest(k string, allowed map[string]*jsonschema.Schema) string {
	best, bestD := "", 3
	lk := strings.ToLower(k)
	for a := range allowed {
		d := editDistance(lk, a)
		if d >= len([]rune(k)) || d >= len([]rune(a)) {
			continue
		}
		if d < bestD || (d == bestD && a < best) {
			best, bestD = a, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours each cost one,
// so "memroy" is one edit from "memory".
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
