package journal

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/transport"
)

var update = flag.Bool("update", false, "rewrite golden files")

func fixedClock() func() time.Time {
	t := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func createStep(host, ct string, vmid int) Step {
	id := fmt.Sprint(vmid)
	return Step{Host: host, Container: ct, ID: "create", Description: "create CT " + id,
		Do:   []string{"pct", "create", id, "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", "--hostname", ct},
		Undo: [][]string{{"pct", "stop", id}, {"pct", "destroy", id, "--purge"}}}
}

func setStep(host, ct string, vmid int) Step {
	id := fmt.Sprint(vmid)
	return Step{Host: host, Container: ct, ID: "set", Description: "memory 512 → 1024",
		Do: []string{"pct", "set", id, "--memory", "1024"}, Undo: [][]string{{"pct", "set", id, "--memory", "512"}}}
}

// TestGolden pins the file format.
func TestGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "media-run.jsonl")
	j, err := OpenWith(path, Options{Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	must(t, j.Start(Meta{Stack: "media", RunID: "20261126T120000Z-1a2b", Version: "0.3.0"}))
	a, err := j.Begin(createStep("pve1", "db", 101))
	must(t, err)
	must(t, j.Done(a))
	b, err := j.Begin(setStep("pve2", "web", 102))
	must(t, err)
	must(t, j.Failed(b, errors.New("pct set 102 on pve2: exit status 255: CT is locked (backup)")))
	c, err := j.Begin(Step{Host: "pve2", Container: "web", ID: "destroy", Description: "destroy CT 103",
		Do: []string{"pct", "destroy", "103"}, Manual: "restore CT 103 from a backup"})
	must(t, err)
	must(t, j.Undone(b))
	must(t, j.UndoFailed(c, errors.New("no backup")))
	must(t, j.Close())
	got, err := os.ReadFile(path)
	must(t, err)
	golden := filepath.Join("testdata", "journal.golden.jsonl")
	if *update {
		must(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Errorf("journal differs from %s (run with -update):\n%s", golden, got)
	}
	st, err := os.Stat(path)
	must(t, err)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	log, err := Read(path)
	must(t, err)
	if log.Meta.Stack != "media" || log.Meta.RunID != "20261126T120000Z-1a2b" || len(log.Entries) != 3 || log.Truncated {
		t.Fatalf("log = %+v", log)
	}
	want3 := []struct {
		st   Status
		undo UndoStatus
	}{{StatusDone, UndoPending}, {StatusFailed, UndoDone}, {StatusInFlight, UndoFailed}}
	for i, e := range log.Entries {
		if e.Status != want3[i].st || e.Undone != want3[i].undo {
			t.Errorf("entry %d: %s/%q, want %s/%q", i, e.Status, e.Undone, want3[i].st, want3[i].undo)
		}
	}
	if log.Entries[1].Error == "" || log.Entries[2].UndoError != "no backup" {
		t.Errorf("errors not kept: %+v", log.Entries)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// opFile records the order of writes and syncs.
type opFile struct {
	mu  sync.Mutex
	ops []string
	buf bytes.Buffer
}

func (f *opFile) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, "write")
	return f.buf.Write(b)
}

func (f *opFile) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, "sync")
	return nil
}

func (f *opFile) Close() error { return nil }

func TestEveryRecordSynced(t *testing.T) {
	f := &opFile{}
	j := newJournal(f, "mem", nil, Options{})
	must(t, j.Start(Meta{Stack: "s"}))
	id, err := j.Begin(createStep("h", "c", 1))
	must(t, err)
	must(t, j.Done(id))
	want := []string{"write", "sync", "write", "sync", "write", "sync"}
	if !slices.Equal(f.ops, want) {
		t.Errorf("ops = %v, want %v", f.ops, want)
	}
	if n := bytes.Count(f.buf.Bytes(), []byte("\n")); n != 3 {
		t.Errorf("%d lines", n)
	}
}

type failingFile struct{ opFile }

func (f *failingFile) Sync() error { return errors.New("input/output error") }

func TestSyncFailureStopsStep(t *testing.T) {
	j := newJournal(&failingFile{}, "mem", nil, Options{})
	if _, err := j.Begin(createStep("h", "c", 1)); err == nil {
		t.Fatal("Begin succeeded although the record is not on disk")
	}
}

