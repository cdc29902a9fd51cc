package kinesis_test

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// shardFor finds, independently of the emulator, the shard whose hash key
// range holds h.
func shardFor(tb testing.TB, shards []types.Shard, h *big.Int) string {
	tb.Helper()
	for _, s := range shards {
		if s.SequenceNumberRange.EndingSequenceNumber != nil {
			continue
		}
		lo, hi := bigOf(tb, *s.HashKeyRange.StartingHashKey), bigOf(tb, *s.HashKeyRange.EndingHashKey)
		if lo.Cmp(h) <= 0 && h.Cmp(hi) <= 0 {
			return *s.ShardId
		}
	}
	tb.Fatalf("no open shard holds %s", h)
	return ""
}

func md5Key(key string) *big.Int {
	sum := md5.Sum([]byte(key))
	return new(big.Int).SetBytes(sum[:])
}

func TestPartitionKeyHashing(t *testing.T) {
	e := newEnv(t, false)
	e.create(t, "s", 4)
	shards := e.shards(t, "s")
	rng := rand.New(rand.NewPCG(1, 2))
	var entries []types.PutRecordsRequestEntry
	for i := 0; i < 400; i++ {
		// Mix ASCII and multi-byte keys: the hash is over the UTF-8 bytes.
		key := fmt.Sprintf("user-%d-%x", i, rng.Uint64())
		if i%7 == 0 {
			key = fmt.Sprintf("clé-日本-%d", i)
		}
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(key), Data: []byte(key)})
	}
	out := must[*sdk.PutRecordsOutput](t)(e.c.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: aws.String("s"), Records: entries}))
	if aws.ToInt32(out.FailedRecordCount) != 0 || len(out.Records) != len(entries) {
		t.Fatalf("PutRecords: failed=%d results=%d", aws.ToInt32(out.FailedRecordCount), len(out.Records))
	}
	used := map[string]int{}
	for i, r := range out.Records {
		want := shardFor(t, shards, md5Key(*entries[i].PartitionKey))
		if aws.ToString(r.ShardId) != want {
			t.Fatalf("key %q went to %s, MD5 says %s", *entries[i].PartitionKey, aws.ToString(r.ShardId), want)
		}
		used[want]++
	}
	if len(used) != 4 {
		t.Fatalf("400 random keys used only shards %v", used)
	}

	// ExplicitHashKey overrides the partition key.
	maxKey := new(big.Int).Sub(two128, big.NewInt(1)).String()
	for ehk, want := range map[string]string{"0": sid(0), maxKey: sid(3), new(big.Int).Rsh(two128, 1).String(): sid(2)} {
		r := must[*sdk.PutRecordOutput](t)(e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("same"), ExplicitHashKey: aws.String(ehk), Data: []byte("x")}))
		if aws.ToString(r.ShardId) != want {
			t.Fatalf("ExplicitHashKey %s → %s, want %s", ehk, aws.ToString(r.ShardId), want)
		}
	}
}

func TestPutValidation(t *testing.T) {
	e := newEnv(t, false)
	e.create(t, "s", 1)
	put := func(key string, data []byte, ehk *string) error {
		_, err := e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String(key), Data: data, ExplicitHashKey: ehk})
		return err
	}
	if err := put(strings.Repeat("é", 256), []byte("x"), nil); err != nil {
		t.Fatalf("256-character key refused: %v", err)
	}
	if err := put("k", make([]byte, 1<<20-1), nil); err != nil {
		t.Fatalf("1 MiB record (with key) refused: %v", err)
	}
	invalid := []error{
		put(strings.Repeat("k", 257), []byte("x"), nil),
		put("", []byte("x"), nil),
		put("k", make([]byte, 1<<20), nil), // 1 MiB of data + 1 byte of key
		put("k", []byte("x"), aws.String(two128.String())),
		put("k", []byte("x"), aws.String("-1")),
		put("k", []byte("x"), aws.String("12a")),
	}
	for i, err := range invalid {
		t.Run(fmt.Sprint(i), func(t *testing.T) { wantErr[*types.InvalidArgumentException](t, err) })
	}
	many := make([]types.PutRecordsRequestEntry, 501)
	for i := range many {
		many[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: []byte("x")}
	}
	_, err := e.c.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: aws.String("s"), Records: many})
	wantErr[*types.InvalidArgumentException](t, err)
	big6 := make([]types.PutRecordsRequestEntry, 6)
	for i := range big6 {
		big6[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: make([]byte, 1_000_000)}
	}
	_, err = e.c.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: aws.String("s"), Records: big6})
	wantErr[*types.InvalidArgumentException](t, err) // 6 MB > 5 MiB
	_, err = e.c.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: aws.String("s"), Records: big6[:5]})
	if err != nil {
		t.Fatalf("5 MB PutRecords refused: %v", err)
	}
}

