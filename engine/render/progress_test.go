package render_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lxcplan/lxcplan/engine/render"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable clock, safe for the view's lock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// progressRun is a small apply: three containers, one failure, a rollback
// note with no container, a secret in a message.
func progressRun() []render.ProgressEvent {
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	return []render.ProgressEvent{
		{Time: at(0), Phase: "lock", Message: "stack shop locked"},
		{Time: at(0.2), Container: "db", Host: "pve1", Phase: "queued"},
		{Time: at(0.3), Container: "cache", Host: "pve2", Phase: "queued"},
		{Time: at(1), Container: "db", Host: "pve1", VMID: 101, Phase: "creating", Message: "pct create"},
		{Time: at(1.5), Container: "cache", Host: "pve2", VMID: 102, Phase: "creating", Message: "pct create"},
		{Time: at(3), Container: "db", Host: "pve1", VMID: 101, Phase: "installing step 2/5", Message: "apt: install postgresql"},
		{Time: at(4), Container: "cache", Host: "pve2", VMID: 102, Phase: "installing step 1/2",
			Message: "file: /etc/redis.conf with hunter2-secret\nsecond line"},
		{Time: at(9), Container: "cache", Host: "pve2", VMID: 102, Phase: "failed", Message: "step 1/2: exit status 1", Failed: true},
		{Time: at(9.5), Container: "web", Host: "pve1", Phase: "skipped", Message: "a dependency failed", Done: true},
		{Time: at(12), Container: "db", Host: "pve1", VMID: 101, Phase: "ready", Done: true},
	}
}

func redactHunter(s string) string { return strings.ReplaceAll(s, "hunter2-secret", "***") }

func TestProgressLinesGolden(t *testing.T) {
	var buf bytes.Buffer
	p := render.NewProgress(&buf, render.ProgressOptions{Mode: render.ProgressLines, Redact: redactHunter})
	for _, ev := range progressRun() {
		p.Event(ev)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	configGolden(t, "progress_lines.golden", buf.Bytes())
	if strings.Contains(buf.String(), "hunter2") || strings.Contains(buf.String(), "\x1b[") {
		t.Errorf("secret or colour in plain lines:\n%s", buf.String())
	}
	// The format the issue shows.
	want := "12:00:03 pve1 101 db  installing step 2/5: apt: install postgresql\n"
	if !strings.Contains(buf.String(), want) {
		t.Errorf("lines lack %q", want)
	}
}

func TestProgressLinesColor(t *testing.T) {
	var buf bytes.Buffer
	p := render.NewProgress(&buf, render.ProgressOptions{Mode: render.ProgressLines, Color: true})
	p.Event(render.ProgressEvent{Time: t0, Container: "db", Phase: "ready", Done: true})
	p.Event(render.ProgressEvent{Time: t0, Container: "db", Phase: "failed", Failed: true})
	p.Close()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if strings.Contains(lines[0], "\x1b[") || !strings.HasPrefix(lines[1], "\x1b[31m") {
		t.Errorf("only failures are red in line mode: %q", lines)
	}
}

func TestProgressJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	p := render.NewProgress(&buf, render.ProgressOptions{Mode: render.ProgressJSON, Redact: redactHunter, Color: true})
	for _, ev := range progressRun() {
		p.Event(ev)
	}
	p.Close()
	configGolden(t, "progress_json.golden", buf.Bytes())
	for i, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i, err, l)
		}
		if m["type"] != "apply_event" || m["phase"] == nil || m["time"] == nil {
			t.Errorf("line %d: %v", i, m)
		}
	}
	if strings.Contains(buf.String(), "hunter2") || strings.Contains(buf.String(), "\x1b[") {
		t.Error("secret or colour in JSON lines")
	}
}

// screen is a tiny terminal: it understands exactly the controls the live
// view may send (cursor up, carriage return, erase line, erase below, SGR
// colours) and fails the test on anything else.
type screen struct {
	t     *testing.T
	lines []string
	row   int
	col   int
}

func (s *screen) Write(p []byte) (int, error) {
	str := string(p)
	for i := 0; i < len(str); {
		c := str[i]
		switch {
		case c == '\x1b':
			if i+1 >= len(str) || str[i+1] != '[' {
				s.t.Fatalf("bare escape at %d: %q", i, str)
			}
			j := i + 2
			for j < len(str) && (str[j] >= '0' && str[j] <= '9' || str[j] == ';') {
				j++
			}
			if j >= len(str) {
				s.t.Fatalf("unterminated escape: %q", str[i:])
			}
			arg, cmd := str[i+2:j], str[j]
			n, _ := strconv.Atoi(arg)
			switch cmd {
			case 'A':
				if n > s.row {
					s.t.Fatalf("cursor up %d from row %d: above the first line", n, s.row)
				}
				s.row -= n
			case 'K':
				if arg != "2" {
					s.t.Fatalf("unexpected erase %q", arg)
				}
				s.grow()
				s.lines[s.row] = ""
			case 'J':
				s.grow()
				s.lines[s.row] = s.lines[s.row][:min(len(s.lines[s.row]), s.col)]
				s.lines = s.lines[:s.row+1]
			case 'm':
				// colour: no effect on the text
			default:
				s.t.Fatalf("unexpected control %q", str[i:j+1])
			}
			i = j + 1
		case c == '\r':
			s.col = 0
			i++
		case c == '\n':
			s.row++
			s.col = 0
			s.grow()
			i++
		default:
			s.grow()
			l := []rune(s.lines[s.row])
			for len(l) < s.col {
				l = append(l, ' ')
			}
			r, size := utf8.DecodeRuneInString(str[i:])
			if s.col < len(l) {
				l[s.col] = r
			} else {
				l = append(l, r)
			}
			s.lines[s.row] = string(l)
			s.col++
			i += size
		}
	}
	return len(p), nil
}

