package pvesim

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/transport/ssh/sshtest"
	"golang.org/x/crypto/ssh"
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
	key, err := os.ReadFile(srv.IdentityFile())
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ssh.Dial("tcp", srv.Addr(), &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(srv.HostKey())})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sh := func(cmd, stdin string) (string, string, int) {
		s, err := cl.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var o, e bytes.Buffer
		s.Stdout, s.Stderr, s.Stdin = &o, &e, strings.NewReader(stdin)
		code := 0
		if err := s.Run(cmd); err != nil {
			ee, ok := err.(*ssh.ExitError)
			if !ok {
				t.Fatalf("%s: %v", cmd, err)
			}
			code = ee.ExitStatus()
		}
		return o.String(), e.String(), code
	}
	if _, e, code := sh("pct create 100 "+tmpl+" --storage local-lvm --hostname bad_name", ""); code != 255 ||
		e != "400 Parameter verification failed.\nhostname: invalid format - value does not look like a valid DNS name\n\npct create <vmid> <ostemplate> [OPTIONS]\n" {
		t.Errorf("over ssh: %d %q", code, e)
	}
	if _, e, code := sh("pct create 100 "+tmpl+" --storage local-lvm --start", ""); code != 0 {
		t.Fatalf("create: %d %s", code, e)
	}
	if o, _, code := sh("pct exec 100 -- sh -c 'read x; echo got $x; exit 4'", "v\n"); code != 4 {
		t.Errorf("exec exit: %d %q", code, o)
	}
	// Upload with scp into the server's memory FS, then push it.
	if err := srv.FS().WriteFile("/tmp/app.conf", []byte("k=v\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, e, code := sh("pct push 100 /tmp/app.conf /etc/app.conf", ""); code != 0 || e != "" {
		t.Errorf("push: %d %q", code, e)
	}
	if b, _ := c.Memory().File(100, "/etc/app.conf"); string(b) != "k=v\n" {
		t.Errorf("pushed %q", b)
	}
	if o, _, _ := sh("cat /etc/pve/lxc/100.conf", ""); !strings.Contains(o, "hostname: CT100\n") {
		t.Errorf("cat conf: %q", o)
	}
}

var _ sshtest.Handler = (*SSHHandler)(nil)
