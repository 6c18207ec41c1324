package ssh

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"

	"github.com/lxcplan/lxcplan/engine/transport"
)

// Config says how to reach one host.
type Config struct {
	// Name labels the host in errors and logs (the stack's host key, e.g.
	// "pve1"); empty means Address.
	Name string
	// Address is a host name, IP or ssh_config alias, optionally with ":port".
	Address string
	// User to log in as. Empty: ssh_config's User, else "root" (Proxmox).
	User string
	// Port overrides the port in Address and ssh_config. 0: Address's port,
	// else ssh_config's Port, else 22.
	Port int
	// IdentityFile is a private key to offer. Empty: ssh_config's
	// IdentityFile entries, else ~/.ssh/id_ed25519, id_ecdsa and id_rsa when
	// they exist. Keys held by ssh-agent (SSH_AUTH_SOCK) are always offered.
	IdentityFile string
	// KnownHostsFile holds trusted host keys. Empty: ~/.ssh/known_hosts.
	KnownHostsFile string
	// AcceptNewHostKeys trusts a host seen for the first time and appends its
	// key to KnownHostsFile. A changed key is still fatal.
	AcceptNewHostKeys bool
	// SSHConfigFile is the ssh_config to honour (Host, HostName, User, Port,
	// IdentityFile, ProxyJump). Empty: ~/.ssh/config if it exists; "none":
	// no ssh_config at all (tests).
	SSHConfigFile string
	// MaxSessions bounds concurrent sessions on the connection; keep it below
	// sshd's MaxSessions (default 10). 0 means 8.
	MaxSessions int
	// DialTimeout bounds TCP connect plus handshake and authentication. 0: 15s.
	DialTimeout time.Duration
	// KeepAlive is the interval between keepalive@openssh.com requests; the
	// connection is declared dead after 3 unanswered. 0: 15s; negative: off.
	KeepAlive time.Duration
	// Logger receives records of dials and commands (always redacted); nil
	// is silent.
	Logger transport.Logger
}

const (
	defaultMaxSessions = 8
	defaultDialTimeout = 15 * time.Second
	defaultKeepAlive   = 15 * time.Second
	keepAliveMaxMissed = 3
	defaultUser        = "root"
)

// endpoint is one SSH server to dial, after ssh_config resolution.
type endpoint struct {
	host       string // what is dialed and checked in known_hosts
	port       int
	user       string
	identities []string
	explicitID bool // identities were asked for, so a missing file is an error
}

func (e endpoint) addr() string { return net.JoinHostPort(e.host, strconv.Itoa(e.port)) }

// resolved is a Config after defaults and ssh_config.
type resolved struct {
	name        string
	target      endpoint
	jump        *endpoint
	knownHosts  string
	acceptNew   bool
	maxSessions int
	dialTimeout time.Duration
	keepAlive   time.Duration
}

func resolve(cfg Config) (*resolved, error) {
	if strings.TrimSpace(cfg.Address) == "" {
		return nil, errors.New("ssh config: empty address")
	}
	r := &resolved{
		name:        cfg.Name,
		knownHosts:  cfg.KnownHostsFile,
		acceptNew:   cfg.AcceptNewHostKeys,
		maxSessions: cfg.MaxSessions,
		dialTimeout: cfg.DialTimeout,
		keepAlive:   cfg.KeepAlive,
	}
	if r.name == "" {
		r.name = cfg.Address
	}
	if r.maxSessions <= 0 {
		r.maxSessions = defaultMaxSessions
	}
	if r.dialTimeout <= 0 {
		r.dialTimeout = defaultDialTimeout
	}
	if r.keepAlive == 0 {
		r.keepAlive = defaultKeepAlive
	}
	if r.knownHosts == "" {
		r.knownHosts = filepath.Join(homeDir(), ".ssh", "known_hosts")
	}
	sc, err := loadSSHConfig(cfg.SSHConfigFile)
	if err != nil {
		return nil, err
	}
	var ids []string
	if cfg.IdentityFile != "" {
		ids = []string{cfg.IdentityFile}
	}
	r.target, err = resolveEndpoint(sc, cfg.Address, cfg.User, cfg.Port, ids)
	if err != nil {
		return nil, err
	}
	jump := sc.get(hostOnly(cfg.Address), "ProxyJump")
	if jump != "" && !strings.EqualFold(jump, "none") {
		if strings.Contains(jump, ",") {
			return nil, fmt.Errorf("ssh config for %s: ProxyJump %q: only one jump host is supported", cfg.Address, jump)
		}
		user, hostport := "", jump
		if i := strings.LastIndex(jump, "@"); i >= 0 {
			user, hostport = jump[:i], jump[i+1:]
		}
		j, err := resolveEndpoint(sc, hostport, user, 0, r.target.identities)
		if err != nil {
			return nil, fmt.Errorf("ssh config for %s: ProxyJump: %w", cfg.Address, err)
		}
		r.jump = &j
	}
	return r, nil
}

