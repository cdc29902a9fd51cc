// Package sabotage holds deliberately broken parts, to prove that the
// checker and the lease watcher notice when a bridge breaks a promise: a
// scenario that passes with a sound bridge must fail with one of these
// swapped in.
//
// Contract:
//   - Sink wrappers (DroppingSink, DuplicatingSink, ReorderingSink,
//     SeparateCommitSink) break a bridge's Kafka writes of the data topic; Transforms (DroppingTransform,
//     FailingTransform) break its processing. Each misbehaves on a fixed,
//     countable subset (every n-th), so a run is reproducible.
//   - Lease-row damage (DeleteLeaseRow, CorruptLeaseRow, RestoreLeaseRow,
//     DeleteAllLeaseRows) edits a KCL lease table through DynamoDB directly.
//   - Nothing here imports the system under test: Sink has the method set of
//     a Kafka producer, and the in-process adapter (harness/bridges) plugs
//     these into Shardbridge.
package sabotage

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Sink is where a bridge's records go: the method set of a franz-go
// producer (*kgo.Client) and of Shardbridge's sink.
type Sink interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
	Flush(ctx context.Context) error
}

// SinkWrapper wraps a Sink.
type SinkWrapper func(Sink) Sink

// everyNth picks every n-th call (the n-th, 2n-th, ...). The broken parts
// misbehave on a fixed, countable subset rather than a random one, so a run
// is reproducible and the damage can be predicted. Safe for concurrent use:
// sinks and transformers are called from several shard goroutines.
type everyNth struct {
	n     int
	mu    sync.Mutex
	count int
}

// next counts one call and reports whether it is an n-th one.
func (e *everyNth) next() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.count++
	return e.count%e.n == 0
}

// DroppingSink acknowledges every n-th data record without writing it: a
// silent loss (the checkpoint moves past a record Kafka never got).
func DroppingSink(topic string, n int) SinkWrapper {
	return func(s Sink) Sink {
		return &droppingSink{inner: s, topic: topic, nth: everyNth{n: n}}
	}
}

type droppingSink struct {
	inner Sink
	topic string
	nth   everyNth
}

func (d *droppingSink) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	if r.Topic == d.topic && d.nth.next() {
		promise(r, nil)
		return
	}
	d.inner.Produce(ctx, r, promise)
}

func (d *droppingSink) Flush(ctx context.Context) error { return d.inner.Flush(ctx) }

// SeparateCommitSink writes the data topic's records through a producer of
// its own, outside the bridge's transaction, while the bridge's checkpoint
// still commits in the bridge's transaction: data and checkpoint in separate
// transactions (here the data's are a plain producer's, each record
// committed on its own). After a crash the next owner resumes from the last
// committed checkpoint and writes again records that were already
// committed: duplicates that an exactly-once verdict must catch. The
// producer is made from kafka (seed brokers, security) on first use and
// lives as long as the process.
func SeparateCommitSink(topic string, kafka []kgo.Opt) SinkWrapper {
	var (
		once sync.Once
		cl   *kgo.Client
		err  error
	)
	producer := func() (*kgo.Client, error) {
		once.Do(func() { cl, err = kgo.NewClient(kafka...) })
		return cl, err
	}
	return func(s Sink) Sink { return &separateCommitSink{inner: s, topic: topic, producer: producer} }
}

type separateCommitSink struct {
	inner    Sink
	topic    string
	producer func() (*kgo.Client, error)
}

func (d *separateCommitSink) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	if r.Topic != d.topic {
		d.inner.Produce(ctx, r, promise)
		return
	}
	cl, err := d.producer()
	if err != nil {
		promise(r, err)
		return
	}
	cl.Produce(ctx, r, promise)
}

func (d *separateCommitSink) Flush(ctx context.Context) error {
	if cl, err := d.producer(); err == nil {
		if err := cl.Flush(ctx); err != nil {
			return err
		}
	}
	return d.inner.Flush(ctx)
}

// DuplicatingSink writes every n-th data record twice.
func DuplicatingSink(topic string, n int) SinkWrapper {
	return func(s Sink) Sink {
		return &duplicatingSink{inner: s, topic: topic, nth: everyNth{n: n}}
	}
}

type duplicatingSink struct {
	inner Sink
	topic string
	nth   everyNth
}

