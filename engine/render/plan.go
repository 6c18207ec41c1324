package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/lxcplan/lxcplan/engine/diag"
	"github.com/lxcplan/lxcplan/engine/plan"
)

// The plan views read only the plan document (*plan.Plan as decoded from
// its JSON), never the differ's internal state: a saved plan file renders
// exactly like the plan that was just computed (style.md rule 6).

// PlanTextOptions tune PlanText.
type PlanTextOptions struct {
	// Color enables ANSI colour on the action symbols and words; the
	// command sets it only for a terminal without NO_COLOR.
	Color bool
}

// actionLook is how an action is shown: its symbol, and the ANSI colour of
// the symbol and word.
type actionLook struct {
	symbol string
	color  string
}

var looks = map[plan.Action]actionLook{
	plan.ActionCreate:        {"+", "32"},
	plan.ActionUpdate:        {"~", "33"},
	plan.ActionUpdateRestart: {"~", "33"},
	plan.ActionMigrate:       {"->", "36"},
	plan.ActionReprovision:   {"~", "35"},
	plan.ActionUpgrade:       {"~", "35"},
	plan.ActionReplace:       {"-/+", "31"},
	plan.ActionDestroy:       {"-", "31"},
	plan.ActionNoOp:          {" ", ""},
}

// unknownLook marks a container whose state could not be observed.
var unknownLook = actionLook{"?", "1;33"}

// SummaryCounts folds the nine actions into the five parts of the summary
// sentence: update-restart and migrate are changes in place, so they count
// as updates; upgrade runs recipe steps in the container like reprovision,
// so it counts as a reprovision. The per-change headers name the exact
// action.
type SummaryCounts struct {
	Create, Update, Reprovision, Replace, Destroy int
}

// Counts returns the summary sentence's counts of a plan document.
func Counts(s plan.Summary) SummaryCounts {
	return SummaryCounts{
		Create:      s.Create,
		Update:      s.Update + s.UpdateRestart + s.Migrate,
		Reprovision: s.Reprovision + s.Upgrade,
		Replace:     s.Replace,
		Destroy:     s.Destroy,
	}
}

// SummaryLine is the last line of a text plan: the five-part count sentence,
// or the no-changes sentence when nothing is planned and nothing is unknown.
func SummaryLine(p *plan.Plan) string {
	if !p.HasChanges() && unknownCount(p) == 0 {
		return "No changes. The stack matches the hosts."
	}
	c := Counts(p.Summary)
	return fmt.Sprintf("Plan: %d to create, %d to update, %d to reprovision, %d to replace, %d to destroy.",
		c.Create, c.Update, c.Reprovision, c.Replace, c.Destroy)
}

func unknownCount(p *plan.Plan) int {
	n := 0
	for _, c := range p.Changes {
		if c.Unknown {
			n++
		}
	}
	return n
}

// shown reports whether a change appears in the per-change listings: every
// change except a known no-op.
func shown(c *plan.Change) bool { return c.Unknown || c.Action != plan.ActionNoOp }

func lookOf(c *plan.Change) (actionLook, string) {
	if c.Unknown {
		return unknownLook, "unknown"
	}
	l, ok := looks[c.Action]
	if !ok {
		l = actionLook{"?", ""}
	}
	return l, string(c.Action)
}

// where is the location part of a change header: host, node when it is
// not the host's own name, vmid when known, target of a migrate.
func where(c *plan.Change) string {
	var parts []string
	if c.Host != "" {
		parts = append(parts, "host "+c.Host)
	}
	if c.Node != "" && c.Node != c.Host {
		parts = append(parts, "node "+c.Node)
	}
	if c.VMID != 0 {
		parts = append(parts, "vmid "+strconv.Itoa(c.VMID))
	} else if c.Action == plan.ActionCreate {
		parts = append(parts, "vmid allocated at apply")
	}
	if c.TargetNode != "" {
		parts = append(parts, "to node "+c.TargetNode)
	}
	return strings.Join(parts, ", ")
}

// fieldValue is a field's side as shown: "(secret)" for secrets whatever
// the document holds, "(none)" when absent.
func fieldValue(f plan.Field, v *string) string {
	switch {
	case v == nil:
		return "(none)"
	case f.Secret:
		return plan.SecretText
	case *v == "":
		return `""`
	}
	return *v
}

// fieldLines are a change's field diffs, aligned: "+ path = after",
// "- path = before" or "~ path = before → after", drift labelled.
func fieldLines(fs []plan.Field) []string {
	width := 0
	for _, f := range fs {
		width = max(width, len(f.Path))
	}
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		var line string
		switch {
		case f.Before == nil:
			line = fmt.Sprintf("+ %-*s = %s", width, f.Path, fieldValue(f, f.After))
		case f.After == nil:
			line = fmt.Sprintf("- %-*s = %s", width, f.Path, fieldValue(f, f.Before))
		default:
			line = fmt.Sprintf("~ %-*s = %s → %s", width, f.Path, fieldValue(f, f.Before), fieldValue(f, f.After))
		}
		if f.Drift {
			line += "   (drift: changed by hand)"
		}
		out = append(out, line)
	}
	return out
}

