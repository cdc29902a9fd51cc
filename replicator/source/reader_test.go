package source_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/fakes/clock"
	"github.com/shardbridge/shardbridge/fakes/fault"
	kinesisfake "github.com/shardbridge/shardbridge/fakes/kinesis"
	"github.com/shardbridge/shardbridge/replicator/lease"
	"github.com/shardbridge/shardbridge/replicator/source"
)

// env is a Kinesis emulator behind httptest, optionally behind the fault layer.
type env struct {
	clock *clock.Clock
	emu   *kinesisfake.Emulator
	inj   *fault.Injector
	api   *kinesis.Client
}

func newEnv(t *testing.T, shards int) *env {
	t.Helper()
	c := clock.New()
	e := &env{clock: c, emu: kinesisfake.New(kinesisfake.WithClock(c))}
	e.inj = fault.New(fault.WithClock(c), fault.WithSeed(1))
	srv := httptest.NewServer(e.inj.Middleware(e.emu))
	t.Cleanup(srv.Close)
	e.api = kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:   &http.Client{Timeout: 10 * time.Second},
	})
	if err := e.emu.CreateStream("s", shards); err != nil {
		t.Fatal(err)
	}
	return e
}

// put writes n records to the stream and returns their sequence numbers per
// shard, in order.
func (e *env) put(t *testing.T, n int) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for i := 0; i < n; i += 100 {
		var entries []types.PutRecordsRequestEntry
		for j := i; j < min(i+100, n); j++ {
			entries = append(entries, types.PutRecordsRequestEntry{
				PartitionKey: aws.String(fmt.Sprintf("key-%d", j%7)),
				Data:         []byte(fmt.Sprintf("record-%d", j)),
			})
		}
		res, err := e.api.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(res.FailedRecordCount) != 0 {
			t.Fatalf("%d records failed", aws.ToInt32(res.FailedRecordCount))
		}
		for _, r := range res.Records {
			out[aws.ToString(r.ShardId)] = append(out[aws.ToString(r.ShardId)], aws.ToString(r.SequenceNumber))
		}
	}
	return out
}

// spy records the GetShardIterator inputs and counts successful GetRecords.
type spy struct {
	source.KinesisAPI
	mu        sync.Mutex
	iterators []kinesis.GetShardIteratorInput
	gets      atomic.Int64
	afterIter func(n int)
}

func (s *spy) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, o ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	out, err := s.KinesisAPI.GetShardIterator(ctx, in, o...)
	s.mu.Lock()
	s.iterators = append(s.iterators, *in)
	n := len(s.iterators)
	s.mu.Unlock()
	if err == nil && s.afterIter != nil {
		s.afterIter(n)
	}
	return out, err
}

func (s *spy) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, o ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	out, err := s.KinesisAPI.GetRecords(ctx, in, o...)
	if err == nil {
		s.gets.Add(1)
	}
	return out, err
}

func (s *spy) iteratorInputs() []kinesis.GetShardIteratorInput {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]kinesis.GetShardIteratorInput(nil), s.iterators...)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func shardOf(t *testing.T, e *env) string {
	shards, err := source.ListShards(context.Background(), e.api, "s")
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(shards[0].ShardId)
}

// collect reads batches until the shard ends or want records arrived.
func collect(t *testing.T, out <-chan source.Batch, want int, stall <-chan struct{}, stallAfter int) []string {
	t.Helper()
	var seqs []string
	for batches := 0; len(seqs) < want; batches++ {
		if batches == stallAfter {
			<-stall
		}
		select {
		case b := <-out:
			for _, r := range b.Records {
				seqs = append(seqs, aws.ToString(r.SequenceNumber))
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no batch after %d records", len(seqs))
		}
	}
	return seqs
}

// The sink stalls after the first batch for longer than an iterator lives
// (the emulator clock moves 6 minutes); the reader must renew its iterator
// AFTER_SEQUENCE_NUMBER the last record it handed on: nothing skipped,
// nothing replayed.
func TestReaderRenewsExpiredIteratorAtLastHandedOnRecord(t *testing.T) {
	e := newEnv(t, 1)
	want := e.put(t, 30)
	shard := shardOf(t, e)
	sp := &spy{KinesisAPI: e.api}
	var expired atomic.Int64
	r := source.NewReader(sp, source.ReaderOptions{
		Stream: "s", ShardID: shard, Start: source.Position{Type: types.ShardIteratorTypeTrimHorizon},
		MaxRecords: 10, OnExpired: func() { expired.Add(1) },
	})
	out := make(chan source.Batch)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx, out) }()

	stall := make(chan struct{})
	var got []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = collect(t, out, 30, stall, 1)
	}()
	// Batch 1 handed on; batch 2 fetched (prefetch) and waiting to be handed on.
	eventually(t, "the prefetch of batch 2", func() bool { return sp.gets.Load() >= 2 })
	e.clock.Advance(6 * time.Minute)
	close(stall)
	<-done

	if len(got) != 30 {
		t.Fatalf("got %d records", len(got))
	}
	for i, s := range want[shard] {
		if got[i] != s {
			t.Fatalf("record %d: got %s want %s (skipped or replayed)", i, got[i], s)
		}
	}
	if expired.Load() != 1 {
		t.Errorf("expired iterators = %d, want 1", expired.Load())
	}
	its := sp.iteratorInputs()
	if len(its) != 2 {
		t.Fatalf("GetShardIterator calls = %d, want 2", len(its))
	}
	if its[1].ShardIteratorType != types.ShardIteratorTypeAfterSequenceNumber || aws.ToString(its[1].StartingSequenceNumber) != want[shard][19] {
		t.Errorf("renewal = %s %s, want AFTER_SEQUENCE_NUMBER %s (last record handed on)",
			its[1].ShardIteratorType, aws.ToString(its[1].StartingSequenceNumber), want[shard][19])
	}
	if r.LastHandedOn() != want[shard][29] {
		t.Errorf("LastHandedOn = %s", r.LastHandedOn())
	}
}

