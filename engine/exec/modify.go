package exec

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/journal"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/pve"
)

// snapshotName is the run's snapshot: "lxcplan-<runid>" (pve-configid,
// under 40 characters).
func (r *run) snapshotName() string {
	if r.snapPrefix != "" {
		return r.snapPrefix + strings.ToLower(r.opts.RunID)
	}
	return "lxcplan-" + strings.ToLower(r.opts.RunID)
}

// modify runs the in-place paths: migrate, update, update-restart,
// reprovision and upgrade (in that order when a change does several).
func (r *run) modify(ctx context.Context, x *ct, signal func(string)) error {
	ch, c, ai := x.ch, x.c, x.ch.Apply
	obs := r.observed(ch)
	if obs == nil || obs.Config == nil || ai == nil {
		return fmt.Errorf("%w: container %s (%d) is no longer where the plan saw it", ErrStalePlan, c.Name, ch.VMID)
	}
	if ch.Base != nil && ch.Base.Digest != "" && obs.Digest != "" && ch.Base.Digest != obs.Digest {
		return fmt.Errorf("%w: the config of %s (%d) changed since the plan was made", ErrStalePlan, c.Name, ch.VMID)
	}
	running := obs.Status == "running"
	oldDesc := obs.Description()
	if x.host = r.liveHost(ch, c.Host); x.host == "" {
		return fmt.Errorf("container %s (%d) is on node %s, which is not a host of the stack; pct must run there", c.Name, ch.VMID, ch.Node)
	}
	vmid := x.vmid

	if ch.TargetNode != "" && ch.TargetNode != ch.Node {
		if err := r.migrate(ctx, x, obs); err != nil {
			return err
		}
	}
	if ch.Action == plan.ActionReprovision || ch.Action == plan.ActionUpgrade {
		if r.snapshots(ch) {
			if err := r.snapshot(ctx, x, running); err != nil {
				return err
			}
		} else {
			r.ev(x, PhaseSnapshot, "storage cannot snapshot: running unprotected (--allow-unprotected)")
		}
	}
	if len(ai.Set) > 0 || len(ai.Delete) > 0 {
		argv := pctSet(vmid, ai.Set, ai.Delete)
		var undo [][]string
		if u := revertArgv(vmid, obs.Config.Options, ai.Set, ai.Delete); u != nil {
			undo = append(undo, u)
		}
		if ch.Restart && running {
			undo = append(undo, pve.PctReboot(vmid, 0))
		}
		r.ev(x, PhaseConfiguring, "pct set "+strings.Join(keys(ai.Set, ai.Delete), " "))
		if err := r.step(journal.Step{Host: x.host, Container: c.Name, ID: "set", Description: fmt.Sprintf("set options of CT %d", vmid), Do: argv, Undo: undo}, func() error {
			if _, err := r.pveRun(ctx, x.host, argv, r.retryEv(x)); err != nil {
				return fmt.Errorf("pct set %d on %s: %w", vmid, x.host, err)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	disks := make([]string, 0, len(ai.Resize))
	for d := range ai.Resize {
		disks = append(disks, d)
	}
	sort.Strings(disks)
	for _, d := range disks {
		argv := pve.PctResize(vmid, d, ai.Resize[d])
		// A disk cannot shrink: the grown disk is kept on rollback, which
		// harms nothing (the config still fits).
		if err := r.step(journal.Step{Host: x.host, Container: c.Name, ID: "resize/" + d, Description: fmt.Sprintf("grow %s of CT %d to %s", d, vmid, ai.Resize[d]), Do: argv}, func() error {
			if _, err := r.pveRun(ctx, x.host, argv, r.retryEv(x)); err != nil {
				return fmt.Errorf("pct resize %d %s on %s: %w", vmid, d, x.host, err)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if ch.Restart && running {
		argv := pve.PctReboot(vmid, 0)
		r.ev(x, PhaseStarting, "restart to apply pending settings")
		if err := r.step(journal.Step{Host: x.host, Container: c.Name, ID: "restart", Description: fmt.Sprintf("restart CT %d", vmid), Do: argv}, func() error {
			if _, err := r.pveRun(ctx, x.host, argv, r.retryEv(x)); err != nil {
				return fmt.Errorf("pct reboot %d on %s: %w", vmid, x.host, err)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if m := r.marker(c.Name); m != nil {
		x.ip = m.Addresses[ifaceOf(c)]
	}
	if s := bareAddr(c.Network.IP); s != "" {
		x.ip = s
	}
	provisioning := ch.Action == plan.ActionReprovision || ch.Action == plan.ActionUpgrade
	if running && (provisioning || ch.Restart || ch.TargetNode != "" || x.ip == "") {
		if err := r.waitAddress(ctx, x); err != nil {
			return err
		}
	}
	if err := r.values(ctx, x); err != nil {
		return err
	}
	r.publish(x, ai)
	signal(string(model.CondStarted))
	if ai.HA != nil {
		if err := r.haApply(ctx, x, obs, ai.HA); err != nil {
			return err
		}
	}
	switch {
	case ch.Action == plan.ActionUpgrade:
		if err := r.install(ctx, x, 0, true); err != nil {
			return err
		}
	case ai.FromStep >= 0:
		if err := r.install(ctx, x, ai.FromStep, false); err != nil {
			return err
		}
	}
	if running && (provisioning || ch.Restart || ch.TargetNode != "") {
		if err := r.health(ctx, x); err != nil {
			return err
		}
	}
	signal(string(model.CondHealthy))
	return r.writeMarker(ctx, x, oldDesc)
}

func keys(set map[string]string, del []string) []string {
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	for _, d := range del {
		out = append(out, "-"+d)
	}
	return out
}

// liveHost is the stack host key of the node a container lives on now
// (ch.Host is where the stack wants it); def when the plan has no node.
func (r *run) liveHost(ch *plan.Change, def string) string {
	if ch.Node == "" {
		return def
	}
	if h := r.in.State.Host(def); h != nil && h.Node == ch.Node {
		return def
	}
	for _, cl := range r.in.State.Clusters {
		if cl.Container(ch.VMID) != nil {
			return r.in.State.HostForNode(cl.ID, ch.Node)
		}
	}
	return ""
}

// migrate moves the container to its declared host with a restart; the undo
// moves it back (run on the target host).
func (r *run) migrate(ctx context.Context, x *ct, obs *inventory.Container) error {
	ch := x.ch
	src, dst := x.host, x.c.Host
	argv := pve.PctMigrate(x.vmid, ch.TargetNode, pve.MigrateOptions{Restart: obs.Status == "running"})
	undo := pve.PctMigrate(x.vmid, ch.Node, pve.MigrateOptions{Restart: obs.Status == "running"})
	r.ev(x, PhaseMigrating, "to "+ch.TargetNode)
	if err := r.step(journal.Step{Host: dst, Container: x.c.Name, ID: "migrate", Description: fmt.Sprintf("migrate CT %d from %s to %s", x.vmid, ch.Node, ch.TargetNode),
		Do: argv, Undo: [][]string{undo}}, func() error {
		if _, err := r.pveRun(ctx, src, argv, r.retryEv(x)); err != nil {
			return fmt.Errorf("pct migrate %d to %s: %w", x.vmid, ch.TargetNode, err)
		}
		return nil
	}); err != nil {
		return err
	}
	x.host = dst
	return nil
}

// snapshot takes the run's snapshot before steps run; the undo rolls back to
// it (restarting the container if it ran) and deletes it. On success the
// snapshot is deleted once the whole run succeeded (cleanup), so a later
// failure elsewhere can still roll this container back.
func (r *run) snapshot(ctx context.Context, x *ct, running bool) error {
	name := r.snapshotName()
	argv := pve.PctSnapshot(x.vmid, name, "")
	r.ev(x, PhaseSnapshot, name)
	err := r.step(journal.Step{Host: x.host, Container: x.c.Name, ID: "snapshot", Description: fmt.Sprintf("snapshot CT %d as %s", x.vmid, name), Do: argv,
		Undo: [][]string{pve.PctRollback(x.vmid, name, running), pve.PctDelSnapshot(x.vmid, name, false)}}, func() error {
		if _, err := r.pveRun(ctx, x.host, argv, r.retryEv(x)); err != nil {
			return fmt.Errorf("pct snapshot %d %s on %s: %w", x.vmid, name, x.host, err)
		}
		return nil
	})
	if err == nil {
		r.mu.Lock()
		r.cleanups = append(r.cleanups, cleanup{host: x.host, container: x.c.Name, vmid: x.vmid, snap: name})
		r.mu.Unlock()
	}
	return err
}

type cleanup struct {
	host, container string
	vmid            int
	snap            string
}

// finish deletes the run's snapshots after everything succeeded. A failure
// here does not fail the run: the containers are as declared; the snapshot
// is reported so someone can delete it.
func (r *run) finish(ctx context.Context) {
	for _, c := range r.cleanups {
		argv := pve.PctDelSnapshot(c.vmid, c.snap, false)
		err := r.step(journal.Step{Host: c.host, Container: c.container, ID: "delsnapshot", Description: fmt.Sprintf("delete snapshot %s of CT %d", c.snap, c.vmid), Do: argv}, func() error {
			_, err := r.pveRun(ctx, c.host, argv, nil)
			return err
		})
		if err != nil {
			r.em.emit(Event{Container: c.container, Host: c.host, VMID: c.vmid, Phase: PhaseSnapshot, Message: "could not delete snapshot " + c.snap, Err: err})
		}
	}
}

// haApply adds or updates the container's HA resource.
func (r *run) haApply(ctx context.Context, x *ct, obs *inventory.Container, ha map[string]string) error {
	if obs.HAState == "" {
		return r.haAdd(ctx, x, ha)
	}
	h := pve.HAOptions{State: ha["state"], Group: ha["group"]}
	if v, err := strconv.Atoi(ha["max_restart"]); err == nil {
		h.MaxRestart = &v
	}
	argv := pve.HASet(x.vmid, h)
	undo := pve.HASet(x.vmid, pve.HAOptions{State: obs.HAState})
	return r.step(journal.Step{Host: x.host, Container: x.c.Name, ID: "ha", Description: "set HA of ct:" + strconv.Itoa(x.vmid), Do: argv, Undo: [][]string{undo}}, func() error {
		if _, err := r.pveRun(ctx, x.host, argv, r.retryEv(x)); err != nil {
			return fmt.Errorf("ha-manager set ct:%d: %w", x.vmid, err)
		}
		return nil
	})
}

// destroys runs the plan's destroys after everything else, in the plan's
// order (reverse dependency order).
func (r *run) destroys(ctx context.Context) error {
	for _, ch := range r.in.Plan.Changes {
		if ch.Action != plan.ActionDestroy {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		start := r.opts.Now()
		cr := &ContainerResult{Name: ch.Container, Host: ch.Host, VMID: ch.VMID, Action: ch.Action, Status: StatusDestroyed}
		r.setResult(cr)
		err := r.destroyCT(ctx, ch.Host, ch.VMID, ch.Container, r.observed(ch))
		if err == nil && r.store != nil && !r.opts.DryRun {
			err = r.store.DeleteContainer(ctx, ch.Container)
		}
		cr.Duration = r.opts.Now().Sub(start)
		if err != nil {
			cr.Status, cr.Err = StatusFailed, err
			r.em.emit(Event{Container: ch.Container, Host: ch.Host, VMID: ch.VMID, Phase: PhaseFailed, Err: err})
			return fmt.Errorf("destroy %s: %w", ch.Container, err)
		}
		r.em.emit(Event{Container: ch.Container, Host: ch.Host, VMID: ch.VMID, Phase: PhaseDestroyed})
	}
	r.finish(ctx)
	return nil
}

// destroyCT removes a container: HA resource first, then a hard stop, then
// pct destroy --purge. A destroy cannot be undone (rollback method "none",
// confirmed with --yes); the stop is undone with a start in case the
// destroy itself fails.
func (r *run) destroyCT(ctx context.Context, host string, vmid int, name string, obs *inventory.Container) error {
	if obs != nil && obs.Config != nil && boolOpt(obs.Config.Options["protection"]) {
		return fmt.Errorf("%w: refusing to destroy %s (%d)", ErrProtected, name, vmid)
	}
	emit := func(msg string) {
		r.em.emit(Event{Container: name, Host: host, VMID: vmid, Phase: PhaseDestroying, Message: msg})
	}
	run := func(id, desc string, argv []string, undo [][]string) error {
		return r.step(journal.Step{Host: host, Container: name, ID: id, Description: desc, Do: argv, Undo: undo}, func() error {
			if _, err := r.pveRun(ctx, host, argv, nil); err != nil {
				return fmt.Errorf("%s on %s: %w", strings.Join(argv[:2], " "), host, err)
			}
			return nil
		})
	}
	if obs != nil && obs.HAState != "" {
		emit("remove from HA")
		if err := run("ha-remove", "remove ct:"+strconv.Itoa(vmid)+" from HA", pve.HARemove(vmid, pve.Unset), nil); err != nil {
			return err
		}
	}
	if obs == nil || obs.Status != "stopped" {
		emit("stop")
		err := run("stop", fmt.Sprintf("stop CT %d", vmid), pve.PctStop(vmid, pve.StopOptions{}), [][]string{pve.PctStart(vmid, pve.StartOptions{})})
		if err != nil && !journal.Tolerated(pve.PctStop(vmid, pve.StopOptions{}), err) {
			return err
		}
	}
	emit("destroy")
	return run("destroy", fmt.Sprintf("destroy CT %d", vmid), pve.PctDestroy(vmid, pve.DestroyOptions{Purge: true}), nil)
}