func TestIteratorTypes(t *testing.T) {
	e := newEnv(t, false)
	e.create(t, "s", 1)
	var seqs []string
	var times []time.Time
	for i := 0; i < 10; i++ {
		e.clk.Advance(10 * time.Millisecond)
		times = append(times, e.clk.Now())
		out := must[*sdk.PutRecordOutput](t)(e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte{byte(i), 0xff}}))
		seqs = append(seqs, aws.ToString(out.SequenceNumber))
	}
	for i := 1; i < len(seqs); i++ {
		if len(seqs[i]) != 56 || bigOf(t, seqs[i]).Cmp(bigOf(t, seqs[i-1])) <= 0 {
			t.Fatalf("sequence numbers not strictly increasing: %s then %s", seqs[i-1], seqs[i])
		}
	}
	e.clk.Advance(time.Second)
	it := func(typ types.ShardIteratorType, seq string, ts *time.Time) string {
		in := &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: typ, Timestamp: ts}
		if seq != "" {
			in.StartingSequenceNumber = aws.String(seq)
		}
		return e.iterator(t, in)
	}
	firstData := func(recs []types.Record) int {
		if len(recs) == 0 {
			return -1
		}
		return int(recs[0].Data[0])
	}

	// TRIM_HORIZON in pages of 3, with lag reported until caught up.
	first := must[*sdk.GetRecordsOutput](t)(e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: aws.String(it(types.ShardIteratorTypeTrimHorizon, "", nil)), Limit: aws.Int32(3)}))
	if len(first.Records) != 3 || aws.ToInt64(first.MillisBehindLatest) != 1070 { // now - arrival of record 2 = 1000 + 70 ms
		t.Fatalf("first page: %d records, behind %d", len(first.Records), aws.ToInt64(first.MillisBehindLatest))
	}
	all, last := e.readAll(t, it(types.ShardIteratorTypeTrimHorizon, "", nil), 3)
	if len(all) != 10 || aws.ToInt64(last.MillisBehindLatest) != 0 || last.NextShardIterator == nil {
		t.Fatalf("TRIM_HORIZON read %d records, behind %d", len(all), aws.ToInt64(last.MillisBehindLatest))
	}
	for i, r := range all {
		if !bytes.Equal(r.Data, []byte{byte(i), 0xff}) || aws.ToString(r.SequenceNumber) != seqs[i] || aws.ToString(r.PartitionKey) != "k" {
			t.Fatalf("record %d: %+v", i, r)
		}
		if d := r.ApproximateArrivalTimestamp.Sub(times[i]); d < -time.Millisecond || d > 0 {
			// The SDK truncates float epoch seconds, so allow it 1 ms below.
			t.Fatalf("record %d arrival %v, want %v", i, r.ApproximateArrivalTimestamp, times[i])
		}
	}

	if recs, _ := e.readAll(t, it(types.ShardIteratorTypeAtSequenceNumber, seqs[4], nil), 0); firstData(recs) != 4 || len(recs) != 6 {
		t.Fatalf("AT_SEQUENCE_NUMBER: first %d, n %d", firstData(recs), len(recs))
	}
	if recs, _ := e.readAll(t, it(types.ShardIteratorTypeAfterSequenceNumber, seqs[4], nil), 0); firstData(recs) != 5 || len(recs) != 5 {
		t.Fatalf("AFTER_SEQUENCE_NUMBER: first %d, n %d", firstData(recs), len(recs))
	}
	ts := times[6]
	if recs, _ := e.readAll(t, it(types.ShardIteratorTypeAtTimestamp, "", &ts), 0); firstData(recs) != 6 {
		t.Fatalf("AT_TIMESTAMP exact: first %d", firstData(recs))
	}
	ts = times[6].Add(time.Millisecond)
	if recs, _ := e.readAll(t, it(types.ShardIteratorTypeAtTimestamp, "", &ts), 0); firstData(recs) != 7 {
		t.Fatalf("AT_TIMESTAMP +1ms: first %d", firstData(recs))
	}

	latest := it(types.ShardIteratorTypeLatest, "", nil)
	if recs, _ := e.readAll(t, latest, 0); len(recs) != 0 {
		t.Fatalf("LATEST before a put: %d records", len(recs))
	}
	must[*sdk.PutRecordOutput](t)(e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte{42}}))
	if recs, _ := e.readAll(t, latest, 0); len(recs) != 1 || recs[0].Data[0] != 42 {
		t.Fatalf("LATEST after a put: %d records", len(recs))
	}

	// Sequence numbers from another shard or made up are refused.
	e.create(t, "two", 2)
	p := must[*sdk.PutRecordOutput](t)(e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("two"), PartitionKey: aws.String("k"), ExplicitHashKey: aws.String("0"), Data: []byte("x")}))
	for _, bad := range []string{aws.ToString(p.SequenceNumber), seqs[0], "12345", "4" + strings.Repeat("9", 55)} {
		_, err := e.c.GetShardIterator(ctx, &sdk.GetShardIteratorInput{StreamName: aws.String("two"), ShardId: aws.String(sid(1)), ShardIteratorType: types.ShardIteratorTypeAfterSequenceNumber, StartingSequenceNumber: aws.String(bad)})
		wantErr[*types.InvalidArgumentException](t, err)
	}
	_, err := e.c.GetShardIterator(ctx, &sdk.GetShardIteratorInput{StreamName: aws.String("two"), ShardId: aws.String(sid(7)), ShardIteratorType: types.ShardIteratorTypeLatest})
	wantErr[*types.ResourceNotFoundException](t, err)
	_, err = e.c.GetShardIterator(ctx, &sdk.GetShardIteratorInput{StreamName: aws.String("two"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeAtTimestamp})
	wantErr[*types.InvalidArgumentException](t, err)
	_, err = e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: aws.String("not-an-iterator")})
	wantErr[*types.InvalidArgumentException](t, err)
	_, err = e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: aws.String(latest), Limit: aws.Int32(10001)})
	wantErr[*types.InvalidArgumentException](t, err)
	_, err = e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: aws.String(latest), Limit: aws.Int32(0)})
	wantErr[*types.InvalidArgumentException](t, err)
}

