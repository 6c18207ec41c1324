package journal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// fakeRunner records argv and answers from a script: the first matching
// rule (by joined-argv prefix) with attempts left decides the outcome.
type fakeRunner struct {
	mu    sync.Mutex
	log   [][]string
	rules []rule
	// ctxErr records any command that ran with a cancelled context.
	ctxErr error
}

type rule struct {
	prefix string
	times  int // 0: forever
	code   int
	stderr string
	err    error // transport error instead of an exit
}

func (f *fakeRunner) on(prefix string, times, code int, stderr string) *fakeRunner {
	f.rules = append(f.rules, rule{prefix: prefix, times: times, code: code, stderr: stderr})
	return f
}

func (f *fakeRunner) onErr(prefix string, times int, err error) *fakeRunner {
	f.rules = append(f.rules, rule{prefix: prefix, times: times, err: err})
	return f
}

func (f *fakeRunner) Run(ctx context.Context, c transport.Command) (transport.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil && f.ctxErr == nil {
		f.ctxErr = err
	}
	f.log = append(f.log, slices.Clone(c.Argv))
	line := strings.Join(c.Argv, " ")
	for i := range f.rules {
		r := &f.rules[i]
		if !strings.HasPrefix(line, r.prefix) || r.times < 0 {
			continue
		}
		if r.times > 0 {
			if r.times--; r.times == 0 {
				r.times = -1
			}
		}
		if r.err != nil {
			return transport.Result{}, r.err
		}
		res := transport.Result{Stderr: []byte(r.stderr), ExitCode: r.code}
		if r.code != 0 {
			return res, &transport.ExitError{Host: "fake", Argv: c.Argv, Code: r.code, Stderr: res.Stderr}
		}
		return res, nil
	}
	return transport.Result{}, nil
}

func (f *fakeRunner) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.log))
	for i, c := range f.log {
		out[i] = strings.Join(c, " ")
	}
	return out
}

func noSleep(context.Context, time.Duration) error { return nil }

func TestRollbackLIFO(t *testing.T) {
	path := t.TempDir() + "/j.jsonl"
	j, err := Open(path)
	must(t, err)
	a, _ := j.Begin(createStep("pve1", "db", 101))
	must(t, j.Done(a))
	b, _ := j.Begin(createStep("pve2", "web", 102))
	must(t, j.Done(b))
	c, _ := j.Begin(setStep("pve1", "db", 101))
	must(t, j.Failed(c, errors.New("boom")))
	_, _ = j.Begin(Step{Host: "pve2", Container: "web", ID: "install/1", Do: []string{"pct", "exec", "102", "--", "apt-get", "install", "-y", "nginx"},
		Undo: [][]string{{"pct", "stop", "102"}}}) // in flight
	_, _ = j.Begin(Step{Host: "pve1", Container: "db", ID: "probe", Do: []string{"true"}}) // nothing to undo
	r1, r2 := &fakeRunner{}, &fakeRunner{}
	var events []string
	rep, err := Rollback(context.Background(), j.Log(), map[string]transport.Runner{"pve1": r1, "pve2": r2}, func(e Event) {
		events = append(events, fmt.Sprintf("%s %s/%s", e.Kind, e.Entry.Container, e.Entry.Step))
	})
	must(t, err)
	must(t, j.Close())
	var all []string
	for _, s := range rep.Undone {
		all = append(all, s.Container+"/"+s.Step)
	}
	if want := "web/install/1 db/set web/create db/create"; strings.Join(all, " ") != want {
		t.Errorf("undo order %q, want %q", strings.Join(all, " "), want)
	}
	if want := "pct set 101 --memory 512|pct stop 101|pct destroy 101 --purge"; strings.Join(r1.calls(), "|") != want {
		t.Errorf("pve1 ran %q", r1.calls())
	}
	if want := "pct stop 102|pct stop 102|pct destroy 102 --purge"; strings.Join(r2.calls(), "|") != want {
		t.Errorf("pve2 ran %q", r2.calls())
	}
	if want := "undo-start web/install/1,undone web/install/1,undo-start db/set,undone db/set,undo-start web/create,undone web/create,undo-start db/create,undone db/create"; strings.Join(events, ",") != want {
		t.Errorf("events:\n%s\nwant\n%s", strings.Join(events, ","), want)
	}
	log, err := Read(path)
	must(t, err)
	for _, e := range log.Entries {
		want := UndoDone
		if e.Step == "probe" {
			want = UndoPending
		}
		if e.Undone != want {
			t.Errorf("%s/%s: %q, want %q", e.Container, e.Step, e.Undone, want)
		}
	}
}

