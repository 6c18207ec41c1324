package pvesim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/lxcplan/lxcplan/engine/pve"
)

var pveshTable toolTable

func init() {
	opts := withOpts([]string{"output-format", "type", "vmid", "content", "snapshot"},
		[]string{"noborder", "noheader", "quiet", "human-readable", "current", "noproxy"}, nil)
	pveshTable = toolTable{
		"get": {name: "get", args: []string{"api_path"}, opts: opts, run: pveshGet},
	}
}

// versions per PVE line (§8).
func (c *Cluster) version() (release, version, repoid, kernel string) {
	if c.PVEVersion >= 9 {
		return "9.1", "9.1.4", "5ac30304265fbd8e", "6.14.8-2-pve"
	}
	return "8.2", "8.2.4", "faa83925c9641325", "6.8.8-2-pve"
}

// pveshError is a die from an API handler: (message, is param error).
type pveshError struct {
	param string
	msg   string
}

func pveshGet(c *call) int {
	format := c.opts["output-format"]
	if format == "" {
		format = "text"
	}
	if _, e := vEnum("text", "json", "json-pretty", "yaml")(c.n, "output-format", format); e != nil {
		return c.paramFail(e...)
	}
	p := "/" + strings.Trim(c.pos["api_path"], "/")
	res, perr := c.apiGet(p)
	if perr != nil {
		if perr.param != "" {
			return c.perr(perr.param, perr.msg, true)
		}
		return c.die("%s", perr.msg)
	}
	return printResult(c.stdout, res, format)
}

func (c *call) apiGet(p string) (any, *pveshError) {
	n := c.n
	cl := n.cluster
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case p == "/version":
		rel, ver, repo, _ := cl.version()
		return map[string]any{"release": rel, "version": ver, "repoid": repo}, nil
	case p == "/cluster/nextid":
		used := cl.guests()
		if v, ok := c.opts["vmid"]; ok {
			id, err := strconv.Atoi(v)
			if err != nil || !reVMID.MatchString(v) {
				return nil, &pveshError{param: "vmid", msg: "invalid format - value does not look like a valid VM ID"}
			}
			if _, taken := used[id]; taken {
				return nil, &pveshError{param: "vmid", msg: fmt.Sprintf("VM %d already exists", id)}
			}
			return strconv.Itoa(id), nil
		}
		for id := 100; id < 1000000; id++ {
			if _, taken := used[id]; !taken {
				return strconv.Itoa(id), nil
			}
		}
		return nil, &pveshError{msg: "unable to get any free VMID in range [100, 999999]"}
	case p == "/cluster/resources":
		return c.clusterResources(c.opts["type"]), nil
	case p == "/cluster/status":
		out := []any{map[string]any{"type": "cluster", "id": "cluster", "name": "pvelab", "nodes": len(cl.Nodes()), "quorate": 1, "version": len(cl.Nodes()) + 1}}
		for i, nn := range cl.Nodes() {
			local := 0
			if nn == n.Name {
				local = 1
			}
			out = append(out, map[string]any{"type": "node", "id": "node/" + nn, "name": nn, "nodeid": i + 1, "ip": "127.0.0.1", "local": local, "online": 1, "level": ""})
		}
		return out, nil
	case p == "/nodes":
		var out []any
		for _, nn := range cl.Nodes() {
			out = append(out, cl.nodeEntry(nn))
		}
		return out, nil
	case p == "/storage":
		all, _ := cl.storages()
		var out []any
		for _, id := range storageIDs(all) {
			st := all[id]
			e := map[string]any{"storage": id, "type": st.Type, "content": strings.Join(st.Content, ","), "digest": "0"}
			if st.Path != "" {
				e["path"] = st.Path
			}
			out = append(out, e)
		}
		return out, nil
	}
	if len(parts) < 2 || parts[0] != "nodes" {
		return nil, &pveshError{msg: fmt.Sprintf("No 'get' handler defined for '%s'", p)}
	}
	target, ok := cl.Node(parts[1])
	if !ok {
		return nil, &pveshError{msg: fmt.Sprintf("hostname lookup '%s' failed - failed to get address info for: %s: Name or service not known", parts[1], parts[1])}
	}
	rest := parts[2:]
	switch {
	case len(rest) == 1 && rest[0] == "storage":
		return target.storageEntries(c.opts["content"]), nil
	case len(rest) == 1 && rest[0] == "lxc":
		out := []any{}
		for _, id := range target.nodeCTs() {
			if conf, _, err := target.loadConf(id, nil); err == nil {
				out = append(out, target.vmstatus(id, conf))
			}
		}
		return out, nil
	case len(rest) >= 2 && rest[0] == "lxc":
		vmid, err := strconv.Atoi(rest[1])
		if err != nil || !reVMID.MatchString(rest[1]) {
			return nil, &pveshError{param: "vmid", msg: "invalid format - value does not look like a valid VM ID"}
		}
		conf, _, lerr := target.loadConf(vmid, nil)
		if lerr != nil {
			return nil, &pveshError{msg: lerr.Error()}
		}
		sub := strings.Join(rest[2:], "/")
		switch sub {
		case "status/current":
			st := target.vmstatus(vmid, conf)
			if r := cl.haFind(vmid); r != nil {
				st["ha"] = map[string]any{"managed": 1, "state": r.opts["state"]}
			} else {
				st["ha"] = map[string]any{"managed": 0}
			}
			return st, nil
		case "config":
			return configJSON(conf, c), nil
		case "pending":
			return pendingJSON(conf), nil
		case "interfaces":
			if !target.isRunning(vmid) || target.rt == nil {
				return nil, nil
			}
			ifs, err := target.rt.Interfaces(c.ctx, vmid)
			if err != nil {
				return nil, &pveshError{msg: err.Error()}
			}
			return interfacesJSON(ifs), nil
		case "snapshot":
			return snapshotsJSON(target, vmid, conf), nil
		}
	}
	return nil, &pveshError{msg: fmt.Sprintf("No 'get' handler defined for '%s'", p)}
}

