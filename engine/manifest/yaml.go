package manifest

import (
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"
)

// YAMLToJSON reads one YAML document (JSON is YAML too) and returns it as
// canonical JSON (sorted keys). It lets packages that must not import a YAML
// library, such as engine/render's tests, check YAML they produced.
func YAMLToJSON(data []byte) ([]byte, error) {
	root, ds := parseYAML("input", data)
	if ds.HasErrors() {
		return nil, ds.Err()
	}
	d, ds := convert("input", root)
	if ds.HasErrors() {
		return nil, ds.Err()
	}
	out, err := json.Marshal(d.value)
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return out, nil
}

// DecodeYAML reads one YAML document into the plain values the loader hands
// to schema.Validate (map[string]any, []any, string, bool, nil, int64,
// float64), with the loader's limits and checks (duplicate keys, aliases,
// depth). It lets tests that must not import a YAML library, such as
// schema's and recipes', decode YAML exactly as lxcplan does.
func DecodeYAML(data []byte) (any, error) {
	root, ds := parseYAML("input", data)
	if ds.HasErrors() {
		return nil, ds.Err()
	}
	d, ds := convert("input", root)
	if ds.HasErrors() {
		return nil, ds.Err()
	}
	return d.value, nil
}

// MarshalYAML encodes v as YAML; render takes it as a function when it
// wants a YAML library's output instead of its own writer.
func MarshalYAML(v any) ([]byte, error) {
	out, err := yaml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	return out, nil
}
