package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/lxcplan/lxcplan/engine/transport"
	"github.com/lxcplan/lxcplan/engine/transport/local"
)

// fakeHost understands the store's constant scripts against an in-memory
// file map, records every command, and can fail scripted commands.
type fakeHost struct {
	mu    sync.Mutex
	files map[string]string
	cmds  []transport.Command
	fail  func(argv []string) error
}

func newFakeHost() *fakeHost { return &fakeHost{files: map[string]string{}} }

func (h *fakeHost) Run(ctx context.Context, c transport.Command) (transport.Result, error) {
	var stdin []byte
	if c.Stdin != nil {
		stdin, _ = io.ReadAll(c.Stdin)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c.Stdin = nil
	h.cmds = append(h.cmds, c)
	if h.fail != nil {
		if err := h.fail(c.Argv); err != nil {
			return transport.Result{}, err
		}
	}
	a := c.Argv
	if len(a) < 5 || a[0] != "sh" || a[1] != "-c" || a[3] != "sh" {
		return transport.Result{ExitCode: 127}, &transport.ExitError{Argv: a, Code: 127}
	}
	args := a[4:]
	switch a[2] {
	case getScript:
		v, ok := h.files[args[0]]
		if !ok {
			return transport.Result{ExitCode: 3}, &transport.ExitError{Argv: a, Code: 3}
		}
		return transport.Result{Stdout: []byte(v)}, nil
	case createScript:
		if _, ok := h.files[args[1]]; !ok {
			h.files[args[1]] = string(stdin)
		}
		return transport.Result{Stdout: []byte(h.files[args[1]])}, nil
	case loadScript:
		var out bytes.Buffer
		names := make([]string, 0, len(h.files))
		for f := range h.files {
			if filepath.Dir(f) == args[0] {
				names = append(names, f)
			}
		}
		slices.Sort(names)
		for _, f := range names {
			out.WriteString(filepath.Base(f) + "\x00" + h.files[f] + "\x00")
		}
		return transport.Result{Stdout: out.Bytes()}, nil
	case deleteScript:
		for f := range h.files {
			if filepath.Dir(f) == args[0] && strings.HasPrefix(filepath.Base(f), args[1]+".") {
				delete(h.files, f)
			}
		}
		return transport.Result{}, nil
	}
	return transport.Result{ExitCode: 2}, &transport.ExitError{Argv: a, Code: 2}
}

func (h *fakeHost) commands() []transport.Command {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.cmds)
}

func TestGenerate(t *testing.T) {
	tests := []struct {
		gen   Generate
		n     int
		valid func(r rune) bool
	}{
		{Generate{}, DefaultLength, func(r rune) bool { return r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) }},
		{Generate{Length: 24, Charset: "alnum"}, 24, func(r rune) bool { return r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) }},
		{Generate{Length: 64, Charset: "hex"}, 64, func(r rune) bool { return strings.ContainsRune("0123456789abcdef", r) }},
		{Generate{Length: 40, Charset: "alpha"}, 40, func(r rune) bool { return r < 128 && unicode.IsLetter(r) }},
		{Generate{Length: 200, Charset: "ascii"}, 200, func(r rune) bool { return r > ' ' && r < 127 }},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.gen.Charset, tt.gen.Length), func(t *testing.T) {
			seen := map[string]bool{}
			for range 20 {
				v, err := tt.gen.New()
				if err != nil {
					t.Fatal(err)
				}
				if len(v) != tt.n {
					t.Errorf("len %d, want %d", len(v), tt.n)
				}
				for _, r := range v {
					if !tt.valid(r) {
						t.Fatalf("character %q outside the charset in %q", r, v)
					}
				}
				if seen[v] {
					t.Fatalf("repeated value %q", v)
				}
				seen[v] = true
			}
		})
	}
	for _, bad := range []Generate{{Length: -1}, {Length: maxLength + 1}, {Charset: "emoji"}} {
		if _, err := bad.New(); !errors.Is(err, ErrInvalidGenerate) {
			t.Errorf("%+v: err = %v", bad, err)
		}
	}
}

func TestGenerateUsesWholeCharset(t *testing.T) {
	v, err := Generate{Length: 4000, Charset: CharsetHex}.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range "0123456789abcdef" {
		if !strings.ContainsRune(v, c) {
			t.Errorf("%q never drawn in 4000 characters", c)
		}
	}
}

