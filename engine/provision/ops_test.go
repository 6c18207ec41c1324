package provision

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/lxcplan/lxcplan/engine/internal/golden"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/transport"
)

var update = flag.Bool("update", false, "rewrite golden files")

// checkGolden compares got with testdata/<name>, rewriting it under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), []byte(got))
}

func bptr(b bool) *bool     { return &b }
func sptr(s string) *string { return &s }

// renderOps prints ops the way a reviewer wants to read them: the
// displayed command (secrets masked, lxcplan's constant scripts shortened),
// then stdin or the pushed content, masked too.
func renderOps(b *strings.Builder, ops []Op, red *transport.Redactor) {
	for _, op := range ops {
		if ps := op.Push; ps != nil {
			fmt.Fprintf(b, "push %s mode %04o", ps.Dest, ps.Mode.Perm())
			if ps.User != "" || ps.Group != "" {
				fmt.Fprintf(b, " owner %q group %q", ps.User, ps.Group)
			}
			if ps.Secret {
				b.WriteString(" (secret)")
			}
			b.WriteString("\n")
			renderText(b, ps.Content, red)
			continue
		}
		fmt.Fprintf(b, "$ %s", display(transport.Command{Argv: op.Argv, Redact: red.Secrets()}))
		if op.Retry {
			b.WriteString("  [retry]")
		}
		if op.Timeout > 0 {
			fmt.Fprintf(b, "  [timeout %s]", op.Timeout)
		}
		b.WriteString("\n")
		if op.Stdin != nil {
			renderText(b, op.Stdin, red)
		}
	}
}

func renderText(b *strings.Builder, data []byte, red *transport.Redactor) {
	text := red.String(string(data))
	for _, l := range strings.SplitAfter(text, "\n") {
		if l == "" {
			continue
		}
		b.WriteString("  | ")
		b.WriteString(strings.TrimSuffix(l, "\n"))
		b.WriteString("\n")
	}
	if len(data) > 0 && !strings.HasSuffix(text, "\n") {
		b.WriteString("  (no newline at end)\n")
	}
}

