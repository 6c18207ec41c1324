package lab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// TemplateName is the file name of the template the lab builds, named like
// the Proxmox standard template it stands in for.
const TemplateName = "debian-12-standard_12.7-1_amd64.tar.zst"

// TemplateVolid is the template's volume id on every lab node.
const TemplateVolid = "local:vztmpl/" + TemplateName

const defaultMirror = "http://deb.debian.org/debian"

// templatePackages is what debootstrap adds to minbase: enough for systemd
// as init, networking, TLS roots and the health checks recipes run.
var templatePackages = []string{
	"systemd", "systemd-sysv", "dbus", "iproute2", "ca-certificates",
	"iputils-ping", "procps", "curl",
}

// maskedUnits need hardware or a real boot and keep a container from
// reaching "running" (lab-notes).
var maskedUnits = []string{
	"systemd-networkd-wait-online.service", "systemd-timesyncd.service",
	"getty@tty1.service", "systemd-udevd.service",
	"systemd-udevd-control.socket", "systemd-udevd-kernel.socket",
	// Background apt runs would hold the dpkg lock while recipes install.
	"apt-daily.timer", "apt-daily-upgrade.timer",
}

// EnsureTemplate returns the cached template, building it first when it is
// missing. The build goes to a temporary name in the same directory and is
// renamed into place only when complete, so an interrupted build never
// leaves a bad cache entry.
func EnsureTemplate(ctx context.Context, cacheDir string, log io.Writer) (path string, built bool, err error) {
	dir := filepath.Join(cacheDir, "templates")
	path = filepath.Join(dir, TemplateName)
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		return path, false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, fmt.Errorf("template cache: %w", err)
	}
	work, err := os.MkdirTemp(cacheDir, "build-")
	if err != nil {
		return "", false, fmt.Errorf("template build dir: %w", err)
	}
	defer os.RemoveAll(work)
	rootfs := filepath.Join(work, "rootfs")
	mirror, security := hostMirrors()
	fmt.Fprintf(log, "building template %s with debootstrap from %s (once)\n", TemplateName, mirror)
	args := []string{"--variant=minbase", "--include=" + strings.Join(templatePackages, ","), "bookworm", rootfs, mirror}
	if err := run(ctx, log, "debootstrap", args...); err != nil {
		return "", false, fmt.Errorf("build template: %w", err)
	}
	if err := prepareTemplate(ctx, rootfs, mirror, security); err != nil {
		return "", false, fmt.Errorf("prepare template: %w", err)
	}
	tmp := filepath.Join(dir, "."+TemplateName+".tmp")
	// dev/ is left empty: lxc.autodev populates it, and device nodes
	// cannot be created when extracting into a user namespace.
	pack := fmt.Sprintf("tar --numeric-owner --exclude=./dev/* -C %s -cf - . | zstd -q -T0 -o %s -f",
		shellQuote(rootfs), shellQuote(tmp))
	if err := run(ctx, log, "sh", "-c", pack); err != nil {
		os.Remove(tmp)
		return "", false, fmt.Errorf("pack template: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", false, fmt.Errorf("install template: %w", err)
	}
	return path, true, nil
}

// prepareTemplate makes a debootstrap tree look like a Proxmox standard
// template. The apt proxy is not baked in: the lab's subnet can change
// between ups, so the container runtime writes it at every start.
func prepareTemplate(ctx context.Context, root, mirror, security string) error {
	w := func(rel, content string, mode os.FileMode) error {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		os.Remove(p) // may be a symlink (resolv.conf)
		return os.WriteFile(p, []byte(content), mode)
	}
	sources := fmt.Sprintf("deb %s bookworm main contrib\ndeb %s bookworm-updates main contrib\n", mirror, mirror)
	if security != "" {
		sources += fmt.Sprintf("deb %s bookworm-security main contrib\n", security)
	}
	files := []struct {
		rel, content string
		mode         os.FileMode
	}{
		{"etc/machine-id", "", 0o444},
		{"etc/apt/sources.list", sources, 0o644},
		{"etc/hostname", "localhost\n", 0o644},
		{"etc/resolv.conf", "", 0o644},
		// Lab mirrors may serve a frozen snapshot whose Release files are
		// past Valid-Until.
		{"etc/apt/apt.conf.d/99pvelab", "Acquire::Check-Valid-Until \"false\";\nAPT::Install-Recommends \"false\";\n", 0o644},
	}
	for _, f := range files {
		if err := w(f.rel, f.content, f.mode); err != nil {
			return err
		}
	}
	os.Remove(filepath.Join(root, "var/lib/dbus/machine-id"))
	if err := os.Symlink("/etc/machine-id", filepath.Join(root, "var/lib/dbus/machine-id")); err != nil && !os.IsExist(err) {
		return err
	}
	for _, u := range maskedUnits {
		p := filepath.Join(root, "etc/systemd/system", u)
		os.Remove(p)
		if err := os.Symlink("/dev/null", p); err != nil {
			return err
		}
	}
	if err := run(ctx, io.Discard, "chroot", root, "systemctl", "enable", "systemd-networkd.service"); err != nil {
		return err
	}
	if err := run(ctx, io.Discard, "chroot", root, "apt-get", "clean"); err != nil {
		return err
	}
	lists, _ := filepath.Glob(filepath.Join(root, "var/lib/apt/lists/*_*"))
	for _, l := range lists {
		os.Remove(l)
	}
	logs, _ := filepath.Glob(filepath.Join(root, "var/log/*.log"))
	for _, l := range logs {
		os.Truncate(l, 0)
	}
	os.RemoveAll(filepath.Join(root, "var/log/bootstrap.log"))
	os.RemoveAll(filepath.Join(root, "debootstrap"))
	return nil
}

// hostMirrors returns the Debian mirror and security mirror the host's
// apt sources use (deb822 .sources files or a one-line sources.list).
func hostMirrors() (mirror, security string) {
	var uris []string
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		uris = append(uris, deb822URIs(f)...)
	}
	lists, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	for _, f := range append([]string{"/etc/apt/sources.list"}, lists...) {
		uris = append(uris, oneLineURIs(f)...)
	}
	for _, u := range uris {
		u = strings.TrimRight(u, "/")
		switch {
		case strings.HasSuffix(u, "/debian-security") && security == "":
			security = u
		case strings.HasSuffix(u, "/debian") && mirror == "":
			mirror = u
		}
	}
	if mirror == "" {
		mirror = defaultMirror
	}
	return mirror, security
}

func deb822URIs(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), "URIs") {
			out = append(out, strings.Fields(v)...)
		}
	}
	return out
}

func oneLineURIs(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 3 || fs[0] != "deb" {
			continue
		}
		for _, x := range fs[1:] {
			if strings.HasPrefix(x, "[") || strings.HasSuffix(x, "]") || strings.Contains(x, "=") {
				continue
			}
			out = append(out, x)
			break
		}
	}
	return out
}

// run runs a command, sending its output to log, and folds the tail of
// the output into the error.
func run(ctx context.Context, log io.Writer, name string, args ...string) error {
	if log == nil {
		log = io.Discard
	}
	var tail tailBuffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = io.MultiWriter(log, &tail)
	cmd.Stderr = io.MultiWriter(log, &tail)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	if err := cmd.Run(); err != nil {
		if t := strings.TrimSpace(tail.String()); t != "" {
			return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, t)
		}
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

// output runs a command and returns its stdout.
func output(ctx context.Context, name string, args ...string) (string, error) {
	var stderr tailBuffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// tailBuffer keeps the last 2 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 2048 {
		t.b = append([]byte(nil), t.b[len(t.b)-2048:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
