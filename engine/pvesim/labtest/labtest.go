// Package labtest gives end-to-end tests a real pvelab lab: two nodes with
// real OpenSSH sshd and real LXC containers behind Proxmox-compatible
// commands.
//
// Every lab test of the repository must go through [Up]: there is one lab
// per machine (/var/lib/pvelab, one bridge, fixed ports), and `go test ./...`
// runs the test binaries of different packages in parallel, so Up holds an
// exclusive flock on [LockFile] until the test ends. The flock also orders
// tests of one binary (each Up opens the file anew), so it is not
// reentrant: do not call Up from a subtest of a test that holds the lab.
package labtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/transport"
)

// LockFile serialises lab tests across test processes.
const LockFile = "/run/lock/pvelab-e2e.lock"

// EnvVar must be "1" for lab tests to run: they change the machine's network
// (bridge, nftables, /etc/subuid) and need root.
const EnvVar = "PVELAB_E2E"

// Node is one lab node as `pvelab up --json` describes it.
type Node struct {
	Name string `json:"name"`
	Host string `json:"host"`
	Port int    `json:"port"`
	User string `json:"user"`
}

// Lab is a lab that is up for the running test. Its fields are the
// `pvelab up --json` document.
type Lab struct {
	Nodes        []Node `json:"nodes"`
	IdentityFile string `json:"identity_file"`
	KnownHosts   string `json:"known_hosts"`
	Bridge       string `json:"bridge"`
	Subnet       string `json:"subnet"`
	Gateway      string `json:"gateway"`
	Template     string `json:"template"` // volid, e.g. local:vztmpl/debian-12-...
	CommandLog   string `json:"command_log"`
	FaultsFile   string `json:"faults_file"`

	// Bin is the pvelab binary built for this test.
	Bin string `json:"-"`

	ctlDir string // OpenSSH ControlPath sockets, one per node
}

// Up brings the lab up for t and takes it down when t ends. It skips t
// unless PVELAB_E2E=1 and the test runs as root. It waits for other lab
// tests (of any package) to finish first.
func Up(t testing.TB) *Lab {
	t.Helper()
	requireLab(t)
	// Building takes long on a loaded machine and does not touch the lab:
	// it happens before waiting for the lock.
	start := time.Now()
	bin, err := buildPvelab(t)
	if err != nil {
		t.Fatalf("labtest: %v", err)
	}
	t.Logf("labtest: built pvelab in %s", time.Since(start).Round(time.Millisecond))
	Lock(t)
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, "up", "--nodes", "2", "--json")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start = time.Now()
	// Cleanup is registered before up runs: a half-made lab is taken down too.
	t.Cleanup(func() { down(t, bin) })
	if err := cmd.Run(); err != nil {
		t.Fatalf("labtest: pvelab up: %v\n%s", err, errOut.Bytes())
	}
	l := &Lab{Bin: bin}
	if err := json.Unmarshal(out.Bytes(), l); err != nil {
		t.Fatalf("labtest: pvelab up --json: %v\n%s", err, out.Bytes())
	}
	if len(l.Nodes) != 2 {
		t.Fatalf("labtest: pvelab up --json: %d nodes, want 2", len(l.Nodes))
	}
	t.Logf("labtest: lab up in %s", time.Since(start).Round(time.Millisecond))
	// Unix socket paths are short (108 bytes): not under t.TempDir().
	if l.ctlDir, err = os.MkdirTemp("", "labtest"); err != nil {
		t.Fatalf("labtest: %v", err)
	}
	// Runs before down (cleanups are LIFO): the masters go first.
	t.Cleanup(l.closeMasters)
	return l
}

// requireLab skips t unless PVELAB_E2E=1 and the test runs as root: lab
// tests change the machine's network.
func requireLab(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvVar) != "1" {
		t.Skipf("set %s=1 (as root) to run tests against the real lab; they change the machine's network", EnvVar)
	}
	if os.Geteuid() != 0 {
		t.Skip("lab tests need root")
	}
}

// Lock skips t like Up, then holds the lab lock ([LockFile]) until t ends,
// without bringing a lab up: for tests that drive lab.Up and lab.Down themselves (the lab
// package's own end-to-end test). It waits for other lab tests first.
func Lock(t testing.TB) {
	t.Helper()
	requireLab(t)
	start := time.Now()
	unlock, err := lockFile(t, LockFile)
	if err != nil {
		t.Fatalf("labtest: %v", err)
	}
	t.Cleanup(unlock)
	if d := time.Since(start); d > time.Second {
		t.Logf("labtest: waited %s for the lab", d.Round(time.Millisecond))
	}
}

// lockFile takes an exclusive flock on path, polling so a waiting test
// says why it waits and gives up before its deadline.
func lockFile(t testing.TB, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	deadline := time.Now().Add(30 * time.Minute)
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok {
			deadline = dl.Add(-2 * time.Minute)
		}
	}
	logged := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("flock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("flock %s: another lab test still holds the lab; gave up before the test deadline", path)
		}
		if !logged {
			t.Logf("labtest: waiting for %s (another lab test is running)", path)
			logged = true
		}
		time.Sleep(time.Second)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// buildPvelab builds cmd/pvelab of this module into a temp dir.
func buildPvelab(t testing.TB) (string, error) {
	mod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(mod))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside the module")
	}
	bin := filepath.Join(t.TempDir(), "pvelab")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/pvelab")
	cmd.Dir = filepath.Dir(gomod)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/pvelab: %w\n%s", err, b)
	}
	return bin, nil
}

func down(t testing.TB, bin string) {
	start := time.Now()
	if b, err := exec.Command(bin, "down").CombinedOutput(); err != nil {
		t.Errorf("labtest: pvelab down: %v\n%s", err, b)
		return
	}
	t.Logf("labtest: lab down in %s", time.Since(start).Round(time.Millisecond))
}

