// Package report renders a chaos run's outcome twice: a text summary a person
// takes in at a glance (verdict first, then the seed to re-run it, the
// numbers, the faults and the examples of whatever went wrong) and a JSON
// document for CI, versioned (schema_version) and described by
// docs/report.schema.json.
//
//	r := report.Report{Scenario: "hot-shard-split", Seed: seed, Mode: checker.ExactlyOnce,
//		Started: start, Duration: time.Since(start), Produced: w.Stats().Generated,
//		Result: res, MaxLag: lag, Faults: faults}
//	report.Write(os.Stdout, r)
//	report.WriteJSON(file, r)
//
// The verdict is PASS only when the checker's Result keeps the delivery
// mode's promise (checker.Result.OK), the replay comparison (if any) found
// no difference, and the harness added no Failures.
package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/shardbridge/shardbridge/harness/checker"
)

// Fault is one fault injected during the run, by a fake's fault layer or by
// the harness itself (kill, split, clock jump…).
type Fault struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`             // e.g. "throttle", "kill", "split-shard"
	Detail string    `json:"detail,omitempty"` // e.g. "instance 1", "shardId-000000000000"
	Shard  string    `json:"shard,omitempty"`  // the shard it concerns, if one
}

// Events converts faults to the checker's duplicate-cause events.
func Events(faults []Fault) []checker.Event {
	ev := make([]checker.Event, len(faults))
	for i, f := range faults {
		ev[i] = checker.Event{Time: f.Time, Kind: f.Kind, Shard: f.Shard, Detail: f.Detail}
	}
	return ev
}

// Report is everything one run's summary shows.
type Report struct {
	Scenario string
	Seed     int64
	Mode     checker.Mode
	Backend  string // optional: embedded, containers, external
	Started  time.Time
	Duration time.Duration
	// Produced is how many records the workload generated and tried to
	// write (workload.Stats.Generated); acknowledged ones are Result.Acked.
	Produced int64
	Result   checker.Result
	Replay   *checker.ReplayResult // set when the scenario replayed
	// MaxLag is the largest replication lag the checker measured: a record's
	// Kafka timestamp minus its Kinesis acknowledgement (Result.Lag.Max).
	MaxLag time.Duration
	// GaugeMaxLag is the largest lag the bridge's own gauge showed while it
	// was sampled (0 for a bridge without one): next to MaxLag it shows
	// whether the bridge's "falling behind" alarm would have fired.
	GaugeMaxLag time.Duration
	// Aborted counts records aborted transactions left in the main topic
	// (exactly-once runs; invisible at read_committed).
	Aborted int
	Faults  []Fault
	// Failures are further reasons the run failed that the checker cannot
	// see (a replicator that exited with an error, a timeout).
	Failures []string
	// Timeline is what the HTML report's charts are drawn from (nil: the
	// page has the verdict and the anomalies only).
	Timeline *Timeline
}

// Problems lists every reason the run failed; empty means PASS.
func (r Report) Problems() []string {
	p := r.Result.Problems(r.Mode)
	if r.Replay != nil {
		for _, s := range r.Replay.Problems() {
			p = append(p, "replay: "+s)
		}
	}
	return append(p, r.Failures...)
}

// Passed reports whether the run passed.
func (r Report) Passed() bool { return len(r.Problems()) == 0 }

// Verdict is "PASS" or "FAIL".
func (r Report) Verdict() string {
	if r.Passed() {
		return "PASS"
	}
	return "FAIL"
}

// Write renders the text summary.
func Write(w io.Writer, r Report) error {
	var b strings.Builder
	res := r.Result
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-11s %s\n", label, fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(&b, "Shardbridge report: %s\n", orDash(r.Scenario))
	verdict := r.Verdict()
	if p := r.Problems(); len(p) > 0 {
		verdict += ": " + strings.Join(p, ", ")
	}
	line("verdict", "%s", verdict)
	line("seed", "%d (re-run with SHARDBRIDGE_SEED=%d)", r.Seed, r.Seed)
	run := fmt.Sprintf("%s, %s", orDash(string(r.Mode)), fmtDur(r.Duration))
	line("run", "%s", run)
	if r.Backend != "" {
		line("backend", "%s", r.Backend)
	}
	recs := fmt.Sprintf("produced %d, acked %d, replicated %d, dead-lettered %d", r.Produced, res.Acked, res.Replicated, res.DeadLettered)
	if res.UnconfirmedWrites > 0 {
		recs += fmt.Sprintf(", producer retry copies %d", res.UnconfirmedWrites)
	}
	if r.Mode == checker.ExactlyOnce {
		recs += fmt.Sprintf(", aborted in Kafka %d (unseen at read_committed)", r.Aborted)
	}
	line("records", "%s", recs)
	if res.IdentifiedByPayload > 0 {
		line("identity", "%d records identified by payload (no kinesis.* headers)", res.IdentifiedByPayload)
	}
	lag := fmt.Sprintf("max lag %s (measured: in Kafka − acknowledged by Kinesis)", fmtDur(r.MaxLag))
	if r.GaugeMaxLag > 0 {
		lag += fmt.Sprintf(", bridge's gauge peaked at %s", fmtDur(r.GaugeMaxLag))
	}
	line("throughput", "%.1f records/s, %s", res.Throughput, lag)
	if l := res.Latency; l.Count > 0 {
		line("latency", "p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (%d records)",
			fmtDur(l.P50), fmtDur(l.P90), fmtDur(l.P99), fmtDur(l.P999), fmtDur(l.Max), l.Count)
	} else {
		line("latency", "no records measured")
	}
	line("anomalies", "lost %d · duplicated %d · reordered/key %d · reordered/shard %d · unexpected %d · dlq %d",
		res.Lost.Count, res.Duplicated.Count, res.ReorderedPerKey.Count, res.ReorderedPerShard.Count, res.Unexpected.Count, res.DLQ.Count)
	if res.Duplicated.Count > 0 {
		line("duplicates", "%d IDs, %d extra copies; causes: %s", res.Duplicated.Count, res.Duplicated.ExtraCopies, res.Duplicated.CauseSummary())
	}
	if r.Replay != nil {
		status := "unchanged"
		if !r.Replay.OK() {
			status = strings.Join(r.Replay.Problems(), ", ")
		}
		line("replay", "%s (%d IDs before, %d after)", status, r.Replay.Before, r.Replay.After)
	}
	line("faults", "%d injected", len(r.Faults))
	for _, f := range sortedFaults(r.Faults) {
		fmt.Fprintf(&b, "  %-10s %-20s %s\n", r.when(f.Time), f.Kind, faultDetail(f))
	}
	for _, s := range []struct {
		name string
		a    checker.Anomaly
	}{
		{"lost", res.Lost}, {"duplicated", res.Duplicated.Anomaly}, {"reordered per key", res.ReorderedPerKey},
		{"reordered per shard", res.ReorderedPerShard}, {"unexpected", res.Unexpected}, {"dlq accounting", res.DLQ},
	} {
		if s.a.Count == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s (%d):\n", s.name, s.a.Count)
		for _, e := range s.a.Examples {
			fmt.Fprintf(&b, "  - %s\n", e)
		}
		if more := s.a.Count - len(s.a.Examples); more > 0 {
			fmt.Fprintf(&b, "  … and %d more\n", more)
		}
	}
	if r.Replay != nil && !r.Replay.OK() {
		b.WriteString("\nreplay differences:\n")
		for _, id := range r.Replay.Missing {
			fmt.Fprintf(&b, "  - gone: %s\n", id)
		}
		for _, id := range r.Replay.Extra {
			fmt.Fprintf(&b, "  - new: %s\n", id)
		}
		for _, e := range r.Replay.Reordered {
			fmt.Fprintf(&b, "  - reordered: %s\n", e.Detail)
		}
	}
	for _, e := range res.InputErrors {
		fmt.Fprintf(&b, "\ninput error: %s\n", e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r Report) when(t time.Time) string {
	if r.Started.IsZero() {
		return t.UTC().Format("15:04:05.000")
	}
	d := t.Sub(r.Started)
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	return fmt.Sprintf("%s%.3fs", sign, d.Seconds())
}

func faultDetail(f Fault) string {
	switch {
	case f.Shard != "" && f.Detail != "":
		return f.Shard + ": " + f.Detail
	case f.Shard != "":
		return f.Shard
	}
	return f.Detail
}

func sortedFaults(f []Fault) []Fault {
	s := slices.Clone(f)
	slices.SortStableFunc(s, func(a, b Fault) int { return a.Time.Compare(b.Time) })
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fmtDur renders a duration with the precision a reader needs at its scale.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d/time.Microsecond)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// SchemaVersion is the JSON report's schema_version: the major version of
// docs/report.schema.json. Adding a field keeps it; removing or renaming a
// field, or changing a field's type or meaning, bumps it.
const SchemaVersion = "1"

// jsonReport is the JSON form, documented field by field in
// docs/report.schema.json (a test keeps the two in step). Durations are
// milliseconds.
type jsonReport struct {
	SchemaVersion string         `json:"schema_version"`
	Scenario      string         `json:"scenario"`
	Seed          int64          `json:"seed"`
	Mode          string         `json:"mode"`
	Backend       string         `json:"backend,omitempty"`
	Verdict       string         `json:"verdict"`
	Problems      []string       `json:"problems"`
	Started       *time.Time     `json:"started,omitempty"`
	DurationMs    float64        `json:"duration_ms"`
	Records       jsonRecords    `json:"records"`
	Anomalies     jsonAnomalies  `json:"anomalies"`
	Duplicates    jsonDuplicates `json:"duplicates"`
	LatencyMs     jsonLatency    `json:"latency_ms"`
	ThroughputRPS float64        `json:"throughput_rps"`
	MaxLagMs      float64        `json:"max_lag_ms"`
	GaugeMaxLagMs float64        `json:"gauge_max_lag_ms,omitempty"`
	Faults        []jsonFault    `json:"faults"`
	Replay        *jsonReplay    `json:"replay,omitempty"`
	InputErrors   []string       `json:"input_errors,omitempty"`
	Failures      []string       `json:"failures,omitempty"`
}

type jsonRecords struct {
	Produced          int64 `json:"produced"`
	Acked             int   `json:"acked"`
	AckedMalformed    int   `json:"acked_malformed"`
	AckedOversized    int   `json:"acked_oversized"`
	Replicated        int   `json:"replicated"`
	DeadLettered      int   `json:"dead_lettered"`
	OutputRecords     int   `json:"output_records"`
	DLQRecords        int   `json:"dlq_records"`
	UnconfirmedWrites int   `json:"unconfirmed_writes"`
	Filtered          int   `json:"filtered"`
	Aborted           int   `json:"aborted"`
}

type jsonAnomalies struct {
	Lost              checker.Anomaly `json:"lost"`
	Duplicated        checker.Anomaly `json:"duplicated"`
	ReorderedPerKey   checker.Anomaly `json:"reordered_per_key"`
	ReorderedPerShard checker.Anomaly `json:"reordered_per_shard"`
	Unexpected        checker.Anomaly `json:"unexpected"`
	DLQ               checker.Anomaly `json:"dlq"`
}

type jsonDuplicates struct {
	IDs         int            `json:"ids"`
	ExtraCopies int            `json:"extra_copies"`
	Causes      map[string]int `json:"causes"`
}

type jsonLatency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

type jsonFault struct {
	Time     time.Time `json:"time"`
	OffsetMs *float64  `json:"offset_ms,omitempty"` // since Started
	Kind     string    `json:"kind"`
	Shard    string    `json:"shard,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

