package scenarios

import (
	"context"
	"fmt"
	"slices"
	"time"

	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/inject"
	"github.com/shardbridge/shardbridge/harness/workload"
	"github.com/shardbridge/shardbridge/replicator/kpl"
)

// HotShardSplit is catalogue item 1.
func HotShardSplit() harness.Scenario {
	return harness.Scenario{
		Name:  "hot-shard-split",
		Title: "Split a hot shard mid-stream, then split its hot child: per-key order holds parent → children",
		Story: "Zipf-skewed keys make one shard hot; it is split at 30% of the run and the hotter child again at 60%, " +
			"with two instances sharing the shards. A consumer that reads a child before its parent is drained " +
			"delivers a key's newer records before its older ones.",
		Guards:    []string{"harlow/kinesis-consumer#155", "apache/flink-connector-aws#145"},
		Items:     []int{1},
		Labels:    []string{LabelResharding, LabelHotShard, LabelExternal},
		Instances: 2,
		Records:   3000,
		Workload:  hot(1000),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.3), inject.SplitShard(harness.HotShard())),
			harness.Then(harness.AfterFraction(0.6), inject.SplitShard(harness.HotShard())),
		},
		Verdicts: afterLeaseMoves(resharded(2, 1), harness.Check{Name: "children delivered", Func: childrenDelivered}),
	}
}

// ShardPartitioningReshard is catalogue items 1 and 2 with
// REPLICATOR_PARTITIONING=shard.
func ShardPartitioningReshard() harness.Scenario {
	return harness.Scenario{
		Name:  "shard-partitioning-reshard",
		Title: "Shard partitioning through a split and a merge: new shards wait for their partitions, then start without a restart",
		Story: "Each shard writes to the partition of its number, and reshards create higher numbers: two shards on a " +
			"two-partition topic, the hot one split at 30% (children 2 and 3 have no partition yet), the topic grown to " +
			"five partitions two seconds later, two adjacent shards merged at 60% (child 4). A replicator that reads the " +
			"partition count only at start halts the children until someone restarts it; per-shard order must hold.",
		Items:      []int{1, 2},
		Labels:     []string{LabelResharding, LabelExternal},
		Shards:     2,
		Partitions: 2,
		Instances:  2,
		Records:    3000,
		Workload:   hot(1000),
		Settings:   map[string]string{"REPLICATOR_PARTITIONING": "shard"},
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.3), inject.SplitShard(harness.HotShard())),
			harness.Then(harness.Wait(2*time.Second), inject.GrowTopic(5)),
			harness.Then(harness.AfterFraction(0.6), inject.MergeShards()),
		},
		Verdicts: afterLeaseMoves(resharded(2, 2), harness.Check{Name: "children delivered", Func: childrenDelivered}),
	}
}

// ColdShardMerge is catalogue item 2.
func ColdShardMerge() harness.Scenario {
	return harness.Scenario{
		Name:  "cold-shard-merge",
		Title: "Merge two cold shards mid-stream: the child waits for both parents",
		Story: "Three shards, skewed keys; at 40% the two coldest adjacent shards are merged. The merged child may " +
			"be read only after both parents are checkpointed at SHARD_END, or keys from the slower parent come out of order.",
		Guards:    []string{"harlow/kinesis-consumer#155", "apache/flink-connector-aws#145"},
		Items:     []int{2},
		Labels:    []string{LabelResharding, LabelExternal},
		Shards:    3,
		Instances: 2,
		Records:   3000,
		Workload:  hot(1000),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.4), inject.MergeShards()),
		},
		Verdicts: afterLeaseMoves(resharded(1, 2), harness.Check{Name: "children delivered", Func: childrenDelivered}),
	}
}