func TestTolerated(t *testing.T) {
	tests := []struct {
		name   string
		argv   string
		stderr string
		ok     bool
	}{
		{"destroy missing CT", "pct destroy 101 --purge", "Configuration file 'nodes/pve1/lxc/101.conf' does not exist\n", true},
		{"stop stopped CT", "pct stop 101", "CT 101 not running\n", true},
		{"stop missing CT", "pct stop 101", "Configuration file 'nodes/pve1/lxc/101.conf' does not exist\n", true},
		{"start running CT", "pct start 101", "CT 101 already running\n", true},
		{"delsnapshot missing", "pct delsnapshot 101 lxcplan-r1", "snapshot 'lxcplan-r1' does not exist\n", true},
		{"rollback missing snapshot", "pct rollback 101 lxcplan-r1", "snapshot 'lxcplan-r1' does not exist\n", false},
		{"set on missing CT", "pct set 101 --memory 512", "Configuration file 'nodes/pve1/lxc/101.conf' does not exist\n", false},
		{"destroy running CT", "pct destroy 101", "unable to destroy CT 101 - container is running\n", false},
		{"destroy locked CT", "pct destroy 101", "CT is locked (backup)\n", false},
		{"other tool", "ha-manager remove ct:101", "Configuration file 'nodes/pve1/lxc/101.conf' does not exist\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := strings.Fields(tt.argv)
			r := (&fakeRunner{}).on("", 0, 2, tt.stderr)
			err := runOnce(context.Background(), r, "pve1", argv, time.Minute)
			if err == nil {
				t.Fatal("no error")
			}
			if got := Tolerated(argv, err); got != tt.ok {
				t.Errorf("Tolerated = %v, want %v (err %v)", got, tt.ok, err)
			}
		})
	}
	if Tolerated([]string{"pct", "destroy", "1"}, transport.ErrUnreachable) {
		t.Error("unreachable tolerated")
	}
}

func TestRollbackReportsWhatIsLeft(t *testing.T) {
	path, _ := writeJournal(t,
		createStep("pve1", "db", 101),
		Step{Host: "pve1", Container: "db", ID: "snapshot", Do: []string{"pct", "snapshot", "101", "lxcplan-r1"},
			Undo: [][]string{{"pct", "delsnapshot", "101", "lxcplan-r1"}}},
		Step{Host: "pve1", Container: "db", ID: "install/1", Do: []string{"pct", "exec", "101", "--", "true"},
			Undo: [][]string{{"pct", "rollback", "101", "lxcplan-r1"}, {"pct", "start", "101"}}},
		createStep("pve9", "cache", 109),
	)
	log, err := Read(path)
	must(t, err)
	r := (&fakeRunner{}).
		on("pct rollback 101", 0, 255, "snapshot 'lxcplan-r1' does not exist\n").
		on("pct delsnapshot 101", 0, 255, "snapshot 'lxcplan-r1' does not exist\n").
		on("pct stop 101", 0, 255, "CT 101 not running\n")
	rep, err := Rollback(context.Background(), log, map[string]transport.Runner{"pve1": r}, nil)
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("err = %v", err)
	}
	if len(rep.Left) != 2 {
		t.Fatalf("left = %+v", rep.Left)
	}
	if l := rep.Left[0]; l.Host != "pve9" || !strings.Contains(l.Error, `no connection to host "pve9"`) {
		t.Errorf("left[0] = %+v", l)
	}
	if l := rep.Left[1]; l.Step != "install/1" || strings.Join(l.Argv, " ") != "pct rollback 101 lxcplan-r1" || !strings.Contains(l.Error, "does not exist") {
		t.Errorf("left[1] = %+v", l)
	}
	// pct start was not run after the failed rollback; the create was undone.
	if want := "pct rollback 101 lxcplan-r1|pct delsnapshot 101 lxcplan-r1|pct stop 101|pct destroy 101 --purge"; strings.Join(r.calls(), "|") != want {
		t.Errorf("ran %q", r.calls())
	}
	if s := rep.Summary(); !strings.Contains(s, "rollback left 2 step(s)") || !strings.Contains(s, "db (install/1): pct rollback 101 lxcplan-r1 on fake: exit status 255: snapshot 'lxcplan-r1' does not exist") {
		t.Errorf("summary:\n%s", s)
	}
}

