package kinesis_test

import (
	"math/big"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func TestSplitAndMergeLineage(t *testing.T) {
	e := newEnv(t, false)
	e.create(t, "s", 1)
	var parentSeqs []string
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		out := must[*sdk.PutRecordOutput](t)(e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String(k), Data: []byte(k)}))
		parentSeqs = append(parentSeqs, aws.ToString(out.SequenceNumber))
	}
	// An iterator taken before the split keeps reading the parent.
	before := e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	e.clk.Advance(time.Second)
	half := new(big.Int).Rsh(two128, 1)
	must[*sdk.SplitShardOutput](t)(e.c.SplitShard(ctx, &sdk.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String(sid(0)), NewStartingHashKey: aws.String(half.String())}))

	m := byID(e.shards(t, "s"))
	parent, lo, hi := m[sid(0)], m[sid(1)], m[sid(2)]
	if parent.SequenceNumberRange.EndingSequenceNumber == nil || lo.SequenceNumberRange.EndingSequenceNumber != nil {
		t.Fatalf("closed/open state wrong: %+v", m)
	}
	end := bigOf(t, *parent.SequenceNumberRange.EndingSequenceNumber)
	for _, s := range parentSeqs {
		if bigOf(t, s).Cmp(end) > 0 {
			t.Fatalf("record %s after parent's EndingSequenceNumber %s", s, end)
		}
	}
	if aws.ToString(lo.ParentShardId) != sid(0) || aws.ToString(hi.ParentShardId) != sid(0) || lo.AdjacentParentShardId != nil ||
		*lo.HashKeyRange.EndingHashKey != new(big.Int).Sub(half, big.NewInt(1)).String() || *hi.HashKeyRange.StartingHashKey != half.String() {
		t.Fatalf("children: %+v %+v", lo, hi)
	}

	// New records land in the child whose range holds their hash.
	shards := e.shards(t, "s")
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		out := must[*sdk.PutRecordOutput](t)(e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String(k), Data: []byte(k)}))
		if want := shardFor(t, shards, md5Key(k)); aws.ToString(out.ShardId) != want {
			t.Fatalf("after split %q → %s, want %s", k, aws.ToString(out.ShardId), want)
		}
		if bigOf(t, aws.ToString(out.SequenceNumber)).Cmp(end) <= 0 {
			t.Fatalf("child record %s not after parent end %s", aws.ToString(out.SequenceNumber), end)
		}
	}

	// Reading the parent to its end: pages of 2, the last with a null
	// iterator and the children.
	var got []string
	iter := &before
	var lastOut *sdk.GetRecordsOutput
	for iter != nil {
		lastOut = must[*sdk.GetRecordsOutput](t)(e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(2)}))
		for _, r := range lastOut.Records {
			got = append(got, string(r.Data))
		}
		if lastOut.NextShardIterator != nil && len(lastOut.ChildShards) != 0 {
			t.Fatal("ChildShards before the end of the shard")
		}
		iter = lastOut.NextShardIterator
	}
	if !slices.Equal(got, []string{"a", "b", "c", "d", "e"}) || len(lastOut.Records) != 1 {
		t.Fatalf("parent read %v (last page %d records)", got, len(lastOut.Records))
	}
	if len(lastOut.ChildShards) != 2 || aws.ToString(lastOut.ChildShards[0].ShardId) != sid(1) ||
		!slices.Equal(lastOut.ChildShards[1].ParentShards, []string{sid(0)}) || aws.ToInt64(lastOut.MillisBehindLatest) != 0 {
		t.Fatalf("ChildShards: %+v", lastOut.ChildShards)
	}
	// LATEST on a closed shard is immediately at its end.
	latest := e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeLatest})
	out := must[*sdk.GetRecordsOutput](t)(e.c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: aws.String(latest)}))
	if len(out.Records) != 0 || out.NextShardIterator != nil || len(out.ChildShards) != 2 {
		t.Fatalf("LATEST on closed shard: %+v", out)
	}

	// Invalid splits.
	_, err := e.c.SplitShard(ctx, &sdk.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String(sid(0)), NewStartingHashKey: aws.String("5")})
	wantErr[*types.ResourceInUseException](t, err)
	_, err = e.c.SplitShard(ctx, &sdk.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String(sid(2)), NewStartingHashKey: aws.String("5")})
	wantErr[*types.InvalidArgumentException](t, err) // outside shard 2's range
	_, err = e.c.SplitShard(ctx, &sdk.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String(sid(2)), NewStartingHashKey: aws.String(half.String())})
	wantErr[*types.InvalidArgumentException](t, err) // would leave an empty child
	_, err = e.c.SplitShard(ctx, &sdk.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String(sid(9)), NewStartingHashKey: aws.String("5")})
	wantErr[*types.ResourceNotFoundException](t, err)

	// Merge in "reverse" order: ShardToMerge above AdjacentShardToMerge.
	e.clk.Advance(time.Second)
	must[*sdk.MergeShardsOutput](t)(e.c.MergeShards(ctx, &sdk.MergeShardsInput{StreamName: aws.String("s"), ShardToMerge: aws.String(sid(2)), AdjacentShardToMerge: aws.String(sid(1))}))
	m = byID(e.shards(t, "s"))
	child := m[sid(3)]
	if aws.ToString(child.ParentShardId) != sid(2) || aws.ToString(child.AdjacentParentShardId) != sid(1) ||
		*child.HashKeyRange.StartingHashKey != "0" || *child.HashKeyRange.EndingHashKey != new(big.Int).Sub(two128, big.NewInt(1)).String() {
		t.Fatalf("merged child: %+v", child)
	}
	lowRecs, lowEnd := e.readAll(t, e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(1)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}), 0)
	if lowEnd.NextShardIterator != nil || len(lowEnd.ChildShards) != 1 || !slices.Equal(lowEnd.ChildShards[0].ParentShards, []string{sid(1), sid(2)}) {
		t.Fatalf("end of merged parent: %+v", lowEnd)
	}
	for _, r := range lowRecs {
		if shardFor(t, shards, md5Key(aws.ToString(r.PartitionKey))) != sid(1) {
			t.Fatalf("record %s read from the wrong child", aws.ToString(r.PartitionKey))
		}
	}

	_, err = e.c.MergeShards(ctx, &sdk.MergeShardsInput{StreamName: aws.String("s"), ShardToMerge: aws.String(sid(1)), AdjacentShardToMerge: aws.String(sid(3))})
	wantErr[*types.ResourceInUseException](t, err)
	e.create(t, "three", 3)
	_, err = e.c.MergeShards(ctx, &sdk.MergeShardsInput{StreamName: aws.String("three"), ShardToMerge: aws.String(sid(0)), AdjacentShardToMerge: aws.String(sid(2))})
	wantErr[*types.InvalidArgumentException](t, err)
	_, err = e.c.MergeShards(ctx, &sdk.MergeShardsInput{StreamName: aws.String("three"), ShardToMerge: aws.String(sid(0)), AdjacentShardToMerge: aws.String(sid(8))})
	wantErr[*types.ResourceNotFoundException](t, err)
}

