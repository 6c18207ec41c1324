package schema

import (
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// index finds compiled subschemas by their location, so an error's
// AbsoluteKeywordLocation leads back to the subschema that failed and its
// annotations (description, title, examples) and constraints.
type index struct {
	byLoc map[string]*jsonschema.Schema // key: JSON pointer fragment, "" for the root
	// props holds every property name declared anywhere in the schema, to
	// tell a typo from a field that exists but is not allowed in this place.
	props map[string]bool
}

func newIndex(root *jsonschema.Schema) *index {
	ix := &index{byLoc: map[string]*jsonschema.Schema{}, props: map[string]bool{}}
	ix.walk(root)
	return ix
}

// fragment returns the JSON pointer part of an absolute schema location.
func fragment(loc string) string {
	if i := strings.IndexByte(loc, '#'); i >= 0 {
		return loc[i+1:]
	}
	return ""
}

func (ix *index) walk(s *jsonschema.Schema) {
	if s == nil {
		return
	}
	loc := fragment(s.Location)
	if _, seen := ix.byLoc[loc]; seen {
		return
	}
	ix.byLoc[loc] = s
	for name, p := range s.Properties {
		ix.props[name] = true
		ix.walk(p)
	}
	ix.walk(s.Ref)
	ix.walk(s.Not)
	for _, l := range [][]*jsonschema.Schema{s.AllOf, s.AnyOf, s.OneOf, s.PrefixItems} {
		for _, c := range l {
			ix.walk(c)
		}
	}
	ix.walk(s.If)
	ix.walk(s.Then)
	ix.walk(s.Else)
	ix.walk(s.PropertyNames)
	for _, c := range s.PatternProperties {
		ix.walk(c)
	}
	if c, ok := s.AdditionalProperties.(*jsonschema.Schema); ok {
		ix.walk(c)
	}
	for _, c := range s.DependentSchemas {
		ix.walk(c)
	}
	ix.walk(s.UnevaluatedProperties)
	switch it := s.Items.(type) {
	case *jsonschema.Schema:
		ix.walk(it)
	case []*jsonschema.Schema:
		for _, c := range it {
			ix.walk(c)
		}
	}
	if c, ok := s.AdditionalItems.(*jsonschema.Schema); ok {
		ix.walk(c)
	}
	ix.walk(s.Items2020)
	ix.walk(s.Contains)
	ix.walk(s.UnevaluatedItems)
}

// owner returns the subschema holding the keyword at an absolute keyword
// location such as "https://…#/$defs/network/properties/vlan/maximum".
func (ix *index) owner(absKeywordLoc string) *jsonschema.Schema {
	f := fragment(absKeywordLoc)
	if i := strings.LastIndexByte(f, '/'); i >= 0 {
		f = f[:i]
	}
	return ix.byLoc[f]
}

// at returns the subschema at an absolute location.
func (ix *index) at(absLoc string) *jsonschema.Schema {
	return ix.byLoc[fragment(absLoc)]
}

// deref follows $ref chains, so a branch like {"$ref": "#/$defs/bind_mount"}
// shows the properties of the schema it names.
func deref(s *jsonschema.Schema) *jsonschema.Schema {
	for i := 0; s != nil && s.Ref != nil && i < 16; i++ {
		if len(s.Properties) > 0 || len(s.Types) > 0 {
			break
		}
		s = s.Ref
	}
	return s
}
