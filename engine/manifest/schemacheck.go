package manifest

import (
	"github.com/lxcplan/lxcplan/engine/diag"
)

type docKind int

const (
	kindRecipe docKind = iota
	kindStack
)

// violation mirrors schema.Violation.
type violation struct {
	Path    []string
	Keyword string
	Message string
}

// schemaValidate runs the JSON Schema of kind over a plain-value document; it
// is bound to the schema package in schemabind.go.
var schemaValidate func(k docKind, v any) []violation

// schemaDiags validates d against the schema of kind and turns each
// violation into a positioned diagnostic: unknown keys point at the key,
// missing fields at the mapping that lacks them, anything else at the value.
func schemaDiags(d *doc, k docKind) diag.Diagnostics {
	if schemaValidate == nil {
		return nil
	}
	var ds diag.Diagnostics
	for _, v := range schemaValidate(k, d.value) {
		var pos diag.Pos
		switch v.Keyword {
		case "additionalProperties", "unevaluatedProperties", "propertyNames":
			pos = d.keyPos(v.Path)
		default:
			pos = d.pos(v.Path)
		}
		ds = append(ds, diag.Errorf(diag.ClassInput, pos, d.display(v.Path), "%s", v.Message))
	}
	return ds
}
