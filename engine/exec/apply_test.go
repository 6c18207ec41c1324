package exec_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/exec"
	"github.com/lxcplan/lxcplan/engine/lock"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// window is when a container's commands ran, from the command log.
type window struct{ first, last time.Time }

func windows(entries []pvesim.LogEntry) map[string]window {
	out := map[string]window{}
	for _, e := range entries {
		if len(e.Argv) < 3 || e.Argv[0] != "pct" {
			continue
		}
		id := e.Argv[2]
		end := e.Time.Add(time.Duration(e.DurationMS) * time.Millisecond)
		w, ok := out[id]
		if !ok || e.Time.Before(w.first) {
			w.first = e.Time
		}
		if end.After(w.last) {
			w.last = end
		}
		out[id] = w
	}
	return out
}

func firstIndex(lines []string, prefix string) int {
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return i
		}
	}
	return -1
}

func mustApply(t *testing.T, s *sim, edits ...string) (*plan.Plan, *exec.Result) {
	t.Helper()
	p, res, err := s.apply(t, loadStack(t, edits...), s.options(t))
	if err != nil {
		t.Logf("streams:\n%s", s.streams.String())
		t.Fatal(err)
	}
	return p, res
}

func TestCreateThenReapplyIsNoOp(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	p, res := mustApply(t, s)
	if p.Summary.Create != 3 {
		t.Fatalf("summary %+v, want 3 creates", p.Summary)
	}
	for _, c := range res.Containers {
		if c.Status != exec.StatusOK || c.VMID == 0 || c.IP == "" {
			t.Errorf("%s: status %s vmid %d ip %q", c.Name, c.Status, c.VMID, c.IP)
		}
	}
	db, cache, web := res.Container("db"), res.Container("cache"), res.Container("web")
	if db.Host != "pve1" || cache.Host != "pve2" || web.Host != "pve1" {
		t.Errorf("hosts: db %s cache %s web %s", db.Host, cache.Host, web.Host)
	}
	if web.Outputs["url"].Value != "http://"+web.IP+"/" || !web.Outputs["password"].Secret {
		t.Errorf("web outputs %+v", web.Outputs)
	}

	// DAG order: web is created only after db is healthy (its probe ran)
	// and cache started.
	lines := s.c.CommandLines()
	id := func(c *exec.ContainerResult) string { return itoa(c.VMID) }
	webCreate := firstIndex(lines, "pct create "+id(web))
	for _, need := range []string{"pct start " + id(cache), "pct start " + id(db), "pct exec " + id(db) + " -- sh -c"} {
		if i := firstIndex(lines, need); i < 0 || i > webCreate {
			t.Errorf("%q at %d, web created at %d", need, i, webCreate)
		}
	}
	// db and cache have no mutual dependency: their work overlapped.
	w := windows(s.c.Commands())
	a, b := w[id(db)], w[id(cache)]
	if !(a.first.Before(b.last) && b.first.Before(a.last)) {
		t.Errorf("db %v–%v and cache %v–%v did not overlap", a.first, a.last, b.first, b.last)
	}
	// One template download per host and storage.
	downloads := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "pveam download") {
			downloads++
		}
	}
	if downloads != 2 {
		t.Errorf("%d pveam downloads, want 2 (one per host)", downloads)
	}

	// Re-apply: no changes, no mutating command, no journal.
	n := len(s.c.Commands())
	p2, res2 := mustApply(t, s)
	if p2.HasChanges() {
		for _, ch := range p2.Changes {
			t.Logf("%s %s: %s %+v", ch.Container, ch.Action, ch.Reason, ch.Fields)
		}
		t.Fatalf("re-apply plans changes: %+v", p2.Summary)
	}
	if m := s.mutating(n); len(m) > 0 || res2.Mutations != 0 || res2.JournalPath != "" {
		t.Errorf("re-apply ran mutating commands %q (mutations %d, journal %q)", m, res2.Mutations, res2.JournalPath)
	}
	for _, c := range res2.Containers {
		if c.Status != exec.StatusUnchanged || c.IP == "" {
			t.Errorf("%s: %s (ip %q) on re-apply", c.Name, c.Status, c.IP)
		}
	}
	// The summary still has the outputs (from one read of the secrets).
	if u := res2.Container("web").Outputs["url"].Value; u != "http://"+web.IP+"/" {
		t.Errorf("web url on re-apply = %q", u)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestMemoryChangeIsOnlyPctSet(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	_, res := mustApply(t, s)
	n := len(s.c.Commands())
	p, _ := mustApply(t, s, "    recipe: ./app.yaml\n    host: pve2\n", "    recipe: ./app.yaml\n    host: pve2\n    resources: {memory: 512}\n")
	if ch := change(p, "cache"); ch == nil || ch.Action != plan.ActionUpdate {
		t.Fatalf("cache change %+v", ch)
	}
	m := s.mutating(n)
	if len(m) == 0 {
		t.Fatal("no command ran")
	}
	want := "pct set " + itoa(res.Container("cache").VMID)
	sawMemory := false
	for _, l := range m {
		if !strings.HasPrefix(l, want+" ") {
			t.Errorf("unexpected mutating command %q", l)
		}
		sawMemory = sawMemory || strings.Contains(l, "--memory 512")
	}
	if !sawMemory {
		t.Errorf("no pct set --memory 512 in %q", m)
	}
	// And again: nothing.
	n = len(s.c.Commands())
	p2, _ := mustApply(t, s, "    recipe: ./app.yaml\n    host: pve2\n", "    recipe: ./app.yaml\n    host: pve2\n    resources: {memory: 512}\n")
	if p2.HasChanges() || len(s.mutating(n)) > 0 {
		t.Errorf("second apply after the update changed things: %+v %q", p2.Summary, s.mutating(n))
	}
}

func change(p *plan.Plan, name string) *plan.Change {
	for _, ch := range p.Changes {
		if ch.Container == name {
			return ch
		}
	}
	return nil
}

func TestStepChangeReprovisionsUnderSnapshot(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	_, res := mustApply(t, s)
	n := len(s.c.Commands())
	p, _ := mustApply(t, s, "default: hello", "default: goodbye")
	for _, name := range []string{"db", "cache", "web"} {
		if ch := change(p, name); ch == nil || ch.Action != plan.ActionReprovision || ch.Apply.FromStep != 2 {
			t.Fatalf("%s: %+v", name, ch)
		}
	}
	m := s.mutating(n)
	id := itoa(res.Container("db").VMID)
	snap, del, exec := -1, -1, -1
	for i, l := range m {
		switch {
		case strings.HasPrefix(l, "pct snapshot "+id+" lxcplan-"):
			snap = i
		case strings.HasPrefix(l, "pct delsnapshot "+id+" lxcplan-"):
			del = i
		case strings.HasPrefix(l, "pct exec "+id+" -- sh -c") && exec < 0:
			exec = i
		case strings.HasPrefix(l, "pct exec "+id+" -- env"):
			t.Errorf("step 1 (apt) re-ran: %q", l)
		}
	}
	if !(snap >= 0 && snap < exec && exec < del) {
		t.Errorf("snapshot %d, first step %d, delsnapshot %d in %q", snap, exec, del, m)
	}
}

func TestFailureRollsBackToExactlyBefore(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first bool // fail the first apply (else: a reprovision of an applied stack)
		fault func(c *pvesim.Cluster)
		edits []string
	}{
		{name: "start fails", first: true, fault: func(c *pvesim.Cluster) {
			c.FailOn("pct", "^start 10[0-9]", 1, "startup for container '101' failed\n", 255)
		}},
		{name: "install step fails", first: true, fault: func(c *pvesim.Cluster) {
			c.Memory().Handle(`lxcplan-run`, func(argv []string, stdin io.Reader, _, stderr io.Writer) int {
				b, _ := io.ReadAll(stdin)
				if strings.Contains(string(b), "motd") {
					fmt.Fprintln(stderr, "motd: permission denied")
					return 1
				}
				return 0
			})
		}},
		{name: "reprovision fails", fault: func(c *pvesim.Cluster) {
			c.Memory().Handle(`lxcplan-run`, func(argv []string, stdin io.Reader, _, stderr io.Writer) int {
				b, _ := io.ReadAll(stdin)
				if strings.Contains(string(b), "goodbye") {
					fmt.Fprintln(stderr, "motd: disk full")
					return 1
				}
				return 0
			})
		}, edits: []string{"default: hello", "default: goodbye"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, "pve1", "pve2")
			if !tc.first {
				mustApply(t, s)
			}
			before := s.clusterFiles(t)
			tc.fault(s.c)
			_, res, err := s.apply(t, loadStack(t, tc.edits...), s.options(t))
			if !errors.Is(err, exec.ErrFailed) || errors.Is(err, exec.ErrRollbackIncomplete) {
				t.Logf("streams:\n%s", s.streams.String())
				t.Fatalf("err = %v, want ErrFailed", err)
			}
			if !res.RolledBack || len(res.Left) != 0 {
				t.Errorf("rolled back %v, left %v", res.RolledBack, res.Left)
			}
			skipped := 0
			for _, c := range res.Containers {
				if c.Status == exec.StatusSkipped {
					skipped++
				}
			}
			if tc.first && skipped == 0 {
				t.Errorf("web should have been skipped: %+v", res.Containers)
			}
			after := s.clusterFiles(t)
			if !reflect.DeepEqual(before, after) {
				for k, v := range after {
					if before[k] != v {
						t.Errorf("%s differs after rollback:\n%s\nwas:\n%s", k, v, before[k])
					}
				}
				for k := range before {
					if _, ok := after[k]; !ok {
						t.Errorf("%s is gone after rollback", k)
					}
				}
			}
		})
	}
}

