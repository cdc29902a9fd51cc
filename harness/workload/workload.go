// Package workload writes records to a Kinesis stream for Shardbridge's chaos
// harness and remembers exactly what Kinesis acknowledged, so the checker can
// prove record by record what the replicator did with them.
//
// # Usage
//
//	w, err := workload.New(kinesisClient, "orders",
//		workload.WithProducers(4), workload.WithKeys(workload.ZipfKeys(100, 1.2)),
//		workload.WithTotal(10_000), workload.WithSeed(seed))
//	err = w.Run(ctx)          // blocks until the total is acknowledged or ctx ends
//	acks := w.Acked()         // what Kinesis acknowledged, in acknowledgement order
//
// # Records
//
// Every record's data is a JSON Payload {producer, key, seq, kind, sent_ms,
// pad}: seq counts per (producer, key) from 0, so (producer, key) is the unit
// of per-key order. Malformed records carry MalformedPrefix before the JSON
// (or are a corrupted KPL aggregate); oversized records are valid JSON padded
// past the Kafka topic's size limit. With WithAggregation(n), n consecutive
// records of one key travel as one KPL aggregate whose outer partition key is
// that key.
//
// # Guarantees
//
//   - Per-key order: a producer never has two Kinesis records of one key in
//     flight. Each PutRecords call carries at most one record (or aggregate)
//     per key, and a key's next record is not sent until the previous one is
//     acknowledged. Kinesis may reject entries of a call individually
//     (ProvisionedThroughputExceededException), and two entries of one key in
//     one call could otherwise land out of order. Hence, per (producer, key),
//     acknowledgement order, Kinesis sequence order and seq order agree.
//   - Nothing acknowledged is lost or re-sent: only entries that failed
//     individually, or whose call failed as a whole, are retried, with
//     exponential backoff and seeded jitter, until acknowledged or the
//     context ends.
//   - A call that fails as a whole (network error, 5xx, timeout) has an
//     unknown outcome: Kinesis may hold the records already. They are retried
//     and their Ack says Ambiguous, so an extra copy in Kafka under a
//     different sequence number is the producer's duplicate, not the
//     replicator's. Records still unacknowledged at the end whose outcome is
//     unknown are listed by Unconfirmed.
//
// A Workload runs once. All its methods are safe for concurrent use; Acked,
// Produced and Stats may be read while Run is in progress.
package workload

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// PutRecordsAPI is the part of *kinesis.Client a workload uses.
type PutRecordsAPI interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// Ack is one logical record Kinesis acknowledged (or, from Unconfirmed, one
// whose write outcome is unknown: then ShardID and SequenceNumber are empty).
type Ack struct {
	Producer int    `json:"producer"`
	Key      string `json:"key"`     // the record's partition key (the Kafka record key)
	KeySeq   int64  `json:"key_seq"` // per (Producer, Key) sequence, from 0
	ShardID  string `json:"shard_id"`
	// SequenceNumber is the Kinesis sequence number of the Kinesis record
	// carrying this record (for a sub-record: of its aggregate).
	SequenceNumber string `json:"sequence_number"`
	// SubSequence is the index in the KPL aggregate, or -1 for a plain record.
	SubSequence int64 `json:"sub_sequence"`
	// Kind says where the record must end up: the main topic (normal) or the
	// dead-letter topic (malformed, oversized).
	Kind Kind `json:"kind"`
	// PartitionKey is the partition key of the Kinesis record sent (for a
	// sub-record, its aggregate's outer key; equal to Key as this workload
	// aggregates per key).
	PartitionKey    string `json:"partition_key"`
	ExplicitHashKey string `json:"explicit_hash_key,omitempty"`
	// SubExplicitHashKey is the sub-record's own explicit hash key inside
	// its aggregate (WithSubRecordHashKeys), which may lie outside the
	// range of the shard the aggregate landed in; "" when it has none.
	SubExplicitHashKey string `json:"sub_explicit_hash_key,omitempty"`
	SentMs             int64  `json:"sent_ms"` // first send attempt, on the workload's clock
	// AckedMs is when Kinesis acknowledged the record, on the workload's
	// clock (0 for a record whose outcome is unknown): the start of the
	// replication lag the checker measures.
	AckedMs  int64 `json:"acked_ms,omitempty"`
	Bytes    int   `json:"bytes"` // payload size
	Attempts int   `json:"attempts"`
	// Ambiguous reports that an earlier attempt failed with an unknown
	// outcome, so Kinesis may also hold a copy under another sequence number.
	Ambiguous bool `json:"ambiguous,omitempty"`
}

