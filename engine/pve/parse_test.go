package pve

import (
	"encoding/json"
	"strings"
	"testing"
)

// parserCases maps each sample in testdata/ to its parser; the parsed value
// is pinned as JSON in testdata/<sample>.golden.
var parserCases = []struct {
	file  string
	parse func([]byte) (any, error)
}{
	{"pct_list.txt", wrap(ParsePctList)},
	{"pct_list_long_lock.txt", wrap(ParsePctList)},
	{"pct_list_empty.txt", wrap(ParsePctList)},
	{"pct_status_running.txt", wrap(ParsePctStatus)},
	{"pct_status_stopped.txt", wrap(ParsePctStatus)},
	{"pct_status_verbose_stopped.txt", wrap(ParsePctStatusVerbose)},
	{"pct_status_verbose_running.txt", wrap(ParsePctStatusVerbose)},
	{"pct_config.txt", wrap(ParsePctConfig)},
	{"pct_listsnapshot.txt", wrap(ParsePctListSnapshot)},
	{"pct_listsnapshot_none.txt", wrap(ParsePctListSnapshot)},
	{"pct_listsnapshot_branches.txt", wrap(ParsePctListSnapshot)},
	{"pveam_available_pve8.txt", wrap(ParsePveamAvailable)},
	{"pveam_available_pve9.txt", wrap(ParsePveamAvailable)},
	{"pveam_available_empty.txt", wrap(ParsePveamAvailable)},
	{"pveam_list.txt", wrap(ParsePveamList)},
	{"pveam_list_empty.txt", wrap(ParsePveamList)},
	{"pvesm_status_pve8.txt", wrap(ParsePvesmStatus)},
	{"pvesm_status_pve9.txt", wrap(ParsePvesmStatus)},
	{"pvesm_list_rootdir.txt", wrap(ParsePvesmList)},
	{"pvesm_list_vztmpl.txt", wrap(ParsePvesmList)},
	{"pvesm_path.txt", wrap(ParsePvesmPath)},
	{"pvesh_nextid_string.json", wrap(ParseNextID)},
	{"pvesh_nextid_number.json", wrap(ParseNextID)},
	{"pvesh_nextid_text.txt", wrap(ParseNextID)},
	{"pvesh_resources.json", wrap(ParseClusterResources)},
	{"pvesh_nodes.json", wrap(ParseNodes)},
	{"pvesh_interfaces.json", wrap(ParseInterfaces)},
	{"pvesh_interfaces_null.json", wrap(ParseInterfaces)},
	{"pvesh_version.json", wrap(ParseVersion)},
	{"pvesh_version_pve8.json", wrap(ParseVersion)},
	{"pvesh_cluster_status.json", wrap(ParseClusterStatus)},
	{"pvesh_cluster_status_standalone.json", wrap(ParseClusterStatus)},
	{"pvesh_node_storage.json", wrap(ParseNodeStorage)},
	{"pvesh_lxc_status.json", wrap(ParseLXCStatus)},
	{"pvesh_lxc_status_ha.json", wrap(ParseLXCStatus)},
	{"pvesh_node_lxc.json", wrap(ParseNodeLXC)},
	{"ha_status_pve8.txt", wrap(ParseHAStatus)},
	{"ha_status_pve9.txt", wrap(ParseHAStatus)},
	{"ha_status_extra_field.txt", wrap(ParseHAStatus)},
	{"ha_config.txt", wrap(ParseHAConfig)},
	{"ha_resources.cfg", wrap(ParseHAConfig)},
	{"pveversion.txt", wrap(ParsePveversion)},
	{"pveversion_verbose.txt", wrap(ParsePveversion)},
}

func wrap[T any](f func([]byte) (T, error)) func([]byte) (any, error) {
	return func(b []byte) (any, error) { return f(b) }
}

func TestParsersGolden(t *testing.T) {
	for _, tc := range parserCases {
		t.Run(tc.file, func(t *testing.T) {
			v, err := tc.parse(readTestdata(t, tc.file))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			j, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			name := tc.file[:strings.LastIndex(tc.file, ".")] + ".golden"
			checkGolden(t, name, append(j, '\n'))
		})
	}
}

