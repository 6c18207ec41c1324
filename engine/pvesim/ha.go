package pvesim

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// haResource is one entry of ha/resources.cfg.
type haResource struct {
	typ  string // "ct" or "vm"
	id   int
	opts map[string]string
}

func (r *haResource) sid() string { return r.typ + ":" + strconv.Itoa(r.id) }

func (c *Cluster) haPath() string { return filepath.Join(c.Dir, "ha", "resources.cfg") }

var reHAHead = regexp.MustCompile(`^(ct|vm):\s*(\d+)\s*$`)

func (c *Cluster) haLoad() []*haResource {
	f, err := os.Open(c.haPath())
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []*haResource
	var cur *haResource
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := reHAHead.FindStringSubmatch(line); m != nil {
			id, _ := strconv.Atoi(m[2])
			cur = &haResource{typ: m[1], id: id, opts: map[string]string{}}
			out = append(out, cur)
			continue
		}
		if cur != nil && strings.TrimSpace(line) != "" {
			k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
			cur.opts[k] = strings.TrimSpace(v)
		}
	}
	return out
}

func (c *Cluster) haSave(rs []*haResource) error {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s: %d\n", r.typ, r.id)
		for _, k := range sortedKeys(r.opts) {
			fmt.Fprintf(&b, "\t%s %s\n", k, r.opts[k])
		}
	}
	return writeAtomic(c.haPath(), []byte(b.String()))
}

func (c *Cluster) haFind(vmid int) *haResource {
	for _, r := range c.haLoad() {
		if r.id == vmid {
			return r
		}
	}
	return nil
}

func (c *Cluster) haConfigured(vmid int) bool { return c.haFind(vmid) != nil }

// haManaged is vm_is_ha_managed: configured and not ignored.
func (c *Cluster) haManaged(vmid int) bool {
	r := c.haFind(vmid)
	return r != nil && r.opts["state"] != "ignored"
}

func (c *Cluster) haAdd(vmid int, opts map[string]string) {
	rs := c.haLoad()
	rs = append(rs, &haResource{typ: "ct", id: vmid, opts: opts})
	c.haSave(rs)
}

func (c *Cluster) haSet(vmid int, opts map[string]string) {
	rs := c.haLoad()
	for _, r := range rs {
		if r.id == vmid {
			for k, v := range opts {
				r.opts[k] = v
			}
		}
	}
	c.haSave(rs)
}

func (c *Cluster) haRemove(vmid int) {
	rs := c.haLoad()
	out := rs[:0]
	for _, r := range rs {
		if r.id != vmid {
			out = append(out, r)
		}
	}
	c.haSave(out)
}

var haTable toolTable

func init() {
	resOpts := withOpts([]string{"state", "max_restart", "max_relocate", "comment", "group", "type"}, []string{"failback"}, nil)
	setOpts := withOpts([]string{"state", "max_restart", "max_relocate", "comment", "group", "digest"}, []string{"failback"}, []string{"delete"})
	haTable = toolTable{
		"add":    {name: "add", args: []string{"sid"}, opts: resOpts, run: haAddCmd},
		"remove": {name: "remove", args: []string{"sid"}, opts: withOpts(nil, []string{"purge"}, nil), run: haRemoveCmd},
		"set":    {name: "set", args: []string{"sid"}, opts: setOpts, run: haSetCmd},
		"status": {name: "status", opts: withOpts(nil, []string{"verbose"}, nil), run: haStatusCmd},
		"config": {name: "config", opts: withOpts([]string{"type"}, nil, nil), run: haConfigCmd},
	}
}

var reSID = regexp.MustCompile(`^(?:(ct|vm):)?(\d+)$`)

// parseSID resolves "ct:100" or "100" (through the vmlist).
func (c *call) parseSID() (string, int, int, bool) {
	m := reSID.FindStringSubmatch(c.pos["sid"])
	if m == nil {
		return "", 0, c.perr("sid", fmt.Sprintf("invalid format - unable to parse service id '%s'", c.pos["sid"]), true), false
	}
	id, _ := strconv.Atoi(m[2])
	typ := m[1]
	if typ == "" {
		_, kind, ok := c.n.cluster.guestOwner(id)
		if !ok {
			return "", 0, c.die("unable to detect SID from VMID - VM/CT %d does not exist", id), false
		}
		typ = "ct"
		if kind == "VM" {
			typ = "vm"
		}
	}
	return typ, id, 0, true
}

var haStates = []string{"started", "stopped", "enabled", "disabled", "ignored"}

func (c *call) haOpts() (map[string]string, int, bool) {
	opts := map[string]string{}
	for _, k := range c.order {
		v := c.opts[k]
		switch k {
		case "state":
			if _, e := vEnum(haStates...)(c.n, k, v); e != nil {
				return nil, c.paramFail(e...), false
			}
			if v == "enabled" {
				v = "started"
			}
		case "max_restart", "max_relocate":
			if _, e := vInt(0, 0, false)(c.n, k, v); e != nil {
				return nil, c.paramFail(e...), false
			}
		case "group":
			if c.n.cluster.PVEVersion >= 9 {
				return nil, c.die("invalid parameter 'group': ha groups have been migrated to rules"), false
			}
		case "type", "delete", "digest":
			continue
		}
		opts[k] = v
	}
	return opts, 0, true
}

