package sshtest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/transport"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"true", []string{"true"}},
		{"  pct   start\t101 ", []string{"pct", "start", "101"}},
		{"echo '' 'a b' it\\'s", []string{"echo", "", "a b", "it's"}},
		{`echo "a \"b\" \$c \\ \x"`, []string{"echo", `a "b" $c \ \x`}},
		{"echo 'it'\\''s'", []string{"echo", "it's"}},
		{"echo a=b", []string{"echo", "a=b"}},
		{"'FOO=bar'", []string{"FOO=bar"}},
		{"echo a#b", []string{"echo", "a#b"}},
		{`scp -qt "/tmp/tmp.x/upload"`, []string{"scp", "-qt", "/tmp/tmp.x/upload"}},
		{"echo 'multi\nline'", []string{"echo", "multi\nline"}},
	}
	for _, tt := range tests {
		got, err := SplitCommand(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{
		"echo $HOME", "echo `id`", "a;b", "a | b", "a && b", "a > f", "echo *", "echo ?", "echo [a]",
		"echo {a,b}", "echo ~", "echo #c", "FOO=bar cmd", "echo 'open", `echo "open`, `echo "$x"`,
		"echo \\", "a\nb", "echo !x", "(a)",
	} {
		if got, err := SplitCommand(bad); !errors.Is(err, ErrUnsupportedShell) {
			t.Errorf("SplitCommand(%q) = %q, %v; want ErrUnsupportedShell", bad, got, err)
		}
	}
}

// FuzzQuoteSplit: SplitCommand(transport.Quote(argv)) == argv for every argv
// without NUL bytes. The input is argv joined with NUL.
func FuzzQuoteSplit(f *testing.F) {
	for _, s := range []string{
		"", "true", "echo\x00a b", "echo\x00\x00", "FOO=bar\x00x=y", "it's\x00\"q\"\x00$x\x00`id`",
		"a;b\x00c|d\x00e&f\x00<>\x00()\x00*?[]\x00{}\x00~\x00#\x00!", "line\nnext\x00\t\r", "ünï\x00\xff\xfe",
		"'\x00''\x00'''", "\\\x00\\\\\x00\\'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		var argv []string
		if joined != "" {
			argv = strings.Split(joined, "\x00")
		}
		line := transport.Quote(argv)
		got, err := SplitCommand(line)
		if err != nil {
			t.Fatalf("SplitCommand(Quote(%q)) = %v (line %q)", argv, err, line)
		}
		if !slices.Equal(got, argv) {
			t.Fatalf("round trip: %q -> %q -> %q", argv, line, got)
		}
	})
}
