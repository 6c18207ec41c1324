package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
)

// RequiredPackages are the Debian packages the lab runs on. dnsmasq-base
// gives the binary without a system service.
var RequiredPackages = []string{"lxc", "openssh-server", "debootstrap", "dnsmasq-base", "nftables", "zstd", "iproute2", "apt-cacher-ng"}

// autoStartedServices may be started by installing their package on a
// systemd host; the lab runs its own dnsmasq and apt-cacher-ng instead.
var autoStartedServices = map[string]string{"apt-cacher-ng": "apt-cacher-ng", "lxc": "lxc-net"}

// missingPackages asks dpkg once for all of pkgs (one call: each
// dpkg-query reads the whole status database, slow on a busy machine).
func missingPackages(ctx context.Context, pkgs []string) []string {
	args := append([]string{"-W", "-f=${Package} ${Status}\n"}, pkgs...)
	// Exit status 1 only means some package is unknown; the output still
	// lists the known ones.
	out, _ := output(ctx, "dpkg-query", args...)
	ok := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.HasSuffix(line, "install ok installed") {
			name, _, _ := strings.Cut(f[0], ":") // drop :amd64
			ok[name] = true
		}
	}
	var missing []string
	for _, p := range pkgs {
		if !ok[p] {
			missing = append(missing, p)
		}
	}
	return missing
}

// ensurePackages installs what is missing and returns the names of the
// packages it installed.
func ensurePackages(ctx context.Context, log io.Writer) ([]string, error) {
	missing := missingPackages(ctx, RequiredPackages)
	if len(missing) == 0 {
		return nil, nil
	}
	fmt.Fprintf(log, "installing %s\n", strings.Join(missing, " "))
	if err := run(ctx, log, "apt-get", "update", "-q"); err != nil {
		return nil, fmt.Errorf("install packages: %w", err)
	}
	args := append([]string{"install", "-y", "-q", "--no-install-recommends"}, missing...)
	if err := run(ctx, log, "apt-get", args...); err != nil {
		return nil, fmt.Errorf("install packages: %w", err)
	}
	return missing, nil
}

func systemdRunning() bool {
	_, err := os.Stat("/run/systemd/system")
	return err == nil
}

// stopAutoStarted stops and disables the system services that installing
// pkgs started, returning those it changed (recorded for the report and
// so Down knows the lab, not the admin, disabled them).
func stopAutoStarted(ctx context.Context, pkgs []string) []string {
	var changed []string
	for _, p := range pkgs {
		svc, ok := autoStartedServices[p]
		if !ok {
			continue
		}
		if systemdRunning() {
			if run(ctx, nil, "systemctl", "is-active", "--quiet", svc) == nil {
				_ = run(ctx, nil, "systemctl", "disable", "--now", svc)
				changed = append(changed, svc)
			}
			continue
		}
		if run(ctx, nil, "service", svc, "status") == nil {
			_ = run(ctx, nil, "service", svc, "stop")
			_ = run(ctx, nil, "update-rc.d", svc, "disable")
			changed = append(changed, svc)
		}
	}
	return changed
}