func TestGetOrCreateStable(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost()
	reg := NewRegistry()
	s := &Store{Runner: h, Stack: "media", Redactor: reg}
	v1, err := s.GetOrCreate(ctx, "db", "password", Generate{Length: 24})
	if err != nil {
		t.Fatal(err)
	}
	if len(v1) != 24 {
		t.Fatalf("value %q", v1)
	}
	if got := h.files["/etc/pve/priv/lxcplan/media/db.password"]; got != v1 {
		t.Errorf("stored %q, returned %q", got, v1)
	}
	// The same store answers from its cache; a new store (the next run) reads it back.
	v2, err := s.GetOrCreate(ctx, "db", "password", Generate{Length: 24})
	if err != nil || v2 != v1 {
		t.Fatalf("second call = %q, %v", v2, err)
	}
	s2 := &Store{Runner: h, Stack: "media", Redactor: NewRegistry()}
	v3, err := s2.GetOrCreate(ctx, "db", "password", Generate{Length: 48, Charset: "hex"})
	if err != nil || v3 != v1 {
		t.Fatalf("next run = %q, %v; want the stored %q", v3, err, v1)
	}
	if !slices.Contains(s2.Redactor.(*Registry).Secrets(), v1) {
		t.Error("value read back was not registered")
	}
	creates := 0
	for _, c := range h.commands() {
		if c.Argv[2] == createScript {
			creates++
		}
	}
	if creates != 1 {
		t.Errorf("%d create commands, want 1", creates)
	}
	if got := reg.String("pw=" + v1); got != "pw=***" {
		t.Errorf("registry masks %q", got)
	}
}

func TestSecretNeverInArgvOrErrors(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost()
	reg := NewRegistry()
	// Commands go through the live redaction middleware, as in a run.
	var trace bytes.Buffer
	r := transport.Chain(h, reg.Middleware(), transport.Trace(&trace, "pve1"))
	s := &Store{Runner: r, Stack: "media", Redactor: reg}
	var values []string
	for _, p := range []string{"password", "api_key", "token"} {
		v, err := s.GetOrCreate(ctx, "web", p, Generate{Length: 32, Charset: "ascii"})
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, v)
	}
	// Failures of every kind, with a tool that echoes what it read.
	var errs []error
	h.fail = func(argv []string) error {
		return &transport.ExitError{Host: "pve1", Argv: argv, Code: 1, Stderr: []byte("cat: write error; content was " + values[0])}
	}
	s2 := &Store{Runner: r, Stack: "media", Redactor: reg}
	_, err := s2.GetOrCreate(ctx, "web", "password", Generate{})
	errs = append(errs, err)
	_, err = s2.Load(ctx)
	errs = append(errs, err)
	errs = append(errs, s2.DeleteContainer(ctx, "web"))
	_, _, err = s2.Get(ctx, "web", "token")
	errs = append(errs, err)
	h.fail = func(argv []string) error { return fmt.Errorf("%w: reset by peer", transport.ErrConnectionLost) }
	_, err = (&Store{Runner: r, Stack: "media", Redactor: reg}).GetOrCreate(ctx, "db", "password", Generate{})
	errs = append(errs, err)

	var seen []string
	for _, c := range h.commands() {
		seen = append(seen, strings.Join(c.Argv, " "), c.Display())
	}
	seen = append(seen, trace.String())
	for _, e := range errs {
		if e == nil {
			t.Fatal("scripted failure not reported")
		}
		seen = append(seen, e.Error())
	}
	for _, v := range values {
		for _, text := range seen {
			if strings.Contains(text, v) {
				t.Errorf("secret %q leaked in %q", v, text)
			}
		}
	}
	if !strings.Contains(errs[0].Error(), "content was ***") {
		t.Errorf("stderr not masked: %v", errs[0])
	}
}

func TestCreateCommandShape(t *testing.T) {
	h := newFakeHost()
	s := &Store{Runner: h, Stack: "media", Redactor: NewRegistry()}
	v, err := s.GetOrCreate(context.Background(), "db", "password", Generate{})
	if err != nil {
		t.Fatal(err)
	}
	cmds := h.commands()
	if len(cmds) != 2 {
		t.Fatalf("%d commands", len(cmds))
	}
	get, create := cmds[0], cmds[1]
	if !get.ReadOnly || !slices.Equal(get.Argv, []string{"sh", "-c", getScript, "sh", "/etc/pve/priv/lxcplan/media/db.password"}) {
		t.Errorf("get = %q", get.Argv)
	}
	if create.ReadOnly || !slices.Equal(create.Argv, []string{"sh", "-c", createScript, "sh", "/etc/pve/priv/lxcplan/media", "/etc/pve/priv/lxcplan/media/db.password"}) {
		t.Errorf("create = %q", create.Argv)
	}
	if !slices.Equal(create.Redact, []string{v}) {
		t.Errorf("create.Redact = %q", create.Redact)
	}
	if !strings.Contains(createScript, "umask 077") {
		t.Error("create script does not ask for mode 0600")
	}
}

