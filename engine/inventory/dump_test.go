package inventory

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/transport"
)

func TestParseDump(t *testing.T) {
	// A description can hold anything, including lines that look like our
	// markers: base64 keeps them from ever reaching the framing.
	nasty := "#@@ end\n#@@ done\n@@ file x/lxc/1.conf\narch: amd64\n\x01\xff no newline at end"
	good := formatDump([]dumpFile{
		{Node: "pve1", Kind: kindLXC, VMID: 100, Data: []byte(sampleConfig)},
		{Node: "pve2", Kind: kindLXC, VMID: 101, Data: []byte(nasty)},
		{Node: "pve2", Kind: kindLXC, VMID: 102, Data: nil},
		{Node: "pve2", Kind: kindQemu, VMID: 200, Data: []byte(vmConfig)},
	})
	files, warns, err := parseDump(good)
	if err != nil || len(warns) != 0 || len(files) != 4 {
		t.Fatalf("good dump: %v %v %d", err, warns, len(files))
	}
	if files[0].Node != "pve1" || files[0].VMID != 100 || string(files[0].Data) != sampleConfig {
		t.Errorf("file 0: %+v", files[0])
	}
	if string(files[1].Data) != nasty || len(files[2].Data) != 0 || files[3].Kind != kindQemu || files[3].VMID != 200 {
		t.Errorf("files: %+v", files[1:])
	}

	for _, tc := range []struct {
		name, out string
		files     int
		warns     string // substring of the joined warnings
		err       string // substring of the error
	}{
		{name: "empty cluster", out: "@@ done\n"},
		{name: "crlf", out: "@@ file pve/lxc/100.conf\r\nYXJjaDogYW1kNjQK\r\n@@ end\r\n@@ done\r\n", files: 1},
		{name: "stray name", out: "@@ file pve/lxc/notes.conf\nYQ==\n@@ end\n@@ done\n", warns: "not a guest config file name"},
		{name: "unreadable", out: "@@ file pve/lxc/100.conf\n@@ unreadable\n@@ file pve/lxc/101.conf\nYQ==\n@@ end\n@@ done\n", files: 1, warns: "could not read /etc/pve/nodes/pve/lxc/100.conf"},
		{name: "cut short", out: "@@ file pve/lxc/100.conf\nYQ==\n@@ end\n", err: "before the end marker"},
		{name: "cut inside a file", out: "@@ file pve/lxc/100.conf\nYQ==\n", err: "before the end marker"},
		{name: "nothing at all", out: "", err: "before the end marker"},
		{name: "missing end", out: "@@ file pve/lxc/100.conf\nYQ==\n@@ file pve/lxc/101.conf\n@@ end\n@@ done\n", err: "no end marker"},
		{name: "done inside a file", out: "@@ file pve/lxc/100.conf\nYQ==\n@@ done\n", err: "no end marker"},
		{name: "end without file", out: "@@ end\n@@ done\n", err: "without a file"},
		{name: "bad base64", out: "@@ file pve/lxc/100.conf\n!!!!\n@@ end\n@@ done\n", err: "illegal base64"},
		{name: "text outside", out: "cd: can't cd\n@@ done\n", err: "outside a file"},
		{name: "text after done", out: "@@ done\nmore\n", err: "after the end marker"},
		{name: "unknown marker", out: "@@ what\n@@ done\n", err: "unknown marker"},
		{name: "vmid too small", out: "@@ file pve/lxc/7.conf\nYQ==\n@@ end\n@@ done\n", warns: "not a guest config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, warns, err := parseDump([]byte(tc.out))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || files != nil {
					t.Fatalf("want error %q, got %v (%d files)", tc.err, err, len(files))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != tc.files {
				t.Errorf("files %d, want %d", len(files), tc.files)
			}
			if got := strings.Join(warns, "\n"); (tc.warns == "") != (got == "") || !strings.Contains(got, tc.warns) {
				t.Errorf("warnings %q, want %q", got, tc.warns)
			}
		})
	}
}

// FuzzParseDump: any output is parsed without panicking, and any file
// contents survive formatDump → parseDump byte for byte.
func FuzzParseDump(f *testing.F) {
	f.Add([]byte(sampleConfig), []byte("@@ done\n"))
	f.Add([]byte("#@@ end\n@@ done\n"), []byte("@@ file pve/lxc/100.conf\nYQ==\n@@ end\n@@ done\n"))
	f.Add([]byte{}, []byte("@@ file a/b\n"))
	f.Fuzz(func(t *testing.T, content, raw []byte) {
		parseDump(raw) // must not panic
		out := formatDump([]dumpFile{{Node: "pve", Kind: kindLXC, VMID: 100, Data: content}})
		files, warns, err := parseDump(out)
		if err != nil || len(warns) != 0 || len(files) != 1 || !bytes.Equal(files[0].Data, content) {
			t.Fatalf("round trip: %v %v %+v", err, warns, files)
		}
	})
}

// TestDumpScriptRealShell runs the script with the machine's /bin/sh and
// coreutils' base64 over a copy of the /etc/pve/nodes layout, so the shell
// text itself is tested, not only its parser.
func TestDumpScriptRealShell(t *testing.T) {
	if _, err := exec.LookPath("base64"); err != nil {
		t.Skip("no base64 on this machine")
	}
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nasty := "#@@ end\n#it's \"quoted\" $HOME `x`\narch: amd64\n\x01\xfe no newline"
	write("pve1/lxc/100.conf", sampleConfig)
	write("pve1/lxc/101.conf", nasty)
	write("pve1/lxc/notes.txt", "ignored: not *.conf")
	write("pve2/qemu-server/200.conf", vmConfig)
	if err := os.MkdirAll(filepath.Join(root, "pve3", "lxc"), 0o755); err != nil { // a node without guests
		t.Fatal(err)
	}
	// Through transport.Quote, as the SSH transport sends it to the login shell.
	script := strings.Replace(dumpScript, "/etc/pve/nodes", root, 1)
	out, err := exec.Command("/bin/sh", "-c", transport.Quote([]string{"sh", "-c", script})).Output()
	if err != nil {
		t.Fatalf("script: %v", err)
	}
	files, warns, err := parseDump(out)
	if err != nil || len(warns) != 0 || len(files) != 3 {
		t.Fatalf("parse: %v %v %+v\n%s", err, warns, files, out)
	}
	if string(files[0].Data) != sampleConfig || string(files[1].Data) != nasty || files[2].Kind != kindQemu || string(files[2].Data) != vmConfig {
		t.Errorf("contents differ: %+v", files)
	}

	// No guests at all: the globs match nothing and the dump is still complete.
	empty := t.TempDir()
	out, err = exec.Command("/bin/sh", "-c", strings.Replace(dumpScript, "/etc/pve/nodes", empty, 1)).Output()
	if files, _, perr := parseDump(out); err != nil || perr != nil || len(files) != 0 {
		t.Errorf("empty: %v %v %q", err, perr, out)
	}
	// No /etc/pve/nodes: a failure, not an empty cluster.
	err = exec.Command("/bin/sh", "-c", strings.Replace(dumpScript, "/etc/pve/nodes", filepath.Join(empty, "missing"), 1)).Run()
	if err == nil {
		t.Errorf("missing dir must fail")
	}
}
