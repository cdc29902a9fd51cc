package workload

import (
	"fmt"
	"log/slog"
	"time"
)

// Kinesis limits the workload keeps within (AWS documentation).
const (
	// MaxRecordBytes is the largest record (data plus partition key) this
	// workload writes, the classic Kinesis 1 MiB limit.
	MaxRecordBytes = 1 << 20
	// MaxBatchEntries and MaxBatchBytes bound one PutRecords call.
	MaxBatchEntries = 500
	MaxBatchBytes   = 5 << 20
)

// MalformedStyle chooses how a malformed record is broken.
type MalformedStyle int

const (
	// MalformedAuto is MalformedAggregate when aggregation is on and
	// MalformedJSON otherwise.
	MalformedAuto MalformedStyle = iota
	// MalformedJSON writes a plain record whose payload is not JSON
	// (MalformedPrefix + the JSON payload); a replicator running the
	// json-validate transform must dead-letter it.
	MalformedJSON
	// MalformedAggregate writes a KPL aggregate with the right magic and MD5
	// but a truncated protobuf; a replicator must dead-letter it whatever its
	// transform.
	MalformedAggregate
)

// Clock is the time source for payload sent_ms (a *clock.Clock fits).
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

type config struct {
	producers      int
	rate           float64
	keys           Keys
	minSize        int
	maxSize        int
	aggregate      int
	subHashKeys    []string
	malformedEvery int
	malformedStyle MalformedStyle
	oversizedEvery int
	oversizedSize  int
	seed           int64
	total          int64
	logger         *slog.Logger
	clock          Clock
	batchEntries   int
	maxPending     int
	backoffMin     time.Duration
	backoffMax     time.Duration
	callTimeout    time.Duration
	drainGrace     time.Duration
}

func defaultConfig() config {
	return config{
		producers:     1,
		keys:          UniformKeys(16),
		minSize:       100,
		maxSize:       100,
		oversizedSize: 512 << 10,
		seed:          1,
		logger:        slog.New(slog.DiscardHandler),
		clock:         wallClock{},
		batchEntries:  MaxBatchEntries,
		maxPending:    2000,
		backoffMin:    10 * time.Millisecond,
		backoffMax:    time.Second,
		callTimeout:   30 * time.Second,
		drainGrace:    5 * time.Second,
	}
}

func (c config) validate() error {
	switch {
	case c.producers < 1:
		return fmt.Errorf("producers must be ≥ 1, got %d", c.producers)
	case c.rate < 0:
		return fmt.Errorf("rate must be ≥ 0, got %v", c.rate)
	case c.minSize < 0 || c.maxSize < c.minSize:
		return fmt.Errorf("record size range [%d, %d] is invalid", c.minSize, c.maxSize)
	case c.aggregate < 0:
		return fmt.Errorf("aggregation must be ≥ 0 sub-records, got %d", c.aggregate)
	case len(c.subHashKeys) > 0 && c.aggregate < 2:
		return fmt.Errorf("sub-record hash keys need aggregation of ≥ 2 sub-records, got %d", c.aggregate)
	case c.malformedEvery < 0 || c.oversizedEvery < 0:
		return fmt.Errorf("malformed/oversized period must be ≥ 0")
	case c.total < 0:
		return fmt.Errorf("total must be ≥ 0, got %d", c.total)
	case c.batchEntries < 1 || c.batchEntries > MaxBatchEntries:
		return fmt.Errorf("batch size must be in [1, %d], got %d", MaxBatchEntries, c.batchEntries)
	case c.maxPending < 1:
		return fmt.Errorf("max pending must be ≥ 1, got %d", c.maxPending)
	}
	// Leave room for the partition key and, for aggregates, the protobuf
	// framing, so no record can exceed the Kinesis limit.
	const headroom = 4 << 10
	agg := max(c.aggregate, 1)
	if agg*c.maxSize > MaxRecordBytes-headroom {
		return fmt.Errorf("records of up to %d bytes × %d sub-records exceed the %d-byte Kinesis record limit", c.maxSize, agg, MaxRecordBytes)
	}
	if c.oversizedEvery > 0 && (c.oversizedSize < 1 || c.oversizedSize > MaxRecordBytes-headroom) {
		return fmt.Errorf("oversized record size %d must be in [1, %d]", c.oversizedSize, MaxRecordBytes-headroom)
	}
	for _, k := range c.subHashKeys {
		if _, ok := parseHash(k); !ok {
			return fmt.Errorf("sub-record explicit hash key %q is not a decimal in [0, 2^128)", k)
		}
	}
	return c.keys.validate()
}

// Option configures a Workload.
type Option func(*config)

// WithProducers runs n concurrent producers (default 1). Each has its own
// seeded random source, its own keys' sequences and at most one PutRecords
// call in flight.
func WithProducers(n int) Option { return func(c *config) { c.producers = n } }