// Stats are running counters of a workload.
type Stats struct {
	Generated     int64 // records generated (queued to send)
	Acked         int64 // records acknowledged by Kinesis
	Calls         int64 // PutRecords calls made
	FailedCalls   int64 // calls that failed as a whole (outcome unknown)
	EntryFailures int64 // entries Kinesis rejected individually (retried)
	Throttled     int64 // of which ProvisionedThroughputExceededException
}

// Workload is a set of producers writing to one stream.
type Workload struct {
	client PutRecordsAPI
	stream string
	cfg    config

	started atomic.Bool

	mu          sync.Mutex
	acks        []Ack
	unconfirmed []Ack

	produced      atomic.Int64
	generated     atomic.Int64
	calls         atomic.Int64
	failedCalls   atomic.Int64
	entryFailures atomic.Int64
	throttled     atomic.Int64
}

// New returns a workload writing to stream through client (a
// *kinesis.Client satisfies PutRecordsAPI).
func New(client PutRecordsAPI, stream string, opts ...Option) (*Workload, error) {
	if client == nil {
		return nil, errors.New("workload: nil Kinesis client")
	}
	if stream == "" {
		return nil, errors.New("workload: empty stream name")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	cfg.keys = cfg.keys.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	if cfg.malformedStyle == MalformedAuto {
		cfg.malformedStyle = MalformedJSON
		if cfg.aggregate > 1 {
			cfg.malformedStyle = MalformedAggregate
		}
	}
	return &Workload{client: client, stream: stream, cfg: cfg}, nil
}

// Run writes until the total is acknowledged (WithTotal) or ctx ends. It
// returns nil in both normal endings (ctx ending counts as normal only
// without a total), the first fatal Kinesis error (e.g. the stream does not
// exist), or an error when ctx ended before the total was reached.
func (w *Workload) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("workload: Run called twice")
	}
	n := w.cfg.producers
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		quota := int64(-1)
		if w.cfg.total > 0 {
			quota = w.cfg.total / int64(n)
			if int64(i) < w.cfg.total%int64(n) {
				quota++
			}
		}
		p := newProducer(w, i, quota)
		wg.Go(func() {
			if err := p.run(ctx); err != nil {
				errs[i] = fmt.Errorf("producer %d: %w", i, err)
				cancel() // one fatal error stops the others
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("workload: %w", err)
	}
	if w.cfg.total > 0 && w.produced.Load() < w.cfg.total {
		return fmt.Errorf("workload: stopped after %d of %d records: %w", w.produced.Load(), w.cfg.total, context.Cause(ctx))
	}
	return nil
}

// Acked returns a copy of every acknowledged record, in acknowledgement
// order (per producer and key, that is KeySeq order).
func (w *Workload) Acked() []Ack {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acks)
}

// Unconfirmed returns the records never acknowledged whose write outcome is
// unknown (a call failed as a whole, or was cut off at the end of Run):
// Kinesis may hold them. Final once Run has returned.
func (w *Workload) Unconfirmed() []Ack {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.unconfirmed)
}

// Produced returns how many records Kinesis has acknowledged so far.
func (w *Workload) Produced() int64 { return w.produced.Load() }

// Stats returns the running counters.
func (w *Workload) Stats() Stats {
	return Stats{
		Generated:     w.generated.Load(),
		Acked:         w.produced.Load(),
		Calls:         w.calls.Load(),
		FailedCalls:   w.failedCalls.Load(),
		EntryFailures: w.entryFailures.Load(),
		Throttled:     w.throttled.Load(),
	}
}

// unit is one Kinesis record to write: a plain record or a KPL aggregate of
// consecutive records of one key.
type unit struct {
	key, hashKey string
	kind         Kind
	firstSeq     int64
	sizes        []int // payload size per logical record
	padSeed      uint64

	data      []byte // built at the first attempt, then fixed
	subSizes  []int
	sentMs    int64
	attempts  int
	ambiguous bool
	done      bool
}