// checkTopology verifies that the open shards tile the hash space evenly in
// n pieces and that every shard's parents exist, are closed and (for merges)
// adjacent.
func checkTopology(t *testing.T, shards []types.Shard, n int, parentsMayBeExpired bool) {
	t.Helper()
	m := byID(shards)
	var open []types.Shard
	for _, s := range shards {
		for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if p == nil {
				continue
			}
			ps, ok := m[*p]
			if !ok && parentsMayBeExpired {
				continue
			}
			if !ok || ps.SequenceNumberRange.EndingSequenceNumber == nil {
				t.Fatalf("%s has parent %s missing or open", *s.ShardId, *p)
			}
		}
		if s.AdjacentParentShardId != nil && !parentsMayBeExpired {
			a, b := m[*s.ParentShardId], m[*s.AdjacentParentShardId]
			ae, bs := bigOf(t, *a.HashKeyRange.EndingHashKey), bigOf(t, *b.HashKeyRange.StartingHashKey)
			be, as := bigOf(t, *b.HashKeyRange.EndingHashKey), bigOf(t, *a.HashKeyRange.StartingHashKey)
			one := big.NewInt(1)
			if new(big.Int).Add(ae, one).Cmp(bs) != 0 && new(big.Int).Add(be, one).Cmp(as) != 0 {
				t.Fatalf("merge parents of %s not adjacent", *s.ShardId)
			}
		}
		if s.SequenceNumberRange.EndingSequenceNumber == nil {
			open = append(open, s)
		}
	}
	if len(open) != n {
		t.Fatalf("%d open shards, want %d", len(open), n)
	}
	sort.Slice(open, func(i, j int) bool {
		return bigOf(t, *open[i].HashKeyRange.StartingHashKey).Cmp(bigOf(t, *open[j].HashKeyRange.StartingHashKey)) < 0
	})
	for i, s := range open {
		want := new(big.Int).Mul(two128, big.NewInt(int64(i)))
		want.Quo(want, big.NewInt(int64(n)))
		if *s.HashKeyRange.StartingHashKey != want.String() {
			t.Fatalf("open shard %d starts at %s, want %s", i, *s.HashKeyRange.StartingHashKey, want)
		}
		if i > 0 {
			prevEnd := bigOf(t, *open[i-1].HashKeyRange.EndingHashKey)
			if new(big.Int).Add(prevEnd, big.NewInt(1)).Cmp(want) != 0 {
				t.Fatalf("gap before open shard %d", i)
			}
		}
	}
	if *open[n-1].HashKeyRange.EndingHashKey != new(big.Int).Sub(two128, big.NewInt(1)).String() {
		t.Fatal("open shards do not reach the top of the hash space")
	}
}