func TestResumeSkipsUndone(t *testing.T) {
	path, _ := writeJournal(t, createStep("pve1", "a", 101), createStep("pve1", "b", 102), createStep("pve1", "c", 103))
	log, err := Read(path)
	must(t, err)
	// The connection drops for good while undoing b.
	r := (&fakeRunner{}).onErr("pct stop 102", 0, fmt.Errorf("%w: %w: eof", transport.ErrConnectionLost, transport.ErrUnreachable))
	rep, err := RollbackWith(context.Background(), log, map[string]transport.Runner{"pve1": r}, RollbackOptions{Sleep: noSleep})
	if !errors.Is(err, ErrIncomplete) || len(rep.Left) != 1 || rep.Left[0].Container != "b" {
		t.Fatalf("first rollback = %+v, %v", rep, err)
	}
	if n := strings.Count(strings.Join(r.calls(), "|"), "pct stop 102"); n != DefaultAttempts {
		t.Errorf("pct stop 102 tried %d times, want %d", n, DefaultAttempts)
	}
	// --resume-rollback: read the journal again; only b is retried.
	log, err = Read(path)
	must(t, err)
	r2 := &fakeRunner{}
	rep, err = Rollback(context.Background(), log, map[string]transport.Runner{"pve1": r2}, nil)
	must(t, err)
	if want := "pct stop 102|pct destroy 102 --purge"; strings.Join(r2.calls(), "|") != want {
		t.Errorf("resume ran %q, want %q", r2.calls(), want)
	}
	if len(rep.Skipped) != 2 || len(rep.Undone) != 1 || !rep.Complete() {
		t.Errorf("resume report = %+v", rep)
	}
	// A third run has nothing left to do.
	log, err = Read(path)
	must(t, err)
	r3 := &fakeRunner{}
	rep, err = Rollback(context.Background(), log, map[string]transport.Runner{"pve1": r3}, nil)
	must(t, err)
	if len(r3.calls()) != 0 || len(rep.Skipped) != 3 {
		t.Errorf("third run: %q, %+v", r3.calls(), rep)
	}
}

func TestRollbackInterruptedMidStep(t *testing.T) {
	// A rollback that died after recording nothing for a step re-runs the
	// whole step's undo, which the idempotency rules make safe.
	path, _ := writeJournal(t, createStep("pve1", "a", 101))
	log, err := Read(path)
	must(t, err)
	r := (&fakeRunner{}).
		on("pct stop 101", 0, 255, "CT 101 not running\n").
		on("pct destroy 101", 0, 255, "Configuration file 'nodes/pve1/lxc/101.conf' does not exist\n")
	rep, err := Rollback(context.Background(), log, map[string]transport.Runner{"pve1": r}, nil)
	must(t, err)
	if len(rep.Undone) != 1 {
		t.Errorf("report = %+v", rep)
	}
}