func TestRollbackIncompleteLeavesJournal(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	s.c.FailOn("pct", "^start 10[0-9]", 1, "startup for container '100' failed\n", 255)
	s.c.AddFault(pvesim.Fault{Tool: "pct", Match: "^destroy", N: 1, Times: 50, Stderr: "lvremove 'pve/vm-100-disk-0' error: device busy\n", Exit: 255})
	_, res, err := s.apply(t, loadStack(t), s.options(t))
	if !errors.Is(err, exec.ErrRollbackIncomplete) {
		t.Fatalf("err = %v, want ErrRollbackIncomplete", err)
	}
	if len(res.Left) == 0 || res.JournalPath == "" {
		t.Fatalf("left %v journal %q", res.Left, res.JournalPath)
	}
	if _, err := os.Stat(res.JournalPath); err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Left {
		if !strings.Contains(strings.Join(l.Argv, " "), "pct destroy") {
			t.Errorf("left %v", l)
		}
	}
	// Once the fault is gone, --resume-rollback finishes the job.
	s.c.ClearFaults()
	rep, err := exec.ResumeRollback(context.Background(), res.JournalPath, s.hosts, nil)
	if err != nil || !rep.Complete() {
		t.Fatalf("resume: %v %+v", err, rep)
	}
	files := s.clusterFiles(t)
	for k := range files {
		if strings.Contains(k, "/lxc/") && strings.HasSuffix(k, ".conf") {
			t.Errorf("%s still exists", k)
		}
	}
}