func (cl *Cluster) nodeEntry(nn string) map[string]any {
	node, _ := cl.Node(nn)
	total, used, _ := dirUsage(node.StorageRoot)
	return map[string]any{"node": nn, "status": "online", "id": "node/" + nn, "type": "node", "cpu": 0.01,
		"maxcpu": node.Cores, "mem": node.MemTotal / 8, "maxmem": node.MemTotal, "disk": used, "maxdisk": total,
		"uptime": 12345, "level": "", "ssl_fingerprint": "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"}
}

func (c *call) clusterResources(typ string) []any {
	cl := c.n.cluster
	out := []any{}
	if typ == "" || typ == "vm" {
		guests := cl.guests()
		var ids []int
		for id := range guests {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		for _, id := range ids {
			node, _ := cl.Node(guests[id])
			conf, _, err := node.loadConf(id, nil)
			if err != nil {
				continue
			}
			if cl.StatsDelay > 0 && cl.now().Sub(cl.createdAt(id)) < cl.StatsDelay {
				out = append(out, map[string]any{"id": "lxc/" + strconv.Itoa(id), "type": "lxc", "vmid": id, "node": node.Name, "status": "unknown"})
				continue
			}
			st := node.vmstatus(id, conf)
			tmpl := 0
			if v, _ := conf.Get("template"); v == "1" {
				tmpl = 1
			}
			e := map[string]any{"id": "lxc/" + strconv.Itoa(id), "type": "lxc", "vmid": id, "node": node.Name,
				"status": st["status"], "name": st["name"], "uptime": st["uptime"], "template": tmpl,
				"maxcpu": st["cpus"], "cpu": 0, "maxmem": st["maxmem"], "mem": st["mem"], "maxdisk": st["maxdisk"],
				"disk": st["disk"], "netin": st["netin"], "netout": st["netout"], "diskread": 0, "diskwrite": 0}
			for _, k := range []string{"lock", "tags"} {
				if v, ok := st[k]; ok {
					e[k] = v
				}
			}
			if r := cl.haFind(id); r != nil {
				e["hastate"] = r.opts["state"]
			}
			out = append(out, e)
		}
	}
	if typ == "" || typ == "node" {
		for _, nn := range cl.Nodes() {
			out = append(out, cl.nodeEntry(nn))
		}
	}
	if typ == "" || typ == "storage" {
		for _, nn := range cl.Nodes() {
			node, _ := cl.Node(nn)
			for _, e := range node.storageEntries("") {
				m := e.(map[string]any)
				out = append(out, map[string]any{"id": "storage/" + nn + "/" + m["storage"].(string), "type": "storage",
					"storage": m["storage"], "node": nn, "plugintype": m["type"], "content": m["content"],
					"status": "available", "disk": m["used"], "maxdisk": m["total"], "shared": 0})
			}
		}
	}
	return out
}

func (n *Node) storageEntries(content string) []any {
	all, _ := n.cluster.storages()
	out := []any{}
	for _, id := range storageIDs(all) {
		st := all[id]
		if content != "" {
			ok := false
			for _, ct := range pve.SplitList(content) {
				if st.allows(ct) {
					ok = true
				}
			}
			if !ok || st.Disabled {
				continue
			}
		}
		e := map[string]any{"storage": id, "type": st.Type, "content": strings.Join(st.Content, ","),
			"active": 1, "enabled": 1, "shared": 0}
		if st.Disabled {
			e["active"], e["enabled"] = 0, 0
		} else {
			total, used, avail := n.usage(st)
			e["total"], e["used"], e["avail"] = total, used, avail
			if total > 0 {
				e["used_fraction"] = float64(used) / float64(total)
			}
		}
		out = append(out, e)
	}
	return out
}

// Option types for JSON output of a config.
var intOptions = map[string]bool{"cores": true, "cpuunits": true, "memory": true, "swap": true, "tty": true,
	"console": true, "debug": true, "onboot": true, "protection": true, "template": true, "unprivileged": true}

func sectionJSON(s *pve.Section) map[string]any {
	out := map[string]any{}
	for k, v := range s.Options {
		if intOptions[k] {
			if i, err := strconv.Atoi(v); err == nil {
				out[k] = i
				continue
			}
		}
		if k == "cpulimit" {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				out[k] = f
				continue
			}
		}
		if k == "snaptime" {
			if i, err := strconv.ParseInt(v, 10, 64); err == nil {
				out[k] = i
				continue
			}
		}
		out[k] = v
	}
	if s.Description != "" {
		out["description"] = s.Description
	}
	if len(s.Raw) > 0 {
		var raw []any
		for _, r := range s.Raw {
			raw = append(raw, []string{r.Key, r.Value})
		}
		out["lxc"] = raw
	}
	return out
}

