package sources

import (
	"bytes"
	"encoding/json"
)

// jsonCodec stands in for manifest.YAMLCodec in this package's own tests,
// which cannot import manifest (it imports sources). The lock format itself
// is tested with the real codec in lockfile_test.go.
type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }

// Unmarshal skips the header comment lines Lock.Marshal writes, which YAML
// reads as comments and JSON cannot.
func (jsonCodec) Unmarshal(data []byte, v any) error {
	for bytes.HasPrefix(data, []byte("#")) {
		_, data, _ = bytes.Cut(data, []byte("\n"))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
