package transport

import (
	"errors"
	"slices"
	"strings"
)

// Mask is what a secret is replaced with in displayed forms.
const Mask = "***"

// Redactor replaces every occurrence of a set of secret strings with [Mask].
// The zero value and nil redact nothing.
type Redactor struct {
	// secrets, longest first, so a secret that contains another is masked whole.
	secrets []string
}

// NewRedactor returns a Redactor for the given secrets; empty strings are
// ignored (masking "" would mask everything).
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.add(secrets...)
	return r
}

// With returns a Redactor that also masks more.
func (r *Redactor) With(more ...string) *Redactor {
	n := &Redactor{}
	if r != nil {
		n.secrets = slices.Clone(r.secrets)
	}
	n.add(more...)
	return n
}

func (r *Redactor) add(secrets ...string) {
	for _, s := range secrets {
		if s != "" && !slices.Contains(r.secrets, s) {
			r.secrets = append(r.secrets, s)
		}
	}
	slices.SortStableFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
}

// Secrets returns the secrets r masks.
func (r *Redactor) Secrets() []string {
	if r == nil {
		return nil
	}
	return slices.Clone(r.secrets)
}

// String masks every secret in s.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Mask)
		}
	}
	return s
}

// Bytes masks every secret in b, returning a new slice when something changed.
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil || len(r.secrets) == 0 {
		return b
	}
	s := r.String(string(b))
	if s == string(b) {
		return b
	}
	return []byte(s)
}

// Argv masks every secret in each word. Mask each word before quoting: a
// quoted secret no longer matches its raw form.
func (r *Redactor) Argv(argv []string) []string {
	out := make([]string, len(argv))
	for i, w := range argv {
		out[i] = r.String(w)
	}
	return out
}

// Error returns err with a redacted message. The result still unwraps to
// err, so errors.Is and errors.As keep working; *ExitError values are
// redacted in place of the copy seen through errors.As.
func (r *Redactor) Error(err error) error {
	if err == nil || r == nil || len(r.secrets) == 0 {
		return err
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		ee.Argv = r.Argv(ee.Argv)
		ee.Stderr = r.Bytes(ee.Stderr)
	}
	msg := err.Error()
	red := r.String(msg)
	if red == msg {
		return err
	}
	return &redactedError{msg: red, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
