// Package metrics holds the replicator's Prometheus metrics and its HTTP
// endpoints.
//
// Contract:
//   - Everything is registered on the registry passed to New (no global
//     registry), so several replicators can live in one test process.
//   - Handler serves /metrics (Prometheus text format), /healthz (the process
//     is alive: always 200) and /readyz (200 once the ready function returns
//     nil — the replicator's leases are synced and Kafka is reachable — 503
//     with the reason otherwise).
//   - Checkpoint age is computed at scrape time from the last successful
//     checkpoint of each shard, so a stuck checkpointer shows a growing age.
//   - So is each shard's lag: millis_behind_latest keeps growing while the
//     shard cannot read (throttled, failing) or cannot hand records on
//     (Kafka stalled: it is at least the oldest waiting record's age), and
//     oldest_unacknowledged_record_age_seconds shows how
//     long the oldest record handed to Kafka has waited since it arrived in
//     Kinesis. Neither freezes at the last successful call's value.
package metrics

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const ns = "replicator"

// Metrics are the replicator's instruments.
type Metrics struct {
	Registry *prometheus.Registry

	RecordsIn  prometheus.Counter // Kinesis records read (aggregates count once)
	BytesIn    prometheus.Counter
	RecordsOut prometheus.Counter // Kafka records acknowledged on the data topic
	BytesOut   prometheus.Counter
	RecordsDLQ prometheus.Counter // records acknowledged on the dead-letter topic
	BytesDLQ   prometheus.Counter
	Filtered   prometheus.Counter // records a transform dropped
	OutOfRange prometheus.Counter // KPL sub-records delivered although outside their shard's hash range

	Throttles        *prometheus.CounterVec // operation
	ExpiredIterators prometheus.Counter
	LeasesHeld       prometheus.Gauge
	LeaseEvents      *prometheus.CounterVec // kind: acquired, lost, stolen, released
	ShardsEnded      prometheus.Counter
	ShardsHalted     prometheus.Gauge
	// ShardsWaitingForPartition: shard partitioning, shards whose partition
	// the topic does not have yet.
	ShardsWaitingForPartition prometheus.Gauge
	ProduceErrors             prometheus.Counter
	ProduceLatency            prometheus.Histogram   // hand-off to acknowledgement
	Checkpoints               *prometheus.CounterVec // result: ok, lost, error
	Transactions              *prometheus.CounterVec // exactly-once; result: committed, aborted, fenced
	CommitLatency             prometheus.Histogram   // exactly-once: flush + checkpoint record + EndTxn

	now         func() time.Time
	mu          sync.Mutex
	checkpoints map[string]time.Time // shard → last successful checkpoint
	lags        map[string]shardLag  // shard → what its lag is computed from
	ageDesc     *prometheus.Desc
}

