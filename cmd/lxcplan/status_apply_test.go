package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lxcplan/lxcplan/engine/exec"
	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/engine/render"
	"github.com/lxcplan/lxcplan/engine/secrets"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// TestProgressAndStatusAfterApply runs the real executor against simulated
// nodes with the progress adapter as its observer, then reads the result
// back with status and outputs: the adapter's phases match what the
// executor emits, and what apply leaves (markers, learned addresses,
// secrets) is what status and outputs read — no drift, every container
// healthy, no secret in any stream.
func TestProgressAndStatusAfterApply(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	c, hosts, known := simCluster(t)
	dir := t.TempDir()
	runners := map[string]transport.Runner{}
	reg := secrets.NewRegistry()
	for _, name := range []string{"pve1", "pve2"} {
		n, _ := c.Node(name)
		runners[name] = transport.Chain(simRunner(n), reg.Middleware())
	}
	stack := filepath.Join(dir, "stack.yaml")
	knownHosts := filepath.Join(dir, "known_hosts")
	text := fmt.Sprintf(`apiVersion: lxcplan/v1
kind: Stack
name: shop
hosts:
%sdefaults:
  storage: local-lvm
  template_storage: local
  network: {bridge: vmbr0}
containers:
  db: {recipe: ./app.yaml, host: pve1}
  cache: {recipe: ./app.yaml, host: pve2}
  web:
    recipe: ./web.yaml
    host: pve1
    depends_on: {db: {condition: healthy}}
    params: {db_host: "${containers.db.ip}", db_password: "${containers.db.outputs.password}"}
`, hosts)
	for p, s := range map[string]string{stack: text, filepath.Join(dir, "app.yaml"): statusAppRecipe,
		filepath.Join(dir, "web.yaml"): strings.Replace(statusWebRecipe, "tcp: 8080", "cmd: \"true\"", 1), knownHosts: known} {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	o := manifest.Options{Env: map[string]string{}, UserDefaultsFile: "-"}
	st, ds := manifest.LoadStackFile(stack, o)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	d, ds := manifest.Resolve(st, o)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}

	var progress bytes.Buffer
	pv := newProgressView(&progress, &progress, false, true, reg)
	_, res, err := exec.RunApply(context.Background(), d, runners, exec.RunOptions{
		Options: exec.Options{JournalDir: t.TempDir(), Secrets: reg, Backoff: time.Millisecond, AddressTimeout: 5 * time.Second,
			Sleep:    func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
			Observer: func(ev exec.Event) { pv.Event(progressEvent(ev, reg)) }},
		LockTimeout: -1,
	})
	if err := pv.Close(); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, progress.String())
	}
	var summary bytes.Buffer
	if err := render.Summary(&summary, summaryRows(res), render.SummaryOptions{Redact: reg.String}); err != nil {
		t.Fatal(err)
	}

	// Each container's last progress line is its final phase.
	for _, name := range []string{"db", "cache", "web"} {
		re := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d pve\d 1\d\d ` + name + `  (\S+)`)
		ms := re.FindAllStringSubmatch(progress.String(), -1)
		if len(ms) == 0 || !finalPhases[ms[len(ms)-1][1]] {
			t.Errorf("%s: last phase %v is not final:\n%s", name, ms, progress.String())
		}
	}
	if !regexp.MustCompile(`(?m)^db\s+pve1\s+1\d\d\s+ok\s+10\.77\.0\.\d+\s+\S+\s+url=http://10\.77\.0\.\d+/$`).MatchString(summary.String()) ||
		!strings.Contains(summary.String(), "password=(secret)") || !strings.Contains(summary.String(), "db_url=(secret)") {
		t.Errorf("summary:\n%s", summary.String())
	}

	run := func(args ...string) (int, string, string) {
		var out, errOut lockedBuffer
		code := run(append([]string{"lxcplan", "--known-hosts", knownHosts}, args...), strings.NewReader(""), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, errOut := run("status", stack)
	if code != 0 {
		t.Fatalf("status: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, name := range []string{"db", "cache", "web"} {
		if !regexp.MustCompile(`(?m)^` + name + `\s+pve\d\s+pve\d\s+1\d\d\s+running\s+10\.77\.0\.\d+\s+healthy\s+no$`).MatchString(out) {
			t.Errorf("status of %s after apply:\n%s", name, out)
		}
	}
	code, outs, errOuts := run("outputs", stack)
	if code != 0 || !strings.Contains(outs, "db_url = (secret)") {
		t.Errorf("outputs: exit %d\n%s\n%s", code, outs, errOuts)
	}
	code, revealed, _ := run("outputs", "--reveal", stack, "db")
	if code != 0 || strings.Contains(revealed, "(secret)") {
		t.Errorf("outputs --reveal: exit %d\n%s", code, revealed)
	}

	// Every secret the cluster holds, and none of it in any stream but
	// the revealed one.
	files, _ := filepath.Glob(filepath.Join(c.Dir, "priv", "lxcplan", "shop", "*"))
	if len(files) < 2 {
		t.Fatalf("secrets on the cluster: %v", files)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		v := strings.TrimSpace(string(b))
		for what, s := range map[string]string{"progress": progress.String(), "summary": summary.String(), "status": out + errOut,
			"outputs": outs + errOuts} {
			if strings.Contains(s, v) {
				t.Errorf("secret %s in %s:\n%s", filepath.Base(f), what, s)
			}
		}
		if strings.HasSuffix(f, "db.password") && !strings.Contains(revealed, v) {
			t.Errorf("--reveal does not show db's password:\n%s", revealed)
		}
	}
}
