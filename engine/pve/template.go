package pve

import (
	"regexp"
	"strings"
)

// TemplateName is an OS template file name split into its parts (§6.5):
// <os>-<version>-<flavour>_<pkgver>_<arch>.tar[.<ext>].
type TemplateName struct {
	// Base is everything before the first "_" ("debian-12-standard").
	Base    string
	OS      string // "debian", "proxmox-mail-gateway", "archlinux"
	Version string // "12", "9-stream", "" for archlinux-base
	Flavour string // "standard", "default", "base", "wordpress"
	PkgVer  string // "12.7-1", "20240908"
	Arch    string // "amd64"
	Ext     string // "zst", "xz", "gz", "bz2", or "" for plain .tar
}

var reTemplate = regexp.MustCompile(`^([^_/]+)_([^_/]+)_([^_/.]+)\.tar(?:\.(xz|zst|gz|bz2))?$`)

// ParseTemplateName splits a template file name (or a volume ID / path
// ending in one). OS, Version and Flavour are a heuristic: the OS is the
// leading dash-separated words up to the first one starting with a digit,
// the flavour is the last word, the version what lies between.
func ParseTemplateName(s string) (TemplateName, bool) {
	if i := strings.LastIndexAny(s, "/:"); i >= 0 {
		s = s[i+1:]
	}
	m := reTemplate.FindStringSubmatch(s)
	if m == nil {
		return TemplateName{}, false
	}
	t := TemplateName{Base: m[1], PkgVer: m[2], Arch: m[3], Ext: m[4]}
	words := strings.Split(m[1], "-")
	if len(words) > 1 {
		t.Flavour = words[len(words)-1]
		words = words[:len(words)-1]
	}
	i := 0
	for i < len(words) && (words[i] == "" || words[i][0] < '0' || words[i][0] > '9') {
		i++
	}
	if i == 0 {
		i = 1
	}
	t.OS = strings.Join(words[:i], "-")
	t.Version = strings.Join(words[i:], "-")
	return t, true
}

// Format is the pvesm list format of the template: "t<ext>", or "tar".
func (t TemplateName) Format() string {
	if t.Ext == "" {
		return "tar"
	}
	return "t" + t.Ext
}
