package pve

import (
	"regexp"
	"strconv"
	"strings"
)

var (
	reIllegalPath = regexp.MustCompile(`/\.\.?/|/\.\.?$|^\.\./`)
	reMountOpt    = regexp.MustCompile(`^(?:discard|lazytime|noatime|nodev|noexec|nosuid)(?:;(?:discard|lazytime|noatime|nodev|noexec|nosuid))*$`)
	reDevMode     = regexp.MustCompile(`^0[0-7]{3}$`)
	reFeatMount   = regexp.MustCompile(`^[a-zA-Z0-9_; ]+$`)
	reDotSegment  = regexp.MustCompile(`/\.\.?/|/\.\.?$`)
)

// VerifyMountPath is the pve-lxc-mp-string format: no "/./", "/../", no
// trailing "/." or "/..", no leading "../".
func VerifyMountPath(s string) error {
	if reIllegalPath.MatchString(s) {
		return fmtErr("%s contains illegal character sequences", s)
	}
	return nil
}

// VerifyMountOptions is the pve-ct-mount-options format. The message text is
// UNCONFIRMED (not in the reference).
func VerifyMountOptions(s string) error {
	if !reMountOpt.MatchString(s) {
		return fmtErr("invalid mount options '%s'", s)
	}
	return nil
}

// VerifyDiskSize is the disk-size format (parse_size must accept it).
func VerifyDiskSize(s string) error {
	if _, ok := ParseSize(s); !ok {
		return fmtErr("value '%s' does not look like a valid disk size", s)
	}
	return nil
}

// VerifyDevPath is the pve-lxc-dev-string format: under /dev/, no dot segments.
func VerifyDevPath(s string) error {
	if reDotSegment.MatchString(s) || !strings.HasPrefix(s, "/dev/") {
		return fmtErr("%s is not a valid device path", s)
	}
	return nil
}

// RootfsFormat is the format of rootfs; MountFormat (mpN) adds mp, backup
// and keepattrs.
var (
	RootfsFormat = PropFormat{
		"volume":       {Type: TypeString, DefaultKey: true, Format: VerifyMountPath},
		"size":         {Type: TypeString, Optional: true, Format: VerifyDiskSize},
		"acl":          optBoolProp(),
		"mountoptions": {Type: TypeString, Optional: true, Format: VerifyMountOptions},
		"quota":        optBoolProp(),
		"replicate":    optBoolProp(),
		"ro":           optBoolProp(),
		"shared":       optBoolProp(),
		// idmap exists from PVE 9 (pve-container 6.0.15); validated loosely.
		"idmap": {Type: TypeString, Optional: true},
	}
	MountFormat = func() PropFormat {
		f := PropFormat{}
		for k, v := range RootfsFormat {
			f[k] = v
		}
		f["mp"] = Prop{Type: TypeString, Format: VerifyMountPath}
		f["backup"] = optBoolProp()
		f["keepattrs"] = optBoolProp()
		return f
	}()
)

// Mount is a parsed rootfs or mpN value.
type Mount struct {
	// Volume is a volume ID ("local-lvm:vm-100-disk-0"), a new-volume request
	// ("local-lvm:8", see [ParseNewVolume]), a host path (bind mount) or a
	// device.
	Volume string
	// MP is the path inside the container; required for mpN, absent for rootfs.
	MP string
	// Size in bytes, meaningful when SizeSet (size=0 is a valid subvolume size).
	Size         int64
	SizeSet      bool
	ACL          OptBool
	Backup       OptBool
	IDMap        string
	KeepAttrs    OptBool
	MountOptions string // "noatime;nodev"
	Quota        OptBool
	Replicate    OptBool
	RO           OptBool
	Shared       OptBool
}

// ParseRootfs parses and validates a rootfs value.
func ParseRootfs(s string) (*Mount, error) { return parseMount("rootfs", RootfsFormat, s) }

// ParseMount parses and validates an mpN value; param is "mp0" etc.
func ParseMount(param, s string) (*Mount, error) { return parseMount(param, MountFormat, s) }

