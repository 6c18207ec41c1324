package plan

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/lxcplan/lxcplan/engine/dag"
	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/pve"
)

// Options tune Diff.
type Options struct {
	// SecretKey is the stack's HMAC key for the secret half of fingerprints
	// (kept on the cluster). Without it secret values are not compared and
	// a warning says so.
	SecretKey []byte
	// Resolver yields dependency values; nil uses [NewResolver] over the
	// desired state and the observed markers.
	Resolver Resolver
	// Catalog is `pveam available` per stack host key; a host missing from
	// the map has an unknown catalog (templates are then "downloaded if
	// available").
	Catalog map[string][]pve.AvailableTemplate
	// Targets limits the plan to these containers and what they depend on
	// (--target); destroys are then planned only for named containers.
	Targets []string
	// StackFile is recorded in the document as given.
	StackFile string
}

// sizeTolerance absorbs PVE's size rounding (fractional GiB stored in K or M
// units): differences below it are not changes.
const sizeTolerance = 4 * pve.MiB

// restartKeys need a restart to take effect (design.md §7).
var restartKeys = map[string]bool{"features": true, "nameserver": true, "searchdomain": true, "timezone": true}

// found is an observed container owned by the stack.
type found struct {
	cl *inventory.Cluster
	ct *inventory.Container
	m  *Marker
}

// differ carries one Diff call's inputs.
type differ struct {
	d      *model.Desired
	obs    *inventory.State
	opts   Options
	stack  string
	res    Resolver
	owned  map[string][]found
	byName map[string]*model.Container
	blind  map[string]bool // cluster IDs with unreadable configs carrying our tags
	ds     diag.Diagnostics
	need   map[[2]string]int64    // (host, storage) → bytes to allocate
	needBy map[[2]string][]string // container names per (host, storage)
}

// Diff compares the desired state with the observed one and returns the
// plan. The diagnostics (also in the plan document) include the
// observation's own (obs.Diagnostics()), so an offline plan reports the
// same as a live one; errors among them mean the plan must not be applied.
func Diff(d *model.Desired, obs *inventory.State, opts Options) (*Plan, diag.Diagnostics) {
	if obs == nil {
		obs = &inventory.State{Hosts: map[string]*inventory.Host{}}
	}
	df := &differ{d: d, obs: obs, opts: opts, owned: map[string][]found{}, blind: map[string]bool{},
		need: map[[2]string]int64{}, needBy: map[[2]string][]string{}}
	if d.Stack != nil {
		df.stack = d.Stack.Name
	}
	df.ds = append(df.ds, obs.Diagnostics()...)
	df.index()
	markers := map[string]*Marker{}
	for n, fs := range df.owned {
		markers[n] = fs[0].m
	}
	df.res = opts.Resolver
	if df.res == nil {
		df.res = NewResolver(d, markers)
	}
	if len(opts.SecretKey) == 0 && df.usesSecrets() {
		df.ds = append(df.ds, diag.Diagnostic{Severity: diag.SevWarning, Class: diag.ClassHost,
			Summary: "the stack's secret key is not available: changes to secret values are not detected",
			Detail:  "plan against the hosts (not an exported inventory) to compare secrets"})
	}

	p := &Plan{FormatVersion: FormatVersion, Stack: df.stack, StackFile: opts.StackFile}
	order, targeted := df.order()
	byName := make(map[string]*model.Container, len(d.Containers))
	for _, c := range d.Containers {
		byName[c.Name] = c
	}
	df.byName = byName
	for _, name := range order {
		c := byName[name]
		if c == nil {
			continue
		}
		p.Changes = append(p.Changes, df.container(c))
	}
	p.Changes = append(p.Changes, df.destroys(targeted)...)
	df.checkFreeSpace()

	for _, ch := range p.Changes {
		ch.Destructive = ch.Action.Destructive()
		ch.Rollback = RollbackOf(ch.Action)
		p.Summary.add(ch.Action)
		p.Destructive = p.Destructive || ch.Destructive
	}
	df.ds.Sort()
	p.Diagnostics = docDiagnostics(df.ds, scrubber(d.Stack))
	return p, df.ds
}

