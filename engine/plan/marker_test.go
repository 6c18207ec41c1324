package plan

import (
	"reflect"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/pve"
)

func sampleMarker() *Marker {
	return &Marker{
		Stack: "media", Container: "db", Recipe: "community/postgresql@2.1.0", Version: "2.1.0",
		Template:  "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
		Spec:      "sha256:" + strings.Repeat("ab", 32) + "+hmac:0123456789abcdef",
		Config:    map[string]string{"memory": "bfa0ec8b", "net0": "00ccd8fd"},
		Steps:     []string{"sha256:ce8143ec0f45d4fc", "sha256:2ba941658e9ea668+hmac:?"},
		Depends:   []string{"cache", "dns"},
		Addresses: map[string]string{"eth0": "10.77.0.23"},
		State:     StateReady,
	}
}

func TestMarkerRoundTripThroughPVEConfig(t *testing.T) {
	for _, user := range []string{"", "Web server: nginx\nowned by: ops 100%", "line\n\nwith blank\n", "ünïcode: ok\ttab"} {
		m := sampleMarker()
		cfg := pve.NewConfig()
		cfg.Set("hostname", "db")
		cfg.Description = m.Render(user)
		// Through the file PVE writes: "#" lines, encode_text.
		back, err := pve.ParseConfig(cfg.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		gotUser, got, ok := SplitDescription(back.Description)
		if !ok {
			t.Fatalf("user %q: marker lost in\n%s", user, cfg.Bytes())
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("user %q: marker\n%+v\nwant\n%+v", user, got, m)
		}
		if gotUser != strings.TrimRight(user, "\n") {
			t.Errorf("user text %q, want %q", gotUser, user)
		}
		if strings.Contains(string(cfg.Bytes()), "stack: media") {
			t.Error("colons must be encoded in the config file (%3A)")
		}
	}
}

func TestMarkerSurvivesEdits(t *testing.T) {
	m := sampleMarker()
	desc := m.Render("notes")
	cases := map[string]string{
		"text above changed": strings.Replace(desc, "notes", "other notes\nmore", 1),
		"text added below":   desc + "a note below\n",
		"old marker pasted":  (&Marker{Stack: "old", Container: "x"}).Render("") + desc,
		"crlf":               strings.ReplaceAll(desc, "\n", "\r\n"),
		"unknown key":        strings.Replace(desc, "state: ready", "future: x\nstate: ready", 1),
	}
	for name, d := range cases {
		got, ok := ParseMarker(d)
		if !ok || got.Stack != "media" || got.Container != "db" || got.State != StateReady || len(got.Steps) != 2 {
			t.Errorf("%s: %+v %v", name, got, ok)
		}
	}
	if _, ok := ParseMarker("just text"); ok {
		t.Error("marker found in plain text")
	}
	if _, ok := ParseMarker(MarkerBegin + "\nstate: ready\n" + MarkerEnd); ok {
		t.Error("a marker without stack and container must not count")
	}
	u, _, _ := SplitDescription(desc + "a note below\n")
	if u != "notes\na note below" {
		t.Errorf("user text %q", u)
	}
}

func TestOwns(t *testing.T) {
	desc := sampleMarker().Render("")
	cases := []struct {
		tags  []string
		desc  string
		stack string
		want  bool
	}{
		{[]string{"lxcplan", "media"}, desc, "media", true},
		{[]string{"LXCPLAN", "Media", "x"}, desc, "media", true},
		{[]string{"media"}, desc, "media", false},
		{[]string{"lxcplan"}, desc, "media", false},
		{[]string{"lxcplan", "media"}, "no marker", "media", false},
		{[]string{"lxcplan", "other"}, desc, "other", false},
	}
	for _, tc := range cases {
		if _, got := Owns(tc.tags, tc.desc, tc.stack); got != tc.want {
			t.Errorf("Owns(%v, %s) = %v", tc.tags, tc.stack, got)
		}
	}
}

func FuzzMarker(f *testing.F) {
	f.Add("", "media", "db", "sha256:00")
	f.Add("user text\n"+MarkerBegin, "s", "c", "x,y")
	f.Add(sampleMarker().Render("hello"), "media", "db", "a=b")
	f.Add("%3A\r\n--- end lxcplan ---\n", "a,b", "c\nd", "")
	f.Fuzz(func(t *testing.T, text, stack, container, spec string) {
		// Parsing never panics, whatever the description.
		ParseMarker(text)
		SplitDescription(text)
		// Rendering then parsing gives the marker back (values as a marker
		// line can carry them) and the user text back.
		m := &Marker{Stack: stack, Container: container, Spec: spec, Steps: []string{spec}, State: StateReady}
		d := m.Render(text)
		got, ok := ParseMarker(d)
		if oneLine(stack) == "" || oneLine(container) == "" {
			return
		}
		if !ok {
			t.Fatalf("no marker in %q", d)
		}
		if got.Stack != oneLine(stack) || got.Container != oneLine(container) || got.Spec != oneLine(spec) {
			t.Fatalf("got %+v from %q", got, d)
		}
		// And once more through PVE's config encoding.
		cfg := pve.NewConfig()
		cfg.Description = d
		back, err := pve.ParseConfig(cfg.Bytes())
		if err != nil {
			return // NUL bytes: PVE refuses such a file too
		}
		if again, ok := ParseMarker(back.Description); !ok || again.Stack != got.Stack || again.Spec != got.Spec {
			t.Fatalf("through the config file: %+v %v", again, ok)
		}
	})
}