// When the iterator expires before anything was handed on, the reader starts
// again at its original position.
func TestReaderRenewsAtStartWhenNothingHandedOn(t *testing.T) {
	e := newEnv(t, 1)
	want := e.put(t, 5)
	shard := shardOf(t, e)
	sp := &spy{KinesisAPI: e.api}
	sp.afterIter = func(n int) {
		if n == 1 {
			e.clock.Advance(6 * time.Minute) // the first iterator is dead on arrival
		}
	}
	start := source.Position{Type: types.ShardIteratorTypeAtSequenceNumber, Sequence: want[shard][1]}
	r := source.NewReader(sp, source.ReaderOptions{Stream: "s", ShardID: shard, Start: start})
	out := make(chan source.Batch)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx, out) }()
	got := collect(t, out, 4, nil, -1)
	if got[0] != want[shard][1] || len(got) != 4 {
		t.Errorf("got %v, want from %s", got, want[shard][1])
	}
	its := sp.iteratorInputs()
	if len(its) != 2 || its[1].ShardIteratorType != types.ShardIteratorTypeAtSequenceNumber ||
		aws.ToString(its[1].StartingSequenceNumber) != want[shard][1] {
		t.Errorf("iterator calls %+v, want the original AT_SEQUENCE_NUMBER again", its)
	}
}

// GetRecords throttled by the fault layer: the reader backs off, counts the
// throttles and then delivers everything in order.
func TestReaderBacksOffWhenThrottledAndRecovers(t *testing.T) {
	e := newEnv(t, 1)
	want := e.put(t, 50)
	shard := shardOf(t, e)
	e.inj.Add(fault.Rule{Service: "kinesis", Operations: []string{"GetRecords"}, Count: 6, Action: fault.Throttle})
	var throttles atomic.Int64
	r := source.NewReader(e.api, source.ReaderOptions{
		Stream: "s", ShardID: shard, Start: source.Position{Type: types.ShardIteratorTypeTrimHorizon},
		BackoffBase: 2 * time.Millisecond, BackoffMax: 20 * time.Millisecond,
		OnThrottle: func(op string) {
			if op == "GetRecords" {
				throttles.Add(1)
			}
		},
	})
	out := make(chan source.Batch)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx, out) }()
	got := collect(t, out, 50, nil, -1)
	for i, s := range want[shard] {
		if got[i] != s {
			t.Fatalf("record %d: got %s want %s", i, got[i], s)
		}
	}
	if throttles.Load() != 6 || e.inj.Count(fault.Throttle) != 6 {
		t.Errorf("throttles seen %d, injected %d; want 6", throttles.Load(), e.inj.Count(fault.Throttle))
	}
}

