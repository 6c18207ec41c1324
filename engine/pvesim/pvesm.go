package pvesim

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/lxcplan/lxcplan/engine/pve"
)

var pvesmTable toolTable

func init() {
	pvesmTable = toolTable{
		"status": {name: "status", opts: withOpts([]string{"content", "storage", "target", "format"}, []string{"enabled"}, nil), run: pvesmStatus},
		"list":   {name: "list", args: []string{"storage"}, opts: withOpts([]string{"content", "vmid"}, nil, nil), run: pvesmList},
		"path":   {name: "path", args: []string{"volume"}, run: pvesmPath},
	}
}

// storageVolume is one volume pvesm list shows.
type storageVolume struct {
	volid, format, content string
	size                   int64
	vmid                   int
}

// volumeSizes maps volid → size from this node's container configs.
func (n *Node) volumeSizes() map[string]int64 {
	out := map[string]int64{}
	for _, id := range n.nodeCTs() {
		conf, _, err := n.loadConf(id, nil)
		if err != nil {
			continue
		}
		for _, k := range mountKeys(&conf.Section) {
			v, _ := conf.Get(k)
			if _, _, mt, ok := n.volumeOf(v); ok {
				out[mt.Volume] = mt.Size
			}
		}
	}
	return out
}

// volumes lists a storage's volumes on this node.
func (n *Node) volumes(st *storage) []storageVolume {
	sizes := n.volumeSizes()
	var out []storageVolume
	hd := n.hostDir(st)
	add := func(volname string, vmid int) {
		vid := st.ID + ":" + volname
		format := "raw"
		if strings.Contains(volname, "subvol") {
			format = "subvol"
		}
		out = append(out, storageVolume{volid: vid, format: format, content: "rootdir", size: sizes[vid], vmid: vmid})
	}
	vmidOf := func(name string) int {
		f := strings.Split(name, "-")
		if len(f) >= 2 {
			id, _ := strconv.Atoi(f[1])
			return id
		}
		return 0
	}
	switch st.Type {
	case "lvmthin", "lvm", "zfspool":
		ents, _ := os.ReadDir(hd)
		for _, e := range ents {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				add(e.Name(), vmidOf(e.Name()))
			}
		}
	default:
		dirs, _ := os.ReadDir(filepath.Join(hd, "images"))
		for _, d := range dirs {
			id, err := strconv.Atoi(d.Name())
			if err != nil {
				continue
			}
			ents, _ := os.ReadDir(filepath.Join(hd, "images", d.Name()))
			for _, e := range ents {
				add(d.Name()+"/"+e.Name(), id)
			}
		}
		for name, size := range n.templates(st) {
			out = append(out, storageVolume{volid: st.ID + ":vztmpl/" + name, format: templateFormat(name), content: "vztmpl", size: size})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].vmid == 0) != (out[j].vmid == 0) {
			return out[i].vmid != 0
		}
		if out[i].vmid != out[j].vmid {
			return out[i].vmid < out[j].vmid
		}
		return out[i].volid < out[j].volid
	})
	return out
}

// usage returns total, used and available bytes of a storage on this node.
func (n *Node) usage(st *storage) (total, used, avail int64) {
	total, used, avail = dirUsage(n.hostDir(st))
	switch st.Type {
	case "lvmthin", "lvm", "zfspool":
		used = 0
		for _, v := range n.volumes(st) {
			used += v.size
		}
		avail = total - used
		if avail < 0 {
			avail = 0
		}
	}
	return total, used, avail
}

func pvesmStatus(c *call) int {
	n := c.n
	all, err := n.cluster.storages()
	if err != nil {
		return c.fail(err)
	}
	var content []string
	if v, ok := c.opts["content"]; ok {
		content = pve.SplitList(v)
	}
	var ids []string
	for _, id := range storageIDs(all) {
		st := all[id]
		if len(content) > 0 {
			if st.Disabled {
				continue
			}
			any := false
			for _, ct := range content {
				if st.allows(ct) {
					any = true
				}
			}
			if !any {
				continue
			}
		}
		if c.flag("enabled") && st.Disabled {
			continue
		}
		ids = append(ids, id)
	}
	if want, ok := c.opts["storage"]; ok {
		found := false
		for _, id := range ids {
			if id == want {
				found = true
			}
		}
		if !found {
			return c.perr("storage", "No such storage.", false)
		}
		ids = []string{want}
	}
	maxlen := 0
	for _, id := range ids {
		if len(id) > maxlen {
			maxlen = len(id)
		}
	}
	w := maxlen + 1
	if w < 5 {
		w = 5
	}
	if n.cluster.PVEVersion >= 9 {
		fmt.Fprintf(c.stdout, "%-*s %10s %10s %15s %15s %15s %8s\n", w, "Name", "Type", "Status", "Total (KiB)", "Used (KiB)", "Available (KiB)", "%")
	} else {
		fmt.Fprintf(c.stdout, "%-*s %10s %10s %15s %15s %15s %8s\n", w, "Name", "Type", "Status", "Total", "Used", "Available", "%")
	}
	for _, id := range ids {
		st := all[id]
		if st.Disabled {
			fmt.Fprintf(c.stdout, "%-*s %10s %10s %15d %15d %15d %8s\n", w, id, st.Type, "disabled", 0, 0, 0, "N/A")
			continue
		}
		total, used, avail := n.usage(st)
		pct := 0.0
		if total > 0 {
			pct = float64(used) / float64(total) * 100
		}
		fmt.Fprintf(c.stdout, "%-*s %10s %10s %15d %15d %15d % 7.2f%%\n", w, id, st.Type, "active", total/1024, used/1024, avail/1024, pct)
	}
	return 0
}

func pvesmList(c *call) int {
	n := c.n
	st, err := n.storage(c.pos["storage"])
	if err != nil {
		return c.fail(err)
	}
	vols := n.volumes(st)
	var keep []storageVolume
	for _, v := range vols {
		if ct, ok := c.opts["content"]; ok && ct != v.content {
			continue
		}
		if id, ok := c.opts["vmid"]; ok && id != strconv.Itoa(v.vmid) {
			continue
		}
		keep = append(keep, v)
	}
	wv, ws := len("Volid"), len("Size")
	for _, v := range keep {
		if len(v.volid) > wv {
			wv = len(v.volid)
		}
		if l := len(strconv.FormatInt(v.size, 10)); l > ws {
			ws = l
		}
	}
	fmt.Fprintf(c.stdout, "%-*s %-7s %-9s %*s %s\n", wv, "Volid", "Format", "Type", ws, "Size", "VMID")
	for _, v := range keep {
		line := fmt.Sprintf("%-*s %-7s %-9s %*d", wv, v.volid, v.format, v.content, ws, v.size)
		if v.vmid != 0 {
			line += fmt.Sprintf(" %d", v.vmid)
		}
		fmt.Fprintln(c.stdout, line)
	}
	return 0
}

func pvesmPath(c *call) int {
	n := c.n
	v := c.pos["volume"]
	sid, vol, ok := parseVolid(v)
	if !ok {
		return c.perr("volume", fmt.Sprintf("invalid format - unable to parse volume ID '%s'", v), true)
	}
	st, err := n.storage(sid)
	if err != nil {
		return c.fail(err)
	}
	_, shown, err := n.volumePath(st, vol)
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintln(c.stdout, shown)
	return 0
}
