package kinesis_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/fakes/kinesis"
)

// entries builds n records aimed at one shard through ExplicitHashKey.
func entries(n, size int, ehk string) []types.PutRecordsRequestEntry {
	out := make([]types.PutRecordsRequestEntry, n)
	for i := range out {
		out[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), ExplicitHashKey: aws.String(ehk), Data: make([]byte, size)}
	}
	return out
}

const shard1Key = "300000000000000000000000000000000000000" // in the upper half: shard 1 of 2

func TestWriteRecordLimit(t *testing.T) {
	e := newEnv(t, true)
	e.create(t, "s", 2)
	put := func(recs []types.PutRecordsRequestEntry) *sdk.PutRecordsOutput {
		t.Helper()
		return must[*sdk.PutRecordsOutput](t)(e.c.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: aws.String("s"), Records: recs}))
	}
	// 1,000 records in one second on shard 0 are within the limit.
	for i := 0; i < 2; i++ {
		if out := put(entries(500, 10, "0")); aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("within limit: %d failed", aws.ToInt32(out.FailedRecordCount))
		}
	}
	// The 1,001st fails per entry, while shard 1 in the same call succeeds.
	mixed := append(entries(3, 10, "0"), entries(2, 10, shard1Key)...)
	out := put(mixed)
	if aws.ToInt32(out.FailedRecordCount) != 3 {
		t.Fatalf("FailedRecordCount = %d, want 3", aws.ToInt32(out.FailedRecordCount))
	}
	for i, r := range out.Records {
		failed := aws.ToString(r.ErrorCode) == "ProvisionedThroughputExceededException"
		if failed != (i < 3) || (failed && (r.SequenceNumber != nil || aws.ToString(r.ErrorMessage) == "")) || (!failed && aws.ToString(r.ShardId) != sid(1)) {
			t.Fatalf("entry %d: %+v", i, r)
		}
	}
	_, err := e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), ExplicitHashKey: aws.String("0"), Data: []byte("x")})
	wantErr[*types.ProvisionedThroughputExceededException](t, err)

	// A second later the shard takes another 1,000.
	e.clk.Advance(time.Second)
	for i := 0; i < 2; i++ {
		if out := put(entries(500, 10, "0")); aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("next second: %d failed", aws.ToInt32(out.FailedRecordCount))
		}
	}
	// Switched off for the stream, nothing is throttled.
	e.emu.SetLimits("s", false)
	if out := put(entries(500, 10, "0")); aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("limits off: %d failed", aws.ToInt32(out.FailedRecordCount))
	}
}

func TestWriteByteLimit(t *testing.T) {
	e := newEnv(t, true)
	e.create(t, "s", 1)
	put := func(size int) error {
		_, err := e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: make([]byte, size)})
		return err
	}
	if err := put(1<<20 - 1); err != nil { // exactly 1 MiB with the key
		t.Fatalf("1 MiB in a second refused: %v", err)
	}
	wantErr[*types.ProvisionedThroughputExceededException](t, put(1))
	e.clk.Advance(500 * time.Millisecond) // half a second buys half a MiB
	if err := put(1<<19 - 1); err != nil {
		t.Fatalf("0.5 MiB after 0.5 s refused: %v", err)
	}
	wantErr[*types.ProvisionedThroughputExceededException](t, put(1))
	// PutRecords reports it per entry.
	out := must[*sdk.PutRecordsOutput](t)(e.c.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: aws.String("s"), Records: entries(2, 100, "0")}))
	if aws.ToInt32(out.FailedRecordCount) != 2 {
		t.Fatalf("FailedRecordCount = %d", aws.ToInt32(out.FailedRecordCount))
	}
}

