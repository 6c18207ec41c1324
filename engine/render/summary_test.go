package render_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/render"
)

func summaryRows() []render.SummaryRow {
	return []render.SummaryRow{
		{Container: "web", Host: "pve1", VMID: 103, Status: "ok", IP: "10.77.0.203", Duration: 41*time.Second + 300*time.Millisecond,
			Outputs: []render.SummaryOutput{{Name: "url", Value: "http://10.77.0.203/"}}},
		{Container: "db", Host: "pve1", VMID: 101, Status: "ok", IP: "10.77.0.201", Duration: 2*time.Minute + 5*time.Second,
			Outputs: []render.SummaryOutput{
				{Name: "password", Value: "hunter2-secret", Secret: true},
				{Name: "dsn", Value: "postgres://app:hunter2-secret@10.77.0.201/app", Secret: true},
				{Name: "admin_url", Value: "http://10.77.0.201:8080/"},
				{Name: "url", Value: "postgres://10.77.0.201:5432"},
			}},
		{Container: "cache", Host: "pve2", Status: "failed", Duration: 9 * time.Second},
		{Container: "old", Host: "pve2", VMID: 110, Status: "destroyed", Duration: 1500 * time.Millisecond,
			Outputs: []render.SummaryOutput{{Name: "note", Value: "line one\nline two hunter2-secret"}}},
	}
}

func TestSummaryGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := render.Summary(&buf, summaryRows(), render.SummaryOptions{Redact: redactHunter}); err != nil {
		t.Fatal(err)
	}
	configGolden(t, "summary.golden", buf.Bytes())
	if strings.Contains(buf.String(), "hunter2") {
		t.Errorf("secret in the summary:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "password=(secret)") {
		t.Errorf("secret output not shown as (secret):\n%s", buf.String())
	}

	// Colour paints whole rows after alignment: stripping it gives the
	// same table.
	var col bytes.Buffer
	if err := render.Summary(&col, summaryRows(), render.SummaryOptions{Redact: redactHunter, Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(col.String(), "\x1b[31mcache") {
		t.Errorf("failed row not red:\n%q", col.String())
	}
	plain := strings.NewReplacer("\x1b[31m", "", "\x1b[32m", "", "\x1b[33m", "", "\x1b[0m", "").Replace(col.String())
	if plain != buf.String() {
		t.Errorf("coloured table differs from the plain one:\n%s\n---\n%s", plain, buf.String())
	}
}

func TestSummaryEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := render.Summary(&buf, nil, render.SummaryOptions{}); err != nil || buf.Len() != 0 {
		t.Errorf("empty summary wrote %q, %v", buf.String(), err)
	}
}

func TestSummaryJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := render.SummaryJSON(&buf, summaryRows(), render.SummaryOptions{Redact: redactHunter}); err != nil {
		t.Fatal(err)
	}
	configGolden(t, "summary_json.golden", buf.Bytes())
	var doc struct {
		Type       string `json:"type"`
		Containers []struct {
			Container string            `json:"container"`
			Outputs   map[string]string `json:"outputs"`
		} `json:"containers"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Type != "apply_summary" || len(doc.Containers) != 4 || doc.Containers[1].Outputs["password"] != "(secret)" {
		t.Errorf("%+v", doc)
	}
	if strings.Contains(buf.String(), "hunter2") {
		t.Error("secret in the JSON summary")
	}
}
