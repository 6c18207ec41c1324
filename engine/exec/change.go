package exec

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/lxcplan/lxcplan/engine/journal"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/provision"
	"github.com/lxcplan/lxcplan/engine/pve"
	"github.com/lxcplan/lxcplan/engine/secrets"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// ct is one container being worked on.
type ct struct {
	ch   *plan.Change
	c    *model.Container
	cr   *ContainerResult
	host string // stack host key it lives on (after a migrate: the target)
	vmid int
	ip   string
	vals *provision.Values
}

func (r *run) ev(x *ct, phase, msg string) {
	r.em.emit(Event{Container: x.c.Name, Host: x.host, VMID: x.vmid, Phase: phase, Message: msg})
}

func (r *run) node(host string) string {
	if h := r.in.State.Host(host); h != nil && h.Node != "" {
		return h.Node
	}
	return host
}

// change runs one container's change; signal releases dependents waiting
// for "started" or "healthy".
func (r *run) change(ctx context.Context, ch *plan.Change, cr *ContainerResult, signal func(string)) error {
	c := r.in.Desired.Container(ch.Container)
	if c == nil {
		return fmt.Errorf("container %s is not in the stack", ch.Container)
	}
	x := &ct{ch: ch, c: c, cr: cr, host: c.Host, vmid: ch.VMID}
	switch ch.Action {
	case plan.ActionNoOp:
		return r.unchanged(ctx, x)
	case plan.ActionCreate, plan.ActionReplace:
		return r.create(ctx, x, signal)
	}
	return r.modify(ctx, x, signal)
}

// unchanged publishes what an untouched container exposes to its
// dependents; it runs no command.
func (r *run) unchanged(ctx context.Context, x *ct) error {
	if m := r.markers[x.c.Name]; m != nil {
		x.ip = m.Addresses[ifaceOf(x.c)]
	}
	if x.ip == "" {
		x.ip = bareAddr(x.c.Network.IP)
	}
	if !r.in.Plan.HasChanges() {
		return nil
	}
	if err := r.values(ctx, x, false); err != nil {
		return err
	}
	r.publish(x, x.ch.Apply)
	r.ev(x, PhaseUnchanged, "up to date")
	return nil
}

func ifaceOf(c *model.Container) string {
	if c.Network.Name != "" {
		return c.Network.Name
	}
	return "eth0"
}

// values resolves the container's params, generating missing secrets on
// the cluster (journaled: a secret made by a failed first create is removed
// again, so the cluster ends as it was).
func (r *run) values(ctx context.Context, x *ct, create bool) error {
	gen := map[string]string{}
	for _, name := range x.c.ParamNames() {
		p := x.c.Params[name]
		if p.Generate == nil || p.Value != "" {
			continue
		}
		if v, ok := r.stored[x.c.Name][name]; ok {
			gen[name] = v
			continue
		}
		g := secrets.Generate{Length: p.Generate.Length, Charset: p.Generate.Charset}
		if r.opts.DryRun {
			v, err := g.New()
			if err != nil {
				return fmt.Errorf("generate %s.%s: %w", x.c.Name, name, err)
			}
			r.opts.Secrets.Add(v)
			gen[name] = v
			continue
		}
		dir := r.opts.SecretsDir
		if dir == "" {
			dir = secrets.DefaultDir
		}
		file := path.Join(dir, r.in.Plan.Stack, x.c.Name+"."+name)
		var v string
		err := r.step(journal.Step{Host: r.storeHost(), Container: x.c.Name, ID: "secret/" + name,
			Description: "generate secret " + x.c.Name + "." + name,
			// The store writes FILE.new.PID first; an interrupted write
			// leaves that behind, so the undo removes both (fixed script,
			// the path as a positional parameter).
			Undo: [][]string{{"sh", "-c", `rm -f -- "$1" "$1".new.*`, "sh", file}}}, func() error {
			var err error
			v, err = r.store.GetOrCreate(ctx, x.c.Name, name, g)
			return err
		})
		if err != nil {
			return fmt.Errorf("secret %s.%s: %w", x.c.Name, name, err)
		}
		gen[name] = v
	}
	vals, err := provision.NewValues(x.c, provision.Self{IP: x.ip, Hostname: x.c.Hostname, VMID: x.vmid}, gen, r.depLookup)
	if err != nil {
		return fmt.Errorf("container %s: %w", x.c.Name, err)
	}
	r.opts.Secrets.Add(vals.Redact()...)
	x.vals = vals
	return nil
}