type producer struct {
	w       *Workload
	idx     int
	rng     *rand.Rand
	keys    *picker
	quota   int64 // records left to generate; -1 = unlimited
	units   int64 // Kinesis records generated, for the every-n choices
	nextSeq map[string]int64

	pending     []*unit
	pendingKeys map[string]int // pending units per key
	failures    int            // consecutive calls with a failure
}

func newProducer(w *Workload, idx int, quota int64) *producer {
	rng := rand.New(rand.NewPCG(uint64(w.cfg.seed), uint64(idx)+1))
	return &producer{
		w: w, idx: idx, rng: rng, keys: newPicker(w.cfg.keys, rng), quota: quota,
		nextSeq: map[string]int64{}, pendingKeys: map[string]int{},
	}
}

func (p *producer) run(ctx context.Context) error {
	cfg := &p.w.cfg
	var budget float64
	var last time.Time
	var tick *time.Ticker
	if cfg.rate > 0 {
		perProducer := cfg.rate / float64(cfg.producers)
		interval := min(max(time.Duration(float64(time.Second)/perProducer), time.Millisecond), 50*time.Millisecond)
		tick = time.NewTicker(interval)
		defer tick.Stop()
		last = time.Now()
	}
	defer p.finish()
	for ctx.Err() == nil {
		if cfg.rate > 0 {
			now := time.Now()
			perProducer := cfg.rate / float64(cfg.producers)
			// Cap the owed budget at one second so a long throttle does not
			// turn into a burst afterwards.
			budget = min(budget+perProducer*now.Sub(last).Seconds(), max(perProducer, 1))
			last = now
			for budget > 0 && p.canGenerate() {
				budget -= float64(len(p.generate().sizes))
			}
		} else {
			for p.canGenerate() && len(p.pendingKeys) < cfg.batchEntries {
				p.generate()
			}
		}
		if len(p.pending) == 0 {
			if p.quota == 0 || tick == nil {
				return nil
			}
			select { // rate mode: wait for budget
			case <-ctx.Done():
			case <-tick.C:
			}
			continue
		}
		failed, err := p.send(ctx)
		if err != nil {
			return err
		}
		if !failed {
			p.failures = 0
			continue
		}
		p.failures++
		if err := p.sleep(ctx, p.backoff()); err != nil {
			return nil // ctx ended; Run reports a missed total
		}
	}
	return nil
}

func (p *producer) canGenerate() bool {
	return p.quota != 0 && len(p.pending) < p.w.cfg.maxPending
}

// generate draws the next Kinesis record's key, kind and sizes now, so they
// follow from the seed alone whatever Kinesis does later.
func (p *producer) generate() *unit {
	cfg := &p.w.cfg
	key, hashKey := p.keys.next()
	p.units++
	kind := KindNormal
	switch {
	case cfg.malformedEvery > 0 && p.units%int64(cfg.malformedEvery) == 0:
		kind = KindMalformed
	case cfg.oversizedEvery > 0 && p.units%int64(cfg.oversizedEvery) == 0:
		kind = KindOversized
	}
	n := int64(1)
	if kind == KindNormal && cfg.aggregate > 1 {
		n = int64(cfg.aggregate)
	}
	if p.quota >= 0 {
		n = min(n, p.quota)
		p.quota -= n
	}
	u := &unit{key: key, hashKey: hashKey, kind: kind, firstSeq: p.nextSeq[key], padSeed: p.rng.Uint64()}
	p.nextSeq[key] += n
	for range n {
		size := cfg.minSize
		if cfg.maxSize > cfg.minSize {
			size += p.rng.IntN(cfg.maxSize - cfg.minSize + 1)
		}
		if kind == KindOversized {
			size = cfg.oversizedSize
		}
		u.sizes = append(u.sizes, size)
	}
	p.pending = append(p.pending, u)
	p.pendingKeys[key]++
	p.w.generated.Add(n)
	return u
}

func (p *producer) aggregated(u *unit) bool {
	return u.kind == KindNormal && p.w.cfg.aggregate > 1
}

// subHashKey is the explicit hash key of sub-record i of an aggregate: its
// own with WithSubRecordHashKeys, else the aggregate's.
func (p *producer) subHashKey(u *unit, i int) string {
	if ks := p.w.cfg.subHashKeys; len(ks) > 0 {
		return ks[i%len(ks)]
	}
	return u.hashKey
}

