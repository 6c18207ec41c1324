package pve

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"regexp"
	"sort"
	"strconv"
)

// dumpScript reads every guest config file of a cluster in one command.
// /etc/pve is the same on every node of a cluster (pmxcfs), so one run on
// any reachable node sees every guest, whatever its node.
//
// It is shell text, which the house rules reserve for transport.Quote, but
// it is a constant: no user value (stack, host, container name) ever goes
// into it, so there is nothing to quote. A loop is the only way to read N
// files with a constant number of commands and still know where each file
// ends.
//
// Framing: each file is printed base64-encoded between "@@ file PATH" and
// "@@ end" (or "@@ unreadable" when it vanished or could not be read while
// we looked). Base64 lines never contain '@' or a space, so no file content,
// however odd its description, can forge a marker; the file is read once by
// base64, so there is no window between measuring and reading it; and the
// bytes come back exact, so the SHA-1 digest PVE reports can be computed
// locally. "@@ done" proves the output was not cut short: without it the
// dump is rejected, because a missing config must never look like a missing
// container (which the planner would create).
const dumpScript = `cd /etc/pve/nodes || exit 1
for f in */lxc/*.conf */qemu-server/*.conf; do
	[ -f "$f" ] || continue
	printf '@@ file %s\n' "$f"
	if base64 -- "$f"; then echo '@@ end'; else echo '@@ unreadable'; fi
done
echo '@@ done'`

// DumpConfigsArgv is the argv of the one command that reads every container
// and VM config file of a cluster (under /etc/pve/nodes/*/lxc and
// */qemu-server). [ParseConfigDump] reads its output, [FormatConfigDump]
// produces it (the simulator answers the command with it).
func DumpConfigsArgv() []string { return []string{"sh", "-c", dumpScript} }

// GuestKind is the kind of guest a config file belongs to.
type GuestKind string

// The guest kinds, named as /cluster/resources types them.
const (
	GuestLXC  GuestKind = "lxc"
	GuestQemu GuestKind = "qemu"
)

// configDir is the directory of kind's config files under a node.
func (k GuestKind) configDir() string {
	if k == GuestQemu {
		return "qemu-server"
	}
	return "lxc"
}

// DumpedFile is one guest config file of a config dump.
type DumpedFile struct {
	Node string
	Kind GuestKind
	VMID int
	Data []byte
}

// Path is the file's path relative to /etc/pve/nodes, as the dump names it.
func (f DumpedFile) Path() string {
	return f.Node + "/" + f.Kind.configDir() + "/" + strconv.Itoa(f.VMID) + ".conf"
}

// reDumpPath is the path of a guest config relative to /etc/pve/nodes.
// Anything else under the glob (a stray "foo.conf") is reported and ignored.
var reDumpPath = regexp.MustCompile(`^([^/\s]+)/(lxc|qemu-server)/([1-9][0-9]{2,8})\.conf$`)

// ParseDumpPath tells whether p (relative to /etc/pve/nodes) names a guest
// config file and which.
func ParseDumpPath(p string) (DumpedFile, bool) {
	m := reDumpPath.FindStringSubmatch(p)
	if m == nil {
		return DumpedFile{}, false
	}
	vmid, _ := strconv.Atoi(m[3])
	kind := GuestLXC
	if m[2] == "qemu-server" {
		kind = GuestQemu
	}
	return DumpedFile{Node: m[1], Kind: kind, VMID: vmid}, true
}

// DumpEntry is one file as the dump script reports it: a path relative to
// /etc/pve/nodes (any name the script's globs match) and its content, or
// Unreadable when reading it failed.
type DumpEntry struct {
	Path       string
	Data       []byte
	Unreadable bool
}

// FormatConfigDump prints files as the dump script does on a real node: in
// glob order (every lxc file, then every qemu-server file, each sorted by
// path), base64 wrapped at 76 columns like coreutils.
func FormatConfigDump(files []DumpedFile) []byte {
	sorted := append([]DumpedFile(nil), files...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Kind != sorted[j].Kind {
			return sorted[i].Kind == GuestLXC
		}
		return sorted[i].Path() < sorted[j].Path()
	})
	entries := make([]DumpEntry, len(sorted))
	for i, f := range sorted {
		entries[i] = DumpEntry{Path: f.Path(), Data: f.Data}
	}
	return FormatDumpEntries(entries)
}