func (s *screen) grow() {
	for len(s.lines) <= s.row {
		s.lines = append(s.lines, "")
	}
}

func (s *screen) String() string { return strings.Join(s.lines, "\n") }

func TestProgressLiveFinalFrame(t *testing.T) {
	clk := &fakeClock{t: t0}
	scr := &screen{t: t}
	var raw bytes.Buffer
	p := render.NewProgress(teeWriter{scr, &raw}, render.ProgressOptions{
		Mode: render.ProgressLive, Color: true, Redact: redactHunter, Now: clk.Now, NoTicker: true, Width: 80,
	})
	for _, ev := range progressRun() {
		clk.Set(ev.Time)
		p.Event(ev)
	}
	clk.Set(t0.Add(13 * time.Second))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	configGolden(t, "progress_live.golden", []byte(scr.String()))
	if strings.Contains(raw.String(), "hunter2") {
		t.Error("secret on the terminal")
	}
	// The failed row is painted red, the finished one green.
	if !strings.Contains(raw.String(), "\x1b[31mcache") || !strings.Contains(raw.String(), "\x1b[32mdb") {
		t.Errorf("colours missing: %q", raw.String())
	}
	// Redraws are paced: ten events in 12 s of fake time with a 100 ms
	// interval draw at most once per event plus the final frame.
	if n := strings.Count(raw.String(), "\x1b[2K"); n > 4*(len(progressRun())+1) {
		t.Errorf("%d line rewrites", n)
	}
}

func TestProgressLiveThrottle(t *testing.T) {
	clk := &fakeClock{t: t0}
	var raw bytes.Buffer
	p := render.NewProgress(&raw, render.ProgressOptions{Mode: render.ProgressLive, Now: clk.Now, NoTicker: true})
	// 100 events within 50 ms: one draw for the first, none for the rest.
	for i := 0; i < 100; i++ {
		clk.Set(t0.Add(time.Duration(i) * 500 * time.Microsecond))
		p.Event(render.ProgressEvent{Time: clk.Now(), Container: "db", Phase: "installing step " + strconv.Itoa(i)})
	}
	if n := strings.Count(raw.String(), "\x1b[2K"); n != 1 {
		t.Errorf("%d redraws for a burst within one interval, want 1", n)
	}
	p.Close()
	scr := &screen{t: t}
	scr.Write(raw.Bytes())
	if !strings.Contains(scr.String(), "installing step 99") {
		t.Errorf("final frame lacks the last event:\n%s", scr.String())
	}
}

func TestProgressLiveHeightAndWidth(t *testing.T) {
	clk := &fakeClock{t: t0}
	scr := &screen{t: t}
	p := render.NewProgress(scr, render.ProgressOptions{Mode: render.ProgressLive, Now: clk.Now, NoTicker: true, Height: 4, Width: 30})
	for i := 0; i < 6; i++ {
		p.Event(render.ProgressEvent{Time: t0, Container: "ct" + strconv.Itoa(i), VMID: 100 + i, Phase: "installing a very long step name that wraps"})
	}
	p.Close()
	got := strings.Split(strings.TrimSuffix(scr.String(), "\n"), "\n")
	if len(got) != 3 || got[2] != "… and 4 more" {
		t.Errorf("frame:\n%s", scr.String())
	}
	for _, l := range got {
		if n := len([]rune(l)); n > 30 {
			t.Errorf("line of %d runes: %q", n, l)
		}
	}
}

// TestProgressLiveTicker checks the background redraw runs and stops.
func TestProgressLiveTicker(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	})
	p := render.NewProgress(w, render.ProgressOptions{Mode: render.ProgressLive, Interval: time.Millisecond})
	p.Event(render.ProgressEvent{Container: "db", Phase: "creating"})
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := strings.Count(buf.String(), "\x1b[2K")
		mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	n := strings.Count(buf.String(), "\x1b[2K")
	mu.Unlock()
	if n < 3 {
		t.Errorf("ticker did not redraw: %d draws", n)
	}
	p.Event(render.ProgressEvent{Container: "db", Phase: "late"})
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(buf.String(), "late") {
		t.Error("event after Close was drawn")
	}
}

