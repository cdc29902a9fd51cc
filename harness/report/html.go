package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"sort"
	"time"
)

// WriteHTML writes the run as one self-contained page — inline SVG charts
// and CSS, no scripts, nothing fetched — that shows in seconds what broke
// and when: records acknowledged vs. replicated per second, each shard's
// lag, end-to-end latency, duplicates by cause and lease ownership, every
// fault as a marker on the same time axis; then the verdicts, the faults
// and the text report with its examples.
func WriteHTML(w io.Writer, r Report) error {
	var text bytes.Buffer
	if err := Write(&text, r); err != nil {
		return err
	}
	page := htmlPage{R: r, Verdict: r.Verdict(), Passed: r.Passed(), Text: text.String(), Problems: r.Problems()}
	for _, f := range sortedFaults(r.Faults) {
		page.Faults = append(page.Faults, htmlFault{At: r.when(f.Time), Kind: f.Kind, Detail: faultDetail(f)})
	}
	page.Charts = r.charts()
	return pageTmpl.Execute(w, page)
}

type htmlPage struct {
	R        Report
	Verdict  string
	Passed   bool
	Problems []string
	Faults   []htmlFault
	Charts   []template.HTML
	Text     string
}

type htmlFault struct{ At, Kind, Detail string }

// charts draws the five charts (none without a timeline).
func (r Report) charts() []template.HTML {
	t := r.Timeline
	if t == nil {
		return nil
	}
	start := r.Started
	end := start.Add(r.Duration)
	for _, f := range r.Faults {
		if f.Time.After(end) {
			end = f.Time
		}
	}
	s := t.series(start, end)
	var markers []marker
	for _, f := range sortedFaults(r.Faults) {
		markers = append(markers, marker{at: f.Time.Sub(start).Seconds(), label: f.Kind + ": " + faultDetail(f)})
	}
	n := len(s.seconds)
	acked, repl, p50, p99 := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	lags := make([]line, len(s.shards))
	for i, sh := range s.shards {
		lags[i] = line{label: shortShard(sh), values: make([]float64, n)}
	}
	for i, sec := range s.seconds {
		acked[i], repl[i] = float64(sec.acked), float64(sec.replicated)
		p50[i] = ms(percentile(sec.latencies, 0.50))
		p99[i] = ms(percentile(sec.latencies, 0.99))
		for j, sh := range s.shards {
			lags[j].values[i] = ms(sec.lag[sh])
		}
	}
	var causes []string
	for c := range r.Result.Duplicated.Causes {
		causes = append(causes, c)
	}
	sort.Strings(causes)
	counts := make([]int, len(causes))
	for i, c := range causes {
		counts[i] = r.Result.Duplicated.Causes[c]
	}
	spans, shards, owners := t.spans(end)
	return []template.HTML{
		template.HTML(lineChart("throughput", "Records per second: acknowledged by Kinesis vs. replicated to Kafka",
			[]line{{"acknowledged", acked}, {"replicated", repl}}, markers, count)),
		template.HTML(lineChart("lag", "Lag per shard: Kafka timestamp − Kinesis acknowledgement (largest per second)", lags, markers, millis)),
		template.HTML(lineChart("latency", "End-to-end latency per second (sent → in Kafka)",
			[]line{{"p50", p50}, {"p99", p99}}, markers, millis)),
		template.HTML(barChart("duplicates", fmt.Sprintf("Duplicated records by cause (%d IDs, %d extra copies)", r.Result.Duplicated.Count, r.Result.Duplicated.ExtraCopies), causes, counts)),
		template.HTML(lanesChart("leases", "Lease ownership per shard", spans, shards, owners, start, float64(n), markers)),
	}
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"date": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"dur":  func(d time.Duration) string { return d.Round(100 * time.Millisecond).String() },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.R.Scenario}} — {{.Verdict}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:20px;margin:0 0 4px}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-weight:600}
.pass{background:#2e7d32}.fail{background:#c62828}
.meta{color:#555;margin:4px 0 16px}
svg.chart{display:block;margin:14px 0;background:#fff}
svg .title{font-weight:600;font-size:13px}
svg .tick,svg .legend{font-size:11px;fill:#444}
svg .plot{fill:#fafafa;stroke:#ccc}
svg .grid{stroke:#eee}
svg .series{fill:none;stroke-width:2}
svg .fault line{stroke:#c62828;stroke-dasharray:4 3}
svg .fault text{font-size:10px;fill:#c62828}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
pre{background:#f6f6f6;padding:10px;overflow:auto;font-size:12px}
</style></head><body>
<h1>{{.R.Scenario}} <span class="verdict {{if .Passed}}pass{{else}}fail{{end}}">{{.Verdict}}</span></h1>
<div class="meta">seed {{.R.Seed}} (re-run with SHARDBRIDGE_SEED={{.R.Seed}}) · {{.R.Mode}} · {{.R.Backend}} · started {{date .R.Started}} · {{dur .R.Duration}}</div>
{{range .Charts}}{{.}}
{{end}}
<h2>Verdict</h2>
{{if .Problems}}<table><tr><th>Problem</th></tr>{{range .Problems}}<tr><td>{{.}}</td></tr>{{end}}</table>{{else}}<p>Every promise of the delivery mode kept.</p>{{end}}
<h2>Faults</h2>
{{if .Faults}}<table class="faults"><tr><th>at</th><th>kind</th><th>detail</th></tr>{{range .Faults}}<tr><td>{{.At}}</td><td>{{.Kind}}</td><td>{{.Detail}}</td></tr>{{end}}</table>{{else}}<p>none</p>{{end}}
<h2>Report</h2>
<pre>{{.Text}}</pre>
</body></html>
`))
