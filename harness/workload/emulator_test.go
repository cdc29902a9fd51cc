package workload_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/fakes/clock"
	"github.com/shardbridge/shardbridge/fakes/kinesis"
	"github.com/shardbridge/shardbridge/harness/workload"
)

// emulated starts the in-process Kinesis emulator (real-time clock, so its
// write limits refill) with one stream and returns an SDK client for it.
func emulated(t *testing.T, stream string, shards int) (*kinesis.Emulator, *sdk.Client) {
	t.Helper()
	emu := kinesis.New(kinesis.WithClock(clock.New()))
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	if err := emu.CreateStream(stream, shards); err != nil {
		t.Fatal(err)
	}
	c := sdk.New(sdk.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient:   &http.Client{Transport: kinesis.SDKTransport(nil)},
	})
	return emu, c
}

type kinesisRecord struct {
	shard, seq string
	pk         string
	data       []byte
}

// readAll reads every shard from TRIM_HORIZON to its current end.
func readAll(ctx context.Context, t *testing.T, c *sdk.Client, stream string) ([]types.Shard, []kinesisRecord) {
	t.Helper()
	shards, err := c.ListShards(ctx, &sdk.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	var out []kinesisRecord
	for _, sh := range shards.Shards {
		it, err := c.GetShardIterator(ctx, &sdk.GetShardIteratorInput{StreamName: aws.String(stream),
			ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			got, err := c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range got.Records {
				out = append(out, kinesisRecord{*sh.ShardId, *r.SequenceNumber, *r.PartitionKey, r.Data})
			}
			if len(got.Records) == 0 && aws.ToInt64(got.MillisBehindLatest) == 0 {
				break
			}
			iter = got.NextShardIterator
		}
	}
	return shards.Shards, out
}

type id struct {
	shard, seq string
	sub        int64
}

type stream struct {
	producer int
	key      string
}

// verify checks acks against what the stream holds: every ack names a
// unique record whose content is the acknowledged one, and per (producer,
// key) both acknowledgement order and stream order follow seq.
func verify(t *testing.T, acks []workload.Ack, recs []kinesisRecord) {
	t.Helper()
	byID := map[id]workload.Ack{}
	next := map[stream]int64{}
	for _, a := range acks {
		k := id{a.ShardID, a.SequenceNumber, a.SubSequence}
		if _, dup := byID[k]; dup {
			t.Fatalf("%v acknowledged twice", k)
		}
		byID[k] = a
		s := stream{a.Producer, a.Key}
		if a.KeySeq < next[s] {
			t.Fatalf("%v: ack order %d after %d", s, a.KeySeq, next[s]-1)
		}
		next[s] = a.KeySeq + 1
	}
	found := 0
	last := map[stream]int64{}
	for _, r := range recs {
		subs, err := workload.DecodeKPL(r.data)
		switch {
		case errors.Is(err, workload.ErrNotKPL):
			subs = []workload.KPLSub{{PartitionKey: r.pk, Data: r.data, SubSequence: -1}}
		case err != nil: // a deliberately corrupted aggregate
			a, ok := byID[id{r.shard, r.seq, -1}]
			if !ok || a.Kind != workload.KindMalformed {
				t.Fatalf("undecodable aggregate %s/%s is not an acknowledged malformed record", r.shard, r.seq)
			}
			found++
			continue
		}
		for _, sr := range subs {
			p, err := workload.ParsePayload(sr.Data)
			if err != nil {
				t.Fatalf("%s/%s: %v", r.shard, r.seq, err)
			}
			s := stream{p.Producer, p.Key}
			if prev, ok := last[s]; ok && p.Seq <= prev {
				t.Fatalf("%v: seq %d stored after %d", s, p.Seq, prev)
			}
			last[s] = p.Seq
			a, ok := byID[id{r.shard, r.seq, sr.SubSequence}]
			if !ok {
				t.Fatalf("stream record %s/%s/%d %+v was never acknowledged", r.shard, r.seq, sr.SubSequence, p)
			}
			if a.Producer != p.Producer || a.Key != p.Key || a.KeySeq != p.Seq || a.Kind != p.Kind || sr.PartitionKey != a.Key {
				t.Fatalf("ack %+v does not match stored %+v", a, p)
			}
			found++
		}
	}
	if found != len(acks) {
		t.Fatalf("found %d acknowledged records in the stream, acked %d", found, len(acks))
	}
}

// A hot shard at its write limit: 64 keys pinned to one shard, three
// producers, limits on. Kinesis throttles entries; every one is retried
// until acknowledged, none twice, and per-key order holds.
func TestHotShardAtWriteLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
	defer cancel()
	_, c := emulated(t, "hot", 2)
	shards, err := c.ListShards(ctx, &sdk.ListShardsInput{StreamName: aws.String("hot")})
	if err != nil {
		t.Fatal(err)
	}
	hr := shards.Shards[0].HashKeyRange
	hashKey, err := workload.HashKeyIn(*hr.StartingHashKey, *hr.EndingHashKey)
	if err != nil {
		t.Fatal(err)
	}
	const total = 2500
	w, err := workload.New(c, "hot", workload.WithProducers(3), workload.WithKeys(workload.PinnedKeys(64, hashKey)),
		workload.WithTotal(total), workload.WithSeed(3), workload.WithRecordSize(200, 200))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.Throttled == 0 {
		t.Fatalf("the hot shard was never throttled: %+v", st)
	}
	if w.Produced() != total || len(w.Unconfirmed()) != 0 {
		t.Fatalf("produced %d of %d, %d unconfirmed", w.Produced(), total, len(w.Unconfirmed()))
	}
	acks := w.Acked()
	retried := 0
	for _, a := range acks {
		if a.ShardID != *shards.Shards[0].ShardId {
			t.Fatalf("pinned record landed on %s", a.ShardID)
		}
		if a.Attempts > 1 {
			retried++
		}
	}
	if retried == 0 {
		t.Fatal("no acknowledged record needed a retry, yet entries were throttled")
	}
	_, recs := readAll(ctx, t, c, "hot")
	verify(t, acks, recs)
	t.Logf("throttled entries %d, calls %d, records retried %d", st.Throttled, st.Calls, retried)
}

// Aggregates, corrupt aggregates and oversized records round-trip through
// the emulator exactly as acknowledged.
func TestRecordKindsThroughEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	emu, c := emulated(t, "kinds", 3)
	emu.SetLimits("kinds", false)
	w, err := workload.New(c, "kinds", workload.WithProducers(2), workload.WithKeys(workload.ZipfKeys(30, 1.5)),
		workload.WithAggregation(4), workload.WithMalformedEvery(9), workload.WithOversizedEvery(13),
		workload.WithOversizedSize(200<<10), workload.WithTotal(600), workload.WithSeed(11))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	acks := w.Acked()
	kinds := map[workload.Kind]int{}
	for _, a := range acks {
		kinds[a.Kind]++
	}
	if kinds[workload.KindMalformed] == 0 || kinds[workload.KindOversized] == 0 || kinds[workload.KindNormal] < 500 {
		t.Fatalf("kinds %v", kinds)
	}
	shards, recs := readAll(ctx, t, c, "kinds")
	if len(shards) != 3 {
		t.Fatalf("%d shards", len(shards))
	}
	verify(t, acks, recs)
}

// The rate option against the emulator with a single hot key: one record
// in flight per producer and key, so order holds trivially, and the run ends
// at its total.
func TestSingleHotKeyAtRate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, c := emulated(t, "single", 1)
	w, err := workload.New(c, "single", workload.WithProducers(4), workload.WithKeys(workload.SingleKey("hot")),
		workload.WithRate(4000), workload.WithTotal(800))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	_, recs := readAll(ctx, t, c, "single")
	verify(t, w.Acked(), recs)
}