// A closed shard read to its end yields an End batch with the children.
func TestReaderEndsAtShardEndWithChildren(t *testing.T) {
	e := newEnv(t, 1)
	e.put(t, 10)
	shard := shardOf(t, e)
	_, err := e.api.SplitShard(context.Background(), &kinesis.SplitShardInput{
		StreamName: aws.String("s"), ShardToSplit: aws.String(shard),
		NewStartingHashKey: aws.String("170141183460469231731687303715884105728"),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := source.NewReader(e.api, source.ReaderOptions{Stream: "s", ShardID: shard, Start: source.Position{Type: types.ShardIteratorTypeTrimHorizon}})
	out := make(chan source.Batch)
	errc := make(chan error, 1)
	go func() { errc <- r.Run(context.Background(), out) }()
	n := 0
	for b := range out {
		n += len(b.Records)
		if b.End {
			if len(b.ChildShards) != 2 {
				t.Errorf("children %+v", b.ChildShards)
			}
			break
		}
	}
	if err := <-errc; err != nil || n != 10 {
		t.Errorf("Run = %v after %d records", err, n)
	}
	shards, err := source.ListShards(context.Background(), e.api, "s")
	if err != nil {
		t.Fatal(err)
	}
	if kids := source.Children(shards, shard); len(kids) != 2 || kids[0].StartingHashKey == "" {
		t.Errorf("Children = %+v", kids)
	}
}

func TestListShardsPaginates(t *testing.T) {
	e := newEnv(t, 1)
	var pages atomic.Int64
	api := &pager{KinesisAPI: e.api, pages: &pages}
	if err := e.emu.CreateStream("wide", 7); err != nil {
		t.Fatal(err)
	}
	shards, err := source.ListShards(context.Background(), api, "wide")
	if err != nil {
		t.Fatal(err)
	}
	if len(shards) != 7 || pages.Load() != 4 {
		t.Errorf("%d shards in %d pages, want 7 in 4", len(shards), pages.Load())
	}
}

// pager asks for two shards per page.
type pager struct {
	source.KinesisAPI
	pages *atomic.Int64
}

func (p *pager) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	p.pages.Add(1)
	in.MaxResults = aws.Int32(2)
	return p.KinesisAPI.ListShards(ctx, in, o...)
}

func TestPlanLeases(t *testing.T) {
	shard := func(id, parent, adjacent string, closed bool) types.Shard {
		s := types.Shard{ShardId: aws.String(id), HashKeyRange: &types.HashKeyRange{StartingHashKey: aws.String("0"), EndingHashKey: aws.String("9")},
			SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")}}
		if parent != "" {
			s.ParentShardId = aws.String(parent)
		}
		if adjacent != "" {
			s.AdjacentParentShardId = aws.String(adjacent)
		}
		if closed {
			s.SequenceNumberRange.EndingSequenceNumber = aws.String("2")
		}
		return s
	}
	// 0 and 1 merged into 3; 2 split into 4 and 5; 2's parent (gone) was -000.
	shards := []types.Shard{
		shard("shardId-000000000005", "shardId-000000000002", "", false),
		shard("shardId-000000000000", "", "", true),
		shard("shardId-000000000001", "", "", true),
		shard("shardId-000000000002", "", "", true),
		shard("shardId-000000000003", "shardId-000000000000", "shardId-000000000001", false),
		shard("shardId-000000000004", "shardId-000000000002", "", false),
	}
	ids := func(ls []lease.Lease) (out []string) {
		for _, l := range ls {
			out = append(out, l.ShardID[len(l.ShardID)-1:]+"@"+l.Checkpoint)
		}
		return out
	}
	got := ids(source.PlanLeases(shards, nil, lease.TrimHorizon))
	want := "[0@TRIM_HORIZON 1@TRIM_HORIZON 2@TRIM_HORIZON 3@TRIM_HORIZON 4@TRIM_HORIZON 5@TRIM_HORIZON]"
	if fmt.Sprint(got) != want {
		t.Errorf("TRIM_HORIZON plan %v, want %s", got, want)
	}
	plan := source.PlanLeases(shards, nil, lease.TrimHorizon)
	if fmt.Sprint(plan[3].ParentShardIDs) != "[shardId-000000000000 shardId-000000000001]" || plan[3].StartingHashKey != "0" {
		t.Errorf("merge child lease %+v", plan[3])
	}
	got = ids(source.PlanLeases(shards, []lease.Lease{{ShardID: "shardId-000000000002"}}, lease.Latest))
	if fmt.Sprint(got) != "[3@LATEST 4@TRIM_HORIZON 5@TRIM_HORIZON]" {
		t.Errorf("LATEST plan %v", got)
	}
	got = ids(source.PlanLeases(shards, []lease.Lease{{ShardID: "shardId-000000000000"}, {ShardID: "shardId-000000000004"}}, lease.AtTimestamp))
	if fmt.Sprint(got) != "[1@AT_TIMESTAMP 2@AT_TIMESTAMP 3@AT_TIMESTAMP 5@AT_TIMESTAMP]" {
		t.Errorf("AT_TIMESTAMP plan with existing leases %v", got)
	}
}
