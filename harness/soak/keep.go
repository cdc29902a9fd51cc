package soak

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/report"
)

// Format writes one kind of report of a failed run into the keep directory
// (as run-<K>.<Ext>). out is nil when the run could not take place.
type Format struct {
	Ext   string
	Write func(w io.Writer, r RunResult, out *harness.Outcome) error
}

// DefaultFormats are the reports a failed run keeps: the text report headed
// by the run's plan and repeat command, the JSON report, and the HTML page
// with the run's charts.
func DefaultFormats() []Format {
	return []Format{
		{Ext: "txt", Write: writeText},
		{Ext: "json", Write: writeJSON},
		{Ext: "html", Write: writeHTML},
	}
}

// writeHTML writes the run's HTML report (report.WriteHTML); a run that
// could not take place gets a page saying why.
func writeHTML(w io.Writer, r RunResult, out *harness.Outcome) error {
	if out == nil {
		return report.WriteHTML(w, report.Report{Scenario: fmt.Sprintf("soak run %d", r.Run), Seed: r.RunSeed,
			Failures: []string{cmpOr(r.Err, "the run could not take place")}})
	}
	return report.WriteHTML(w, out.Report)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// writeText writes the plan, the problems, the checker's report and what a
// race needs to be understood: the lease history and each instance's counts.
func writeText(w io.Writer, r RunResult, out *harness.Outcome) error {
	var b strings.Builder
	fmt.Fprintf(&b, "repeat: %s\n%s", r.Repeat, r.Description)
	if r.Err != "" {
		fmt.Fprintf(&b, "the run could not take place: %s\n", r.Err)
	}
	if len(r.Problems) > 0 {
		fmt.Fprintf(&b, "problems:\n  - %s\n", strings.Join(r.Problems, "\n  - "))
	}
	if out == nil {
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("\n")
	if err := report.Write(&b, out.Report); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nlease history (%d changes):\n", len(out.LeaseChanges))
	for _, c := range out.LeaseChanges {
		what := fmt.Sprintf("%s → %s", orNone(c.From), orNone(c.To))
		if c.Lapse {
			what = c.To + " re-took it after a lapse"
		}
		fmt.Fprintf(&b, "  +%.3fs  %s  %s (checkpoint %s)\n", c.Time.Sub(out.Report.Started).Seconds(), c.Shard, what, orNone(c.Checkpoint))
	}
	b.WriteString("instances:\n")
	for _, n := range slices.Sorted(maps.Keys(out.Stats)) {
		s := out.Stats[n]
		fmt.Fprintf(&b, "  %s  in %d  out %d  produce errors %d  shards ended %d  leases %v  checkpoints %v\n",
			n, s.RecordsIn, s.RecordsOut, s.ProduceErrors, s.ShardsEnded, s.LeaseEvents, s.Checkpoints)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// writeJSON writes the run's JSON report, or the run itself when it could
// not take place (there is no report then).
func writeJSON(w io.Writer, r RunResult, out *harness.Outcome) error {
	if out == nil {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return report.WriteJSON(w, out.Report)
}

// keep writes every format of a failed run's report into dir and returns
// the files written.
func keep(dir string, formats []Format, r RunResult, out *harness.Outcome) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("keep reports: %w", err)
	}
	var files []string
	for _, f := range formats {
		path := filepath.Join(dir, fmt.Sprintf("run-%d.%s", r.Run, f.Ext))
		if err := writeFile(path, func(w io.Writer) error { return f.Write(w, r, out) }); err != nil {
			return files, fmt.Errorf("keep report %s: %w", path, err)
		}
		files = append(files, path)
	}
	return files, nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
