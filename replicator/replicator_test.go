package replicator_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardbridge/shardbridge/replicator/lease"
	"github.com/shardbridge/shardbridge/replicator/source"
)

// lastSeqs returns the last sequence number written to each shard.
func (e *testEnv) lastSeqs() map[string]string {
	out := map[string]string{}
	for _, w := range e.writtenRecords() {
		out[w.Shard] = w.Seq // written in order per shard
	}
	return out
}

func TestOneInstance(t *testing.T) {
	e := newTestEnv(t, 4, 8)
	e.write(10, 40) // a backlog before start
	in := e.start(e.config("w1"))
	e.write(10, 40) // and records while running
	rep := e.waitDelivered(20 * time.Second)
	if rep.Duplicates != 0 {
		t.Errorf("%d duplicates without any failure", rep.Duplicates)
	}

	st := in.r.Stats()
	if st.LeasesHeld != 4 || st.RecordsOut != 800 || st.RecordsIn != 800 {
		t.Errorf("stats %+v", st)
	}
	// /metrics and /readyz through the replicator's handler.
	h := in.r.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 200 {
		t.Errorf("/readyz = %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	for _, want := range []string{"replicator_records_out_total 800", "replicator_leases_held 4", "replicator_millis_behind_latest{shard=",
		"replicator_checkpoint_age_seconds{shard=", "replicator_produce_latency_seconds_count 800"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	var payloadBytes int
	for _, w := range e.writtenRecords() {
		payloadBytes += len(payload(w.Key, w.N))
	}
	for series, want := range map[string]float64{
		"replicator_records_in_total": 800, "replicator_records_out_total": 800,
		"replicator_bytes_in_total": float64(payloadBytes), "replicator_bytes_out_total": float64(payloadBytes),
		"replicator_records_dlq_total": 0, "replicator_leases_held": 4,
	} {
		if got := in.metric(t, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if !e.logged(t, "lease acquired") || !e.logged(t, "shard started") {
		t.Error("no JSON log line of leases taken and shards started")
	}

	// Graceful stop: final checkpoints at the last record, leases released.
	if err := in.stop(t); err != nil {
		t.Fatal(err)
	}
	last := e.lastSeqs()
	for _, l := range e.leases() {
		if l.Owner != "" {
			t.Errorf("lease %s still owned by %s after a graceful stop", l.ShardID, l.Owner)
		}
		if l.Checkpoint != last[l.ShardID] || l.SubSequence != 0 { // the KCL's 0 for a whole record
			t.Errorf("lease %s checkpoint %s/%d, want %s/0", l.ShardID, l.Checkpoint, l.SubSequence, last[l.ShardID])
		}
	}

	// A restart resumes after the checkpoints: no duplicates.
	e.start(e.config("w2"))
	e.write(2, 40)
	if rep := e.waitDelivered(20 * time.Second); rep.Duplicates != 0 {
		t.Errorf("restart after a graceful stop replayed %d records", rep.Duplicates)
	}
}

// Three instances: two start, a third joins mid-stream and takes a share,
// then one leaves (graceful) and its shards move on.
func TestThreeInstancesJoinAndLeave(t *testing.T) {
	e := newTestEnv(t, 6, 6)
	a := e.start(e.config("a"))
	b := e.start(e.config("b"))
	stopWriting := e.writeUntilStopped(30, 50*time.Millisecond)
	eventually(t, 15*time.Second, "a and b to share the shards", func() bool {
		return a.r.Stats().LeasesHeld+b.r.Stats().LeasesHeld == 6 && a.r.Stats().LeasesHeld > 0 && b.r.Stats().LeasesHeld > 0
	})
	c := e.start(e.config("c"))
	eventually(t, 15*time.Second, "c to take leases", func() bool { return c.r.Stats().LeasesHeld >= 1 })
	if err := b.stop(t); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "a and c to hold every shard", func() bool {
		return a.r.Stats().LeasesHeld+c.r.Stats().LeasesHeld == 6
	})
	eventually(t, 15*time.Second, "the joining instance to replicate", func() bool { return c.r.Stats().RecordsOut > 0 })
	stopWriting()
	rep := e.waitDelivered(30 * time.Second)
	t.Logf("three instances: %s", rep)
	if !e.logged(t, "lease stolen", "worker", "c") || !e.logged(t, "lease released", "worker", "b") {
		t.Error("no JSON log line of the joining instance stealing, or of the leaving one releasing")
	}
}

// A split and a merge while records flow: children wait for their parents,
// per-key order survives, parents end at SHARD_END.
func TestSplitAndMerge(t *testing.T) {
	e := newTestEnv(t, 2, 4)
	e.start(e.config("a"))
	e.start(e.config("b"))
	e.write(5, 30)
	shards, err := source.ListShards(context.Background(), e.kinAPI, e.stream)
	if err != nil {
		t.Fatal(err)
	}
	s0, s1 := aws.ToString(shards[0].ShardId), aws.ToString(shards[1].ShardId)
	// Split shard 0 in the middle of its range.
	if _, err := e.kinAPI.SplitShard(context.Background(), &kinesis.SplitShardInput{
		StreamName: aws.String(e.stream), ShardToSplit: aws.String(s0),
		NewStartingHashKey: aws.String("85070591730234615865843651857942052864"),
	}); err != nil {
		t.Fatal(err)
	}
	e.write(5, 30)
	// Merge shard 1 with the adjacent upper child of the split.
	shards, err = source.ListShards(context.Background(), e.kinAPI, e.stream)
	if err != nil {
		t.Fatal(err)
	}
	var upper string
	for _, s := range shards {
		if source.Open(s) && aws.ToString(s.ParentShardId) == s0 &&
			aws.ToString(s.HashKeyRange.EndingHashKey) == aws.ToString(shards[0].HashKeyRange.EndingHashKey) {
			upper = aws.ToString(s.ShardId)
		}
	}
	if upper == "" {
		t.Fatalf("no upper child of %s in %v", s0, shards)
	}
	if _, err := e.kinAPI.MergeShards(context.Background(), &kinesis.MergeShardsInput{
		StreamName: aws.String(e.stream), ShardToMerge: aws.String(upper), AdjacentShardToMerge: aws.String(s1),
	}); err != nil {
		t.Fatal(err)
	}
	e.write(5, 30)
	e.waitDelivered(30 * time.Second)

	eventually(t, 10*time.Second, "parents at SHARD_END", func() bool {
		ended := 0
		for _, l := range e.leases() {
			if l.Checkpoint == lease.ShardEnd && (l.ShardID == s0 || l.ShardID == s1 || l.ShardID == upper) {
				ended++
			}
		}
		return ended == 3
	})
	var merged lease.Lease
	for _, l := range e.leases() {
		if len(l.ParentShardIDs) == 2 {
			merged = l
		}
	}
	if merged.ShardID == "" || !strings.Contains(strings.Join(merged.ParentShardIDs, ","), s1) {
		t.Errorf("merge child lease %+v", merged)
	}
	for _, id := range []string{s0, s1, upper} {
		if !e.logged(t, "shard ended", "shard", id) {
			t.Errorf("no JSON log line of shard %s ending", id)
		}
	}
}

// A parent shard trimmed away by retention before it was read (its lease
// exists, the shard does not) must not block its children: the reader finds
// the shard gone, finishes its lease, and the children are read.
func TestTrimmedParentDoesNotBlockChildren(t *testing.T) {
	e := newTestEnv(t, 1, 2)
	e.write(3, 10)
	shards, err := source.ListShards(context.Background(), e.kinAPI, e.stream)
	if err != nil {
		t.Fatal(err)
	}
	parent := aws.ToString(shards[0].ShardId)
	if _, err := e.kinAPI.SplitShard(context.Background(), &kinesis.SplitShardInput{
		StreamName: aws.String(e.stream), ShardToSplit: aws.String(parent),
		NewStartingHashKey: aws.String("170141183460469231731687303715884105728"),
	}); err != nil {
		t.Fatal(err)
	}
	// Leases for the parent and both children exist before the trim.
	mgr := lease.NewManager(e.ddbAPI, e.app, "setup")
	if err := mgr.EnsureTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, n, err := source.SyncLeases(context.Background(), e.kinAPI, mgr, e.stream, lease.TrimHorizon); err != nil || n != 3 {
		t.Fatalf("SyncLeases: %d leases, %v", n, err)
	}
	e.clock.Advance(time.Second)
	if err := e.kin.TrimBefore(e.stream, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	before := len(e.writtenRecords())
	e.write(3, 10)
	in := e.start(e.config("w1"))
	e.waitTopic(e.topic, e.writtenRecords()[before:], 20*time.Second)
	eventually(t, 10*time.Second, "the trimmed parent's lease at SHARD_END", func() bool {
		for _, l := range e.leases() {
			if l.ShardID == parent {
				return l.Checkpoint == lease.ShardEnd
			}
		}
		return false
	})
	if in.r.Stats().ShardsEnded != 1 {
		t.Errorf("shards ended %d, want 1", in.r.Stats().ShardsEnded)
	}
}
