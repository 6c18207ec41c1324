package local

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/transport"
)

func TestRun(t *testing.T) {
	r := &Runner{Name: "here"}
	ctx := context.Background()
	tests := []struct {
		name   string
		cmd    transport.Command
		stdout string
		stderr string
		code   int
	}{
		{"argv is not shell-parsed", transport.Command{Argv: []string{"printf", "%s|", "a b", "$HOME", "`id`", ""}}, "a b|$HOME|`id`||", "", 0},
		{"stdin", transport.Command{Argv: []string{"cat"}, Stdin: strings.NewReader("in")}, "in", "", 0},
		{"exit code and stderr", transport.Command{Argv: []string{"sh", "-c", "echo oops >&2; exit 4"}}, "", "oops\n", 4},
		{"missing program", transport.Command{Argv: []string{"/nonexistent/lxcplan-nope"}}, "", "", 127},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.Run(ctx, tt.cmd)
			if res.ExitCode != tt.code || string(res.Stdout) != tt.stdout || (tt.stderr != "" && string(res.Stderr) != tt.stderr) {
				t.Errorf("got %+v, %v", res, err)
			}
			if tt.code == 0 && err != nil {
				t.Errorf("unexpected error %v", err)
			}
			if tt.code != 0 {
				var ee *transport.ExitError
				if !errors.As(err, &ee) || ee.Code != tt.code || ee.Host != "here" {
					t.Errorf("want ExitError code %d, got %v", tt.code, err)
				}
			}
		})
	}
	if _, err := r.Run(ctx, transport.Command{}); !errors.Is(err, transport.ErrInvalidCommand) {
		t.Errorf("empty argv: %v", err)
	}
}

func TestRedaction(t *testing.T) {
	const secret = "pa55word"
	_, err := (&Runner{}).Run(context.Background(), transport.Command{
		Argv:   []string{"sh", "-c", `echo "bad: $1" >&2; exit 1`, "sh", secret},
		Redact: []string{secret},
	})
	var ee *transport.ExitError
	if !errors.As(err, &ee) || strings.Contains(err.Error(), secret) || string(ee.Stderr) != "bad: ***\n" {
		t.Errorf("secret not redacted: %v / %q", err, ee.Stderr)
	}
}

// TestCancelKillsProcessGroup: a shell that started a background child is
// cancelled; both it and the child must be gone.
func TestCancelKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		// The child ignores nothing but outlives its parent unless the group is killed.
		_, err := (&Runner{}).Run(ctx, transport.Command{Argv: []string{"sh", "-c", `sleep 30 & echo $! > "$1"; wait`, "sh", pidFile}})
		errc <- err
	}()
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if pid == 0 {
		t.Fatal("child never started")
	}
	cancel()
	if err := <-errc; !errors.Is(err, transport.ErrCancelled) {
		t.Fatalf("want ErrCancelled, got %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		// Reaped or a zombie both mean it is gone.
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil || bytes.Contains(b, []byte(") Z ")) || syscall.Kill(pid, 0) != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background child %d survived the cancel", pid)
		}
	}
}
