// Package journal records every mutating step of a run, with its undo,
// before the step runs, and replays the undos in reverse when the run fails
// (design.md §7, style.md rule 8).
//
// A journal is a local file of JSON lines, one record per line, fsync'd after
// every record, so that whatever a crash or a second Ctrl-C interrupts, the
// file says what may have happened. Records:
//
//	{"seq":1,"time":…,"type":"run","stack":"media","run":"20261126T120000Z-1a2b","version":"0.3.0"}
//	{"seq":2,"time":…,"type":"begin","host":"pve1","container":"db","step":"create","desc":"create CT 101",
//	 "do":["pct","create","101",…],"undo":[["pct","stop","101"],["pct","destroy","101","--purge"]]}
//	{"seq":3,"time":…,"type":"done","ref":2}          (or "failed" with "error")
//	{"seq":9,"time":…,"type":"undone","ref":2}        (or "undo-failed" with "error"), written by [Rollback]
//
// A step that began but has no status record was in flight when the run
// stopped; [Rollback] undoes it like a finished one, which is why every undo
// must be idempotent (see [Tolerated]).
//
// # Secrets
//
// The journal never holds a secret. Every word of Do, Undo and the
// description is masked with the values the journal's [SecretSet] knows plus
// [Step.Secrets]. Do is only informative, so masking costs nothing there. An
// undo command that contained a secret cannot be replayed from the file: it
// is stored masked, the step is marked "redacted", and [Rollback] reports it
// as left to a person, with [Step.Manual] (or a default instruction). Steps
// should therefore carry secret-free undos: config reverts carry old
// settings, which are not secrets, and steps that write secret files into a
// container are undone by destroying the container or rolling back its
// snapshot, never by replaying the content.
package journal

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lxcplan/lxcplan/engine/transport"
)

// RecordType names a journal record.
type RecordType string

const (
	TypeRun        RecordType = "run"
	TypeBegin      RecordType = "begin"
	TypeDone       RecordType = "done"
	TypeFailed     RecordType = "failed"
	TypeUndone     RecordType = "undone"
	TypeUndoFailed RecordType = "undo-failed"
)

// Record is one line of the journal file.
type Record struct {
	Seq  int        `json:"seq"`
	Time time.Time  `json:"time"`
	Type RecordType `json:"type"`
	// Ref is the seq of the begin record a status record is about.
	Ref int `json:"ref,omitempty"`

	// run
	Stack   string `json:"stack,omitempty"`
	RunID   string `json:"run,omitempty"`
	Version string `json:"version,omitempty"`

	// begin
	Host        string     `json:"host,omitempty"`
	Container   string     `json:"container,omitempty"`
	Step        string     `json:"step,omitempty"`
	Description string     `json:"desc,omitempty"`
	Do          []string   `json:"do,omitempty"`
	Undo        [][]string `json:"undo,omitempty"`
	Manual      string     `json:"manual,omitempty"`
	// Redacted: an undo command contained a secret and was stored masked;
	// it cannot be replayed.
	Redacted bool `json:"redacted,omitempty"`

	// failed, undo-failed
	Error string `json:"error,omitempty"`
}

// Step is a mutating step about to run.
type Step struct {
	// Host is the stack's host key (the key of the runner map given to
	// [Rollback]), not the PVE node name.
	Host      string
	Container string
	// ID names the step within the container ("create", "set", "snapshot",
	// "install/3" …).
	ID          string
	Description string
	// Do is the command the step runs (informative only).
	Do []string
	// Undo is what reverts the step, run in order. Each command must be
	// idempotent: it may run after the step half-happened, or twice when a
	// rollback is resumed.
	Undo [][]string
	// Manual tells a person how to revert the step when Undo is empty or
	// cannot be replayed. A step with neither Undo nor Manual needs no undo.
	Manual string
	// Secrets are values that must not be written to the journal, in
	// addition to those of the journal's SecretSet.
	Secrets []string
}

// Meta describes the run a journal belongs to.
type Meta struct {
	Stack   string
	RunID   string
	Version string
	Start   time.Time
}

// SecretSet is what the journal masks: the run's registry of secret values
// (secrets.Registry, or a fixed transport.Redactor).
type SecretSet interface {
	Secrets() []string
}

// file is what the journal writes to; *os.File in production.
type file interface {
	io.Writer
	Sync() error
	Close() error
}

// Journal appends records to one file. It is safe for concurrent use by
// the parallel executor.
type Journal struct {
	mu     sync.Mutex
	f      file
	path   string
	seq    int
	log    *Log
	secret SecretSet
	now    func() time.Time
	closed bool
}

// Options tune [OpenWith].
type Options struct {
	// Secrets, if set, is consulted on every record: every value it holds at
	// that moment is masked.
	Secrets SecretSet
	// Now replaces the clock in tests.
	Now func() time.Time
}

// ErrClosed: the journal was closed.
var ErrClosed = errors.New("journal closed")

// DefaultDir is $XDG_STATE_HOME/lxcplan/journal, or
// ~/.local/state/lxcplan/journal when XDG_STATE_HOME is unset.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "lxcplan", "journal"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("journal directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", "lxcplan", "journal"), nil
}

// PathFor is the journal file of one run: DIR/<stack>-<runid>.jsonl.
func PathFor(dir, stack, runID string) string {
	return filepath.Join(dir, stack+"-"+runID+".jsonl")
}