func TestLoadOneCommand(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost()
	d := "/etc/pve/priv/lxcplan/media/"
	h.files[d+"db.password"] = "s3cr3t\n"
	h.files[d+"db.replication"] = "r3pl"
	h.files[d+"web.api_key"] = "k3y"
	h.files[d+"README"] = "junk"
	h.files["/etc/pve/priv/lxcplan/other/db.password"] = "not ours"
	reg := NewRegistry()
	s := &Store{Runner: h, Stack: "media", Redactor: reg}
	got, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{"db": {"password": "s3cr3t", "replication": "r3pl"}, "web": {"api_key": "k3y"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Load = %v, want %v", got, want)
	}
	if n := len(h.commands()); n != 1 {
		t.Errorf("%d commands, want 1", n)
	}
	for _, v := range []string{"s3cr3t", "r3pl", "k3y"} {
		if !slices.Contains(reg.Secrets(), v) {
			t.Errorf("%q not registered", v)
		}
	}
	// After Load, lookups need no command, and a missing one is known missing.
	if v, ok, err := s.Get(ctx, "web", "api_key"); v != "k3y" || !ok || err != nil {
		t.Errorf("Get = %q %v %v", v, ok, err)
	}
	if _, ok, err := s.Get(ctx, "web", "other"); ok || err != nil {
		t.Errorf("Get missing = %v %v", ok, err)
	}
	if n := len(h.commands()); n != 1 {
		t.Errorf("%d commands after cached gets, want 1", n)
	}
}

func TestDeleteContainer(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost()
	d := "/etc/pve/priv/lxcplan/media/"
	h.files[d+"web.password"] = "a"
	h.files[d+"web-2.password"] = "b"
	s := &Store{Runner: h, Stack: "media", Redactor: NewRegistry()}
	if _, err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteContainer(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.files[d+"web.password"]; ok {
		t.Error("web's secret left")
	}
	if _, ok := h.files[d+"web-2.password"]; !ok {
		t.Error("web-2's secret removed")
	}
	if _, ok, _ := s.Get(ctx, "web", "password"); ok {
		t.Error("cache still holds a deleted secret")
	}
}

func TestInvalid(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost()
	tests := []struct {
		name string
		do   func() error
		is   error
	}{
		{"no registrar", func() error {
			_, err := (&Store{Runner: h, Stack: "media"}).GetOrCreate(ctx, "db", "pw", Generate{})
			return err
		}, ErrNoRegistrar},
		{"stack traversal", func() error {
			_, err := (&Store{Runner: h, Stack: "../x", Redactor: NewRegistry()}).Load(ctx)
			return err
		}, ErrInvalidName},
		{"container traversal", func() error {
			_, _, err := (&Store{Runner: h, Stack: "media", Redactor: NewRegistry()}).Get(ctx, "../db", "pw")
			return err
		}, ErrInvalidName},
		{"param with dot", func() error {
			_, err := (&Store{Runner: h, Stack: "media", Redactor: NewRegistry()}).GetOrCreate(ctx, "db", "a.b", Generate{})
			return err
		}, ErrInvalidName},
		{"delete glob", func() error {
			return (&Store{Runner: h, Stack: "media", Redactor: NewRegistry()}).DeleteContainer(ctx, "*")
		}, ErrInvalidName},
		{"bad generator", func() error {
			_, err := (&Store{Runner: h, Stack: "media", Redactor: NewRegistry()}).GetOrCreate(ctx, "db", "pw", Generate{Charset: "x"})
			return err
		}, ErrInvalidGenerate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
		})
	}
	for _, c := range h.commands() {
		if c.Argv[2] == createScript {
			t.Errorf("invalid input reached the host: %q", c.Argv)
		}
	}
}

func TestParseLoad(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		err  bool
	}{
		{"empty", "", "map[]", false},
		{"one", "db.pw\x00x\x00", "map[db:map[pw:x]]", false},
		{"crlf", "db.pw\x00x\r\n\x00", "map[db:map[pw:x]]", false},
		{"junk names skipped", "a\x00b\x00.x\x00c\x00db.pw\x00v\x00", "map[db:map[pw:v]]", false},
		{"odd", "db.pw\x00SECRETVAL\x00x\x00", "", true},
		{"no final nul", "db.pw\x00SECRETVAL", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLoad([]byte(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("err = %v", err)
			}
			if err == nil && fmt.Sprint(got) != tt.want {
				t.Errorf("got %v, want %s", got, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "SECRETVAL") {
				t.Errorf("error quotes the output: %v", err)
			}
		})
	}
}

func FuzzParseLoad(f *testing.F) {
	f.Add([]byte("db.pw\x00x\x00"))
	f.Add([]byte("\x00\x00\x00"))
	f.Add([]byte("a.b.c\x00v\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := parseLoad(b)
		if err == nil {
			for c, ps := range out {
				if !containerRe.MatchString(c) {
					t.Fatalf("bad container %q", c)
				}
				for p := range ps {
					if !paramRe.MatchString(p) {
						t.Fatalf("bad param %q", p)
					}
				}
			}
		}
	})
}

func TestRegistryMiddlewareIsLive(t *testing.T) {
	reg := NewRegistry("given")
	var got []string
	r := transport.Chain(transport.RunFunc(func(ctx context.Context, c transport.Command) (transport.Result, error) {
		got = c.Redact
		return transport.Result{}, &transport.ExitError{Argv: c.Argv, Code: 1, Stderr: []byte("late-secret given")}
	}), reg.Middleware())
	reg.Add("late-secret") // after the chain was built
	_, err := r.Run(context.Background(), transport.Command{Argv: []string{"echo"}})
	if !slices.Contains(got, "late-secret") || !slices.Contains(got, "given") {
		t.Errorf("Redact = %q", got)
	}
	if strings.Contains(err.Error(), "late-secret") || strings.Contains(err.Error(), "given") {
		t.Errorf("error not masked: %v", err)
	}
}

// TestLocalShell runs the real scripts with /bin/sh against a temporary
// directory standing in for /etc/pve/priv/lxcplan.
func TestLocalShell(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r := &local.Runner{Name: "pve1"}
	reg := NewRegistry()
	s := &Store{Runner: r, Stack: "media", Redactor: reg, Dir: dir}
	if got, err := s.Load(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Load of nothing = %v, %v", got, err)
	}
	if _, ok, err := (&Store{Runner: r, Stack: "media", Redactor: reg, Dir: dir}).Get(ctx, "db", "password"); ok || err != nil {
		t.Fatalf("Get of nothing = %v, %v", ok, err)
	}
	v, err := s.GetOrCreate(ctx, "db", "password", Generate{Length: 64, Charset: "ascii"})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "media", "db.password")
	fi, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(f)); di.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", di.Mode().Perm())
	}
	if b, _ := os.ReadFile(f); string(b) != v {
		t.Errorf("file holds %q, want %q", b, v)
	}
	// A new run gets the same value; the file is never rewritten.
	s2 := &Store{Runner: r, Stack: "media", Redactor: NewRegistry(), Dir: dir}
	if v2, err := s2.GetOrCreate(ctx, "db", "password", Generate{}); err != nil || v2 != v {
		t.Fatalf("second run = %q, %v", v2, err)
	}
	// Even a create that skips the lookup keeps the stored value.
	res, err := r.Run(ctx, transport.Command{Argv: []string{"sh", "-c", createScript, "sh", filepath.Dir(f), f}, Stdin: strings.NewReader("other")})
	if err != nil || string(res.Stdout) != v {
		t.Fatalf("create over an existing value = %q, %v", res.Stdout, err)
	}
	if _, err := s2.GetOrCreate(ctx, "web", "token", Generate{Charset: "hex"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.GetOrCreate(ctx, "web-2", "token", Generate{Charset: "hex"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "media", "web.edited"), []byte("by hand\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	all, err := (&Store{Runner: r, Stack: "media", Redactor: NewRegistry(), Dir: dir}).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if all["db"]["password"] != v || len(all["web"]["token"]) != 32 || all["web"]["edited"] != "by hand" || len(all["web-2"]) != 1 {
		t.Errorf("Load = %q", all)
	}
	if err := s2.DeleteContainer(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "media"))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "db.password web-2.token" {
		t.Errorf("after delete: %v", names)
	}
	for _, c := range []string{"db", "web-2"} {
		if err := s2.DeleteContainer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "media")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty stack dir left: %v", err)
	}
	if err := s2.DeleteContainer(ctx, "db"); err != nil {
		t.Errorf("delete with no dir: %v", err)
	}
}
