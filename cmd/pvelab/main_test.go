package main

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
)

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"pvelab"}, exitUsage, "usage: pvelab"},
		{[]string{"pvelab", "frob"}, exitUsage, `unknown command "frob"`},
		{[]string{"pvelab", "up", "--nodes", "0"}, exitUsage, "--nodes 1..16"},
		{[]string{"pvelab", "up", "--pve", "7"}, exitUsage, "--pve 8|9"},
		{[]string{"pvelab", "up", "--bogus"}, exitUsage, "flag provided but not defined"},
		{[]string{"pvelab", "down", "extra"}, exitUsage, ""},
		{[]string{"/usr/bin/pvelab", "help"}, exitOK, "exit codes"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, nil, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errb.String())
			}
			if !strings.Contains(out.String()+errb.String(), tt.out) {
				t.Errorf("output lacks %q:\n%s%s", tt.out, out.String(), errb.String())
			}
		})
	}
}

// The `up --json` keys are an interface: exactly these, no more.
func TestUpJSONKeys(t *testing.T) {
	l := &labconf.Lab{Root: "/var/lib/pvelab", Bridge: "vmbr0", Subnet: "10.77.0.0/24", Gateway: "10.77.0.1",
		CommandLog: "/c", FaultsFile: "/f", Nodes: []labconf.Node{{Name: "pve1", Host: "127.0.0.1", Port: 10022, User: "root"}}}
	b, err := json.Marshal(describe(l))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := "bridge command_log faults_file gateway identity_file known_hosts nodes subnet template"
	if got := strings.Join(keys, " "); got != want {
		t.Fatalf("keys %s, want %s", got, want)
	}
	node := m["nodes"].([]any)[0].(map[string]any)
	if len(node) != 4 || node["port"].(float64) != 10022 || node["user"] != "root" {
		t.Fatalf("node %v", node)
	}
	if m["template"] != "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst" {
		t.Fatalf("template %v", m["template"])
	}
}

func TestToolDispatchWithoutLab(t *testing.T) {
	t.Setenv(labconf.EnvConfig, t.TempDir()+"/missing.json")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"/var/lib/pvelab/bin/pct", "list"}, nil, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "pct:") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}