// storeHost is the host key the secret store's runner belongs to.
func (r *run) storeHost() string {
	for _, k := range r.in.State.HostKeys() {
		if _, ok := r.hosts[k]; ok {
			return k
		}
	}
	for k := range r.hosts {
		return k
	}
	return ""
}

func (r *run) depLookup(name string) (provision.Dep, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.deps[name]
	return d, ok
}

// publish makes the container's address and outputs available to its
// dependents, and records the marker the next plan will read.
func (r *run) publish(x *ct, ai *plan.ApplyInputs) {
	outs, err := provision.Outputs(x.c, x.vals)
	if err != nil {
		outs = nil
	}
	for _, o := range outs {
		if o.Secret {
			r.opts.Secrets.Add(o.Value)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deps[x.c.Name] = provision.Dep{IP: x.ip, Hostname: x.c.Hostname, VMID: x.vmid, Outputs: outs}
	x.cr.IP, x.cr.Outputs, x.cr.VMID = x.ip, outs, x.vmid
	if ai != nil {
		r.markers[x.c.Name] = ai.Marker.Marker(r.in.Plan.Stack, x.c.Name, plan.StateReady, addrMap(x))
	}
}

func addrMap(x *ct) map[string]string {
	if x.ip == "" {
		return nil
	}
	return map[string]string{ifaceOf(x.c): x.ip}
}

// create runs the create path (and the second half of a replace).
func (r *run) create(ctx context.Context, x *ct, signal func(string)) error {
	ch, c := x.ch, x.c
	if ch.Action == plan.ActionReplace {
		old := ch.Host
		if old == "" {
			old = c.Host
		}
		if err := r.destroyCT(ctx, old, ch.VMID, c.Name, r.observed(ch)); err != nil {
			return err
		}
	}
	if ch.Template == nil || ch.Template.VolID == "" {
		return fmt.Errorf("container %s: no template resolved (%s)", c.Name, templateStatus(ch))
	}
	r.ev(x, PhaseTemplate, ch.Template.VolID)
	if err := r.ensureTemplate(ctx, x.host, ch.Template); err != nil {
		return err
	}
	if x.vmid == 0 {
		r.ev(x, PhaseAllocating, "")
		id, err := r.allocate(ctx, x.host, 0)
		if err != nil {
			return err
		}
		x.vmid = id
	}
	x.cr.VMID = x.vmid
	for attempt := 1; ; attempt++ {
		err := r.pctCreate(ctx, x)
		if err == nil {
			break
		}
		if !errors.Is(err, pve.ErrAlreadyExists) || ch.VMID != 0 || attempt >= 5 {
			return err
		}
		r.ev(x, PhaseRetry, fmt.Sprintf("vmid %d was taken meanwhile; allocating another", x.vmid))
		id, aerr := r.allocate(ctx, x.host, x.vmid+1)
		if aerr != nil {
			return aerr
		}
		x.vmid, x.cr.VMID = id, id
	}
	if err := r.startCT(ctx, x); err != nil {
		return err
	}
	if err := r.waitAddress(ctx, x); err != nil {
		return err
	}
	if c.GPU != "" && c.GPU != "none" {
		if err := r.fixGPU(ctx, x); err != nil {
			return err
		}
	}
	if err := r.values(ctx, x, true); err != nil {
		return err
	}
	r.publish(x, ch.Apply)
	signal(string(model.CondStarted))
	if ch.Apply != nil && ch.Apply.HA != nil {
		if err := r.haAdd(ctx, x, ch.Apply.HA); err != nil {
			return err
		}
	}
	if err := r.install(ctx, x, 0, false); err != nil {
		return err
	}
	if err := r.health(ctx, x); err != nil {
		return err
	}
	signal(string(model.CondHealthy))
	return r.writeMarker(ctx, x, "")
}

func templateStatus(ch *plan.Change) string {
	if ch.Template == nil {
		return "none"
	}
	return ch.Template.Status
}

// ensureTemplate makes sure the template is on the host's storage: one
// pveam download per host and storage, whatever the number of containers
// that need it, verified with pveam list.
func (r *run) ensureTemplate(ctx context.Context, host string, t *plan.Template) error {
	if t.Status == plan.TemplatePresent {
		return nil
	}
	key := host + "\x00" + t.Storage + "\x00" + t.VolID
	r.tmu.Lock()
	o, ok := r.tmpls[key]
	if !ok {
		o = &onceErr{done: make(chan struct{})}
		r.tmpls[key] = o
	}
	r.tmu.Unlock()
	if ok {
		select {
		case <-o.done:
			return o.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	o.err = r.downloadTemplate(ctx, host, t)
	close(o.done)
	return o.err
}

func (r *run) downloadTemplate(ctx context.Context, host string, t *plan.Template) error {
	present := func() (bool, error) {
		res, err := r.pveRead(ctx, host, pve.PveamList(t.Storage))
		if err != nil {
			return false, fmt.Errorf("pveam list %s on %s: %w", t.Storage, host, err)
		}
		return strings.Contains(string(res.Stdout), t.VolID), nil
	}
	if ok, err := present(); err != nil || ok {
		return err
	}
	argv := pve.PveamDownload(t.Storage, templateName(t.VolID))
	r.em.emit(Event{Host: host, Phase: PhaseTemplate, Message: "downloading " + t.VolID})
	// A downloaded template is kept on failure: it is a cache, not part of
	// the stack, and other stacks may use it.
	if err := r.step(journal.Step{Host: host, ID: "template", Description: "download " + t.VolID, Do: argv}, func() error {
		_, err := r.pveRun(ctx, host, argv, nil)
		return err
	}); err != nil {
		return fmt.Errorf("pveam download %s on %s: %w", t.VolID, host, err)
	}
	if r.opts.DryRun {
		return nil
	}
	if ok, err := present(); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("template %s not in pveam list %s after download", t.VolID, t.Storage)
		}
		return err
	}
	return nil
}

// allocate picks a vmid free cluster-wide and not handed out in this run.
// The stack lock is held, so no other run of this stack competes; another
// stack (or a person) may still take the id, which pct create reports as
// "already exists" and the caller retries.
func (r *run) allocate(ctx context.Context, host string, atLeast int) (int, error) {
	r.alloc.Lock()
	defer r.alloc.Unlock()
	res, err := r.pveRead(ctx, host, pve.PveshNextID(0))
	if err != nil {
		return 0, fmt.Errorf("pvesh get /cluster/nextid on %s: %w", host, err)
	}
	id, err := pve.ParseNextID(res.Stdout)
	if err != nil {
		if !r.opts.DryRun {
			return 0, fmt.Errorf("pvesh get /cluster/nextid on %s: %w", host, err)
		}
		id = 100
	}
	id = max(id, atLeast, r.nextTry)
	for tries := 0; tries < 100; tries++ {
		if r.reserved[id] {
			id++
			continue
		}
		_, err := r.pveRead(ctx, host, pve.PveshNextID(id))
		if err == nil {
			r.reserved[id] = true
			r.nextTry = id + 1
			return id, nil
		}
		var xe *transport.ExitError
		if !errors.As(err, &xe) {
			return 0, fmt.Errorf("check vmid %d on %s: %w", id, host, err)
		}
		id++
	}
	return 0, fmt.Errorf("no free vmid found from %d on %s", id-100, host)
}

// pctCreate journals and runs pct create.
//
// The undo (stop, destroy) is journaled right after pct create returns,
// not before: when the id was taken meanwhile ("already exists"), an undo
// journaled beforehand would destroy someone else's container. A create
// interrupted by a crash in that window leaves a container whose marker says
// "creating", which the next plan replaces.
func (r *run) pctCreate(ctx context.Context, x *ct) error {
	ai := x.ch.Apply
	set := map[string]string{}
	for k, v := range ai.Set {
		set[k] = v
	}
	set["description"] = ai.Marker.Marker(r.in.Plan.Stack, x.c.Name, plan.StateCreating, nil).Render(ai.Description)
	argv := optionArgv([]string{"pct", "create", strconv.Itoa(x.vmid), x.ch.Template.VolID}, set, nil)
	r.ev(x, PhaseCreating, "pct create")
	undo := [][]string{pve.PctStop(x.vmid, pve.StopOptions{}), pve.PctDestroy(x.vmid, pve.DestroyOptions{Purge: true})}
	_, err := r.pveRun(ctx, x.host, argv, r.retryEv(x))
	r.mu.Lock()
	r.mutations++
	r.mu.Unlock()
	if errors.Is(err, pve.ErrAlreadyExists) {
		return fmt.Errorf("pct create %d on %s: %w", x.vmid, x.host, err)
	}
	if r.j != nil {
		id, jerr := r.j.Begin(journal.Step{Host: x.host, Container: x.c.Name, ID: "create",
			Description: fmt.Sprintf("create CT %d", x.vmid), Do: argv, Undo: undo})
		if jerr != nil {
			return fmt.Errorf("journal create: %w", jerr)
		}
		if err != nil {
			_ = r.j.Failed(id, err)
		} else if jerr := r.j.Done(id); jerr != nil {
			return fmt.Errorf("journal create: %w", jerr)
		}
	}
	if err != nil {
		return fmt.Errorf("pct create %d on %s: %w", x.vmid, x.host, err)
	}
	return nil
}

func (r *run) retryEv(x *ct) func(int, error) {
	return func(attempt int, err error) {
		r.em.emit(Event{Container: x.c.Name, Host: x.host, VMID: x.vmid, Phase: PhaseRetry,
			Message: fmt.Sprintf("attempt %d failed, retrying", attempt), Err: err})
	}
}

// startCT starts a stopped container (its undo is the create's stop).
func (r *run) startCT(ctx context.Context, x *ct) error {
	argv := pve.PctStart(x.vmid, pve.StartOptions{})
	r.ev(x, PhaseStarting, "")
	return r.step(journal.Step{Host: x.host, Container: x.c.Name, ID: "start", Description: fmt.Sprintf("start CT %d", x.vmid),
		Do: argv, Undo: [][]string{pve.PctStop(x.vmid, pve.StopOptions{})}}, func() error {
		if _, err := r.pveRun(ctx, x.host, argv, r.retryEv(x)); err != nil {
			return fmt.Errorf("pct start %d on %s: %w", x.vmid, x.host, err)
		}
		return nil
	})
}

// waitAddress waits for the container's address (bounded, logged).
func (r *run) waitAddress(ctx context.Context, x *ct) error {
	r.ev(x, PhaseNetwork, "waiting for "+ifaceOf(x.c)+" address")
	if r.opts.DryRun {
		x.ip = bareAddr(x.c.Network.IP)
		if x.ip == "" {
			x.ip = "0.0.0.0"
		}
		return nil
	}
	ip, err := provision.WaitForAddress(ctx, r.hosts[x.host], r.node(x.host), x.vmid, x.c.Network.IP, r.opts.AddressTimeout, func(w provision.WaitEvent) {
		r.ev(x, PhaseNetwork, fmt.Sprintf("try %d: %s", w.Attempt, w.Message))
	})
	if err != nil {
		return fmt.Errorf("container %s (%d): wait for address: %w", x.c.Name, x.vmid, err)
	}
	x.ip = ip
	r.ev(x, PhaseNetwork, "address "+ip)
	return nil
}

// install runs the recipe's install steps from `from` (or its update steps).
func (r *run) install(ctx context.Context, x *ct, from int, update bool) error {
	if x.c.Loaded == nil {
		return fmt.Errorf("container %s: recipe %s is not loaded", x.c.Name, x.c.Recipe.Raw)
	}
	steps := x.c.Loaded.Install
	if update {
		steps = x.c.Loaded.Update
	}
	if len(steps) == 0 || from < 0 || from >= len(steps) {
		return nil
	}
	var p *provision.Provisioner
	if r.opts.Provisioner != nil {
		p = r.opts.Provisioner(x.host, r.hosts[x.host])
	} else {
		p = &provision.Provisioner{Runner: r.hosts[x.host], Sleep: r.opts.Sleep}
	}
	obs := func(e provision.StepEvent) {
		msg := fmt.Sprintf("step %d/%d: %s: %s", e.Index+1, len(steps), e.Kind, e.Description)
		switch e.Phase {
		case provision.PhaseStart:
			r.ev(x, PhaseInstalling+fmt.Sprintf(" step %d/%d", e.Index+1, len(steps)), msg)
		case provision.PhaseRetry:
			r.em.emit(Event{Container: x.c.Name, Host: x.host, VMID: x.vmid, Phase: PhaseRetry, Message: msg, Err: e.Err})
		}
	}
	what := "install"
	if update {
		what = "update"
	}
	// The steps' own undo is the snapshot (reprovision, upgrade) or the
	// container's destroy (create): file contents may hold secrets and are
	// never replayed from the journal.
	return r.step(journal.Step{Host: x.host, Container: x.c.Name, ID: what, Description: fmt.Sprintf("run %s steps %d-%d in CT %d", what, from+1, len(steps), x.vmid)}, func() error {
		if update {
			return p.RunUpdate(ctx, x.c, x.vmid, x.vals, obs)
		}
		return p.Run(ctx, x.c, x.vmid, x.vals, from, obs)
	})
}

// health waits for the recipe's health probe.
func (r *run) health(ctx context.Context, x *ct) error {
	if r.opts.DryRun || x.c.Loaded == nil || x.c.Loaded.Health == nil {
		return nil
	}
	r.ev(x, PhaseHealth, "")
	err := provision.WaitHealthy(ctx, r.hosts[x.host], x.c, x.vmid, x.vals, func(w provision.WaitEvent) {
		r.ev(x, PhaseHealth, fmt.Sprintf("try %d: %s", w.Attempt, w.Message))
	})
	if err != nil {
		return fmt.Errorf("container %s (%d): %w", x.c.Name, x.vmid, err)
	}
	return nil
}

// writeMarker sets the marker to ready with the fingerprints computed from
// the values this run learned (a dependency's DHCP address), so the next
// plan computes the same and is a no-op. oldDesc, when set, is what the
// undo puts back.
func (r *run) writeMarker(ctx context.Context, x *ct, oldDesc string) error {
	ai := x.ch.Apply
	r.mu.Lock()
	markers := make(map[string]*plan.Marker, len(r.markers))
	for k, v := range r.markers {
		markers[k] = v
	}
	r.mu.Unlock()
	md := plan.NewMarkerDoc(x.c, r.in.Plan.Stack, ai.Marker.Template, r.opts.SecretKey, plan.NewResolver(r.in.Desired, markers))
	m := md.Marker(r.in.Plan.Stack, x.c.Name, plan.StateReady, addrMap(x))
	user := ai.Description
	if user == "" && oldDesc != "" {
		user, _, _ = plan.SplitDescription(oldDesc)
	}
	argv := pctSet(x.vmid, map[string]string{"description": m.Render(user)}, nil)
	var undo [][]string
	if oldDesc != "" {
		undo = [][]string{pctSet(x.vmid, map[string]string{"description": oldDesc}, nil)}
	}
	r.ev(x, PhaseReady, "")
	err := r.step(journal.Step{Host: x.host, Container: x.c.Name, ID: "marker", Description: fmt.Sprintf("mark CT %d ready", x.vmid), Do: argv, Undo: undo}, func() error {
		if _, err := r.pveRun(ctx, x.host, argv, r.retryEv(x)); err != nil {
			return fmt.Errorf("pct set %d --description on %s: %w", x.vmid, x.host, err)
		}
		return nil
	})
	if err == nil {
		r.mu.Lock()
		r.markers[x.c.Name] = m
		r.mu.Unlock()
	}
	return err
}

// haAdd puts the container under HA.
func (r *run) haAdd(ctx context.Context, x *ct, ha map[string]string) error {
	h := pve.HAOptions{State: ha["state"], Group: ha["group"]}
	if v, err := strconv.Atoi(ha["max_restart"]); err == nil {
		h.MaxRestart = &v
	}
	if v, err := strconv.Atoi(ha["max_relocate"]); err == nil {
		h.MaxRelocate = &v
	}
	argv := pve.HAAdd(x.vmid, h)
	return r.step(journal.Step{Host: x.host, Container: x.c.Name, ID: "ha", Description: "add ct:" + strconv.Itoa(x.vmid) + " to HA",
		Do: argv, Undo: [][]string{pve.HARemove(x.vmid, pve.Unset)}}, func() error {
		if _, err := r.pveRun(ctx, x.host, argv, r.retryEv(x)); err != nil {
			return fmt.Errorf("ha-manager add ct:%d: %w", x.vmid, err)
		}
		return nil
	})
}

// fixGPU applies the render/video group ids of the container's own
// /etc/group to its GPU device entries (helper-scripts §3): the ids differ
// between distributions, and a wrong gid leaves the device unusable.
func (r *run) fixGPU(ctx context.Context, x *ct) error {
	if r.opts.DryRun {
		return nil
	}
	res, err := r.hosts[x.host].Run(ctx, transport.Command{Argv: pve.PctExec(x.vmid, pve.Unset, "cat", "/etc/group"), ReadOnly: true})
	if err != nil {
		return fmt.Errorf("read /etc/group of CT %d: %w", x.vmid, err)
	}
	gids := groupIDs(string(res.Stdout))
	set := map[string]string{}
	for k, v := range x.ch.Apply.Set {
		if !strings.HasPrefix(k, "dev") {
			continue
		}
		d, err := pve.ParseDev(k, v)
		if err != nil || !d.HasGID {
			continue
		}
		group := "video"
		if strings.HasPrefix(d.Path, "/dev/dri/renderD") || d.Path == "/dev/kfd" {
			group = "render"
		}
		if gid, ok := gids[group]; ok && gid != d.GID {
			d.GID = gid
			set[k] = d.String()
		}
	}
	if len(set) == 0 {
		return nil
	}
	argv := pctSet(x.vmid, set, nil)
	r.ev(x, PhaseConfiguring, "gpu group ids from the container's /etc/group")
	if err := r.step(journal.Step{Host: x.host, Container: x.c.Name, ID: "gpu", Description: "set GPU device gids", Do: argv}, func() error {
		_, err := r.pveRun(ctx, x.host, argv, r.retryEv(x))
		return err
	}); err != nil {
		return fmt.Errorf("pct set %d (gpu gids): %w", x.vmid, err)
	}
	reboot := pve.PctReboot(x.vmid, 0)
	return r.step(journal.Step{Host: x.host, Container: x.c.Name, ID: "restart", Description: "restart for GPU gids", Do: reboot}, func() error {
		_, err := r.pveRun(ctx, x.host, reboot, r.retryEv(x))
		return err
	})
}

// groupIDs parses /etc/group into name → gid.
func groupIDs(s string) map[string]int {
	out := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 {
			continue
		}
		if n, err := strconv.Atoi(f[2]); err == nil {
			out[f[0]] = n
		}
	}
	return out
}