// index finds the containers the stack owns, in every readable cluster.
func (df *differ) index() {
	for _, cl := range df.obs.Clusters {
		if cl.Error != "" {
			continue
		}
		for _, ct := range cl.Containers {
			if ct.Config == nil {
				if ct.HasTag(OwnerTag) && ct.HasTag(strings.ToLower(df.stack)) {
					// Tagged for this stack but unreadable: which container
					// it is cannot be told, so none of the cluster's
					// missing containers is planned as create.
					df.blind[cl.ID] = true
				}
				continue
			}
			tags := ct.Tags
			if len(tags) == 0 {
				tags = pve.SplitList(ct.Config.Options["tags"])
			}
			if m, ok := Owns(tags, ct.Description(), df.stack); ok {
				df.owned[m.Container] = append(df.owned[m.Container], found{cl: cl, ct: ct, m: m})
			}
		}
	}
}

func (df *differ) usesSecrets() bool {
	for _, c := range df.d.Containers {
		for _, p := range c.Params {
			if p.Secret && p.Generate == nil {
				return true
			}
		}
	}
	return false
}

// order is the DAG order of the containers to plan (ties by name), and the
// target set when --target was given.
func (df *differ) order() ([]string, map[string]bool) {
	g := dag.New[string]()
	for _, c := range df.d.Containers {
		g.AddNode(c.Name)
	}
	for _, c := range df.d.Containers {
		for _, dep := range c.DependsOn {
			if g.HasNode(dep.Name) {
				g.DependsOn(c.Name, dep.Name)
			}
		}
	}
	var targeted map[string]bool
	if len(df.opts.Targets) > 0 {
		targeted = map[string]bool{}
		known := []string{}
		for _, t := range df.opts.Targets {
			targeted[t] = true
			if g.HasNode(t) {
				known = append(known, t)
			} else if _, owned := df.owned[t]; !owned {
				df.ds = append(df.ds, diag.Errorf(diag.ClassUsage, diag.Pos{}, "", "--target %s: no such container in stack %s", t, df.stack))
			}
		}
		sub, err := g.Subgraph(known...)
		if err == nil {
			g = sub
		}
	}
	order, err := g.TopoOrder()
	if err != nil {
		df.ds = append(df.ds, diag.Errorf(diag.ClassInput, diag.Pos{}, "", "%v", err))
		order = g.Nodes()
	}
	return order, targeted
}

// container plans one desired container.
func (df *differ) container(c *model.Container) *Change {
	ch := &Change{Container: c.Name, Host: c.Host, VMID: c.VMID, DependsOn: depNames(c)}
	h := df.obs.Host(c.Host)
	cl := df.obs.ClusterOf(c.Host)
	if h != nil {
		ch.Node = h.Node
	}
	desired := DesiredConfig(c, df.stack)
	fs := df.owned[c.Name]
	if len(fs) > 1 {
		var where []string
		for _, f := range fs {
			where = append(where, fmt.Sprintf("%d on %s", f.ct.VMID, f.ct.Node))
		}
		df.ds = append(df.ds, diag.Diagnostic{Severity: diag.SevError, Class: diag.ClassHost, Pos: c.Pos, Path: cpath(c),
			Summary: fmt.Sprintf("container %s of stack %s exists more than once: %s", c.Name, df.stack, strings.Join(where, ", ")),
			Detail:  "destroy the extra copies by hand; lxcplan changes nothing it cannot identify"})
		return unknown(ch, "it exists more than once")
	}
	if h == nil {
		df.ds = append(df.ds, diag.Diagnostic{Severity: diag.SevError, Class: diag.ClassHost, Pos: c.Pos, Path: cpath(c) + ".host",
			Host: c.Host, Summary: fmt.Sprintf("host %s was not observed", c.Host)})
	}
	if len(fs) == 0 {
		if h == nil || !h.Reachable || cl == nil || cl.Error != "" {
			return unknown(ch, fmt.Sprintf("host %s could not be observed", c.Host))
		}
		if df.blind[cl.ID] {
			return unknown(ch, "a container config of this stack could not be read")
		}
		return df.create(c, ch, h, cl, desired)
	}
	if h == nil || !h.Reachable {
		ch.VMID, ch.Node = fs[0].ct.VMID, fs[0].ct.Node
		return unknown(ch, fmt.Sprintf("host %s could not be observed", c.Host))
	}
	return df.existing(c, ch, h, cl, fs[0], desired)
}

func unknown(ch *Change, why string) *Change {
	ch.Action, ch.Unknown = ActionNoOp, true
	ch.Reason = "state unknown: " + why
	return ch
}

