package labconf

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	l := &Lab{
		Root: "/var/lib/pvelab", PVEVersion: 8, ClusterDir: "/var/lib/pvelab/cluster",
		Bridge: "vmbr0", Subnet: "10.77.0.0/24", Gateway: "10.77.0.1", DNS: "10.77.0.1",
		AptProxy: "http://10.77.0.1:3142", TemplateCache: "/var/cache/pvelab/templates",
		CommandLog: "/var/lib/pvelab/commands.jsonl", FaultsFile: "/var/lib/pvelab/faults.json",
		Runtime: "lxc",
		Nodes: []Node{
			{Name: "pve1", Host: "127.0.0.1", Port: 2201, User: "root", LXCPath: "/x/lxc", StorageRoot: "/x/vz"},
			{Name: "pve2", Host: "127.0.0.1", Port: 2202, User: "root"},
		},
	}
	p := filepath.Join(t.TempDir(), "sub", "lab.json")
	if err := l.Save(p); err != nil {
		t.Fatal(err)
	}
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, l) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, l)
	}
	n, ok := got.Node("pve2")
	if !ok || n.Port != 2202 {
		t.Fatalf("Node(pve2) = %+v, %v", n, ok)
	}
	if _, ok := got.Node("pve3"); ok {
		t.Fatal("Node(pve3) found")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, body string
		invalid    bool
	}{
		{"garbage", "{", false},
		{"duplicate", `{"Nodes":[{"Name":"a"},{"Name":"a"}]}`, true},
		{"unnamed", `{"Nodes":[{"Port":1}]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name+".json")
			if err := os.WriteFile(p, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p)
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, ErrInvalid); got != tt.invalid {
				t.Fatalf("errors.Is(ErrInvalid) = %v: %v", got, err)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"Nodes":[{"Name":"pve1"}]}`))
	f.Add([]byte(`{`))
	f.Add([]byte(`null`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "l.json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Load(p)
		if err == nil {
			if err := l.Save(p); err != nil {
				t.Fatalf("save of loaded lab: %v", err)
			}
		}
	})
}