func configJSON(conf *pve.Config, c *call) map[string]any {
	var s *pve.Section
	switch {
	case c.opts["snapshot"] != "":
		if snap, ok := conf.Snapshots[c.opts["snapshot"]]; ok {
			s = snap
		} else {
			s = pve.NewSection()
		}
	case c.flag("current"):
		s = &conf.Section
	default:
		s = mergedPending(conf)
	}
	out := sectionJSON(s)
	out["digest"] = pve.Digest(conf.Bytes())
	return out
}

func pendingJSON(conf *pve.Config) []any {
	out := []any{}
	cur := sectionJSON(&conf.Section)
	pend := map[string]any{}
	dels := map[string]bool{}
	if conf.Pending != nil {
		pend = sectionJSON(conf.Pending)
		delete(pend, "delete")
		for _, d := range conf.Pending.PendingDeletes() {
			dels[d.Key] = true
		}
	}
	keys := map[string]bool{}
	for k := range cur {
		keys[k] = true
	}
	for k := range pend {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		e := map[string]any{"key": k}
		if v, ok := cur[k]; ok {
			e["value"] = v
		}
		if v, ok := pend[k]; ok {
			e["pending"] = v
		}
		if dels[k] {
			e["delete"] = 1
		}
		out = append(out, e)
	}
	return out
}

func interfacesJSON(ifs []Iface) []any {
	out := []any{}
	for _, f := range ifs {
		var addrs []any
		for _, a := range []struct{ cidr, typ string }{{f.Inet, "inet"}, {f.Inet6, "inet6"}} {
			if a.cidr == "" {
				continue
			}
			ip, pfx, _ := strings.Cut(a.cidr, "/")
			p, _ := strconv.Atoi(pfx)
			addrs = append(addrs, map[string]any{"ip-address": ip, "ip-address-type": a.typ, "prefix": p})
		}
		e := map[string]any{"name": f.Name, "hwaddr": f.HWAddr, "hardware-address": f.HWAddr}
		if f.Inet != "" {
			e["inet"] = f.Inet
		}
		if f.Inet6 != "" {
			e["inet6"] = f.Inet6
		}
		if addrs != nil {
			e["ip-addresses"] = addrs
		}
		out = append(out, e)
	}
	return out
}

func snapshotsJSON(n *Node, vmid int, conf *pve.Config) []any {
	out := []any{}
	for _, name := range conf.SnapshotNames() {
		s := conf.Snapshots[name]
		e := map[string]any{"name": name, "description": strings.TrimSuffix(s.Description, "\n"), "snaptime": snapTime(s)}
		if p, ok := s.Get("parent"); ok {
			e["parent"] = p
		}
		out = append(out, e)
	}
	cur := map[string]any{"name": "current", "description": "You are here!", "running": 0}
	if n.isRunning(vmid) {
		cur["running"] = 1
	}
	if p, ok := conf.Get("parent"); ok {
		cur["parent"] = p
	}
	return append(out, cur)
}