// WithRate paces generation at about r records per second across all
// producers (default 0: as fast as Kinesis accepts). The rate is a ceiling:
// while Kinesis throttles, generation waits rather than queueing without
// bound. Pacing uses real time; nothing the checker concludes depends on it.
func WithRate(r float64) Option { return func(c *config) { c.rate = r } }

// WithKeys sets the partition-key distribution (default UniformKeys(16)).
func WithKeys(k Keys) Option { return func(c *config) { c.keys = k } }

// WithRecordSize makes every payload between minBytes and maxBytes long,
// uniformly (equal bounds: a fixed size; default 100). A payload never
// shrinks below its unpadded JSON (about 90 bytes).
func WithRecordSize(minBytes, maxBytes int) Option {
	return func(c *config) { c.minSize, c.maxSize = minBytes, maxBytes }
}

// WithAggregation packs n consecutive records of one key into each Kinesis
// record as a KPL aggregate (n ≤ 1: off). Sub-records are acknowledged with
// subsequence numbers 0..n-1.
func WithAggregation(n int) Option { return func(c *config) { c.aggregate = n } }

// WithSubRecordHashKeys gives sub-record i of every aggregate its own
// ExplicitHashKey hashKeys[i mod len(hashKeys)] (decimal 128-bit integers;
// needs WithAggregation(n ≥ 2)), while the aggregate itself is still routed
// by its partition key (or the Keys' explicit hash key). Each key's records
// thus stay on one shard, in order, but an aggregate carries sub-records
// whose hash keys belong to other shards' ranges — what a KPL with a stale
// shard map or the kinesis-aggregation library writes around a reshard
// (amazon-kinesis-client#343, kinesis-aggregation#11). Acks name each
// sub-record's key in SubExplicitHashKey.
func WithSubRecordHashKeys(hashKeys ...string) Option {
	return func(c *config) { c.subHashKeys = hashKeys }
}

// WithMalformedEvery makes every n-th Kinesis record a producer writes
// malformed (0: never). See MalformedStyle for how.
func WithMalformedEvery(n int) Option { return func(c *config) { c.malformedEvery = n } }

// WithMalformedStyle chooses how malformed records are broken (default
// MalformedAuto).
func WithMalformedStyle(s MalformedStyle) Option { return func(c *config) { c.malformedStyle = s } }

// WithOversizedEvery makes every n-th Kinesis record a producer writes
// oversized (0: never): a valid JSON payload of WithOversizedSize bytes,
// meant to exceed the Kafka topic's max.message.bytes. When a record is both
// the n-th malformed and the m-th oversized, it is malformed.
func WithOversizedEvery(n int) Option { return func(c *config) { c.oversizedEvery = n } }

// WithOversizedSize sets the payload size of oversized records (default
// 512 KiB; at most 1 MiB less 4 KiB of headroom).
func WithOversizedSize(bytes int) Option { return func(c *config) { c.oversizedSize = bytes } }

// WithSeed seeds every random choice (keys, sizes, kinds' padding, backoff
// jitter). Default 1.
func WithSeed(seed int64) Option { return func(c *config) { c.seed = seed } }

// WithTotal stops after n records (sub-records count one each) have been
// acknowledged, split evenly over the producers (default 0: run until the
// context passed to Run is done).
func WithTotal(n int64) Option { return func(c *config) { c.total = n } }

// WithLogger sets the logger (default: discard). The workload never prints.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock sets the time source stamped into payloads' sent_ms (default:
// wall clock). Use the clock the Kafka record timestamps are on, or latency
// figures are meaningless.
func WithClock(clk Clock) Option { return func(c *config) { c.clock = clk } }

// WithBatchSize caps the entries per PutRecords call (default and maximum 500).
func WithBatchSize(n int) Option { return func(c *config) { c.batchEntries = n } }

// WithMaxPending caps the records a producer has generated but Kinesis has
// not yet acknowledged (default 2000).
func WithMaxPending(n int) Option { return func(c *config) { c.maxPending = n } }

// WithBackoff sets the retry backoff after a call with any failure:
// exponential from min to max with jitter (defaults 10 ms, 1 s).
func WithBackoff(minDelay, maxDelay time.Duration) Option {
	return func(c *config) { c.backoffMin, c.backoffMax = minDelay, maxDelay }
}

// WithCallTimeout bounds one PutRecords call including the SDK's own retries
// (default 30 s). When the Run context ends, the call in flight gets
// WithDrainGrace more to report what Kinesis acknowledged.
func WithCallTimeout(d time.Duration) Option { return func(c *config) { c.callTimeout = d } }

// WithDrainGrace sets how long the call in flight may finish after the Run
// context ends (default 5 s).
func WithDrainGrace(d time.Duration) Option { return func(c *config) { c.drainGrace = d } }
