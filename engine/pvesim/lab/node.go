package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lxcplan/lxcplan/engine/pvesim/labconf"
)

// ToolNames are the PVE commands the lab bin dir provides, each a symlink
// to the pvelab binary, which dispatches on argv[0].
var ToolNames = []string{"pct", "pveam", "pvesm", "pvesh", "ha-manager", "pveversion"}

// hostMountPoints are the directories a node namespace mounts over; they
// must exist on the host. Up creates missing ones and Down removes those.
var hostMountPoints = []string{"/etc/pve", "/var/lib/vz"}

func nodeDir(root, name string) string { return filepath.Join(root, "nodes", name) }

// sshdConfig is the node sshd's configuration. SHLVL=1 matters: Debian's
// bash sources ~/.bashrc for a command run by sshd (SSH_SOURCE_BASHRC) only
// when its shell level stays below 2, and root's .bashrc on the build
// machines runs pyenv init, which costs seconds per SSH command and puts
// its shims before the PVE commands on PATH. HOME stays /root, as on PVE.
func sshdConfig(l *labconf.Lab, n labconf.Node) string {
	dir := nodeDir(l.Root, n.Name)
	return fmt.Sprintf(`# pvelab node %[1]s
Port %[2]d
ListenAddress 127.0.0.1
HostKey %[3]s/ssh_host_ed25519_key
PidFile %[3]s/sshd.pid
AuthorizedKeysFile %[4]s/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxSessions 32
MaxStartups 64:30:128
PrintMotd no
LogLevel ERROR
Subsystem sftp internal-sftp
SetEnv %[5]s=%[1]s %[6]s=%[4]s/lab.json PATH=%[4]s/bin:/usr/sbin:/usr/bin:/sbin:/bin SHLVL=1
`, n.Name, n.Port, dir, l.Root, labconf.EnvNode, labconf.EnvConfig)
}

// nodeInitScript runs inside the node's fresh, private mount namespace:
// it makes the cluster dir and node storage appear at the Proxmox paths
// (pmxcfs's lxc/local symlinks become binds), then becomes sshd.
func nodeInitScript(l *labconf.Lab, n labconf.Node) string {
	dir := nodeDir(l.Root, n.Name)
	q := shellQuote
	return fmt.Sprintf(`#!/bin/sh
set -e
mount --bind %[1]s /etc/pve
mount --bind %[2]s /etc/pve/lxc
mount --bind %[3]s /etc/pve/local
mount --bind %[4]s /etc/pve/.members
mount --bind %[5]s /var/lib/vz
exec /usr/sbin/sshd -D -e -f %[6]s
`, q(l.ClusterDir), q(filepath.Join(l.ClusterDir, "nodes", n.Name, "lxc")),
		q(filepath.Join(l.ClusterDir, "nodes", n.Name)), q(filepath.Join(dir, "members")),
		q(n.StorageRoot), q(filepath.Join(dir, "sshd_config")))
}

// startNode writes the node's sshd files and starts it in a new mount
// namespace (Go makes / private in the child before exec).
func startNode(ctx context.Context, l *labconf.Lab, n labconf.Node) (Proc, error) {
	dir := nodeDir(l.Root, n.Name)
	key := filepath.Join(dir, "ssh_host_ed25519_key")
	if _, err := os.Stat(key); err != nil {
		if err := run(ctx, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pvelab-"+n.Name, "-f", key); err != nil {
			return Proc{}, fmt.Errorf("node %s host key: %w", n.Name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(sshdConfig(l, n)), 0o600); err != nil {
		return Proc{}, fmt.Errorf("node %s: %w", n.Name, err)
	}
	script := filepath.Join(dir, "init.sh")
	if err := os.WriteFile(script, []byte(nodeInitScript(l, n)), 0o755); err != nil {
		return Proc{}, fmt.Errorf("node %s: %w", n.Name, err)
	}
	if err := run(ctx, nil, "/usr/sbin/sshd", "-t", "-f", filepath.Join(dir, "sshd_config")); err != nil {
		return Proc{}, fmt.Errorf("node %s sshd config: %w", n.Name, err)
	}
	p, err := startProc("sshd-"+n.Name, []string{"/bin/sh", script}, filepath.Join(dir, "sshd.log"), func(c *exec.Cmd) {
		c.SysProcAttr.Unshareflags = syscall.CLONE_NEWNS
	})
	if err != nil {
		return Proc{}, fmt.Errorf("node %s: %w", n.Name, err)
	}
	if err := waitListening(ctx, n.Host, n.Port, p, 10*time.Second); err != nil {
		p.stop(2 * time.Second)
		log, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
		return Proc{}, fmt.Errorf("node %s sshd: %w: %s", n.Name, err, strings.TrimSpace(string(log)))
	}
	// Proc start time and namespace are those of sshd (the script execs it).
	p.MountNS = mountNS(p.PID)
	return p, nil
}

func waitListening(ctx context.Context, host string, port int, p Proc, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	addr := net.JoinHostPort(host, fmt.Sprint(port))
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if !p.Alive() {
			return fmt.Errorf("exited before listening on %s", addr)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not listening on %s after %s", addr, limit)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// hostKeyLine returns "[host]:port key" for known_hosts.
func hostKeyLine(l *labconf.Lab, n labconf.Node) (string, error) {
	b, err := os.ReadFile(filepath.Join(nodeDir(l.Root, n.Name), "ssh_host_ed25519_key.pub"))
	if err != nil {
		return "", fmt.Errorf("node %s host key: %w", n.Name, err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return "", fmt.Errorf("node %s host key: malformed", n.Name)
	}
	return fmt.Sprintf("[%s]:%d %s %s", n.Host, n.Port, f[0], f[1]), nil
}

// installBinary copies the pvelab binary into the lab so it outlives a
// `go run` temp dir, and links the PVE tool names to it.
func installBinary(root, src string) error {
	bin := filepath.Join(root, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return fmt.Errorf("lab bin dir: %w", err)
	}
	dst := filepath.Join(bin, "pvelab")
	if src != "" {
		b, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("copy pvelab binary: %w", err)
		}
		tmp := dst + ".tmp"
		if err := os.WriteFile(tmp, b, 0o755); err != nil {
			return fmt.Errorf("copy pvelab binary: %w", err)
		}
		if err := os.Rename(tmp, dst); err != nil {
			return fmt.Errorf("copy pvelab binary: %w", err)
		}
	}
	for _, t := range ToolNames {
		p := filepath.Join(bin, t)
		os.Remove(p)
		if err := os.Symlink("pvelab", p); err != nil {
			return fmt.Errorf("link %s: %w", t, err)
		}
	}
	return nil
}