// printResult renders an API result like CLIFormatter (§8): json is one
// line with sorted keys, json-pretty uses Perl's 3-space indent and
// " : ", text prints scalars plainly and structures as ASCII tables.
func printResult(w io.Writer, res any, format string) int {
	switch format {
	case "json":
		b, _ := json.Marshal(res)
		w.Write(append(b, '\n'))
	case "json-pretty":
		var b bytes.Buffer
		prettyJSON(&b, res, 0)
		b.WriteString("\n")
		w.Write(b.Bytes())
	case "yaml":
		b, _ := json.Marshal(res)
		fmt.Fprintf(w, "---\n%s\n", b)
	default:
		printText(w, res)
	}
	return 0
}

func prettyJSON(b *bytes.Buffer, v any, depth int) {
	ind := strings.Repeat("   ", depth+1)
	end := strings.Repeat("   ", depth)
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		keys := sortedKeys(x)
		for i, k := range keys {
			kb, _ := json.Marshal(k)
			b.WriteString(ind)
			b.Write(kb)
			b.WriteString(" : ")
			prettyJSON(b, x[k], depth+1)
			if i < len(keys)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString(end + "}")
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, e := range x {
			b.WriteString(ind)
			prettyJSON(b, e, depth+1)
			if i < len(x)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString(end + "]")
	case []string:
		arr := make([]any, len(x))
		for i, s := range x {
			arr[i] = s
		}
		prettyJSON(b, arr, depth)
	default:
		j, _ := json.Marshal(x)
		b.Write(j)
	}
}

func printText(w io.Writer, res any) {
	switch x := res.(type) {
	case nil:
	case map[string]any:
		rows := [][]string{}
		for _, k := range sortedKeys(x) {
			rows = append(rows, []string{k, textValue(x[k])})
		}
		printTable(w, []string{"key", "value"}, rows)
	case []any:
		cols := map[string]bool{}
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				for k := range m {
					cols[k] = true
				}
			}
		}
		keys := sortedKeys(cols)
		var rows [][]string
		for _, e := range x {
			m, _ := e.(map[string]any)
			row := make([]string, len(keys))
			for i, k := range keys {
				if v, ok := m[k]; ok {
					row[i] = textValue(v)
				}
			}
			rows = append(rows, row)
		}
		printTable(w, keys, rows)
	default:
		fmt.Fprintln(w, textValue(x))
	}
}

func textValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case map[string]any, []any, []string:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

var reNewlines = regexp.MustCompile(`\n`)

func printTable(w io.Writer, head []string, rows [][]string) {
	width := make([]int, len(head))
	for i, h := range head {
		width[i] = len(h)
	}
	for _, r := range rows {
		for i, c := range r {
			r[i] = reNewlines.ReplaceAllString(c, " ")
			if len(r[i]) > width[i] {
				width[i] = len(r[i])
			}
		}
	}
	sep := func(ch string) {
		var b strings.Builder
		b.WriteString("+")
		for _, wd := range width {
			b.WriteString(strings.Repeat(ch, wd+2) + "+")
		}
		fmt.Fprintln(w, b.String())
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cells {
			fmt.Fprintf(&b, " %-*s |", width[i], c)
		}
		fmt.Fprintln(w, b.String())
	}
	sep("-")
	line(head)
	sep("=")
	for _, r := range rows {
		line(r)
	}
	sep("-")
}

func runPveversion(n *Node, args []string, stdout, stderr io.Writer) int {
	verbose := false
	for _, a := range args {
		switch a {
		case "-v", "--verbose", "-verbose":
			verbose = true
		default:
			fmt.Fprintf(stderr, "Unknown option: %s\nUSAGE: pveversion [--verbose]\n", strings.TrimLeft(a, "-"))
			return exitDie
		}
	}
	_, ver, repo, kernel := n.cluster.version()
	if !verbose {
		fmt.Fprintf(stdout, "pve-manager/%s/%s (running kernel: %s)\n", ver, repo, kernel)
		return 0
	}
	major := ver[:1]
	fmt.Fprintf(stdout, "proxmox-ve: %s.0 (running kernel: %s)\n", ver[:3], kernel)
	fmt.Fprintf(stdout, "pve-manager: %s (running version: %s/%s)\n", ver, ver, repo)
	if major == "9" {
		fmt.Fprintf(stdout, "pve-container: 6.1.10\npve-ha-manager: 5.2.0\nlibpve-storage-perl: 9.1.7\nlxc-pve: 6.0.5-1\n")
	} else {
		fmt.Fprintf(stdout, "pve-container: 5.2.6\npve-ha-manager: 4.0.7\nlibpve-storage-perl: 8.2.3\nlxc-pve: 6.0.0-1\n")
	}
	return 0
}
