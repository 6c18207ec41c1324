package exec_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/exec"
	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/secrets"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// sim is a pvesim memory cluster with one runner per node, every command
// sent as the SSH transport sends it (quoted into one command line), and
// every stream the run produces captured for the secret check.
type sim struct {
	c     *pvesim.Cluster
	hosts map[string]transport.Runner
	reg   *secrets.Registry

	mu      sync.Mutex
	events  []exec.Event
	streams bytes.Buffer
}

func newSim(t testing.TB, nodes ...string) *sim {
	t.Helper()
	c, err := pvesim.NewMemoryCluster(nodes...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &sim{c: c, hosts: map[string]transport.Runner{}, reg: secrets.NewRegistry()}
	for _, name := range nodes {
		n, _ := c.Node(name)
		s.hosts[name] = transport.Chain(nodeRunner(n), s.reg.Middleware(), transport.Trace(&lockedStreams{s}, name))
	}
	return s
}

// lockedStreams serialises writes of concurrent commands into s.streams.
type lockedStreams struct{ s *sim }

func (w *lockedStreams) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.streams.Write(p)
}

func nodeRunner(n *pvesim.Node) transport.Runner {
	h := n.Handler()
	return transport.RunFunc(func(ctx context.Context, c transport.Command) (transport.Result, error) {
		var out, errb bytes.Buffer
		code := h.Exec(ctx, transport.Quote(c.Argv), c.Stdin, &out, &errb)
		res := transport.Result{Stdout: out.Bytes(), Stderr: errb.Bytes(), ExitCode: code}
		if code != 0 {
			return res, &transport.ExitError{Host: n.Name, Argv: c.Argv, Code: code, Stderr: res.Stderr}
		}
		return res, nil
	})
}

// loadStack copies testdata/stack to a temp dir, applies the edits (old,
// new pairs on stack.yaml and app.yaml) and loads it.
func loadStack(t testing.TB, edits ...string) *model.Desired {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"stack.yaml", "app.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", "stack", f))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for i := 0; i+1 < len(edits); i += 2 {
			s = strings.ReplaceAll(s, edits[i], edits[i+1])
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := manifest.Options{Env: map[string]string{}, UserDefaultsFile: "-"}
	st, ds := manifest.LoadStackFile(filepath.Join(dir, "stack.yaml"), o)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	d, ds := manifest.Resolve(st, o)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	return d
}

func noSleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

func (s *sim) options(t testing.TB) exec.RunOptions {
	return exec.RunOptions{
		Options: exec.Options{
			JournalDir: t.TempDir(), Secrets: s.reg, Sleep: noSleep, Backoff: time.Millisecond,
			AddressTimeout: 5 * time.Second,
			Observer: func(e exec.Event) {
				s.mu.Lock()
				defer s.mu.Unlock()
				s.events = append(s.events, e)
				s.streams.WriteString(e.Container + " " + e.Phase + " " + e.Message + "\n")
				if e.Err != nil {
					s.streams.WriteString(e.Err.Error() + "\n")
				}
			},
		},
		LockTimeout: -1,
	}
}

func (s *sim) apply(t testing.TB, d *model.Desired, o exec.RunOptions) (*plan.Plan, *exec.Result, error) {
	t.Helper()
	p, res, err := exec.RunApply(context.Background(), d, s.hosts, o)
	if err != nil {
		s.mu.Lock()
		s.streams.WriteString(err.Error() + "\n")
		s.mu.Unlock()
	}
	return p, res, err
}

// mutating lists the logged commands from index from on that change
// something: everything but reads of pct, pvesh, pveam and ha-manager, and
// the stack lock's own bookkeeping.
func (s *sim) mutating(from int) []string {
	var out []string
	for _, e := range s.c.Commands()[from:] {
		if len(e.Argv) == 0 || isRead(e.Argv) {
			continue
		}
		out = append(out, strings.Join(e.Argv, " "))
	}
	return out
}

func isRead(argv []string) bool {
	tool := filepath.Base(argv[0])
	sub := ""
	if len(argv) > 1 {
		sub = argv[1]
	}
	switch tool {
	case "pct":
		switch sub {
		case "config", "list", "status", "listsnapshot", "pending":
			return true
		}
		return false
	case "pvesh":
		return sub == "get"
	case "pveam":
		return sub == "list" || sub == "available"
	case "ha-manager":
		return sub == "status" || sub == "config"
	case "pveversion", "pvesm":
		return true
	}
	// Shell commands: the lock (mkdir/rmdir/touch/stat under priv/lock,
	// holder files) and reads of configs and secrets.
	return true
}

// clusterFiles snapshots the cluster directory byte for byte, except the
// stack lock and its holder file, which exist only while a run holds them.
func (s *sim) clusterFiles(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(s.c.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.c.Dir, p)
		// The lock's bookkeeping (priv/lock, priv/lxcplan/_locks and their
		// parent) outlives a run by design; the stack's state does not.
		if strings.HasPrefix(rel, filepath.Join("priv", "lock")) || strings.Contains(rel, "_locks") || rel == filepath.Join("priv", "lxcplan") {
			return nil
		}
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// secretsOf reads the stack's secrets from the cluster: name → value.
func (s *sim) secretsOf(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(s.c.Dir, "priv", "lxcplan", "shop", "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(b)
	}
	return out
}
