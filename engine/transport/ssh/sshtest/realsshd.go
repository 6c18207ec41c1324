package sshtest

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHDPath is where the real OpenSSH server is expected (Debian's openssh-server).
const SSHDPath = "/usr/sbin/sshd"

// RequireSSHDEnv, set to "1", turns "skip: no sshd or not root" into a test
// failure. CI sets it so the real-sshd tier cannot silently vanish.
const RequireSSHDEnv = "LXCPLAN_REQUIRE_SSHD"

// RealSSHD is a real OpenSSH sshd started for one test on a loopback port,
// with a generated host key, config and authorized key. It logs in as the
// current user (root), through the user's real login shell, with two
// deliberate differences from a stock host: PATH starts with BinDir, and HOME
// is an empty temp dir, because bash sources ~/.bashrc for every SSH command
// and a developer's rc file (pyenv init on the build machines: seconds per
// command) would dominate every test and benchmark. Like Debian's stock
// config it accepts LANG and LC_* variables.
type RealSSHD struct {
	addr       string
	port       int
	dir        string
	knownHosts string
	identity   string
	bin        string
	home       string
	hostKey    ssh.PublicKey
	cmd        *exec.Cmd
	log        *lockedBuffer
	done       chan struct{}
}

// StartRealSSHD starts /usr/sbin/sshd -D -e -f CONFIG and stops it (only the
// process it started) in t.Cleanup. It skips the test with a clear message
// when sshd is missing or the test does not run as root, unless
// LXCPLAN_REQUIRE_SSHD=1, in which case it fails.
func StartRealSSHD(t testing.TB) *RealSSHD {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv(RequireSSHDEnv) == "1" {
			t.Fatalf("real sshd required (%s=1) but %s", RequireSSHDEnv, msg)
		}
		t.Skipf("skipping real-sshd test: %s (install openssh-server and run as root; set %s=1 to make this a failure)", msg, RequireSSHDEnv)
	}
	if _, err := os.Stat(SSHDPath); err != nil {
		unavailable("%s not found", SSHDPath)
	}
	if os.Geteuid() != 0 {
		unavailable("not running as root (sshd must switch to the login user)")
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation dir
		unavailable("cannot create /run/sshd: %v", err)
	}
	d := &RealSSHD{dir: t.TempDir()}
	d.bin = filepath.Join(d.dir, "bin")
	d.home = filepath.Join(d.dir, "home")
	for _, dir := range []string{d.bin, d.home} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatalf("real sshd: %v", err)
		}
	}
	var err error
	hostKeyFile := filepath.Join(d.dir, "ssh_host_ed25519_key")
	if d.hostKey, err = writeHostKey(hostKeyFile); err != nil {
		t.Fatalf("real sshd: host key: %v", err)
	}
	var clientPub ssh.PublicKey
	if d.identity, clientPub, err = WriteClientKey(d.dir, "id_ed25519"); err != nil {
		t.Fatalf("real sshd: client key: %v", err)
	}
	authKeys := filepath.Join(d.dir, "authorized_keys")
	if err := os.WriteFile(authKeys, ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		t.Fatalf("real sshd: authorized_keys: %v", err)
	}
	// Finding a free port and then starting sshd races with other processes;
	// retry a few times if sshd cannot bind.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if lastErr = d.start(t, hostKeyFile, authKeys); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("real sshd: %v", lastErr)
	}
	d.knownHosts = filepath.Join(d.dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(d.addr)}, d.hostKey)
	if err := os.WriteFile(d.knownHosts, []byte(line+"\n"), 0o600); err != nil {
		t.Fatalf("real sshd: known_hosts: %v", err)
	}
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("sshd log:\n%s", d.log.String())
		}
	})
	return d
}

func (d *RealSSHD) start(t testing.TB, hostKeyFile, authKeys string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	d.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	d.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port))
	conf := filepath.Join(d.dir, "sshd_config")
	text := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile none
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AuthorizedKeysFile %s
MaxSessions 20
MaxStartups 200:30:400
LogLevel VERBOSE
Subsystem sftp internal-sftp
AcceptEnv LANG LC_*
SetEnv PATH=%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=%s
`, d.port, hostKeyFile, authKeys, d.bin, d.home)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return err
	}
	d.log = &lockedBuffer{}
	d.cmd = exec.Command(SSHDPath, "-D", "-e", "-f", conf)
	d.cmd.Stdout = d.log
	d.cmd.Stderr = d.log
	// Its own process group, so stopping it also stops its session children;
	// and killed with the test binary, should the test panic or time out
	// before its cleanup runs.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", SSHDPath, err)
	}
	d.done = make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-d.done:
			return fmt.Errorf("sshd exited early:\n%s", d.log.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", d.addr, time.Second); err == nil {
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			banner, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if len(banner) >= 4 && banner[:4] == "SSH-" {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.stop()
	return fmt.Errorf("sshd did not answer on %s:\n%s", d.addr, d.log.String())
}

func (d *RealSSHD) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	select {
	case <-d.done:
		return
	default:
	}
	pgid := d.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-d.done
	}
}

// Addr is "127.0.0.1:PORT".
func (d *RealSSHD) Addr() string { return d.addr }

// Host is "127.0.0.1".
func (d *RealSSHD) Host() string { return "127.0.0.1" }

// Port is sshd's port.
func (d *RealSSHD) Port() int { return d.port }

// User is the login user (the current user: sshd switches to it).
func (d *RealSSHD) User() string {
	if u := os.Getenv("USER"); u != "" && os.Geteuid() != 0 {
		return u
	}
	return "root"
}

// KnownHostsFile pins sshd's host key.
func (d *RealSSHD) KnownHostsFile() string { return d.knownHosts }

// IdentityFile is an unencrypted private key in authorized_keys.
func (d *RealSSHD) IdentityFile() string { return d.identity }

// HostKey is sshd's public host key.
func (d *RealSSHD) HostKey() ssh.PublicKey { return d.hostKey }

// BinDir is a directory first on PATH in every session: drop fake commands
// (a stand-in `pct`, say) there.
func (d *RealSSHD) BinDir() string { return d.bin }

// PID is the listening sshd's process id.
func (d *RealSSHD) PID() int { return d.cmd.Process.Pid }

// DropConnections kills (SIGKILL) every process below the listening sshd:
// the per-connection sshd processes and their sessions. Clients see their TCP
// connections die, as after a network failure; sshd itself keeps listening.
func (d *RealSSHD) DropConnections() {
	for _, pid := range descendants(d.cmd.Process.Pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// descendants lists the pids below root, from /proc.
func descendants(root int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the ")" closing the command name: state ppid ...
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(root)
	return out
}

// Dir is the temporary directory holding config and keys.
func (d *RealSSHD) Dir() string { return d.dir }

// Log returns what sshd printed so far.
func (d *RealSSHD) Log() string { return d.log.String() }

func writeHostKey(path string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	return ssh.NewPublicKey(pub)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
