package bridge

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Stats are one replicator instance's counters, read the same way
// whether it runs in-process (its Prometheus registry) or as a child process
// (its /metrics endpoint), so a scenario's assertions do not care which.
type Stats struct {
	RecordsIn        int64 `json:"records_in"`
	RecordsOut       int64 `json:"records_out"`
	RecordsDLQ       int64 `json:"records_dlq"`
	Filtered         int64 `json:"filtered"`
	OutOfRange       int64 `json:"out_of_range,omitempty"` // KPL sub-records outside their shard's hash range, delivered
	Throttles        int64 `json:"throttles"`
	ExpiredIterators int64 `json:"expired_iterators"`
	ProduceErrors    int64 `json:"produce_errors"`
	ShardsEnded      int64 `json:"shards_ended"`
	ShardsHalted     int64 `json:"shards_halted"`
	LeasesHeld       int64 `json:"leases_held"`
	// LeaseTableThrottles counts throttled lease-table calls (each retried).
	LeaseTableThrottles int64 `json:"lease_table_throttles,omitempty"`
	// LeaseRenewalFailures counts renewals that failed after their retries.
	LeaseRenewalFailures int64 `json:"lease_renewal_failures,omitempty"`
	// LeaseEvents counts lease changes by kind: acquired, lost, stolen, released.
	LeaseEvents map[string]int64 `json:"lease_events,omitempty"`
	// Checkpoints counts checkpoint writes by result: ok, lost, error.
	Checkpoints map[string]int64 `json:"checkpoints,omitempty"`
	// Transactions counts Kafka transactions by result (exactly-once):
	// committed, aborted, fenced.
	Transactions map[string]int64 `json:"transactions,omitempty"`
	// MillisBehindLatest is the lag of each shard held now.
	MillisBehindLatest map[string]int64 `json:"millis_behind_latest,omitempty"`
}

// MaxLag is the largest MillisBehindLatest over the shards held now.
func (s Stats) MaxLag() time.Duration {
	var m int64
	for _, v := range s.MillisBehindLatest {
		m = max(m, v)
	}
	return time.Duration(m) * time.Millisecond
}

// Add accumulates counters of an earlier life (gauges are not summed).
func (s Stats) Add(o Stats) Stats {
	s.RecordsIn += o.RecordsIn
	s.RecordsOut += o.RecordsOut
	s.RecordsDLQ += o.RecordsDLQ
	s.Filtered += o.Filtered
	s.OutOfRange += o.OutOfRange
	s.Throttles += o.Throttles
	s.ExpiredIterators += o.ExpiredIterators
	s.ProduceErrors += o.ProduceErrors
	s.ShardsEnded += o.ShardsEnded
	s.LeaseTableThrottles += o.LeaseTableThrottles
	s.LeaseRenewalFailures += o.LeaseRenewalFailures
	s.LeaseEvents = addMaps(s.LeaseEvents, o.LeaseEvents)
	s.Checkpoints = addMaps(s.Checkpoints, o.Checkpoints)
	s.Transactions = addMaps(s.Transactions, o.Transactions)
	return s
}

func addMaps(a, b map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(a)+len(b))
	for k, v := range a {
		out[k] += v
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}

// StatsFromFamilies reads the replicator's metrics (replicator/metrics).
func StatsFromFamilies(fams map[string]*dto.MetricFamily) Stats {
	s := Stats{LeaseEvents: map[string]int64{}, Checkpoints: map[string]int64{}, Transactions: map[string]int64{}, MillisBehindLatest: map[string]int64{}}
	sum := func(name string) int64 {
		f := fams[name]
		if f == nil {
			return 0
		}
		var t float64
		for _, m := range f.GetMetric() {
			t += metricValue(m)
		}
		return int64(t)
	}
	byLabel := func(name, label string, into map[string]int64) {
		f := fams[name]
		if f == nil {
			return
		}
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label {
					into[lp.GetValue()] += int64(metricValue(m))
				}
			}
		}
	}
	s.RecordsIn = sum("replicator_records_in_total")
	s.RecordsOut = sum("replicator_records_out_total")
	s.RecordsDLQ = sum("replicator_records_dlq_total")
	s.Filtered = sum("replicator_records_filtered_total")
	s.OutOfRange = sum("replicator_kpl_out_of_range_total")
	s.Throttles = sum("replicator_throttles_total")
	s.ExpiredIterators = sum("replicator_expired_iterators_total")
	s.ProduceErrors = sum("replicator_produce_errors_total")
	s.ShardsEnded = sum("replicator_shards_ended_total")
	s.ShardsHalted = sum("replicator_shards_halted")
	s.LeasesHeld = sum("replicator_leases_held")
	s.LeaseTableThrottles = sum("replicator_lease_table_throttles_total")
	s.LeaseRenewalFailures = sum("replicator_lease_renewal_failures_total")
	byLabel("replicator_lease_events_total", "kind", s.LeaseEvents)
	byLabel("replicator_checkpoints_total", "result", s.Checkpoints)
	byLabel("replicator_transactions_total", "result", s.Transactions)
	byLabel("replicator_millis_behind_latest", "shard", s.MillisBehindLatest)
	return s
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// scrapeMetrics reads a /metrics endpoint in the Prometheus text format.
func scrapeMetrics(ctx context.Context, client *http.Client, url string) (Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Stats{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return Stats{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return Stats{}, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return Stats{}, fmt.Errorf("scrape %s: parse: %w", url, err)
	}
	return StatsFromFamilies(fams), nil
}