func parseMount(param string, f PropFormat, s string) (*Mount, error) {
	m, err := ParsePropertyString(param, f, s)
	if err != nil {
		return nil, err
	}
	mt := &Mount{
		Volume: m["volume"], MP: m["mp"], ACL: optBool(m, "acl"), Backup: optBool(m, "backup"),
		IDMap: m["idmap"], KeepAttrs: optBool(m, "keepattrs"), MountOptions: m["mountoptions"],
		Quota: optBool(m, "quota"), Replicate: optBool(m, "replicate"), RO: optBool(m, "ro"),
		Shared: optBool(m, "shared"),
	}
	if v, ok := m["size"]; ok {
		mt.Size, _ = ParseSize(v)
		mt.SizeSet = true
	}
	return mt, nil
}

// Map returns the key=value form of mt, the size formatted by [FormatSize].
func (mt *Mount) Map() map[string]string {
	m := map[string]string{}
	putStr(m, "volume", mt.Volume)
	putStr(m, "mp", mt.MP)
	if mt.SizeSet {
		m["size"] = FormatSize(mt.Size)
	}
	putBool(m, "acl", mt.ACL)
	putBool(m, "backup", mt.Backup)
	putStr(m, "idmap", mt.IDMap)
	putBool(m, "keepattrs", mt.KeepAttrs)
	putStr(m, "mountoptions", mt.MountOptions)
	putBool(m, "quota", mt.Quota)
	putBool(m, "replicate", mt.Replicate)
	putBool(m, "ro", mt.RO)
	putBool(m, "shared", mt.Shared)
	return m
}

// String renders mt as PVE writes it: volume, mp, then keys alphabetically,
// e.g. "local-lvm:vm-100-disk-1,mp=/data,backup=1,size=32G".
func (mt *Mount) String() string { return PrintPropertyString(MountFormat, mt.Map()) }

// NewVolume reports whether Volume is the STORAGE:N allocation syntax, and
// its storage and size in GiB.
func (mt *Mount) NewVolume() (storage string, gib float64, ok bool) {
	return ParseNewVolume(mt.Volume)
}

// FeaturesFormat is the format of features.
var FeaturesFormat = PropFormat{
	"force_rw_sys": optBoolProp(),
	"fuse":         optBoolProp(),
	"keyctl":       optBoolProp(),
	"mknod":        optBoolProp(),
	"mount":        {Type: TypeString, Optional: true, Pattern: reFeatMount},
	"nesting":      optBoolProp(),
}

// Features is a parsed features value. PVE stores the option verbatim (it is
// not re-rendered), so callers comparing configs should compare parsed values
// and write back the text they were given.
type Features struct {
	ForceRWSys OptBool
	Fuse       OptBool
	Keyctl     OptBool
	Mknod      OptBool
	Mount      []string // fstypes, "nfs;cifs" split
	Nesting    OptBool
}

// ParseFeatures parses and validates a features value.
func ParseFeatures(s string) (*Features, error) {
	m, err := ParsePropertyString("features", FeaturesFormat, s)
	if err != nil {
		return nil, err
	}
	f := &Features{
		ForceRWSys: optBool(m, "force_rw_sys"), Fuse: optBool(m, "fuse"), Keyctl: optBool(m, "keyctl"),
		Mknod: optBool(m, "mknod"), Nesting: optBool(m, "nesting"),
	}
	if v := m["mount"]; v != "" {
		for _, t := range strings.Split(v, ";") {
			if t = strings.TrimSpace(t); t != "" {
				f.Mount = append(f.Mount, t)
			}
		}
	}
	return f, nil
}

// String renders f alphabetically, the form to pass on a command line when
// lxcplan builds the value itself.
func (f *Features) String() string {
	m := map[string]string{}
	putBool(m, "force_rw_sys", f.ForceRWSys)
	putBool(m, "fuse", f.Fuse)
	putBool(m, "keyctl", f.Keyctl)
	putBool(m, "mknod", f.Mknod)
	if len(f.Mount) > 0 {
		m["mount"] = strings.Join(f.Mount, ";")
	}
	putBool(m, "nesting", f.Nesting)
	return PrintPropertyString(FeaturesFormat, m)
}

