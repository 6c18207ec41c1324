package pvesim

import (
	"strings"
	"testing"
)

// TestParamErrors checks exact stderr layouts and exit codes of argument
// and parameter errors (§1.2, §4, §9).
func TestParamErrors(t *testing.T) {
	const createUsage = "pct create <vmid> <ostemplate> [OPTIONS]\n"
	tests := []struct {
		name, cmd, stderr string
	}{
		{"bad hostname", "pct create 100 " + tmpl + " --storage local-lvm --hostname bad_name",
			"400 Parameter verification failed.\nhostname: invalid format - value does not look like a valid DNS name\n\n" + createUsage},
		{"memory too small", "pct create 100 " + tmpl + " --storage local-lvm -memory 8",
			"400 Parameter verification failed.\nmemory: value must have a minimum value of 16\n" + createUsage},
		{"memory not int", "pct create 100 " + tmpl + " --memory abc",
			"400 Parameter verification failed.\nmemory: type check ('integer') failed - got 'abc'\n" + createUsage},
		{"nested net ip", "pct create 100 " + tmpl + " --net0 name=eth0,ip=10.0.0.1",
			"400 Parameter verification failed.\nnet0: invalid format - format error\nnet0.ip: invalid format - value does not look like a valid ipv4 network configuration\n\n\n" + createUsage},
		{"bad mac", "pct create 100 " + tmpl + " --net0 name=eth0,hwaddr=01:00:00:00:00:00",
			"400 Parameter verification failed.\nnet0: invalid format - format error\nnet0.hwaddr: invalid format - value does not look like a valid unicast MAC address\n\n\n" + createUsage},
		{"vmid format", "pct create 5 " + tmpl,
			"400 Parameter verification failed.\nvmid: invalid format - value does not look like a valid VM ID\n\n" + createUsage},
		{"vmid type", "pct status abc",
			"400 Parameter verification failed.\nvmid: type check ('integer') failed - got 'abc'\npct status <vmid> [OPTIONS]\n"},
		{"bad tag", "pct create 100 " + tmpl + " --tags 'a b,c!d'",
			"400 Parameter verification failed.\ntags: invalid format - invalid characters in tag\n\n" + createUsage},
		{"password short", "pct create 100 " + tmpl + " --storage local-lvm --password abc",
			"400 Parameter verification failed.\npassword: value must be at least 5 characters long\n" + createUsage},
		{"unique without restore", "pct create 100 " + tmpl + " --storage local-lvm --unique",
			"400 Parameter verification failed.\nrestore: missing property required by 'unique'\n" + createUsage},
		{"local lacks rootdir", "pct create 100 " + tmpl,
			"400 Parameter verification failed.\nstorage: storage 'local' does not support container directories\n" + createUsage},
		{"not enough", "pct status", "400 not enough arguments\npct status <vmid> [OPTIONS]\n"},
		{"too many", "pct status 100 101", "400 too many arguments\npct status <vmid> [OPTIONS]\n"},
		{"unknown option", "pct status 100 --foo", "Unknown option: foo\n400 unable to parse option\npct status <vmid> [OPTIONS]\n"},
		{"bad boolean", "pct status 100 --verbose maybe", "400 unable to parse boolean option\npct status <vmid> [OPTIONS]\n"},
		{"exec without --", "pct exec 100 bash -c 'echo hi'", "Unknown option: c\n400 unable to parse option\npct exec <vmid> [<extra-args>] [OPTIONS]\n"},
		{"snapname", "pct snapshot 100 1x", "400 Parameter verification failed.\nsnapname: invalid format - invalid configuration ID '1x'\n\npct snapshot <vmid> <snapname> [OPTIONS]\n"},
		{"config snapshot+current", "pct config 100 --snapshot a --current",
			"400 Parameter verification failed.\nsnapshot: cannot use 'snapshot' parameter with 'current'\npct config <vmid> [OPTIONS]\n"},
		{"pvesm no such storage", "pvesm status --storage nosuch", "400 Parameter verification failed.\nstorage: No such storage.\npvesm status  [OPTIONS]\n"},
		{"pveam no such template", "pveam download local nosuch_1.0_amd64.tar.zst", "400 Parameter verification failed.\ntemplate: no such template\npveam download <storage> <template>\n"},
		{"pvesm path", "pvesm path foo", "400 Parameter verification failed.\nvolume: invalid format - unable to parse volume ID 'foo'\n\npvesm path <volume>\n"},
		{"migrate to self", "pct migrate 100 pve --restart", "400 Parameter verification failed.\ntarget: target is local node.\npct migrate <vmid> <target> [OPTIONS]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCluster(t)
			r := run(t, c, "pve", tt.cmd)
			if r.err != tt.stderr || r.code != 255 || r.out != "" {
				t.Errorf("%s\ngot exit %d stdout %q\nstderr:\n%q\nwant:\n%q", tt.cmd, r.code, r.out, r.err, tt.stderr)
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	c := testCluster(t)
	r := run(t, c, "pve", "pct foo")
	if r.code != 255 || !strings.HasPrefix(r.err, "ERROR: unknown command 'pct foo'\nUSAGE: pct <COMMAND> [ARGS] [OPTIONS]\n") {
		t.Fatalf("got %d %q", r.code, r.err)
	}
	if !strings.Contains(r.err, "       pct create <vmid> <ostemplate> [OPTIONS]\n") {
		t.Errorf("command list missing: %q", r.err)
	}
	r = run(t, c, "pve", "pveam")
	if r.code != 255 || !strings.HasPrefix(r.err, "ERROR: no command specified\n") {
		t.Errorf("no command: %d %q", r.code, r.err)
	}
}

func TestOptionSyntax(t *testing.T) {
	c := testCluster(t)
	withTemplate(t, c, "pve")
	// Single dash, --k=v, unique prefixes of options and subcommands, bare
	// booleans, repeated list options joined.
	must(t, c, "pve", "pct create 100 "+tmpl+" -storage local-lvm --hostn=web01 -onboot --tags prod -mem 256")
	r := must(t, c, "pve", "pct conf 100")
	for _, want := range []string{"hostname: web01\n", "onboot: 1\n", "memory: 256\n", "tags: prod\n"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("config lacks %q:\n%s", want, r.out)
		}
	}
	must(t, c, "pve", "pct set 100 --delete onboot --delete tags")
	r = must(t, c, "pve", "pct config 100")
	if strings.Contains(r.out, "onboot") || strings.Contains(r.out, "tags") {
		t.Errorf("repeated --delete not joined:\n%s", r.out)
	}
	// Bool words, case-insensitive.
	must(t, c, "pve", "pct set 100 --protection TRUE")
	if r := must(t, c, "pve", "pct config 100"); !strings.Contains(r.out, "protection: 1\n") {
		t.Errorf("bool word not normalised:\n%s", r.out)
	}
	// Tags are lowercased, de-duplicated and sorted.
	must(t, c, "pve", "pct set 100 --tags 'Web;prod,web'")
	if r := must(t, c, "pve", "pct config 100"); !strings.Contains(r.out, "tags: prod;web\n") {
		t.Errorf("tags not normalised:\n%s", r.out)
	}
}

func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{
		"100 local:vztmpl/x.tar.zst --storage local-lvm --start",
		"100 -- sh -c 'echo hi'",
		"--delete a --delete b 100",
		"100 --onboot=yes -mem 5 --",
		"-", "--", "---x", "-5", "--net0=name=eth0,ip=dhcp",
	} {
		f.Add(s)
	}
	spec := pctTable["create"]
	exec := pctTable["exec"]
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Fields(s)
		var sink strings.Builder
		for _, sp := range []*cmdSpec{spec, exec} {
			pos, extra, opts, order, code, ok := parseArgs(sp, "pct", args, &sink)
			if !ok {
				if code != 255 {
					t.Fatalf("failure exit %d", code)
				}
				continue
			}
			if len(order) != len(opts) {
				t.Fatalf("order %v vs opts %v", order, opts)
			}
			for _, a := range sp.args {
				if _, ok := pos[a]; !ok {
					t.Fatalf("missing positional %s", a)
				}
			}
			_ = extra
		}
		// The splitter must never panic either.
		splitScript(s)
	})
}

func TestV9OnlyOptions(t *testing.T) {
	c := testCluster(t)
	withTemplate(t, c, "pve")
	r := run(t, c, "pve", "pct create 100 "+tmpl+" --storage local-lvm --ha-managed")
	if r.code != 255 || r.err != "Unknown option: ha-managed\n400 unable to parse option\npct create <vmid> <ostemplate> [OPTIONS]\n" {
		t.Errorf("v8 ha-managed: %d %q", r.code, r.err)
	}
	c.PVEVersion = 9
	r = must(t, c, "pve", "pct create 100 "+tmpl+" --storage local-lvm --ha-managed --entrypoint /sbin/init")
	if !strings.HasSuffix(r.out, "Add as HA resource\n") {
		t.Errorf("v9 ha-managed: %q", r.out)
	}
	if r := must(t, c, "pve", "ha-manager config"); r.out != "ct:100\n\tstate stopped\n\n" {
		t.Errorf("ha config: %q", r.out)
	}
}
