package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// ProgressEvent is one step of an apply as the progress view shows it. The
// command maps the executor's events to it, so this package does not depend
// on the executor. Message must already be free of secrets; the view masks
// again with [ProgressOptions.Redact] as a last line of defence.
type ProgressEvent struct {
	Time      time.Time
	Container string
	Host      string
	VMID      int
	// Phase is the executor's phase word ("creating", "installing step 2/5").
	Phase   string
	Message string
	// Failed marks a failure of the container (shown in red); Done marks the
	// container's last event (its elapsed time stops).
	Failed bool
	Done   bool
}

// ProgressMode selects how progress is written.
type ProgressMode int

const (
	// ProgressLines writes one line per event: logs, CI, pipes.
	ProgressLines ProgressMode = iota
	// ProgressLive keeps one line per container and rewrites them in place
	// with ANSI cursor movement; only for a terminal.
	ProgressLive
	// ProgressJSON writes one JSON object per event (--log-format json).
	ProgressJSON
)

// DefaultRedrawInterval caps live redraws at ten per second: faster is
// flicker nobody can read, and each redraw rewrites every line.
const DefaultRedrawInterval = 100 * time.Millisecond

// ProgressOptions tune a Progress.
type ProgressOptions struct {
	Mode ProgressMode
	// Color paints failures red (and finished containers green in the live
	// view). The command sets it only for a terminal without NO_COLOR.
	Color bool
	// Redact masks secrets in every text written; nil writes text as is.
	Redact func(string) string
	// Now is the clock for elapsed times and redraw pacing (tests).
	Now func() time.Time
	// Interval is the least time between two live redraws
	// (0: DefaultRedrawInterval). The live view also redraws on this tick
	// so elapsed times advance between events.
	Interval time.Duration
	// Width truncates live lines to the terminal width (0: no limit), so a
	// long message never wraps and breaks the cursor arithmetic.
	Width int
	// Height bounds the live block to the terminal height (0: no limit);
	// rows that do not fit are counted in a last "… and N more" line.
	Height int
	// NoTicker turns off the background redraw (tests drive the clock).
	NoTicker bool
}

// Progress renders a stream of events. It is safe for concurrent use; call
// Close once the run is over to draw the final frame.
type Progress struct {
	w    io.Writer
	opts ProgressOptions

	mu       sync.Mutex
	rows     []*progressRow
	byName   map[string]*progressRow
	drawn    int // lines of the live block currently on screen
	lastDraw time.Time
	dirty    bool
	closed   bool
	stop     chan struct{}
	done     chan struct{}
	err      error
	partial  []byte // Write's incomplete last line
}

type progressRow struct {
	name, host string
	vmid       int
	phase, msg string
	start, end time.Time
	failed     bool
	finished   bool
}

// NewProgress returns a progress view writing to w.
func NewProgress(w io.Writer, opts ProgressOptions) *Progress {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultRedrawInterval
	}
	p := &Progress{w: w, opts: opts, byName: map[string]*progressRow{}}
	if opts.Mode == ProgressLive && !opts.NoTicker {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.tick()
	}
	return p
}

// tick redraws the live block while the run lasts, so elapsed times move
// even when no event arrives.
func (p *Progress) tick() {
	defer close(p.done)
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			if !p.closed && len(p.rows) > 0 {
				p.draw()
			}
			p.mu.Unlock()
		}
	}
}

// Event shows one event.
func (p *Progress) Event(ev ProgressEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = p.opts.Now()
	}
	ev.Phase = p.clean(ev.Phase)
	ev.Message = p.clean(ev.Message)
	ev.Container = p.clean(ev.Container)
	ev.Host = p.clean(ev.Host)
	switch p.opts.Mode {
	case ProgressJSON:
		p.writeJSON(ev)
	case ProgressLive:
		p.live(ev)
	default:
		p.write(p.paint(ProgressLine(ev), ev.Failed, false) + "\n")
	}
}

// Note prints a line of text that is not an event (a lock wait, "rolling
// back"): above the live block on a terminal, so the block stays intact; as
// a line otherwise; as a {"type":"note"} object in JSON mode.
func (p *Progress) Note(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.write(p.clean(text) + "\n")
		return
	}
	p.note(text)
}

