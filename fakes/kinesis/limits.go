package kinesis

import (
	"sync"
	"time"
)

// Production limits of Kinesis Data Streams (provisioned mode), all measured
// on the emulator clock.
const (
	shardWriteBytesPerSec    = 1 << 20 // PutRecord(s): 1 MiB/s per shard (data + partition key)
	shardWriteRecordsPerSec  = 1000    // PutRecord(s): 1,000 records/s per shard
	shardReadCallsPerSec     = 5       // GetRecords: 5 calls/s per shard
	shardReadBytesPerSec     = 2 << 20 // GetRecords: 2 MiB/s per shard
	shardIteratorCallsPerSec = 5       // GetShardIterator: 5 calls/s per shard
	listShardsPerSecPerStrm  = 1000    // ListShards: 1,000 calls/s per stream
	scalingsPer24h           = 10      // UpdateShardCount: 10 per rolling 24 h per stream
	modeSwitchesPer24h       = 2       // UpdateStreamMode: 2 per rolling 24 h per stream

	iteratorTTL  = 5 * time.Minute
	nextTokenTTL = 300 * time.Second

	defaultMaxRecordBytes = 1 << 20  // per record, data + partition key
	maxPutRecordsEntries  = 500      // entries per PutRecords call
	maxPutRecordsBytes    = 5 << 20  // PutRecords payload (data + keys)
	maxGetRecordsBytes    = 10 << 20 // GetRecords response cap
	maxGetRecordsLimit    = 10000    // GetRecords Limit upper bound
	maxPartitionKeyLen    = 256
)

// accountRates are the per-account control-plane limits (calls per second)
// from the Kinesis API reference; exceeding one answers LimitExceededException.
var accountRates = map[string]float64{
	"CreateStream":                  5,
	"DeleteStream":                  5,
	"DescribeStream":                10,
	"DescribeStreamSummary":         20,
	"ListStreams":                   5,
	"SplitShard":                    5,
	"MergeShards":                   5,
	"UpdateShardCount":              10,
	"IncreaseStreamRetentionPeriod": 5,
	"DecreaseStreamRetentionPeriod": 5,
}

// bucket is a token bucket holding at most one second's worth of tokens (the
// burst AWS tolerates). It may go negative (debt) when a caller is charged
// after the fact, as GetRecords is for the bytes it returned.
type bucket struct {
	tokens  float64
	last    int64 // unix nanos of the last refill
	started bool
}

func (b *bucket) refill(now int64, rate float64) {
	if !b.started {
		b.tokens, b.last, b.started = rate, now, true
		return
	}
	if now > b.last {
		b.tokens += float64(now-b.last) / 1e9 * rate
		if b.tokens > rate {
			b.tokens = rate
		}
		b.last = now
	}
}

// take removes n tokens if that many are available.
func (b *bucket) take(now int64, rate, n float64) bool {
	b.refill(now, rate)
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// inDebt reports whether the bucket is below zero after refilling.
func (b *bucket) inDebt(now int64, rate float64) bool {
	b.refill(now, rate)
	return b.tokens < 0
}

// charge removes n tokens unconditionally (the bucket may go into debt).
func (b *bucket) charge(now int64, rate, n float64) {
	b.refill(now, rate)
	b.tokens -= n
}

// accountLimiter holds the per-account control-plane buckets.
type accountLimiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

func (l *accountLimiter) allow(op string, now int64) bool {
	rate, ok := accountRates[op]
	if !ok {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = make(map[string]*bucket)
	}
	b := l.buckets[op]
	if b == nil {
		b = &bucket{}
		l.buckets[op] = b
	}
	return b.take(now, rate, 1)
}
