package secrets

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
)

// Charset names (recipe.schema.json, params.*.generate.charset).
const (
	CharsetAlnum = "alnum"
	CharsetHex   = "hex"
	CharsetAlpha = "alpha"
	CharsetASCII = "ascii"
)

// DefaultLength is used when [Generate.Length] is 0.
const DefaultLength = 32

// maxLength bounds a generated value; the schema allows 8–256.
const maxLength = 4096

var charsets = map[string]string{
	CharsetAlnum: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	CharsetAlpha: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
	CharsetHex:   "0123456789abcdef",
	// Printable ASCII without the space: the whole range 0x21–0x7e, quotes
	// and backslash included. A recipe that writes the value into a config
	// file it must quote chooses alnum instead.
	CharsetASCII: printableASCII(),
}

func printableASCII() string {
	b := make([]byte, 0, 0x7e-0x21+1)
	for c := byte(0x21); c <= 0x7e; c++ {
		b = append(b, c)
	}
	return string(b)
}

// ErrInvalidGenerate: the length or charset cannot be generated.
var ErrInvalidGenerate = errors.New("invalid secret generator")

// Generate says how to make a new secret value.
type Generate struct {
	// Length in characters; 0 means [DefaultLength].
	Length int
	// Charset is alnum (the default when empty), hex, alpha or ascii.
	Charset string
}

// New draws a value with crypto/rand, each character uniformly from the
// charset. It never returns a value containing whitespace or a NUL byte.
func (g Generate) New() (string, error) {
	n := g.Length
	if n == 0 {
		n = DefaultLength
	}
	if n < 0 || n > maxLength {
		return "", fmt.Errorf("%w: length %d (want 1–%d)", ErrInvalidGenerate, g.Length, maxLength)
	}
	cs := g.Charset
	if cs == "" {
		cs = CharsetAlnum
	}
	chars, ok := charsets[cs]
	if !ok {
		return "", fmt.Errorf("%w: unknown charset %q (want alnum, hex, alpha or ascii)", ErrInvalidGenerate, g.Charset)
	}
	max := big.NewInt(int64(len(chars)))
	out := make([]byte, n)
	for i := range out {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("generate secret: %w", err)
		}
		out[i] = chars[k.Int64()]
	}
	return string(out), nil
}
