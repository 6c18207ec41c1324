package lock

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lxcplan/lxcplan/engine/transport"
)

// fakeHost is a pmxcfs-like host that understands exactly the commands this
// package sends (the constant scripts are recognised by identity), with a
// manual clock and scripted failures.
type fakeHost struct {
	mu    sync.Mutex
	now   time.Time
	dirs  map[string]time.Time // directory → mtime
	files map[string][]byte
	log   [][]string
	// fail, if set, may fail a command before it runs (transport errors).
	fail func(argv []string) error
	// realClock makes the host clock follow time.Now (for races).
	realClock bool
}

func newFakeHost() *fakeHost {
	return &fakeHost{
		now:   time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		dirs:  map[string]time.Time{DefaultDir: {}},
		files: map[string][]byte{},
	}
}

func (h *fakeHost) clock() time.Time {
	if h.realClock {
		return time.Now()
	}
	return h.now
}

func (h *fakeHost) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

func (h *fakeHost) commands() [][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.log)
}

func exitErr(argv []string, code int, msg string) (transport.Result, error) {
	res := transport.Result{Stderr: []byte(msg), ExitCode: code}
	return res, &transport.ExitError{Host: "fake", Argv: argv, Code: code, Stderr: res.Stderr}
}

func (h *fakeHost) Run(ctx context.Context, c transport.Command) (transport.Result, error) {
	if err := ctx.Err(); err != nil {
		return transport.Result{}, fmt.Errorf("%w: %w", transport.ErrCancelled, err)
	}
	var stdin []byte
	if c.Stdin != nil {
		stdin, _ = io.ReadAll(c.Stdin)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	a := c.Argv
	h.log = append(h.log, slices.Clone(a))
	if h.fail != nil {
		if err := h.fail(a); err != nil {
			return transport.Result{}, err
		}
	}
	now := h.clock()
	switch {
	case a[0] == "mkdir" && len(a) == 2:
		if _, ok := h.dirs[a[1]]; ok {
			return exitErr(a, 1, "mkdir: cannot create directory '"+a[1]+"': File exists\n")
		}
		if _, ok := h.dirs[parent(a[1])]; !ok {
			return exitErr(a, 1, "mkdir: cannot create directory '"+a[1]+"': No such file or directory\n")
		}
		h.dirs[a[1]] = now
	case a[0] == "rmdir" && len(a) == 2:
		if _, ok := h.dirs[a[1]]; !ok {
			return exitErr(a, 1, "rmdir: failed to remove '"+a[1]+"': No such file or directory\n")
		}
		delete(h.dirs, a[1])
	case a[0] == "cat" && len(a) == 2:
		b, ok := h.files[a[1]]
		if !ok {
			return exitErr(a, 1, "cat: "+a[1]+": No such file or directory\n")
		}
		return transport.Result{Stdout: slices.Clone(b)}, nil
	case a[0] == "rm" && len(a) == 3 && a[1] == "-f":
		delete(h.files, a[2])
	case a[0] == "sh" && len(a) >= 4 && a[1] == "-c" && a[3] == "sh":
		return h.script(a, a[2], a[4:], stdin, now)
	default:
		return exitErr(a, 127, "sh: 1: "+a[0]+": not found\n")
	}
	return transport.Result{}, nil
}

func (h *fakeHost) script(argv []string, s string, args []string, stdin []byte, now time.Time) (transport.Result, error) {
	switch s {
	case writeHolderScript:
		h.dirs[args[0]] = now
		h.files[args[1]] = stdin
		return transport.Result{}, nil
	case inspectScript:
		m, ok := h.dirs[args[0]]
		if !ok {
			return exitErr(argv, 3, "")
		}
		var out bytes.Buffer
		fmt.Fprintf(&out, "%d %d\n", m.Unix(), now.Unix())
		out.Write(h.files[args[1]])
		return transport.Result{Stdout: out.Bytes()}, nil
	case refreshScript:
		if _, ok := h.dirs[args[0]]; !ok {
			return exitErr(argv, 3, "")
		}
		h.dirs[args[0]] = now
		b, ok := h.files[args[1]]
		if !ok {
			return exitErr(argv, 3, "")
		}
		return transport.Result{Stdout: slices.Clone(b)}, nil
	case stealScript:
		m, ok := h.dirs[args[0]]
		if !ok {
			return transport.Result{}, nil
		}
		if fmt.Sprint(m.Unix()) != args[2] {
			return exitErr(argv, 3, "")
		}
		delete(h.files, args[1])
		delete(h.dirs, args[0])
		return transport.Result{}, nil
	}
	return exitErr(argv, 2, "fake: unknown script\n")
}

func parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// stepSleeper lets a test decide when each Sleep returns: every call is
// announced on calls and waits for wake.
type stepSleeper struct {
	calls chan time.Duration
	wake  chan struct{}
}

func newStepSleeper() *stepSleeper {
	return &stepSleeper{calls: make(chan time.Duration), wake: make(chan struct{})}
}

func (s *stepSleeper) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case s.calls <- d:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