func TestTransientUndoRetried(t *testing.T) {
	path, _ := writeJournal(t, setStep("pve1", "db", 101))
	log, err := Read(path)
	must(t, err)
	r := (&fakeRunner{}).on("pct set 101", 2, 255, "CT is locked (backup)\n")
	var slept []time.Duration
	rep, err := RollbackWith(context.Background(), log, map[string]transport.Runner{"pve1": r}, RollbackOptions{
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil },
	})
	must(t, err)
	if len(rep.Undone) != 1 || len(r.calls()) != 3 {
		t.Errorf("calls %q, report %+v", r.calls(), rep)
	}
	if fmt.Sprint(slept) != "[2s 4s]" {
		t.Errorf("back-off %v", slept)
	}
	// A lock that needs a person is not retried.
	path, _ = writeJournal(t, setStep("pve1", "db", 101))
	log, _ = Read(path)
	r = (&fakeRunner{}).on("pct set 101", 0, 255, "CT is locked (mounted)\n")
	rep, err = RollbackWith(context.Background(), log, map[string]transport.Runner{"pve1": r}, RollbackOptions{Sleep: noSleep})
	if !errors.Is(err, ErrIncomplete) || len(rep.Left) != 1 || !errors.Is(rep.Left[0].Err, pve.ErrLocked) {
		t.Errorf("err = %v, report %+v", err, rep)
	}
	if len(r.calls()) != 1 {
		t.Errorf("mounted lock retried: %q", r.calls())
	}
}

func TestRollbackIgnoresCancellation(t *testing.T) {
	path, _ := writeJournal(t, createStep("pve1", "a", 101))
	log, err := Read(path)
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the first Ctrl-C
	r := &fakeRunner{}
	rep, err := Rollback(ctx, log, map[string]transport.Runner{"pve1": r}, nil)
	must(t, err)
	if r.ctxErr != nil || len(rep.Undone) != 1 {
		t.Errorf("ctx err %v, report %+v", r.ctxErr, rep)
	}
}

func TestUndoTimeout(t *testing.T) {
	path, _ := writeJournal(t, createStep("pve1", "a", 101))
	log, err := Read(path)
	must(t, err)
	hang := transport.RunFunc(func(ctx context.Context, c transport.Command) (transport.Result, error) {
		<-ctx.Done()
		return transport.Result{}, fmt.Errorf("%w: %w", transport.ErrCancelled, ctx.Err())
	})
	rep, err := RollbackWith(context.Background(), log, map[string]transport.Runner{"pve1": hang}, RollbackOptions{Timeout: 10 * time.Millisecond, Sleep: noSleep})
	if !errors.Is(err, ErrIncomplete) || len(rep.Left) != 1 || !strings.Contains(rep.Left[0].Error, "deadline") {
		t.Errorf("report %+v, err %v", rep, err)
	}
}

func TestManualSteps(t *testing.T) {
	path, _ := writeJournal(t, Step{Host: "pve1", Container: "old", ID: "destroy", Do: []string{"pct", "destroy", "105"}, Manual: "restore CT 105 from backup"})
	log, err := Read(path)
	must(t, err)
	rep, err := Rollback(context.Background(), log, map[string]transport.Runner{"pve1": &fakeRunner{}}, nil)
	if !errors.Is(err, ErrIncomplete) || len(rep.Left) != 1 || rep.Left[0].Manual != "restore CT 105 from backup" {
		t.Errorf("report %+v, err %v", rep, err)
	}
	if !strings.Contains(rep.Summary(), "to do by hand: restore CT 105 from backup") {
		t.Errorf("summary %q", rep.Summary())
	}
}

func TestRollbackJournalUnwritable(t *testing.T) {
	// The undos matter more than their record: a journal that cannot be
	// appended to does not stop the rollback, but the error says so.
	path, _ := writeJournal(t, createStep("pve1", "a", 101))
	log, err := Read(path)
	must(t, err)
	log.Path = path + "/not-a-dir/j.jsonl" // path is a file: even root cannot open this
	r := &fakeRunner{}
	rep, err := Rollback(context.Background(), log, map[string]transport.Runner{"pve1": r}, nil)
	if err == nil || errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "journal") {
		t.Errorf("err = %v", err)
	}
	if rep == nil || len(rep.Undone) != 1 || len(r.calls()) != 2 {
		t.Errorf("report %+v, calls %q", rep, r.calls())
	}
}