// FormatDumpEntries prints entries in the given order with the dump's
// framing. Callers that list a directory (the simulator) use it to report
// stray names and vanished files exactly as the script would.
func FormatDumpEntries(entries []DumpEntry) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		fmt.Fprintf(&b, "@@ file %s\n", e.Path)
		if e.Unreadable {
			b.WriteString("@@ unreadable\n")
			continue
		}
		WriteBase64Lines(&b, e.Data)
		b.WriteString("@@ end\n")
	}
	b.WriteString("@@ done\n")
	return b.Bytes()
}

// WriteBase64Lines writes data base64-encoded in lines of 76 characters,
// the output of coreutils' base64 without options.
func WriteBase64Lines(b *bytes.Buffer, data []byte) {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteByte('\n')
		enc = enc[76:]
	}
	if enc != "" {
		b.WriteString(enc)
		b.WriteByte('\n')
	}
}

// ParseConfigDump splits the output of [DumpConfigsArgv] into files.
// Problems with one file (a stray name, a file that vanished mid-read) are
// returned as warnings; an output that is not a complete dump is an error.
func ParseConfigDump(out []byte) (files []DumpedFile, warnings []string, err error) {
	var (
		cur     *DumpedFile
		curPath string
		b64     bytes.Buffer
		done    bool
	)
	lineNo := 0
	for len(out) > 0 {
		var line []byte
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			line, out = out[:i], out[i+1:]
		} else {
			line, out = out, nil
		}
		lineNo++
		line = bytes.TrimSuffix(line, []byte("\r"))
		if done {
			if len(bytes.TrimSpace(line)) > 0 {
				return nil, nil, fmt.Errorf("config dump: line %d: text after the end marker", lineNo)
			}
			continue
		}
		switch {
		case bytes.HasPrefix(line, []byte("@@ file ")):
			if curPath != "" {
				return nil, nil, fmt.Errorf("config dump: line %d: file %q has no end marker", lineNo, curPath)
			}
			curPath = string(line[len("@@ file "):])
			b64.Reset()
			cur = nil
			if f, ok := ParseDumpPath(curPath); ok {
				cur = &f
			}
			// A stray name still has its body consumed, so framing stays intact.
		case bytes.Equal(line, []byte("@@ end")), bytes.Equal(line, []byte("@@ unreadable")):
			if curPath == "" {
				return nil, nil, fmt.Errorf("config dump: line %d: end marker without a file", lineNo)
			}
			switch {
			case cur == nil:
				warnings = append(warnings, fmt.Sprintf("ignored /etc/pve/nodes/%s: not a guest config file name", curPath))
			case bytes.Equal(line, []byte("@@ unreadable")):
				warnings = append(warnings, fmt.Sprintf("could not read /etc/pve/nodes/%s (removed while reading?)", curPath))
			default:
				data, derr := base64.StdEncoding.DecodeString(b64.String())
				if derr != nil {
					return nil, nil, fmt.Errorf("config dump: /etc/pve/nodes/%s: %w", curPath, derr)
				}
				cur.Data = data
				files = append(files, *cur)
			}
			cur, curPath = nil, ""
		case bytes.Equal(line, []byte("@@ done")):
			if curPath != "" {
				return nil, nil, fmt.Errorf("config dump: line %d: file %q has no end marker", lineNo, curPath)
			}
			done = true
		case bytes.HasPrefix(line, []byte("@@")):
			return nil, nil, fmt.Errorf("config dump: line %d: unknown marker %q", lineNo, truncateText(string(line), 60))
		default:
			if curPath == "" {
				if len(bytes.TrimSpace(line)) == 0 {
					continue
				}
				return nil, nil, fmt.Errorf("config dump: line %d: text outside a file", lineNo)
			}
			b64.Write(line)
		}
	}
	if !done {
		return nil, nil, fmt.Errorf("config dump: output ends before the end marker (cut short?)")
	}
	return files, warnings, nil
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
