package harness

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/replicator"
	"github.com/shardbridge/shardbridge/replicator/process"
)

// Deliberately broken parts, to prove that the checker notices when the
// replicator breaks a promise: a scenario that passes with the real
// replicator must fail with one of these swapped in.

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
	return func(s replicator.Sink) replicator.Sink {
		return &droppingSink{inner: s, topic: topic, nth: everyNth{n: n}}
	}
}

type droppingSink struct {
	inner replicator.Sink
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

// DuplicatingSink writes every n-th data record twice.
func DuplicatingSink(topic string, n int) SinkWrapper {
	return func(s replicator.Sink) replicator.Sink {
		return &duplicatingSink{inner: s, topic: topic, nth: everyNth{n: n}}
	}
}

type duplicatingSink struct {
	inner replicator.Sink
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
	return func(s replicator.Sink) replicator.Sink {
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
	inner replicator.Sink
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

// DroppingTransformer silently drops every n-th record (returns no output
// and no error), which a transform may legitimately do only when the run
// declares it as filtering.
func DroppingTransformer(n int) process.Transformer {
	return &droppingTransformer{nth: everyNth{n: n}}
}

type droppingTransformer struct{ nth everyNth }

func (d *droppingTransformer) Transform(_ context.Context, r process.Record) ([]process.Record, error) {
	if d.nth.next() {
		return nil, nil
	}
	return []process.Record{r}, nil
}

// FailingTransformer fails every n-th record, so valid records are
// dead-lettered: the DLQ then holds records that belong in the main topic.
func FailingTransformer(n int) process.Transformer {
	return &failingTransformer{nth: everyNth{n: n}}
}

type failingTransformer struct{ nth everyNth }

var errBrokenTransform = errors.New("deliberately broken transform")

func (f *failingTransformer) Transform(_ context.Context, r process.Record) ([]process.Record, error) {
	if f.nth.next() {
		return nil, errBrokenTransform
	}
	return []process.Record{r}, nil
}
