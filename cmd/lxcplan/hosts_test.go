package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/pvesim"
	"github.com/lxcplan/lxcplan/engine/transport/ssh/sshtest"
)

// simHost starts an in-process SSH server whose commands are answered by a
// simulated PVE node, and writes a stack pointing at it.
func simHost(t *testing.T) (srv *sshtest.Server, stack string) {
	t.Helper()
	c, err := pvesim.NewMemoryCluster("pve1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	n, _ := c.Node("pve1")
	srv = sshtest.Start(t, sshtest.WithHandler(n.Handler()))
	stack = filepath.Join(t.TempDir(), "stack.yaml")
	text := fmt.Sprintf(`apiVersion: lxcplan/v1
kind: Stack
name: tiny
hosts:
  pve1: {address: %s, port: %d, identity: %s}
containers:
  cache: {recipe: redis}
`, srv.Host(), srv.Port(), srv.IdentityFile())
	if err := os.WriteFile(stack, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv, stack
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"lxcplan"}, args...), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestHostsCheckHostKeys walks the host-key contract of design.md §10:
// unknown → refuse with the fingerprint; accept-new → record, then connect;
// changed → refuse, even with --accept-new-host-keys.
func TestHostsCheckHostKeys(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	srv, stack := simHost(t)

	// Trusted key: the host is usable and described.
	code, out, errOut := runCLI(t, "--known-hosts", srv.KnownHostsFile(), "hosts", "check", stack)
	if code != 0 {
		t.Fatalf("trusted host: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"pve1 (", ": ok", "node           pve1", "pve version", "local-lvm", "bridges"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	// Unknown host: refused, with the fingerprint and the fix.
	empty := filepath.Join(t.TempDir(), "known_hosts")
	code, out, errOut = runCLI(t, "--known-hosts", empty, "hosts", "check", stack)
	if code != 1 {
		t.Fatalf("unknown host: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "SHA256:") || !strings.Contains(out, "--accept-new-host-keys") {
		t.Errorf("unknown host: report should show the fingerprint and how to trust it:\n%s", out)
	}
	if _, err := os.Stat(empty); err == nil {
		if b, _ := os.ReadFile(empty); len(b) > 0 {
			t.Errorf("known_hosts written without --accept-new-host-keys: %q", b)
		}
	}

	// Accept new: recorded as [host]:port key, and the next run connects.
	code, out, errOut = runCLI(t, "--known-hosts", empty, "--accept-new-host-keys", "hosts", "check", stack)
	if code != 0 {
		t.Fatalf("accept-new: exit %d\n%s\n%s", code, out, errOut)
	}
	line, _ := os.ReadFile(empty)
	if !strings.HasPrefix(string(line), fmt.Sprintf("[%s]:%d ", srv.Host(), srv.Port())) {
		t.Errorf("known_hosts line = %q, want [host]:port key", line)
	}
	if code, out, errOut = runCLI(t, "--known-hosts", empty, "hosts", "check", stack); code != 0 {
		t.Fatalf("after accept-new: exit %d\n%s\n%s", code, out, errOut)
	}

	// Changed key: another server's key recorded for this address.
	other := sshtest.Start(t)
	otherKey, _ := os.ReadFile(other.KnownHostsFile())
	fields := strings.Fields(string(otherKey))
	changed := filepath.Join(t.TempDir(), "known_hosts")
	bad := fmt.Sprintf("[%s]:%d %s %s\n", srv.Host(), srv.Port(), fields[len(fields)-2], fields[len(fields)-1])
	if err := os.WriteFile(changed, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "--known-hosts", changed, "--accept-new-host-keys", "hosts", "check", stack)
	if code != 1 {
		t.Fatalf("changed key: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "changed") {
		t.Errorf("changed key: report should say the key changed:\n%s", out)
	}
	if after, _ := os.ReadFile(changed); string(after) != bad {
		t.Errorf("changed key: known_hosts was modified: %q", after)
	}
}

// simCluster is a two-node simulated cluster (pve1, pve2), each node behind
// its own in-process SSH server. It returns the stack's `hosts:` block for
// them and the known_hosts text that trusts both.
func simCluster(t *testing.T) (c *pvesim.Cluster, hosts, known string) {
	t.Helper()
	c, err := pvesim.NewMemoryCluster("pve1", "pve2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var hb, kb strings.Builder
	for _, name := range []string{"pve1", "pve2"} {
		n, _ := c.Node(name)
		srv := sshtest.Start(t, sshtest.WithHandler(n.Handler()))
		fmt.Fprintf(&hb, "  %s: {address: %s, port: %d, identity: %s}\n", name, srv.Host(), srv.Port(), srv.IdentityFile())
		b, err := os.ReadFile(srv.KnownHostsFile())
		if err != nil {
			t.Fatal(err)
		}
		kb.Write(b)
	}
	return c, hb.String(), kb.String()
}
