package exec

import (
	"context"
	"fmt"
	"strings"

	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// RunDestroy is a whole `lxcplan destroy`: take the stack lock, observe
// the hosts, plan a destroy of every container the stack owns (or of
// o.Targets and everything that depends on them, see plan.DestroyAll) and
// run it, dependents first, releasing the lock at the end.
//
// Protected containers are never destroyed: when the selection holds any,
// nothing runs and the error (ErrProtected) names them all. Destroys need
// o.Yes, which OnPlan may set after asking. A destroyed container loses its
// HA resource (removed first) and its generated secrets; when the whole
// stack is destroyed, the stack's fingerprint key goes too.
func RunDestroy(ctx context.Context, d *model.Desired, hosts map[string]transport.Runner, o RunOptions) (*plan.Plan, *Result, error) {
	if d == nil || d.Stack == nil {
		return nil, nil, fmt.Errorf("%w: no stack", ErrNotApplicable)
	}
	ctx, keys, release, err := lockStack(ctx, d.Stack.Name, hosts, &o, "lxcplan destroy")
	if err != nil {
		return nil, nil, err
	}
	defer release()

	targets := make([]inventory.HostTarget, 0, len(keys))
	for _, k := range keys {
		targets = append(targets, inventory.HostTarget{Key: k, Runner: hosts[k]})
	}
	st, ds := inventory.Observe(ctx, targets, inventory.Options{})
	if ds.HasErrors() {
		return nil, nil, ds.Err()
	}
	p, pds := plan.DestroyAll(d, st, plan.Options{Targets: o.Targets, StackFile: o.StackFile})
	if pds.HasErrors() {
		return p, nil, pds.Err()
	}
	if err := protectedIn(p, st); err != nil {
		return p, nil, err
	}
	if o.OnPlan != nil {
		if err := o.OnPlan(p, &o.Options); err != nil {
			return p, nil, err
		}
	}
	o.NoStackKey = true // a destroy writes no marker
	res, err := Apply(ctx, Inputs{Plan: p, Desired: d, State: st}, hosts, o.Options)
	if err == nil && len(o.Targets) == 0 && p.HasChanges() && !o.DryRun {
		// Nothing of the stack is left: neither is its key.
		r := hosts[keys[0]]
		if lr := o.LockRunner; lr != nil {
			r = lr
		}
		if derr := storeFor(r, d.Stack.Name, o.Options).DeleteContainer(ctx, KeyContainer); derr != nil {
			err = fmt.Errorf("%w: %w", ErrFailed, derr)
		}
	}
	return p, res, lostLock(ctx, err)
}

// protectedIn refuses a destroy plan that holds protected containers,
// naming every one of them.
func protectedIn(p *plan.Plan, st *inventory.State) error {
	var names []string
	for _, ch := range p.Changes {
		if ch.Action != plan.ActionDestroy {
			continue
		}
		for _, cl := range st.Clusters {
			ct := cl.Container(ch.VMID)
			if ct != nil && ct.Node == ch.Node && ct.Config != nil && boolOpt(ct.Config.Options["protection"]) {
				names = append(names, fmt.Sprintf("%s (%d)", ch.Container, ch.VMID))
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	return fmt.Errorf("%w: refusing to destroy %s; clear protection by hand first (pct set VMID --protection 0), or choose --target containers that do not include them", ErrProtected, strings.Join(names, ", "))
}
