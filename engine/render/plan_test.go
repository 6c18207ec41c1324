package render_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/plan"
	"github.com/lxcplan/lxcplan/engine/render"
)

// readPlanDoc decodes testdata/plan/NAME.json the way `apply PLANFILE`
// does: the views only ever see the document.
func readPlanDoc(t testing.TB, name string) *plan.Plan {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "plan", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := plan.ReadPlan(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

var planDocs = []string{"create", "destroy", "drift", "interrupted-create", "migrate", "mixed", "no-changes",
	"preflight", "replace-template", "reprovision", "unreachable", "upgrade", "vmid-taken"}

func TestPlanViewsGolden(t *testing.T) {
	for _, name := range planDocs {
		t.Run(name, func(t *testing.T) {
			p := readPlanDoc(t, name)
			var txt, md bytes.Buffer
			if err := render.PlanText(&txt, p, render.PlanTextOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := render.PlanMarkdown(&md, p); err != nil {
				t.Fatal(err)
			}
			configGolden(t, "plan_"+name+".txt", txt.Bytes())
			configGolden(t, "plan_"+name+".md", md.Bytes())
			if strings.Contains(txt.String(), "\x1b[") {
				t.Error("colour without PlanTextOptions.Color")
			}
		})
	}
}

func TestPlanTextSummaryLine(t *testing.T) {
	tests := []struct {
		doc, want string
	}{
		{"create", "Plan: 2 to create, 0 to update, 0 to reprovision, 0 to replace, 0 to destroy."},
		{"no-changes", "No changes. The stack matches the hosts."},
		// update-restart and migrate count as updates, upgrade as a reprovision.
		{"mixed", "Plan: 0 to create, 3 to update, 1 to reprovision, 0 to replace, 1 to destroy."},
		{"interrupted-create", "Plan: 0 to create, 0 to update, 0 to reprovision, 1 to replace, 0 to destroy."},
		// Nothing to do, but a container could not be observed: not "No changes".
		{"unreachable", "Plan: 0 to create, 0 to update, 0 to reprovision, 0 to replace, 0 to destroy."},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			p := readPlanDoc(t, tt.doc)
			if got := render.SummaryLine(p); got != tt.want {
				t.Errorf("SummaryLine = %q, want %q", got, tt.want)
			}
			var b bytes.Buffer
			if err := render.PlanText(&b, p, render.PlanTextOptions{}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tt.want+"\n") {
				t.Errorf("text lacks the summary line %q:\n%s", tt.want, b.String())
			}
		})
	}
}

func TestPlanTextSymbols(t *testing.T) {
	p := readPlanDoc(t, "mixed")
	var b bytes.Buffer
	if err := render.PlanText(&b, p, render.PlanTextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"  ~ update-restart dns", "  ~ update app|1", " -> migrate web", "  ~ upgrade cache", "  - destroy old", "  ? unknown media",
		"~ params.token = (secret) → (secret)",
		"~ memory       = 4096 → 512   (drift: changed by hand)",
		"+ timezone     = Europe/Paris",
		"- searchdomain = lan",
		"update step 1: upgrade packages redis-server",
		"rollback: migrate-back",
		"[drift]", "[destructive]", "[restarts]",
		"Warning: pve1: container old (125) is protected",
		"Error: stack.yaml:4:3: containers.app.vmid: a | pipe in a message",
		"2 errors: this plan cannot be applied.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "db") {
		t.Errorf("a no-op container is listed:\n%s", out)
	}
	b.Reset()
	if err := render.PlanText(&b, p, render.PlanTextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\x1b[31m  - destroy\x1b[0m") {
		t.Errorf("colour: destroy not red:\n%q", b.String())
	}
}

// TestPlanTextReplaceSymbol checks the two-part symbol and its alignment.
func TestPlanTextReplaceSymbol(t *testing.T) {
	var b bytes.Buffer
	if err := render.PlanText(&b, readPlanDoc(t, "replace-template"), render.PlanTextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\n-/+ replace db") {
		t.Errorf("no replace header:\n%s", b.String())
	}
}

func TestPlanMarkdownSafe(t *testing.T) {
	var b bytes.Buffer
	if err := render.PlanMarkdown(&b, readPlanDoc(t, "mixed")); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| container | action | host | reason |",
		"| `app\\|1` |",
		"<details><summary><code>app|1</code>: ~ update</summary>",
		"````diff\n", // a value holds ``` so the fence is longer
		"| update-restart | 1 |",
		"| unknown | 1 |",
		"- **error** stack.yaml:4:3: containers.app.vmid: a \\| pipe in a message",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "<details>") != strings.Count(out, "</details>") {
		t.Error("unbalanced <details>")
	}
}

func TestPlanJSONIsTheDocument(t *testing.T) {
	p := readPlanDoc(t, "drift")
	var a, b bytes.Buffer
	if err := render.PlanJSON(&a, p); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("PlanJSON differs from the document")
	}
	back, err := plan.ReadPlan(&a)
	if err != nil {
		t.Fatal(err)
	}
	var t1, t2 bytes.Buffer
	render.PlanText(&t1, p, render.PlanTextOptions{})
	render.PlanText(&t2, back, render.PlanTextOptions{})
	if t1.String() != t2.String() {
		t.Error("a plan read back from its JSON renders differently")
	}
}

// FuzzPlanViews: any document ReadPlan accepts renders without panicking.
func FuzzPlanViews(f *testing.F) {
	for _, name := range planDocs {
		b, err := os.ReadFile(filepath.Join("testdata", "plan", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := plan.ReadPlan(bytes.NewReader(b))
		if err != nil {
			return
		}
		var out bytes.Buffer
		_ = render.PlanText(&out, p, render.PlanTextOptions{Color: true})
		_ = render.PlanMarkdown(&out, p)
	})
}

// BenchmarkPlanText renders a plan of 1,000 creates (the size of the
// inventory benchmark's stack).
func BenchmarkPlanText(b *testing.B) {
	one := readPlanDoc(b, "create").Changes[0]
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Stack: "big"}
	for i := 0; i < 1000; i++ {
		c := *one
		c.Container = "ct" + strings.Repeat("x", i%7) + string(rune('a'+i%26))
		c.VMID = 1000 + i
		p.Changes = append(p.Changes, &c)
		p.Summary.Create++
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var out bytes.Buffer
		if err := render.PlanText(&out, p, render.PlanTextOptions{}); err != nil {
			b.Fatal(err)
		}
		out.Reset()
		if err := render.PlanMarkdown(&out, p); err != nil {
			b.Fatal(err)
		}
	}
}
