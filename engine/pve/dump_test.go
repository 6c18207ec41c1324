package pve

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const dumpCT = "arch: amd64\nhostname: web01\nnet0: name=eth0,bridge=vmbr0,ip=192.168.1.50/24,type=veth\n"

const dumpVM = "boot: order=scsi0\nname: db-vm\nnet0: virtio=BC:24:11:00:00:01,bridge=vmbr0\n"

// A description can hold anything, including lines that look like the
// dump's markers and bytes that are not text.
const dumpNasty = "#@@ end\n#@@ done\n@@ file x/lxc/1.conf\n#it's \"quoted\" $HOME `x`\narch: amd64\n\x01\xff no newline at end"

func TestParseConfigDump(t *testing.T) {
	long := strings.Repeat("description line that is long enough to wrap base64\n", 20)
	good := FormatConfigDump([]DumpedFile{
		{Node: "pve2", Kind: GuestQemu, VMID: 200, Data: []byte(dumpVM)},
		{Node: "pve2", Kind: GuestLXC, VMID: 101, Data: []byte(dumpNasty)},
		{Node: "pve1", Kind: GuestLXC, VMID: 100, Data: []byte(dumpCT)},
		{Node: "pve2", Kind: GuestLXC, VMID: 102, Data: nil},
		{Node: "pve2", Kind: GuestLXC, VMID: 103, Data: []byte(long)},
	})
	files, warns, err := ParseConfigDump(good)
	if err != nil || len(warns) != 0 || len(files) != 5 {
		t.Fatalf("good dump: %v %v %d", err, warns, len(files))
	}
	// Glob order: lxc before qemu-server, then by path.
	want := []string{"pve1/lxc/100.conf", "pve2/lxc/101.conf", "pve2/lxc/102.conf", "pve2/lxc/103.conf", "pve2/qemu-server/200.conf"}
	for i, f := range files {
		if f.Path() != want[i] {
			t.Errorf("file %d is %s, want %s", i, f.Path(), want[i])
		}
	}
	if string(files[0].Data) != dumpCT || string(files[1].Data) != dumpNasty || len(files[2].Data) != 0 ||
		string(files[3].Data) != long || files[4].Kind != GuestQemu || string(files[4].Data) != dumpVM {
		t.Errorf("contents differ: %+v", files)
	}
	for _, l := range strings.Split(string(good), "\n") {
		if len(l) > 76 {
			t.Errorf("line longer than coreutils' 76 columns: %q", l)
		}
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
			files, warns, err := ParseConfigDump([]byte(tc.out))
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

func TestFormatDumpEntries(t *testing.T) {
	out := FormatDumpEntries([]DumpEntry{
		{Path: "pve/lxc/notes.conf", Data: []byte("x")},
		{Path: "pve/lxc/100.conf", Unreadable: true},
		{Path: "pve/lxc/101.conf", Data: []byte("arch: amd64\n")},
	})
	want := "@@ file pve/lxc/notes.conf\neA==\n@@ end\n@@ file pve/lxc/100.conf\n@@ unreadable\n@@ file pve/lxc/101.conf\nYXJjaDogYW1kNjQK\n@@ end\n@@ done\n"
	if string(out) != want {
		t.Fatalf("got %q", out)
	}
	files, warns, err := ParseConfigDump(out)
	if err != nil || len(files) != 1 || len(warns) != 2 {
		t.Fatalf("parse: %v %+v %v", err, files, warns)
	}
}

// FuzzParseConfigDump: any output is parsed without panicking, and any
// file contents survive FormatConfigDump → ParseConfigDump byte for byte.
func FuzzParseConfigDump(f *testing.F) {
	f.Add([]byte(dumpCT), []byte("@@ done\n"))
	f.Add([]byte("#@@ end\n@@ done\n"), []byte("@@ file pve/lxc/100.conf\nYQ==\n@@ end\n@@ done\n"))
	f.Add([]byte{}, []byte("@@ file a/b\n"))
	f.Fuzz(func(t *testing.T, content, raw []byte) {
		ParseConfigDump(raw) // must not panic
		out := FormatConfigDump([]DumpedFile{{Node: "pve", Kind: GuestLXC, VMID: 100, Data: content}})
		files, warns, err := ParseConfigDump(out)
		if err != nil || len(warns) != 0 || len(files) != 1 || !bytes.Equal(files[0].Data, content) {
			t.Fatalf("round trip: %v %v %+v", err, warns, files)
		}
	})
}

// writeDumpTree lays out an /etc/pve/nodes tree under root: two nodes with
// guests (one config with awkward content), a stray file the globs skip and
// a node without guests.
func writeDumpTree(t testing.TB, root string) {
	t.Helper()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("pve1/lxc/100.conf", dumpCT)
	write("pve1/lxc/101.conf", dumpNasty)
	write("pve1/lxc/notes.txt", "ignored: not *.conf")
	write("pve2/qemu-server/200.conf", dumpVM)
	if err := os.MkdirAll(filepath.Join(root, "pve3", "lxc"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestDumpScriptRealShell runs the script with the machine's /bin/sh and
// coreutils' base64 over a copy of the /etc/pve/nodes layout: the shell
// text itself is tested, and its output is byte for byte what
// FormatConfigDump produces (which the simulator answers with).
func TestDumpScriptRealShell(t *testing.T) {
	if _, err := exec.LookPath("base64"); err != nil {
		t.Skip("no base64 on this machine")
	}
	root := t.TempDir()
	writeDumpTree(t, root)
	script := strings.Replace(dumpScript, "/etc/pve/nodes", root, 1)
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("script: %v", err)
	}
	files, warns, err := ParseConfigDump(out)
	if err != nil || len(warns) != 0 || len(files) != 3 {
		t.Fatalf("parse: %v %v %+v\n%s", err, warns, files, out)
	}
	if string(files[0].Data) != dumpCT || string(files[1].Data) != dumpNasty || files[2].Kind != GuestQemu || string(files[2].Data) != dumpVM {
		t.Errorf("contents differ: %+v", files)
	}
	if want := FormatConfigDump(files); !bytes.Equal(out, want) {
		t.Errorf("real output differs from FormatConfigDump:\n%s\n---\n%s", out, want)
	}

	// No guests at all: the globs match nothing and the dump is still complete.
	empty := t.TempDir()
	out, err = exec.Command("/bin/sh", "-c", strings.Replace(dumpScript, "/etc/pve/nodes", empty, 1)).Output()
	if files, _, perr := ParseConfigDump(out); err != nil || perr != nil || len(files) != 0 {
		t.Errorf("empty: %v %v %q", err, perr, out)
	}
	// No /etc/pve/nodes: a failure, not an empty cluster.
	err = exec.Command("/bin/sh", "-c", strings.Replace(dumpScript, "/etc/pve/nodes", filepath.Join(empty, "missing"), 1)).Run()
	if err == nil {
		t.Errorf("missing dir must fail")
	}
}