func haAddCmd(c *call) int {
	typ, id, code, ok := c.parseSID()
	if !ok {
		return code
	}
	opts, code, ok := c.haOpts()
	if !ok {
		return code
	}
	if _, ok := opts["state"]; !ok {
		opts["state"] = "started"
	}
	cl := c.n.cluster
	sid := fmt.Sprintf("%s:%d", typ, id)
	if cl.haConfigured(id) {
		return c.die("create resource failed: resource ID '%s' already defined", sid)
	}
	_, kind, exists := cl.guestOwner(id)
	if !exists {
		return c.die("resource '%s' does not exist in cluster", sid)
	}
	if typ == "ct" && kind != "CT" {
		return c.die("resource '%s' - guest with ID %d is not a container", sid, id)
	}
	if typ == "vm" && kind != "VM" {
		return c.die("resource '%s' - guest with ID %d is not a VM", sid, id)
	}
	rs := cl.haLoad()
	rs = append(rs, &haResource{typ: typ, id: id, opts: opts})
	if err := cl.haSave(rs); err != nil {
		return c.fail(err)
	}
	cl.haApply(c, id, opts["state"])
	return 0
}

// haApply plays the CRM: a requested state is reached at once.
func (cl *Cluster) haApply(c *call, id int, st string) {
	n, _, ok := cl.guestOwner(id)
	if !ok {
		return
	}
	node, ok := cl.Node(n)
	if !ok || node.rt == nil {
		return
	}
	switch {
	case st == "started" && !node.isRunning(id):
		lk, err := node.lockConfig(c.ctx, id, lockConfigTimeout, io.Discard)
		if err != nil {
			return
		}
		defer lk.release()
		if conf, _, err := node.loadConf(id, nil); err == nil {
			node.doStart(c.ctx, id, conf, &task{out: io.Discard})
		}
	case (st == "stopped" || st == "disabled") && node.isRunning(id):
		node.doStop(c.ctx, id, false)
	}
}

func haRemoveCmd(c *call) int {
	typ, id, code, ok := c.parseSID()
	if !ok {
		return code
	}
	if !c.n.cluster.haConfigured(id) {
		return c.die("cannot delete service '%s:%d', not HA managed!", typ, id)
	}
	c.n.cluster.haRemove(id)
	return 0
}

func haSetCmd(c *call) int {
	typ, id, code, ok := c.parseSID()
	if !ok {
		return code
	}
	opts, code, ok := c.haOpts()
	if !ok {
		return code
	}
	cl := c.n.cluster
	if !cl.haConfigured(id) {
		return c.die("service '%s:%d' does not exist", typ, id)
	}
	rs := cl.haLoad()
	for _, r := range rs {
		if r.id != id {
			continue
		}
		for k, v := range opts {
			r.opts[k] = v
		}
		for _, k := range splitComma(c.opts["delete"]) {
			delete(r.opts, k)
		}
	}
	if err := cl.haSave(rs); err != nil {
		return c.fail(err)
	}
	if st, ok := opts["state"]; ok {
		cl.haApply(c, id, st)
	}
	return 0
}

func haStatusCmd(c *call) int {
	cl := c.n.cluster
	rs := cl.haLoad()
	fmt.Fprintln(c.stdout, "quorum OK")
	if len(rs) == 0 {
		return 0
	}
	ts := cl.now().Local().Format("Mon Jan _2 15:04:05 2006")
	nodes := cl.Nodes()
	fmt.Fprintf(c.stdout, "master %s (active, %s)\n", nodes[0], ts)
	for _, nn := range nodes {
		state := "idle"
		for _, r := range rs {
			if owner, _, ok := cl.guestOwner(r.id); ok && owner == nn {
				state = "active"
			}
		}
		if cl.PVEVersion >= 9 {
			wd := "watchdog inactive"
			if state == "active" {
				wd = "watchdog active"
			}
			fmt.Fprintf(c.stdout, "lrm %s (%s, %s, %s)\n", nn, state, wd, ts)
		} else {
			fmt.Fprintf(c.stdout, "lrm %s (%s, %s)\n", nn, state, ts)
		}
	}
	for _, r := range rs {
		owner, _, ok := cl.guestOwner(r.id)
		state := r.opts["state"]
		if !ok {
			fmt.Fprintf(c.stdout, "service %s (%s, %s)\n", r.sid(), "", "not found")
			continue
		}
		node, _ := cl.Node(owner)
		running := node.isRunning(r.id)
		switch state {
		case "started", "":
			state = "started"
			if !running {
				state = "starting"
			}
		case "stopped":
			if running {
				state = "stopping"
			}
		}
		fmt.Fprintf(c.stdout, "service %s (%s, %s)\n", r.sid(), owner, state)
	}
	return 0
}

func haConfigCmd(c *call) int {
	for _, r := range c.n.cluster.haLoad() {
		if t := c.opts["type"]; t != "" && t != r.typ {
			continue
		}
		fmt.Fprintln(c.stdout, r.sid())
		for _, k := range sortedKeys(r.opts) {
			fmt.Fprintf(c.stdout, "\t%s %s\n", k, r.opts[k])
		}
		fmt.Fprintln(c.stdout)
	}
	return 0
}