func TestSecretNeverInAnyStream(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	// One failing run (errors, rollback), one good run, one no-op run.
	s.c.FailOn("pct", "^start 102", 1, "startup for container '102' failed\n", 255)
	var written strings.Builder
	var wmu sync.Mutex
	s.c.Memory().Handle(`lxcplan-write`, func(argv []string, stdin io.Reader, _, _ io.Writer) int {
		b, _ := io.ReadAll(stdin)
		wmu.Lock()
		defer wmu.Unlock()
		written.Write(b)
		return 0
	})
	_, _, _ = s.apply(t, loadStack(t), s.options(t))
	_, res := mustApply(t, s)
	mustApply(t, s)
	var secrets, passwords []string
	files, _ := filepath.Glob(filepath.Join(s.c.Dir, "priv", "lxcplan", "shop", "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, string(b))
		if strings.HasSuffix(f, ".password") {
			passwords = append(passwords, string(b))
		}
	}
	// Three passwords and the stack's fingerprint key, itself a secret.
	if len(secrets) != 4 {
		t.Fatalf("secrets on the cluster: %v", files)
	}
	var all strings.Builder
	all.WriteString(s.streams.String())
	for _, e := range s.events {
		all.WriteString(e.Message)
		if e.Err != nil {
			all.WriteString(e.Err.Error())
		}
	}
	for _, c := range res.Containers {
		for _, o := range c.Outputs {
			if !o.Secret {
				all.WriteString(o.Value)
			}
		}
	}
	journals, _ := filepath.Glob(filepath.Join(filepath.Dir(res.JournalPath), "*"))
	for _, j := range journals {
		b, _ := os.ReadFile(j)
		all.Write(b)
	}
	for _, e := range s.c.Commands() {
		all.WriteString(strings.Join(e.Argv, " "))
	}
	for _, v := range secrets {
		if strings.Contains(all.String(), v) {
			t.Errorf("secret %q leaked", v)
		}
	}
	// The passwords did reach the containers (on stdin, never in argv).
	for _, v := range passwords {
		if !strings.Contains(written.String(), "password="+v) {
			t.Errorf("secret %q was never written into a container", v)
		}
	}
}

func TestLockedStackNamesHolder(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	other, err := lock.Acquire(context.Background(), s.hosts["pve2"], "shop", lock.Options{Timeout: -1,
		Holder: lock.Holder{User: "alice", Host: "laptop", PID: 4242, Command: "lxcplan apply"}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release(context.Background())
	n := len(s.c.Commands())
	_, _, err = s.apply(t, loadStack(t), s.options(t))
	var le *lock.LockedError
	if !errors.As(err, &le) || !errors.Is(err, lock.ErrLocked) || !strings.Contains(err.Error(), "alice@laptop pid 4242") {
		t.Fatalf("err = %v, want a LockedError naming alice@laptop", err)
	}
	if m := s.mutating(n); len(m) > 0 {
		t.Errorf("ran %q while locked out", m)
	}
}

func TestConcurrentAppliesOneFailsOnLock(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	d := loadStack(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := s.options(t)
			o.Lock.Holder = lock.Holder{User: "tester", Host: "machine" + itoa(i), PID: 1000 + i, Command: "lxcplan apply"}
			_, _, errs[i] = exec.RunApply(context.Background(), d, s.hosts, o)
		}()
	}
	wg.Wait()
	var locked *lock.LockedError
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
			// The loser may look between the winner's mkdir and its
			// holder file: then the holder is unknown, which it says.
			if !errors.As(err, &locked) || !errors.Is(err, lock.ErrLocked) {
				t.Errorf("err = %v, want a LockedError", err)
			}
		}
	}
	if failed != 1 {
		t.Fatalf("errors %v: want exactly one lock failure", errs)
	}
	// Nothing corrupted: a third run is a no-op.
	p, _, err := s.apply(t, d, s.options(t))
	if err != nil || p.HasChanges() {
		t.Fatalf("after the race: %v %+v", err, p.Summary)
	}
}

