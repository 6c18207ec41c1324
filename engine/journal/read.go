package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"
)

// Status is where a step got to.
type Status string

const (
	// StatusInFlight: begun, no status record. It may have half-happened.
	StatusInFlight Status = "in-flight"
	StatusDone     Status = "done"
	StatusFailed   Status = "failed"
)

// UndoStatus is where the step's rollback got to.
type UndoStatus string

const (
	UndoPending UndoStatus = ""
	UndoDone    UndoStatus = "undone"
	UndoFailed  UndoStatus = "undo-failed"
)

// Entry is one step as the journal knows it.
type Entry struct {
	Seq       int
	Began     time.Time
	Host      string
	Container string
	Step      string
	// Description, Do, Undo and Manual are as journaled (masked).
	Description string
	Do          []string
	Undo        [][]string
	Manual      string
	Redacted    bool
	Status      Status
	Error       string
	Undone      UndoStatus
	UndoError   string
}

// Log is a parsed journal.
type Log struct {
	Path string
	Meta Meta
	// Entries are the steps in the order they began.
	Entries []*Entry
	// Truncated reports a torn last line (a crash mid-write) that was
	// ignored.
	Truncated bool

	bySeq   map[int]*Entry
	lastSeq int
	// validLen is the length of the file's intact prefix; needNewline says
	// its last record lacks the newline (the crash came just before it).
	validLen    int
	needNewline bool
	j           *Journal // set when the Log came from an open Journal
}

func (l *Log) entry(seq int) *Entry {
	if l.bySeq == nil {
		return nil
	}
	return l.bySeq[seq]
}

func (l *Log) clone() *Log {
	c := &Log{Path: l.Path, Meta: l.Meta, Truncated: l.Truncated, bySeq: map[int]*Entry{}, lastSeq: l.lastSeq, validLen: l.validLen, j: l.j}
	for _, e := range l.Entries {
		ce := *e
		ce.Do = slices.Clone(e.Do)
		ce.Undo = slices.Clone(e.Undo)
		c.Entries = append(c.Entries, &ce)
		c.bySeq[ce.Seq] = &ce
	}
	return c
}

// apply folds one record into the log.
func (l *Log) apply(r Record) error {
	if r.Seq <= l.lastSeq {
		return fmt.Errorf("record %d after record %d: sequence out of order", r.Seq, l.lastSeq)
	}
	if l.bySeq == nil {
		l.bySeq = map[int]*Entry{}
	}
	switch r.Type {
	case TypeDone, TypeFailed, TypeUndone, TypeUndoFailed:
		if l.bySeq[r.Ref] == nil {
			return fmt.Errorf("record %d refers to unknown step %d", r.Seq, r.Ref)
		}
	}
	l.lastSeq = r.Seq
	switch r.Type {
	case TypeRun:
		l.Meta = Meta{Stack: r.Stack, RunID: r.RunID, Version: r.Version, Start: r.Time}
	case TypeBegin:
		e := &Entry{Seq: r.Seq, Began: r.Time, Host: r.Host, Container: r.Container, Step: r.Step,
			Description: r.Description, Do: r.Do, Undo: r.Undo, Manual: r.Manual, Redacted: r.Redacted,
			Status: StatusInFlight}
		l.Entries = append(l.Entries, e)
		l.bySeq[e.Seq] = e
	case TypeDone, TypeFailed, TypeUndone, TypeUndoFailed:
		e := l.bySeq[r.Ref]
		switch r.Type {
		case TypeDone:
			e.Status, e.Error = StatusDone, ""
		case TypeFailed:
			e.Status, e.Error = StatusFailed, r.Error
		case TypeUndone:
			e.Undone, e.UndoError = UndoDone, ""
		case TypeUndoFailed:
			e.Undone, e.UndoError = UndoFailed, r.Error
		}
	default:
		// A record type from a newer lxcplan: it cannot change what the
		// known records say, so it is skipped rather than fatal.
	}
	return nil
}

// ErrCorrupt: a journal line other than the last is damaged.
var ErrCorrupt = errors.New("journal corrupt")

// Read parses the journal at path. A damaged last line (a crash mid-write)
// is ignored and reported in [Log.Truncated]; damage anywhere else is an
// error wrapping [ErrCorrupt].
func Read(path string) (*Log, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return parse(path, data)
}

func parse(path string, data []byte) (*Log, error) {
	l := &Log{Path: path, bySeq: map[int]*Entry{}}
	off, line := 0, 0
	for off < len(data) {
		line++
		nl := bytes.IndexByte(data[off:], '\n')
		last := nl < 0
		end := len(data)
		if !last {
			end = off + nl
			last = end+1 == len(data)
		}
		text := bytes.TrimSpace(data[off:end])
		var r Record
		err := json.Unmarshal(text, &r)
		if err == nil && r.Seq <= 0 {
			err = errors.New("missing seq")
		}
		if err == nil {
			err = l.apply(r)
		}
		switch {
		case err == nil && nl >= 0:
			off = end + 1
			l.validLen = off
		case err == nil:
			// A complete record without its newline (a JSON object cannot
			// parse unless whole): keep it; Open adds the newline.
			off = len(data)
			l.validLen = off
			l.needNewline = true
		case last:
			// The write that a crash interrupted.
			l.Truncated = true
			off = len(data)
		default:
			return nil, fmt.Errorf("%w: %s line %d: %v", ErrCorrupt, path, line, err)
		}
	}
	return l, nil
}