func (p *Progress) note(text string) {
	text = p.clean(text)
	switch p.opts.Mode {
	case ProgressJSON:
		b, _ := json.Marshal(struct {
			Type    string    `json:"type"`
			Time    time.Time `json:"time"`
			Message string    `json:"message"`
		}{"note", p.opts.Now().UTC(), text})
		p.write(string(b) + "\n")
	case ProgressLive:
		p.clear()
		p.write(text + "\n")
		if len(p.rows) > 0 {
			p.draw()
		}
	default:
		p.write(text + "\n")
	}
}

// Write makes the view an io.Writer for other output of the run (a logger
// on the same terminal): each complete line becomes a [Progress.Note].
func (p *Progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		line := string(p.partial[:i])
		p.partial = p.partial[i+1:]
		if p.closed {
			p.write(p.clean(line) + "\n")
		} else {
			p.note(line)
		}
	}
	return len(b), p.err
}

// Close stops the live redraw and leaves the final frame on screen. Later
// events are ignored. It returns the first write error.
func (p *Progress) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return p.err
	}
	if len(p.partial) > 0 {
		p.note(string(p.partial))
		p.partial = nil
	}
	if p.opts.Mode == ProgressLive && len(p.rows) > 0 {
		p.draw()
	}
	p.closed = true
	p.mu.Unlock()
	if p.stop != nil {
		close(p.stop)
		<-p.done
	}
	return p.err
}

func (p *Progress) write(s string) {
	if p.err != nil {
		return
	}
	_, p.err = io.WriteString(p.w, s)
}