func (d *duplicatingSink) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	if r.Topic == d.topic && d.nth.next() {
		extra := &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: append([]kgo.RecordHeader(nil), r.Headers...)}
		d.inner.Produce(ctx, extra, func(*kgo.Record, error) {})
	}
	d.inner.Produce(ctx, r, promise)
}

func (d *duplicatingSink) Flush(ctx context.Context) error { return d.inner.Flush(ctx) }

// ReorderingSink swaps consecutive data records of the same Kafka key: the
// second is written before the first (promises are still answered in the
// replicator's order, so only Kafka's order is wrong).
func ReorderingSink(topic string) SinkWrapper {
	return func(s Sink) Sink {
		return &reorderingSink{inner: s, topic: topic, held: map[string]*heldRecord{}}
	}
}

type heldRecord struct {
	r       *kgo.Record
	promise func(*kgo.Record, error)
	ctx     context.Context
	timer   *time.Timer
}

type reorderingSink struct {
	inner Sink
	topic string
	mu    sync.Mutex
	held  map[string]*heldRecord
}

func (s *reorderingSink) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	if r.Topic != s.topic {
		s.inner.Produce(ctx, r, promise)
		return
	}
	key := string(r.Key)
	s.mu.Lock()
	h := s.held[key]
	if h == nil {
		// Hold this one; a record of the same key arriving soon overtakes it.
		h = &heldRecord{r: r, promise: promise, ctx: ctx}
		s.held[key] = h
		h.timer = time.AfterFunc(20*time.Millisecond, func() { s.release(key, h) })
		s.mu.Unlock()
		return
	}
	delete(s.held, key)
	s.mu.Unlock()
	h.timer.Stop()
	// The newer record goes first; the promises are still answered in the
	// replicator's order (the first's, then the second's), without blocking
	// the client's promise goroutine.
	var (
		pmu       sync.Mutex
		firstDone bool
		second    *kgo.Record
		secondErr error
		secondIn  bool
	)
	s.inner.Produce(ctx, r, func(rec *kgo.Record, err error) {
		pmu.Lock()
		if firstDone {
			pmu.Unlock()
			promise(rec, err)
			return
		}
		second, secondErr, secondIn = rec, err, true
		pmu.Unlock()
	})
	s.inner.Produce(h.ctx, h.r, func(rec *kgo.Record, err error) {
		h.promise(rec, err)
		pmu.Lock()
		firstDone = true
		ready := secondIn
		pmu.Unlock()
		if ready {
			promise(second, secondErr)
		}
	})
}

func (s *reorderingSink) release(key string, h *heldRecord) {
	s.mu.Lock()
	if s.held[key] != h {
		s.mu.Unlock()
		return
	}
	delete(s.held, key)
	s.mu.Unlock()
	s.inner.Produce(h.ctx, h.r, h.promise)
}

func (s *reorderingSink) Flush(ctx context.Context) error {
	s.mu.Lock()
	var held []*heldRecord
	for k, h := range s.held {
		if h.timer.Stop() {
			held = append(held, h)
		}
		delete(s.held, k)
	}
	s.mu.Unlock()
	for _, h := range held {
		s.inner.Produce(h.ctx, h.r, h.promise)
	}
	return s.inner.Flush(ctx)
}

// Transform is a broken processing step: it gets one record's data and
// returns its outputs (none: dropped) or an error (dead-lettered).
type Transform func(data []byte) ([][]byte, error)

// DroppingTransform silently drops every n-th record (no output, no error),
// which a transform may legitimately do only when the run declares it as
// filtering.
func DroppingTransform(n int) Transform {
	nth := &everyNth{n: n}
	return func(data []byte) ([][]byte, error) {
		if nth.next() {
			return nil, nil
		}
		return [][]byte{data}, nil
	}
}

// ErrBrokenTransform is what FailingTransform fails with.
var ErrBrokenTransform = errors.New("deliberately broken transform")

// FailingTransform fails every n-th record, so valid records are
// dead-lettered: the DLQ then holds records that belong in the main topic.
func FailingTransform(n int) Transform {
	nth := &everyNth{n: n}
	return func(data []byte) ([][]byte, error) {
		if nth.next() {
			return nil, ErrBrokenTransform
		}
		return [][]byte{data}, nil
	}
}
