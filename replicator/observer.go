package replicator

import (
	"time"

	"github.com/shardbridge/shardbridge/replicator/checkpoint"
	"github.com/shardbridge/shardbridge/replicator/lease"
	"github.com/shardbridge/shardbridge/replicator/metrics"
	"github.com/shardbridge/shardbridge/replicator/source"
)

// observer is where the replicator reports what happens: each method
// updates both the Prometheus metrics and the counters behind Stats, so the
// two cannot drift apart.
type observer struct {
	m     *metrics.Metrics
	now   func() time.Time // checkpoint age
	stats counters
}

func newObserver(m *metrics.Metrics, now func() time.Time) *observer {
	return &observer{m: m, now: now}
}

// read counts one GetRecords batch of shard.
func (o *observer) read(shard string, b source.Batch) {
	bytes := 0
	for i := range b.Records {
		bytes += len(b.Records[i].Data)
	}
	o.m.RecordsIn.Add(float64(len(b.Records)))
	o.m.BytesIn.Add(float64(bytes))
	o.stats.recordsIn.Add(int64(len(b.Records)))
	o.stats.bytesIn.Add(int64(bytes))
	o.stats.setLast(shard, b)
}

// processed counts the records a transform dropped and the KPL sub-records
// delivered from outside their shard's hash range.
func (o *observer) processed(filtered, outOfRange int) {
	if filtered > 0 {
		o.m.Filtered.Add(float64(filtered))
		o.stats.filtered.Add(int64(filtered))
	}
	if outOfRange > 0 {
		o.m.OutOfRange.Add(float64(outOfRange))
		o.stats.outOfRange.Add(int64(outOfRange))
	}
}

// delivered counts a record Kafka acknowledged, on the dead-letter topic
// when dlq, handed over latency ago.
func (o *observer) delivered(dlq bool, valueBytes int, latency time.Duration) {
	o.m.ProduceLatency.Observe(latency.Seconds())
	if dlq {
		o.m.RecordsDLQ.Inc()
		o.m.BytesDLQ.Add(float64(valueBytes))
		o.stats.recordsDLQ.Add(1)
		o.stats.bytesDLQ.Add(int64(valueBytes))
		return
	}
	o.m.RecordsOut.Inc()
	o.m.BytesOut.Add(float64(valueBytes))
	o.stats.recordsOut.Add(1)
	o.stats.bytesOut.Add(int64(valueBytes))
}

// produceFailed counts a produce failure (its shard rewinds).
func (o *observer) produceFailed() {
	o.m.ProduceErrors.Inc()
	o.stats.produceErrors.Add(1)
}

// throttled counts a throttled Kinesis call.
func (o *observer) throttled(operation string) {
	o.m.Throttles.WithLabelValues(operation).Inc()
	o.stats.throttles.Add(1)
}

// iteratorExpired counts an ExpiredIteratorException.
func (o *observer) iteratorExpired() {
	o.m.ExpiredIterators.Inc()
	o.stats.expiredIterators.Add(1)
}

// lag notes the MillisBehindLatest of a successful GetRecords of shard.
func (o *observer) lag(shard string, ms int64) { o.m.ReadAnswered(shard, ms, o.now()) }

// shardStarted starts the shard's checkpoint age and lag clocks. pollInterval
// is the shard's normal wait between reads; oldest reports its oldest record
// handed to Kafka and not acknowledged.
func (o *observer) shardStarted(shard string, pollInterval time.Duration, oldest func() (time.Time, bool)) {
	now := o.now()
	o.m.CheckpointDone(shard, now)
	o.m.ShardReading(shard, now, pollInterval)
	o.m.TrackUnacknowledged(shard, oldest)
	o.stats.update(shard, func(*ShardStats) {}) // listed in Stats from now on
}

// checkpointed notes a checkpoint of shard at p.
func (o *observer) checkpointed(shard string, p checkpoint.Position) {
	o.m.Checkpoints.WithLabelValues("ok").Inc()
	o.m.CheckpointDone(shard, o.now())
	o.stats.setCheckpoint(shard, p)
}

// checkpointFailed counts a checkpoint refused because the lease is gone
// (lost) or failed otherwise.
func (o *observer) checkpointFailed(lost bool) {
	result := "error"
	if lost {
		result = "lost"
	}
	o.m.Checkpoints.WithLabelValues(result).Inc()
}

// shardEnded counts a shard read to its end and checkpointed at SHARD_END.
func (o *observer) shardEnded() {
	o.m.Checkpoints.WithLabelValues("ok").Inc()
	o.m.ShardsEnded.Inc()
	o.stats.shardsEnded.Add(1)
}

// halted notes a halted shard; the returned function is called when it stops
// (the halt then no longer counts as current).
func (o *observer) halted(shard, reason string) (stopped func()) {
	o.m.ShardsHalted.Inc()
	o.stats.setHalted(shard, reason)
	return func() { o.m.ShardsHalted.Dec() }
}

// waitingForPartition counts a shard that waits for its partition (shard
// partitioning) from start (true) to end (false).
func (o *observer) waitingForPartition(on bool) {
	if on {
		o.m.ShardsWaitingForPartition.Inc()
	} else {
		o.m.ShardsWaitingForPartition.Dec()
	}
}

// shardGone drops the per-shard series and stats of a shard no longer run here.
func (o *observer) shardGone(shard string) {
	o.m.ForgetShard(shard)
	o.stats.forget(shard)
}

// leasesHeld notes how many leases this instance holds.
func (o *observer) leasesHeld(n int) {
	o.m.LeasesHeld.Set(float64(n))
	o.stats.leasesHeld.Store(int64(n))
}

// leaseEvent counts a lease change (metrics only: Stats has no such counter).
func (o *observer) leaseEvent(kind lease.EventKind) {
	o.m.LeaseEvents.WithLabelValues(kind.String()).Inc()
}

// committed counts a committed transaction of records records and how long
// the commit took.
func (o *observer) committed(took time.Duration, records int) {
	o.m.Transactions.WithLabelValues("committed").Inc()
	o.m.CommitLatency.Observe(took.Seconds())
	o.stats.transactionsCommitted.Add(1)
	o.stats.recordsCommitted.Add(int64(records))
}

// aborted counts a transaction that ended without a commit: fenced when
// another instance took the shard over.
func (o *observer) aborted(fenced bool) {
	result := "aborted"
	if fenced {
		result = "fenced"
		o.stats.transactionsFenced.Add(1)
	} else {
		o.stats.transactionsAborted.Add(1)
	}
	o.m.Transactions.WithLabelValues(result).Inc()
}