func TestDestroyNeedsYes(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	_, res := mustApply(t, s)
	// Remove web from the stack.
	edit := []string{"  web:\n    recipe: ./app.yaml\n    host: pve1\n    depends_on:\n      db: {condition: healthy}\n      cache: {condition: started}\n    params:\n      peer: \"${containers.db.ip}\"\n", ""}
	n := len(s.c.Commands())
	_, _, err := s.apply(t, loadStack(t, edit...), s.options(t))
	if !errors.Is(err, exec.ErrNeedsConfirmation) || len(s.mutating(n)) != 0 {
		t.Fatalf("without --yes: %v, ran %q", err, s.mutating(n))
	}
	o := s.options(t)
	o.Yes = true
	p, res2, err := s.apply(t, loadStack(t, edit...), o)
	if err != nil || p.Summary.Destroy != 1 {
		t.Fatalf("%v %+v", err, p.Summary)
	}
	if c := res2.Container("web"); c == nil || c.Status != exec.StatusDestroyed {
		t.Fatalf("web: %+v", c)
	}
	id := itoa(res.Container("web").VMID)
	if _, err := os.Stat(filepath.Join(s.c.Dir, "nodes", "pve1", "lxc", id+".conf")); !os.IsNotExist(err) {
		t.Errorf("web's config still there: %v", err)
	}
	if files, _ := filepath.Glob(filepath.Join(s.c.Dir, "priv", "lxcplan", "shop", "web.*")); len(files) != 0 {
		t.Errorf("web's secrets still there: %v", files)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	before := s.clusterFiles(t)
	hosts := map[string]transport.Runner{}
	for k, r := range s.hosts {
		hosts[k] = transport.Chain(r, transport.DryRun(&transport.Recorder{Host: k, PassReadOnly: true, Out: &lockedStreams{s}}))
	}
	o := s.options(t)
	o.DryRun = true
	// The lock is taken for real: a dry run must see a stable state too.
	_, res, err := exec.RunApply(context.Background(), loadStack(t), hosts, o)
	if err != nil {
		t.Logf("streams:\n%s", s.streams.String())
		t.Fatal(err)
	}
	if res.JournalPath != "" {
		t.Errorf("a dry run wrote a journal: %s", res.JournalPath)
	}
	out := s.streams.String()
	for _, want := range []string{"pve1: pct create 10", "pve2: pct create 10", "pve1: pct start 102", "pve1: pct exec 102 -- env DEBIAN_FRONTEND"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q", want)
		}
	}
	if after := s.clusterFiles(t); !reflect.DeepEqual(before, after) {
		t.Errorf("dry run changed the cluster")
	}
}