// resolveEndpoint applies ssh_config to an address; explicit values win,
// as they do on the ssh command line.
func resolveEndpoint(sc sshConfig, address, user string, port int, ids []string) (endpoint, error) {
	alias := hostOnly(address)
	e := endpoint{host: alias, user: user, port: port, identities: ids, explicitID: len(ids) > 0}
	if h, p, err := net.SplitHostPort(address); err == nil {
		n, perr := strconv.Atoi(p)
		if perr != nil || n <= 0 || n > 65535 {
			return e, fmt.Errorf("address %q: bad port", address)
		}
		alias, e.host = h, h
		if e.port == 0 {
			e.port = n
		}
	}
	if hn := sc.get(alias, "HostName"); hn != "" {
		e.host = strings.ReplaceAll(hn, "%h", alias)
	}
	if e.port == 0 {
		if p := sc.get(alias, "Port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				return e, fmt.Errorf("ssh config for %s: bad Port %q", alias, p)
			}
			e.port = n
		}
	}
	if e.port == 0 {
		e.port = 22
	}
	if e.user == "" {
		e.user = sc.get(alias, "User")
	}
	if e.user == "" {
		e.user = defaultUser
	}
	if !e.explicitID {
		for _, f := range sc.getAll(alias, "IdentityFile") {
			e.identities = append(e.identities, expandHome(f))
			e.explicitID = true
		}
	}
	if len(e.identities) == 0 {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			e.identities = append(e.identities, filepath.Join(homeDir(), ".ssh", n))
		}
	}
	for i, f := range e.identities {
		e.identities[i] = expandHome(f)
	}
	return e, nil
}

// sshConfig wraps an optional parsed ssh_config.
type sshConfig struct{ c *ssh_config.Config }

func loadSSHConfig(path string) (sshConfig, error) {
	explicit := path != ""
	switch path {
	case "none":
		return sshConfig{}, nil
	case "":
		path = filepath.Join(homeDir(), ".ssh", "config")
	}
	f, err := os.Open(path)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return sshConfig{}, nil
		}
		return sshConfig{}, fmt.Errorf("read ssh config: %w", err)
	}
	defer f.Close()
	c, err := ssh_config.Decode(f)
	if err != nil {
		return sshConfig{}, fmt.Errorf("parse ssh config %s: %w", path, err)
	}
	return sshConfig{c: c}, nil
}

func (s sshConfig) get(alias, key string) string {
	if s.c == nil {
		return ""
	}
	v, err := s.c.Get(alias, key)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(v)
}

func (s sshConfig) getAll(alias, key string) []string {
	if s.c == nil {
		return nil
	}
	v, err := s.c.GetAll(alias, key)
	if err != nil {
		return nil
	}
	return v
}

func hostOnly(address string) string {
	if h, _, err := net.SplitHostPort(address); err == nil {
		return h
	}
	return address
}

func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return "/"
}

func expandHome(p string) string {
	if p == "~" {
		return homeDir()
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(homeDir(), p[2:])
	}
	return p
}
