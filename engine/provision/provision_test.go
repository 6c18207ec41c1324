package provision

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// fakeHost is a Runner that answers with a function and records what it
// saw, displayed the way the real transports display commands.
type fakeHost struct {
	mu      sync.Mutex
	answer  func(argv []string, stdin string) (stdout, stderr string, code int)
	lines   []string // redacted display of every command
	stdins  []string // raw stdin of every command
	redacts [][]string
}

func (h *fakeHost) Run(ctx context.Context, c transport.Command) (transport.Result, error) {
	if err := c.Validate(); err != nil {
		return transport.Result{}, err
	}
	in := ""
	if c.Stdin != nil {
		b, _ := io.ReadAll(c.Stdin)
		in = string(b)
	}
	h.mu.Lock()
	h.lines = append(h.lines, c.Display())
	h.stdins = append(h.stdins, in)
	h.redacts = append(h.redacts, c.Redact)
	h.mu.Unlock()
	out, errs, code := "", "", 0
	if h.answer != nil {
		out, errs, code = h.answer(c.Argv, in)
	}
	res := transport.Result{Stdout: []byte(out), Stderr: []byte(errs), ExitCode: code}
	if code != 0 {
		red := transport.NewRedactor(c.Redact...)
		return res, &transport.ExitError{Host: "pve1", Argv: red.Argv(c.Argv), Code: code, Stderr: red.Bytes([]byte(errs))}
	}
	return res, nil
}

func (h *fakeHost) all() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.lines, "\n")
}

func recipeContainer(t *testing.T, install, update []model.Step) (*model.Container, *Values) {
	t.Helper()
	c, vals := testValues(t, "debian")
	c.Loaded = &model.Recipe{Name: "web", Install: install, Update: update}
	return c, vals
}

func noSleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

var secretSteps = []model.Step{
	{Kind: model.StepApt, Packages: []string{"redis-server"}},
	{Kind: model.StepFile, File: &model.FileStep{Path: "/etc/redis/lxcplan.conf", HasContent: true, Content: "requirepass ${params.password}\n", Owner: "redis"}},
	{Kind: model.StepRun, Run: &model.RunStep{Script: "echo configured", Env: map[string]string{"PW": "${params.password}"}}},
	{Kind: model.StepService, Service: &model.ServiceStep{Name: "redis-server", Enable: bptr(true), State: "restarted"}},
}

func TestRunEventsAndCommands(t *testing.T) {
	c, vals := recipeContainer(t, secretSteps, nil)
	h := &fakeHost{}
	var events []StepEvent
	p := &Provisioner{Runner: h, Sleep: noSleep}
	if err := p.Run(context.Background(), c, 100, vals, 0, func(e StepEvent) { events = append(events, e) }); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, string(e.Phase)+" "+e.Description)
	}
	want := []string{
		"start apt: install redis-server", "done apt: install redis-server",
		"start file: /etc/redis/lxcplan.conf (redis)", "done file: /etc/redis/lxcplan.conf (redis)",
		"start run: echo configured", "done run: echo configured",
		"start service: redis-server (enable, restarted)", "done service: redis-server (enable, restarted)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(h.lines) != 6 {
		t.Errorf("%d commands, want 6 (update, install, write, run, enable, restart):\n%s", len(h.lines), h.all())
	}
	if strings.Contains(h.all(), testSecret) {
		t.Errorf("secret in a displayed command:\n%s", h.all())
	}
	// The secret did reach the container, on stdin.
	if !strings.Contains(h.stdins[2], "requirepass "+testSecret) || !strings.Contains(h.stdins[3], transport.QuoteArg(testSecret)) {
		t.Errorf("stdin of write and run = %q / %q", h.stdins[2], h.stdins[3])
	}
	for i, r := range h.redacts {
		if !strings.Contains(strings.Join(r, "\n"), testSecret) {
			t.Errorf("command %d does not list the secret in Redact", i)
		}
	}

	// Reprovision from step 2: no apt, no file.
	h2 := &fakeHost{}
	p.Runner = h2
	events = nil
	if err := p.Run(context.Background(), c, 100, vals, 2, func(e StepEvent) { events = append(events, e) }); err != nil {
		t.Fatal(err)
	}
	if len(h2.lines) != 3 || events[0].Index != 2 {
		t.Errorf("from 2: commands %q, first event %+v", h2.lines, events[0])
	}
	if err := p.Run(context.Background(), c, 100, vals, 5, nil); err == nil {
		t.Error("from beyond the steps: want an error")
	}
}