func TestElapsed(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0.0s"},
		{0, "0.0s"},
		{850 * time.Millisecond, "0.8s"},
		{42 * time.Second, "42.0s"},
		{3*time.Minute + 7*time.Second, "3m07s"},
		{time.Hour + 2*time.Minute + 5*time.Second, "1h02m"},
	}
	for _, tt := range tests {
		if got := render.Elapsed(tt.d); got != tt.want {
			t.Errorf("Elapsed(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

type teeWriter struct {
	a, b interface{ Write([]byte) (int, error) }
}

func (t teeWriter) Write(p []byte) (int, error) {
	t.a.Write(p)
	return t.b.Write(p)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// FuzzProgressEvent feeds arbitrary text through every mode: the live
// view's cursor arithmetic must hold (the fake terminal fails on any
// control it does not expect), and nothing panics.
func FuzzProgressEvent(f *testing.F) {
	f.Add("db", "pve1", "installing", "step\n2\x1b[31m", 101)
	f.Add("", "", "", "", 0)
	f.Add("ünïcode", "h", "p\r\t", "m\x00", -5)
	f.Fuzz(func(t *testing.T, name, host, phase, msg string, vmid int) {
		ev := render.ProgressEvent{Time: t0, Container: name, Host: host, Phase: phase, Message: msg, VMID: vmid}
		for _, mode := range []render.ProgressMode{render.ProgressLines, render.ProgressJSON, render.ProgressLive} {
			scr := &screen{t: t}
			p := render.NewProgress(scr, render.ProgressOptions{Mode: mode, NoTicker: true, Width: 40, Color: true})
			p.Event(ev)
			p.Event(ev)
			p.Close()
			if mode != render.ProgressJSON && strings.Count(scr.String(), "\n") > 2 {
				t.Errorf("mode %d: one event took several lines: %q", mode, scr.String())
			}
		}
	})
}

// TestProgressNotes: other output of the run goes above the live block,
// which stays whole; in JSON mode notes are objects of their own type.
func TestProgressNotes(t *testing.T) {
	clk := &fakeClock{t: t0}
	scr := &screen{t: t}
	p := render.NewProgress(scr, render.ProgressOptions{Mode: render.ProgressLive, Now: clk.Now, NoTicker: true, Redact: redactHunter})
	p.Event(render.ProgressEvent{Time: t0, Container: "db", Host: "pve1", VMID: 101, Phase: "creating"})
	p.Event(render.ProgressEvent{Time: t0, Container: "web", Host: "pve1", VMID: 103, Phase: "queued"})
	p.Note("stack shop is locked by alice; waiting")
	clk.Set(t0.Add(2 * time.Second))
	// A logger writes in pieces; only whole lines are shown.
	p.Write([]byte("12:00:02 WRN slow host "))
	p.Write([]byte("pve1 hunter2-secret\npartial"))
	p.Event(render.ProgressEvent{Time: clk.Now(), Container: "db", Host: "pve1", VMID: 101, Phase: "ready", Done: true})
	p.Close()
	want := "stack shop is locked by alice; waiting\n" +
		"12:00:02 WRN slow host pve1 ***\n" +
		"partial\n" + // flushed by Close, still above the block
		"db   pve1  101    2.0s  ready\n" +
		"web  pve1  103    2.0s  queued\n"
	if got := scr.String(); got != want {
		t.Errorf("screen:\n%s\nwant:\n%s", got, want)
	}

	var buf bytes.Buffer
	p = render.NewProgress(&buf, render.ProgressOptions{Mode: render.ProgressJSON, Now: clk.Now})
	p.Note("waiting for the lock")
	p.Close()
	if got := buf.String(); got != `{"type":"note","time":"2026-11-26T12:00:02Z","message":"waiting for the lock"}`+"\n" {
		t.Errorf("json note: %s", got)
	}
}

// BenchmarkProgressLiveDraw measures one live redraw of a 30-container
// block (the benchmark stack), forced on every event.
func BenchmarkProgressLiveDraw(b *testing.B) {
	clk := &fakeClock{t: t0}
	p := render.NewProgress(io.Discard, render.ProgressOptions{Mode: render.ProgressLive, Now: clk.Now, NoTicker: true,
		Interval: time.Nanosecond, Color: true, Width: 120})
	for i := 0; i < 30; i++ {
		p.Event(render.ProgressEvent{Time: t0, Container: "ct" + strconv.Itoa(i), Host: "pve" + strconv.Itoa(i%3), VMID: 100 + i, Phase: "queued"})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clk.Set(t0.Add(time.Duration(i) * time.Millisecond))
		p.Event(render.ProgressEvent{Time: clk.Now(), Container: "ct" + strconv.Itoa(i%30), Phase: "installing step 2/5", Message: "apt: install postgresql"})
	}
}