type jsonReplay struct {
	OK bool `json:"ok"`
	checker.ReplayResult
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// WriteJSON renders the report as indented JSON.
func WriteJSON(w io.Writer, r Report) error {
	res := r.Result
	j := jsonReport{
		SchemaVersion: SchemaVersion,
		// The checker judges an unset mode as at-least-once; say so.
		Scenario: r.Scenario, Seed: r.Seed, Mode: string(cmp.Or(r.Mode, checker.AtLeastOnce)), Backend: r.Backend,
		Verdict: r.Verdict(), Problems: r.Problems(), DurationMs: ms(r.Duration),
		Records: jsonRecords{
			Produced: r.Produced, Acked: res.Acked, AckedMalformed: res.AckedMalformed, AckedOversized: res.AckedOversized,
			Replicated: res.Replicated, DeadLettered: res.DeadLettered, OutputRecords: res.OutputRecords,
			DLQRecords: res.DLQRecords, UnconfirmedWrites: res.UnconfirmedWrites, Filtered: res.Filtered, Aborted: r.Aborted,
		},
		Anomalies: jsonAnomalies{
			Lost: res.Lost, Duplicated: res.Duplicated.Anomaly, ReorderedPerKey: res.ReorderedPerKey,
			ReorderedPerShard: res.ReorderedPerShard, Unexpected: res.Unexpected, DLQ: res.DLQ,
		},
		Duplicates: jsonDuplicates{IDs: res.Duplicated.Count, ExtraCopies: res.Duplicated.ExtraCopies, Causes: res.Duplicated.Causes},
		LatencyMs: jsonLatency{
			Count: res.Latency.Count, P50: ms(res.Latency.P50), P90: ms(res.Latency.P90),
			P99: ms(res.Latency.P99), P999: ms(res.Latency.P999), Max: ms(res.Latency.Max),
		},
		ThroughputRPS: res.Throughput, MaxLagMs: ms(r.MaxLag), GaugeMaxLagMs: ms(r.GaugeMaxLag),
		Faults: []jsonFault{}, InputErrors: res.InputErrors, Failures: r.Failures,
	}
	if j.Problems == nil {
		j.Problems = []string{}
	}
	if j.Duplicates.Causes == nil {
		j.Duplicates.Causes = map[string]int{}
	}
	if !r.Started.IsZero() {
		s := r.Started.UTC()
		j.Started = &s
	}
	for _, f := range sortedFaults(r.Faults) {
		jf := jsonFault{Time: f.Time.UTC(), Kind: f.Kind, Shard: f.Shard, Detail: f.Detail}
		if !r.Started.IsZero() {
			off := ms(f.Time.Sub(r.Started))
			jf.OffsetMs = &off
		}
		j.Faults = append(j.Faults, jf)
	}
	if r.Replay != nil {
		j.Replay = &jsonReplay{OK: r.Replay.OK(), ReplayResult: *r.Replay}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(j); err != nil {
		return fmt.Errorf("report: encode JSON: %w", err)
	}
	return nil
}
