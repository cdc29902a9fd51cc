package replicator_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/replicator/config"
	"github.com/shardbridge/shardbridge/replicator/lease"
	"github.com/shardbridge/shardbridge/replicator/partition"
)

// A lease is stolen from a running instance (another worker rebalances):
// the instance stops processing that shard at once — it reads nothing more
// from it and never checkpoints it again — and carries on with its other
// shard.
func TestLostLeaseStopsShardAtOnce(t *testing.T) {
	e := newTestEnv(t, 2, 2)
	in := e.start(e.config("w1"))
	e.write(5, 20)
	e.waitDelivered(20 * time.Second)

	// The thief only holds leases (it processes nothing): whatever of the
	// stolen shard reaches Kafka afterwards came from the zombie.
	thief := lease.NewManager(e.ddbAPI, e.app, "thief", lease.WithFailoverTime(3*time.Second),
		lease.WithLogger(slog.New(slog.DiscardHandler)))
	ctx, cancel := context.WithCancel(context.Background())
	thiefDone := make(chan struct{})
	go func() { defer close(thiefDone); _ = thief.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-thiefDone })
	eventually(t, 20*time.Second, "the thief to steal a lease and w1 to let go of its shard", func() bool {
		st := in.r.Stats()
		return len(thief.Held()) == 1 && st.LeasesHeld == 1 && len(st.Shards) == 1
	})
	stolen := thief.Held()[0].ShardID
	checkpointAt := func() string {
		for _, l := range e.leases() {
			if l.ShardID == stolen {
				return l.Checkpoint
			}
		}
		return ""
	}
	cp := checkpointAt()

	before := len(e.writtenRecords())
	e.write(5, 20)
	kept := e.writtenRecords()[:before]
	orphans := map[string]bool{}
	for _, w := range e.writtenRecords()[before:] {
		if w.Shard == stolen {
			orphans[w.Seq] = true
		} else {
			kept = append(kept, w)
		}
	}
	if len(orphans) == 0 {
		t.Fatal("no record written to the stolen shard")
	}
	// The other shard's new records are delivered: time enough for a zombie
	// reader (polling the same way) to have delivered the stolen shard's.
	e.waitTopic(e.topic, kept, 20*time.Second)
	for _, r := range readTopic(t, e, e.topic) {
		if header(r, "kinesis.shard") == stolen && orphans[header(r, "kinesis.seq")] {
			t.Fatalf("record %s of the stolen shard %s was replicated by the instance that lost it", header(r, "kinesis.seq"), stolen)
		}
	}
	if got := checkpointAt(); got != cp {
		t.Errorf("stolen shard's checkpoint moved from %s to %s after the theft", cp, got)
	}
	if !e.logged(t, "lease lost", "shard", stolen) || !e.logged(t, "stopping shard at once", "shard", stolen) {
		t.Error("no JSON log line of the lost lease and the shard's stop")
	}
	if v := in.metric(t, `replicator_lease_events_total{kind="lost"}`); v != 1 {
		t.Errorf("lease_events_total{kind=lost} = %v, want 1", v)
	}
}

// AT_TIMESTAMP: shards without a checkpoint start at the first record that
// arrived at or after REPLICATOR_INITIAL_TIMESTAMP.
func TestInitialPositionAtTimestamp(t *testing.T) {
	e := newTestEnv(t, 2, 2)
	e.write(5, 10)
	old := len(e.writtenRecords())
	e.clock.Advance(time.Minute)
	ts := e.clock.Now()
	e.clock.Advance(time.Minute)
	e.write(5, 10)
	fresh := e.writtenRecords()[old:]

	cfg := e.config("w1")
	cfg.InitialPosition, cfg.InitialTimestamp = config.AtTimestamp, ts
	e.start(cfg)
	rep := e.waitTopic(e.topic, fresh, 20*time.Second)
	if rep.Read != len(fresh) || rep.Unknown != 0 {
		t.Errorf("AT_TIMESTAMP replicated records from before the timestamp: %s", rep)
	}
}