// clean masks secrets and removes what would break a line: newlines, tabs
// and control characters (a remote command's stderr may carry ANSI escapes
// of its own).
func (p *Progress) clean(s string) string {
	if p.opts.Redact != nil {
		s = p.opts.Redact(s)
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

func (p *Progress) paint(s string, failed, finished bool) string {
	switch {
	case !p.opts.Color:
		return s
	case failed:
		return "\x1b[31m" + s + "\x1b[0m"
	case finished:
		return "\x1b[32m" + s + "\x1b[0m"
	}
	return s
}

// ProgressLine is the one-line form of an event:
// "12:00:01 pve1 101 db  installing step 2/5: apt: install postgresql".
// Missing host, vmid or container read "-".
func ProgressLine(ev ProgressEvent) string {
	vmid := "-"
	if ev.VMID != 0 {
		vmid = strconv.Itoa(ev.VMID)
	}
	line := fmt.Sprintf("%s %s %s %s  %s", ev.Time.Format("15:04:05"), dash(ev.Host), vmid, dash(ev.Container), dash(ev.Phase))
	if ev.Message != "" {
		line += ": " + ev.Message
	}
	return line
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// progressJSON is one event in --log-format json; "type" tells it from
// the other JSON lines a run writes.
type progressJSON struct {
	Type      string    `json:"type"`
	Time      time.Time `json:"time"`
	Container string    `json:"container,omitempty"`
	Host      string    `json:"host,omitempty"`
	VMID      int       `json:"vmid,omitempty"`
	Phase     string    `json:"phase"`
	Message   string    `json:"message,omitempty"`
	Failed    bool      `json:"failed,omitempty"`
	Done      bool      `json:"done,omitempty"`
}

func (p *Progress) writeJSON(ev ProgressEvent) {
	b, err := json.Marshal(progressJSON{Type: "apply_event", Time: ev.Time.UTC(), Container: ev.Container, Host: ev.Host,
		VMID: ev.VMID, Phase: ev.Phase, Message: ev.Message, Failed: ev.Failed, Done: ev.Done})
	if err != nil {
		p.err = fmt.Errorf("progress: %w", err)
		return
	}
	p.write(string(b) + "\n")
}

// live updates the container's row, or, for an event of no container (the
// stack lock, a rollback note), prints it above the live block.
func (p *Progress) live(ev ProgressEvent) {
	if ev.Container == "" {
		p.clear()
		p.write(p.paint(ProgressLine(ev), ev.Failed, false) + "\n")
		p.draw()
		return
	}
	r := p.byName[ev.Container]
	if r == nil {
		r = &progressRow{name: ev.Container, start: ev.Time}
		if r.start.IsZero() {
			r.start = p.opts.Now()
		}
		p.byName[ev.Container] = r
		p.rows = append(p.rows, r)
	}
	if ev.Host != "" {
		r.host = ev.Host
	}
	if ev.VMID != 0 {
		r.vmid = ev.VMID
	}
	r.phase, r.msg = ev.Phase, ev.Message
	r.failed = r.failed || ev.Failed
	if ev.Done || ev.Failed {
		r.finished = true
		r.end = ev.Time
		if r.end.IsZero() {
			r.end = p.opts.Now()
		}
	} else if r.finished {
		// A finished container that reports again (a rollback) is running again.
		r.finished, r.end = false, time.Time{}
	}
	p.dirty = true
	if now := p.opts.Now(); now.Sub(p.lastDraw) >= p.opts.Interval {
		p.draw()
	}
}

// clear moves to the top of the live block and erases it.
func (p *Progress) clear() {
	if p.drawn > 0 {
		p.write(fmt.Sprintf("\x1b[%dA\r\x1b[J", p.drawn))
		p.drawn = 0
	}
}

// draw rewrites the live block in place: up to its first line, then each
// line cleared and written, then whatever is left of an older, longer
// block erased.
func (p *Progress) draw() {
	now := p.opts.Now()
	lines := p.frame(now)
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, l := range lines {
		b.WriteString("\r\x1b[2K")
		b.WriteString(l)
		b.WriteString("\n")
	}
	if len(lines) < p.drawn {
		b.WriteString("\x1b[J")
	}
	p.write(b.String())
	p.drawn = len(lines)
	p.lastDraw = now
	p.dirty = false
}

// frame is the live block at time now: one aligned line per container.
func (p *Progress) frame(now time.Time) []string {
	rows := p.rows
	more := 0
	if h := p.opts.Height; h > 1 && len(rows) > h-1 {
		more = len(rows) - (h - 2)
		rows = rows[:h-2]
	}
	var wn, wh, wv int
	for _, r := range p.rows {
		wn = max(wn, utf8.RuneCountInString(r.name))
		wh = max(wh, utf8.RuneCountInString(dash(r.host)))
		wv = max(wv, len(vmidText(r.vmid)))
	}
	out := make([]string, 0, len(rows)+1)
	for _, r := range rows {
		end := now
		if r.finished {
			end = r.end
		}
		text := r.phase
		if r.msg != "" {
			text += ": " + r.msg
		}
		l := fmt.Sprintf("%s  %s  %s  %6s  %s", pad(r.name, wn), pad(dash(r.host), wh), padLeft(vmidText(r.vmid), wv),
			Elapsed(end.Sub(r.start)), text)
		out = append(out, p.paint(truncate(l, p.opts.Width), r.failed, r.finished))
	}
	if more > 0 {
		out = append(out, fmt.Sprintf("… and %d more", more))
	}
	return out
}

func vmidText(v int) string {
	if v == 0 {
		return "-"
	}
	return strconv.Itoa(v)
}

func pad(s string, w int) string {
	if n := utf8.RuneCountInString(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

func padLeft(s string, w int) string {
	if n := utf8.RuneCountInString(s); n < w {
		return strings.Repeat(" ", w-n) + s
	}
	return s
}

// truncate cuts s to w runes (0: no limit), ending in "…" when cut.
func truncate(s string, w int) string {
	if w <= 0 || utf8.RuneCountInString(s) <= w {
		return s
	}
	r := []rune(s)
	return string(r[:w-1]) + "…"
}

// Elapsed formats a duration for progress and summaries: "0.8s", "42.0s"
// below a minute, then "3m07s", then "1h02m".
func Elapsed(d time.Duration) string {
	switch {
	case d < 0:
		return "0.0s"
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", float64(d/(100*time.Millisecond))/10)
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}