func TestRunFailureNamesStepAndHidesSecret(t *testing.T) {
	c, vals := recipeContainer(t, secretSteps, nil)
	h := &fakeHost{answer: func(argv []string, stdin string) (string, string, int) {
		if strings.Contains(stdin, "echo configured") {
			// A script that prints the password in its error.
			return "", "config error: bad password " + testSecret + "\nfatal\n", 3
		}
		return "", "", 0
	}}
	var events []StepEvent
	p := &Provisioner{Runner: h, Sleep: noSleep}
	err := p.Run(context.Background(), c, 100, vals, 0, func(e StepEvent) { events = append(events, e) })
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *StepError", err)
	}
	if se.Index != 2 || se.Kind != model.StepRun || se.Container != "web" || !strings.Contains(se.Stderr, "fatal") {
		t.Errorf("StepError = %+v", se)
	}
	msg := err.Error()
	for _, want := range []string{"container web", "install step 2 (run)", "<run script>", "exit status 3", "bad password ***", "fatal"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if !errors.Is(err, transport.ErrCommandFailed) {
		t.Errorf("error does not wrap ErrCommandFailed: %v", err)
	}
	last := events[len(events)-1]
	if last.Phase != PhaseFailed || last.Index != 2 || last.Err == nil {
		t.Errorf("last event = %+v", last)
	}
	for _, e := range events {
		s := e.Description
		if e.Err != nil {
			s += e.Err.Error()
		}
		if strings.Contains(s, testSecret) {
			t.Errorf("secret in event %+v", e)
		}
	}
	if strings.Contains(msg, testSecret) || strings.Contains(se.Stderr, testSecret) {
		t.Errorf("secret in the error: %s", msg)
	}
}

func TestFailureShowsStdoutWhenStderrIsEmpty(t *testing.T) {
	c, vals := recipeContainer(t, []model.Step{{Kind: model.StepRun, Run: &model.RunStep{Script: "nginx -t"}}}, nil)
	h := &fakeHost{answer: func([]string, string) (string, string, int) {
		return "lots of noise\nnginx: configuration file /etc/nginx/nginx.conf test failed (pw " + testSecret + ")\n", "", 1
	}}
	err := (&Provisioner{Runner: h}).Run(context.Background(), c, 100, vals, 0, nil)
	var se *StepError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "exit status 1: lots of noise") || !strings.Contains(se.Stdout, "test failed (pw ***)") {
		t.Errorf("err = %v", err)
	}
	if !errors.Is(err, transport.ErrCommandFailed) {
		t.Errorf("class lost: %v", err)
	}
}

func TestRunTranslationErrorIsStepError(t *testing.T) {
	c, vals := recipeContainer(t, []model.Step{{Kind: model.StepFile, File: &model.FileStep{Path: "/x", HasContent: true, Content: "${params.nope}"}}}, nil)
	err := (&Provisioner{Runner: &fakeHost{}}).Run(context.Background(), c, 100, vals, 0, nil)
	var se *StepError
	if !errors.As(err, &se) || se.Index != 0 || !errors.Is(err, ErrUnknownReference) || !strings.Contains(err.Error(), "install step 0 (file): unknown reference ${params.nope}") {
		t.Errorf("err = %v", err)
	}
}

