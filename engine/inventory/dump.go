package inventory

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
)

// dumpScript reads every guest config file of a cluster in one command.
// /etc/pve is the same on every node of a cluster (pmxcfs), so one run on
// any reachable node sees every container, whatever its node.
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
// (and VM) config file of a cluster; see dumpScript for its output format.
func DumpConfigsArgv() []string { return []string{"sh", "-c", dumpScript} }

// guestKind is the kind of guest a config file belongs to.
type guestKind string

const (
	kindLXC  guestKind = "lxc"
	kindQemu guestKind = "qemu"
)

// dumpFile is one config file read back from the dump.
type dumpFile struct {
	Node string
	Kind guestKind
	VMID int
	Data []byte
}

// reDumpPath is the path of a guest config relative to /etc/pve/nodes.
// Anything else under the glob (a stray "foo.conf") is reported and ignored.
var reDumpPath = regexp.MustCompile(`^([^/\s]+)/(lxc|qemu-server)/([1-9][0-9]{2,8})\.conf$`)

// parseDump splits the output of dumpScript into files. Problems with one
// file (a stray name, a file that vanished mid-read) are returned as
// warnings; an output that is not a complete dump is an error.
func parseDump(out []byte) (files []dumpFile, warnings []string, err error) {
	var (
		cur     *dumpFile
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
			if cur != nil || curPath != "" {
				return nil, nil, fmt.Errorf("config dump: line %d: file %q has no end marker", lineNo, curPath)
			}
			curPath = string(line[len("@@ file "):])
			b64.Reset()
			m := reDumpPath.FindStringSubmatch(curPath)
			if m == nil {
				// Still consume its body, so framing stays intact.
				continue
			}
			vmid, _ := strconv.Atoi(m[3])
			kind := kindLXC
			if m[2] == "qemu-server" {
				kind = kindQemu
			}
			cur = &dumpFile{Node: m[1], Kind: kind, VMID: vmid}
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
			return nil, nil, fmt.Errorf("config dump: line %d: unknown marker %q", lineNo, truncate(string(line), 60))
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
