package render

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lxcplan/lxcplan/engine/plan"
)

// SecretText is how a secret output is shown unless the user asks to
// reveal it (the plan's marker for secrets, plan.SecretText).
const SecretText = plan.SecretText

// SummaryRow is one container in the end-of-apply summary. The command fills
// it from the executor's result, so this package does not depend on it.
type SummaryRow struct {
	Container string
	Host      string
	VMID      int
	// Status is the container's outcome word: ok, unchanged, failed,
	// skipped, destroyed, rolled back.
	Status string
	IP     string
	// Outputs are the recipe outputs; Secret ones are always shown as
	// SecretText.
	Outputs  []SummaryOutput
	Duration time.Duration
}

// SummaryOutput is one recipe output.
type SummaryOutput struct {
	Name   string
	Value  string
	Secret bool
}

// SummaryOptions tune Summary.
type SummaryOptions struct {
	// Color paints failed rows red and finished ones green.
	Color bool
	// Redact masks secrets a non-secret output might still carry (a value
	// that happens to contain a registered secret); nil writes as is.
	Redact func(string) string
}

// sortOutputs puts the outputs people look for first (url, then other
// addresses) and the rest by name: the summary's OUTPUTS column leads with
// what to open in a browser.
func sortOutputs(outs []SummaryOutput) []SummaryOutput {
	o := append([]SummaryOutput(nil), outs...)
	rank := func(n string) int {
		switch {
		case n == "url":
			return 0
		case strings.HasSuffix(n, "url"):
			return 1
		}
		return 2
	}
	sort.SliceStable(o, func(i, j int) bool {
		if ri, rj := rank(o[i].Name), rank(o[j].Name); ri != rj {
			return ri < rj
		}
		return o[i].Name < o[j].Name
	})
	return o
}

func (o SummaryOutput) shown(redact func(string) string) string {
	if o.Secret {
		return o.Name + "=" + SecretText
	}
	v := o.Value
	if redact != nil {
		v = redact(v)
	}
	return o.Name + "=" + oneLineText(v)
}

// oneLineText keeps a table cell on one line.
func oneLineText(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// Summary writes the end-of-apply table: container, host, vmid, status, IP,
// time taken and the outputs, one output per line (secret ones as
// "(secret)"). Rows are sorted by container name. Nothing is written for no
// rows.
func Summary(w io.Writer, rows []SummaryRow, opts SummaryOptions) error {
	if len(rows) == 0 {
		return nil
	}
	rs := append([]SummaryRow(nil), rows...)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Container < rs[j].Container })
	if opts.Color {
		return summaryColored(w, rs, opts)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER\tHOST\tVMID\tSTATUS\tIP\tTIME\tOUTPUTS")
	for _, r := range rs {
		outs := sortOutputs(r.Outputs)
		first := "-"
		if len(outs) > 0 {
			first = outs[0].shown(opts.Redact)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", oneLineText(r.Container), dash(r.Host), vmidText(r.VMID),
			dash(r.Status), dash(r.IP), Elapsed(r.Duration), first)
		for _, o := range outs[min(1, len(outs)):] {
			fmt.Fprintf(tw, "\t\t\t\t\t\t%s\n", o.shown(opts.Redact))
		}
	}
	return tw.Flush()
}

// summaryColored renders the table into memory and paints whole lines.
func summaryColored(w io.Writer, rs []SummaryRow, opts SummaryOptions) error {
	var b strings.Builder
	plain := opts
	plain.Color = false
	if err := Summary(&b, rs, plain); err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	// Line 0 is the header; then each row's first line, followed by its
	// output continuation lines (which stay uncoloured).
	var out strings.Builder
	out.WriteString(lines[0] + "\n")
	i := 1
	for _, r := range rs {
		n := max(1, len(r.Outputs))
		for k := 0; k < n && i < len(lines); k++ {
			l := lines[i]
			if c := statusColor(r.Status); c != "" && k == 0 {
				l = "\x1b[" + c + "m" + l + "\x1b[0m"
			}
			out.WriteString(l + "\n")
			i++
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}

func statusColor(status string) string {
	switch status {
	case "failed", "undo failed":
		return "31"
	case "ok", "destroyed":
		return "32"
	case "skipped", "rolled back":
		return "33"
	}
	return ""
}

// summaryJSON is the summary in --log-format json: one line, after the
// events.
type summaryJSON struct {
	Type       string                 `json:"type"`
	Containers []summaryJSONContainer `json:"containers"`
}

type summaryJSONContainer struct {
	Container string            `json:"container"`
	Host      string            `json:"host,omitempty"`
	VMID      int               `json:"vmid,omitempty"`
	Status    string            `json:"status"`
	IP        string            `json:"ip,omitempty"`
	Seconds   float64           `json:"seconds"`
	Outputs   map[string]string `json:"outputs"`
}

// SummaryJSON writes the summary as one JSON line of type "apply_summary";
// secret outputs read "(secret)".
func SummaryJSON(w io.Writer, rows []SummaryRow, opts SummaryOptions) error {
	rs := append([]SummaryRow(nil), rows...)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Container < rs[j].Container })
	doc := summaryJSON{Type: "apply_summary", Containers: []summaryJSONContainer{}}
	for _, r := range rs {
		c := summaryJSONContainer{Container: r.Container, Host: r.Host, VMID: r.VMID, Status: r.Status, IP: r.IP,
			Seconds: r.Duration.Round(time.Millisecond).Seconds(), Outputs: map[string]string{}}
		for _, o := range r.Outputs {
			v := SecretText
			if !o.Secret {
				v = o.Value
				if opts.Redact != nil {
					v = opts.Redact(v)
				}
			}
			c.Outputs[o.Name] = v
		}
		doc.Containers = append(doc.Containers, c)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
