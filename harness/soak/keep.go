package soak

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/shardbridge/shardbridge/harness/report"
)

// Format writes one kind of report of a failed run into the keep directory
// (as run-<K>.<Ext>).
type Format struct {
	Ext   string
	Write func(w io.Writer, r RunResult, rep report.Report) error
}

// DefaultFormats are the reports a failed run keeps: the text report headed
// by the run's plan and repeat command, and the JSON report. An HTML report
// is one more Format appended here (or in Config.Formats).
var DefaultFormats = []Format{
	{Ext: "txt", Write: writeText},
	{Ext: "json", Write: writeJSON},
}

// writeJSON writes the run's JSON report, or the run itself when it could
// not take place (there is no report then).
func writeJSON(w io.Writer, r RunResult, rep report.Report) error {
	if rep.Scenario == "" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return report.WriteJSON(w, rep)
}

func writeText(w io.Writer, r RunResult, rep report.Report) error {
	fmt.Fprintf(w, "repeat: %s\n%s", r.Repeat, r.Description)
	if r.Err != "" {
		fmt.Fprintf(w, "the run could not take place: %s\n", r.Err)
	}
	if len(r.Problems) > 0 {
		fmt.Fprintf(w, "problems:\n  - %s\n", strings.Join(r.Problems, "\n  - "))
	}
	fmt.Fprintln(w)
	if rep.Scenario == "" {
		return nil // no outcome to report
	}
	return report.Write(w, rep)
}

// keep writes every format of a failed run's report into dir and returns
// the files written.
func keep(dir string, formats []Format, r RunResult, rep report.Report) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("keep reports: %w", err)
	}
	var files []string
	for _, f := range formats {
		path := filepath.Join(dir, fmt.Sprintf("run-%d.%s", r.Run, f.Ext))
		if err := writeFile(path, func(w io.Writer) error { return f.Write(w, r, rep) }); err != nil {
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
