package labtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUpSkipsWithoutOptIn: without PVELAB_E2E=1 a lab test skips, never
// touching the machine.
func TestUpSkipsWithoutOptIn(t *testing.T) {
	t.Setenv(EnvVar, "")
	var skipped bool
	t.Run("lab", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Up(t)
		t.Error("Up returned without PVELAB_E2E=1")
	})
	if !skipped {
		t.Error("Up did not skip")
	}
}

// TestLockSerialises: a second holder waits until the first lets go, even
// within one process (flock is per open file).
func TestLockSerialises(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := lockFile(t, path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan time.Time, 1)
	go func() {
		u, err := lockFile(t, path)
		if err != nil {
			t.Error(err)
			got <- time.Time{}
			return
		}
		got <- time.Now()
		u()
	}()
	select {
	case <-got:
		t.Fatal("second lock taken while the first is held")
	case <-time.After(300 * time.Millisecond):
	}
	released := time.Now()
	unlock()
	if at := <-got; at.Before(released) {
		t.Errorf("second lock at %v, before the release at %v", at, released)
	}
}

func TestStackHostsAs(t *testing.T) {
	l := &Lab{IdentityFile: "/lab/id", Nodes: []Node{
		{Name: "pve1", Host: "127.0.0.1", Port: 10022, User: "root"},
		{Name: "pve2", Host: "127.0.0.1", Port: 10023},
	}}
	tests := []struct {
		keys map[string]string
		want string
	}{
		{nil, `  pve1: {address: "127.0.0.1", port: 10022, user: root, identity: "/lab/id"}
  pve2: {address: "127.0.0.1", port: 10023, user: root, identity: "/lab/id"}
`},
		{map[string]string{"pve2": "right"}, `  pve1: {address: "127.0.0.1", port: 10022, user: root, identity: "/lab/id"}
  right: {address: "127.0.0.1", port: 10023, user: root, identity: "/lab/id"}
`},
	}
	for _, tt := range tests {
		if got := l.StackHostsAs(tt.keys); got != tt.want {
			t.Errorf("StackHostsAs(%v) =\n%s\nwant\n%s", tt.keys, got, tt.want)
		}
	}
	if l.StackHosts() != tests[0].want {
		t.Error("StackHosts differs from StackHostsAs(nil)")
	}
}

func TestCommandsSince(t *testing.T) {
	l := &Lab{CommandLog: filepath.Join(t.TempDir(), "commands.jsonl")}
	if n := l.CommandLogLen(t); n != 0 {
		t.Fatalf("missing log: len %d", n)
	}
	first := `{"time":"2026-11-26T13:32:12.146042215Z","node":"pve1","argv":["pct","list"],"exit":0,"duration_ms":0}` + "\n"
	if err := os.WriteFile(l.CommandLog, []byte(first), 0o644); err != nil {
		t.Fatal(err)
	}
	off := l.CommandLogLen(t)
	more := `{"time":"2026-11-26T13:32:13Z","node":"pve2","argv":["pvesh","get","/cluster/resources"],"exit":2,"duration_ms":5}` + "\n\n"
	f, err := os.OpenFile(l.CommandLog, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(more)
	f.Close()
	if got := l.CommandsSince(t, 0); len(got) != 2 {
		t.Fatalf("since 0: %d entries", len(got))
	}
	got := l.CommandsSince(t, off)
	if len(got) != 1 || got[0].Node != "pve2" || strings.Join(got[0].Argv, " ") != "pvesh get /cluster/resources" || got[0].Exit != 2 || got[0].DurationMS != 5 {
		t.Errorf("since %d: %+v", off, got)
	}
}

func TestSSHUnknownNode(t *testing.T) {
	l := &Lab{}
	if r := l.SSH("nope", "true"); r.Exit != -1 || !strings.Contains(r.Stderr, "nope") {
		t.Errorf("SSH to an unknown node: %+v", r)
	}
}
