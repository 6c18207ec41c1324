// Package diag holds the diagnostics lxcplan shows to people: a problem, where
// it is (file:line:col or a host), and which exit class it belongs to.
//
// Engine packages accumulate diagnostics instead of stopping at the first
// problem, so one run of `lxcplan validate` reports everything it found.
package diag

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Severity says whether a diagnostic stops the operation.
type Severity int

const (
	SevError Severity = iota
	SevWarning
)

func (s Severity) String() string {
	if s == SevWarning {
		return "warning"
	}
	return "error"
}

// Class decides the process exit code a diagnostic leads to; the mapping to
// numbers lives in cmd/lxcplan, in one place.
type Class int

const (
	// ClassInput: a problem found in the input files without contacting any host (exit 65).
	ClassInput Class = iota
	// ClassHost: a problem found on the hosts (unreachable, vmid taken, lock held...) (exit 1).
	ClassHost
	// ClassUsage: the command line itself is wrong (exit 64).
	ClassUsage
)

// Pos is a position in an input file. Line and Col are 1-based; zero means unknown.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// IsZero reports whether p carries no position at all.
func (p Pos) IsZero() bool { return p.File == "" && p.Line == 0 }

func (p Pos) String() string {
	switch {
	case p.File == "":
		return ""
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Diagnostic is one problem as a person reads it.
type Diagnostic struct {
	Severity Severity
	Class    Class
	Pos      Pos
	// Path is the location inside the document, e.g. "containers.db.memory".
	Path string
	// Summary is one sentence, lower case, no trailing period.
	Summary string
	// Detail says what to do about it; may be empty.
	Detail string
	// Host names the host for problems found on a host.
	Host string
}

// Error renders file:line:col: path: summary, the form printed by the CLI.
func (d Diagnostic) Error() string {
	var b strings.Builder
	if s := d.Pos.String(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	} else if d.Host != "" {
		b.WriteString(d.Host)
		b.WriteString(": ")
	}
	if d.Severity == SevWarning {
		b.WriteString("warning: ")
	}
	if d.Path != "" {
		b.WriteString(d.Path)
		b.WriteString(": ")
	}
	b.WriteString(d.Summary)
	return b.String()
}

// Diagnostics is a list of problems, usually all those found in one run.
type Diagnostics []Diagnostic

// Append adds diagnostics and returns the list, like append.
func (ds Diagnostics) Append(more ...Diagnostic) Diagnostics { return append(ds, more...) }

// HasErrors reports whether any diagnostic is an error (not a warning).
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == SevError {
			return true
		}
	}
	return false
}

// Errors returns only the error diagnostics.
func (ds Diagnostics) Errors() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == SevError {
			out = append(out, d)
		}
	}
	return out
}

// Sort orders diagnostics by file, line, column, then message, so output is stable.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Summary < b.Summary
	})
}

// Err returns the diagnostics as an error when at least one is an error, else nil.
func (ds Diagnostics) Err() error {
	if !ds.HasErrors() {
		return nil
	}
	return &Error{Diags: ds}
}

// Error is an error made of diagnostics; the CLI unwraps it with errors.As to
// print each diagnostic on its own line and pick the exit code.
type Error struct{ Diags Diagnostics }

func (e *Error) Error() string {
	lines := make([]string, 0, len(e.Diags))
	for _, d := range e.Diags {
		lines = append(lines, d.Error())
	}
	return strings.Join(lines, "\n")
}

// Class is the exit class of the error: the most severe class among its error
// diagnostics (host problems outrank input problems, which outrank usage).
func (e *Error) Class() Class {
	c := ClassUsage
	seen := false
	for _, d := range e.Diags {
		if d.Severity != SevError {
			continue
		}
		if !seen || rank(d.Class) > rank(c) {
			c = d.Class
			seen = true
		}
	}
	if !seen {
		return ClassInput
	}
	return c
}

func rank(c Class) int {
	switch c {
	case ClassHost:
		return 3
	case ClassInput:
		return 2
	default:
		return 1
	}
}

// From extracts diagnostics from err if it carries any.
func From(err error) (Diagnostics, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Diags, true
	}
	var d Diagnostic
	if errors.As(err, &d) {
		return Diagnostics{d}, true
	}
	return nil, false
}

// Errorf builds an error diagnostic at pos.
func Errorf(class Class, pos Pos, path, format string, args ...any) Diagnostic {
	return Diagnostic{Severity: SevError, Class: class, Pos: pos, Path: path, Summary: fmt.Sprintf(format, args...)}
}

// Warnf builds a warning diagnostic at pos.
func Warnf(pos Pos, path, format string, args ...any) Diagnostic {
	return Diagnostic{Severity: SevWarning, Class: ClassInput, Pos: pos, Path: path, Summary: fmt.Sprintf(format, args...)}
}
