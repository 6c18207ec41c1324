package transport_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/transport"
)

func TestQuote(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{nil, ""},
		{[]string{"true"}, "true"},
		{[]string{"pct", "set", "101", "--net0", "name=eth0,bridge=vmbr0,ip=10.0.0.5/24"}, "pct set 101 --net0 name=eth0,bridge=vmbr0,ip=10.0.0.5/24"},
		{[]string{"echo", ""}, "echo ''"},
		{[]string{"echo", "a b"}, "echo 'a b'"},
		{[]string{"echo", "it's"}, `echo 'it'\''s'`},
		{[]string{"echo", "$HOME", "`id`", "a;b", "x|y", "*", "~root", "#c"}, "echo '$HOME' '`id`' 'a;b' 'x|y' '*' '~root' '#c'"},
		{[]string{"FOO=bar", "x=y"}, "'FOO=bar' x=y"},
		{[]string{"echo", "line1\nline2"}, "echo 'line1\nline2'"},
		{[]string{"echo", "ünï"}, "echo 'ünï'"},
		{[]string{"printf", "%s\\0"}, `printf '%s\0'`},
		{[]string{"a{b,c}"}, "'a{b,c}'"},
	}
	for _, tt := range tests {
		if got := transport.Quote(tt.argv); got != tt.want {
			t.Errorf("Quote(%q) = %q, want %q", tt.argv, got, tt.want)
		}
	}
	if got := transport.QuoteArg("a=b"); got != "a=b" {
		t.Errorf("QuoteArg(a=b) = %q", got)
	}
}

func TestRedactor(t *testing.T) {
	r := transport.NewRedactor("hunter2", "", "hunter2-long")
	tests := []struct{ in, want string }{
		{"password=hunter2", "password=***"},
		{"hunter2-long and hunter2", "*** and ***"},
		{"nothing here", "nothing here"},
	}
	for _, tt := range tests {
		if got := r.String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var nilR *transport.Redactor
	if nilR.String("x") != "x" {
		t.Error("nil redactor must not change text")
	}
	// A secret with a quote: masking must happen before quoting.
	c := transport.Command{Argv: []string{"chpasswd", "root:it's secret"}, Redact: []string{"it's secret"}}
	if got := c.Display(); got != "chpasswd 'root:***'" {
		t.Errorf("Display = %q", got)
	}
}

func TestExitError(t *testing.T) {
	e := &transport.ExitError{Host: "pve1", Argv: []string{"pct", "start", "101"}, Code: 2, Stderr: []byte(strings.Repeat("x", 2000))}
	if !errors.Is(e, transport.ErrCommandFailed) {
		t.Error("ExitError must wrap ErrCommandFailed")
	}
	msg := e.Error()
	if !strings.HasPrefix(msg, "pct start 101 on pve1: exit status 2: xxx") || len(msg) > 700 {
		t.Errorf("Error() = %.100q... (len %d)", msg, len(msg))
	}
	if len(e.Stderr) != 2000 {
		t.Error("full stderr must stay in the field")
	}
}

func TestValidate(t *testing.T) {
	for _, argv := range [][]string{nil, {}, {"echo", "a\x00b"}} {
		if err := (transport.Command{Argv: argv}).Validate(); !errors.Is(err, transport.ErrInvalidCommand) {
			t.Errorf("Validate(%q) = %v", argv, err)
		}
	}
}

// fake is a runner that records what reached it and fails on demand.
type fake struct {
	got  []transport.Command
	fail func(c transport.Command) (transport.Result, error)
}

func (f *fake) Run(_ context.Context, c transport.Command) (transport.Result, error) {
	f.got = append(f.got, c)
	if f.fail != nil {
		return f.fail(c)
	}
	return transport.Result{Stdout: []byte("ok")}, nil
}

func TestChainOrder(t *testing.T) {
	var order []string
	mw := func(name string) transport.Middleware {
		return func(next transport.RunFunc) transport.RunFunc {
			return func(ctx context.Context, c transport.Command) (transport.Result, error) {
				order = append(order, name)
				return next(ctx, c)
			}
		}
	}
	r := transport.Chain(&fake{}, mw("outer"), nil, mw("inner"))
	if _, err := r.Run(context.Background(), transport.Command{Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "outer,inner" {
		t.Errorf("order = %v", order)
	}
}

func TestRedactTraceDryRun(t *testing.T) {
	const secret = "s3cr3t'pw"
	var trace, out bytes.Buffer
	f := &fake{fail: func(c transport.Command) (transport.Result, error) {
		return transport.Result{ExitCode: 1, Stderr: []byte("bad password " + secret)},
			&transport.ExitError{Host: "pve1", Argv: c.Argv, Code: 1, Stderr: []byte("bad password " + secret)}
	}}
	rec := &transport.Recorder{Host: "pve1", PassReadOnly: true, Out: &out}
	r := transport.Chain(f, transport.Redact(secret), transport.Trace(&trace, "pve1"), transport.DryRun(rec))

	// A mutating command is recorded, not run.
	res, err := r.Run(context.Background(), transport.Command{Argv: []string{"pct", "set", "101", "--password", secret}, Stdin: strings.NewReader("data")})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("dry-run result = %+v, %v", res, err)
	}
	if len(f.got) != 0 {
		t.Fatalf("dry-run let a mutating command through: %v", f.got)
	}
	// A read-only command passes through, and its error is redacted.
	_, err = r.Run(context.Background(), transport.Command{Argv: []string{"cat", "/etc/" + secret}, ReadOnly: true})
	if !errors.Is(err, transport.ErrCommandFailed) {
		t.Fatalf("read-only error = %v", err)
	}
	if len(f.got) != 1 || f.got[0].Argv[1] != "/etc/"+secret {
		t.Fatalf("the wire form must keep the secret: %v", f.got)
	}
	var ee *transport.ExitError
	if !errors.As(err, &ee) || bytes.Contains(ee.Stderr, []byte(secret)) {
		t.Errorf("ExitError stderr not redacted: %q", ee.Stderr)
	}
	for name, s := range map[string]string{"trace": trace.String(), "dry-run out": out.String(), "error": err.Error(), "records": strings.Join(rec.Lines(), "\n")} {
		if strings.Contains(s, secret) || strings.Contains(s, "s3cr3t") {
			t.Errorf("%s leaks the secret: %q", name, s)
		}
	}
	wantTrace := "+ pve1: pct set 101 --password '***'\n+ pve1: cat '/etc/***'\n"
	if trace.String() != wantTrace {
		t.Errorf("trace = %q, want %q", trace.String(), wantTrace)
	}
	recs := rec.Commands()
	if len(recs) != 2 || !recs[0].Stdin || recs[0].Passed || !recs[1].Passed {
		t.Errorf("records = %+v", recs)
	}
	if out.String() != "pve1: pct set 101 --password '***'\npve1: cat '/etc/***'\n" {
		t.Errorf("dry-run out = %q", out.String())
	}
}
