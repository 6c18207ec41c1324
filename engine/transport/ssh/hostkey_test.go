package ssh

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/lxcplan/lxcplan/engine/transport"
)

func newKey(t *testing.T) gossh.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKnownHostsLines: accept-new writes "[host]:port key", or "host key" on
// port 22, never hashed, and keeps an existing file's last line intact.
func TestKnownHostsLines(t *testing.T) {
	file := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(file, []byte("# no trailing newline"), 0o600)
	k1, k2 := newKey(t), newKey(t)
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}
	for _, c := range []struct {
		host string
		key  gossh.PublicKey
	}{{"pve1.example.org:22", k1}, {"10.0.0.5:2222", k2}} {
		res := &hostKeyCheck{}
		if err := hostKeyCallback(file, true, res)(c.host, remote, c.key); err != nil || !res.added {
			t.Fatalf("accept-new %s: %v (added=%v)", c.host, err, res.added)
		}
	}
	b, _ := os.ReadFile(file)
	want := "# no trailing newline\n" +
		"pve1.example.org " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k1))) + "\n" +
		"[10.0.0.5]:2222 " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k2))) + "\n"
	if string(b) != want {
		t.Errorf("known_hosts:\n%s\nwant:\n%s", b, want)
	}
	// Now known: accepted without a change; a different key is "changed".
	res := &hostKeyCheck{}
	if err := hostKeyCallback(file, false, res)("pve1.example.org:22", remote, k1); err != nil || res.added {
		t.Errorf("known key: %v", err)
	}
	err := hostKeyCallback(file, true, &hostKeyCheck{})("pve1.example.org:22", remote, k2)
	if !errors.Is(err, transport.ErrHostKeyChanged) || !strings.Contains(err.Error(), "changed") || !strings.Contains(err.Error(), "ssh-keygen -R pve1.example.org") {
		t.Errorf("changed: %v", err)
	}
	err = hostKeyCallback(file, false, &hostKeyCheck{})("new.example.org:22", remote, k1)
	if !errors.Is(err, transport.ErrHostKeyUnknown) || !strings.Contains(err.Error(), "ssh-keyscan -p 22 new.example.org >> "+file) {
		t.Errorf("unknown: %v", err)
	}
	// Algorithms follow the known key types, so an ECDSA-preferring server
	// shows the ed25519 key we can check.
	if got := hostKeyAlgorithms(file, "pve1.example.org:22"); len(got) != 1 || got[0] != gossh.KeyAlgoED25519 {
		t.Errorf("algorithms for a known host: %v", got)
	}
	if got := hostKeyAlgorithms(file, "other:22"); len(got) < 3 || got[0] != gossh.KeyAlgoED25519 {
		t.Errorf("algorithms for an unknown host: %v", got)
	}
}