var stepCases = []struct {
	name  string
	os    string
	steps []model.Step
}{
	{"apt: one update for two installs", "debian", []model.Step{
		{Kind: model.StepApt, Packages: []string{"redis-server"}},
		{Kind: model.StepApt, Packages: []string{"redis-tools", "curl=7.88.1-10+deb12u5"}},
	}},
	{"apt on alpine", "alpine", []model.Step{{Kind: model.StepApt, Packages: []string{"redis"}}}},
	{"apt_repo with a key, then apt updates again", "debian", []model.Step{
		{Kind: model.StepApt, Packages: []string{"ca-certificates"}},
		{Kind: model.StepAptRepo, AptRepo: &model.AptRepoStep{Name: "grafana", URI: "https://apt.grafana.com", Suite: "stable", Components: []string{"main"}, KeyURL: "https://apt.grafana.com/gpg.key"}},
		{Kind: model.StepApt, Packages: []string{"grafana"}},
	}},
	{"apt_repo without a key, with arch", "ubuntu", []model.Step{
		{Kind: model.StepAptRepo, AptRepo: &model.AptRepoStep{Name: "local", URI: "http://${containers.db.ip}/debian", Suite: "bookworm", Components: []string{"main", "contrib"}, Arch: "amd64"}},
	}},
	{"file: content with a secret, no mode", "debian", []model.Step{
		{Kind: model.StepFile, File: &model.FileStep{Path: "/etc/redis/lxcplan.conf", HasContent: true, Owner: "redis", Group: "redis",
			Content: "requirepass ${params.password}\nbind ${container.ip}\n# literal $$HOME and ${HOME}\n"}},
	}},
	{"file: content without a secret", "debian", []model.Step{
		{Kind: model.StepFile, File: &model.FileStep{Path: "/etc/app/app.env", HasContent: true, Mode: "0640", Owner: "${params.user}",
			Content: "DB_HOST=${params.db_host}\nNO_NEWLINE=1"}},
	}},
	{"file: shipped source copied verbatim", "debian", []model.Step{
		{Kind: model.StepFile, File: &model.FileStep{Path: "/etc/nginx/sites-available/default", Source: "files/site.conf", Mode: "644"}},
	}},
	{"user: system with home, shell and groups", "debian", []model.Step{
		{Kind: model.StepUser, User: &model.UserStep{Name: "app", System: true, Home: "/opt/app", Shell: "/usr/sbin/nologin", Groups: []string{"video", "render"}}},
	}},
	{"user: plain", "debian", []model.Step{{Kind: model.StepUser, User: &model.UserStep{Name: "alice"}}}},
	{"user on alpine", "alpine", []model.Step{
		{Kind: model.StepUser, User: &model.UserStep{Name: "app", System: true, Home: "/opt/app", Groups: []string{"video"}}},
	}},
	{"download: a file", "debian", []model.Step{
		{Kind: model.StepDownload, Download: &model.DownloadStep{URL: "https://example.org/app-1.2.3", SHA256: strings.Repeat("AB", 32), Dest: "/usr/local/bin/app", Mode: "0755"}},
	}},
	{"download: extract with owner", "debian", []model.Step{
		{Kind: model.StepDownload, Download: &model.DownloadStep{URL: "https://example.org/app.tar.gz", SHA256: strings.Repeat("0f", 32), Dest: "/opt/app", Extract: true, Owner: "app"}},
	}},
	{"run: plain script", "debian", []model.Step{{Kind: model.StepRun, Run: &model.RunStep{Script: "nginx -t"}}}},
	{"run: cwd, env, user, creates, timeout", "debian", []model.Step{
		{Kind: model.StepRun, Run: &model.RunStep{
			Script:  "set -e\nuntil pg_isready -q; do sleep 1; done\npsql -v pass=\"$DB_PASSWORD\" -v host='${params.db_host}' <<'SQL'\nSELECT 1;\nSQL\necho $$ $HOME ${HOME}\n",
			Cwd:     "/opt/app",
			Env:     map[string]string{"DB_PASSWORD": "${params.password}", "MODE": "production"},
			User:    "app",
			Creates: "/opt/app/.done",
			Timeout: 2 * time.Minute,
		}},
	}},
	{"service: enable and restart", "debian", []model.Step{
		{Kind: model.StepService, Service: &model.ServiceStep{Name: "redis-server", Enable: bptr(true), State: "restarted"}},
	}},
	{"service: unit text, enable, start", "debian", []model.Step{
		{Kind: model.StepService, Service: &model.ServiceStep{Name: "app", Enable: bptr(true), State: "started",
			Unit: sptr("[Unit]\nDescription=app\n[Service]\nExecStart=/opt/app/bin/app --listen ${container.ip}:8080\nUser=app\n[Install]\nWantedBy=multi-user.target\n")}},
	}},
	{"service: disable and stop", "debian", []model.Step{
		{Kind: model.StepService, Service: &model.ServiceStep{Name: "apache2", Enable: bptr(false), State: "stopped"}},
	}},
	{"service on alpine", "alpine", []model.Step{
		{Kind: model.StepService, Service: &model.ServiceStep{Name: "redis", Enable: bptr(true), State: "reloaded"}},
	}},
	{"apt_upgrade: named packages", "debian", []model.Step{
		{Kind: model.StepAptUpgrade, Packages: []string{"redis-server", "redis-tools"}},
	}},
	{"apt_upgrade: everything", "debian", []model.Step{{Kind: model.StepAptUpgrade}}},
	{"apt_upgrade on alpine", "alpine", []model.Step{{Kind: model.StepAptUpgrade, Packages: []string{"redis"}}}},
}

var testFiles = fstest.MapFS{
	"files/site.conf": {Data: []byte("server {\n\tlisten 80;\n\tlocation / { try_files $uri $uri/ =404; }\n\t# ${params.password} stays literal: shipped files are not templates\n}\n")},
}

func TestStepOpsGolden(t *testing.T) {
	var b strings.Builder
	b.WriteString("# lxcplan's constant scripts (shortened in the commands below)\n")
	for _, s := range []struct{ name, text string }{
		{"<run script>", runWrapper}, {"<write script>", pushScript}, {"<apt-repo script>", repoScript},
		{"<user script>", userScript}, {"<alpine user script>", alpineUserScript}, {"<alpine group script>", alpineGroupScript}, {"<download script>", downloadScript},
	} {
		fmt.Fprintf(&b, "\n## %s\n%s\n", s.name, s.text)
	}
	for _, tc := range stepCases {
		c, vals := testValues(t, tc.os)
		c.OS = tc.os
		fam, err := osFamily(tc.os)
		if err != nil {
			t.Fatal(err)
		}
		env := &stepEnv{vmid: 100, fam: fam, vals: vals, files: testFiles, st: &state{}}
		fmt.Fprintf(&b, "\n=== %s (%s)\n", tc.name, tc.os)
		for i, s := range tc.steps {
			fmt.Fprintf(&b, "--- step %d: %s\n", i, describe(s))
			ops, err := env.ops(s)
			if err != nil {
				t.Fatalf("%s: step %d: %v", tc.name, i, err)
			}
			renderOps(&b, ops, vals.Redactor())
			for _, op := range ops {
				for _, w := range op.Argv {
					if strings.Contains(w, testSecret) {
						t.Errorf("%s: the secret is in argv: %q", tc.name, op.Argv)
					}
				}
			}
		}
	}
	b.WriteString("\n=== the default file writer (push through pct exec)\n")
	renderOps(&b, []Op{pushOp(&PushSpec{VMID: 100, Dest: "/etc/app.conf", Mode: 0o640, User: "app", Group: "app", Content: []byte("x\n")})}, nil)

	b.WriteString("\n=== health probes\n")
	for _, h := range []*model.Health{
		{TCP: 6379},
		{HTTP: &model.HTTPCheck{Port: 80, Path: "healthz", Status: 200}},
		{Cmd: "redis-cli --no-auth-warning -a '${params.password}' ping | grep -q PONG"},
	} {
		c, vals := testValues(t, "debian")
		c.Loaded = &model.Recipe{Name: "x", Health: h}
		op, err := ProbeOps(c, 100, vals)
		if err != nil {
			t.Fatal(err)
		}
		renderOps(&b, []Op{*op}, vals.Redactor())
	}
	checkGolden(t, "steps.golden", b.String())
}

