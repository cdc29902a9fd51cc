package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness/checker"
)

// The page is one self-contained file: the five charts over the run's time
// axis, each fault a marker on the time charts, the lease timeline with a
// span per holder, no script and nothing fetched.
func TestHTMLReport(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tl := &Timeline{}
	for i := range 300 {
		acked := start.Add(time.Duration(i) * 10 * time.Millisecond)
		tl.AckedMs = append(tl.AckedMs, acked.UnixMilli())
		shard := []string{"shardId-000000000000", "shardId-000000000001"}[i%2]
		tl.Samples = append(tl.Samples, checker.Sample{Shard: shard, SentMs: acked.UnixMilli() - 5, AckedMs: acked.UnixMilli(),
			InKafka: acked.Add(time.Duration(50+i) * time.Millisecond)})
	}
	tl.Leases = []LeaseChange{
		{Time: start, Shard: "shardId-000000000000", Owner: "w0"},
		{Time: start, Shard: "shardId-000000000001", Owner: "w0"},
		{Time: start.Add(time.Second), Shard: "shardId-000000000001", Owner: "w1"},
		{Time: start.Add(2 * time.Second), Shard: "shardId-000000000000", Owner: ""},
	}
	r := Report{Scenario: "demo<&>", Seed: 42, Mode: checker.AtLeastOnce, Started: start, Duration: 4 * time.Second,
		Result:   checker.Result{Acked: 300, Replicated: 300, Duplicated: checker.Duplicates{Causes: map[string]int{"kill": 3, "lease-moved": 1}}},
		Faults:   []Fault{{Time: start.Add(time.Second), Kind: "kill", Detail: "instance 1"}, {Time: start.Add(3 * time.Second), Kind: "split-shard", Detail: "shardId-000000000000"}},
		Timeline: tl}
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, chart := range []string{"throughput", "lag", "latency", "duplicates", "leases"} {
		if !strings.Contains(page, `data-chart="`+chart+`"`) {
			t.Errorf("no %s chart", chart)
		}
	}
	counts := map[string]int{
		`class="chart"`:     5,
		`class="series"`:    6, // acknowledged, replicated, two shards' lag, p50, p99
		`class="fault"`:     8, // two faults on each of the four time charts
		`class="lease"`:     3, // w0 on shard 0 until released, w0 then w1 on shard 1
		`class="bar"`:       2,
		`<td>split-shard`:   1,
		`demo&lt;&amp;&gt;`: 3, // the scenario name, escaped: title, heading, text report
	}
	for s, want := range counts {
		if got := strings.Count(page, s); got != want {
			t.Errorf("%d × %s, want %d", got, s, want)
		}
	}
	for _, banned := range []string{"<script", "http://", "https://", "src=", "<link"} {
		if strings.Contains(page, banned) {
			t.Errorf("the page contains %q: it must need nothing but itself", banned)
		}
	}
}

// Without a timeline the page still has the verdict and the report.
func TestHTMLReportWithoutTimeline(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, Report{Scenario: "x", Result: checker.Result{Acked: 0}}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<svg") || !strings.Contains(b.String(), "FAIL") {
		t.Errorf("page without a timeline:\n%s", b.String())
	}
}
