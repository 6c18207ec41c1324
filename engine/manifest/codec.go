package manifest

import (
	"bytes"
	"errors"
	"io"

	"gopkg.in/yaml.v3"

	"github.com/lxcplan/lxcplan/engine/sources"
)

// YAMLCodec is the codec of lxcplan.lock. engine/sources defines the lock
// but may not import the YAML library (only this package does), and cannot
// import this package (it imports sources), so callers hand this value to
// sources.NewResolver, sources.WriteLock and Lock.Marshal.
var YAMLCodec sources.Codec = yamlCodec{}

type yamlCodec struct{}

// Marshal encodes v as YAML indented by two spaces; yaml.v3 sorts map keys,
// so equal values give equal bytes.
func (yamlCodec) Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Unmarshal decodes the first YAML document of data into v, refusing
// fields v does not have; an empty document leaves v unchanged.
func (yamlCodec) Unmarshal(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