// TestStepContentCarriesValues checks what the golden file cannot show: the
// masked parts really hold the secret (substitution happened), on stdin
// only.
func TestStepContentCarriesValues(t *testing.T) {
	_, vals := testValues(t, "debian")
	env := &stepEnv{vmid: 100, fam: famDebian, vals: vals, st: &state{}}
	ops, err := env.ops(stepCases[13].steps[0]) // run with env
	if err != nil {
		t.Fatal(err)
	}
	in := string(ops[0].Stdin)
	for _, want := range []string{
		"export DB_PASSWORD=" + transport.QuoteArg(testSecret),
		"export LXCPLAN_PARAM_PASSWORD=" + transport.QuoteArg(testSecret),
		"export LXCPLAN_PARAM_DB_HOST=10.20.0.50",
		"export LXCPLAN_CONTAINER_IP=10.77.0.200",
		"cd /opt/app\n",
		"-v host='10.20.0.50'",
		"echo $ $HOME ${HOME}",
	} {
		if !strings.Contains(in, want) {
			t.Errorf("run stdin lacks %q:\n%s", want, in)
		}
	}
	ops, err = env.ops(stepCases[4].steps[0]) // file with a secret
	if err != nil {
		t.Fatal(err)
	}
	if ps := ops[0].Push; ps == nil || !strings.Contains(string(ps.Content), "requirepass "+testSecret+"\n") || ps.Mode != 0o600 || !ps.Secret {
		t.Errorf("file push = %+v", ops[0].Push)
	}
}

