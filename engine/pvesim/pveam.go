package pvesim

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

var pveamTable toolTable

func init() {
	pveamTable = toolTable{
		"update":    {name: "update", run: pveamUpdate},
		"available": {name: "available", opts: withOpts([]string{"section"}, nil, nil), run: pveamAvailable},
		"list":      {name: "list", args: []string{"storage"}, run: pveamList},
		"download":  {name: "download", args: []string{"storage", "template"}, run: pveamDownload},
		"remove":    {name: "remove", args: []string{"template_path"}, run: pveamRemove},
	}
}

// catalogEntry is one template of the simulated aplinfo catalog.
type catalogEntry struct{ section, name, arch string }

// catalog lists the templates pveam offers: the lab's template cache.
func (c *Cluster) catalog() []catalogEntry {
	var out []catalogEntry
	ents, _ := os.ReadDir(c.TemplateCache)
	for _, e := range ents {
		if e.IsDir() || !reTemplateName.MatchString(e.Name()) {
			continue
		}
		sec := "system"
		switch {
		case strings.Contains(e.Name(), "-turnkey-"):
			sec = "turnkeylinux"
		case strings.HasPrefix(e.Name(), "proxmox-mail-gateway"):
			sec = "mail"
		}
		out = append(out, catalogEntry{section: sec, name: e.Name(), arch: detectArch(e.Name())})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].section != out[j].section {
			return out[i].section < out[j].section
		}
		return out[i].name < out[j].name
	})
	return out
}

func pveamUpdate(c *call) int {
	fmt.Fprintln(c.stdout, "update successful")
	return 0
}

func pveamAvailable(c *call) int {
	sec, filter := c.opts["section"]
	if filter {
		if _, e := vEnum("system", "mail", "turnkeylinux")(c.n, "section", sec); e != nil {
			return c.paramFail(e...)
		}
	}
	for _, e := range c.n.cluster.catalog() {
		if filter && e.section != sec {
			continue
		}
		if c.n.cluster.PVEVersion >= 9 {
			fmt.Fprintf(c.stdout, "%-15s %-60s %s\n", e.section, e.name, e.arch)
		} else {
			fmt.Fprintf(c.stdout, "%-15s %s\n", e.section, e.name)
		}
	}
	return 0
}

func pveamList(c *call) int {
	st, err := c.n.storage(c.pos["storage"])
	if err != nil {
		return c.fail(err)
	}
	if !st.allows("vztmpl") {
		return c.die("Storage does not support templates!")
	}
	tm := c.n.templates(st)
	names := sortedKeys(tm)
	sort.SliceStable(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	fmt.Fprintf(c.stdout, "%-60s %-6s\n", "NAME", "SIZE")
	for _, name := range names {
		fmt.Fprintf(c.stdout, "%-60s %-4.2fMB\n", st.ID+":vztmpl/"+name, float64(tm[name])/1048576)
	}
	return 0
}

func templateURL(e catalogEntry) string {
	if e.section == "turnkeylinux" {
		return "https://releases.turnkeylinux.org/pve/" + e.name
	}
	return "http://download.proxmox.com/images/" + e.section + "/" + e.name
}

func pveamDownload(c *call) int {
	n := c.n
	name := c.pos["template"]
	var entry *catalogEntry
	for _, e := range n.cluster.catalog() {
		if e.name == name {
			e := e
			entry = &e
		}
	}
	if entry == nil {
		return c.perr("template", "no such template", false)
	}
	st, err := n.storage(c.pos["storage"])
	if err != nil {
		return c.fail(err)
	}
	if !st.allows("vztmpl") {
		return c.die("storage '%s' does not support templates", st.ID)
	}
	host, shown, err := n.volumePath(st, "vztmpl/"+name)
	if err != nil {
		return c.fail(err)
	}
	url := templateURL(*entry)
	src := filepath.Join(n.cluster.TemplateCache, name)
	// Not wired to $upid_exit: a failed download still exits 0 (§6.4).
	return c.runTask(false, func(t *task) error {
		want, err := os.Stat(src)
		if err != nil {
			return pveErr("download failed: %s: %s", url, errText(err))
		}
		// Templates are large: an existing file of the right size (or the
		// very same file) counts as a verified checksum.
		if have, err := os.Stat(host); err == nil && (os.SameFile(have, want) || have.Size() == want.Size()) {
			t.printf("calculating checksum of existing file...OK, got correct file already, no need to download\n")
			return nil
		}
		t.printf("downloading %s to %s\n", url, shown)
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			return pveErr("download failed: %s", errText(err))
		}
		if err := copyFile(src, host); err != nil {
			return pveErr("download failed: %s", errText(err))
		}
		t.printf("calculating checksum...OK, checksum verified\n")
		t.printf("download of '%s' to '%s' finished\n", url, shown)
		return nil
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp_dwnl"
	os.Remove(tmp)
	// A hard link is instant and costs no space; fall back to a copy
	// across file systems.
	if err := os.Link(src, tmp); err == nil {
		return os.Rename(tmp, dst)
	}
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

var reTmplVolid = regexp.MustCompile(`^([^:]+):vztmpl/(.+)$`)

func pveamRemove(c *call) int {
	n := c.n
	v := c.pos["template_path"]
	m := reTmplVolid.FindStringSubmatch(v)
	if m == nil {
		return c.die("unable to parse volume ID '%s'", v)
	}
	st, err := n.storage(m[1])
	if err != nil {
		return c.fail(err)
	}
	host, _, err := n.volumePath(st, "vztmpl/"+m[2])
	if err != nil {
		return c.fail(err)
	}
	if err := os.Remove(host); err != nil {
		return c.die("can't find file '%s'", v)
	}
	return 0
}
