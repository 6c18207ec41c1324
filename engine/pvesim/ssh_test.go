package pvesim

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/transport"
	"github.com/lxcplan/lxcplan/engine/transport/ssh"
	"github.com/lxcplan/lxcplan/engine/transport/ssh/sshtest"
)

// TestOverSSH drives a memory node through the in-process SSH server: the
// handler interprets command lines and scp uploads reach pct push.
func TestOverSSH(t *testing.T) {
	c := testCluster(t)
	withTemplate(t, c, "pve")
	srv := sshtest.Start(t, sshtest.WithHandler(mustNode(t, c, "pve").Handler()))
	c.HostFiles = func(p string) ([]byte, os.FileMode, bool) {
		f, ok := srv.FS().ReadFile(p)
		return f.Data, f.Mode, ok
	}
	cl, err := ssh.Dial(context.Background(), ssh.Config{Name: "pve", Address: srv.Addr(), IdentityFile: srv.IdentityFile(),
		KnownHostsFile: srv.KnownHostsFile(), SSHConfigFile: "none", KeepAlive: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// sh runs argv through the product's SSH transport, which quotes it into
	// the command line the node's handler interprets.
	sh := func(stdin string, argv ...string) (string, string, int) {
		cmd := transport.Command{Argv: argv}
		if stdin != "" {
			cmd.Stdin = strings.NewReader(stdin)
		}
		res, err := cl.Run(context.Background(), cmd)
		if err != nil && !errors.Is(err, transport.ErrCommandFailed) {
			t.Fatalf("%q: %v", argv, err)
		}
		return string(res.Stdout), string(res.Stderr), res.ExitCode
	}
	if _, e, code := sh("", "pct", "create", "100", tmpl, "--storage", "local-lvm", "--hostname", "bad_name"); code != 255 ||
		e != "400 Parameter verification failed.\nhostname: invalid format - value does not look like a valid DNS name\n\npct create <vmid> <ostemplate> [OPTIONS]\n" {
		t.Errorf("over ssh: %d %q", code, e)
	}
	if _, e, code := sh("", "pct", "create", "100", tmpl, "--storage", "local-lvm", "--start"); code != 0 {
		t.Fatalf("create: %d %s", code, e)
	}
	if o, _, code := sh("v\n", "pct", "exec", "100", "--", "sh", "-c", "read x; echo got $x; exit 4"); code != 4 {
		t.Errorf("exec exit: %d %q", code, o)
	}
	// Upload with scp into the server's memory FS, then push it.
	if err := srv.FS().WriteFile("/tmp/app.conf", []byte("k=v\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, e, code := sh("", "pct", "push", "100", "/tmp/app.conf", "/etc/app.conf"); code != 0 || e != "" {
		t.Errorf("push: %d %q", code, e)
	}
	if b, _ := c.Memory().File(100, "/etc/app.conf"); string(b) != "k=v\n" {
		t.Errorf("pushed %q", b)
	}
	if o, _, _ := sh("", "cat", "/etc/pve/lxc/100.conf"); !strings.Contains(o, "hostname: CT100\n") {
		t.Errorf("cat conf: %q", o)
	}
}

var _ sshtest.Handler = (*SSHHandler)(nil)
