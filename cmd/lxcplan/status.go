package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/provision"
	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/secrets"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// statusProbeLimit bounds one container's health probe in `status`: a cmd
// probe may take its own 30 s, a hung host must not hold the command longer.
const statusProbeLimit = 40 * time.Second

// Container states as status shows them.
const (
	stateRunning  = "running"
	stateStopped  = "stopped"
	stateMissing  = "missing"
	stateCreating = "creating"
	stateUnknown  = "unknown"
)

func statusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show the stack's containers as they are: host, vmid, state, IP, health, drift",
		UsageText: "lxcplan status STACK [--format table|json]",
		Description: `Reads the hosts (no lock, nothing changes), runs each running container's health probe
once, and compares its live config with what lxcplan last set (drift). Containers of the stack
that the file no longer declares are listed as orphaned. Exit 1 when a host could not be read.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "table", Usage: "table or json"},
			setFlag(),
		},
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "STACK")
			if err != nil {
				return err
			}
			format := c.String("format")
			if format != "table" && format != "json" {
				return usagef("status: --format %q: want table or json", format)
			}
			v, err := openStack(c.Context, e, path, manifestOptions(c))
			if err != nil {
				return err
			}
			defer v.Close()
			rows := v.status(c.Context)
			if format == "json" {
				err = writeJSON(e, statusDoc{Stack: v.d.Stack.Name, Containers: rows})
			} else {
				err = writeStatusTable(e.out, rows)
			}
			if err != nil {
				return fmt.Errorf("status: write output: %w", err)
			}
			return v.hostProblems("status")
		},
	}
}

// stackView is what status, exec and outputs read: the desired stack, the
// observed hosts, and which observed container is which declared one (by
// the ownership marker, design.md §6). It reads only; it takes no lock.
type stackView struct {
	e   *env
	d   *model.Desired
	obs *inventory.State
	ds  diag.Diagnostics
	hs  *hostSet
	reg *secrets.Registry

	// owned maps a container name to what carries its marker; more than
	// one entry means copies lxcplan cannot tell apart.
	owned map[string][]*ownedCT

	mu      sync.Mutex
	runners map[string]transport.Runner
}

// ownedCT is an observed container of the stack.
type ownedCT struct {
	cl *inventory.Cluster
	ct *inventory.Container
	m  *plan.Marker
	// host is the stack's key for the node it lives on ("" when the node is
	// not one of the stack's hosts).
	host string
}

// openStack loads the stack and observes its hosts.
func openStack(ctx context.Context, e *env, path string, opts manifest.Options) (*stackView, error) {
	d, err := loadDesired(e, path, opts)
	if err != nil {
		return nil, err
	}
	v := &stackView{e: e, d: d, hs: newHostSet(e, d.Stack), reg: secrets.NewRegistry(), runners: map[string]transport.Runner{},
		owned: map[string][]*ownedCT{}}
	var targets []inventory.HostTarget
	for _, name := range d.Stack.HostNames() {
		name := name
		targets = append(targets, inventory.HostTarget{Key: name, Dial: func(ctx context.Context) (transport.Runner, error) {
			return v.runner(ctx, name)
		}})
	}
	v.obs, v.ds = inventory.Observe(ctx, targets, inventory.Options{})
	v.index()
	return v, nil
}

func (v *stackView) Close() error { return v.hs.Close() }

// runner is the host's runner, every command masked with the secrets read
// so far (the trace of -x included).
func (v *stackView) runner(ctx context.Context, host string) (transport.Runner, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if r, ok := v.runners[host]; ok {
		return r, nil
	}
	r, err := v.hs.dialer(host)(ctx)
	if err != nil {
		return nil, err
	}
	r = transport.Chain(r, v.reg.Middleware())
	v.runners[host] = r
	return r, nil
}

// index finds the stack's containers in every readable cluster, as the
// planner does.
func (v *stackView) index() {
	stack := v.d.Stack.Name
	for _, cl := range v.obs.Clusters {
		if cl.Error != "" {
			continue
		}
		for _, ct := range cl.Containers {
			if ct.Config == nil {
				continue
			}
			tags := ct.Tags
			if len(tags) == 0 {
				tags = pve.SplitList(ct.Config.Options["tags"])
			}
			if m, ok := plan.Owns(tags, ct.Description(), stack); ok {
				v.owned[m.Container] = append(v.owned[m.Container], &ownedCT{cl: cl, ct: ct, m: m, host: v.obs.HostForNode(cl.ID, ct.Node)})
			}
		}
	}
}

// find returns the one observed container of name, or nil.
func (v *stackView) find(name string) *ownedCT {
	if fs := v.owned[name]; len(fs) == 1 {
		return fs[0]
	}
	return nil
}

// orphans are the stack's containers the file no longer declares, sorted.
func (v *stackView) orphans() []string {
	var out []string
	for name := range v.owned {
		if v.d.Container(name) == nil {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// hostProblems prints what could not be observed and makes it exit 1.
func (v *stackView) hostProblems(what string) error {
	if !v.ds.HasErrors() {
		printDiagnostics(v.e.errOut, v.ds)
		return nil
	}
	v.ds.Sort()
	printDiagnostics(v.e.errOut, v.ds)
	n := 0
	for _, d := range v.ds {
		if d.Severity == diag.SevError {
			n++
		}
	}
	return &exitError{code: exitFailed, err: fmt.Errorf("%s: %d %s on the hosts", what, n, map[bool]string{true: "problem", false: "problems"}[n == 1])}
}

// hostDown reports whether a declared container's host could not be
// observed, so "missing" would be a guess.
func (v *stackView) hostDown(c *model.Container) bool {
	h := v.obs.Host(c.Host)
	if h == nil || !h.Reachable {
		return true
	}
	cl := v.obs.ClusterOf(c.Host)
	return cl == nil || cl.Error != ""
}

// state is the container's state word.
func stateOf(o *ownedCT) string {
	if o.m.State != plan.StateReady {
		return stateCreating
	}
	switch o.ct.Status {
	case "running":
		return stateRunning
	case "stopped":
		return stateStopped
	}
	return stateUnknown
}

// ifaceName is the main interface's name inside the container.
func ifaceName(c *model.Container) string {
	if c != nil && c.Network.Name != "" {
		return c.Network.Name
	}
	return "eth0"
}

// addressOf is the container's bare address: the one apply learned (DHCP)
// and recorded in the marker, else the static address of its live config,
// else the declared one.
func addressOf(c *model.Container, o *ownedCT) string {
	if o != nil {
		if a := o.m.Addresses[ifaceName(c)]; a != "" {
			return a
		}
		if c == nil {
			// An orphan: its interface names are no longer declared.
			for _, k := range slices.Sorted(maps.Keys(o.m.Addresses)) {
				if a := o.m.Addresses[k]; a != "" {
					return a
				}
			}
		}
		if o.ct.Config != nil {
			if n, err := pve.ParseNet("net0", o.ct.Config.Options["net0"]); err == nil {
				if a := bareCIDR(n.IP); a != "" {
					return a
				}
			}
		}
	}
	if c != nil {
		return bareCIDR(c.Network.IP)
	}
	return ""
}

// bareCIDR is the address of "10.0.0.5/24" ("" for dhcp, manual, none).
func bareCIDR(s string) string {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr().String()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String()
	}
	return ""
}

// statusDoc is `status --format json`.
type statusDoc struct {
	Stack      string      `json:"stack"`
	Containers []statusRow `json:"containers"`
}

// statusRow is one container of `status`.
type statusRow struct {
	Name  string `json:"name"`
	Host  string `json:"host,omitempty"`
	Node  string `json:"node,omitempty"`
	VMID  int    `json:"vmid,omitempty"`
	State string `json:"state"`
	IP    string `json:"ip,omitempty"`
	// Health is "healthy" or "unhealthy", "" when not probed (missing,
	// unknown, being created).
	Health      string `json:"health,omitempty"`
	HealthError string `json:"health_error,omitempty"`
	Drift       bool   `json:"drift"`
	Declared    bool   `json:"declared"`
	Note        string `json:"note,omitempty"`
}

// status builds one row per declared container (sorted by name), then one
// per orphan; health probes run in parallel, each bounded.
func (v *stackView) status(ctx context.Context) []statusRow {
	p, _ := plan.Diff(v.d, v.obs, plan.Options{})
	changes := map[string]*plan.Change{}
	for _, ch := range p.Changes {
		if ch.Action != plan.ActionDestroy {
			changes[ch.Container] = ch
		}
	}
	vals := v.values(ctx)
	// One slot per declared container, filled in place: the probes write
	// their own slot concurrently, so the slice never grows while they run.
	rows := make([]statusRow, len(v.d.Containers))
	var wg sync.WaitGroup
	for i, c := range v.d.Containers {
		r := statusRow{Name: c.Name, Host: c.Host, Declared: true}
		o := v.find(c.Name)
		switch {
		case len(v.owned[c.Name]) > 1:
			r.State = stateUnknown
			r.Note = fmt.Sprintf("exists %d times; lxcplan changes nothing it cannot identify", len(v.owned[c.Name]))
		case o == nil && v.hostDown(c):
			r.State = stateUnknown
			r.Note = fmt.Sprintf("host %s could not be observed", c.Host)
		case o == nil:
			r.State = stateMissing
			r.Note = "will be created on apply"
		default:
			r.Node, r.VMID, r.State, r.IP = o.ct.Node, o.ct.VMID, stateOf(o), addressOf(c, o)
			if o.host != "" {
				r.Host = o.host
			}
			if ch := changes[c.Name]; ch != nil {
				r.Drift = ch.Drift
			}
		}
		switch {
		case r.State == stateRunning && o.host == "":
			r.Health, r.HealthError = "unhealthy", fmt.Sprintf("node %s is not a reachable host of the stack", o.ct.Node)
		case r.State == stateStopped:
			r.Health, r.HealthError = "unhealthy", "the container is stopped"
		}
		rows[i] = r
		if r.State == stateRunning && r.Health == "" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rows[i].Health, rows[i].HealthError = v.probe(ctx, c, o, vals[c.Name])
			}()
		}
	}
	wg.Wait()
	for _, name := range v.orphans() {
		for _, o := range v.owned[name] {
			rows = append(rows, statusRow{Name: name, Host: o.host, Node: o.ct.Node, VMID: o.ct.VMID, State: stateOf(o),
				IP: addressOf(nil, o), Note: "orphaned: will be destroyed on apply"})
		}
	}
	return rows
}

// probe runs c's health probe once; the error text is masked.
func (v *stackView) probe(ctx context.Context, c *model.Container, o *ownedCT, cv *containerValues) (health, why string) {
	if cv == nil || cv.err != nil {
		why := "its values could not be computed"
		if cv != nil {
			why = v.reg.String(cv.err.Error())
		}
		return "unhealthy", why
	}
	r, err := v.runner(ctx, o.host)
	if err != nil {
		return "unhealthy", v.reg.String(err.Error())
	}
	pctx, cancel := context.WithTimeout(ctx, statusProbeLimit)
	defer cancel()
	if err := provision.Probe(pctx, r, c, o.ct.VMID, cv.vals); err != nil {
		return "unhealthy", v.reg.String(err.Error())
	}
	return "healthy", ""
}

// containerValues are a container's resolved params and outputs.
type containerValues struct {
	vals    *provision.Values
	outputs map[string]provision.Output
	err     error
}

// values resolves every found container's params and outputs, in
// dependency order: outputs of a dependency feed its dependents' params
// (${containers.db.outputs.password}). Generated secrets are read from the
// cluster once; they are registered for masking before anything else sees
// them.
func (v *stackView) values(ctx context.Context) map[string]*containerValues {
	out := map[string]*containerValues{}
	stored, serr := v.loadSecrets(ctx)
	deps := map[string]provision.Dep{}
	var visit func(c *model.Container, seen map[string]bool) *containerValues
	visit = func(c *model.Container, seen map[string]bool) *containerValues {
		if cv, ok := out[c.Name]; ok {
			return cv
		}
		cv := &containerValues{}
		out[c.Name] = cv
		if seen[c.Name] {
			cv.err = fmt.Errorf("container %s: dependency cycle", c.Name)
			return cv
		}
		seen[c.Name] = true
		for _, dep := range c.DependsOn {
			if dc := v.d.Container(dep.Name); dc != nil {
				visit(dc, seen)
			}
		}
		o := v.find(c.Name)
		if o == nil {
			cv.err = fmt.Errorf("container %s does not exist", c.Name)
			return cv
		}
		gen := stored[c.Name]
		if serr != nil && needsGenerated(c) {
			cv.err = serr
			return cv
		}
		hostname := c.Hostname
		if o.ct.Config != nil && o.ct.Config.Options["hostname"] != "" {
			hostname = o.ct.Config.Options["hostname"]
		}
		self := provision.Self{IP: addressOf(c, o), Hostname: hostname, VMID: o.ct.VMID}
		vals, err := provision.NewValues(c, self, gen, provision.DepMap(deps))
		if err != nil {
			cv.err = err
			return cv
		}
		v.reg.Add(vals.Redact()...)
		cv.vals = vals
		outs, err := provision.Outputs(c, vals)
		if err != nil {
			cv.err = err
			return cv
		}
		for _, o := range outs {
			if o.Secret {
				v.reg.Add(o.Value)
			}
		}
		cv.outputs = outs
		deps[c.Name] = provision.Dep{IP: self.IP, Hostname: hostname, VMID: self.VMID, Outputs: outs}
		return cv
	}
	for _, c := range v.d.Containers {
		visit(c, map[string]bool{})
	}
	return out
}

func needsGenerated(c *model.Container) bool {
	for _, p := range c.Params {
		if p.Generate != nil && p.Value == "" {
			return true
		}
	}
	return false
}

// loadSecrets reads the stack's generated secrets through the first
// reachable host (/etc/pve is the same on every node of a cluster).
func (v *stackView) loadSecrets(ctx context.Context) (map[string]map[string]string, error) {
	var r transport.Runner
	for _, k := range v.obs.HostKeys() {
		if h := v.obs.Host(k); h != nil && h.Reachable {
			if rr, err := v.runner(ctx, k); err == nil {
				r = rr
				break
			}
		}
	}
	if r == nil {
		return nil, errors.New("no host could be reached to read the stack's secrets")
	}
	st := &secrets.Store{Runner: r, Stack: v.d.Stack.Name, Redactor: v.reg}
	return st.Load(ctx)
}

func writeStatusTable(w io.Writer, rows []statusRow) error {
	var buf strings.Builder
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER\tHOST\tNODE\tVMID\tSTATE\tIP\tHEALTH\tDRIFT\tNOTE")
	for _, r := range rows {
		vmid := "-"
		if r.VMID != 0 {
			vmid = strconv.Itoa(r.VMID)
		}
		drift := "-"
		if r.State != stateMissing && r.State != stateUnknown && r.Declared {
			drift = yesNo(r.Drift)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, cellOr(r.Host), cellOr(r.Node), vmid, r.State,
			cellOr(r.IP), cellOr(r.Health), drift, strings.TrimSpace(r.Note))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The NOTE column is mostly empty: no trailing blanks on those lines.
	var out strings.Builder
	for _, l := range strings.SplitAfter(buf.String(), "\n") {
		if strings.HasSuffix(l, "\n") {
			out.WriteString(strings.TrimRight(l, " \n") + "\n")
		} else {
			out.WriteString(l)
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// cellOr is a table cell: "-" for nothing.
func cellOr(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
