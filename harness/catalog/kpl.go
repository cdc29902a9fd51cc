package catalog

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/workload"
	"github.com/shardbridge/shardbridge/replicator/kpl"
)

// Explicit hash keys a quarter and three quarters into the hash key space:
// one in each child of a split of the full range, each in a different
// grandchild once the lower child is split again.
const (
	quarterHashKey      = shard0Middle // 2^126
	threeQuarterHashKey = "255211775190703847597530955573826158592"
)

// KPLAfterReshard is catalogue item 13.
//
// Every sub-record of a KPL aggregate exists only inside that aggregate,
// which Kinesis stored in exactly one shard: the one its own partition key
// (or explicit hash key) routes to. The KCL drops sub-records whose hash key
// lies outside that shard's range, assuming the producer wrote them to the
// right shard as well. Only the KPL does that (it re-sends user records that
// landed on a shard it did not predict); the kinesis-aggregation library,
// Fluent Bit and hand-rolled aggregators do not, so for them the KCL loses
// the records (amazon-kinesis-client#343, kinesis-aggregation#11). A
// consumer cannot tell the two apart, and a copy Kinesis holds twice is a
// producer's duplicate while a dropped one is gone: the replicator keeps
// every sub-record, so the expected filtered count here is exactly 0.
func KPLAfterReshard() harness.Scenario {
	return harness.Scenario{
		Name:  "kpl-after-reshard",
		Title: "KPL aggregates whose sub-records fall outside their shard's hash range after a split: none is dropped",
		Story: "One shard; two producers write KPL aggregates of four records of one key, routed by that key, whose " +
			"sub-records alternate between explicit hash keys a quarter and three quarters into the hash key space. " +
			"At 30% the shard is split and at 65% its lower child: from then on every aggregate carries sub-records " +
			"that belong to a sibling's range (in the lowest grandchild, all of them). Kinesis holds them nowhere " +
			"else, so a consumer that drops out-of-range sub-records, as the KCL does, loses them.",
		Guards:   []string{"awslabs/amazon-kinesis-client#343", "awslabs/kinesis-aggregation#11"},
		Items:    []int{13},
		Labels:   []string{LabelResharding},
		Asserts:  []string{"LoseNothing (every sub-record, in its shard's range or not)", "KeepPerKeyOrder", "KeepPerShardOrder", "HaveNoDuplicates", "no sub-record filtered (replicator_records_filtered_total = 0)", "children received out-of-range sub-records, and whole aggregates out of range; the replicator counted exactly those (replicator_kpl_out_of_range_total)", "keys continue from parent to child; children delivered; parents finished at SHARD_END"},
		Shards:   1,
		Records:  3000,
		Settings: calm(nil),
		Workload: []workload.Option{
			workload.WithRate(1000), workload.WithProducers(2), workload.WithKeys(workload.UniformKeys(32)),
			workload.WithAggregation(4), workload.WithSubRecordHashKeys(quarterHashKey, threeQuarterHashKey),
		},
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.3), harness.SplitShard(harness.OpenShard(0))),
			harness.Then(harness.AfterFraction(0.65), harness.SplitShard(harness.OpenShard(0))),
		},
		Verify: verifyKPLAfterReshard,
	}
}

// verifyKPLAfterReshard checks that the run exercised what it is about and
// that the replicator filtered nothing; LoseNothing and the order matchers
// check the records themselves.
func verifyKPLAfterReshard(ctx context.Context, r *harness.Run, o *harness.Outcome) []string {
	f := childrenDelivered(ctx, r, o)
	if o.Total.Filtered != 0 {
		f = append(f, fmt.Sprintf("%d sub-records filtered (replicator_records_filtered_total): they exist in no other shard, so they are lost", o.Total.Filtered))
	}
	shards, err := r.Shards(ctx)
	if err != nil {
		return append(f, fmt.Sprintf("list shards: %v", err))
	}
	ranges := map[string][2]string{}
	children := map[string]bool{}
	for _, s := range shards {
		ranges[aws.ToString(s.ShardId)] = [2]string{aws.ToString(s.HashKeyRange.StartingHashKey), aws.ToString(s.HashKeyRange.EndingHashKey)}
		children[aws.ToString(s.ShardId)] = aws.ToString(s.ParentShardId) != ""
	}
	type aggregate struct{ shard, seq string }
	outOfRange, subs := map[aggregate]int{}, map[aggregate]int{}
	keyShards := map[string][]string{}
	n := 0
	for _, a := range r.Acked() {
		ag := aggregate{a.ShardID, a.SequenceNumber}
		subs[ag]++
		hr := ranges[a.ShardID]
		if !kpl.InRange(kpl.SubRecord{PartitionKey: a.Key, ExplicitHashKey: a.SubExplicitHashKey}, hr[0], hr[1]) {
			outOfRange[ag]++
			n++
		}
		if k := fmt.Sprintf("%d/%s", a.Producer, a.Key); !slices.Contains(keyShards[k], a.ShardID) {
			keyShards[k] = append(keyShards[k], a.ShardID)
		}
	}
	whole := 0
	for ag, c := range outOfRange {
		if c == subs[ag] {
			whole++
		}
	}
	if n == 0 {
		f = append(f, "no sub-record landed outside its shard's hash range: the scenario did not exercise the case")
	}
	// One instance, no fault: each record is read once, so the replicator
	// must have met exactly these out-of-range sub-records.
	if o.Total.OutOfRange != int64(n) {
		f = append(f, fmt.Sprintf("the replicator counted %d sub-records outside their shard's hash range (replicator_kpl_out_of_range_total), the stream holds %d", o.Total.OutOfRange, n))
	}
	if whole == 0 {
		f = append(f, "no aggregate lay wholly outside its shard's hash range")
	}
	spanning := 0
	for _, ids := range keyShards {
		if slices.ContainsFunc(ids, func(id string) bool { return !children[id] }) && slices.ContainsFunc(ids, func(id string) bool { return children[id] }) {
			spanning++
		}
	}
	if spanning == 0 {
		f = append(f, "no key has records in both a parent and a child: per-key order across the split was not exercised")
	}
	return f
}
