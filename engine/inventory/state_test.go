package inventory

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/transport"
)

var update = flag.Bool("update", false, "rewrite golden files")

// observedSample is a State with every kind of entry: a reachable cluster
// with a pending/snapshot config, a VM, an unreachable host and warnings.
func observedSample(t *testing.T) *State {
	t.Helper()
	c := sampleCluster()
	h3 := c.host("pve-c")
	h3.fail = func(argv []string) error {
		if argv[0] == "ip" {
			return exitErr("h3", argv, 127, "sh: 1: ip: not found\n")
		}
		return nil
	}
	s, _ := Observe(context.Background(), []HostTarget{
		{Key: "h1", Runner: c.host("pve-a")},
		{Key: "h2", Dial: func(context.Context) (transport.Runner, error) {
			return nil, errors.New("dial h2: host unreachable")
		}},
		{Key: "h3", Runner: h3},
	}, Options{})
	return s
}

func TestStateJSONGolden(t *testing.T) {
	s := observedSample(t)
	var buf bytes.Buffer
	if err := s.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "inventory.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./engine/inventory -update)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("inventory JSON differs from %s (rerun with -update if intended):\n%s", golden, buf.String())
	}
}

func TestStateJSONRoundTrip(t *testing.T) {
	s := observedSample(t)
	var a bytes.Buffer
	if err := s.WriteJSON(&a); err != nil {
		t.Fatal(err)
	}
	r, err := ReadJSON(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	// The parsed configs come back identical, as Observe built them.
	if !reflect.DeepEqual(r, s) {
		t.Errorf("round trip changed the state")
	}
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("second export differs")
	}
	if !reflect.DeepEqual(r.Diagnostics(), s.Diagnostics()) || len(s.Diagnostics()) != 2 {
		t.Errorf("diagnostics differ after a round trip:\n%v\n%v", r.Diagnostics(), s.Diagnostics())
	}
	ct := r.Clusters[0].Container(100)
	if ct.Config == nil || ct.Config.Pending == nil || ct.Description() == "" {
		t.Errorf("config not re-parsed: %+v", ct)
	}
}

func TestReadJSONStrict(t *testing.T) {
	for _, tc := range []struct{ name, in, err string }{
		{"no version", `{"hosts":{}}`, "format_version is missing"},
		{"future version", `{"format_version":2,"hosts":{}}`, "format_version: 2"},
		{"unknown field", `{"format_version":1,"hosts":{},"clusters":[],"extra":1}`, `unknown field "extra"`},
		{"not json", `format_version: 1`, "invalid character"},
		{"key mismatch", `{"format_version":1,"hosts":{"a":{"key":"b","reachable":false,"storages":null,"templates":null,"bridges":null}},"clusters":[]}`, "does not match"},
		{"unknown cluster", `{"format_version":1,"hosts":{"a":{"key":"a","cluster":"x","reachable":true,"storages":null,"templates":null,"bridges":null}},"clusters":[]}`, `unknown cluster "x"`},
		{"container without node", `{"format_version":1,"hosts":{},"clusters":[{"id":"c","nodes":[],"hosts":[],"containers":[{"vmid":100,"node":"","config":""}],"guests":[]}]}`, "without vmid or node"},
		{"duplicate container", `{"format_version":1,"hosts":{},"clusters":[{"id":"c","nodes":[],"hosts":[],"containers":[{"vmid":100,"node":"n","config":""},{"vmid":100,"node":"m","config":""}],"guests":[]}]}`, "container 100 listed twice"},
		{"duplicate cluster", `{"format_version":1,"hosts":{},"clusters":[{"id":"c","nodes":[],"hosts":[],"containers":[],"guests":[]},{"id":"c","nodes":[],"hosts":[],"containers":[],"guests":[]}]}`, "listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadJSON(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("want error containing %q, got %v", tc.err, err)
			}
			if strings.Contains(tc.name, "version") && !errors.Is(err, ErrFormatVersion) {
				t.Errorf("want ErrFormatVersion, got %v", err)
			}
		})
	}
	s, err := ReadJSON(strings.NewReader(`{"format_version":1}`))
	if err != nil || s.Hosts == nil || len(s.Clusters) != 0 {
		t.Errorf("minimal file: %+v %v", s, err)
	}
}

// FuzzReadJSON: no input makes ReadJSON panic, and whatever it accepts
// exports and reads back to the same state.
func FuzzReadJSON(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "inventory.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"format_version":1,"hosts":{"a":null}}`))
	f.Add([]byte(`{"format_version":1,"clusters":[null]}`))
	f.Add([]byte(`{"format_version":1,"hosts":{"a":{"key":"a","cluster":"x"}},"clusters":[null]}`))
	f.Add([]byte(`{"format_version":1,"clusters":[{"id":"c","containers":[null]}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ReadJSON(bytes.NewReader(in))
		if err != nil {
			return
		}
		s.Diagnostics()
		var buf bytes.Buffer
		if err := s.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		first := buf.String()
		back, err := ReadJSON(&buf)
		if err != nil {
			t.Fatalf("re-read: %v\n%s", err, first)
		}
		var again bytes.Buffer
		back.WriteJSON(&again)
		if again.String() != first {
			t.Fatalf("unstable export:\n%s\n----\n%s", first, again.String())
		}
	})
}
