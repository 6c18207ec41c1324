package ssh

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/lxcplan/lxcplan/engine/transport"
)

// knownHostsMu serialises appends to known_hosts files within the process
// (accept-new with several hosts dialled at once).
var knownHostsMu sync.Mutex

// hostKeyCheck is the result of verifying one server's key.
type hostKeyCheck struct {
	key   gossh.PublicKey
	added bool  // accept-new appended it
	err   error // the classified rejection, if any
}

// hostKeyCallback verifies keys against file; with acceptNew an unknown host
// is trusted and recorded. A changed key is always rejected.
func hostKeyCallback(file string, acceptNew bool, res *hostKeyCheck) gossh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key gossh.PublicKey) error {
		res.key = key
		res.err = checkHostKey(file, acceptNew, hostname, remote, key, res)
		return res.err
	}
}

func checkHostKey(file string, acceptNew bool, hostname string, remote net.Addr, key gossh.PublicKey, res *hostKeyCheck) error {
	err := lookupKnownHost(file, hostname, remote, key)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		return fmt.Errorf("%w: host key of %s (%s %s) is revoked in %s:%d",
			transport.ErrHostKeyChanged, knownhosts.Normalize(hostname), key.Type(), gossh.FingerprintSHA256(key), re.Revoked.Filename, re.Revoked.Line)
	case errors.As(err, &ke) && len(ke.Want) > 0:
		return changedKeyError(file, hostname, key, ke.Want)
	case errors.As(err, &ke):
		if !acceptNew {
			return unknownKeyError(file, hostname, key)
		}
		knownHostsMu.Lock()
		defer knownHostsMu.Unlock()
		// Another dial may have recorded it meanwhile: check again under the lock.
		switch err := lookupKnownHost(file, hostname, remote, key); {
		case err == nil:
			return nil
		case errors.As(err, &ke) && len(ke.Want) > 0:
			return changedKeyError(file, hostname, key, ke.Want)
		case errors.As(err, &ke):
		default:
			return err
		}
		if err := appendKnownHost(file, hostname, key); err != nil {
			return fmt.Errorf("record new host key of %s in %s: %w", knownhosts.Normalize(hostname), file, err)
		}
		res.added = true
		return nil
	default:
		return err
	}
}

// lookupKnownHost checks key against file. A missing file knows no host.
func lookupKnownHost(file, hostname string, remote net.Addr, key gossh.PublicKey) error {
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return &knownhosts.KeyError{}
	}
	cb, err := knownhosts.New(file)
	if err != nil {
		return fmt.Errorf("read known hosts: %w", err)
	}
	return cb(hostname, remote, key)
}

func appendKnownHost(file, hostname string, key gossh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	old, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key) + "\n"
	if len(old) > 0 && old[len(old)-1] != '\n' {
		line = "\n" + line
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func unknownKeyError(file, hostname string, key gossh.PublicKey) error {
	host, port := splitHostPort(hostname)
	return fmt.Errorf("%w: host key of %s is not in %s; it presented %s %s; "+
		"if that fingerprint is right, trust it with --accept-new-host-keys or run: ssh-keyscan -p %d %s >> %s",
		transport.ErrHostKeyUnknown, knownhosts.Normalize(hostname), file, key.Type(), gossh.FingerprintSHA256(key),
		port, transport.QuoteArg(host), transport.QuoteArg(file))
}

func changedKeyError(file, hostname string, key gossh.PublicKey, want []knownhosts.KnownKey) error {
	w := want[0]
	norm := knownhosts.Normalize(hostname)
	return fmt.Errorf("%w: host key of %s changed: it now presents %s %s but %s:%d has %s %s; "+
		"this can mean someone is intercepting the connection, or the host was reinstalled; "+
		"verify the new key out of band, then remove the old entry (ssh-keygen -R %s -f %s)",
		transport.ErrHostKeyChanged, norm, key.Type(), gossh.FingerprintSHA256(key),
		w.Filename, w.Line, w.Key.Type(), gossh.FingerprintSHA256(w.Key),
		transport.QuoteArg(norm), transport.QuoteArg(file))
}

// hostKeyAlgorithms lists the algorithms of the keys known for the host, so
// the server presents a key we can check. Without this, a host known by its
// ed25519 key that prefers to offer ECDSA would look like a changed key.
// Unknown hosts get OpenSSH's preference (ed25519 first).
func hostKeyAlgorithms(file, hostname string) []string {
	_, probe, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	signer, err := gossh.NewSignerFromKey(probe)
	if err != nil {
		return nil
	}
	// A fresh key never matches, so the KeyError lists what the file knows.
	var ke *knownhosts.KeyError
	err = lookupKnownHost(file, hostname, &net.TCPAddr{}, signer.PublicKey())
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		return []string{
			gossh.KeyAlgoED25519, gossh.KeyAlgoECDSA256, gossh.KeyAlgoECDSA384, gossh.KeyAlgoECDSA521,
			gossh.KeyAlgoRSASHA512, gossh.KeyAlgoRSASHA256,
		}
	}
	var algos []string
	add := func(a ...string) {
		for _, x := range a {
			seen := false
			for _, y := range algos {
				seen = seen || x == y
			}
			if !seen {
				algos = append(algos, x)
			}
		}
	}
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case gossh.KeyAlgoRSA:
			add(gossh.KeyAlgoRSASHA512, gossh.KeyAlgoRSASHA256)
		default:
			add(t)
		}
	}
	return algos
}

func splitHostPort(hostport string) (string, int) {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport, 22
	}
	n, _ := strconv.Atoi(p)
	return h, n
}
