package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/lxcplan/lxcplan/engine/diag"
)

// Exit codes are API (design.md §5): scripts and CI depend on them, so they
// are defined and mapped here and nowhere else.
const (
	exitOK              = 0
	exitFailed          = 1  // failure; apply failed and rolled back cleanly; problems on the hosts
	exitChanges         = 2  // plan --detailed-exitcode: changes present
	exitDestructive     = 3  // plan --detailed-exitcode: destructive changes present
	exitRollbackPartial = 4  // apply failed and rollback is incomplete
	exitUsage           = 64 // command line usage error (sysexits EX_USAGE)
	exitInvalidInput    = 65 // invalid input files (sysexits EX_DATAERR)
	exitInterrupted     = 130
)

// exitError carries an explicit exit code for outcomes that are not failures
// of the program itself, e.g. "plan has changes" under --detailed-exitcode.
type exitError struct {
	code int
	err  error // may be nil: the code alone is the result
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks a mistake on the command line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// exitCode maps an error returned by a command to the process exit code, and
// prints it to errOut in the form people read: one diagnostic per line.
func exitCode(err error, errOut io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return ee.code
	}
	if ds, ok := diag.From(err); ok {
		printDiagnostics(errOut, ds)
		if ee != nil {
			return ee.code
		}
		var de *diag.Error
		if errors.As(err, &de) {
			return classCode(de.Class())
		}
		return classCode(ds[0].Class)
	}
	fmt.Fprintf(errOut, "error: %v\n", err)
	var ue *usageError
	switch {
	case ee != nil:
		return ee.code
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitFailed
}

func classCode(c diag.Class) int {
	switch c {
	case diag.ClassUsage:
		return exitUsage
	case diag.ClassInput:
		return exitInvalidInput
	}
	return exitFailed
}

// printDiagnostics writes errors and warnings, each on its own line, with the
// "what to do" detail indented under it.
func printDiagnostics(w io.Writer, ds diag.Diagnostics) {
	for _, d := range ds {
		prefix := ""
		if d.Severity == diag.SevError && d.Pos.IsZero() && d.Host == "" {
			prefix = "error: "
		}
		fmt.Fprintf(w, "%s%s\n", prefix, d.Error())
		if d.Detail != "" {
			fmt.Fprintf(w, "    %s\n", d.Detail)
		}
	}
}