func TestUpdateShardCount(t *testing.T) {
	e := newEnv(t, true)
	e.create(t, "s", 2)
	for i := 0; i < 50; i++ {
		must[*sdk.PutRecordOutput](t)(e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String(string(rune('a' + i%26))), Data: []byte{byte(i)}}))
	}
	expired := false
	step := func(target int32) {
		t.Helper()
		e.clk.Advance(time.Second)
		out := must[*sdk.UpdateShardCountOutput](t)(e.c.UpdateShardCount(ctx, &sdk.UpdateShardCountInput{StreamName: aws.String("s"), TargetShardCount: aws.Int32(target), ScalingType: types.ScalingTypeUniformScaling}))
		if aws.ToInt32(out.TargetShardCount) != target {
			t.Fatalf("output: %+v", out)
		}
		checkTopology(t, e.shards(t, "s"), int(target), expired)
	}
	step(4)
	step(3)
	step(5)
	e.clk.Advance(time.Second)
	_, err := e.c.UpdateShardCount(ctx, &sdk.UpdateShardCountInput{StreamName: aws.String("s"), TargetShardCount: aws.Int32(11), ScalingType: types.ScalingTypeUniformScaling})
	wantErr[*types.LimitExceededException](t, err) // more than double
	_, err = e.c.UpdateShardCount(ctx, &sdk.UpdateShardCountInput{StreamName: aws.String("s"), TargetShardCount: aws.Int32(2), ScalingType: types.ScalingTypeUniformScaling})
	wantErr[*types.LimitExceededException](t, err) // less than half

	// Walking the lineage from the original shards reaches every record once.
	seen := 0
	queue := []string{sid(0), sid(1)}
	visited := map[string]bool{}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if visited[id] {
			continue
		}
		visited[id] = true
		recs, last := e.readAll(t, e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(id), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}), 0)
		e.clk.Advance(time.Second) // stay within 5 GetShardIterator calls/s
		seen += len(recs)
		for _, c := range last.ChildShards {
			queue = append(queue, aws.ToString(c.ShardId))
		}
	}
	if seen != 50 {
		t.Fatalf("lineage walk saw %d records, want 50", seen)
	}

	// Without limits any target works; with limits, ten scalings a day.
	e.emu.SetLimits("s", false)
	step(1)
	step(7)
	e.emu.SetLimits("s", true)
	for i := 0; i < 10-5; i++ {
		if i%2 == 0 {
			step(4)
		} else {
			step(7)
		}
	}
	e.clk.Advance(time.Second)
	_, err = e.c.UpdateShardCount(ctx, &sdk.UpdateShardCountInput{StreamName: aws.String("s"), TargetShardCount: aws.Int32(7), ScalingType: types.ScalingTypeUniformScaling})
	wantErr[*types.LimitExceededException](t, err) // 11th in 24 h
	e.clk.Advance(24 * time.Hour)
	expired = true // shards closed a day ago are past retention now
	step(7)

	_, err = e.c.UpdateShardCount(ctx, &sdk.UpdateShardCountInput{StreamName: aws.String("s"), TargetShardCount: aws.Int32(6), ScalingType: "BOGUS"})
	wantErr[*types.InvalidArgumentException](t, err)
	must[*sdk.CreateStreamOutput](t)(e.c.CreateStream(ctx, &sdk.CreateStreamInput{StreamName: aws.String("od"), StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}))
	_, err = e.c.UpdateShardCount(ctx, &sdk.UpdateShardCountInput{StreamName: aws.String("od"), TargetShardCount: aws.Int32(5), ScalingType: types.ScalingTypeUniformScaling})
	wantErr[*types.InvalidArgumentException](t, err) // on-demand streams cannot be scaled
}
