package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/exec"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/provision"
	"github.com/lxcplan/lxcplan/engine/render"
	"github.com/lxcplan/lxcplan/engine/secrets"
)

func TestProgressEventMapping(t *testing.T) {
	reg := secrets.NewRegistry("s3cret-value")
	at := time.Date(2026, 11, 26, 12, 0, 1, 0, time.UTC)
	tests := []struct {
		name string
		in   exec.Event
		want render.ProgressEvent
	}{
		{"step", exec.Event{Time: at, Container: "db", Host: "pve1", VMID: 101, Phase: "installing step 2/5", Message: "apt: install postgresql"},
			render.ProgressEvent{Time: at, Container: "db", Host: "pve1", VMID: 101, Phase: "installing step 2/5", Message: "apt: install postgresql"}},
		{"failure joins the error, masked", exec.Event{Time: at, Container: "db", Phase: exec.PhaseFailed, Message: "step 3/5",
			Err: errors.New("exit status 1: bad password s3cret-value")},
			render.ProgressEvent{Time: at, Container: "db", Phase: exec.PhaseFailed, Message: "step 3/5: exit status 1: bad password ***",
				Failed: true, Done: true}},
		{"ready is final", exec.Event{Time: at, Container: "db", Phase: exec.PhaseReady},
			render.ProgressEvent{Time: at, Container: "db", Phase: exec.PhaseReady, Done: true}},
		{"skipped is final, not failed", exec.Event{Time: at, Container: "web", Phase: exec.PhaseSkipped},
			render.ProgressEvent{Time: at, Container: "web", Phase: exec.PhaseSkipped, Done: true}},
		{"undo failure is red", exec.Event{Time: at, Container: "db", Phase: exec.PhaseUndoFailed, Err: errors.New("pct destroy: busy")},
			render.ProgressEvent{Time: at, Container: "db", Phase: exec.PhaseUndoFailed, Message: "pct destroy: busy", Failed: true, Done: true}},
		{"retry goes on", exec.Event{Time: at, Container: "db", Phase: exec.PhaseRetry, Message: "CT is locked"},
			render.ProgressEvent{Time: at, Container: "db", Phase: exec.PhaseRetry, Message: "CT is locked"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := progressEvent(tt.in, reg); got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSummaryRows(t *testing.T) {
	res := &exec.Result{Containers: []*exec.ContainerResult{{
		Name: "db", Host: "pve1", VMID: 101, Action: plan.ActionCreate, Status: exec.StatusOK, IP: "10.77.0.201",
		Duration: 3 * time.Second,
		Outputs: map[string]provision.Output{
			"url":      {Value: "http://10.77.0.201/"},
			"password": {Value: "s3cret-value", Secret: true},
		},
	}}}
	var buf bytes.Buffer
	if err := render.Summary(&buf, summaryRows(res), render.SummaryOptions{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "s3cret-value") || !strings.Contains(out, "password=(secret)") ||
		!strings.Contains(out, "db         pve1  101   ok      10.77.0.201  3.0s  url=http://10.77.0.201/") {
		t.Errorf("summary:\n%s", out)
	}
	if summaryRows(nil) != nil {
		t.Error("nil result has rows")
	}
}

func TestNewProgressViewModes(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2026, 11, 26, 12, 0, 1, 0, time.UTC)
	p := newProgressView(&buf, &buf, true, true, secrets.NewRegistry())
	p.Event(progressEvent(exec.Event{Time: at, Container: "db", Phase: exec.PhaseFailed, Err: errors.New("boom")}, nil))
	p.Close()
	if !strings.HasPrefix(buf.String(), `{"type":"apply_event"`) || strings.Contains(buf.String(), "\x1b[") {
		t.Errorf("json mode: %q", buf.String())
	}
	buf.Reset()
	// Not a terminal: one line per event, whatever the colour setting.
	p = newProgressView(&buf, &buf, false, false, nil)
	p.Event(progressEvent(exec.Event{Time: at, Container: "db", Host: "pve1", VMID: 101, Phase: exec.PhaseCreating, Message: "pct create"}, nil))
	p.Close()
	if buf.String() != "12:00:01 pve1 101 db  creating: pct create\n" {
		t.Errorf("line mode: %q", buf.String())
	}
}