// build renders a unit's data at its first send attempt, so sent_ms is the
// time the record first left the producer rather than when it was queued.
func (p *producer) build(u *unit) error {
	cfg := &p.w.cfg
	u.sentMs = cfg.clock.Now().UnixMilli()
	padRng := rand.New(rand.NewPCG(u.padSeed, 0))
	fill := func(n int) string {
		const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
		b := make([]byte, n)
		for i := range b {
			b[i] = letters[padRng.IntN(len(letters))]
		}
		return string(b)
	}
	payload := func(i int, kind Kind) []byte {
		return Payload{Producer: p.idx, Key: u.key, Seq: u.firstSeq + int64(i), Kind: kind, SentMs: u.sentMs}.encode(u.sizes[i], fill)
	}
	switch {
	case u.kind == KindMalformed && cfg.malformedStyle == MalformedAggregate:
		inner := payload(0, KindNormal) // valid inside; the framing is what is broken
		agg, err := aggregate([]subRecord{{partitionKey: u.key, explicitHashKey: u.hashKey, data: inner}})
		if err != nil {
			return fmt.Errorf("aggregate: %w", err)
		}
		u.data = corruptAggregate(agg)
		u.subSizes = []int{len(u.data)}
	case p.aggregated(u):
		subs := make([]subRecord, len(u.sizes))
		for i := range subs {
			d := payload(i, KindNormal)
			subs[i] = subRecord{partitionKey: u.key, explicitHashKey: p.subHashKey(u, i), data: d}
			u.subSizes = append(u.subSizes, len(d))
		}
		agg, err := aggregate(subs)
		if err != nil {
			return fmt.Errorf("aggregate: %w", err)
		}
		u.data = agg
	default:
		u.data = payload(0, u.kind)
		u.subSizes = []int{len(u.data)}
	}
	return nil
}

// corruptAggregate keeps the KPL magic, drops the last byte of the protobuf
// (truncating its final length-delimited field) and recomputes the MD5, so
// the record is recognised as an aggregate but cannot be decoded.
func corruptAggregate(agg []byte) []byte {
	const magicLen, digestLen = 4, md5.Size
	body := agg[magicLen : len(agg)-digestLen-1]
	out := append(slices.Clone(agg[:magicLen]), body...)
	sum := md5.Sum(body)
	return append(out, sum[:]...)
}

// eligible picks the next call's units: in generation order, the oldest
// pending unit of each key (so a retried unit always precedes its key's later
// ones), within the PutRecords entry and byte limits.
func (p *producer) eligible() ([]*unit, error) {
	cfg := &p.w.cfg
	var batch []*unit
	seen := make(map[string]bool, len(p.pendingKeys))
	bytes := 0
	for _, u := range p.pending {
		if len(batch) == cfg.batchEntries || len(seen) == len(p.pendingKeys) {
			break
		}
		if seen[u.key] {
			continue
		}
		seen[u.key] = true
		if u.data == nil {
			if err := p.build(u); err != nil {
				return nil, err
			}
		}
		size := len(u.data) + len(u.key)
		if len(batch) > 0 && bytes+size > MaxBatchBytes {
			break
		}
		bytes += size
		batch = append(batch, u)
	}
	return batch, nil
}

