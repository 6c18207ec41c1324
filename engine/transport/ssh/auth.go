package ssh

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/lxcplan/lxcplan/engine/transport"
)

// credentials are the signers offered to one endpoint, and the agent
// connection to close after the handshake.
type credentials struct {
	signers []gossh.Signer
	agent   net.Conn
	sources []string // for messages: "agent", file paths
}

func (c *credentials) close() {
	if c.agent != nil {
		c.agent.Close()
	}
}

// loadCredentials collects identity-file keys and ssh-agent keys. An
// encrypted identity file is an error unless the agent holds its key: we
// never prompt for passphrases.
func loadCredentials(e endpoint) (*credentials, error) {
	cr := &credentials{}
	var agentKeys []*agent.Key
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if conn, err := net.Dial("unix", sock); err == nil {
			ag := agent.NewClient(conn)
			if signers, err := ag.Signers(); err == nil && len(signers) > 0 {
				cr.agent = conn
				agentKeys, _ = ag.List()
				// Agent keys go after identity files, as OpenSSH orders them
				// when IdentityFile is given.
				defer func() { cr.signers = append(cr.signers, signers...) }()
				cr.sources = append(cr.sources, "ssh-agent")
			} else {
				conn.Close()
			}
		}
	}
	for _, f := range e.identities {
		data, err := os.ReadFile(f)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && !e.explicitID {
				continue // a default key that does not exist
			}
			cr.close()
			return nil, fmt.Errorf("%w: identity file: %w", transport.ErrAuth, err)
		}
		signer, err := gossh.ParsePrivateKey(data)
		var pm *gossh.PassphraseMissingError
		switch {
		case errors.As(err, &pm):
			if pm.PublicKey != nil && agentHas(agentKeys, pm.PublicKey) {
				continue // the agent signs for it
			}
			cr.close()
			return nil, fmt.Errorf("%w: identity file %s is encrypted and ssh-agent does not hold its key; "+
				"load it with ssh-add %s (lxcplan never asks for passphrases)",
				transport.ErrAuth, f, transport.QuoteArg(f))
		case err != nil:
			cr.close()
			return nil, fmt.Errorf("%w: identity file %s: %w", transport.ErrAuth, f, err)
		}
		cr.signers = append(cr.signers, signer)
		cr.sources = append(cr.sources, f)
	}
	if len(cr.signers) == 0 && cr.agent == nil {
		return nil, fmt.Errorf("%w: no credentials: no identity file found and no ssh-agent (SSH_AUTH_SOCK)", transport.ErrAuth)
	}
	return cr, nil
}

func agentHas(keys []*agent.Key, pub gossh.PublicKey) bool {
	want := pub.Marshal()
	for _, k := range keys {
		if bytes.Equal(k.Marshal(), want) {
			return true
		}
	}
	return false
}