func cpath(c *model.Container) string { return "containers." + c.Name }

func depNames(c *model.Container) []string {
	out := []string{}
	for _, d := range c.DependsOn {
		out = append(out, d.Name)
	}
	sort.Strings(out)
	return out
}

// create plans a container that exists nowhere.
func (df *differ) create(c *model.Container, ch *Change, h *inventory.Host, cl *inventory.Cluster, desired map[string]Option) *Change {
	ch.Action = ActionCreate
	ch.Reason = "not found on any host"
	ch.Template = df.template(c, h)
	ch.Fields = createFields(desired)
	ch.Fields = append(ch.Fields, df.paramFields(c)...)
	ch.Steps = installSteps(c, 0)
	ch.Fields = append(ch.Fields, field("unprivileged", "", boolText(c.Unprivileged)))
	sortFields(ch.Fields)
	ch.Apply = df.applyInputs(c, desired, ch.Template.VolID, 0)
	ch.Apply.Set = createSet(c, desired)
	ch.Apply.Description = c.Description
	ch.Apply.HA = haInputs(c)
	if ch.Apply.HA != nil {
		ch.Fields = append(ch.Fields, field("ha.state", "", c.HA.State))
	}
	df.checkDescription(c, c.Description, ch.Apply.Marker)
	df.preflight(c, ch, h, cl, desired, nil, 0)
	return ch
}

