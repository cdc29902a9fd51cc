package process

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/shardbridge/shardbridge/replicator/kpl"
)

const seq = "49590338271490256608559692538361571095921575989136588898"

func aggregate(t *testing.T, subs ...kpl.SubRecord) Record {
	t.Helper()
	agg, err := kpl.Aggregate(subs)
	if err != nil {
		t.Fatal(err)
	}
	r := sample()
	r.SequenceNumber, r.PartitionKey, r.Data = seq, "outer-key", agg
	return r
}

func subs(n int, payload func(i int) []byte) []kpl.SubRecord {
	var out []kpl.SubRecord
	for i := range n {
		out = append(out, kpl.SubRecord{PartitionKey: fmt.Sprintf("key-%d", i), Data: payload(i)})
	}
	return out
}

func jsonN(i int) []byte { return fmt.Appendf(nil, `{"i":%d}`, i) }

func process(t *testing.T, p *Pipeline, r Record, pos Position) Result {
	t.Helper()
	res, err := p.Process(context.Background(), r, pos)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestPipelinePlainRecord(t *testing.T) {
	r := sample()
	r.SubSequence = 99 // ignored on input
	res := process(t, NewPipeline(), r, Position{})
	if len(res.Items) != 1 || res.Items[0].Failed() || res.Items[0].Record.SubSequence != -1 || res.LastSubSequence != -1 {
		t.Fatalf("plain record: %+v", res)
	}
	if got := headerMap(t, Headers(res.Items[0].Record)); len(got) != 4 {
		t.Fatalf("plain record carries %v", got)
	}
}

func TestPipelineDeaggregates(t *testing.T) {
	r := aggregate(t, subs(5, jsonN)...)
	res := process(t, NewPipeline(), r, Position{})
	if len(res.Items) != 5 || res.LastSubSequence != 4 {
		t.Fatalf("got %d items, last subseq %d", len(res.Items), res.LastSubSequence)
	}
	for i, it := range res.Items {
		rec := it.Record
		if it.Failed() || rec.SubSequence != int64(i) || rec.PartitionKey != fmt.Sprintf("key-%d", i) ||
			!bytes.Equal(rec.Data, jsonN(i)) || rec.SequenceNumber != seq || rec.ShardID != r.ShardID || !rec.ArrivalTime.Equal(r.ArrivalTime) {
			t.Fatalf("item %d: %+v", i, it)
		}
	}
	// Off: the aggregate travels as one plain record.
	res = process(t, NewPipeline(WithDeaggregation(false)), r, Position{})
	if len(res.Items) != 1 || !bytes.Equal(res.Items[0].Record.Data, r.Data) {
		t.Fatalf("deaggregation off: %+v", res)
	}
}

func TestPipelineResumeSkips(t *testing.T) {
	r := aggregate(t, subs(6, jsonN)...)
	res := process(t, NewPipeline(), r, Position{CheckpointSeq: seq, CheckpointSubSeq: 2})
	if res.Skipped != 3 || len(res.Items) != 3 || res.Items[0].Record.SubSequence != 3 || res.LastSubSequence != 5 {
		t.Fatalf("resume at (seq, 2): skipped %d, items %d, first %+v", res.Skipped, len(res.Items), res.Items)
	}
	// A plain record at the checkpoint is skipped, one after it is not.
	plain := sample()
	plain.SequenceNumber = seq
	for _, sub := range []int64{0, -1} { // the KCL's 0; an earlier version's -1
		if res := process(t, NewPipeline(), plain, Position{CheckpointSeq: seq, CheckpointSubSeq: sub}); res.Skipped != 1 || len(res.Items) != 0 {
			t.Fatalf("plain record at checkpoint (seq, %d): %+v", sub, res)
		}
	}
	// The KCL's (seq, 0) on an aggregate covers sub-record 0 only.
	if res := process(t, NewPipeline(), r, Position{CheckpointSeq: seq, CheckpointSubSeq: 0}); res.Skipped != 1 || len(res.Items) != 5 {
		t.Fatalf("resume at (seq, 0) on an aggregate: skipped %d, items %d", res.Skipped, len(res.Items))
	}
	if res := process(t, NewPipeline(), plain, Position{CheckpointSeq: "TRIM_HORIZON"}); len(res.Items) != 1 {
		t.Fatalf("sentinel checkpoint skipped a record: %+v", res)
	}
}

// After a split at 2^127 the low child reads aggregates whose sub-records
// hash on both sides of it. Kinesis holds those sub-records in this shard
// only, so every one is kept (the KCL drops them: amazon-kinesis-client#343);
// the ones outside the range are counted.
func TestPipelineKeepsSubRecordsOutsideHashRange(t *testing.T) {
	mid := new(big.Int).Lsh(big.NewInt(1), 127)
	lowEnd := new(big.Int).Sub(mid, big.NewInt(1)).String()
	r := aggregate(t, subs(40, jsonN)...)
	res := process(t, NewPipeline(), r, Position{StartingHashKey: "0", EndingHashKey: lowEnd})
	if len(res.Items) != 40 || res.Filtered != 0 {
		t.Fatalf("after a split: %d of 40 sub-records kept, %d filtered", len(res.Items), res.Filtered)
	}
	outside := 0
	for i, it := range res.Items {
		if it.Failed() || it.Record.SubSequence != int64(i) {
			t.Fatalf("item %d: %+v", i, it)
		}
		sum := md5.Sum([]byte(it.Record.PartitionKey))
		if new(big.Int).SetBytes(sum[:]).Cmp(mid) >= 0 {
			outside++
		}
	}
	if outside == 0 || res.OutOfRange != outside {
		t.Fatalf("%d sub-records hash into the high child, OutOfRange = %d", outside, res.OutOfRange)
	}
	// An aggregate wholly outside the range is delivered whole, too.
	hi := aggregate(t, kpl.SubRecord{PartitionKey: "a", ExplicitHashKey: mid.String(), Data: jsonN(0)},
		kpl.SubRecord{PartitionKey: "b", ExplicitHashKey: mid.String(), Data: jsonN(1)})
	if res := process(t, NewPipeline(), hi, Position{StartingHashKey: "0", EndingHashKey: lowEnd}); len(res.Items) != 2 || res.OutOfRange != 2 {
		t.Fatalf("aggregate outside the range: %d items, %d out of range", len(res.Items), res.OutOfRange)
	}
}

func TestPipelineDeaggregateFailure(t *testing.T) {
	// Magic + valid MD5 around a record that points past the key table.
	body := []byte{0x1a, 0x04, 0x08, 0x05, 0x1a, 0x00}
	sum := md5.Sum(body)
	raw := append(append([]byte{0xF3, 0x89, 0x9A, 0xC2}, body...), sum[:]...)
	r := sample()
	r.Data = raw
	res := process(t, NewPipeline(), r, Position{})
	if len(res.Items) != 1 || !res.Items[0].Failed() || res.Items[0].Err.Stage != StageDeaggregate || !bytes.Equal(res.Items[0].Record.Data, raw) {
		t.Fatalf("corrupt aggregate: %+v", res)
	}
	if !strings.Contains(res.Items[0].Err.Error(), "partition_key_index") {
		t.Fatalf("error does not say what is wrong: %v", res.Items[0].Err)
	}
	// Checkpointed as a whole record, (seq, 0): a resume does not
	// dead-letter it again.
	r.SequenceNumber = seq
	if res := process(t, NewPipeline(), r, Position{CheckpointSeq: seq, CheckpointSubSeq: 0}); res.Skipped != 1 || len(res.Items) != 0 {
		t.Fatalf("corrupt aggregate at its checkpoint: %+v", res)
	}
}

func TestPipelineDecompressAndTransformFailures(t *testing.T) {
	d, err := NewDecompressor("auto")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	payloads := [][]byte{
		gz(t, []byte(`{"type":"click"}`)),
		append([]byte{0x1f, 0x8b}, "not gzip"...), // decompress fails
		zs(t, []byte(`{"type":"view"}`)),          // filtered out
		gz(t, []byte(`{not json`)),                // transform fails
		[]byte(`{"type":"click","plain":true}`),
	}
	r := aggregate(t, subs(len(payloads), func(i int) []byte { return payloads[i] })...)
	p := NewPipeline(WithDecompressor(d), WithTransformer(Chain(JSONValidate(), JSONFilter("type", "click"))))
	res := process(t, p, r, Position{})
	if res.Filtered != 1 || len(res.Items) != 4 {
		t.Fatalf("filtered %d, items %d", res.Filtered, len(res.Items))
	}
	want := []struct {
		sub   int64
		stage string
		data  []byte
	}{
		{0, "", []byte(`{"type":"click"}`)},
		{1, StageDecompress, payloads[1]},
		{3, StageTransform, payloads[3]}, // original (compressed) bytes go to the DLQ
		{4, "", payloads[4]},
	}
	for i, w := range want {
		it := res.Items[i]
		stage := ""
		if it.Err != nil {
			stage = it.Err.Stage
		}
		if it.Record.SubSequence != w.sub || stage != w.stage || !bytes.Equal(it.Record.Data, w.data) {
			t.Fatalf("item %d: subseq %d stage %q data %q; want %d %q %q", i, it.Record.SubSequence, stage, it.Record.Data, w.sub, w.stage, w.data)
		}
	}
}

func TestPipelineKeepsPositionAndSize(t *testing.T) {
	fanOut := TransformerFunc(func(_ context.Context, r Record) ([]Record, error) {
		a, b := r, r
		a.ShardID, a.SequenceNumber, a.SubSequence = "shardId-999", "1", 42 // must be restored
		a.PartitionKey = "rekeyed"
		b.Data = bytes.Repeat([]byte("x"), len(r.Data)*10)
		return []Record{a, b}, nil
	})
	r := sample()
	res := process(t, NewPipeline(WithTransformer(fanOut)), r, Position{})
	if len(res.Items) != 2 {
		t.Fatalf("fan-out: %+v", res)
	}
	a := res.Items[0].Record
	if a.ShardID != r.ShardID || a.SequenceNumber != r.SequenceNumber || a.SubSequence != -1 || a.PartitionKey != "rekeyed" {
		t.Fatalf("position not restored or key change lost: %+v", a)
	}

	// With a size limit the oversized output fails the whole input, once,
	// carrying the original bytes.
	limit := EncodedSize(r) + 5
	res = process(t, NewPipeline(WithTransformer(fanOut), WithMaxRecordBytes(limit)), r, Position{})
	if len(res.Items) != 1 || res.Items[0].Err == nil || res.Items[0].Err.Stage != StageSize || !bytes.Equal(res.Items[0].Record.Data, r.Data) {
		t.Fatalf("size limit: %+v", res)
	}
	if !strings.Contains(res.Items[0].Err.Error(), fmt.Sprintf("limit of %d", limit)) {
		t.Fatalf("size error does not name the limit: %v", res.Items[0].Err)
	}
}

func TestPipelineContextCancelIsNotARecordFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	blocking := TransformerFunc(func(ctx context.Context, r Record) ([]Record, error) {
		cancel()
		<-ctx.Done()
		return nil, ctx.Err()
	})
	_, err := NewPipeline(WithTransformer(blocking)).Process(ctx, sample(), Position{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Process error %v, want context.Canceled", err)
	}
}

func BenchmarkPipelineAggregate(b *testing.B) {
	agg, err := kpl.Aggregate(subs(100, jsonN))
	if err != nil {
		b.Fatal(err)
	}
	r := sample()
	r.SequenceNumber, r.Data = seq, agg
	p := NewPipeline(WithTransformer(JSONValidate()))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := p.Process(ctx, r, Position{StartingHashKey: "0", EndingHashKey: "340282366920938463463374607431768211455"})
		if err != nil || len(res.Items) != 100 {
			b.Fatal(err, len(res.Items))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/subrecord")
}
