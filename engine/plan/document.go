package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/model"
)

// ErrFormatVersion is returned by ReadPlan for a document of another major
// format version.
var ErrFormatVersion = errors.New("unsupported plan format_version")

// MarshalJSON encodes the document with every list present (never null), so
// readers and the schema see one shape.
func (p *Plan) MarshalJSON() ([]byte, error) {
	type doc Plan // no methods: no recursion
	c := doc(*p)
	c.FormatVersion = FormatVersion
	if c.Changes == nil {
		c.Changes = []*Change{}
	}
	if c.Diagnostics == nil {
		c.Diagnostics = []Diagnostic{}
	}
	for _, ch := range c.Changes {
		if ch.Fields == nil {
			ch.Fields = []Field{}
		}
		if ch.Steps == nil {
			ch.Steps = []Step{}
		}
		if ch.DependsOn == nil {
			ch.DependsOn = []string{}
		}
		if a := ch.Apply; a != nil {
			if a.Marker.Config == nil {
				a.Marker.Config = map[string]string{}
			}
			if a.Marker.Steps == nil {
				a.Marker.Steps = []string{}
			}
			if a.Marker.Depends == nil {
				a.Marker.Depends = []string{}
			}
		}
	}
	return json.Marshal(&c)
}

// WriteJSON writes the document indented, ending in a newline. The same plan
// always gives the same bytes (no timestamps, maps sorted by encoding/json).
func (p *Plan) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	out.WriteByte('\n')
	if _, err := w.Write(out.Bytes()); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

// ReadPlan reads a document written by WriteJSON. Minor versions above ours
// are read (unknown fields are ignored); another major is ErrFormatVersion.
func ReadPlan(r io.Reader) (*Plan, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	var probe struct {
		FormatVersion *string `json:"format_version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	if probe.FormatVersion == nil {
		return nil, fmt.Errorf("read plan: %w: format_version is missing", ErrFormatVersion)
	}
	if major(*probe.FormatVersion) != major(FormatVersion) {
		return nil, fmt.Errorf("read plan: %w: %q (this lxcplan reads %s.x)", ErrFormatVersion, *probe.FormatVersion, major(FormatVersion))
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	for i, c := range p.Changes {
		if c == nil {
			return nil, fmt.Errorf("read plan: changes[%d] is null", i)
		}
		if !validAction(c.Action) {
			return nil, fmt.Errorf("read plan: changes[%d]: unknown action %q", i, c.Action)
		}
	}
	return &p, nil
}

func major(v string) string {
	m, _, _ := strings.Cut(v, ".")
	return m
}

func validAction(a Action) bool {
	for _, x := range Actions {
		if x == a {
			return true
		}
	}
	return false
}

// Diags returns the plan's diagnostics as diag values (for the CLI's
// exit code and stderr).
func (p *Plan) Diags() diag.Diagnostics {
	out := make(diag.Diagnostics, 0, len(p.Diagnostics))
	for _, d := range p.Diagnostics {
		x := diag.Diagnostic{
			Severity: diag.SevError, Class: diag.ClassInput,
			Pos:  diag.Pos{File: d.File, Line: d.Line, Col: d.Col},
			Path: d.Path, Summary: d.Summary, Detail: d.Detail, Host: d.Host,
		}
		if d.Severity == "warning" {
			x.Severity = diag.SevWarning
		}
		switch d.Class {
		case "host":
			x.Class = diag.ClassHost
		case "usage":
			x.Class = diag.ClassUsage
		}
		out = append(out, x)
	}
	return out
}

// reHostPort matches an address with a port ("192.0.2.7:22", "[fe80::1]:22"):
// how connection errors name the host they could not reach.
var reHostPort = regexp.MustCompile(`\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}:[0-9]+\b|\[[0-9a-fA-F:.]+\]:[0-9]+`)

// scrubber removes connection details (declared host addresses, users and
// identity files, address:port pairs) from diagnostic text: the document
// may be posted as a pull-request comment.
func scrubber(st *model.Stack) func(string) string {
	var pairs []string
	if st != nil {
		for _, k := range st.HostNames() {
			h := st.Hosts[k]
			if h == nil {
				continue
			}
			for _, v := range []string{h.Identity, h.Address} {
				if len(v) > 2 {
					pairs = append(pairs, v, "(address of "+k+")")
				}
			}
		}
	}
	r := strings.NewReplacer(pairs...)
	return func(s string) string { return reHostPort.ReplaceAllString(r.Replace(s), "(host address)") }
}

func docDiagnostics(ds diag.Diagnostics, scrub func(string) string) []Diagnostic {
	out := make([]Diagnostic, 0, len(ds))
	for _, d := range ds {
		class := "input"
		switch d.Class {
		case diag.ClassHost:
			class = "host"
		case diag.ClassUsage:
			class = "usage"
		}
		out = append(out, Diagnostic{
			Severity: d.Severity.String(), Class: class, File: d.Pos.File, Line: d.Pos.Line, Col: d.Pos.Col,
			Path: d.Path, Summary: scrub(d.Summary), Detail: scrub(d.Detail), Host: d.Host,
		})
	}
	return out
}