func TestReadLimits(t *testing.T) {
	e := newEnv(t, true)
	e.create(t, "s", 1)
	for i := 0; i < 3; i++ { // 3 MiB, one per second to respect the write limit
		must[*sdk.PutRecordOutput](t)(e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: make([]byte, 1<<20-1)}))
		e.clk.Advance(time.Second)
	}
	iter := func() *string {
		return aws.String(e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeLatest}))
	}

	// 5 GetRecords calls per second per shard; the 6th is throttled.
	it := iter()
	for i := 0; i < 5; i++ {
		out := must[*sdk.GetRecordsOutput](t)(e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: it}))
		it = out.NextShardIterator
	}
	_, err := e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: it})
	wantErr[*types.ProvisionedThroughputExceededException](t, err)
	e.clk.Advance(200 * time.Millisecond)
	must[*sdk.GetRecordsOutput](t)(e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: it}))

	// GetShardIterator: 5 calls per second per shard.
	e.clk.Advance(time.Second)
	for i := 0; i < 4; i++ { // plus the one below for the byte test
		iter()
	}
	_, err = e.c.GetShardIterator(ctx, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatalf("5th GetShardIterator: %v", err)
	}
	_, err = e.c.GetShardIterator(ctx, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	wantErr[*types.ProvisionedThroughputExceededException](t, err)

	// 2 MiB/s: the call that crosses the budget returns all its 3 MiB, the
	// following calls are throttled until the 1 MiB debt is repaid (0.5 s).
	e.clk.Advance(time.Second)
	trim := e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	out := must[*sdk.GetRecordsOutput](t)(e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: aws.String(trim)}))
	if len(out.Records) != 3 {
		t.Fatalf("crossing call returned %d records, want 3", len(out.Records))
	}
	e.clk.Advance(400 * time.Millisecond)
	_, err = e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: out.NextShardIterator})
	wantErr[*types.ProvisionedThroughputExceededException](t, err)
	e.clk.Advance(100 * time.Millisecond)
	must[*sdk.GetRecordsOutput](t)(e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: out.NextShardIterator}))

	// A steady consumer at 5 calls/s and under 2 MiB/s is never throttled.
	e.emu.SetLimits("s", true)
	e.clk.Advance(time.Second)
	next := out.NextShardIterator
	for i := 0; i < 50; i++ {
		if i%10 == 0 {
			must[*sdk.PutRecordOutput](t)(e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: make([]byte, 300<<10)}))
		}
		g := must[*sdk.GetRecordsOutput](t)(e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: next}))
		next = g.NextShardIterator
		e.clk.Advance(200 * time.Millisecond)
	}
}

func TestControlPlaneLimits(t *testing.T) {
	e := newEnv(t, true)
	e.create(t, "s", 1)
	for i := 0; i < 10; i++ {
		must[*sdk.DescribeStreamOutput](t)(e.c.DescribeStream(ctx, &sdk.DescribeStreamInput{StreamName: aws.String("s")}))
	}
	_, err := e.c.DescribeStream(ctx, &sdk.DescribeStreamInput{StreamName: aws.String("s")})
	wantErr[*types.LimitExceededException](t, err)
	e.clk.Advance(time.Second)
	must[*sdk.DescribeStreamOutput](t)(e.c.DescribeStream(ctx, &sdk.DescribeStreamInput{StreamName: aws.String("s")}))

	for i := 0; i < 5; i++ { // CreateStream: 5 per second per account
		must[*sdk.CreateStreamOutput](t)(e.c.CreateStream(ctx, &sdk.CreateStreamInput{StreamName: aws.String("x" + string(rune('a'+i))), ShardCount: aws.Int32(1)}))
	}
	_, err = e.c.CreateStream(ctx, &sdk.CreateStreamInput{StreamName: aws.String("y"), ShardCount: aws.Int32(1)})
	wantErr[*types.LimitExceededException](t, err)

	for i := 0; i < 1000; i++ {
		if _, err := e.c.ListShards(ctx, &sdk.ListShardsInput{StreamName: aws.String("s")}); err != nil {
			t.Fatalf("ListShards %d: %v", i, err)
		}
	}
	_, err = e.c.ListShards(ctx, &sdk.ListShardsInput{StreamName: aws.String("s")})
	wantErr[*types.LimitExceededException](t, err)

	// An emulator built WithLimits(false) throttles nothing.
	off := newEnv(t, false)
	off.create(t, "s", 1)
	for i := 0; i < 50; i++ {
		must[*sdk.DescribeStreamOutput](t)(off.c.DescribeStream(ctx, &sdk.DescribeStreamInput{StreamName: aws.String("s")}))
	}
	if out := must[*sdk.PutRecordsOutput](t)(off.c.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: aws.String("s"), Records: entries(500, 5000, "0")})); aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("limits off: %d failed", aws.ToInt32(out.FailedRecordCount))
	}
}

// TestSetLimitsBeforeCreate: a per-stream setting made before the stream
// exists applies when it is created.
func TestSetLimitsBeforeCreate(t *testing.T) {
	e := newEnv(t, true, kinesis.WithRegion("eu-west-1"), kinesis.WithAccount("123456789012"))
	e.emu.SetLimits("free", false)
	e.create(t, "free", 1)
	out := must[*sdk.PutRecordsOutput](t)(e.c.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: aws.String("free"), Records: entries(500, 4000, "0")}))
	if aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("%d failed", aws.ToInt32(out.FailedRecordCount))
	}
	d := must[*sdk.DescribeStreamSummaryOutput](t)(e.c.DescribeStreamSummary(ctx, &sdk.DescribeStreamSummaryInput{StreamARN: aws.String("arn:aws:kinesis:eu-west-1:123456789012:stream/free")}))
	if aws.ToString(d.StreamDescriptionSummary.StreamName) != "free" {
		t.Fatalf("%+v", d.StreamDescriptionSummary)
	}
}
