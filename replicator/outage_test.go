package replicator_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/replicator"
)

// The Kafka broker is down for a while mid-run: the shards stall with their
// records in flight (bounded), nothing is checkpointed past them, leases stay
// held, and when the broker returns everything is delivered in order.
func TestKafkaOutageMidRunRecovers(t *testing.T) {
	e := newTestEnv(t, 2, 2)
	in := e.start(e.config("w1"))
	e.write(5, 20)
	e.waitDelivered(20 * time.Second)
	out := in.r.Stats().RecordsOut

	e.kafka.Stop()
	e.write(5, 20)
	eventually(t, 20*time.Second, "the new records read while Kafka is down", func() bool {
		return in.r.Stats().RecordsIn == int64(len(e.writtenRecords()))
	})
	if got := in.r.Stats().RecordsOut; got != out {
		t.Fatalf("records acknowledged by a stopped broker: %d → %d", out, got)
	}
	if held := in.r.Stats().LeasesHeld; held != 2 {
		t.Errorf("leases held during the outage: %d, want 2", held)
	}
	if err := e.kafka.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.write(5, 20)
	rep := e.waitDelivered(60 * time.Second)
	t.Logf("after a Kafka outage: %s", rep)
}

// A graceful stop while Kafka is down cannot flush: it still finishes within
// ShutdownTimeout, checkpoints only what Kafka acknowledged, releases the
// leases and reports the stop as incomplete. A new instance then delivers
// every record (nothing lost).
func TestGracefulStopWithKafkaDown(t *testing.T) {
	e := newTestEnv(t, 2, 2)
	cfg := e.config("w1")
	cfg.ShutdownTimeout = 2 * time.Second
	in := e.start(cfg)
	e.write(5, 20)
	e.waitDelivered(20 * time.Second)
	acked := e.lastSeqs()

	e.kafka.Stop()
	e.write(5, 20)
	eventually(t, 20*time.Second, "the new records read while Kafka is down", func() bool {
		return in.r.Stats().RecordsIn == int64(len(e.writtenRecords()))
	})
	in.cancel()
	start := time.Now()
	var err error
	select {
	case err = <-in.done:
		in.done <- err
	case <-time.After(20 * time.Second):
		t.Fatalf("graceful stop with Kafka down still running after 20s (ShutdownTimeout %s)", cfg.ShutdownTimeout)
	}
	t.Logf("stop took %v: %v", time.Since(start), err)
	if !errors.Is(err, replicator.ErrShutdownIncomplete) {
		t.Errorf("Run = %v, want ErrShutdownIncomplete", err)
	}
	for _, l := range e.leases() {
		if l.Owner != "" {
			t.Errorf("lease %s still owned by %q: not released within the shutdown timeout", l.ShardID, l.Owner)
		}
		if l.Checkpoint != acked[l.ShardID] {
			t.Errorf("lease %s checkpoint %s, want %s (the last record Kafka acknowledged)", l.ShardID, l.Checkpoint, acked[l.ShardID])
		}
	}

	if err := e.kafka.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.start(e.config("w2"))
	e.waitDelivered(30 * time.Second)
}
