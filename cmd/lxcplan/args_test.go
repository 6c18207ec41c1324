package main

import (
	"io"
	"slices"
	"strings"
	"testing"
)

func TestInterspersed(t *testing.T) {
	app, _ := newApp(strings.NewReader(""), io.Discard, io.Discard)
	tests := []struct{ in, want string }{
		{"lxcplan plan s.yaml --format json", "lxcplan plan --format json s.yaml"},
		{"lxcplan --no-color plan s.yaml --detailed-exitcode --out p.json", "lxcplan --no-color plan --detailed-exitcode --out p.json s.yaml"},
		{"lxcplan -x config s.yaml --set db.memory=1 --explain", "lxcplan -x config --set db.memory=1 --explain s.yaml"},
		{"lxcplan validate a.yaml b.yaml", "lxcplan validate a.yaml b.yaml"},
		{"lxcplan recipes list --format json", "lxcplan recipes list --format json"},
		{"lxcplan hosts check s.yaml --format=json", "lxcplan hosts check --format=json s.yaml"},
		{"lxcplan nosuch --x y", "lxcplan nosuch --x y"},
		{"lxcplan graph s.yaml --format", "lxcplan graph --format s.yaml"},
		{"lxcplan", "lxcplan"},
	}
	for _, tt := range tests {
		got := strings.Join(interspersed(app, strings.Fields(tt.in)), " ")
		if got != tt.want {
			t.Errorf("interspersed(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Everything after "--" is the user's command, untouched.
	in := []string{"lxcplan", "config", "s.yaml", "--", "--explain"}
	if got := interspersed(app, in); !slices.Equal(got, in) {
		t.Errorf("after --: %q", got)
	}
}
