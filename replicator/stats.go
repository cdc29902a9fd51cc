package replicator

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/shardbridge/shardbridge/replicator/checkpoint"
	"github.com/shardbridge/shardbridge/replicator/source"
)

// Stats is a snapshot of a replicator's counters.
type Stats struct {
	RecordsIn, BytesIn   int64 // Kinesis records read (an aggregate counts once) and their bytes
	RecordsOut, BytesOut int64 // records acknowledged on the data topic, value bytes
	RecordsDLQ, BytesDLQ int64 // records acknowledged on the dead-letter topic
	Filtered             int64 // records a transform dropped
	OutOfRange           int64 // KPL sub-records delivered although outside their shard's hash range
	Throttles            int64 // throttled Kinesis calls
	ExpiredIterators     int64 // ExpiredIteratorException answers
	ProduceErrors        int64 // produce failures (each rewinds its shard)
	ShardsEnded          int64 // shards finished here (SHARD_END checkpointed)
	LeasesHeld           int
	// exactly-once: transactions committed, aborted after a failure, and
	// fenced (another instance took the shard over).
	TransactionsCommitted, TransactionsAborted, TransactionsFenced int64
	RecordsCommitted                                               int64                 // records (data and dead letters) in committed transactions
	MemoryBudget, MemoryInUse                                      int64                 // the memory budget and the bytes of it held now
	Shards                                                         map[string]ShardStats // shards running here
}

// ShardStats describes one shard running on this instance.
type ShardStats struct {
	// MillisBehindLatest is the estimated lag behind the tip: Kinesis's last
	// MillisBehindLatest plus the time without a successful read since
	// (see metrics.EstimateBehind); it grows while the shard is stuck.
	MillisBehindLatest int64
	// OldestUnacknowledged is the age of the shard's oldest record handed to
	// Kafka and not acknowledged yet (0 when none).
	OldestUnacknowledged time.Duration
	LastSequence         string              // last record read
	Checkpoint           checkpoint.Position // last checkpoint written here
	Halted               string              // why the shard is halted, if it is
}

type counters struct {
	recordsIn, bytesIn, recordsOut, bytesOut, recordsDLQ, bytesDLQ atomic.Int64
	filtered, throttles, expiredIterators, produceErrors           atomic.Int64
	shardsEnded, leasesHeld                                        atomic.Int64
	outOfRange                                                     atomic.Int64
	transactionsCommitted, transactionsAborted, transactionsFenced atomic.Int64
	recordsCommitted                                               atomic.Int64

	mu     sync.Mutex
	shards map[string]ShardStats
}

func (c *counters) update(id string, f func(*ShardStats)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shards == nil {
		c.shards = map[string]ShardStats{}
	}
	s := c.shards[id]
	f(&s)
	c.shards[id] = s
}

func (c *counters) setLast(id string, b source.Batch) {
	if n := len(b.Records); n > 0 {
		seq := aws.ToString(b.Records[n-1].SequenceNumber)
		c.update(id, func(s *ShardStats) { s.LastSequence = seq })
	}
}

func (c *counters) setCheckpoint(id string, p checkpoint.Position) {
	c.update(id, func(s *ShardStats) { s.Checkpoint = p })
}

func (c *counters) setHalted(id, why string) {
	c.update(id, func(s *ShardStats) { s.Halted = why })
}

func (c *counters) forget(id string) {
	c.mu.Lock()
	delete(c.shards, id)
	c.mu.Unlock()
}

// Stats returns a snapshot of the replicator's counters.
func (r *Replicator) Stats() Stats {
	c := &r.obs.stats
	s := Stats{
		RecordsIn: c.recordsIn.Load(), BytesIn: c.bytesIn.Load(),
		RecordsOut: c.recordsOut.Load(), BytesOut: c.bytesOut.Load(),
		RecordsDLQ: c.recordsDLQ.Load(), BytesDLQ: c.bytesDLQ.Load(),
		Filtered: c.filtered.Load(), OutOfRange: c.outOfRange.Load(), Throttles: c.throttles.Load(),
		ExpiredIterators: c.expiredIterators.Load(), ProduceErrors: c.produceErrors.Load(),
		ShardsEnded: c.shardsEnded.Load(), LeasesHeld: int(c.leasesHeld.Load()),
		TransactionsCommitted: c.transactionsCommitted.Load(), TransactionsAborted: c.transactionsAborted.Load(),
		TransactionsFenced: c.transactionsFenced.Load(), RecordsCommitted: c.recordsCommitted.Load(),
		Shards:       map[string]ShardStats{},
		MemoryBudget: r.memory.Total(), MemoryInUse: r.memory.Used(),
	}
	c.mu.Lock()
	for id, st := range c.shards {
		s.Shards[id] = st
	}
	c.mu.Unlock()
	for id, st := range s.Shards {
		if behind, oldest, ok := r.obs.m.ShardLag(id); ok {
			st.MillisBehindLatest, st.OldestUnacknowledged = behind.Milliseconds(), oldest
			s.Shards[id] = st
		}
	}
	return s
}