// UpdateShardCountUpDown is catalogue item 18.
func UpdateShardCountUpDown() harness.Scenario {
	return harness.Scenario{
		Name:  "update-shard-count",
		Title: "UpdateShardCount up, then down, mid-stream: every parent is drained before its children, through short-lived shards",
		Story: "Two shards, two instances, skewed keys. At 30% the stream is scaled to 4 shards with UpdateShardCount " +
			"(uniform scaling: every shard split), at 65% down to 3, which Kinesis does by splitting and merging through " +
			"short-lived shards that are closed as soon as they exist. Every open shard is closed at once each time; a " +
			"consumer that reads any child before all its parents (or skips the empty short-lived ones) loses or reorders keys.",
		Items:     []int{18},
		Labels:    []string{LabelResharding},
		Instances: 2,
		Records:   3000,
		Workload:  hot(1000),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.3), inject.UpdateShardCount(4)),
			harness.Then(harness.AfterFraction(0.65), inject.UpdateShardCount(3)),
		},
		Verdicts: afterLeaseMoves(scaledTwice, harness.Check{Name: "children delivered", Func: childrenDelivered}),
	}
}

// OnDemandStream is catalogue item 18 on a stream in on-demand capacity
// mode.
func OnDemandStream() harness.Scenario {
	return harness.Scenario{
		Name:  "on-demand-stream",
		Title: "An on-demand stream switched to provisioned and scaled up and down mid-stream: every record, parents first",
		Story: "The stream is created on demand (Kinesis picks 4 shards). At 25% it is switched to provisioned capacity, " +
			"as teams do to control cost, then scaled to 8 shards with UpdateShardCount, and at 60% down to 6 and back " +
			"on demand. The replicator must follow shards it did not see at start, through every parent before its children.",
		Items:     []int{18},
		Labels:    []string{LabelResharding},
		OnDemand:  true,
		Instances: 2,
		Records:   3000,
		Workload:  hot(1000),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.25), inject.SwitchStreamMode(ktypes.StreamModeProvisioned)),
			harness.Then(harness.Now(), inject.UpdateShardCount(8)),
			harness.Then(harness.AfterFraction(0.6), inject.UpdateShardCount(6)),
			harness.Then(harness.Now(), inject.SwitchStreamMode(ktypes.StreamModeOnDemand)),
		},
		Verdicts: afterLeaseMoves(scaledTwice, harness.Check{Name: "children delivered", Func: childrenDelivered}),
	}
}

// scaledTwice checks that both UpdateShardCount calls closed shards.
var scaledTwice = harness.Check{Name: "scaled", Func: func(_ context.Context, _ *harness.Run, o *harness.Outcome) []string {
	if len(o.Reshards) != 2 {
		return []string{fmt.Sprintf("%d reshards happened, want 2 (up, then down)", len(o.Reshards))}
	}
	var f []string
	for i, rs := range o.Reshards {
		if len(rs.Parents) == 0 || len(rs.Children) == 0 {
			f = append(f, fmt.Sprintf("scaling %d closed %v and opened %v", i+1, rs.Parents, rs.Children))
		}
	}
	return f
}}

// CrashAfterShardEnd is catalogue item 3.
func CrashAfterShardEnd() harness.Scenario {
	return harness.Scenario{
		Name:  "crash-after-shard-end",
		Title: "SIGKILL right after a parent's SHARD_END checkpoint, children's leases gone: the children are still read",
		Story: "The real binary runs as a child process. A shard is split; the moment its lease shows SHARD_END the " +
			"process is SIGKILLed and the children's lease rows are deleted, which is the state the KCL left behind when it " +
			"crashed between the two writes (children never created, the parent finished for good). On restart, " +
			"shard discovery must create the children's leases from the stream's lineage and read them from TRIM_HORIZON.",
		Guards:    []string{"awslabs/amazon-kinesis-client#548", "awslabs/amazon-kinesis-client#837", "awslabs/amazon-kinesis-client#442"},
		Items:     []int{3},
		Labels:    []string{LabelCrash, LabelResharding, LabelLease},
		Processes: true,
		Records:   3000,
		Workload:  hot(1000),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.25), inject.SplitShard(harness.HotShard())),
			harness.Then(harness.ParentsFinished(), inject.Kill(harness.InstanceAt(0))),
			harness.Then(harness.Now(), inject.DeleteLease("the children", inject.LastChildren)),
			harness.Then(harness.Wait(300*time.Millisecond), inject.StartAgain(harness.InstanceAt(0))),
		},
		Verdicts: afterLeaseMoves(happened("kill", "lease-delete"), harness.Check{Name: "children delivered", Func: childrenDelivered}),
	}
}