// existing plans a container the stack owns.
func (df *differ) existing(c *model.Container, ch *Change, h *inventory.Host, cl *inventory.Cluster, f found, desired map[string]Option) *Change {
	ct, m := f.ct, f.m
	ch.VMID, ch.Node = ct.VMID, ct.Node
	ch.Base = &Base{Node: ct.Node, VMID: ct.VMID, Digest: ct.Digest}
	if ch.Base.Digest == "" {
		ch.Base.Digest = pve.Digest([]byte(ct.ConfigText))
	}
	if c.VMID != 0 && c.VMID != ct.VMID {
		df.ds = append(df.ds, diag.Errorf(diag.ClassInput, c.Pos, cpath(c)+".vmid",
			"vmid %d is declared, but the container already exists as %d; a vmid cannot change", c.VMID, ct.VMID))
	}
	if cl != nil && f.cl.ID != cl.ID {
		df.ds = append(df.ds, diag.Errorf(diag.ClassHost, c.Pos, cpath(c)+".host",
			"container %s exists as %d in %s, but host %s is in another cluster; pct migrate cannot cross clusters", c.Name, ct.VMID, f.cl.ID, c.Host))
	}
	// Pending changes (set while running, applied at the next start) are
	// what PVE will run with: compare against them, and restart to apply
	// the ones lxcplan manages.
	cur, pending := effectiveSection(ct.Config, m)
	live := CanonLive(cur, desired)
	for _, k := range live.Unparsable {
		df.ds = append(df.ds, diag.Diagnostic{Severity: diag.SevWarning, Class: diag.ClassHost, Host: c.Host, Pos: c.Pos, Path: cpath(c),
			Summary: fmt.Sprintf("container %s (%d): option %s cannot be parsed; it is compared as text", c.Name, ct.VMID, k)})
	}
	userText, _, _ := SplitDescription(ct.Description())

	// Replace triggers.
	var why []string
	var fields []Field
	if m.State != StateReady {
		why = append(why, fmt.Sprintf("left in state %q by an interrupted run", m.State))
	}
	if tn, ok := pve.ParseTemplateName(m.Template); ok {
		if tn.OS != c.OS || tn.Version != c.Version || tn.Arch != archOf(c) {
			before, after := templateIdentity(tn.OS, tn.Version, tn.Arch), templateIdentity(c.OS, c.Version, archOf(c))
			why = append(why, "template "+before+" → "+after)
			fields = append(fields, field("template", before, after))
		}
	} else if a, ok := ct.Config.Options["arch"]; ok && a != archOf(c) {
		why = append(why, "arch changed")
		fields = append(fields, field("arch", a, archOf(c)))
	}
	liveUnpriv := false
	if v, ok := ct.Config.Options["unprivileged"]; ok {
		liveUnpriv, _ = pve.ParseBool(v)
	}
	if liveUnpriv != c.Unprivileged {
		why = append(why, "unprivileged changed")
		fields = append(fields, field("unprivileged", boolText(liveUnpriv), boolText(c.Unprivileged)))
	}
	if live.RootStorage != "" && c.Storage != "" && live.RootStorage != c.Storage {
		why = append(why, "rootfs storage changed")
		fields = append(fields, field("rootfs.storage", live.RootStorage, c.Storage))
	}
	if len(why) > 0 {
		ch.Action = ActionReplace
		ch.Reason = "replace: " + strings.Join(why, "; ")
		ch.Template = df.template(c, h)
		fields = append(fields, configFields(desired, live, m)...)
		ch.Fields = fields
		ch.Steps = installSteps(c, 0)
		ch.Apply = df.applyInputs(c, desired, ch.Template.VolID, 0)
		ch.Apply.Set = createSet(c, desired)
		ch.Apply.Description = c.Description
		ch.Apply.HA = haInputs(c)
		df.checkDescription(c, c.Description, ch.Apply.Marker)
		df.preflight(c, ch, h, cl, desired, &live, ct.VMID)
		return ch
	}

	// Everything else is done in place; collect it all, then name it.
	var reasons []string
	apply := df.applyInputs(c, desired, m.Template, -1)
	migrate := false
	if h != nil && h.Node != "" && ct.Node != h.Node && ct.HAState == "" && (cl == nil || f.cl.ID == cl.ID) {
		migrate = true
		ch.TargetNode = h.Node
		fields = append(fields, field("node", ct.Node, h.Node))
		reasons = append(reasons, fmt.Sprintf("moves from node %s to host %s (node %s)", ct.Node, c.Host, h.Node))
	}
	cfields := configFields(desired, live, m)
	restart, drift := false, false
	var driftKeys, declaredKeys []string
	for _, fd := range cfields {
		key := topKey(fd.Path)
		if fd.Drift {
			drift = true
			driftKeys = appendUnique(driftKeys, key)
		} else {
			declaredKeys = appendUnique(declaredKeys, key)
		}
		if restartKeys[key] || ((isIndexed(key, "mp") || isIndexed(key, "dev")) && fd.Before != nil) {
			restart = true
		}
	}
	fields = append(fields, cfields...)
	set, del := map[string]string{}, []string{}
	for _, fd := range cfields {
		key := topKey(fd.Path)
		if strings.HasSuffix(fd.Path, ".size") {
			continue
		}
		if o, ok := desired[key]; ok {
			set[key] = o.Set
		} else if !contains(del, key) {
			del = append(del, key)
		}
	}
	sort.Strings(del)
	resize := df.sizes(c, desired, live, &fields)
	for k := range resize {
		declaredKeys = appendUnique(declaredKeys, k+" size")
	}
	if c.Description != "" && strings.TrimSpace(userText) != strings.TrimSpace(c.Description) {
		fields = append(fields, field("description", userText, c.Description))
		declaredKeys = appendUnique(declaredKeys, "description")
		apply.Description = c.Description
	}
	sort.Strings(declaredKeys)
	if len(driftKeys) > 0 {
		reasons = append(reasons, strings.Join(driftKeys, ", ")+" changed by hand (drift): set back to the declared value")
	}
	if len(declaredKeys) > 0 {
		reasons = append(reasons, strings.Join(declaredKeys, ", ")+" changed in the stack")
	}
	apply.Set, apply.Delete = set, del
	if len(resize) > 0 {
		apply.Resize = resize
	}

	// Recipe version and install steps.
	// HA: only a declared resource is compared; transient manager states
	// (migrate, fence, recovery...) are not a difference.
	if c.HA != nil && haStable[ct.HAState] && ct.HAState != c.HA.State {
		fields = append(fields, field("ha.state", ct.HAState, c.HA.State))
		declaredKeys = appendUnique(declaredKeys, "ha")
		apply.HA = haInputs(c)
		reasons = append(reasons, "ha.state changed in the stack")
	}
	text := userText
	if apply.Description != "" {
		text = apply.Description
	}
	df.checkDescription(c, text, apply.Marker)

	upgrade, fromStep := false, -1
	if v := recipeVersion(c); m.Version != v {
		upgrade = true
		fields = append(fields, field("recipe.version", m.Version, v))
		reasons = append(reasons, fmt.Sprintf("recipe version %s → %s: its update steps run", orNone(m.Version), v))
		if c.Loaded != nil {
			ch.Steps = describeSteps("update", c.Loaded.Update, 0)
		}
	}
	if m.Recipe != c.Recipe.Raw {
		fields = append(fields, field("recipe", m.Recipe, c.Recipe.Raw))
	}
	if !upgrade {
		newFP := apply.Marker.Steps
		for i := range newFP {
			if i >= len(m.Steps) || !SameText(m.Steps[i], newFP[i]) {
				fromStep = i
				break
			}
		}
		if fromStep >= 0 {
			ch.Steps = installSteps(c, fromStep)
			reasons = append(reasons, fmt.Sprintf("install step %d (%s) changed: re-run from there", fromStep+1, ch.Steps[0].Description))
			fields = append(fields, field("install.steps", fmt.Sprintf("%d steps recorded", len(m.Steps)), fmt.Sprintf("re-run from step %d", fromStep+1)))
		}
	}
	apply.FromStep = fromStep
	if len(pending) > 0 {
		restart = true
		reasons = append(reasons, strings.Join(pending, ", ")+" pending: applied by a restart")
		for _, k := range pending {
			if fieldOf(fields, k) == nil {
				b, a := ct.Config.Options[k], ""
				if v, ok := ct.Config.Pending.Options[k]; ok {
					a = v
				}
				fields = append(fields, field(k, b, a))
			}
		}
	}

	specChanged := !SameText(m.Spec, apply.Marker.Spec)
	switch {
	case migrate:
		ch.Action = ActionMigrate
	case upgrade:
		ch.Action = ActionUpgrade
	case fromStep >= 0:
		ch.Action = ActionReprovision
	case restart:
		ch.Action = ActionUpdateRestart
	case len(fields) > 0:
		ch.Action = ActionUpdate
	case specChanged || markerStale(m, apply.Marker):
		// Nothing to do on the container but the marker is out of date
		// (a param only outputs use, steps removed at the end): rewrite it.
		ch.Action = ActionUpdate
		fields = append(fields, field("marker.spec", m.Spec, apply.Marker.Spec))
		reasons = append(reasons, "recorded fingerprints are out of date (the marker is rewritten)")
	default:
		ch.Action = ActionNoOp
		ch.Reason = "up to date"
		ch.Fields = nil
		df.preflight(c, ch, h, cl, desired, &live, ct.VMID)
		return ch
	}
	ch.Restart = restart
	ch.Drift = drift
	ch.Fields = fields
	ch.Reason = strings.Join(reasons, "; ")
	ch.Apply = apply
	df.preflight(c, ch, h, cl, desired, &live, ct.VMID)
	return ch
}

