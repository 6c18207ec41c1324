package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
)

// TestEnv: `pvelab env` prints one export a line that a shell can eval,
// with the names plans/demo/stack.yaml interpolates.
func TestEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lab.json")
	l := &labconf.Lab{
		Root: "/var/lib/pvelab", Bridge: "vmbr0", Subnet: "10.77.0.0/24", Gateway: "10.77.0.1",
		CommandLog: "/var/lib/pvelab/commands.jsonl", FaultsFile: "/var/lib/pvelab/faults.jsonl",
		Nodes: []labconf.Node{
			{Name: "pve1", Host: "127.0.0.1", Port: 10022, User: "root"},
			{Name: "pve-2", Host: "127.0.0.1", Port: 10023, User: "root"},
		},
	}
	if err := l.Save(path); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"pvelab", "env", "--lab", path}, nil, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{
		"export LAB_PVE1_HOST=127.0.0.1\n",
		"export LAB_PVE1_PORT=10022\n",
		"export LAB_PVE_2_PORT=10023\n",
		"export LAB_IDENTITY=/var/lib/pvelab/id_ed25519\n",
		"export LAB_KNOWN_HOSTS=/var/lib/pvelab/known_hosts\n",
		"export LAB_GATEWAY=10.77.0.1\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("env lacks %q:\n%s", want, out.String())
		}
	}

	// No lab: a failure that says what to do.
	out.Reset()
	errb.Reset()
	code := run(context.Background(), []string{"pvelab", "env", "--lab", filepath.Join(dir, "none.json")}, nil, &out, &errb)
	if code != exitFailure || !strings.Contains(errb.String(), "pvelab up") {
		t.Errorf("no lab: exit %d, stderr %q", code, errb.String())
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/var/lib/x": "/var/lib/x",
		"":           "''",
		"a b":        "'a b'",
		"it's":       `'it'\''s'`,
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
