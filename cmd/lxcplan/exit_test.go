package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExitCodes pins the exit-code contract of design.md §5.
func TestExitCodes(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	valid := write("valid.yaml", `apiVersion: lxcplan/v1
kind: Stack
name: tiny
hosts:
  pve1: {address: pve1.lan}
containers:
  cache:
    recipe: redis
`)
	invalid := write("invalid.yaml", `apiVersion: lxcplan/v1
kind: Stack
name: tiny
hosts:
  pve1: {address: pve1.lan}
containers:
  cache:
    recipe: redis
    resources: {memory: 8}
`)
	broken := write("broken.yaml", "apiVersion: [\n")

	tests := []struct {
		name       string
		args       []string
		want       int
		wantStderr string
	}{
		{"valid stack", []string{"validate", valid}, 0, ""},
		{"invalid stack", []string{"validate", invalid}, 65, "invalid.yaml:9:"},
		{"yaml syntax", []string{"validate", broken}, 65, "broken.yaml:"},
		{"missing file", []string{"validate", filepath.Join(dir, "nope.yaml")}, 65, "nope.yaml"},
		{"directory", []string{"validate", dir}, 65, ""},
		{"no args", []string{"validate"}, 64, "missing FILE"},
		{"unknown flag", []string{"validate", "--frobnicate", valid}, 64, "frobnicate"},
		{"bad log level", []string{"--log-level", "loud", "validate", valid}, 64, "log-level"},
		{"bad format", []string{"graph", "--format", "png", valid}, 64, "want dot or mermaid"},
		{"schema", []string{"schema", "stack"}, 0, ""},
		{"schema unknown", []string{"schema", "nope"}, 64, "unknown kind"},
		{"config", []string{"config", valid}, 0, ""},
		{"config invalid", []string{"config", invalid}, 65, "memory"},
		{"graph", []string{"graph", valid}, 0, ""},
		{"recipes list", []string{"recipes", "list"}, 0, ""},
		{"recipes show unknown", []string{"recipes", "show", "nope"}, 65, "unknown recipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			got := run(append([]string{"lxcplan"}, tt.args...), strings.NewReader(""), &out, &errOut)
			if got != tt.want {
				t.Fatalf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", got, tt.want, out.String(), errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.wantStderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.wantStderr, errOut.String())
			}
		})
	}
}
