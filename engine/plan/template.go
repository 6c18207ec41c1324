package plan

import (
	"fmt"
	"strings"

	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/pve"
)

// Template statuses.
const (
	TemplatePresent     = "present"
	TemplateDownload    = "download"
	TemplateUnknown     = "unknown"
	TemplateUnavailable = "unavailable"
)

// templateStorage is where templates go: the declared one, else PVE's
// "local".
func templateStorage(c *model.Container) string {
	if c.TemplateStorage != "" {
		return c.TemplateStorage
	}
	return "local"
}

// resolveTemplate picks the newest template for the container's os, version
// and arch among those on the host's template storage and, when known, the
// catalog (pveam available). catalog nil means unknown.
func resolveTemplate(c *model.Container, h *inventory.Host, catalog []pve.AvailableTemplate) *Template {
	t := &Template{Storage: templateStorage(c), OS: c.OS, Version: c.Version, Arch: archOf(c), Status: TemplateUnknown}
	match := func(name, arch string) (pve.TemplateName, bool) {
		tn, ok := pve.ParseTemplateName(name)
		if !ok || tn.OS != c.OS || tn.Version != c.Version {
			return tn, false
		}
		if arch == "" {
			arch = tn.Arch
		}
		return tn, arch == t.Arch
	}
	var best pve.TemplateName
	bestName, bestLocal := "", false
	consider := func(name string, tn pve.TemplateName, local bool) {
		if bestName == "" || newerTemplate(tn, best) || (!newerTemplate(best, tn) && local && !bestLocal) {
			best, bestName, bestLocal = tn, name, local
		}
	}
	if h != nil {
		for _, v := range h.Templates[t.Storage] {
			if tn, ok := match(v, ""); ok {
				consider(v, tn, true)
			}
		}
	}
	for _, a := range catalog {
		if tn, ok := match(a.Template, a.Arch); ok {
			consider(t.Storage+":vztmpl/"+a.Template, tn, false)
		}
	}
	switch {
	case bestName != "" && bestLocal:
		t.VolID, t.Status = bestName, TemplatePresent
	case bestName != "":
		t.VolID, t.Status = bestName, TemplateDownload
	case catalog != nil:
		t.Status = TemplateUnavailable
	}
	return t
}

// newerTemplate reports whether a is a newer package than b.
func newerTemplate(a, b pve.TemplateName) bool {
	if c := naturalCompare(a.PkgVer, b.PkgVer); c != 0 {
		return c > 0
	}
	return a.Base+a.Ext > b.Base+b.Ext
}

// naturalCompare compares version strings with digit runs as numbers.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		ra, rest1 := run(a, da)
		rb, rest2 := run(b, db)
		switch {
		case da && db:
			na, nb := strings.TrimLeft(ra, "0"), strings.TrimLeft(rb, "0")
			if len(na) != len(nb) {
				return cmpInt(len(na), len(nb))
			}
			if na != nb {
				return strings.Compare(na, nb)
			}
		case ra != rb:
			if ra < rb {
				return -1
			}
			return 1
		}
		a, b = rest1, rest2
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

func cmpInt(a, b int) int {
	if a < b {
		return -1
	}
	return 1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func run(s string, digits bool) (string, string) {
	i := 0
	for i < len(s) && isDigit(s[i]) == digits {
		i++
	}
	return s[:i], s[i:]
}

// templateIdentity renders os-version/arch for messages.
func templateIdentity(os, version, arch string) string {
	return fmt.Sprintf("%s %s (%s)", os, version, arch)
}