func TestRetryTransientPackageErrors(t *testing.T) {
	c, vals := recipeContainer(t, []model.Step{{Kind: model.StepApt, Packages: []string{"nginx"}}}, nil)
	fails := 2
	h := &fakeHost{answer: func(argv []string, _ string) (string, string, int) {
		if strings.Contains(strings.Join(argv, " "), " install ") && fails > 0 {
			fails--
			return "", "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (unattended-upgr)\n", 100
		}
		return "", "", 0
	}}
	var slept []time.Duration
	var retries int
	p := &Provisioner{Runner: h, Backoff: time.Second, Sleep: func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	err := p.Run(context.Background(), c, 100, vals, 0, func(e StepEvent) {
		if e.Phase == PhaseRetry {
			retries++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if retries != 2 || len(slept) != 2 || slept[0] != time.Second || slept[1] != 2*time.Second {
		t.Errorf("retries %d, slept %v", retries, slept)
	}

	// A permanent error is not retried; a transient one only so often.
	for _, tc := range []struct {
		stderr string
		runs   int
	}{
		{"E: Unable to locate package nginx\n", 1},
		{"E: Failed to fetch http://deb.debian.org/... Temporary failure resolving 'deb.debian.org'\n", 3},
	} {
		n := 0
		h := &fakeHost{answer: func(argv []string, _ string) (string, string, int) {
			if strings.Contains(strings.Join(argv, " "), " install ") {
				n++
				return "", tc.stderr, 100
			}
			return "", "", 0
		}}
		p := &Provisioner{Runner: h, Attempts: 3, Sleep: noSleep}
		if err := p.Run(context.Background(), c, 100, vals, 0, nil); err == nil || n != tc.runs {
			t.Errorf("%q: err %v after %d runs, want %d runs", tc.stderr, err, n, tc.runs)
		}
	}
}

type fakePusher struct {
	got []string
}

func (f *fakePusher) Push(ctx context.Context, vmid int, content io.Reader, size int64, dest string, mode os.FileMode, user, group string) error {
	b, _ := io.ReadAll(content)
	if int64(len(b)) != size {
		return errors.New("size mismatch")
	}
	f.got = append(f.got, dest+" "+mode.String()+" "+user+":"+group+" "+string(b))
	return nil
}

func TestCustomPusherGetsParentDir(t *testing.T) {
	c, vals := recipeContainer(t, []model.Step{
		{Kind: model.StepFile, File: &model.FileStep{Path: "/etc/app/conf.d/x.conf", HasContent: true, Content: "k=${params.user}\n", Mode: "0640", Owner: "app", Group: "app"}},
	}, nil)
	h := &fakeHost{}
	fp := &fakePusher{}
	if err := (&Provisioner{Runner: h, Pusher: fp}).Run(context.Background(), c, 100, vals, 0, nil); err != nil {
		t.Fatal(err)
	}
	if h.all() != "pct exec 100 -- mkdir -p -- /etc/app/conf.d" {
		t.Errorf("commands = %q", h.all())
	}
	if len(fp.got) != 1 || fp.got[0] != "/etc/app/conf.d/x.conf -rw-r----- app:app k=app\n" {
		t.Errorf("pushes = %q", fp.got)
	}
}

func TestRunUpdate(t *testing.T) {
	c, vals := recipeContainer(t, nil, []model.Step{
		{Kind: model.StepAptUpgrade, Packages: []string{"redis-server"}},
		{Kind: model.StepService, Service: &model.ServiceStep{Name: "redis-server", State: "restarted"}},
	})
	h := &fakeHost{}
	var events []StepEvent
	if err := (&Provisioner{Runner: h}).RunUpdate(context.Background(), c, 100, vals, func(e StepEvent) { events = append(events, e) }); err != nil {
		t.Fatal(err)
	}
	if len(h.lines) != 3 || !strings.Contains(h.lines[1], "--only-upgrade install redis-server") || !events[0].Update {
		t.Errorf("commands %q, events %+v", h.lines, events)
	}
}

func TestWaitForAddress(t *testing.T) {
	ctx := context.Background()
	// DHCP: the lease shows up on the second look.
	n := 0
	h := &fakeHost{answer: func(argv []string, _ string) (string, string, int) {
		n++
		if n == 1 {
			return `[{"name":"lo","inet":"127.0.0.1/8"},{"name":"eth0","hwaddr":"bc:24:11:00:00:01","inet6":"fe80::1/64"}]`, "", 0
		}
		return `[{"name":"lo","inet":"127.0.0.1/8"},{"name":"eth0","inet":"10.77.0.200/24"}]`, "", 0
	}}
	var waits []WaitEvent
	addr, err := WaitForAddress(ctx, h, "pve1", 100, "dhcp", 10*time.Second, func(e WaitEvent) { waits = append(waits, e) })
	if err != nil || addr != "10.77.0.200" || len(waits) != 1 {
		t.Errorf("dhcp: %q, %v, waits %+v", addr, err, waits)
	}
	if h.lines[0] != "pvesh get /nodes/pve1/lxc/100/interfaces --output-format json" {
		t.Errorf("dhcp command = %q", h.lines[0])
	}

	// Static: checked on the interface.
	h = &fakeHost{answer: func(argv []string, _ string) (string, string, int) {
		return "2: eth0    inet 10.20.0.50/24 brd 10.20.0.255 scope global eth0\\       valid_lft forever preferred_lft forever\n", "", 0
	}}
	addr, err = WaitForAddress(ctx, h, "pve1", 210, "10.20.0.50/24", time.Second, nil)
	if err != nil || addr != "10.20.0.50" || h.lines[0] != "pct exec 210 -- ip -o -4 addr show dev eth0" {
		t.Errorf("static: %q, %v, %q", addr, err, h.lines)
	}

	// Manual: nothing to wait for.
	if addr, err := WaitForAddress(ctx, h, "pve1", 210, "manual", time.Second, nil); addr != "" || err != nil {
		t.Errorf("manual: %q, %v", addr, err)
	}

	// Never: bounded, and says so.
	h = &fakeHost{answer: func([]string, string) (string, string, int) { return "", "", 0 }}
	_, err = WaitForAddress(ctx, h, "pve1", 210, "10.20.0.50/24", 50*time.Millisecond, nil)
	if !errors.Is(err, ErrNoAddress) {
		t.Errorf("timeout: err = %v", err)
	}
	if _, err := WaitForAddress(ctx, h, "pve1", 210, "not-an-ip", time.Second, nil); err == nil {
		t.Error("bad static address: want an error")
	}
	// A host-level failure is not waited out.
	h = &fakeHost{answer: func([]string, string) (string, string, int) { return "", "pvesh: boom", 255 }}
	if _, err := WaitForAddress(ctx, h, "pve1", 210, "dhcp", time.Minute, nil); err == nil || errors.Is(err, ErrNoAddress) {
		t.Errorf("pvesh failure: err = %v", err)
	}
}

func TestProbeAndWaitHealthy(t *testing.T) {
	ctx := context.Background()
	mk := func(h *model.Health) (*model.Container, *Values) {
		c, vals := testValues(t, "debian")
		c.Loaded = &model.Recipe{Name: "x", Health: h}
		return c, vals
	}
	// http: the status code decides.
	c, vals := mk(&model.Health{HTTP: &model.HTTPCheck{Port: 80, Path: "/healthz", Status: 200}, Interval: time.Millisecond, Timeout: time.Second})
	code := "503"
	h := &fakeHost{answer: func([]string, string) (string, string, int) { return code, "", 0 }}
	if err := Probe(ctx, h, c, 100, vals); !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "HTTP 503, want 200") {
		t.Errorf("503: err = %v", err)
	}
	code = "200"
	if err := Probe(ctx, h, c, 100, vals); err != nil {
		t.Errorf("200: err = %v", err)
	}

	// cmd: exit status decides; the secret in the command stays hidden.
	c, vals = mk(&model.Health{Cmd: "redis-cli -a '${params.password}' ping", Interval: time.Millisecond, Timeout: 200 * time.Millisecond})
	n := 0
	h = &fakeHost{answer: func(_ []string, stdin string) (string, string, int) {
		n++
		if n < 3 {
			return "", "NOAUTH " + testSecret, 1
		}
		return "PONG", "", 0
	}}
	var waits []WaitEvent
	if err := WaitHealthy(ctx, h, c, 100, vals, func(e WaitEvent) { waits = append(waits, e) }); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 2 || strings.Contains(waits[0].Message, testSecret) || !strings.Contains(h.stdins[0], testSecret) {
		t.Errorf("waits %+v", waits)
	}
	if strings.Contains(h.all(), testSecret) {
		t.Errorf("secret in a command: %s", h.all())
	}

	// Never healthy: bounded by the recipe's timeout.
	h = &fakeHost{answer: func([]string, string) (string, string, int) { return "", "connection refused", 1 }}
	c, vals = mk(&model.Health{TCP: 6379, Interval: 10 * time.Millisecond, Timeout: 50 * time.Millisecond})
	if err := WaitHealthy(ctx, h, c, 100, vals, nil); !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "not healthy within 50ms") {
		t.Errorf("tcp never: err = %v", err)
	}
	if !strings.HasPrefix(h.lines[0], "timeout 5 bash -c") {
		t.Errorf("tcp command = %q", h.lines[0])
	}

	// No probe: healthy once running.
	c, vals = mk(nil)
	if err := WaitHealthy(ctx, &fakeHost{}, c, 100, vals, nil); err != nil {
		t.Errorf("no probe: %v", err)
	}
}

// blockingHost answers every command only when its context ends.
type blockingHost struct{}

func (blockingHost) Run(ctx context.Context, c transport.Command) (transport.Result, error) {
	<-ctx.Done()
	return transport.Result{}, errors.Join(transport.ErrCancelled, ctx.Err())
}

func TestCancellationAndStepTimeout(t *testing.T) {
	c, vals := recipeContainer(t, []model.Step{{Kind: model.StepRun, Run: &model.RunStep{Script: "sleep 1000", Timeout: time.Millisecond}}}, nil)
	// The step's own timeout (plus grace) bounds the command.
	old := runGrace
	runGrace = 10 * time.Millisecond
	t.Cleanup(func() { runGrace = old })
	p := &Provisioner{Runner: blockingHost{}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.Run(ctx, c, 100, vals, 0, nil)
	if err == nil {
		t.Fatal("want an error")
	}
	if ctx.Err() != nil || !strings.Contains(err.Error(), "timeout (1ms)") || !errors.Is(err, transport.ErrCancelled) {
		t.Errorf("err = %v", err)
	}

	// A cancelled context stops before the next step.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	h := &fakeHost{}
	err = (&Provisioner{Runner: h}).Run(ctx, c, 100, vals, 0, nil)
	if !errors.Is(err, context.Canceled) || len(h.lines) != 0 {
		t.Errorf("cancelled: err %v, commands %q", err, h.lines)
	}
}
