package exec

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// pveRun runs one PVE command on host, retrying transient failures (a CT
// locked by a backup, a flock timeout, lost quorum) with bounded
// exponential back-off. The error is classified: *pve.CmdError inside
// the transport's error, so errors.Is works with both sentinel sets.
func (r *run) pveRun(ctx context.Context, host string, argv []string, onRetry func(attempt int, err error)) (transport.Result, error) {
	return r.pveCmd(ctx, host, argv, false, onRetry)
}

// pveRead is pveRun for a command without side effects: it runs even in a
// dry run, so the plan a dry run shows is real.
func (r *run) pveRead(ctx context.Context, host string, argv []string) (transport.Result, error) {
	return r.pveCmd(ctx, host, argv, true, nil)
}

func (r *run) pveCmd(ctx context.Context, host string, argv []string, ro bool, onRetry func(attempt int, err error)) (transport.Result, error) {
	rn, ok := r.hosts[host]
	if !ok {
		return transport.Result{}, fmt.Errorf("no connection to host %q", host)
	}
	delay := r.opts.Backoff
	for attempt := 1; ; attempt++ {
		res, err := rn.Run(ctx, transport.Command{Argv: argv, Redact: r.opts.Secrets.Secrets(), ReadOnly: ro})
		err = classify(argv, res, err)
		if err == nil {
			return res, nil
		}
		if attempt >= r.opts.Attempts || !pve.IsTransient(err) || ctx.Err() != nil {
			return res, err
		}
		if onRetry != nil {
			onRetry(attempt, err)
		}
		if serr := r.opts.Sleep(ctx, delay); serr != nil {
			return res, err
		}
		if delay *= 2; delay > 16*r.opts.Backoff {
			delay = 16 * r.opts.Backoff
		}
	}
}

// classify adds the PVE class of a failed command to the transport error,
// and finds failures hidden behind exit code 0 (pct resize, pveam download).
func classify(argv []string, res transport.Result, err error) error {
	var xe *transport.ExitError
	switch {
	case err == nil:
		if cerr := pve.CheckResult(argv, 0, res.Stdout, res.Stderr); cerr != nil {
			return fmt.Errorf("%s: %w", transport.Quote(argv), cerr)
		}
		return nil
	case errors.As(err, &xe):
		return fmt.Errorf("%w: %w", err, pve.Classify(string(xe.Stderr)))
	}
	return err
}

// optionArgv renders "--key value" pairs from a pct option map in PVE's
// own order (name, indexed names numerically), so argv is deterministic.
// plan.ApplyInputs carries options as a map, which pve.ConfigOptions
// cannot take as is.
func optionArgv(head []string, set map[string]string, del []string) []string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return sortKey(keys[i]) < sortKey(keys[j]) })
	out := append([]string(nil), head...)
	for _, k := range keys {
		out = append(out, "--"+k, set[k])
	}
	if len(del) > 0 {
		d := append([]string(nil), del...)
		sort.Strings(d)
		out = append(out, "--delete", strings.Join(d, ","))
	}
	return out
}

func sortKey(name string) string {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	if i == len(name) || i == 0 {
		return name
	}
	n, _ := strconv.Atoi(name[i:])
	return fmt.Sprintf("%s%010d", name[:i], n)
}

func pctSet(vmid int, set map[string]string, del []string) []string {
	return optionArgv([]string{"pct", "set", strconv.Itoa(vmid)}, set, del)
}

// revertArgv is the pct set that puts the options a change touches back to
// what the observed config had (old), deleting those it did not have.
func revertArgv(vmid int, old map[string]string, set map[string]string, del []string) []string {
	back := map[string]string{}
	var rm []string
	for k := range set {
		if v, ok := old[k]; ok {
			back[k] = v
		} else {
			rm = append(rm, k)
		}
	}
	for _, k := range del {
		if v, ok := old[k]; ok {
			back[k] = v
		}
	}
	if len(back) == 0 && len(rm) == 0 {
		return nil
	}
	return pctSet(vmid, back, rm)
}

func boolOpt(s string) bool {
	b, _ := pve.ParseBool(s)
	return b
}

// storageOf is the storage of a rootfs/mp volume string ("local-lvm:vm-1-disk-0,size=8G").
func storageOf(vol string) string {
	v, _, _ := strings.Cut(vol, ",")
	if st, _, ok := strings.Cut(v, ":"); ok {
		return strings.TrimPrefix(st, "volume=")
	}
	return ""
}

// bareAddr strips the prefix length of a static address; "" for dhcp/manual.
func bareAddr(ip string) string {
	if p, err := netip.ParsePrefix(ip); err == nil {
		return p.Addr().String()
	}
	if a, err := netip.ParseAddr(ip); err == nil {
		return a.String()
	}
	return ""
}

// templateName is the pveam name of a volume id ("local:vztmpl/x.tar.zst" → "x.tar.zst").
func templateName(volid string) string {
	_, rest, ok := strings.Cut(volid, ":")
	if !ok {
		return volid
	}
	return strings.TrimPrefix(rest, "vztmpl/")
}
