package provision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// ErrUnhealthy: the health probe did not pass within the recipe's timeout.
var ErrUnhealthy = errors.New("unhealthy")

// Health defaults when the recipe leaves them out (design.md §3).
const (
	DefaultHealthInterval = 2 * time.Second
	DefaultHealthTimeout  = 120 * time.Second
)

// probeLimit bounds one probe: connect timeouts on the host, the command's
// own timeout inside the container.
const probeLimit = 5 * time.Second

// cmdProbeLimit bounds a cmd probe inside the container, in seconds.
const cmdProbeLimit = 30

// tcpProbe opens a TCP connection with bash's /dev/tcp (PVE hosts have
// bash; no nc needed): $0 is the address, $1 the port.
const tcpProbe = `exec 3<>"/dev/tcp/$0/$1"`

// ProbeOps returns the command a health probe runs: tcp and http from the
// host to the container's address, cmd inside the container. A nil health
// check has no command.
func ProbeOps(c *model.Container, vmid int, vals *Values) (*Op, error) {
	h := health(c)
	if h == nil {
		return nil, nil
	}
	addr := vals.Self().IP
	host := addr
	if a, err := netip.ParseAddr(addr); err == nil && a.Is6() {
		host = "[" + addr + "]"
	}
	switch {
	case h.TCP > 0:
		if addr == "" {
			return nil, errors.New("tcp health probe: the container has no address")
		}
		return &Op{Argv: []string{"timeout", strconv.Itoa(int(probeLimit / time.Second)), "bash", "-c", tcpProbe, addr, strconv.Itoa(h.TCP)}}, nil
	case h.HTTP != nil:
		if addr == "" {
			return nil, errors.New("http health probe: the container has no address")
		}
		p, _, err := vals.Expand(h.HTTP.Path)
		if err != nil {
			return nil, fmt.Errorf("http health probe path: %w", err)
		}
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		if strings.ContainsAny(p, " \t\r\n") {
			return nil, fmt.Errorf("http health probe path %q contains white space", p)
		}
		url := fmt.Sprintf("http://%s:%d%s", host, h.HTTP.Port, p)
		return &Op{Argv: []string{"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
			"--max-time", strconv.Itoa(int(probeLimit / time.Second)), "--noproxy", "*", url}}, nil
	case h.Cmd != "":
		env := &stepEnv{vmid: vmid, vals: vals}
		script, _, err := vals.Expand(h.Cmd)
		if err != nil {
			return nil, fmt.Errorf("cmd health probe: %w", err)
		}
		// The command goes on stdin like a run step's script: redis' probe
		// carries the password.
		return &Op{Argv: env.script("lxcplan-run", runWrapper, "", strconv.Itoa(cmdProbeLimit), ""),
			Stdin: env.scriptBody(script, nil, ""), Timeout: cmdProbeLimit*time.Second + runGrace}, nil
	}
	return nil, nil
}

func health(c *model.Container) *model.Health {
	if c == nil || c.Loaded == nil {
		return nil
	}
	return c.Loaded.Health
}

// Probe runs c's health probe once: nil means healthy (also when the recipe
// has no probe). Failures wrap [ErrUnhealthy] and carry no secret.
func Probe(ctx context.Context, runner transport.Runner, c *model.Container, vmid int, vals *Values) error {
	op, err := ProbeOps(c, vmid, vals)
	if err != nil {
		return fmt.Errorf("container %s: %w", c.Name, err)
	}
	if op == nil {
		return nil
	}
	cmd := transport.Command{Argv: op.Argv, Redact: vals.Redact(), ReadOnly: true}
	if op.Stdin != nil {
		cmd.Stdin = bytes.NewReader(op.Stdin)
	}
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if op.Timeout > 0 {
		cctx, cancel = context.WithTimeout(ctx, op.Timeout)
	}
	defer cancel()
	res, err := runner.Run(cctx, cmd)
	red := vals.Redactor()
	if err != nil {
		var ee *transport.ExitError
		if ctx.Err() != nil || !errors.As(err, &ee) {
			// The host, not the container, is the problem.
			return fmt.Errorf("container %s: health probe: %w", c.Name, red.Error(err))
		}
		return fmt.Errorf("container %s: %w: %s: exit status %d: %s", c.Name, ErrUnhealthy, display(cmd), ee.Code,
			strings.TrimSpace(red.String(string(ee.Stderr))))
	}
	if h := health(c); h.HTTP != nil {
		want := h.HTTP.Status
		if want == 0 {
			want = 200
		}
		got := strings.TrimSpace(string(res.Stdout))
		if got != strconv.Itoa(want) {
			return fmt.Errorf("container %s: %w: %s answered HTTP %s, want %d", c.Name, ErrUnhealthy, op.Argv[len(op.Argv)-1], got, want)
		}
	}
	return nil
}

// WaitHealthy probes c until it is healthy, every interval of the recipe
// (default 2s) for at most its timeout (default 120s). observe, if not nil,
// hears about every failed probe. The error after the timeout wraps
// [ErrUnhealthy] and the last probe's failure.
func WaitHealthy(ctx context.Context, runner transport.Runner, c *model.Container, vmid int, vals *Values, observe func(WaitEvent)) error {
	h := health(c)
	if h == nil {
		return nil
	}
	interval, timeout := h.Interval, h.Timeout
	if interval <= 0 {
		interval = DefaultHealthInterval
	}
	if timeout <= 0 {
		timeout = DefaultHealthTimeout
	}
	start := time.Now()
	deadline := start.Add(timeout)
	for n := 1; ; n++ {
		err := Probe(ctx, runner, c, vmid, vals)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrUnhealthy) || ctx.Err() != nil {
			return err
		}
		if observe != nil {
			observe(WaitEvent{VMID: vmid, Attempt: n, Elapsed: time.Since(start), Message: err.Error()})
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("container %s not healthy within %s: %w", c.Name, timeout, err)
		}
		if err := sleepCtx(ctx, min(interval, left)); err != nil {
			return fmt.Errorf("container %s: wait for health: %w", c.Name, err)
		}
	}
}