func TestConcurrentBegin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := Open(path)
	must(t, err)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := j.Begin(createStep("pve1", fmt.Sprintf("c%d", i), 100+i))
			if err != nil {
				t.Error(err)
				return
			}
			if err := j.Done(id); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	must(t, j.Close())
	log, err := Read(path)
	must(t, err)
	if len(log.Entries) != 20 {
		t.Fatalf("%d entries", len(log.Entries))
	}
	for _, e := range log.Entries {
		if e.Status != StatusDone {
			t.Errorf("%d: %s", e.Seq, e.Status)
		}
	}
	if _, err := j.Begin(createStep("h", "c", 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Begin after Close = %v", err)
	}
}

func writeJournal(t *testing.T, steps ...Step) (string, []int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "media-r1.jsonl")
	j, err := Open(path)
	must(t, err)
	must(t, j.Start(Meta{Stack: "media", RunID: "r1"}))
	var ids []int
	for _, s := range steps {
		id, err := j.Begin(s)
		must(t, err)
		must(t, j.Done(id))
		ids = append(ids, id)
	}
	must(t, j.Close())
	return path, ids
}

func TestTornLastLine(t *testing.T) {
	path, _ := writeJournal(t, createStep("pve1", "db", 101))
	intact, err := os.ReadFile(path)
	must(t, err)
	// The crash came in the middle of the next begin record.
	torn := `{"seq":4,"time":"2026-11-26T12:00:00Z","type":"begin","host":"pve1","container":"web","do":["pct","crea`
	must(t, os.WriteFile(path, append(slices.Clone(intact), torn...), 0o600))
	log, err := Read(path)
	must(t, err)
	if !log.Truncated || len(log.Entries) != 1 || log.Entries[0].Status != StatusDone {
		t.Fatalf("log = %+v", log)
	}
	// Reopening cuts the torn tail, and new records follow the intact ones.
	j, err := Open(path)
	must(t, err)
	id, err := j.Begin(setStep("pve1", "db", 101))
	must(t, err)
	if id != 4 {
		t.Errorf("next seq %d, want 4", id)
	}
	must(t, j.Close())
	log, err = Read(path)
	must(t, err)
	if log.Truncated || len(log.Entries) != 2 {
		t.Errorf("after reopen: truncated=%v entries=%d", log.Truncated, len(log.Entries))
	}
	b, _ := os.ReadFile(path)
	if !bytes.HasPrefix(b, intact) || bytes.Contains(b, []byte(`"crea`+"\n")) {
		t.Errorf("file after reopen:\n%s", b)
	}
}

func TestLastRecordWithoutNewline(t *testing.T) {
	path, _ := writeJournal(t, createStep("pve1", "db", 101))
	b, err := os.ReadFile(path)
	must(t, err)
	must(t, os.WriteFile(path, bytes.TrimSuffix(b, []byte("\n")), 0o600))
	log, err := Read(path)
	must(t, err)
	if len(log.Entries) != 1 || log.Entries[0].Status != StatusDone {
		t.Fatalf("complete record lost: %+v", log.Entries)
	}
	j, err := Open(path)
	must(t, err)
	_, err = j.Begin(setStep("pve1", "db", 101))
	must(t, err)
	must(t, j.Close())
	log, err = Read(path)
	must(t, err)
	if len(log.Entries) != 2 || log.Entries[0].Status != StatusDone {
		t.Errorf("after append: %+v", log.Entries)
	}
}

func TestCorruptMiddle(t *testing.T) {
	path, _ := writeJournal(t, createStep("pve1", "db", 101), setStep("pve1", "db", 101))
	b, err := os.ReadFile(path)
	must(t, err)
	lines := bytes.SplitAfter(b, []byte("\n"))
	lines[2] = []byte("garbage\n")
	must(t, os.WriteFile(path, bytes.Join(lines, nil), 0o600))
	if _, err := Read(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("err = %v", err)
	}
	if _, err := Open(path); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open err = %v", err)
	}
}