// stepLine numbers steps from 1, as the reasons do (the document's Index
// is 0-based).
func stepLine(s plan.Step) string {
	return fmt.Sprintf("%s step %d: %s", s.Phase, s.Index+1, s.Description)
}

func templateLine(t *plan.Template) string {
	name := t.VolID
	if name == "" {
		name = fmt.Sprintf("%s %s (%s) on %s", t.OS, t.Version, t.Arch, t.Storage)
	}
	switch t.Status {
	case "present":
		return name + " (on the host)"
	case "download":
		return name + " (downloaded by apply)"
	case "unknown":
		return name + " (downloaded if available)"
	case "unavailable":
		return name + " (NOT AVAILABLE)"
	}
	return name
}

// PlanText writes the human rendering of a plan document: one block per
// change (symbol, action word, container, location, reason, rollback
// method, field diffs, steps), the diagnostics, and the summary line.
func PlanText(w io.Writer, p *plan.Plan, opts PlanTextOptions) error {
	ew := &errWriter{w: w}
	paint := func(code, s string) string {
		if !opts.Color || code == "" {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	bold := func(s string) string { return paint("1", s) }

	var changes []*plan.Change
	for _, c := range p.Changes {
		if shown(c) {
			changes = append(changes, c)
		}
	}
	if len(changes) > 0 {
		ew.printf("lxcplan will change stack %s as follows:\n", p.Stack)
		// One symbol column for every plan ("-/+" is the widest), so
		// plans line up when compared side by side.
		const symWidth = 3
		for _, c := range changes {
			l, word := lookOf(c)
			ew.printf("\n%s %s\n", paint(l.color, fmt.Sprintf("%*s %s", symWidth, l.symbol, word)),
				bold(c.Container)+headerTail(c))
			ind := strings.Repeat(" ", symWidth+1)
			ew.printf("%s  reason:   %s\n", ind, c.Reason)
			if !c.Unknown {
				ew.printf("%s  rollback: %s\n", ind, c.Rollback)
			}
			if c.Template != nil {
				ew.printf("%s  template: %s\n", ind, templateLine(c.Template))
			}
			if len(c.DependsOn) > 0 && (c.Action == plan.ActionCreate || c.Action == plan.ActionReplace) {
				ew.printf("%s  after:    %s\n", ind, strings.Join(c.DependsOn, ", "))
			}
			if lines := fieldLines(c.Fields); len(lines) > 0 {
				ew.printf("\n")
				for _, ln := range lines {
					ew.printf("%s    %s\n", ind, ln)
				}
			}
			if len(c.Steps) > 0 {
				ew.printf("\n%s  steps that will run:\n", ind)
				for _, s := range c.Steps {
					ew.printf("%s    %s\n", ind, stepLine(s))
				}
			}
		}
		ew.printf("\n")
	}
	if len(p.Diagnostics) > 0 {
		for _, d := range p.Diags() {
			label := paint("1;31", "Error:")
			if d.Severity == diag.SevWarning {
				label = paint("1;33", "Warning:")
			}
			d.Severity = diag.SevError // the label says it; Error() would repeat "warning:"
			ew.printf("%s %s\n", label, d.Error())
			if d.Detail != "" {
				ew.printf("    %s\n", d.Detail)
			}
		}
		ew.printf("\n")
	}
	ew.printf("%s\n", bold(SummaryLine(p)))
	if n := unknownCount(p); n > 0 {
		ew.printf("%d %s could not be observed: the plan is incomplete.\n", n, plural(n, "container", "containers"))
	}
	if errs := errorCount(p); errs > 0 {
		ew.printf("%d %s: this plan cannot be applied.\n", errs, plural(errs, "error", "errors"))
	}
	return ew.err
}

func headerTail(c *plan.Change) string {
	var tags []string
	if c.Drift {
		tags = append(tags, "drift")
	}
	if c.Destructive {
		tags = append(tags, "destructive")
	}
	if c.Restart {
		tags = append(tags, "restarts")
	}
	s := ""
	if w := where(c); w != "" {
		s = "  (" + w + ")"
	}
	if len(tags) > 0 {
		s += "  [" + strings.Join(tags, ", ") + "]"
	}
	return s
}

func errorCount(p *plan.Plan) int {
	n := 0
	for _, d := range p.Diagnostics {
		if d.Severity == "error" {
			n++
		}
	}
	return n
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// PlanJSON writes the plan document itself (the same bytes as a plan file).
func PlanJSON(w io.Writer, p *plan.Plan) error { return p.WriteJSON(w) }

// PlanMarkdown writes a plan as a pull-request comment: a title, the
// summary sentence, a table of counts per action, a table of the changes,
// one collapsible block per changed container with its field diffs in a
// fenced diff block, and the diagnostics.
func PlanMarkdown(w io.Writer, p *plan.Plan) error {
	ew := &errWriter{w: w}
	ew.printf("### lxcplan plan: stack `%s`\n\n", mdCode(p.Stack))
	ew.printf("**%s**\n\n", SummaryLine(p))
	if errs := errorCount(p); errs > 0 {
		ew.printf("> [!CAUTION]\n> %d %s: this plan cannot be applied. See the diagnostics below.\n\n", errs, plural(errs, "error", "errors"))
	} else if p.Destructive {
		ew.printf("> [!WARNING]\n> This plan destroys or replaces containers (their data is lost).\n\n")
	}

	counts := []struct {
		a plan.Action
		n int
	}{
		{plan.ActionCreate, p.Summary.Create}, {plan.ActionUpdate, p.Summary.Update},
		{plan.ActionUpdateRestart, p.Summary.UpdateRestart}, {plan.ActionMigrate, p.Summary.Migrate},
		{plan.ActionReprovision, p.Summary.Reprovision}, {plan.ActionUpgrade, p.Summary.Upgrade},
		{plan.ActionReplace, p.Summary.Replace}, {plan.ActionDestroy, p.Summary.Destroy},
		{plan.ActionNoOp, p.Summary.NoOp},
	}
	ew.printf("| action | count |\n| --- | ---: |\n")
	for _, c := range counts {
		ew.printf("| %s | %d |\n", c.a, c.n)
	}
	if n := unknownCount(p); n > 0 {
		ew.printf("| unknown | %d |\n", n)
	}
	ew.printf("\n")

	var changes []*plan.Change
	for _, c := range p.Changes {
		if shown(c) {
			changes = append(changes, c)
		}
	}
	if len(changes) > 0 {
		ew.printf("| container | action | host | reason |\n| --- | --- | --- | --- |\n")
		for _, c := range changes {
			l, word := lookOf(c)
			ew.printf("| `%s` | `%s` %s | %s | %s |\n", mdCode(c.Container), l.symbol, word, mdCell(hostCell(c)), mdCell(c.Reason))
		}
		ew.printf("\n")
		for _, c := range changes {
			l, word := lookOf(c)
			ew.printf("<details><summary><code>%s</code>: %s %s</summary>\n\n", htmlEscape(c.Container), htmlEscape(l.symbol), word)
			var body []string
			body = append(body, "# reason:   "+c.Reason)
			if !c.Unknown {
				body = append(body, "# rollback: "+string(c.Rollback))
			}
			if c.Template != nil {
				body = append(body, "# template: "+templateLine(c.Template))
			}
			body = append(body, diffLines(c.Fields)...)
			for _, s := range c.Steps {
				body = append(body, "# "+stepLine(s))
			}
			text := strings.Join(body, "\n")
			fence := mdFence(text)
			ew.printf("%sdiff\n%s\n%s\n\n</details>\n\n", fence, text, fence)
		}
	}
	if len(p.Diagnostics) > 0 {
		ew.printf("#### Diagnostics\n\n")
		for _, d := range p.Diags() {
			sev := d.Severity.String()
			d.Severity = diag.SevError // sev says it once
			ew.printf("- **%s** %s\n", sev, mdCell(d.Error()))
			if d.Detail != "" {
				ew.printf("  <br>%s\n", mdCell(d.Detail))
			}
		}
		ew.printf("\n")
	}
	return ew.err
}

// hostCell is the host column of the Markdown table: the host, its vmid,
// and where a migrate goes.
func hostCell(c *plan.Change) string {
	s := c.Host
	if s == "" {
		s = c.Node
	}
	if c.VMID != 0 {
		s += fmt.Sprintf(" (%d)", c.VMID)
	}
	if c.TargetNode != "" {
		s += " → " + c.TargetNode
	}
	return s
}

// diffLines are fieldLines for a fenced "diff" block, where only "-" and
// "+" lines are highlighted: a changed value becomes a "-" and a "+" line.
func diffLines(fs []plan.Field) []string {
	width := 0
	for _, f := range fs {
		width = max(width, len(f.Path))
	}
	var out []string
	for _, f := range fs {
		drift := ""
		if f.Drift {
			drift = "   (drift: changed by hand)"
		}
		if f.Before != nil {
			out = append(out, fmt.Sprintf("- %-*s = %s%s", width, f.Path, fieldValue(f, f.Before), drift))
		}
		if f.After != nil {
			out = append(out, fmt.Sprintf("+ %-*s = %s", width, f.Path, fieldValue(f, f.After)))
		}
	}
	return out
}

// mdCell makes text safe inside a table cell: no pipes or newlines.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// mdCode makes text safe inside `code` spans.
func mdCode(s string) string {
	return strings.ReplaceAll(mdCell(s), "`", "'")
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

func htmlEscape(s string) string { return htmlEscaper.Replace(s) }

// mdFence returns a backtick fence longer than any backtick run in text, so
// no value can close the block early.
func mdFence(text string) string {
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// errWriter keeps the first write error so the views read linearly.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, args...)
}
