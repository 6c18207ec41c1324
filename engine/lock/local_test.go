package lock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/transport/local"
)

// These tests run the real scripts with /bin/sh, stat and date against a
// temporary directory standing in for /etc/pve/priv: the protocol's shell
// text is exercised for real, only pmxcfs' own expiry is missing.

func localSetup(t *testing.T) (*local.Runner, Paths) {
	t.Helper()
	for _, tool := range []string{"sh", "stat", "date", "mkdir", "rmdir", "touch", "cat", "rm", "mv"} {
		if _, err := os.Stat("/bin/" + tool); err != nil {
			if _, err := os.Stat("/usr/bin/" + tool); err != nil {
				t.Skipf("%s not available", tool)
			}
		}
	}
	root := t.TempDir()
	p := Paths{Dir: filepath.Join(root, "lock"), HolderDir: filepath.Join(root, "lxcplan", "locks")}
	if err := os.Mkdir(p.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return &local.Runner{Name: "pve1"}, p
}

func TestLocalShell(t *testing.T) {
	ctx := context.Background()
	r, p := localSetup(t)
	dir := filepath.Join(p.Dir, "lxcplan-media")
	hf := filepath.Join(p.HolderDir, "media.holder")

	a, err := Acquire(ctx, r, "media", Options{Paths: p, Holder: testHolder(1), Refresh: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(hf)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("holder file mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(hf + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary holder file left: %v", err)
	}
	// The refresh loop moves the mtime forward.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(dir, old, old); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if fi.ModTime().After(old.Add(time.Minute)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("refresh did not touch the lock directory")
		}
		time.Sleep(10 * time.Millisecond)
	}

	h, locked, err := p.Inspect(ctx, r, "media")
	if err != nil || !locked || h == nil || h.PID != 1 {
		t.Fatalf("Inspect = %+v %v %v", h, locked, err)
	}
	_, err = Acquire(ctx, r, "media", Options{Paths: p, Holder: testHolder(2), Timeout: 50 * time.Millisecond, Poll: 10 * time.Millisecond})
	var le *LockedError
	if !errors.As(err, &le) || le.Holder == nil || le.Holder.PID != 1 {
		t.Fatalf("second acquire = %v", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{dir, hf} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after release: %v", f, err)
		}
	}
	if _, locked, err := p.Inspect(ctx, r, "media"); err != nil || locked {
		t.Errorf("Inspect after release = %v %v", locked, err)
	}
}

func TestLocalExpiredTakeover(t *testing.T) {
	ctx := context.Background()
	r, p := localSetup(t)
	dir := filepath.Join(p.Dir, "lxcplan-media")
	hf := filepath.Join(p.HolderDir, "media.holder")
	if err := os.MkdirAll(p.HolderDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hf, testHolder(9).encode(), 0o600); err != nil {
		t.Fatal(err)
	}
	// 100 s old: still held.
	set := func(age time.Duration) {
		m := time.Now().Add(-age)
		if err := os.Chtimes(dir, m, m); err != nil {
			t.Fatal(err)
		}
	}
	set(100 * time.Second)
	if _, err := Acquire(ctx, r, "media", Options{Paths: p, Holder: testHolder(1), Timeout: -1}); !errors.Is(err, ErrLocked) {
		t.Fatalf("fresh lock: %v", err)
	}
	// 200 s old: expired, taken over.
	set(200 * time.Second)
	l, err := Acquire(ctx, r, "media", Options{Paths: p, Holder: testHolder(1), Timeout: -1})
	if err != nil {
		t.Fatalf("expired lock: %v", err)
	}
	h, _, err := p.Inspect(ctx, r, "media")
	if err != nil || h == nil || h.PID != 1 {
		t.Errorf("holder after takeover = %+v, %v", h, err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLocalUnlock(t *testing.T) {
	ctx := context.Background()
	r, p := localSetup(t)
	if _, err := Acquire(ctx, r, "media", Options{Paths: p, Holder: testHolder(7), Sleep: newStepSleeper().Sleep}); err != nil {
		t.Fatal(err)
	}
	h, err := p.Unlock(ctx, r, "media")
	if err != nil || h.PID != 7 {
		t.Fatalf("Unlock = %+v, %v", h, err)
	}
	if _, err := p.Unlock(ctx, r, "media"); !errors.Is(err, ErrNotLocked) {
		t.Errorf("second Unlock = %v", err)
	}
}