func TestStepErrors(t *testing.T) {
	tests := []struct {
		name, os string
		step     model.Step
		want     string
	}{
		{"package looks like an option", "debian", model.Step{Kind: model.StepApt, Packages: []string{"-oAPT::x=1"}}, "invalid package name"},
		{"apt_repo on alpine", "alpine", model.Step{Kind: model.StepAptRepo, AptRepo: &model.AptRepoStep{Name: "x", URI: "https://x", Suite: "s"}}, "not supported on alpine"},
		{"apt_repo suite with a newline", "debian", model.Step{Kind: model.StepAptRepo, AptRepo: &model.AptRepoStep{Name: "x", URI: "https://x", Suite: "s\nSigned-By: /x"}}, "suite"},
		{"apt_repo key over ftp", "debian", model.Step{Kind: model.StepAptRepo, AptRepo: &model.AptRepoStep{Name: "x", URI: "https://x", Suite: "s", KeyURL: "ftp://x"}}, "key_url"},
		{"file: relative path", "debian", model.Step{Kind: model.StepFile, File: &model.FileStep{Path: "etc/x", HasContent: true}}, "absolute path"},
		{"file: bad mode", "debian", model.Step{Kind: model.StepFile, File: &model.FileStep{Path: "/x", HasContent: true, Mode: "rw-r--r--"}}, "octal"},
		{"file: setuid", "debian", model.Step{Kind: model.StepFile, File: &model.FileStep{Path: "/x", HasContent: true, Mode: "4755"}}, "setuid"},
		{"file: unknown reference", "debian", model.Step{Kind: model.StepFile, File: &model.FileStep{Path: "/x", HasContent: true, Content: "${params.nope}"}}, "${params.nope}"},
		{"file: source escapes", "debian", model.Step{Kind: model.StepFile, File: &model.FileStep{Path: "/x", Source: "../secret"}}, "escapes"},
		{"file: source missing", "debian", model.Step{Kind: model.StepFile, File: &model.FileStep{Path: "/x", Source: "files/none"}}, "files/none"},
		{"file: owner with a colon", "debian", model.Step{Kind: model.StepFile, File: &model.FileStep{Path: "/x", HasContent: true, Owner: "a:b"}}, "owner"},
		{"user: bad name", "debian", model.Step{Kind: model.StepUser, User: &model.UserStep{Name: "-r"}}, "invalid user name"},
		{"download: bad sum", "debian", model.Step{Kind: model.StepDownload, Download: &model.DownloadStep{URL: "https://x/y", SHA256: "abc", Dest: "/y"}}, "sha256"},
		{"download: file url", "debian", model.Step{Kind: model.StepDownload, Download: &model.DownloadStep{URL: "file:///etc/shadow", SHA256: strings.Repeat("a", 64), Dest: "/y"}}, "http(s)"},
		{"run: bad env name", "debian", model.Step{Kind: model.StepRun, Run: &model.RunStep{Script: "true", Env: map[string]string{"A-B": "1"}}}, "environment variable"},
		{"run: user on alpine", "alpine", model.Step{Kind: model.StepRun, Run: &model.RunStep{Script: "true", User: "app"}}, "alpine"},
		{"run: unknown reference", "debian", model.Step{Kind: model.StepRun, Run: &model.RunStep{Script: "echo ${containers.cache.ip}"}}, "${containers.cache.ip}"},
		{"service: bad state", "debian", model.Step{Kind: model.StepService, Service: &model.ServiceStep{Name: "x", State: "exploded"}}, "state"},
		{"service: unit on alpine", "alpine", model.Step{Kind: model.StepService, Service: &model.ServiceStep{Name: "x", Unit: sptr("[Unit]")}}, "OpenRC"},
		{"service: name with a space", "debian", model.Step{Kind: model.StepService, Service: &model.ServiceStep{Name: "a b"}}, "invalid service name"},
		{"unknown kind", "debian", model.Step{Kind: "teleport"}, "unknown step kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, vals := testValues(t, tt.os)
			fam, _ := osFamily(tt.os)
			env := &stepEnv{vmid: 100, fam: fam, vals: vals, files: testFiles, st: &state{}}
			_, err := env.ops(tt.step)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := osFamily("fedora"); err == nil {
		t.Error("fedora: want an error")
	}
}

// FuzzStepOps feeds arbitrary recipe text to every step kind: translation
// never panics, and the displayed form of what it builds never shows the
// secret, whatever the recipe does with it.
func FuzzStepOps(f *testing.F) {
	f.Add(uint8(0), "redis-server", "/etc/x", "${params.password}")
	f.Add(uint8(2), "-rf", "../x", "$$${params.password}")
	f.Add(uint8(3), "app", "/opt/${params.password}", "echo ${params.user}")
	f.Add(uint8(5), "https://x/${params.password}", "/opt/app", "0755")
	f.Add(uint8(6), "svc", "[Unit]\n${params.password}", "restarted")
	_, vals := testValues(f, "debian")
	red := vals.Redactor()
	f.Fuzz(func(t *testing.T, kind uint8, a, b, c string) {
		var s model.Step
		switch kind % 8 {
		case 0:
			s = model.Step{Kind: model.StepApt, Packages: []string{a, b}}
		case 1:
			s = model.Step{Kind: model.StepAptRepo, AptRepo: &model.AptRepoStep{Name: a, URI: b, Suite: c, KeyURL: b, Components: []string{c}}}
		case 2:
			s = model.Step{Kind: model.StepFile, File: &model.FileStep{Path: b, Content: c, HasContent: true, Mode: a, Owner: a}}
		case 3:
			s = model.Step{Kind: model.StepUser, User: &model.UserStep{Name: a, Home: b, Shell: c, Groups: []string{a}}}
		case 4:
			s = model.Step{Kind: model.StepRun, Run: &model.RunStep{Script: c, Cwd: b, User: a, Creates: b, Env: map[string]string{"K": c, a: b}}}
		case 5:
			s = model.Step{Kind: model.StepDownload, Download: &model.DownloadStep{URL: a, SHA256: strings.Repeat("a", 64), Dest: b, Mode: c, Owner: c}}
		case 6:
			s = model.Step{Kind: model.StepService, Service: &model.ServiceStep{Name: a, Unit: &b, State: c, Enable: bptr(len(c)%2 == 0)}}
		case 7:
			s = model.Step{Kind: model.StepAptUpgrade, Packages: []string{a}}
		}
		fam := famDebian
		if kind >= 128 {
			fam = famAlpine
		}
		env := &stepEnv{vmid: 100, fam: fam, vals: vals, files: testFiles, st: &state{}}
		ops, err := env.ops(s)
		if err != nil {
			return
		}
		for _, op := range ops {
			if op.Push != nil {
				op = pushOp(op.Push)
			}
			shown := display(transport.Command{Argv: op.Argv, Redact: vals.Redact()}) + red.String(string(op.Stdin))
			if strings.Contains(shown, testSecret) {
				t.Fatalf("secret shown: %s", shown)
			}
			if err := (transport.Command{Argv: op.Argv}).Validate(); err != nil && !strings.ContainsRune(a+b+c, 0) {
				t.Fatalf("invalid command without NUL input: %v", err)
			}
		}
	})
}
