package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/transport"
)

var (
	lockDir    = DefaultDir + "/lxcplan-media"
	holderFile = DefaultHolderDir + "/media.holder"
)

func testHolder(pid int) Holder {
	return Holder{User: "root", Host: "ci-runner", PID: pid, Start: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		Version: "0.1.0", Command: "lxcplan apply"}
}

func TestLockedErrorMessage(t *testing.T) {
	h := testHolder(4242)
	tests := []struct {
		name string
		err  *LockedError
		want string
	}{
		{"holder", &LockedError{Stack: "media", Holder: &h},
			`stack "media" is locked by root@ci-runner pid 4242 since 2026-11-26T12:00:00Z (lxcplan apply); wait, or run 'lxcplan unlock media' if that run is gone`},
		{"unknown", &LockedError{Stack: "web"},
			`stack "web" is locked by an unknown holder (no readable holder file); wait, or run 'lxcplan unlock web' if that run is gone`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if !errors.Is(tt.err, ErrLocked) {
				t.Error("not ErrLocked")
			}
		})
	}
}

func TestAcquireRelease(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost()
	l, err := Acquire(ctx, h, "media", Options{Holder: testHolder(1), Sleep: newStepSleeper().Sleep})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h.dirs[lockDir]; !ok {
		t.Fatalf("lock dir not made: %v", h.dirs)
	}
	var written Holder
	if err := json.Unmarshal(h.files[holderFile], &written); err != nil {
		t.Fatalf("holder file: %v: %q", err, h.files[holderFile])
	}
	if written.PID != 1 || written.Token == "" || written.Token != l.Holder().Token {
		t.Errorf("holder file = %+v", written)
	}
	got, locked, err := Inspect(ctx, h, "media")
	if err != nil || !locked || got == nil || got.PID != 1 || !got.Refreshed.Equal(h.now) {
		t.Fatalf("Inspect = %+v %v %v", got, locked, err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Errorf("second release: %v", err)
	}
	if _, ok := h.dirs[lockDir]; ok {
		t.Error("lock dir left")
	}
	if _, ok := h.files[holderFile]; ok {
		t.Error("holder file left")
	}
	want := []string{
		"mkdir " + lockDir,
		"sh -c WRITE sh " + DefaultHolderDir + " " + holderFile,
		"sh -c INSPECT sh " + lockDir + " " + holderFile,
		"cat " + holderFile,
		"rm -f " + holderFile,
		"rmdir " + lockDir,
	}
	if got := summarize(h.commands()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, locked, _ := Inspect(ctx, h, "media"); locked {
		t.Error("still locked")
	}
}

// summarize shows commands with the constant scripts abbreviated.
func summarize(cmds [][]string) []string {
	names := map[string]string{writeHolderScript: "WRITE", inspectScript: "INSPECT", stealScript: "STEAL", refreshScript: "REFRESH"}
	var out []string
	for _, c := range cmds {
		w := make([]string, len(c))
		for i, s := range c {
			if n, ok := names[s]; ok {
				s = n
			}
			w[i] = s
		}
		out = append(out, strings.Join(w, " "))
	}
	return out
}

func TestRaceExactlyOneWins(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost()
	h.realClock = true
	type result struct {
		l   *Lock
		err error
	}
	results := make(chan result, 2)
	var startGate sync.WaitGroup
	startGate.Add(1)
	for pid := 1; pid <= 2; pid++ {
		go func() {
			startGate.Wait()
			l, err := Acquire(ctx, h, "media", Options{Holder: testHolder(pid), Timeout: 300 * time.Millisecond, Poll: 20 * time.Millisecond})
			results <- result{l, err}
		}()
	}
	startGate.Done()
	r1, r2 := <-results, <-results
	if (r1.l == nil) == (r2.l == nil) {
		t.Fatalf("want exactly one winner: %v / %v", r1.err, r2.err)
	}
	win, lose := r1, r2
	if win.l == nil {
		win, lose = r2, r1
	}
	defer win.l.Release(ctx)
	var le *LockedError
	if !errors.As(lose.err, &le) || !errors.Is(lose.err, ErrLocked) {
		t.Fatalf("loser error = %v", lose.err)
	}
	if le.Holder == nil || le.Holder.PID != win.l.Holder().PID {
		t.Errorf("loser names %v, winner is pid %d", le.Holder, win.l.Holder().PID)
	}
	if want := fmt.Sprintf("pid %d since", win.l.Holder().PID); !strings.Contains(lose.err.Error(), want) {
		t.Errorf("message %q lacks %q", lose.err, want)
	}
}

func TestWaitThenAcquireAfterRelease(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost()
	first, err := Acquire(ctx, h, "media", Options{Holder: testHolder(1), Sleep: newStepSleeper().Sleep})
	if err != nil {
		t.Fatal(err)
	}
	var waited []*Holder
	sleeps := 0
	second, err := Acquire(ctx, h, "media", Options{
		Holder: testHolder(2),
		OnWait: func(h *Holder) { waited = append(waited, h) },
		Sleep: func(ctx context.Context, d time.Duration) error {
			if sleeps++; sleeps == 3 {
				if err := first.Release(ctx); err != nil {
					t.Error(err)
				}
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Release(ctx)
	if len(waited) != 1 || waited[0] == nil || waited[0].PID != 1 {
		t.Errorf("OnWait calls = %v", waited)
	}
}

func TestBackoffBounded(t *testing.T) {
	h := newFakeHost()
	if _, err := Acquire(context.Background(), h, "media", Options{Holder: testHolder(1), Sleep: newStepSleeper().Sleep}); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0, 0)
	var sleeps []time.Duration
	_, err := Acquire(context.Background(), h, "media", Options{
		Holder: testHolder(2), Timeout: 5 * time.Second, Poll: time.Second,
		Now: func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error {
			sleeps = append(sleeps, d)
			now = now.Add(d)
			return nil
		},
	})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v", err)
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, time.Second, time.Second, time.Second, 250 * time.Millisecond}
	if fmt.Sprint(sleeps) != fmt.Sprint(want) {
		t.Errorf("sleeps = %v, want %v", sleeps, want)
	}
}

func TestRefreshKeepsLockPastExpiry(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost()
	s := newStepSleeper()
	a, err := Acquire(ctx, h, "media", Options{Holder: testHolder(1), Sleep: s.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	// Ten refreshes, 30 s apart: 300 s of host time, far past the 120 s expiry.
	for range 10 {
		if d := <-s.calls; d != DefaultRefresh {
			t.Fatalf("refresh interval %v", d)
		}
		h.advance(DefaultRefresh)
		s.wake <- struct{}{}
	}
	<-s.calls // the tenth refresh finished; the loop sleeps again
	if _, err := Acquire(ctx, h, "media", Options{Holder: testHolder(2), Timeout: -1}); !errors.Is(err, ErrLocked) {
		t.Fatalf("refreshed lock was taken: %v", err)
	}
	// The holder stops refreshing (its process hangs): 121 s later the lock
	// has expired and the next run takes it over.
	h.advance(Expiry + time.Second)
	b, err := Acquire(ctx, h, "media", Options{Holder: testHolder(2), Timeout: -1, Sleep: newStepSleeper().Sleep})
	if err != nil {
		t.Fatalf("expired lock not taken over: %v", err)
	}
	defer b.Release(ctx)
	// The old holder wakes up: its refresh finds another token and reports the loss.
	s.wake <- struct{}{}
	select {
	case <-a.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("old holder did not notice the takeover")
	}
	if err := a.Err(); !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "pid 2") {
		t.Errorf("Err = %v", err)
	}
	if err := a.Release(ctx); !errors.Is(err, ErrLost) {
		t.Errorf("release of a lost lock = %v", err)
	}
	if _, ok := h.dirs[lockDir]; !ok {
		t.Error("release of a lost lock removed the new holder's lock")
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		name  string
		age   time.Duration
		taken bool
	}{
		{"fresh", 10 * time.Second, false},
		{"just within", Expiry, false},
		{"expired", Expiry + time.Second, true},
		{"long dead", 48 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHost()
			h.dirs[lockDir] = h.now.Add(-tt.age)
			h.files[holderFile] = testHolder(9).encode()
			l, err := Acquire(context.Background(), h, "media", Options{Holder: testHolder(1), Timeout: -1, Sleep: newStepSleeper().Sleep})
			if !tt.taken {
				var le *LockedError
				if !errors.As(err, &le) || le.Holder == nil || le.Holder.PID != 9 {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release(context.Background())
			if !strings.Contains(strings.Join(summarize(h.commands()), "\n"), "sh -c STEAL sh "+lockDir+" "+holderFile+" ") {
				t.Errorf("no steal command: %v", summarize(h.commands()))
			}
			if h, _ := decodeHolder(h.files[holderFile]); h.PID != 1 {
				t.Errorf("holder after takeover = %+v", h)
			}
		})
	}
}

func TestStealRaceLeavesRefreshedLock(t *testing.T) {
	// The lock looked expired, but its holder refreshed it before the steal
	// command ran: the steal must leave it alone and the waiter must wait.
	h := newFakeHost()
	h.dirs[lockDir] = h.now.Add(-time.Hour)
	h.files[holderFile] = testHolder(9).encode()
	h.fail = func(argv []string) error {
		if len(argv) > 2 && argv[2] == stealScript {
			h.dirs[lockDir] = h.now // refreshed just in time (h.mu is held)
		}
		return nil
	}
	_, err := Acquire(context.Background(), h, "media", Options{Holder: testHolder(1), Timeout: -1})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v", err)
	}
	if _, ok := h.files[holderFile]; !ok {
		t.Error("holder file of the live lock removed")
	}
}

func TestRefreshFailuresLoseLock(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost()
	s := newStepSleeper()
	l, err := Acquire(ctx, h, "media", Options{Holder: testHolder(1), Sleep: s.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.fail = func(argv []string) error {
		return fmt.Errorf("%w: dial tcp: connection refused", transport.ErrUnreachable)
	}
	h.mu.Unlock()
	var intervals []time.Duration
	for range maxRefreshFailures {
		intervals = append(intervals, <-s.calls)
		s.wake <- struct{}{}
	}
	<-l.Lost()
	if err := l.Err(); !errors.Is(err, ErrLost) || !errors.Is(err, transport.ErrUnreachable) {
		t.Errorf("Err = %v", err)
	}
	want := []time.Duration{DefaultRefresh, DefaultRefresh / 3, DefaultRefresh / 3}
	if fmt.Sprint(intervals) != fmt.Sprint(want) {
		t.Errorf("intervals = %v, want %v", intervals, want)
	}
	// Three failures span 50 s: well inside the 120 s expiry.
	if total := want[0] + want[1] + want[2]; total >= Expiry/2 {
		t.Errorf("failures span %v", total)
	}
}

func TestTransientRefreshFailureRecovers(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost()
	s := newStepSleeper()
	l, err := Acquire(ctx, h, "media", Options{Holder: testHolder(1), Sleep: s.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	fails := 2
	h.mu.Lock()
	h.fail = func(argv []string) error {
		if len(argv) > 2 && argv[2] == refreshScript && fails > 0 {
			fails--
			return transport.ErrUnreachable
		}
		return nil
	}
	h.mu.Unlock()
	for range 4 {
		<-s.calls
		s.wake <- struct{}{}
	}
	<-s.calls
	select {
	case <-l.Lost():
		t.Fatalf("lost after recovered failures: %v", l.Err())
	default:
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestUnlock(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost()
	h.dirs[lockDir] = h.now.Add(-time.Minute) // fresh: unlock removes it anyway
	h.files[holderFile] = testHolder(4242).encode()
	got, err := Unlock(ctx, h, "media")
	if err != nil {
		t.Fatal(err)
	}
	if got.PID != 4242 || got.Command != "lxcplan apply" {
		t.Errorf("holder = %+v", got)
	}
	if _, ok := h.dirs[lockDir]; ok {
		t.Error("lock dir left")
	}
	if _, ok := h.files[holderFile]; ok {
		t.Error("holder file left")
	}
	if _, err := Unlock(ctx, h, "media"); !errors.Is(err, ErrNotLocked) {
		t.Errorf("second unlock = %v", err)
	}
	// A lock without a holder file (the run died between mkdir and write).
	h.dirs[lockDir] = h.now
	if got, err := Unlock(ctx, h, "media"); err != nil || got != (Holder{}) {
		t.Errorf("holderless unlock = %+v, %v", got, err)
	}
}

func TestUnlockedRunNoticesAndKeepsNewLock(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost()
	s := newStepSleeper()
	a, err := Acquire(ctx, h, "media", Options{Holder: testHolder(1), Sleep: s.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Unlock(ctx, h, "media"); err != nil {
		t.Fatal(err)
	}
	<-s.calls
	s.wake <- struct{}{}
	<-a.Lost()
	if !errors.Is(a.Err(), ErrLost) {
		t.Errorf("Err = %v", a.Err())
	}
	b, err := Acquire(ctx, h, "media", Options{Holder: testHolder(2), Timeout: -1, Sleep: newStepSleeper().Sleep})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx); !errors.Is(err, ErrLost) {
		t.Errorf("Release = %v", err)
	}
	if _, ok := h.dirs[lockDir]; !ok {
		t.Error("old run removed the new lock")
	}
	if err := b.Release(ctx); err != nil {
		t.Error(err)
	}
}

func TestReleaseIgnoresCancelledContext(t *testing.T) {
	h := newFakeHost()
	l, err := Acquire(context.Background(), h, "media", Options{Holder: testHolder(1), Sleep: newStepSleeper().Sleep})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Ctrl-C
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.dirs[lockDir]; ok {
		t.Error("lock left after Ctrl-C")
	}
}

func TestAcquireErrors(t *testing.T) {
	tests := []struct {
		name  string
		stack string
		setup func(h *fakeHost)
		is    error
	}{
		{"invalid stack", "../etc", nil, ErrInvalidStack},
		{"invalid stack upper", "Media", nil, ErrInvalidStack},
		{"no lock dir on host", "media", func(h *fakeHost) { delete(h.dirs, DefaultDir) }, transport.ErrCommandFailed},
		{"unreachable", "media", func(h *fakeHost) {
			h.fail = func([]string) error { return transport.ErrUnreachable }
		}, transport.ErrUnreachable},
		{"holder write fails", "media", func(h *fakeHost) {
			h.fail = func(a []string) error {
				if a[0] == "sh" && a[2] == writeHolderScript {
					return transport.ErrConnectionLost
				}
				return nil
			}
		}, transport.ErrConnectionLost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHost()
			if tt.setup != nil {
				tt.setup(h)
			}
			_, err := Acquire(context.Background(), h, tt.stack, Options{Holder: testHolder(1), Timeout: -1})
			if !errors.Is(err, tt.is) || errors.Is(err, ErrLocked) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			if _, ok := h.dirs[lockDir]; ok {
				t.Error("lock dir left behind after a failed acquire")
			}
		})
	}
}

func TestHolderString(t *testing.T) {
	tests := []struct {
		h    Holder
		want string
	}{
		{testHolder(4242), "root@ci-runner pid 4242 since 2026-11-26T12:00:00Z (lxcplan apply)"},
		{Holder{}, "unknown user"},
		{Holder{User: "ann", Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))}, "ann since 2026-01-02T02:04:05Z"},
	}
	for _, tt := range tests {
		if got := tt.h.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestCurrentHolder(t *testing.T) {
	h := CurrentHolder("1.2.3", "lxcplan apply")
	if h.PID <= 0 || h.Start.IsZero() || h.Version != "1.2.3" || h.Command != "lxcplan apply" {
		t.Errorf("CurrentHolder = %+v", h)
	}
}

func FuzzDecodeHolder(f *testing.F) {
	f.Add(string(testHolder(1).encode()))
	f.Add("")
	f.Add("{")
	f.Add(`{"pid":"x"}`)
	f.Add("null")
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := decodeHolder([]byte(s))
		if ok {
			_ = h.String()
		}
	})
}

func TestWaitCancelled(t *testing.T) {
	h := newFakeHost()
	if _, err := Acquire(context.Background(), h, "media", Options{Holder: testHolder(1), Sleep: newStepSleeper().Sleep}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Acquire(ctx, h, "media", Options{Holder: testHolder(2), Sleep: func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrLocked) {
		t.Errorf("err = %v", err)
	}
}

func TestDefaultHolder(t *testing.T) {
	h := newFakeHost()
	l, err := Acquire(context.Background(), h, "media", Options{Holder: Holder{Command: "lxcplan destroy"}, Sleep: newStepSleeper().Sleep})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Holder(); got.PID <= 0 || got.Command != "lxcplan destroy" || got.Token == "" {
		t.Errorf("holder = %+v", got)
	}
}