// NewRunID returns a run id like 20261126T120000Z-1a2b: sortable, unique
// enough for one stack, and usable in a PVE snapshot name (letters, digits,
// '-', under 40 characters with the "lxcplan-" prefix).
func NewRunID(t time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Open opens the journal at path for appending, creating it (mode 0600, and
// its directory 0700) if needed. An existing journal is read first, so its
// records keep their numbers and a resumed rollback sees what was done; a
// torn last line (a crash mid-write) is cut off.
func Open(path string) (*Journal, error) { return OpenWith(path, Options{}) }

// OpenWith is [Open] with options.
func OpenWith(path string, o Options) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	log := &Log{Path: path}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("open journal: %w", err)
	default:
		log, err = parse(path, data)
		if err != nil {
			return nil, fmt.Errorf("open journal: %w", err)
		}
		if log.Truncated {
			if err := os.Truncate(path, int64(log.validLen)); err != nil {
				return nil, fmt.Errorf("open journal: cut torn last record: %w", err)
			}
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	if log.needNewline {
		if _, err := f.Write([]byte{'\n'}); err != nil {
			f.Close()
			return nil, fmt.Errorf("open journal: complete last record: %w", err)
		}
		log.needNewline = false
	}
	// Make the new file's directory entry durable too.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	j := newJournal(f, path, log, o)
	return j, nil
}

func newJournal(f file, path string, log *Log, o Options) *Journal {
	if log == nil {
		log = &Log{Path: path}
	}
	j := &Journal{f: f, path: path, seq: log.lastSeq, log: log, secret: o.Secrets, now: o.Now}
	if j.now == nil {
		j.now = time.Now
	}
	log.j = j
	return j
}

// Path is the journal file.
func (j *Journal) Path() string { return j.path }

// Start writes the run record. Call it once, first.
func (j *Journal) Start(m Meta) error {
	_, err := j.append(Record{Type: TypeRun, Stack: m.Stack, RunID: m.RunID, Version: m.Version})
	return err
}

// Begin records s, with its undo, before it runs, and returns the id to pass
// to [Journal.Done] or [Journal.Failed]. If Begin fails the step must not run:
// nothing would undo it.
func (j *Journal) Begin(s Step) (int, error) {
	if s.Host == "" || s.ID == "" {
		return 0, fmt.Errorf("journal step: host and step id are required")
	}
	for i, u := range s.Undo {
		if len(u) == 0 {
			return 0, fmt.Errorf("journal step %s/%s: undo command %d is empty", s.Container, s.ID, i+1)
		}
	}
	r := Record{Type: TypeBegin, Host: s.Host, Container: s.Container, Step: s.ID, Manual: s.Manual}
	red := j.redactor(s.Secrets)
	r.Description = red.String(s.Description)
	r.Do = red.Argv(s.Do)
	for _, u := range s.Undo {
		m := red.Argv(u)
		if !slices.Equal(m, u) {
			r.Redacted = true
		}
		r.Undo = append(r.Undo, m)
	}
	r.Manual = red.String(r.Manual)
	if r.Redacted && r.Manual == "" {
		r.Manual = "an undo command contained a secret and was not journaled in clear; revert the step by hand"
	}
	return j.append(r)
}

// Done records that step id finished.
func (j *Journal) Done(id int) error { return j.status(TypeDone, id, nil) }

// Failed records that step id failed (it may have half-happened).
func (j *Journal) Failed(id int, err error) error { return j.status(TypeFailed, id, err) }

// Undone records that step id was reverted; [Rollback] writes it.
func (j *Journal) Undone(id int) error { return j.status(TypeUndone, id, nil) }

// UndoFailed records that reverting step id failed; [Rollback] writes it.
func (j *Journal) UndoFailed(id int, err error) error { return j.status(TypeUndoFailed, id, err) }

func (j *Journal) status(t RecordType, id int, err error) error {
	r := Record{Type: t, Ref: id}
	if err != nil {
		r.Error = j.redactor(nil).String(err.Error())
		if r.Error == "" {
			r.Error = "failed"
		}
	}
	_, werr := j.append(r)
	return werr
}

func (j *Journal) redactor(extra []string) *transport.Redactor {
	var s []string
	if j.secret != nil {
		s = j.secret.Secrets()
	}
	return transport.NewRedactor(append(s, extra...)...)
}

// append writes r as one line and syncs it to disk before returning.
func (j *Journal) append(r Record) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return 0, fmt.Errorf("journal %s: %w", j.path, ErrClosed)
	}
	if r.Ref != 0 && j.log.entry(r.Ref) == nil {
		return 0, fmt.Errorf("journal %s: record refers to unknown step %d", j.path, r.Ref)
	}
	r.Seq = j.seq + 1
	r.Time = j.now().UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("journal %s: %w", j.path, err)
	}
	// One Write per record: a crash leaves at worst a torn last line, which
	// Read tolerates and Open cuts off.
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return 0, fmt.Errorf("write journal %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return 0, fmt.Errorf("sync journal %s: %w", j.path, err)
	}
	j.seq = r.Seq
	if err := j.log.apply(r); err != nil {
		return 0, fmt.Errorf("journal %s: %w", j.path, err)
	}
	return r.Seq, nil
}

// Log returns a snapshot of what the journal holds. [Rollback] on it
// appends its records through this journal.
func (j *Journal) Log() *Log {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.log.clone()
}

// Close closes the file; later writes fail with [ErrClosed].
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("close journal %s: %w", j.path, err)
	}
	return nil
}

// quoteArgv is how undo commands appear in reports.
func quoteArgv(argv []string) string {
	return strings.TrimSpace(transport.Quote(argv))
}