// TestCancelRollsBack: cancelling the context (the first Ctrl-C) stops the
// work in flight and rolls everything back.
func TestCancelRollsBack(t *testing.T) {
	s := newSim(t, "pve1", "pve2")
	s.c.Memory().SetDuration(`apt-get`, 20*time.Second)
	before := s.clusterFiles(t)
	ctx, cancel := context.WithCancel(context.Background())
	o := s.options(t)
	obs := o.Observer
	var once sync.Once
	o.Observer = func(e exec.Event) {
		obs(e)
		if strings.HasPrefix(e.Phase, exec.PhaseInstalling) {
			once.Do(cancel)
		}
	}
	start := time.Now()
	_, res, err := exec.RunApply(ctx, loadStack(t), s.hosts, o)
	if !errors.Is(err, exec.ErrFailed) || !errors.Is(err, context.Canceled) || !res.RolledBack {
		t.Fatalf("err = %v (rolled back %v), want ErrFailed after a cancel", err, res.RolledBack)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v: the in-flight apt-get was not cancelled", d)
	}
	diffFiles(t, before, s.clusterFiles(t))
}

func diffFiles(t *testing.T, before, after map[string]string) {
	t.Helper()
	for k, v := range after {
		if w, ok := before[k]; !ok || w != v {
			t.Errorf("%s differs after rollback:\n%s\nwas:\n%s", k, v, w)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("%s is gone after rollback", k)
		}
	}
}