func TestParseRules(t *testing.T) {
	tests := []struct {
		name string
		in   string
		err  bool
		n    int
	}{
		{"empty", "", false, 0},
		{"unknown type skipped", `{"seq":1,"type":"from-the-future"}` + "\n", false, 0},
		{"blank line last", `{"seq":1,"type":"begin","host":"h","step":"s"}` + "\n\n", false, 1},
		{"ref to unknown step", `{"seq":1,"type":"done","ref":7}` + "\n" + `{"seq":2,"type":"begin","host":"h","step":"s"}` + "\n", true, 0},
		{"seq goes back", `{"seq":2,"type":"begin","host":"h","step":"s"}` + "\n" + `{"seq":1,"type":"begin","host":"h","step":"s"}` + "\n" + `{"seq":3,"type":"begin","host":"h","step":"s"}` + "\n", true, 0},
		{"no seq", `{"type":"begin"}` + "\n" + `{"seq":3,"type":"begin","host":"h","step":"s"}` + "\n", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := parse("p", []byte(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("err = %v", err)
			}
			if err == nil && len(l.Entries) != tt.n {
				t.Errorf("%d entries, want %d", len(l.Entries), tt.n)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	golden, _ := os.ReadFile(filepath.Join("testdata", "journal.golden.jsonl"))
	f.Add(golden)
	f.Add([]byte(`{"seq":1,"type":"begin","host":"h","step":"s","undo":[["pct"]]}` + "\n" + `{"seq":2,"type":"undone","ref":1}`))
	f.Add([]byte("{\n}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := parse("fuzz", b)
		if err != nil {
			return
		}
		_ = l.clone()
		if l.validLen > len(b) {
			t.Fatalf("validLen %d > %d", l.validLen, len(b))
		}
	})
}

func TestDefaultDirAndNames(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/state")
	if d, err := DefaultDir(); err != nil || d != "/state/lxcplan/journal" {
		t.Errorf("DefaultDir = %q, %v", d, err)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/ann")
	if d, err := DefaultDir(); err != nil || d != "/home/ann/.local/state/lxcplan/journal" {
		t.Errorf("DefaultDir = %q, %v", d, err)
	}
	if p := PathFor("/j", "media", "r1"); p != "/j/media-r1.jsonl" {
		t.Errorf("PathFor = %q", p)
	}
	id := NewRunID(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	if !strings.HasPrefix(id, "20261126T120000Z-") || len("lxcplan-"+id) > 40 {
		t.Errorf("NewRunID = %q", id)
	}
}

// --- secrets ---

func TestSecretsNeverJournaled(t *testing.T) {
	const pw, key = "hunter2-very-secret", "api-key-0xdeadbeef"
	reg := transport.NewRedactor(pw) // the run's registry
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := OpenWith(path, Options{Secrets: reg})
	must(t, err)
	// Do carries a secret (informative: masked); the undo carries none.
	a, err := j.Begin(Step{Host: "pve1", Container: "db", ID: "env", Description: "set DB_PASSWORD=" + pw,
		Do: []string{"pct", "exec", "101", "--", "sh", "-c", "echo " + pw + " > /etc/db.pw"}, Undo: [][]string{{"pct", "stop", "101"}}})
	must(t, err)
	must(t, j.Failed(a, fmt.Errorf("exit 1: wrote %s", pw)))
	// The undo itself would need a secret: journaled masked, left to a person.
	b, err := j.Begin(Step{Host: "pve1", Container: "db", ID: "api", Secrets: []string{key},
		Do: []string{"pvesh", "set", "/x", "--key", key}, Undo: [][]string{{"pvesh", "set", "/x", "--key", "old-" + key}}})
	must(t, err)
	must(t, j.Done(b))
	must(t, j.Close())
	raw, err := os.ReadFile(path)
	must(t, err)
	for _, s := range []string{pw, key} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("journal holds %q:\n%s", s, raw)
		}
	}
	log, err := Read(path)
	must(t, err)
	if log.Entries[0].Redacted || !log.Entries[1].Redacted || log.Entries[1].Manual == "" {
		t.Errorf("redaction flags: %+v / %+v", log.Entries[0], log.Entries[1])
	}
	f := &fakeRunner{}
	rep, err := Rollback(context.Background(), log, map[string]transport.Runner{"pve1": f}, nil)
	if !errors.Is(err, ErrIncomplete) || len(rep.Left) != 1 || rep.Left[0].Step != "api" || rep.Left[0].Manual == "" {
		t.Fatalf("rollback = %+v, %v", rep, err)
	}
	for _, c := range f.calls() {
		if strings.HasPrefix(c, "pvesh") {
			t.Errorf("masked undo was run: %q", c)
		}
	}
	if strings.Contains(rep.Summary(), key) {
		t.Errorf("summary leaks: %s", rep.Summary())
	}
}

func TestBeginRejects(t *testing.T) {
	j := newJournal(&opFile{}, "mem", nil, Options{})
	for _, s := range []Step{
		{ID: "x"},
		{Host: "h"},
		{Host: "h", ID: "x", Undo: [][]string{{"pct", "stop", "1"}, {}}},
	} {
		if _, err := j.Begin(s); err == nil {
			t.Errorf("Begin(%+v) accepted", s)
		}
	}
}