// Startup is a parsed startup value ("order=1,up=30,down=60" or "1").
type Startup struct {
	Order, Up, Down          int
	HasOrder, HasUp, HasDown bool
}

var (
	reStartOrder = regexp.MustCompile(`^(?:order=)?(\d+)$`)
	reStartUp    = regexp.MustCompile(`^up=(\d+)$`)
	reStartDown  = regexp.MustCompile(`^down=(\d+)$`)
)

// ParseStartup parses like pve_parse_startup_order; the error is a
// [ParamErrors] "startup: invalid format - unable to parse startup options".
func ParseStartup(s string) (*Startup, error) {
	st := &Startup{}
	// Perl's "return undef if !$value" also refuses "0".
	bad := s == "" || s == "0"
	for _, p := range strings.Split(s, ",") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		var m []string
		if m = reStartOrder.FindStringSubmatch(p); m != nil {
			st.Order, st.HasOrder = atoi(m[1]), true
		} else if m = reStartUp.FindStringSubmatch(p); m != nil {
			st.Up, st.HasUp = atoi(m[1]), true
		} else if m = reStartDown.FindStringSubmatch(p); m != nil {
			st.Down, st.HasDown = atoi(m[1]), true
		} else {
			bad = true
		}
	}
	if bad {
		return nil, paramFormatError("startup", fmtErr("unable to parse startup options"))
	}
	return st, nil
}

// String renders order, up, down in that order (PVE stores startup verbatim).
func (st *Startup) String() string {
	var parts []string
	if st.HasOrder {
		parts = append(parts, "order="+strconv.Itoa(st.Order))
	}
	if st.HasUp {
		parts = append(parts, "up="+strconv.Itoa(st.Up))
	}
	if st.HasDown {
		parts = append(parts, "down="+strconv.Itoa(st.Down))
	}
	return strings.Join(parts, ",")
}

// DevFormat is the format of devN.
var DevFormat = PropFormat{
	"path":       {Type: TypeString, Optional: true, DefaultKey: true, Format: VerifyDevPath},
	"mode":       {Type: TypeString, Optional: true, Pattern: reDevMode},
	"uid":        {Type: TypeInt, Optional: true, Min: 0, HasMin: true},
	"gid":        {Type: TypeInt, Optional: true, Min: 0, HasMin: true},
	"deny-write": optBoolProp(),
}

// Dev is a parsed devN value ("/dev/ttyUSB0,gid=20,mode=0660").
type Dev struct {
	Path      string
	DenyWrite OptBool
	// GID/UID are meaningful when HasGID/HasUID (0 is root).
	GID, UID       int
	HasGID, HasUID bool
	Mode           string // "0660"
}

// ParseDev parses and validates a devN value; param is "dev0" etc.
func ParseDev(param, s string) (*Dev, error) {
	m, err := ParsePropertyString(param, DevFormat, s)
	if err != nil {
		return nil, err
	}
	d := &Dev{Path: m["path"], DenyWrite: optBool(m, "deny-write"), Mode: m["mode"]}
	if v, ok := m["gid"]; ok {
		d.GID, d.HasGID = atoi(v), true
	}
	if v, ok := m["uid"]; ok {
		d.UID, d.HasUID = atoi(v), true
	}
	return d, nil
}

// String renders d: path first, then keys alphabetically.
func (d *Dev) String() string {
	m := map[string]string{}
	putStr(m, "path", d.Path)
	putBool(m, "deny-write", d.DenyWrite)
	if d.HasGID {
		m["gid"] = strconv.Itoa(d.GID)
	}
	putStr(m, "mode", d.Mode)
	if d.HasUID {
		m["uid"] = strconv.Itoa(d.UID)
	}
	return PrintPropertyString(DevFormat, m)
}
