package pve

import (
	"testing"
	"time"
)

// TestFormatRoundTrip checks Format(Parse(sample)) == sample for every text
// sample, which pins both the parsers and the printf layouts.
func TestFormatRoundTrip(t *testing.T) {
	must := func(v any, err error) any {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		file string
		rt   func([]byte) []byte
	}{
		{"pct_list.txt", func(b []byte) []byte { return FormatPctList(must(ParsePctList(b)).([]ListEntry)) }},
		{"pct_list_long_lock.txt", func(b []byte) []byte { return FormatPctList(must(ParsePctList(b)).([]ListEntry)) }},
		{"pct_list_empty.txt", func(b []byte) []byte { return FormatPctList(must(ParsePctList(b)).([]ListEntry)) }},
		{"pct_status_running.txt", func(b []byte) []byte { return FormatPctStatus(must(ParsePctStatus(b)).(string)) }},
		{"pct_status_verbose_stopped.txt", func(b []byte) []byte { return FormatPctStatusVerbose(must(ParsePctStatusVerbose(b)).(*CTStatus)) }},
		{"pct_status_verbose_running.txt", func(b []byte) []byte { return FormatPctStatusVerbose(must(ParsePctStatusVerbose(b)).(*CTStatus)) }},
		{"pct_config.txt", func(b []byte) []byte { return FormatPctConfig(must(ParsePctConfig(b)).(*Section)) }},
		{"pct_listsnapshot.txt", func(b []byte) []byte { return FormatPctListSnapshot(must(ParsePctListSnapshot(b)).([]SnapshotEntry)) }},
		{"pct_listsnapshot_none.txt", func(b []byte) []byte { return FormatPctListSnapshot(must(ParsePctListSnapshot(b)).([]SnapshotEntry)) }},
		{"pct_listsnapshot_branches.txt", func(b []byte) []byte {
			return FormatPctListSnapshot(must(ParsePctListSnapshot(b)).([]SnapshotEntry))
		}},
		{"pveam_available_pve8.txt", func(b []byte) []byte {
			return FormatPveamAvailable(must(ParsePveamAvailable(b)).([]AvailableTemplate), false)
		}},
		{"pveam_available_pve9.txt", func(b []byte) []byte {
			return FormatPveamAvailable(must(ParsePveamAvailable(b)).([]AvailableTemplate), true)
		}},
		{"pveam_list.txt", func(b []byte) []byte { return FormatPveamList(must(ParsePveamList(b)).([]StoredTemplate)) }},
		{"pveam_list_empty.txt", func(b []byte) []byte { return FormatPveamList(must(ParsePveamList(b)).([]StoredTemplate)) }},
		{"pvesm_status_pve8.txt", func(b []byte) []byte { return FormatPvesmStatus(must(ParsePvesmStatus(b)).([]StorageStatus), false) }},
		{"pvesm_status_pve9.txt", func(b []byte) []byte { return FormatPvesmStatus(must(ParsePvesmStatus(b)).([]StorageStatus), true) }},
		{"pvesm_list_rootdir.txt", func(b []byte) []byte { return FormatPvesmList(must(ParsePvesmList(b)).([]Volume)) }},
		{"pvesm_list_vztmpl.txt", func(b []byte) []byte { return FormatPvesmList(must(ParsePvesmList(b)).([]Volume)) }},
	} {
		in := readTestdata(t, tc.file)
		if got := tc.rt(in); string(got) != string(in) {
			t.Errorf("%s: round trip mismatch\n--- got ---\n%q\n--- want ---\n%q", tc.file, got, in)
		}
	}
}

func TestSnapshotTree(t *testing.T) {
	c, err := ParseConfig(readTestdata(t, "config_full.conf"))
	if err != nil {
		t.Fatal(err)
	}
	got := string(FormatPctListSnapshot(SnapshotTree(c, time.UTC)))
	want := "`-> pre-upgrade                 2024-06-01 10:00:00     before apt upgrade\n" +
		" `-> current                                            You are here!\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if got := string(FormatPctListSnapshot(SnapshotTree(NewConfig(), time.UTC))); got != string(readTestdata(t, "pct_listsnapshot_none.txt")) {
		t.Errorf("no snapshots: %q", got)
	}
	// Branches: siblings by snaptime, current last; a cycle must not hang.
	c = NewConfig()
	c.Set("parent", "right")
	add := func(name, parent, ts, descr string) {
		s := NewSection()
		s.Description = descr
		s.Set("snaptime", ts)
		if parent != "" {
			s.Set("parent", parent)
		}
		c.Snapshots[name] = s
	}
	add("base", "", "1717232400", "first\nsecond line\n")
	add("right", "base", "1717239600", "")
	add("left", "base", "1717236000", "")
	add("deep", "left", "1717237800", "deeper one\n")
	if got := string(FormatPctListSnapshot(SnapshotTree(c, time.UTC))); got != string(readTestdata(t, "pct_listsnapshot_branches.txt")) {
		t.Errorf("branches:\n%s", got)
	}
	add("x1", "x2", "1", "")
	add("x2", "x1", "2", "")
	_ = SnapshotTree(c, time.UTC)
}
