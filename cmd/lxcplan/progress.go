package main

import (
	"io"
	"os"

	"golang.org/x/term"

	"github.com/lxcplan/lxcplan/engine/exec"
	"github.com/lxcplan/lxcplan/engine/render"
	"github.com/lxcplan/lxcplan/engine/secrets"
)

// The adapter between the executor and the progress and summary views:
// engine/render does not import engine/exec, so the mapping lives here.

// newProgressView picks the progress mode (apply writes progress to
// stderr): JSON events with --log-format json, the live view on a
// terminal, else one line per event. It writes to w; tty is the stream
// under w (w may be a lock around it, shared with the -x trace), consulted
// for whether it is a terminal and its size. color says colour is allowed
// (no --no-color, no NO_COLOR); it is used only on a terminal. Every text
// is masked with reg.
func newProgressView(w, tty io.Writer, jsonEvents, color bool, reg *secrets.Registry) *render.Progress {
	opts := render.ProgressOptions{Mode: render.ProgressLines, Color: color && isTerminal(tty)}
	if reg != nil {
		opts.Redact = reg.String
	}
	switch {
	case jsonEvents:
		opts.Mode, opts.Color = render.ProgressJSON, false
	case isTerminal(tty):
		opts.Mode = render.ProgressLive
		if f, ok := tty.(*os.File); ok {
			if cols, rows, err := term.GetSize(int(f.Fd())); err == nil {
				opts.Width, opts.Height = cols, rows
			}
		}
	}
	return render.NewProgress(w, opts)
}

// finalPhases end a container's part of the run (its elapsed time stops).
var finalPhases = map[string]bool{
	exec.PhaseReady: true, exec.PhaseUnchanged: true, exec.PhaseDestroyed: true, exec.PhaseSkipped: true,
	exec.PhaseFailed: true, exec.PhaseRolledBack: true, exec.PhaseUndoFailed: true,
}

// progressEvent maps an executor event to the view's: the error joins the
// message (masked again), failures are flagged for red.
func progressEvent(ev exec.Event, reg *secrets.Registry) render.ProgressEvent {
	msg := ev.Message
	if ev.Err != nil {
		if msg != "" {
			msg += ": "
		}
		msg += ev.Err.Error()
	}
	if reg != nil {
		msg = reg.String(msg)
	}
	failed := ev.Phase == exec.PhaseFailed || ev.Phase == exec.PhaseUndoFailed
	return render.ProgressEvent{Time: ev.Time, Container: ev.Container, Host: ev.Host, VMID: ev.VMID, Phase: ev.Phase,
		Message: msg, Failed: failed, Done: finalPhases[ev.Phase]}
}

// summaryRows maps the executor's result to the summary table's rows.
func summaryRows(res *exec.Result) []render.SummaryRow {
	if res == nil {
		return nil
	}
	rows := make([]render.SummaryRow, 0, len(res.Containers))
	for _, c := range res.Containers {
		r := render.SummaryRow{Container: c.Name, Host: c.Host, VMID: c.VMID, Status: c.Status, IP: c.IP, Duration: c.Duration}
		for name, o := range c.Outputs {
			r.Outputs = append(r.Outputs, render.SummaryOutput{Name: name, Value: o.Value, Secret: o.Secret})
		}
		rows = append(rows, r)
	}
	return rows
}