func TestGetRecordsSizeCap(t *testing.T) {
	e := newEnv(t, false)
	e.create(t, "s", 1)
	for i := 0; i < 12; i++ {
		must[*sdk.PutRecordOutput](t)(e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: make([]byte, 1000_000)}))
	}
	out := must[*sdk.GetRecordsOutput](t)(e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: aws.String(e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}))}))
	if len(out.Records) != 10 || out.NextShardIterator == nil {
		t.Fatalf("10 MiB cap: got %d records of 1 MB", len(out.Records))
	}
	rest := must[*sdk.GetRecordsOutput](t)(e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: out.NextShardIterator}))
	if len(rest.Records) != 2 {
		t.Fatalf("after the cap: %d records", len(rest.Records))
	}
}

func TestIteratorExpiry(t *testing.T) {
	e := newEnv(t, false)
	e.create(t, "s", 1)
	iter := e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	e.clk.Advance(5*time.Minute - time.Second)
	out := must[*sdk.GetRecordsOutput](t)(e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: aws.String(iter)}))
	fresh := aws.ToString(out.NextShardIterator)
	if fresh == "" || fresh == iter {
		t.Fatal("GetRecords did not hand out a fresh iterator")
	}
	e.clk.Advance(time.Second) // the first iterator is now exactly 5 minutes old
	_, err := e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: aws.String(iter)})
	wantErr[*types.ExpiredIteratorException](t, err)
	must[*sdk.GetRecordsOutput](t)(e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: aws.String(fresh)}))

	// A stream deleted (and re-created) under an iterator is gone for it.
	must[*sdk.DeleteStreamOutput](t)(e.c.DeleteStream(ctx, &sdk.DeleteStreamInput{StreamName: aws.String("s")}))
	e.create(t, "s", 1)
	_, err = e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: aws.String(fresh)})
	wantErr[*types.ResourceNotFoundException](t, err)
}