// effectiveSection is the main section with the pending section applied,
// and the pending keys lxcplan manages (per the marker), sorted.
func effectiveSection(cfg *pve.Config, m *Marker) (*pve.Section, []string) {
	if cfg.Pending == nil || (len(cfg.Pending.Options) == 0) {
		return &cfg.Section, nil
	}
	sec := cfg.Section.Clone()
	var managed []string
	note := func(k string) {
		if _, ours := m.Config[k]; ours && !contains(managed, k) {
			managed = append(managed, k)
		}
	}
	for k, v := range cfg.Pending.Options {
		if k == "delete" {
			continue
		}
		sec.Set(k, v)
		note(k)
	}
	for _, d := range cfg.Pending.PendingDeletes() {
		sec.Delete(d.Key)
		note(d.Key)
	}
	sort.Strings(managed)
	return sec, managed
}

func fieldOf(fs []Field, path string) *Field {
	for i := range fs {
		if fs[i].Path == path || strings.HasPrefix(fs[i].Path, path+".") {
			return &fs[i]
		}
	}
	return nil
}

// haStable are the HA manager states a declared state is compared with;
// "" is "not an HA resource".
var haStable = map[string]bool{"": true, "started": true, "stopped": true, "disabled": true, "ignored": true}

func haInputs(c *model.Container) map[string]string {
	if c.HA == nil {
		return nil
	}
	m := map[string]string{"state": c.HA.State}
	if c.HA.Group != "" {
		m["group"] = c.HA.Group
	}
	if c.HA.MaxRestart != nil {
		m["max_restart"] = strconv.Itoa(*c.HA.MaxRestart)
	}
	if c.HA.MaxRelocate != nil {
		m["max_relocate"] = strconv.Itoa(*c.HA.MaxRelocate)
	}
	return m
}

