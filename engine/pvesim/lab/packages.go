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

func installed(ctx context.Context, pkg string) bool {
	out, err := output(ctx, "dpkg-query", "-W", "-f=${Status}", pkg)
	return err == nil && strings.HasSuffix(strings.TrimSpace(out), "install ok installed")
}

// ensurePackages installs what is missing and returns the names of the
// packages it installed.
func ensurePackages(ctx context.Context, log io.Writer) ([]string, error) {
	var missing []string
	for _, p := range RequiredPackages {
		if !installed(ctx, p) {
			missing = append(missing, p)
		}
	}
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
