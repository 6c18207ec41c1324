package pvesim

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Fault is one fault-injection rule. The lab reads them as JSON lines from
// labconf's FaultsFile; tests add them with [Cluster.AddFault].
type Fault struct {
	// Tool limits the rule to one tool ("pct"); empty matches every tool.
	Tool string `json:"tool,omitempty"`
	// Match is a regexp matched against the arguments after the tool,
	// joined by single spaces ("start 100"); empty matches everything.
	Match string `json:"match,omitempty"`
	// Node limits the rule to one node; empty matches every node.
	Node string `json:"node,omitempty"`
	// N is the 1-based occurrence of a matching command the rule fires on;
	// 0 fires on every match. Times (default 1) extends it to the
	// following occurrences too.
	N     int `json:"n,omitempty"`
	Times int `json:"times,omitempty"`
	// Action is "fail" (default), "delay" (sleep DelayMS, then run the
	// command normally) or "drop" (ask the connection to be dropped).
	Action  string `json:"action,omitempty"`
	Stderr  string `json:"stderr,omitempty"`
	Exit    int    `json:"exit,omitempty"` // default 255 for fail and drop
	DelayMS int    `json:"delay_ms,omitempty"`
}

// faultSet holds rules and their occurrence counters. With a file path the
// rules are re-read on every command and the counters persist in a state
// file under flock, because each lab command is its own process.
type faultSet struct {
	path string

	mu     sync.Mutex
	rules  []Fault
	counts []int
}

func newFaultSet(path string) *faultSet { return &faultSet{path: path} }

// AddFault adds a rule to the cluster (memory clusters and tests).
func (c *Cluster) AddFault(f Fault) error {
	if _, err := regexp.Compile(f.Match); err != nil {
		return fmt.Errorf("add fault: %w", err)
	}
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.rules = append(c.faults.rules, f)
	c.faults.counts = append(c.faults.counts, 0)
	return nil
}

// FailOn makes the nth command of tool whose arguments match the regexp
// fail with stderr and exit code (style.md §6.1's FailOn).
func (c *Cluster) FailOn(tool, match string, n int, stderr string, code int) error {
	return c.AddFault(Fault{Tool: tool, Match: match, N: n, Stderr: stderr, Exit: code})
}

// ClearFaults removes every in-memory rule.
func (c *Cluster) ClearFaults() {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.rules, c.faults.counts = nil, nil
}

func (r *Fault) matches(node string, argv []string) bool {
	if r.Tool != "" && r.Tool != argv[0] {
		return false
	}
	if r.Node != "" && r.Node != node {
		return false
	}
	if r.Match == "" {
		return true
	}
	re, err := regexp.Compile(r.Match)
	return err == nil && re.MatchString(strings.Join(argv[1:], " "))
}

func (r *Fault) fires(count int) bool {
	if r.N == 0 {
		return true
	}
	times := r.Times
	if times <= 0 {
		times = 1
	}
	return count >= r.N && count < r.N+times
}

// match counts the command against every rule and returns the first rule
// that fires, or nil.
func (fs *faultSet) match(node string, argv []string) *Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var hit *Fault
	for i := range fs.rules {
		r := &fs.rules[i]
		if !r.matches(node, argv) {
			continue
		}
		fs.counts[i]++
		if hit == nil && r.fires(fs.counts[i]) {
			hit = r
		}
	}
	if fs.path != "" {
		if f := fs.matchFile(node, argv); hit == nil {
			hit = f
		}
	}
	return hit
}

// matchFile handles the rules file: rules are keyed by their JSON line so
// editing the file resets the counters of changed rules.
func (fs *faultSet) matchFile(node string, argv []string) *Fault {
	raw, err := os.ReadFile(fs.path)
	if err != nil {
		return nil
	}
	statePath := fs.path + ".state"
	lf, err := os.OpenFile(statePath+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return nil
	}
	counts := map[string]int{}
	if b, err := os.ReadFile(statePath); err == nil {
		json.Unmarshal(b, &counts)
	}
	var hit *Fault
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var r Fault
		if json.Unmarshal([]byte(line), &r) != nil || !r.matches(node, argv) {
			continue
		}
		counts[line]++
		if hit == nil && r.fires(counts[line]) {
			rr := r
			hit = &rr
		}
	}
	if b, err := json.Marshal(counts); err == nil {
		writeAtomic(statePath, b)
	}
	return hit
}

// apply performs the rule. done=false means the command runs normally
// afterwards (delays).
func (r *Fault) apply(ctx context.Context, c *Cluster, node string, stderr io.Writer) (done bool, code int) {
	exit := r.Exit
	if exit == 0 {
		exit = exitDie
	}
	switch r.Action {
	case "delay":
		t := time.NewTimer(time.Duration(r.DelayMS) * time.Millisecond)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return true, exitDie
		case <-t.C:
		}
		return false, 0
	case "drop":
		if c.OnDrop != nil {
			c.OnDrop(node)
		}
		return true, exit
	}
	if r.Stderr != "" {
		msg := r.Stderr
		if !strings.HasSuffix(msg, "\n") {
			msg += "\n"
		}
		io.WriteString(stderr, msg)
	}
	return true, exit
}

// LogEntry is one line of the JSON-lines command log.
type LogEntry struct {
	Time       time.Time `json:"time"` // RFC3339Nano
	Node       string    `json:"node"`
	Argv       []string  `json:"argv"`
	Exit       int       `json:"exit"`
	DurationMS int64     `json:"duration_ms"`
}

// commandLog keeps every invocation in memory and, with a path, appends
// it to a JSON-lines file (one write per line, O_APPEND, so concurrent lab
// processes do not interleave).
type commandLog struct {
	path    string
	mu      sync.Mutex
	entries []LogEntry
}

func (l *commandLog) add(e LogEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
	if l.path == "" {
		return
	}
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	os.MkdirAll(filepath.Dir(l.path), 0o755)
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	f.Write(append(b, '\n'))
	f.Close()
}

// Commands returns every command run so far, oldest first.
func (c *Cluster) Commands() []LogEntry {
	c.cmdlog.mu.Lock()
	defer c.cmdlog.mu.Unlock()
	return append([]LogEntry(nil), c.cmdlog.entries...)
}

// SetCommandLog makes the cluster also append the command log to path.
func (c *Cluster) SetCommandLog(path string) {
	c.cmdlog.mu.Lock()
	defer c.cmdlog.mu.Unlock()
	c.cmdlog.path = path
}

// writeAtomic writes data to path through a temp file and rename.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// CommandLines returns every command run so far as shell-quoted lines
// ("pct start 100"), oldest first, for command-sequence goldens.
func (c *Cluster) CommandLines() []string {
	var out []string
	for _, e := range c.Commands() {
		q := make([]string, len(e.Argv))
		for i, a := range e.Argv {
			q[i] = shellQuote(a)
		}
		out = append(out, strings.Join(q, " "))
	}
	return out
}
