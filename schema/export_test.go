package schema

// SetYAMLDecoder lets the external test package hand in manifest.DecodeYAML.
func SetYAMLDecoder(f func([]byte) (any, error)) { yamlDecoder = f }
