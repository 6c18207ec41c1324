package pve

import (
	"strings"
	"testing"
)

func TestConfigRoundTrip(t *testing.T) {
	for _, name := range []string{"config_full.conf", "config_minimal.conf", "config_snapstate.conf"} {
		t.Run(name, func(t *testing.T) {
			raw := readTestdata(t, name)
			c, err := ParseConfig(raw)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Warnings) > 0 {
				t.Errorf("warnings: %q", c.Warnings)
			}
			if got := string(c.Bytes()); got != string(raw) {
				t.Errorf("round trip mismatch\n--- got ---\n%s\n--- want ---\n%s", got, raw)
			}
		})
	}
}

func TestConfigFullContents(t *testing.T) {
	c, err := ParseConfig(readTestdata(t, "config_full.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Description != "Web server: nginx\nmanaged by lxcplan\n" {
		t.Errorf("description = %q", c.Description)
	}
	if v, _ := c.Get("parent"); v != "pre-upgrade" {
		t.Errorf("parent = %q", v)
	}
	if len(c.Raw) != 2 || c.Raw[0] != (RawLine{"lxc.cgroup2.devices.allow", "c 10:200 rwm"}) {
		t.Errorf("raw = %q", c.Raw)
	}
	if c.Pending == nil || c.Pending.Options["cores"] != "4" {
		t.Fatalf("pending = %+v", c.Pending)
	}
	if d := c.Pending.PendingDeletes(); len(d) != 1 || d[0].Key != "features" || d[0].Force {
		t.Errorf("pending deletes = %+v", d)
	}
	s := c.Snapshots["pre-upgrade"]
	if s == nil || s.Description != "before apt upgrade\n" || s.Options["snaptime"] != "1717236000" || len(s.Raw) != 2 {
		t.Errorf("snapshot = %+v", s)
	}
}

func TestConfigReaderQuirks(t *testing.T) {
	in := "#a%3ab%25c\n\n  \nlxc.apparmor.profile = unconfined\ndescription: more%0A\nfoo: bar  \ndelete: x\n!!bad line\nlxc.rootfs.path: /x\n[pve:pending]\ndelete: !a,b\n[Snap_1]\nsnapstate: prepare\n"
	c, err := ParseConfig([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if c.Description != "a:b%c\nmore\n" {
		t.Errorf("description = %q", c.Description)
	}
	if c.Raw[0] != (RawLine{"lxc.apparmor.profile", "unconfined"}) {
		t.Errorf("raw = %q", c.Raw)
	}
	if c.Options["foo"] != "bar" {
		t.Errorf("unknown key not kept: %q", c.Options)
	}
	if _, ok := c.Options["delete"]; ok {
		t.Error("delete outside pending kept")
	}
	if len(c.Warnings) != 3 {
		t.Errorf("warnings = %q", c.Warnings)
	}
	if d := c.Pending.PendingDeletes(); len(d) != 2 || !d[0].Force || d[0].Key != "a" {
		t.Errorf("deletes = %+v", d)
	}
	if c.Snapshots["Snap_1"].Options["snapstate"] != "prepare" {
		t.Errorf("snapshots = %+v", c.Snapshots)
	}
	want := "#a%3Ab%25c\n#more\nfoo: bar\nlxc.apparmor.profile: unconfined\n\n[pve:pending]\ndelete: !a,b\n\n[Snap_1]\nsnapstate: prepare\n"
	if got := string(c.Bytes()); got != want {
		t.Errorf("bytes = %q\nwant %q", got, want)
	}
}

func TestConfigWriterDescription(t *testing.T) {
	c := NewConfig()
	c.Description = "line 1\n\nnon-ascii é: 100%\n\n\n"
	c.Set("memory", "512")
	c.Set("arch", "amd64")
	c.Set("digest", "abc")
	want := "#line 1\n#\n#non-ascii %C3%A9%3A 100%25\narch: amd64\nmemory: 512\n"
	if got := string(c.Bytes()); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	c.Set("hostname", "a\nb")
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), "detected invalid newline inside property 'hostname'") {
		t.Errorf("check = %v", err)
	}
}

func TestEncodeDecodeText(t *testing.T) {
	for _, s := range []string{"", "plain text", "a:b", "100%", "tab\there", "\x7f\xff", "%zz", "%4"} {
		if got := DecodeText(EncodeText(s)); got != s {
			t.Errorf("round trip %q → %q", s, got)
		}
	}
	if got := EncodeText("Web server: nginx\n"); got != "Web server%3A nginx%0A" {
		t.Errorf("encode = %q", got)
	}
}