// checkDescription reports a description PVE would refuse once the marker
// is added (at most 8192 characters).
func (df *differ) checkDescription(c *model.Container, userText string, md MarkerDoc) {
	full := md.Marker(df.stack, c.Name, StateCreating, map[string]string{"eth0": "255.255.255.255"}).Render(userText)
	if err := pve.VerifyDescription(full); err != nil {
		df.ds = append(df.ds, diag.Diagnostic{Severity: diag.SevError, Class: diag.ClassInput, Pos: c.Pos, Path: cpath(c) + ".description",
			Summary: fmt.Sprintf("the description with lxcplan's marker would be %d characters; PVE takes at most 8192", len(full)),
			Detail:  "shorten the description"})
	}
}

// markerStale reports recorded values that differ from what apply would
// write, other than the spec.
func markerStale(m *Marker, d MarkerDoc) bool {
	if m.Template != d.Template && d.Template != "" || len(m.Steps) != len(d.Steps) {
		return true
	}
	if strings.Join(m.Depends, ",") != strings.Join(d.Depends, ",") {
		return true
	}
	for k, v := range d.Config {
		if m.Config[k] != v {
			return true
		}
	}
	return len(m.Config) != len(d.Config)
}

func appendUnique(xs []string, x string) []string {
	if contains(xs, x) {
		return xs
	}
	return append(xs, x)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// topKey is the pct option of a field path ("net0.ip" → "net0").
func topKey(path string) string {
	k, _, _ := strings.Cut(path, ".")
	return k
}

// sizes compares disk sizes: a grow becomes a pct resize, a shrink an error.
func (df *differ) sizes(c *model.Container, desired map[string]Option, live LiveConfig, fields *[]Field) map[string]string {
	out := map[string]string{}
	for _, k := range sortedKeys(desired) {
		o := desired[k]
		cur, ok := live.Size[k]
		if o.Size == 0 || !ok {
			continue
		}
		if lo, ok := live.Canon[k]; ok && lo != o.Canon {
			continue // a different volume: the mount itself changes
		}
		switch diff := o.Size - cur; {
		case diff > sizeTolerance:
			want := roundUp(o.Size, pve.MiB)
			out[k] = pve.FormatSize(want)
			*fields = append(*fields, field(k+".size", pve.FormatSize(cur), pve.FormatSize(want)))
			df.addNeed(c.Host, storageOf(k, o, c), want-cur, c)
		case -diff > sizeTolerance:
			path := cpath(c) + ".resources.disk"
			if k != "rootfs" {
				path = cpath(c) + ".mounts"
			}
			df.ds = append(df.ds, diag.Diagnostic{Severity: diag.SevError, Class: diag.ClassInput, Pos: c.Pos, Path: path,
				Summary: fmt.Sprintf("%s cannot shrink from %s to %s", k, pve.FormatSize(cur), pve.FormatSize(o.Size)),
				Detail:  "PVE cannot shrink a container volume; keep the current size (or larger)"})
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func storageOf(k string, o Option, c *model.Container) string {
	if k == "rootfs" {
		return c.Storage
	}
	s, _, _ := strings.Cut(o.Set, ":")
	return s
}

func roundUp(n, unit int64) int64 { return (n + unit - 1) / unit * unit }

// configFields compares canonical desired and live options. Keys the stack
// does not declare are left alone unless the marker says lxcplan set them.
func configFields(desired map[string]Option, live LiveConfig, m *Marker) []Field {
	keys := map[string]bool{}
	for k := range desired {
		keys[k] = true
	}
	for k := range live.Canon {
		if _, ours := m.Config[k]; ours {
			keys[k] = true
		}
	}
	var out []Field
	for _, k := range sortedOptionKeys(keys) {
		d, dok := desired[k]
		l, lok := live.Canon[k]
		if k == "rootfs" {
			continue // storage: a replace trigger; size: sizes()
		}
		if dok && lok && d.Canon == l {
			continue
		}
		drift := false
		if rec, ok := m.Config[k]; ok && dok && rec == shortHash(d.Canon) {
			drift = true // we set exactly this value and it is gone
		}
		var before, after *string
		if lok {
			before = &l
		}
		if dok {
			after = &d.Canon
		}
		for _, fd := range subFields(k, before, after) {
			fd.Drift = drift
			out = append(out, fd)
		}
	}
	return out
}

// subFields splits a property-string option into per-key fields
// ("net0.ip"); scalar options give one field. Unchanged sub-keys are left
// out unless the whole option is added or removed.
func subFields(k string, before, after *string) []Field {
	prop := isIndexed(k, "net") || isIndexed(k, "mp") || isIndexed(k, "dev") || k == "features"
	if !prop || before == nil || after == nil {
		return []Field{{Path: k, Before: before, After: after}}
	}
	bm, am := splitProps(*before), splitProps(*after)
	names := map[string]bool{}
	for n := range bm {
		names[n] = true
	}
	for n := range am {
		names[n] = true
	}
	var out []Field
	for _, n := range sortedKeys(names) {
		b, bok := bm[n]
		a, aok := am[n]
		if bok && aok && a == b {
			continue
		}
		fd := Field{Path: k + "." + n}
		if bok {
			fd.Before = &b
		}
		if aok {
			fd.After = &a
		}
		out = append(out, fd)
	}
	if len(out) == 0 {
		return []Field{{Path: k, Before: before, After: after}}
	}
	return out
}

// splitProps reads "a,k=v,k2=v2" into {"volume"/"path": "a", "k": "v"...}.
func splitProps(s string) map[string]string {
	m := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		if k, v, ok := strings.Cut(part, "="); ok {
			m[k] = v
		} else {
			m["value"] = part
		}
	}
	return m
}

// sortedOptionKeys sorts option names with indexes numerically (net2 < net10).
func sortedOptionKeys(keys map[string]bool) []string {
	out := make([]string, 0, len(keys))
	for k := range keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return optionSortKey(out[i]) < optionSortKey(out[j]) })
	return out
}

func optionSortKey(k string) string {
	i := len(k)
	for i > 0 && isDigit(k[i-1]) {
		i--
	}
	if i == len(k) || i == 0 {
		return k
	}
	n, _ := strconv.Atoi(k[i:])
	return fmt.Sprintf("%s%010d", k[:i], n)
}

func field(path, before, after string) Field {
	f := Field{Path: path}
	if before != "" {
		f.Before = &before
	}
	if after != "" {
		f.After = &after
	}
	return f
}

// createFields lists every option a create sets.
func createFields(desired map[string]Option) []Field {
	keys := map[string]bool{}
	for k := range desired {
		keys[k] = true
	}
	var out []Field
	for _, k := range sortedOptionKeys(keys) {
		o := desired[k]
		v := o.Canon
		out = append(out, Field{Path: k, After: &v})
		if o.Size > 0 {
			s := pve.FormatSize(roundUp(o.Size, pve.MiB))
			out = append(out, Field{Path: k + ".size", After: &s})
		}
	}
	return out
}

// paramFields shows the params a new container gets; secrets as (secret).
func (df *differ) paramFields(c *model.Container) []Field {
	var out []Field
	sc := scope{c: c, res: df.res}
	for _, n := range c.ParamNames() {
		p := c.Params[n]
		fd := Field{Path: "params." + n}
		var v string
		switch {
		case p.Generate != nil && p.Value == "":
			v, fd.Secret = SecretText, p.Secret
			if !p.Secret {
				v = "(generated)"
			}
		default:
			val, known := sc.expand(p.Value, 0)
			switch {
			case p.Secret || val.Secret:
				v, fd.Secret = SecretText, true
			case !known:
				v = p.Value + " (known after apply)"
			default:
				v = val.Text
			}
		}
		fd.After = &v
		out = append(out, fd)
	}
	return out
}

func installSteps(c *model.Container, from int) []Step {
	if c.Loaded == nil {
		return nil
	}
	return describeSteps("install", c.Loaded.Install, from)
}

// createSet is every option pct create gets (the template aside): the
// desired options plus those only a create sets.
func createSet(c *model.Container, desired map[string]Option) map[string]string {
	out := make(map[string]string, len(desired)+3)
	for k, o := range desired {
		out[k] = o.Set
	}
	out["arch"] = archOf(c)
	out["ostype"] = c.OS
	out["unprivileged"] = boolText(c.Unprivileged)
	return out
}

// sortFields orders create fields: options (numerically indexed), then
// lxcplan's own paths (params.*).
func sortFields(fs []Field) {
	sort.SliceStable(fs, func(i, j int) bool {
		pi, pj := strings.HasPrefix(fs[i].Path, "params."), strings.HasPrefix(fs[j].Path, "params.")
		if pi != pj {
			return pj
		}
		return optionSortKey(fs[i].Path) < optionSortKey(fs[j].Path)
	})
}

// applyInputs fills what apply records in the marker.
func (df *differ) applyInputs(c *model.Container, desired map[string]Option, template string, from int) *ApplyInputs {
	return &ApplyInputs{FromStep: from, Marker: markerDoc(c, desired, template, df.opts.SecretKey, df.res)}
}

// NewMarkerDoc computes the marker content for a container: apply calls it
// again once dependencies are up, with a resolver that knows their real
// addresses and outputs, so what it records is what the next plan computes.
func NewMarkerDoc(c *model.Container, stack, template string, key []byte, res Resolver) MarkerDoc {
	return markerDoc(c, DesiredConfig(c, stack), template, key, res)
}

func markerDoc(c *model.Container, desired map[string]Option, template string, key []byte, res Resolver) MarkerDoc {
	canon := make(map[string]string, len(desired))
	for k, o := range desired {
		canon[k] = o.Canon
	}
	md := MarkerDoc{
		Recipe: c.Recipe.Raw, Version: recipeVersion(c), Template: template,
		Spec:    SpecFingerprint(c, SpecInput{Config: canon, Key: key, Resolver: res}).String(),
		Config:  ConfigHashes(canon),
		Depends: depNames(c),
	}
	for _, f := range StepFingerprints(c, key, res) {
		md.Steps = append(md.Steps, f.String())
	}
	return md
}

// Marker builds the marker apply writes from the document's content.
func (md MarkerDoc) Marker(stack, container, state string, addresses map[string]string) *Marker {
	return &Marker{Stack: stack, Container: container, Recipe: md.Recipe, Version: md.Version, Template: md.Template,
		Spec: md.Spec, Config: md.Config, Steps: md.Steps, Depends: md.Depends, Addresses: addresses, State: state}
}

func (df *differ) template(c *model.Container, h *inventory.Host) *Template {
	var cat []pve.AvailableTemplate
	if df.opts.Catalog != nil {
		cat = df.opts.Catalog[c.Host]
	}
	return resolveTemplate(c, h, cat)
}

// destroys plans the owned containers the stack no longer declares, in
// reverse dependency order (from the markers), only in readable clusters.
func (df *differ) destroys(targeted map[string]bool) []*Change {
	g := dag.New[string]()
	for name := range df.owned {
		if df.byName[name] != nil || (targeted != nil && !targeted[name]) {
			continue
		}
		g.AddNode(name)
	}
	for _, name := range g.Nodes() {
		for _, dep := range df.owned[name][0].m.Depends {
			if g.HasNode(dep) {
				g.DependsOn(name, dep)
			}
		}
	}
	order, err := g.Reverse().TopoOrder()
	if err != nil {
		order = g.Nodes()
	}
	var out []*Change
	for _, name := range order {
		for _, f := range df.owned[name] {
			ch := &Change{Container: name, Action: ActionDestroy, VMID: f.ct.VMID, Node: f.ct.Node,
				Host: df.hostOfNode(f.cl, f.ct.Node), DependsOn: append([]string{}, f.m.Depends...),
				Reason: "no longer in the stack file"}
			ch.Base = &Base{Node: f.ct.Node, VMID: f.ct.VMID, Digest: f.ct.Digest}
			if ch.Base.Digest == "" {
				ch.Base.Digest = pve.Digest([]byte(f.ct.ConfigText))
			}
			if v, ok := f.ct.Config.Options["protection"]; ok {
				if b, _ := pve.ParseBool(v); b {
					ch.Fields = append(ch.Fields, field("protection", "1", ""))
					df.ds = append(df.ds, diag.Diagnostic{Severity: diag.SevWarning, Class: diag.ClassHost, Host: ch.Host,
						Summary: fmt.Sprintf("container %s (%d) is protected: apply and destroy refuse to destroy it until protection is cleared by hand (pct set %d --protection 0)", name, f.ct.VMID, f.ct.VMID)})
				}
			}
			out = append(out, ch)
		}
	}
	return out
}

// hostOfNode names the stack host key of a node ("" when the node is not a
// declared host).
func (df *differ) hostOfNode(cl *inventory.Cluster, node string) string {
	for _, k := range cl.Hosts {
		if h := df.obs.Host(k); h != nil && h.Node == node {
			return k
		}
	}
	return ""
}
