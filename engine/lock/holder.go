package lock

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"
)

// Holder describes who holds a stack lock. It is written as one JSON line to
// the holder file beside the lock directory when the lock is taken, and shown
// to anyone who finds the stack locked.
type Holder struct {
	// User is the local user that ran lxcplan (not the SSH user on the host).
	User string `json:"user"`
	// Host is the hostname of the machine that ran lxcplan.
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// Start is when the lock was taken (RFC 3339 in the file).
	Start   time.Time `json:"start"`
	Version string    `json:"version,omitempty"`
	// Command is what the holder is doing, e.g. "lxcplan apply".
	Command string `json:"command,omitempty"`
	// Token identifies one acquisition. The holder compares it on every
	// refresh so that it notices when its lock was removed and taken by
	// someone else; [Acquire] fills it when empty.
	Token string `json:"token,omitempty"`

	// Refreshed is the lock directory's mtime as last seen on the host (the
	// holder's last refresh). It is not stored in the holder file; [Inspect]
	// and [LockedError] fill it when the host reported it.
	Refreshed time.Time `json:"-"`
}

// CurrentHolder describes this process: local user, hostname, pid and now.
// Fields it cannot learn are left empty (never an error: the holder file is
// informative only).
func CurrentHolder(version, command string) Holder {
	h := Holder{PID: os.Getpid(), Start: time.Now().UTC().Truncate(time.Second), Version: version, Command: command}
	if u, err := user.Current(); err == nil {
		h.User = u.Username
	} else if s := os.Getenv("USER"); s != "" {
		h.User = s
	}
	if n, err := os.Hostname(); err == nil {
		h.Host = n
	}
	return h
}

// String is the form used in messages:
// "root@ci-runner pid 4242 since 2026-11-26T12:00:00Z (lxcplan apply)".
func (h Holder) String() string {
	var b strings.Builder
	who := h.User
	if who == "" {
		who = "unknown user"
	}
	b.WriteString(who)
	if h.Host != "" {
		b.WriteString("@" + h.Host)
	}
	if h.PID > 0 {
		fmt.Fprintf(&b, " pid %d", h.PID)
	}
	if !h.Start.IsZero() {
		b.WriteString(" since " + h.Start.UTC().Format(time.RFC3339))
	}
	if h.Command != "" {
		b.WriteString(" (" + h.Command + ")")
	}
	return b.String()
}

// encode is the holder file content: one JSON line.
func (h Holder) encode() []byte {
	h.Start = h.Start.UTC()
	b, _ := json.Marshal(h) // a struct of strings, ints and a time cannot fail
	return append(b, '\n')
}

// decodeHolder parses a holder file. Anything unparseable gives ok=false: a
// damaged holder file must never stop a lock from being reported or removed.
func decodeHolder(b []byte) (Holder, bool) {
	var h Holder
	s := strings.TrimSpace(string(b))
	if s == "" {
		return Holder{}, false
	}
	if err := json.Unmarshal([]byte(s), &h); err != nil {
		return Holder{}, false
	}
	return h, true
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