// New registers the replicator's metrics, plus the Go runtime and process
// collectors, on reg. now is the clock for checkpoint age (time.Now if nil).
func New(reg *prometheus.Registry, now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	f := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help})
	}
	m := &Metrics{
		Registry:   reg,
		RecordsIn:  f("records_in_total", "Kinesis records read (a KPL aggregate counts once)."),
		BytesIn:    f("bytes_in_total", "Bytes of Kinesis record data read."),
		RecordsOut: f("records_out_total", "Records acknowledged by Kafka on the data topic."),
		BytesOut:   f("bytes_out_total", "Value bytes acknowledged by Kafka on the data topic."),
		RecordsDLQ: f("records_dlq_total", "Records acknowledged by Kafka on the dead-letter topic."),
		BytesDLQ:   f("bytes_dlq_total", "Value bytes acknowledged by Kafka on the dead-letter topic."),
		Filtered:   f("records_filtered_total", "Records not written on purpose: records the transform dropped."),
		OutOfRange: f("kpl_out_of_range_total", "KPL sub-records whose hash key lies outside their shard's hash range (an aggregate spanning shards, e.g. after a reshard), delivered all the same: the KCL would drop them."),
		Throttles: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "throttles_total",
			Help: "Throttled AWS calls, by operation."}, []string{"operation"}),
		ExpiredIterators: f("expired_iterators_total", "ExpiredIteratorException answers, each followed by an iterator renewal."),
		LeasesHeld: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "leases_held",
			Help: "Shard leases this instance holds."}),
		LeaseEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "lease_events_total",
			Help: "Lease changes seen by this instance, by kind."}, []string{"kind"}),
		ShardsEnded: f("shards_ended_total", "Shards read to their end and checkpointed at SHARD_END."),
		ShardsWaitingForPartition: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "shards_waiting_for_partition",
			Help: "REPLICATOR_PARTITIONING=shard: shards whose number has no partition in the topic yet; they wait, keeping their lease, until the topic grows (see logs)."}),
		ShardsHalted: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "shards_halted",
			Help: "Shards stopped on a record that could neither be written nor dead-lettered (see logs)."}),
		ProduceErrors: f("produce_errors_total", "Kafka produce failures (the shard rewinds to its last acknowledged record)."),
		ProduceLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "produce_latency_seconds",
			Help:    "Time from handing a record to the Kafka client to its acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		Checkpoints: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "checkpoints_total",
			Help: "Checkpoint writes, by result."}, []string{"result"}),
		Transactions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "transactions_total",
			Help: "exactly-once: Kafka transactions ended, by result: committed, aborted (a failure; the shard resumes from its last committed checkpoint) or fenced (another instance took the shard over)."}, []string{"result"}),
		CommitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "transaction_commit_seconds",
			Help:    "exactly-once: time to commit a shard's transaction (flush, checkpoint record, EndTxn).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		now:         now,
		checkpoints: map[string]time.Time{},
		lags:        map[string]shardLag{},
		ageDesc: prometheus.NewDesc(ns+"_checkpoint_age_seconds",
			"Seconds since the shard's last successful checkpoint (held shards only).", []string{"shard"}, nil),
	}
	reg.MustRegister(m.RecordsIn, m.BytesIn, m.RecordsOut, m.BytesOut, m.RecordsDLQ, m.BytesDLQ, m.Filtered, m.OutOfRange,
		m.Throttles, m.ExpiredIterators, m.LeasesHeld, m.LeaseEvents, m.ShardsEnded,
		m.ShardsHalted, m.ShardsWaitingForPartition, m.ProduceErrors, m.ProduceLatency, m.Checkpoints, m.Transactions, m.CommitLatency, ageCollector{m}, newLagCollector(m),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// CheckpointDone records a successful checkpoint of shard at t (or starts the
// age clock when a shard is taken).
func (m *Metrics) CheckpointDone(shard string, t time.Time) {
	m.mu.Lock()
	m.checkpoints[shard] = t
	m.mu.Unlock()
}

// ForgetShard drops a shard's per-shard series when its lease goes.
func (m *Metrics) ForgetShard(shard string) {
	m.mu.Lock()
	delete(m.checkpoints, shard)
	delete(m.lags, shard)
	m.mu.Unlock()
}

type ageCollector struct{ m *Metrics }

func (a ageCollector) Describe(ch chan<- *prometheus.Desc) { ch <- a.m.ageDesc }

func (a ageCollector) Collect(ch chan<- prometheus.Metric) {
	now := a.m.now()
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	for shard, t := range a.m.checkpoints {
		ch <- prometheus.MustNewConstMetric(a.m.ageDesc, prometheus.GaugeValue, now.Sub(t).Seconds(), shard)
	}
}

// LeaseTableStats are the lease manager's own cumulative counters.
type LeaseTableStats struct {
	Throttles       int64 // throttled lease-table calls, every attempt
	Renewals        int64 // successful lease renewals
	RenewalFailures int64 // renewals that failed after their retries
	CorruptRows     int   // unreadable lease rows in the last scan
}

// WatchLeaseTable exports the lease manager's counters, read at scrape time:
// they live in the manager, so copying them into counters would only lag.
// Call it once.
func (m *Metrics) WatchLeaseTable(read func() LeaseTableStats) {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(ns+"_"+name, help, nil, nil) }
	m.Registry.MustRegister(leaseTableCollector{read: read, descs: [4]*prometheus.Desc{
		d("lease_table_throttles_total", "Throttling answers from the DynamoDB lease table, every attempt (the lease manager retries with backoff)."),
		d("lease_renewals_total", "Successful lease renewals."),
		d("lease_renewal_failures_total", "Lease renewals that failed after their retries (the lease is lost once they fail for the failover time)."),
		d("lease_rows_corrupt", "Unreadable lease rows in the last scan of the lease table (see logs)."),
	}})
}

type leaseTableCollector struct {
	read  func() LeaseTableStats
	descs [4]*prometheus.Desc
}

func (c leaseTableCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c leaseTableCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.read()
	ch <- prometheus.MustNewConstMetric(c.descs[0], prometheus.CounterValue, float64(s.Throttles))
	ch <- prometheus.MustNewConstMetric(c.descs[1], prometheus.CounterValue, float64(s.Renewals))
	ch <- prometheus.MustNewConstMetric(c.descs[2], prometheus.CounterValue, float64(s.RenewalFailures))
	ch <- prometheus.MustNewConstMetric(c.descs[3], prometheus.GaugeValue, float64(s.CorruptRows))
}

// MemoryStats are the memory budget's figures.
type MemoryStats struct {
	Budget, InUse, Waits int64
}

// WatchMemory exports the memory budget, read at scrape time. Call it once.
func (m *Metrics) WatchMemory(read func() MemoryStats) {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(ns+"_"+name, help, nil, nil) }
	m.Registry.MustRegister(memoryCollector{read: read, descs: [3]*prometheus.Desc{
		d("memory_budget_bytes", "REPLICATOR_MEMORY_BUDGET in force: bytes of records fetched and not yet acknowledged that all shards together may hold."),
		d("memory_in_use_bytes", "Bytes of the memory budget held now (GetRecords responses being decoded, batches waiting, records not yet acknowledged)."),
		d("memory_waits_total", "GetRecords calls that waited for room in the memory budget."),
	}})
}

type memoryCollector struct {
	read  func() MemoryStats
	descs [3]*prometheus.Desc
}

func (c memoryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c memoryCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.read()
	ch <- prometheus.MustNewConstMetric(c.descs[0], prometheus.GaugeValue, float64(s.Budget))
	ch <- prometheus.MustNewConstMetric(c.descs[1], prometheus.GaugeValue, float64(s.InUse))
	ch <- prometheus.MustNewConstMetric(c.descs[2], prometheus.CounterValue, float64(s.Waits))
}

// Handler serves /metrics, /healthz and /readyz. ready returns nil when the
// instance is ready, or the reason it is not.
func (m *Metrics) Handler(ready func() error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}
