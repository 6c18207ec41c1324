package pvesim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/pve"
)

// shellCases are scripts whose output and exit status must be what dash
// (PVE's /bin/sh) gives. File operations use relative paths: the real
// shell runs them in a temp dir, the memory node in a fresh directory of
// its fake root.
var shellCases = []struct {
	name, script, out string
	code              int
}{
	{name: "list", script: "echo a; echo b\necho c", out: "a\nb\nc\n"},
	{name: "comment", script: "echo a # not printed\n# nor this", out: "a\n"},
	{name: "quotes", script: `echo '$HOME' "\$x" "a\\z" 'it'\''s' "tab	in"`, out: "$HOME $x a\\z it's tab\tin\n"},
	{name: "dash echo", script: `echo 'a\tb\\c' 'x\0101'; echo 'stop\cnot'; echo -n n; echo`, out: "a\tb\\c xA\nstopn\n"},
	{name: "multi-line quote", script: "echo \"a\nb\"", out: "a\nb\n"},
	{name: "positional", script: `set -- a 'b c' d; for x in "$@"; do printf '[%s]\n' "$x"; done; echo $#`, out: "[a]\n[b c]\n[d]\n3\n"},
	{name: "unquoted $@ splits", script: `set -- a 'b c'; for x in $@; do echo "<$x>"; done`, out: "<a>\n<b>\n<c>\n"},
	{name: "empty $@", script: `set --; for x in "$@"; do echo "x$x"; done; echo done`, out: "done\n"},
	{name: "$*", script: `set -- a b; echo "$*"`, out: "a b\n"},
	{name: "field splitting", script: `f='a  b'; printf '[%s]' $f "$f" ''; echo`, out: "[a][b][a  b][]\n"},
	{name: "empty unquoted vanishes", script: `e=; printf '[%s]' x $e y; echo`, out: "[x][y]\n"},
	{name: "defaults", script: `x=; echo ${x:-def} ${x-unset} ${nope-unset} ${x:+alt} ${nope:+alt}.`, out: "def unset .\n"},
	{name: "assign default", script: `echo ${v:=set}; echo $v`, out: "set\nset\n"},
	{name: "trim", script: `y=foo.tar.gz; echo ${y%.*} ${y%%.*} ${y#*.} ${y##*.} ${#y}`, out: "foo.tar foo tar.gz gz 10\n"},
	{name: "trim quoted pattern", script: `y='a*b*c'; echo "${y#"a*"}"`, out: "b*c\n"},
	{name: "and or not", script: `false || echo no; true && echo yes; ! false && echo neg; false && echo never; echo $?`, out: "no\nyes\nneg\n1\n"},
	{name: "if elif else", script: `if false; then echo a; elif true; then echo b; else echo c; fi`, out: "b\n"},
	{name: "if status", script: `if false; then :; fi; echo $?`, out: "0\n"},
	{name: "case", script: `for f in a.new.1 b.conf '*'; do case $f in *.new.*) echo skip;; *.conf|x) echo conf;; \*) echo star;; esac; done`, out: "skip\nconf\nstar\n"},
	{name: "case no match", script: `case x in y) echo y;; esac; echo $?`, out: "0\n"},
	{name: "while", script: `i=; while [ "$i" != xxx ]; do i=${i}x; echo $i; done`, out: "x\nxx\nxxx\n"},
	{name: "until", script: `i=; until [ "$i" = xx ]; do i=${i}x; done; echo $i`, out: "xx\n"},
	{name: "continue", script: `for i in 1 2 3; do if [ $i = 2 ]; then continue; fi; echo $i; done`, out: "1\n3\n"},
	{name: "break 2", script: `for i in 1 2; do for j in a b; do [ $j = b ] && break 2; echo $i$j; done; done; echo end`, out: "1a\nend\n"},
	{name: "command substitution", script: `x=$(echo hi; echo there); echo "$x"; echo "$(printf 'a\n\n\n')"end; echo ` + "`echo old`", out: "hi\nthere\naend\nold\n"},
	{name: "substitution status", script: `x=$(false) || echo failed; y=$(true) && echo ok`, out: "failed\nok\n"},
	{name: "nested substitution", script: `echo "$(echo "$(echo deep)")"`, out: "deep\n"},
	{name: "printf", script: `printf '%s-%s\n' a b c; printf '%5s|%-4s|%03d|%x|%%\n' ab cd 7 255; printf 'a\tb\\n\n'; printf '%b\n' 'x\ty'`, out: "a-b\nc-\n   ab|cd  |007|ff|%\na\tb\\n\nx\ty\n"},
	{name: "printf nul", script: `printf '%s\0' a; printf '\0'; printf '\101\n'`, out: "a\x00\x00A\n"},
	{name: "set -e", script: "set -e\necho a\nfalse\necho b", out: "a\n", code: 1},
	{name: "set -e spares conditions", script: "set -e; false || true; if false; then :; fi; ! true; false && true; echo reached", out: "reached\n"},
	{name: "set -e in sh -c", script: `sh -ec 'false; echo no'; echo $?`, out: "1\n"},
	{name: "exit", script: "echo a; exit 3; echo b", out: "a\n", code: 3},
	{name: "exit in subshell", script: "(exit 4); echo $?; (echo in; exit 0); echo out", out: "4\nin\nout\n"},
	{name: "exit status of last", script: "false", code: 1},
	{name: "group", script: `{ echo a; echo b; } | cat; { false; } || echo failed`, out: "a\nb\nfailed\n"},
	{name: "subshell keeps vars", script: `x=1; (x=2); echo $x`, out: "1\n"},
	{name: "sh -c args", script: `sh -c 'echo "$0|$1|$#|$*"' zero one 'two three'`, out: "zero|one|2|one two three\n"},
	{name: "sh -c no name", script: `sh -c 'echo $0'`, out: "sh\n"},
	{name: "test", script: `test 3 -gt 2 && echo gt; [ -n "" ] || echo empty; [ ! -z x ] && echo nz; [ a = a ] && [ a != b ] && echo str; [ 2 -le 1 ] || echo le`, out: "gt\nempty\nnz\nstr\nle\n"},
	{name: "external test", script: `/usr/bin/test -d . && echo d; /usr/bin/[ -f nope ] || echo nf`, out: "d\nnf\n"},
	{name: "unset", script: `x=1; unset x; echo ${x-gone}`, out: "gone\n"},
	{name: "shift", script: `set -- a b c; shift; echo "$@"; shift 2; echo $#`, out: "b c\n0\n"},
	{name: "trap exit", script: `trap 'echo bye' EXIT; echo hi; exit 2`, out: "hi\nbye\n", code: 2},
	{name: "umask", script: `umask 077; umask`, out: "0077\n"},
	{name: "read", script: `printf 'x y z\nnext\n' | { read a b; echo "$a|$b"; }`, out: "x|y z\n"},
	{name: "while read", script: `printf 'a\nb\n' | while read l; do echo "<$l>"; done`, out: "<a>\n<b>\n"},
	{name: "quoted glob stays", script: `x='*'; echo "$x"; echo '*'`, out: "*\n*\n"},
	{name: "redirects", script: "umask 022; echo one > f; echo two >> f; cat < f; cat f nope 2>/dev/null; echo $?; echo err >&2", out: "one\ntwo\none\ntwo\n1\n"},
	{name: "redirect error", script: "echo x > missing/f; echo $?", out: "2\n"},
	{name: "globs", script: `mkdir -p g/a g/b g/.h && touch g/a/1.conf g/b/2.conf g/a/x.txt g/.h/3.conf; for f in g/*/*.conf; do echo $f; done; echo g/none*; cd g && echo */*.conf`, out: "g/a/1.conf\ng/b/2.conf\ng/none*\na/1.conf b/2.conf\n"},
	{name: "glob in middle of quoted", script: `mkdir d && touch d/n.1 d/n.2; n=n; echo d/"$n".*`, out: "d/n.1 d/n.2\n"},
	{name: "files and modes", script: `umask 077; echo s > f; stat -c '%a %s' f; mkdir -p a/b; stat -c %a a a/b; install -m 644 f g; stat -c %a g; install -d -m 751 dd; stat -c %a dd`, out: "600 2\n700\n700\n644\n751\n"},
	{name: "mv", script: `echo 1 > a; echo 2 > b; mv -n a b; cat b; mv -f a b; cat b; [ -e a ] || echo gone`, out: "2\n1\ngone\n"},
	{name: "rm", script: `mkdir d; touch d/x; rm -f nope; rm d 2>/dev/null || echo isdir; rm -rf d; [ -d d ] || echo removed`, out: "isdir\nremoved\n"},
	{name: "cat a directory", script: "mkdir d; cat d 2>/dev/null; echo $?; touch d/x; rmdir d 2>/dev/null || echo notempty", out: "1\nnotempty\n"},
	{name: "base64", script: `printf 'hello\n' > f; base64 f; base64 -- f | base64 -d`, out: "aGVsbG8K\nhello\n"},
	{name: "sha256sum", script: `printf abc > f; sha256sum f; printf abc | sha256sum`, out: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  f\nba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -\n"},
	{name: "cd", script: `mkdir -p x/y; cd x/y && pwd | sed 's|.*/x/y|.../x/y|' 2>/dev/null || pwd; cd nope 2>/dev/null; echo $?`, out: ".../x/y\n2\n"},
}

func TestShellMatchesDash(t *testing.T) {
	c := testCluster(t)
	n := mustNode(t, c, "pve")
	_, err := exec.LookPath("/bin/sh")
	realSh := err == nil
	for i, tc := range shellCases {
		t.Run(tc.name, func(t *testing.T) {
			script := tc.script
			if strings.Contains(script, "pwd | sed") {
				// No sed in the memory node: strip the prefix of its fake root instead.
				script = strings.Replace(script, ` | sed 's|.*/x/y|.../x/y|' 2>/dev/null || pwd`, "", 1)
			}
			dir := "/root/case" + strconv.Itoa(i)
			var o, e bytes.Buffer
			code := n.Handler().Exec(context.Background(), "mkdir "+dir+" && cd "+dir+" && "+wrapScript(script), nil, &o, &e)
			out := o.String()
			if tc.name == "cd" {
				out = strings.Replace(out, dir+"/x/y", ".../x/y", 1)
			}
			if out != tc.out || code != tc.code {
				t.Errorf("memory node: %d %q (stderr %q), want %d %q", code, out, e.String(), tc.code, tc.out)
			}
			if !realSh {
				return
			}
			cmd := exec.Command("/bin/sh", "-c", tc.script)
			cmd.Dir = t.TempDir()
			cmd.Env = []string{"LC_ALL=C", "PATH=" + os.Getenv("PATH")}
			var ro bytes.Buffer
			cmd.Stdout = &ro
			err := cmd.Run()
			rcode := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				rcode = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if ro.String() != tc.out || rcode != tc.code {
				t.Errorf("/bin/sh: %d %q, want %d %q", rcode, ro.String(), tc.code, tc.out)
			}
		})
	}
}

// wrapScript runs a case in a subshell so its exit, set -e and traps end
// there, as they would end the real sh -c.
func wrapScript(s string) string { return "sh -c " + shellQuote(s) }

func TestShellSyntaxErrors(t *testing.T) {
	c := testCluster(t)
	h := mustNode(t, c, "pve").Handler()
	for _, s := range []string{`echo 'a`, `if true; then echo`, `for x in a; echo`, `case x in`, `echo $(`, `{ echo`, `( echo`, `echo ${x`, `a &&`, `| b`, `cat <<EOF`, `echo $((1+1))`} {
		var o, e bytes.Buffer
		if code := h.Exec(context.Background(), s, nil, &o, &e); code != 2 || !strings.Contains(e.String(), "sh: 1: ") {
			t.Errorf("%q: %d %q %q", s, code, o.String(), e.String())
		}
	}
}

func TestShellDateAndStatUseClusterClock(t *testing.T) {
	c := testCluster(t)
	at := time.Unix(1_800_000_000, 0)
	c.Now = func() time.Time { return at }
	h := mustNode(t, c, "pve").Handler()
	var o, e bytes.Buffer
	code := h.Exec(context.Background(), `date +%s; mkdir /etc/pve/priv/lock/x && stat -c %Y /etc/pve/priv/lock/x; touch -d @5 f && stat -c %Y f; date -u -d @0 '+%F %T'`, nil, &o, &e)
	if code != 0 || o.String() != "1800000000\n1800000000\n5\n1970-01-01 00:00:00\n" {
		t.Errorf("%d %q %q", code, o.String(), e.String())
	}
}

func TestShellTimeout(t *testing.T) {
	c := testCluster(t)
	h := mustNode(t, c, "pve").Handler()
	var o, e bytes.Buffer
	if code := h.Exec(context.Background(), `timeout 0.05 sleep 10; echo $?; timeout 5 true; echo $?`, nil, &o, &e); code != 0 || o.String() != "124\n0\n" {
		t.Errorf("%d %q %q", code, o.String(), e.String())
	}
}

// FuzzShellParse: any script parses or fails cleanly, never panics.
func FuzzShellParse(f *testing.F) {
	for _, tc := range shellCases {
		f.Add(tc.script)
	}
	f.Add(`case $x in (a|b) echo;; esac`)
	f.Add(`echo ${x:-$(echo "}")}`)
	f.Fuzz(func(t *testing.T, s string) {
		parseSh(s)
		shMatch(s, "abc/def")
	})
}

func TestShMatch(t *testing.T) {
	for _, tc := range []struct {
		pat, s string
		want   bool
	}{
		{"*.conf", "100.conf", true},
		{"*.conf", "a/b.conf", true},
		{"*.new.*", "db.password.new.42", true},
		{"?", "", false},
		{"[0-9]*", "1x", true},
		{"[!0-9]*", "1x", false},
		{`\*`, "*", true},
		{`\*`, "a", false},
		{"[]]", "]", true},
		{"[", "[", true},
	} {
		if got := shMatch(tc.pat, tc.s); got != tc.want {
			t.Errorf("shMatch(%q, %q) = %v", tc.pat, tc.s, got)
		}
	}
}

// BenchmarkConfigDump: the config dump of a 1000-container cluster
// answered natively and through the interpreter (the same script with one
// more newline, which the node does not recognise).
func BenchmarkConfigDump(b *testing.B) {
	c, err := NewMemoryCluster("pve1", "pve2")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 1000; i++ {
		p := filepath.Join(c.Dir, "nodes", []string{"pve1", "pve2"}[i%2], "lxc", strconv.Itoa(100+i)+".conf")
		if err := os.WriteFile(p, []byte("arch: amd64\nhostname: ct"+strconv.Itoa(i)+"\nmemory: 512\n"), 0o640); err != nil {
			b.Fatal(err)
		}
	}
	n, _ := c.Node("pve1")
	h := n.Handler()
	argv := pve.DumpConfigsArgv()
	for _, bc := range []struct{ name, cmdline string }{
		{"native", shellQuoteArgv(argv)},
		{"interpreted", shellQuoteArgv([]string{argv[0], argv[1], argv[2] + "\n"})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if code := h.Exec(context.Background(), bc.cmdline, nil, io.Discard, io.Discard); code != 0 {
					b.Fatal(code)
				}
			}
		})
	}
}

func shellQuoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}