func TestParsersReject(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parse func([]byte) (any, error)
		in    string
	}{
		{"pct list no header", wrap(ParsePctList), "100 running web01\n"},
		{"pct list bad vmid", wrap(ParsePctList), "VMID Status Lock Name\nabc running web01\n"},
		{"pct list too many fields", wrap(ParsePctList), "VMID Status Lock Name\n100 running backup web 01\n"},
		{"pct status empty", wrap(ParsePctStatus), ""},
		{"pct status verbose bad number", wrap(ParsePctStatusVerbose), "status: running\nmem: lots\n"},
		{"pct config junk", wrap(ParsePctConfig), "arch: amd64\nthis is not a config line\n"},
		{"listsnapshot junk", wrap(ParsePctListSnapshot), "current You are here!\n"},
		{"listsnapshot orphan", wrap(ParsePctListSnapshot), "  `-> current   You are here!\n"},
		{"pveam available one field", wrap(ParsePveamAvailable), "system\n"},
		{"pveam list bad size", wrap(ParsePveamList), "NAME SIZE\nlocal:vztmpl/x.tar.zst 12KB\n"},
		{"pvesm status short", wrap(ParsePvesmStatus), "Name Type Status Total Used Available %\nlocal dir active 1 2\n"},
		{"pvesm status bad pct", wrap(ParsePvesmStatus), "Name Type Status Total Used Available %\nlocal dir active 1 2 3 12\n"},
		{"pvesm list bad vmid", wrap(ParsePvesmList), "Volid Format Type Size VMID\nx raw rootdir 1 abc\n"},
		{"nextid too small", wrap(ParseNextID), `"99"`},
		{"nextid fraction", wrap(ParseNextID), `100.5`},
		{"nextid garbage", wrap(ParseNextID), `{"a":1}`},
		{"resources not array", wrap(ParseClusterResources), `{"a":1}`},
		{"version empty", wrap(ParseVersion), `{}`},
		{"lxc status null", wrap(ParseLXCStatus), `null`},
		{"ha status bad service", wrap(ParseHAStatus), "service ct:100 started\n"},
		{"ha config orphan option", wrap(ParseHAConfig), "\tstate started\n"},
		{"pveversion junk", wrap(ParsePveversion), "hello\n"},
	} {
		if _, err := tc.parse([]byte(tc.in)); err == nil {
			t.Errorf("%s: accepted %q", tc.name, tc.in)
		}
	}
}

func TestParsePctListValues(t *testing.T) {
	es, err := ParsePctList(readTestdata(t, "pct_list.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []ListEntry{{100, "running", "", "web01"}, {101, "stopped", "backup", "db-primary.example.com"}, {102, "stopped", "create", "CT102"}}
	if len(es) != len(want) {
		t.Fatalf("got %+v", es)
	}
	for i := range want {
		if es[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, es[i], want[i])
		}
	}
}

func TestPctConfigMatchesConfigFile(t *testing.T) {
	// pct config prints the same settings as the file, description on one line.
	s, err := ParsePctConfig(readTestdata(t, "pct_config.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Description != "Web server: nginx\nmanaged by lxcplan\n" || len(s.Raw) != 2 || s.Options["startup"] != "order=2,up=30" {
		t.Errorf("section = %+v", s)
	}
	n, err := ParseNet("net0", s.Options["net0"])
	if err != nil || n.String() != s.Options["net0"] {
		t.Errorf("net0 does not round-trip: %v %v", n, err)
	}
}

func TestParseLXCConfigJSONMatchesPctConfig(t *testing.T) {
	s, digest, err := ParseLXCConfigJSON(readTestdata(t, "pvesh_lxc_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if digest != "3f6b1d7c2a4e5f60718293a4b5c6d7e8f9a0b1c2" {
		t.Errorf("digest = %q", digest)
	}
	delete(s.Options, "cpulimit") // not in the pct config sample
	if got, want := string(FormatPctConfig(s)), string(readTestdata(t, "pct_config.txt")); got != want {
		t.Errorf("pvesh config and pct config disagree\n--- got ---\n%s\n--- want ---\n%s", got, want)
	}
	for _, in := range []string{"null", "[]", `{"lxc":"x"}`, `{"a":{"b":1}}`} {
		if _, _, err := ParseLXCConfigJSON([]byte(in)); err == nil {
			t.Errorf("accepted %s", in)
		}
	}
}