// RestartAcrossSplit is catalogue item 4.
func RestartAcrossSplit() harness.Scenario {
	return harness.Scenario{
		Name:  "restart-across-split",
		Title: "Crash, split while down, restart: the closed parent's unread tail is still drained before its children",
		Story: "The binary is SIGKILLed at 25%; while it is down the hot shard is split, closing the parent with " +
			"records nobody has read. After the restart the parent must be read from its checkpoint to its end, " +
			"then its children — a consumer that only lists open shards skips the tail for good.",
		Guards:    []string{"redpanda-data/connect#2649"},
		Items:     []int{4},
		Labels:    []string{LabelCrash, LabelResharding},
		Processes: true,
		Records:   3000,
		Workload:  hot(1000),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.25), inject.Kill(harness.InstanceAt(0))),
			harness.Then(harness.AfterFraction(0.4), inject.SplitShard(harness.HotShard())),
			harness.Then(harness.AfterFraction(0.55), inject.StartAgain(harness.InstanceAt(0))),
		},
		Verdicts: afterLeaseMoves(harness.Check{Name: "scenario checks", Func: func(ctx context.Context, r *harness.Run, o *harness.Outcome) []string {
			f := childrenDelivered(ctx, r, o)
			rs := o.Reshards
			if len(rs) > 0 {
				parent := rs[0].Parents[0]
				if o.OutputPerShard()[parent] < r.AckedPerShard()[parent] {
					f = append(f, fmt.Sprintf("parent %s: %d of %d records delivered", parent, o.OutputPerShard()[parent], r.AckedPerShard()[parent]))
				}
			}
			return f
		}}),
	}
}

// TrimmedParent is catalogue item 5.
func TrimmedParent() harness.Scenario {
	return harness.Scenario{
		Name:  "trimmed-parent",
		Title: "A parent trimmed by retention before it was read: its children must not wait forever",
		Story: "The only instance stops at 15%; the hot shard is split at 30% and at 45% retention drops every " +
			"record so far together with the closed parent. The parent's lease still exists, unfinished. When the " +
			"instance comes back at 55%, the children must be read (records written after the trim are all " +
			"required) instead of waiting for a parent that can never be finished.",
		Guards:   []string{"influxdata/telegraf#17877"},
		Items:    []int{5},
		Labels:   []string{LabelResharding},
		Settings: calm(nil),
		Records:  3000,
		Workload: hot(1000),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.15), inject.Stop(harness.InstanceAt(0))),
			harness.Then(harness.AfterFraction(0.3), inject.SplitShard(harness.HotShard())),
			harness.Then(harness.AfterFraction(0.45), inject.TrimStream()),
			harness.Then(harness.AfterFraction(0.55), inject.StartAgain(harness.InstanceAt(0))),
		},
		Verdicts: harness.Verdicts{Checks: []harness.Check{happened("retention-trim"), harness.Check{Name: "scenario checks", Func: func(_ context.Context, r *harness.Run, o *harness.Outcome) []string {
			var f []string
			out := o.OutputPerShard()
			for _, rs := range o.Reshards {
				for _, c := range rs.Children {
					if out[c] == 0 && r.AckedPerShard()[c] > 0 {
						f = append(f, fmt.Sprintf("child %s of the trimmed parent was never read", c))
					}
				}
			}
			return f
		}}}},
	}
}

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
		Requires: []bridge.Capability{bridge.Metrics},
		Shards:   1,
		Records:  3000,
		Settings: calm(nil),
		Workload: []workload.Option{
			workload.WithRate(1000), workload.WithProducers(2), workload.WithKeys(workload.UniformKeys(32)),
			workload.WithAggregation(4), workload.WithSubRecordHashKeys(quarterHashKey, threeQuarterHashKey),
		},
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.3), inject.SplitShard(harness.OpenShard(0))),
			harness.Then(harness.AfterFraction(0.65), inject.SplitShard(harness.OpenShard(0))),
		},
		Verdicts: harness.Verdicts{Checks: []harness.Check{{Name: "scenario checks", Func: verifyKPLAfterReshard}}},
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