// Reset destroys every container and the cluster state, and empties the
// command log, keeping the network and the node sshds (much faster than
// down and up).
func (l *Lab) Reset(t testing.TB) {
	t.Helper()
	start := time.Now()
	if b, err := exec.Command(l.Bin, "reset").CombinedOutput(); err != nil {
		t.Fatalf("labtest: pvelab reset: %v\n%s", err, b)
	}
	t.Logf("labtest: lab reset in %s", time.Since(start).Round(time.Millisecond))
}

// Node returns the node named name; it fails t when there is none.
func (l *Lab) Node(t testing.TB, name string) Node {
	t.Helper()
	for _, n := range l.Nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("labtest: no lab node %q", name)
	return Node{}
}

// Result is the outcome of one command over SSH.
type Result struct {
	Stdout, Stderr string
	// Exit is the remote exit code; 255 is also what ssh returns when it
	// cannot connect, and -1 means ssh did not run at all.
	Exit int
}

// SSH runs argv on node over plain OpenSSH with the lab's identity and
// known_hosts (strict host key checking, no prompts). Each word of argv is
// quoted for the remote shell; pass "sh", "-c", SCRIPT to run a script.
// One OpenSSH master connection per node is shared by all calls.
func (l *Lab) SSH(node string, argv ...string) Result {
	var n *Node
	for i := range l.Nodes {
		if l.Nodes[i].Name == node {
			n = &l.Nodes[i]
		}
	}
	if n == nil {
		return Result{Stderr: fmt.Sprintf("labtest: no lab node %q", node), Exit: -1}
	}
	args := append(l.sshArgs(*n), "--", transport.Quote(argv))
	var o, e bytes.Buffer
	cmd := exec.Command("ssh", args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	res := Result{Stdout: o.String(), Stderr: e.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Exit = ee.ExitCode()
	default:
		res.Exit = -1
		res.Stderr += err.Error()
	}
	return res
}

// MustSSH is SSH that fails t unless the command exits 0; it returns stdout.
func (l *Lab) MustSSH(t testing.TB, node string, argv ...string) string {
	t.Helper()
	r := l.SSH(node, argv...)
	if r.Exit != 0 {
		t.Fatalf("%s: %s: exit %d\n%s%s", node, transport.Quote(argv), r.Exit, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

func (l *Lab) sshArgs(n Node) []string {
	user := n.User
	if user == "" {
		user = "root"
	}
	return []string{
		"-i", l.IdentityFile,
		"-o", "UserKnownHostsFile=" + l.KnownHosts,
		"-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes",
		"-o", "IdentitiesOnly=yes",
		// A fresh OpenSSH connection costs about 0.25 s here: share one.
		"-o", "ControlMaster=auto",
		"-o", "ControlPath=" + filepath.Join(l.ctlDir, n.Name),
		"-o", "ControlPersist=120",
		"-p", strconv.Itoa(n.Port),
		user + "@" + n.Host,
	}
}

// closeMasters stops the OpenSSH master connections this lab started.
func (l *Lab) closeMasters() {
	if l.ctlDir == "" {
		return
	}
	for _, n := range l.Nodes {
		sock := filepath.Join(l.ctlDir, n.Name)
		if _, err := os.Stat(sock); err != nil {
			continue
		}
		args := []string{"-o", "ControlPath=" + sock, "-O", "exit", n.Host}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		exec.CommandContext(ctx, "ssh", args...).Run()
		cancel()
	}
	os.RemoveAll(l.ctlDir)
}

// StackHosts is the hosts block of a stack file for the lab, one host per
// node keyed by the node name, indented to sit under `hosts:`.
func (l *Lab) StackHosts() string {
	return l.StackHostsAs(nil)
}

// StackHostsAs is StackHosts with the stack's host keys chosen by keys
// (node name → host key; nodes missing from keys keep their name): a
// stack's host key need not be the PVE node name.
func (l *Lab) StackHostsAs(keys map[string]string) string {
	var b strings.Builder
	for _, n := range l.Nodes {
		key := n.Name
		if k, ok := keys[n.Name]; ok {
			key = k
		}
		user := n.User
		if user == "" {
			user = "root"
		}
		fmt.Fprintf(&b, "  %s: {address: %q, port: %d, user: %s, identity: %q}\n", key, n.Host, n.Port, user, l.IdentityFile)
	}
	return b.String()
}

// CommandLogLen is the current size of the lab's command log, to read
// only what happens after it with CommandsSince.
func (l *Lab) CommandLogLen(t testing.TB) int64 {
	t.Helper()
	fi, err := os.Stat(l.CommandLog)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatalf("labtest: command log: %v", err)
	}
	return fi.Size()
}

// LogEntry is one line of the lab's JSON-lines command log: a PVE command
// (pct, pveam, pvesm, pvesh, ...) run on a node.
type LogEntry struct {
	Time       time.Time `json:"time"`
	Node       string    `json:"node"`
	Argv       []string  `json:"argv"`
	Exit       int       `json:"exit"`
	DurationMS int64     `json:"duration_ms"`
}

// CommandsSince returns the command log entries written after offset (a
// CommandLogLen value).
func (l *Lab) CommandsSince(t testing.TB, offset int64) []LogEntry {
	t.Helper()
	b, err := os.ReadFile(l.CommandLog)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("labtest: command log: %v", err)
	}
	if offset > int64(len(b)) {
		t.Fatalf("labtest: command log shrank below offset %d (reset in between?)", offset)
	}
	var out []LogEntry
	for _, line := range bytes.Split(b[offset:], []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e LogEntry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("labtest: command log line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}