// A lease row deleted by hand while held (catalogue #9) is put back by its
// holder at its last checkpoint, unowned, and taken again: the shard goes on
// from there, so with everything checkpointed nothing is read twice (shard
// sync, which would recreate it at the initial position, waits its grace).
func TestDeletedLeaseRowIsPutBackByItsHolder(t *testing.T) {
	e := newTestEnv(t, 2, 2)
	in := e.start(e.config("w1"))
	e.write(5, 20)
	e.waitDelivered(20 * time.Second)
	victim := e.leases()[0].ShardID
	last := ""
	for _, w := range e.writtenRecords() {
		if w.Shard == victim && (last == "" || len(w.Seq) > len(last) || (len(w.Seq) == len(last) && w.Seq > last)) {
			last = w.Seq
		}
	}
	eventually(t, 20*time.Second, "the victim checkpointed at its last record", func() bool {
		for _, l := range e.leases() {
			if l.ShardID == victim {
				return l.Checkpoint == last
			}
		}
		return false
	})
	if err := lease.NewManager(e.ddbAPI, e.app, "operator").DeleteLease(context.Background(), victim); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the deleted lease put back at its checkpoint and taken again", func() bool {
		if !e.logged(t, "lease row was deleted while held; recreated it unowned at this worker's last checkpoint", "shard", victim) {
			return false
		}
		for _, l := range e.leases() {
			if l.ShardID == victim {
				return l.Owner == "w1" && l.Checkpoint == last && in.r.Stats().LeasesHeld == 2
			}
		}
		return false
	})
	e.write(5, 20)
	rep := e.waitDelivered(30 * time.Second)
	if rep.Duplicates != 0 {
		t.Errorf("%d duplicates: the recreated lease did not resume %s at its checkpoint (%s)", rep.Duplicates, victim, rep)
	}
	if e.logged(t, "leases created", "count", "1") {
		t.Error("shard sync recreated the lease although its holder put it back")
	}
}

// The Kafka record is exactly the one docs/architecture.md describes ("The
// replicator", step 5): key = partition key, value = data, headers
// kinesis.stream, kinesis.shard, kinesis.seq, kinesis.arrival_ms (no
// kinesis.subseq for a plain record), in that order, with the arrival time
// Kinesis reported; the partition is murmur2 of the key.
func TestKafkaRecordContract(t *testing.T) {
	e := newTestEnv(t, 2, 2)
	from := e.clock.Now().Add(-time.Second).UnixMilli()
	e.write(2, 10)
	to := e.clock.Now().Add(time.Second).UnixMilli()
	e.start(e.config("w1"))
	e.waitDelivered(20 * time.Second)
	want := map[string]putRecord{}
	for _, w := range e.writtenRecords() {
		want[w.Seq] = w
	}
	for _, r := range readTopic(t, e, e.topic) {
		var keys []string
		for _, h := range r.Headers {
			keys = append(keys, h.Key)
		}
		if got := strings.Join(keys, ","); got != "kinesis.stream,kinesis.shard,kinesis.seq,kinesis.arrival_ms" {
			t.Fatalf("headers %s", got)
		}
		w := want[header(r, "kinesis.seq")]
		if header(r, "kinesis.stream") != e.stream || header(r, "kinesis.shard") != w.Shard ||
			string(r.Key) != w.Key || string(r.Value) != string(payload(w.Key, w.N)) {
			t.Fatalf("record %s/%s key %q value %q headers %v, want %+v", r.Topic, header(r, "kinesis.seq"), r.Key, r.Value, r.Headers, w)
		}
		if want := partition.KeyPartition(r.Key, 2); r.Partition != want {
			t.Fatalf("key %q in partition %d, want %d (murmur2, as Java's default partitioner)", r.Key, r.Partition, want)
		}
		ms, err := strconv.ParseInt(header(r, "kinesis.arrival_ms"), 10, 64)
		if err != nil || ms < from || ms > to {
			t.Fatalf("kinesis.arrival_ms %q outside the writes' [%d, %d]", header(r, "kinesis.arrival_ms"), from, to)
		}
	}
}