// send makes one PutRecords call. failed reports whether anything must be
// retried; err is fatal.
func (p *producer) send(ctx context.Context) (failed bool, err error) {
	batch, err := p.eligible()
	if err != nil {
		return false, err
	}
	entries := make([]types.PutRecordsRequestEntry, len(batch))
	for i, u := range batch {
		u.attempts++
		entries[i] = types.PutRecordsRequestEntry{Data: u.data, PartitionKey: aws.String(u.key)}
		if u.hashKey != "" {
			entries[i].ExplicitHashKey = aws.String(u.hashKey)
		}
	}
	callCtx, cancel := p.callContext(ctx)
	out, err := p.w.client.PutRecords(callCtx, &kinesis.PutRecordsInput{StreamName: aws.String(p.w.stream), Records: entries})
	cancel()
	p.w.calls.Add(1)
	if err != nil {
		if code, fatal := fatalCode(err); fatal {
			return false, fmt.Errorf("PutRecords to %s: %s: %w", p.w.stream, code, err)
		}
		p.w.failedCalls.Add(1)
		for _, u := range batch {
			u.ambiguous = true
		}
		p.w.cfg.logger.Debug("PutRecords failed; retrying", "producer", p.idx, "entries", len(batch), "err", err)
		return true, nil
	}
	if len(out.Records) != len(batch) {
		// A malformed answer tells nothing about what was written.
		p.w.failedCalls.Add(1)
		for _, u := range batch {
			u.ambiguous = true
		}
		p.w.cfg.logger.Warn("PutRecords answered the wrong number of entries", "sent", len(batch), "got", len(out.Records))
		return true, nil
	}
	var acks []Ack
	ackedMs := p.w.cfg.clock.Now().UnixMilli()
	for i, r := range out.Records {
		u := batch[i]
		if r.ErrorCode != nil {
			failed = true
			p.w.entryFailures.Add(1)
			if *r.ErrorCode == "ProvisionedThroughputExceededException" {
				p.w.throttled.Add(1)
			}
			continue
		}
		if r.ShardId == nil || r.SequenceNumber == nil {
			failed, u.ambiguous = true, true
			continue
		}
		for _, a := range p.acksFor(u, *r.ShardId, *r.SequenceNumber) {
			a.AckedMs = ackedMs
			acks = append(acks, a)
		}
		u.done = true
		if p.pendingKeys[u.key]--; p.pendingKeys[u.key] == 0 {
			delete(p.pendingKeys, u.key)
		}
	}
	p.pending = slices.DeleteFunc(p.pending, func(u *unit) bool { return u.done })
	if len(acks) > 0 {
		p.w.mu.Lock()
		p.w.acks = append(p.w.acks, acks...)
		p.w.mu.Unlock()
		p.w.produced.Add(int64(len(acks)))
	}
	return failed, nil
}

// callContext lets the call in flight finish (bounded by the drain grace)
// after ctx ends, so its acknowledgements are known rather than ambiguous.
func (p *producer) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.w.cfg.callTimeout)
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(p.w.cfg.drainGrace, cancel)
		context.AfterFunc(callCtx, func() { t.Stop() })
	})
	return callCtx, func() { stop(); cancel() }
}

func (p *producer) acksFor(u *unit, shard, seq string) []Ack {
	acks := make([]Ack, len(u.sizes))
	for i := range acks {
		sub, subHashKey := int64(-1), ""
		if p.aggregated(u) {
			sub = int64(i)
			if len(p.w.cfg.subHashKeys) > 0 {
				subHashKey = p.subHashKey(u, i)
			}
		}
		size := u.subSizes[0]
		if i < len(u.subSizes) {
			size = u.subSizes[i]
		}
		acks[i] = Ack{
			Producer: p.idx, Key: u.key, KeySeq: u.firstSeq + int64(i),
			ShardID: shard, SequenceNumber: seq, SubSequence: sub, Kind: u.kind,
			PartitionKey: u.key, ExplicitHashKey: u.hashKey, SubExplicitHashKey: subHashKey, SentMs: u.sentMs,
			Bytes: size, Attempts: u.attempts, Ambiguous: u.ambiguous,
		}
	}
	return acks
}

// finish records every pending record whose outcome is unknown.
func (p *producer) finish() {
	var un []Ack
	for _, u := range p.pending {
		if !u.ambiguous {
			continue
		}
		un = append(un, p.acksFor(u, "", "")...)
	}
	if len(un) > 0 {
		p.w.mu.Lock()
		p.w.unconfirmed = append(p.w.unconfirmed, un...)
		p.w.mu.Unlock()
	}
}

func (p *producer) backoff() time.Duration {
	cfg := &p.w.cfg
	d := cfg.backoffMin << min(p.failures-1, 16)
	if d <= 0 || d > cfg.backoffMax {
		d = cfg.backoffMax
	}
	// Equal jitter: never zero, so a throttled shard gets real relief.
	return d/2 + time.Duration(p.rng.Int64N(int64(d/2)+1))
}

func (p *producer) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fatalCode reports errors that retrying cannot fix.
func fatalCode(err error) (string, bool) {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return "", false
	}
	switch code := apiErr.ErrorCode(); code {
	case "ResourceNotFoundException", "InvalidArgumentException", "ValidationException",
		"AccessDeniedException", "UnrecognizedClientException", "KMSAccessDeniedException",
		"KMSDisabledException", "KMSInvalidStateException", "KMSNotFoundException", "KMSOptInRequired":
		return code, true
	default:
		return code, false
	}
}
