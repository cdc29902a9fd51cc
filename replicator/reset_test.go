package replicator_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/replicator/admin"
	"github.com/shardbridge/shardbridge/replicator/config"
	"github.com/shardbridge/shardbridge/replicator/lease"
)

// adminTools are the operator commands' tools over the test environment.
func (e *testEnv) adminTools(mode string, failover time.Duration) admin.Tools {
	t := admin.Tools{DynamoDB: e.ddbAPI, Kinesis: e.kinAPI, Table: e.app, Stream: e.stream, FailoverTime: failover}
	if mode == config.ExactlyOnce {
		t.Kafka = []kgo.Opt{kgo.SeedBrokers(e.brokers...)}
		t.CheckpointTopic = e.app + config.CheckpointTopicSuffix
	}
	return t
}

// copies counts each written record's copies on the topic.
func (e *testEnv) copies(t *testing.T) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := readAll(ctx, e.brokers, e.topic)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, r := range got {
		if shard, seq, sub, ok := idempotencyKey(r); ok {
			n[recordID(shard, seq, sub)]++
		}
	}
	return n
}

// After a reset (every instance stopped), a replicator replays from the
// position: TRIM_HORIZON replays everything, AT_TIMESTAMP what arrived from
// then on; in exactly-once mode too, where the Kafka checkpoint would
// otherwise win over the lease row. A reset while an instance runs is
// refused, naming it.
func TestResetReplays(t *testing.T) {
	for _, mode := range []string{config.AtLeastOnce, config.ExactlyOnce} {
		for _, pos := range []string{lease.TrimHorizon, lease.AtTimestamp} {
			t.Run(mode+"/"+pos, func(t *testing.T) { resetReplays(t, mode, pos) })
		}
	}
}

func resetReplays(t *testing.T, mode, pos string) {
	e := newTestEnv(t, 2, 2)
	cfg := e.config("w1")
	cfg.DeliveryMode = mode
	e.write(3, 4)
	before := e.writtenRecords()
	in := e.start(cfg)
	e.waitDelivered(20 * time.Second)
	time.Sleep(100 * time.Millisecond) // arrival times of the two batches differ
	at := e.clock.Now()
	time.Sleep(100 * time.Millisecond)
	e.write(3, 4)
	e.waitDelivered(20 * time.Second)

	tools := e.adminTools(mode, cfg.FailoverTime)
	o := admin.ResetOptions{Position: pos}
	if pos == lease.AtTimestamp {
		o.At = at
	}
	_, err := tools.Reset(context.Background(), o)
	if !errors.Is(err, admin.ErrHeld) || !strings.Contains(err.Error(), "worker w1 holds") {
		t.Fatalf("reset while w1 runs: %v, want a refusal naming w1", err)
	}
	if err := in.stop(t); err != nil {
		t.Fatal(err)
	}
	done, err := tools.Reset(context.Background(), o)
	if err != nil || len(done) != 2 {
		t.Fatalf("reset after the stop: %v, %+v", err, done)
	}
	for _, l := range e.leases() {
		if l.Checkpoint != pos || l.Owner != "" {
			t.Errorf("after reset: %+v", l)
		}
	}

	cfg2 := e.config("w2")
	cfg2.DeliveryMode = mode
	e.start(cfg2)
	replayed := map[string]bool{}
	for _, w := range e.writtenRecords() {
		replayed[w.id()] = true
	}
	if pos == lease.AtTimestamp {
		for _, w := range before {
			replayed[w.id()] = false
		}
	}
	eventually(t, 30*time.Second, "the replay", func() bool {
		n := e.copies(t)
		for id, again := range replayed {
			if again && n[id] < 2 {
				return false
			}
		}
		return true
	})
	time.Sleep(500 * time.Millisecond) // time for a wrong replay to show
	n := e.copies(t)
	for id, again := range replayed {
		want := 1
		if again {
			want = 2
		}
		// One instance at a time, stopped gracefully: no copy beyond the
		// replay's, at-least-once included.
		if n[id] != want {
			t.Errorf("%s: %d copies, want %d", id, n[id], want)
		}
	}
}

// --force resets over a dead holder (an instance that crashed: its leases
// stay owned) once the failover time has passed without its counters
// moving, and refuses over a live one, naming it.
func TestResetForce(t *testing.T) {
	e := newTestEnv(t, 2, 2)
	cfg := e.config("w1")
	e.write(1, 4)
	in := e.start(cfg)
	e.waitDelivered(20 * time.Second)
	eventually(t, 10*time.Second, "w1 holds both leases", func() bool {
		ls := e.leases()
		return len(ls) == 2 && ls[0].Owner == "w1" && ls[1].Owner == "w1"
	})
	tools := e.adminTools(config.AtLeastOnce, cfg.FailoverTime)
	o := admin.ResetOptions{Position: lease.TrimHorizon, Force: true}
	_, err := tools.Reset(context.Background(), o)
	if !errors.Is(err, admin.ErrHeld) || !strings.Contains(err.Error(), "live workers: worker w1 holds") {
		t.Fatalf("forced reset over a live w1: %v, want a refusal naming w1", err)
	}
	in.r.Abort() // a crash: the leases stay owned, nobody renews them
	if _, err := tools.Reset(context.Background(), admin.ResetOptions{Position: lease.TrimHorizon}); !errors.Is(err, admin.ErrHeld) {
		t.Fatalf("reset without --force over a crashed holder: %v, want a refusal", err)
	}
	start := time.Now()
	done, err := tools.Reset(context.Background(), o)
	if err != nil || len(done) != 2 || done[0].Owner != "w1" {
		t.Fatalf("forced reset over a dead w1: %v, %+v", err, done)
	}
	if waited := time.Since(start); waited < cfg.FailoverTime {
		t.Errorf("forced reset after %v, before the failover time %v", waited, cfg.FailoverTime)
	}
	for _, l := range e.leases() {
		if l.Owner != "" || l.Checkpoint != lease.TrimHorizon {
			t.Errorf("after the forced reset: %+v", l)
		}
	}
}
