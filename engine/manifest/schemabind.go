package manifest

import "github.com/lxcplan/lxcplan/schema"

func init() {
	schemaValidate = func(k docKind, v any) []violation {
		kind := schema.Stack
		if k == kindRecipe {
			kind = schema.Recipe
		}
		vs := schema.Validate(kind, v)
		out := make([]violation, len(vs))
		for i, x := range vs {
			out[i] = violation{Path: x.Path, Keyword: x.Keyword, Message: x.Message}
		}
		return out
	}
}