// TestConcurrentClients hammers one stream with writers and readers and then
// checks that every record arrived exactly once and in per-key order.
func TestConcurrentClients(t *testing.T) {
	e := newEnv(t, false)
	e.create(t, "s", 4)
	const writers, batches, perBatch = 8, 20, 25
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func(shard int) {
			defer wg.Done()
			out, err := e.c.GetShardIterator(ctx, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(shard)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
			if err != nil {
				t.Error(err)
				return
			}
			iter := out.ShardIterator
			for {
				select {
				case <-stop:
					return
				default:
				}
				g, err := e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(50)})
				if err != nil {
					t.Error(err)
					return
				}
				iter = g.NextShardIterator
			}
		}(r)
	}
	var wwg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wwg.Add(1)
		go func(w int) {
			defer wwg.Done()
			n := 0
			for b := 0; b < batches; b++ {
				var entries []types.PutRecordsRequestEntry
				for i := 0; i < perBatch; i++ {
					entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("w%d-k%d", w, i%5)), Data: []byte(fmt.Sprintf("%d", n))})
					n++
				}
				out, err := e.c.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: aws.String("s"), Records: entries})
				if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
					t.Errorf("PutRecords: %v", err)
					return
				}
			}
		}(w)
	}
	wwg.Wait()
	close(stop)
	wg.Wait()

	last := map[string]int{}
	total := 0
	for s := 0; s < 4; s++ {
		recs, _ := e.readAll(t, e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(s)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}), 1000)
		for _, r := range recs {
			var n int
			fmt.Sscan(string(r.Data), &n)
			k := aws.ToString(r.PartitionKey)
			if prev, ok := last[k]; ok && n <= prev {
				t.Fatalf("key %s out of order: %d after %d", k, n, prev)
			}
			last[k] = n
			total++
		}
	}
	if total != writers*batches*perBatch {
		t.Fatalf("read %d records, wrote %d", total, writers*batches*perBatch)
	}
}

// TestArrivalNeverDecreases: a clock set back does not make a later record
// look older than an earlier one in the same shard (trimming and
// AT_TIMESTAMP rely on arrival order).
func TestArrivalNeverDecreases(t *testing.T) {
	e := newEnv(t, false)
	e.create(t, "s", 1)
	put := func(v byte) {
		t.Helper()
		must[*sdk.PutRecordOutput](t)(e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte{v}}))
	}
	e.clk.Set(t0.Add(10 * time.Second))
	put(0)
	e.clk.Set(t0.Add(5 * time.Second)) // the clock goes back
	put(1)
	e.clk.Set(t0.Add(12 * time.Second))
	put(2)
	recs, _ := e.readAll(t, e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}), 0)
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].ApproximateArrivalTimestamp.Before(*recs[i-1].ApproximateArrivalTimestamp) {
			t.Fatalf("record %d arrived at %v, before record %d at %v", i, recs[i].ApproximateArrivalTimestamp, i-1, recs[i-1].ApproximateArrivalTimestamp)
		}
	}
	// AT_TIMESTAMP 11 s: only the record stored at 12 s. Its predecessor
	// (stored while the clock read 5 s) counts as arriving at 10 s.
	ts := t0.Add(11 * time.Second)
	got, _ := e.readAll(t, e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: &ts}), 0)
	if len(got) != 1 || got[0].Data[0] != 2 {
		t.Fatalf("AT_TIMESTAMP 11 s: %d records", len(got))
	}
}

// TestGetRecordsCountCap: without Limit a call returns at most 10,000
// records; Limit 10,000 is accepted.
func TestGetRecordsCountCap(t *testing.T) {
	e := newEnv(t, false)
	e.create(t, "s", 1)
	for i := 0; i < 21; i++ { // 10,500 records
		out := must[*sdk.PutRecordsOutput](t)(e.c.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: aws.String("s"), Records: entries(500, 1, "0")}))
		if aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatal("put failed")
		}
	}
	iter := e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	first := must[*sdk.GetRecordsOutput](t)(e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: aws.String(iter)}))
	if len(first.Records) != 10000 || first.NextShardIterator == nil {
		t.Fatalf("no Limit: %d records", len(first.Records))
	}
	rest := must[*sdk.GetRecordsOutput](t)(e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: first.NextShardIterator, Limit: aws.Int32(10000)}))
	if len(rest.Records) != 500 {
		t.Fatalf("second page: %d records", len(rest.Records))
	}
}
