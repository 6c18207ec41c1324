package schema_test

import (
	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/schema"
)

// The schema tests decode their YAML fixtures the way the loader does,
// through engine/manifest, the only package that imports the YAML library.
// This external package may import manifest; package schema's tests may not.
func init() { schema.SetYAMLDecoder(manifest.DecodeYAML) }
