package replicator_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/replicator"
	"github.com/shardbridge/shardbridge/replicator/lease"
)

// latchSink passes records to Kafka until hold is called, then keeps them
// (and their promises) unanswered: records in flight that a graceful stop
// would wait for.
type latchSink struct {
	replicator.Sink
	mu      sync.Mutex
	holding bool
	held    int
}

func (s *latchSink) Produce(ctx context.Context, r *kgo.Record, p func(*kgo.Record, error)) {
	s.mu.Lock()
	if s.holding {
		s.held++
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.Sink.Produce(ctx, r, p)
}

func (s *latchSink) hold() {
	s.mu.Lock()
	s.holding = true
	s.mu.Unlock()
}

func (s *latchSink) heldCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

func (e *testEnv) topicCount(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := readAll(ctx, e.kafka.Brokers(), e.topic)
	if err != nil {
		t.Fatal(err)
	}
	return len(got)
}

func leaseMap(ls []lease.Lease) map[string]lease.Lease {
	m := make(map[string]lease.Lease, len(ls))
	for _, l := range ls {
		m[l.ShardID] = l
	}
	return m
}

// Abort is a crash: Run returns without waiting for the records in flight,
// nothing is checkpointed (although Kafka acknowledged records a graceful
// stop would checkpoint), the leases stay owned and are no longer renewed,
// nothing more reaches Kafka; a second instance takes the leases over after
// the failover time and delivers everything.
func TestAbortIsACrash(t *testing.T) {
	e := newTestEnv(t, 4, 8)
	cfg := e.config("w1")
	// Only a final checkpoint could move the checkpoints: a graceful stop
	// would write one for every acknowledged record, Abort must not.
	cfg.CheckpointInterval = time.Hour
	// A graceful stop would wait this long for the held records.
	cfg.ShutdownTimeout = time.Minute
	sink := &latchSink{}
	e.write(10, 40)
	in := e.start(cfg, replicator.WithSinkWrapper(func(s replicator.Sink) replicator.Sink {
		sink.Sink = s
		return sink
	}))
	e.waitDelivered(20 * time.Second)
	before := leaseMap(e.leases())
	if len(before) != 4 {
		t.Fatalf("%d leases, want 4", len(before))
	}
	for id, l := range before {
		if l.Owner != "w1" || l.Checkpoint != lease.TrimHorizon {
			t.Fatalf("lease %s before abort: owner %q checkpoint %q", id, l.Owner, l.Checkpoint)
		}
	}

	sink.hold()
	e.write(5, 40)
	eventually(t, 20*time.Second, "records in flight", func() bool { return sink.heldCount() >= 100 })

	aborted := make(chan struct{})
	go func() {
		in.r.Abort()
		close(aborted)
	}()
	// Generous bound, far below the graceful stop's minute of waiting.
	select {
	case <-aborted:
	case <-time.After(15 * time.Second):
		t.Fatal("Abort did not return within 15s")
	}
	select {
	case err := <-in.done:
		in.done <- err // for the cleanup's stop
		if !errors.Is(err, replicator.ErrAborted) {
			t.Fatalf("Run returned %v, want ErrAborted", err)
		}
	default:
		t.Fatal("Abort returned before Run did")
	}
	in.r.Abort() // idempotent

	afterAbort := leaseMap(e.leases())
	kafkaAfterAbort := e.topicCount(t)
	// Absence of writes needs time to pass: longer than a lease-manager
	// round (FailoverTime/3 = 1s) and many checkpoint intervals of a
	// running instance.
	time.Sleep(1500 * time.Millisecond)
	later := leaseMap(e.leases())
	for id, l := range before {
		a, b := afterAbort[id], later[id]
		if a.Owner != "w1" || b.Owner != "w1" {
			t.Errorf("lease %s: owner %q then %q after abort, want w1 (a crash releases nothing)", id, a.Owner, b.Owner)
		}
		if a.Checkpoint != l.Checkpoint || b.Checkpoint != l.Checkpoint {
			t.Errorf("lease %s: checkpoint %q → %q → %q: written at or after abort", id, l.Checkpoint, a.Checkpoint, b.Checkpoint)
		}
		if a.Counter != b.Counter {
			t.Errorf("lease %s: counter %d → %d after Abort returned: the lease is still renewed", id, a.Counter, b.Counter)
		}
	}
	if n := e.topicCount(t); n != kafkaAfterAbort {
		t.Errorf("topic grew from %d to %d records after Abort returned", kafkaAfterAbort, n)
	}
	if !e.logged(t, "aborting: no flush, no checkpoint, leases left to expire") {
		t.Error("no log line of the abort")
	}
	if e.logged(t, "stopping: finishing in-flight records, checkpointing, releasing leases") {
		t.Error("Abort went through the graceful stop")
	}

	// Failover: the leases expire and a new instance replays from the
	// (untouched) checkpoints; nothing is lost, order holds.
	in2 := e.start(e.config("w2"))
	e.write(5, 40)
	rep := e.waitDelivered(30 * time.Second)
	t.Logf("after abort and failover: %s", rep)
	eventually(t, 20*time.Second, "w2 to own every lease", func() bool {
		for _, l := range e.leases() {
			if l.Owner != "w2" {
				return false
			}
		}
		return true
	})
	if err := in2.stop(t); err != nil {
		t.Fatal(err)
	}
}
