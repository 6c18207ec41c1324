// Package schema holds the JSON Schemas of lxcplan's documents (recipes and
// stacks), embeds them, and validates decoded documents against them with
// messages a person can act on.
//
// The schemas are the single source of the field rules: editors read them for
// completion and hover text, and Validate reads the same descriptions to
// explain a failed pattern or union, so the two never drift apart. This is
// the only package that imports a JSON Schema library.
//
// Conventions for editing the *.schema.json files (the tests enforce them):
//   - a subschema with a pattern, a oneOf/anyOf, or the one-key step shape has
//     a description that is a rule, "must be …", lowercase, no period: it is
//     the error message;
//   - union branches and objects have a title ("bind mount"), used in
//     "field "size" is not allowed in a bind mount";
//   - patterns use only syntax that ECMA-262 and RE2 read alike;
//   - $defs present in both files are identical (copy, don't diverge), and
//     only local "#/$defs/…" references are used, so each file stands alone.
package schema

import (
	"bytes"
	"embed"
	"fmt"
	"slices"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// Kind names a document type that has a schema.
type Kind string

// The kinds Text and Validate know.
const (
	Recipe Kind = "recipe"
	Stack  Kind = "stack"
	Plan   Kind = "plan"
)

//go:embed *.schema.json
var files embed.FS

// entry is one kind's schema, compiled on first use: most invocations of the
// CLI validate one kind, so compiling all of them eagerly would waste time.
type entry struct {
	file string

	once  sync.Once
	sch   *jsonschema.Schema
	index *index
	// fast is whether the allocation-free checker (fast.go) understands
	// every keyword of this schema.
	fast bool
	err  error
}

// registry lists every kind. Adding a kind (the plan schema) means adding a
// *.schema.json file and one line here.
var registry = map[Kind]*entry{
	Recipe: {file: "recipe.schema.json"},
	Stack:  {file: "stack.schema.json"},
	Plan:   {file: "plan.schema.json"},
}

// Kinds lists the kinds Text knows, sorted.
func Kinds() []Kind {
	ks := make([]Kind, 0, len(registry))
	for k := range registry {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Text returns the self-contained schema document as printed by
// `lxcplan schema KIND` (pretty JSON, no external $ref).
func Text(k Kind) ([]byte, error) {
	e, ok := registry[k]
	if !ok {
		return nil, fmt.Errorf("schema: unknown kind %q (known: %v)", k, Kinds())
	}
	b, err := files.ReadFile(e.file)
	if err != nil {
		return nil, fmt.Errorf("schema: read %s: %w", e.file, err)
	}
	return b, nil
}

// compiled returns the kind's compiled schema and its location index.
func compiled(k Kind) (*entry, error) {
	e, ok := registry[k]
	if !ok {
		return nil, fmt.Errorf("schema: unknown kind %q (known: %v)", k, Kinds())
	}
	e.once.Do(func() {
		text, err := Text(k)
		if err != nil {
			e.err = err
			return
		}
		c := jsonschema.NewCompiler()
		c.Draft = jsonschema.Draft2020
		// Descriptions, titles and examples feed the error messages.
		c.ExtractAnnotations = true
		url := "https://lxcplan.dev/schema/" + e.file
		if err := c.AddResource(url, bytes.NewReader(text)); err != nil {
			e.err = fmt.Errorf("schema: load %s: %w", e.file, err)
			return
		}
		sch, err := c.Compile(url)
		if err != nil {
			e.err = fmt.Errorf("schema: compile %s: %w", e.file, err)
			return
		}
		e.sch = sch
		e.index = newIndex(sch)
		e.fast = fastSupported(sch)
	})
	return e, e.err
}
