// Package catalog is the registry of Shardbridge's chaos scenarios: the
// failures that hurt real Kinesis consumers (design.md, "The chaos
// catalogue"), each written as a harness.Scenario that names the bug reports
// it guards against. The Ginkgo suites in scenarios/ and the `chaos` command
// run the very same definitions: specs assert on the Outcome with the
// checker's matchers; the command prints the report and exits non-zero when a
// promise is broken.
//
// Every function returns a fresh Scenario (no shared state), so callers may
// adjust a copy. Self-tests (label "self-test") run a deliberately broken
// replicator and are expected to FAIL: they prove the checker notices.
package catalog

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/workload"
)

// Labels of fault kinds (ginkgo --label-filter).
const (
	LabelHotShard        = "hot-shard"
	LabelThrottling      = "throttling"
	LabelExpiredIterator = "expired-iterator"
	LabelCrash           = "crash"
	LabelResharding      = "resharding"
	LabelLease           = "lease"
	LabelReplay          = "replay"
	LabelKafka           = "kafka"
	// LabelExternal marks the representative subset that must also pass on
	// the reference backend (kinesis-mock + dynalite + kfake).
	LabelExternal = "external"
	// LabelSelfTest marks the deliberately broken runs.
	LabelSelfTest = "self-test"
	LabelBaseline = "baseline"
)

// All returns every scenario of the catalogue, self-tests last. The demo
// (Demo) is a tour over several of them, not a proof of its own, and is not
// listed; Get finds it.
func All() []harness.Scenario {
	return []harness.Scenario{
		Baseline(),
		HotShardSplit(),
		ColdShardMerge(),
		KPLAfterReshard(),
		CrashAfterShardEnd(),
		RestartAcrossSplit(),
		TrimmedParent(),
		ZombieCheckpoint(),
		LeaseTableCutOff(),
		RebalanceJoinLeave(),
		LeaseMovesBeforeChildCheckpoint(),
		SinkStallExpiredIterators(),
		ReadThrottling(),
		CompetingConsumers(),
		LeaseTableThrottled(),
		LeaseRowsDamaged(),
		LeaseTableLostAnswers(),
		HotKeys(),
		KafkaBrokerFaults(),
		ReplayTrimHorizon(),
		ReplayAtTimestamp(),
		BrokenDroppingSink(),
		BrokenDuplicatingSink(),
		BrokenReorderingSink(),
		BrokenDroppingTransform(),
		BrokenDeadLettering(),
	}
}

// Get returns the scenario named name (the demo included).
func Get(name string) (harness.Scenario, bool) {
	for _, s := range append(All(), Demo()) {
		if s.Name == name {
			return s, true
		}
	}
	return harness.Scenario{}, false
}

// Names lists every scenario name.
func Names() []string {
	var n []string
	for _, s := range All() {
		n = append(n, s.Name)
	}
	return n
}

// ExpectedToFail reports whether a scenario is a self-test of a broken replicator.
func ExpectedToFail(s harness.Scenario) bool { return slices.Contains(s.Labels, LabelSelfTest) }

// calm is for scenarios that allow no duplicates: a long failover time, so
// that a CPU-starved test machine (renewals late by seconds) cannot make a
// lone instance lose its own lease and re-read from its checkpoint. Crash
// scenarios keep the harness's short default to recover quickly.
func calm(extra map[string]string) map[string]string {
	m := map[string]string{"REPLICATOR_FAILOVER_TIME": "8s"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// steady is a workload of uniform keys at a steady rate, so that faults
// scheduled by fraction land mid-stream.
func steady(rate float64) []workload.Option {
	return []workload.Option{workload.WithRate(rate), workload.WithProducers(2), workload.WithKeys(workload.UniformKeys(32))}
}

// hot is a workload whose keys are Zipf-skewed, so one shard runs hot.
func hot(rate float64) []workload.Option {
	return []workload.Option{workload.WithRate(rate), workload.WithProducers(2), workload.WithKeys(workload.ZipfKeys(40, 1.4))}
}

// Demo is what `make demo` runs: a hot-key workload over two shards and two
// replicator processes; the hot shard is split, an instance is SIGKILLed and
// restarted, every iterator expires and reads are throttled, and the checker
// then accounts for every record.
func Demo() harness.Scenario {
	return harness.Scenario{
		Name:  "demo",
		Title: "The tour: split the hot shard, kill an instance, expire iterators, throttle reads — then check every record",
		Story: "Two replicator processes share a stream whose keys are Zipf-skewed (one shard runs hot; one record " +
			"in 100 is malformed and must be dead-lettered). At 20% the hot shard is split, at 35% one instance is " +
			"SIGKILLed and at 50% it comes back, at 60% every shard iterator expires (the clock jumps five minutes), " +
			"at 75% every read is throttled for three seconds. Afterwards the checker reads both topics to the end.",
		Labels:        []string{LabelHotShard, LabelResharding, LabelCrash, LabelExpiredIterator, LabelThrottling},
		Items:         []int{1, 11, 12, 15},
		Asserts:       []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "AccountForEveryDLQRecord", "duplicates reported with their causes"},
		Mode:          harness.ChildProcess,
		Shards:        2,
		Instances:     2,
		Records:       15000,
		DLQ:           true,
		Settings:      map[string]string{"REPLICATOR_TRANSFORM": "json-validate"},
		Workload:      append(hot(750), workload.WithMalformedEvery(100)),
		MaxDuplicates: harness.AnyDuplicates,
		Timeout:       3 * time.Minute,
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.2), harness.SplitShard(harness.HotShard())),
			harness.Then(harness.AfterFraction(0.35), harness.Kill(harness.InstanceAt(0))),
			harness.Then(harness.AfterFraction(0.5), harness.StartAgain(harness.InstanceAt(0))),
			harness.Then(harness.AfterFraction(0.6), harness.ExpireIterators()),
			harness.Then(harness.AfterFraction(0.75), harness.ThrottleReads(3*time.Second)),
		},
		Verify: childrenDelivered,
	}
}

// Baseline has no faults: the reference every other scenario departs from.
func Baseline() harness.Scenario {
	return harness.Scenario{
		Name:  "baseline",
		Title: "No faults: every record once, in order; malformed and oversized records dead-lettered",
		Story: "Two shards, one instance, a dead-letter topic, the json-validate transform and a topic whose " +
			"max.message.bytes is 32 KiB. One record in 50 is not JSON and one in 70 is 40 KiB. Without a " +
			"single fault nothing may be lost, reordered or duplicated, and every bad record must be in the DLQ with its reason.",
		Labels:      []string{LabelBaseline, LabelExternal},
		Asserts:     []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "HaveNoDuplicates", "AccountForEveryDLQRecord", "BeExactlyOnceByIdempotence"},
		Records:     2000,
		DLQ:         true,
		Settings:    calm(map[string]string{"REPLICATOR_TRANSFORM": "json-validate"}),
		TopicConfig: map[string]string{"max.message.bytes": "32768"},
		Workload:    append(steady(1500), workload.WithMalformedEvery(50), workload.WithOversizedEvery(70), workload.WithOversizedSize(40<<10)),
		Verify: func(_ context.Context, _ *harness.Run, o *harness.Outcome) []string {
			var f []string
			if o.Result.AckedMalformed == 0 || o.Result.AckedOversized == 0 {
				f = append(f, "the workload wrote no malformed or no oversized record: the DLQ was not exercised")
			}
			return f
		},
	}
}

// childrenDelivered checks that every child shard of every reshard that
// received records has them in Kafka, and that every parent was finished.
func childrenDelivered(_ context.Context, r *harness.Run, o *harness.Outcome) []string {
	var f []string
	if len(o.Reshards) == 0 {
		return []string{"no split or merge happened"}
	}
	acked := r.AckedPerShard()
	out := o.OutputPerShard()
	for _, rs := range o.Reshards {
		for _, c := range rs.Children {
			if acked[c] > 0 && out[c] == 0 {
				f = append(f, fmt.Sprintf("child shard %s received %d records, none reached Kafka", c, acked[c]))
			}
		}
		for _, p := range rs.Parents {
			if _, ok := r.Leases.Finished(p); !ok && acked[p] > 0 {
				if _, exists := r.Leases.Lease(p); exists {
					f = append(f, fmt.Sprintf("parent shard %s was never checkpointed at SHARD_END", p))
				}
			}
		}
	}
	return f
}

// HotShardSplit is catalogue item 1.
func HotShardSplit() harness.Scenario {
	return harness.Scenario{
		Name:  "hot-shard-split",
		Title: "Split a hot shard mid-stream, then split its hot child: per-key order holds parent → children",
		Story: "Zipf-skewed keys make one shard hot; it is split at 30% of the run and the hotter child again at 60%, " +
			"with two instances sharing the shards. A consumer that reads a child before its parent is drained " +
			"delivers a key's newer records before its older ones.",
		Guards:        []string{"harlow/kinesis-consumer#155", "apache/flink-connector-aws#145"},
		Items:         []int{1},
		Labels:        []string{LabelResharding, LabelHotShard, LabelExternal},
		Asserts:       []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "duplicates ≤ 3000, each explained by a lease move", "every child shard's records delivered; every parent finished at SHARD_END"},
		Instances:     2,
		Records:       3000,
		Workload:      hot(1000),
		MaxDuplicates: 3000,
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.3), harness.SplitShard(harness.HotShard())),
			harness.Then(harness.AfterFraction(0.6), harness.SplitShard(harness.HotShard())),
		},
		Verify: childrenDelivered,
	}
}

// ColdShardMerge is catalogue item 2.
func ColdShardMerge() harness.Scenario {
	return harness.Scenario{
		Name:  "cold-shard-merge",
		Title: "Merge two cold shards mid-stream: the child waits for both parents",
		Story: "Three shards, skewed keys; at 40% the two coldest adjacent shards are merged. The merged child may " +
			"be read only after both parents are checkpointed at SHARD_END, or keys from the slower parent come out of order.",
		Guards:        []string{"harlow/kinesis-consumer#155", "apache/flink-connector-aws#145"},
		Items:         []int{2},
		Labels:        []string{LabelResharding, LabelExternal},
		Asserts:       []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "duplicates ≤ 3000, each explained by a lease move", "the merged child's records delivered; both parents finished"},
		Shards:        3,
		Instances:     2,
		Records:       3000,
		Workload:      hot(1000),
		MaxDuplicates: 3000,
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.4), harness.MergeShards()),
		},
		Verify: childrenDelivered,
	}
}

// CrashAfterShardEnd is catalogue item 3.
func CrashAfterShardEnd() harness.Scenario {
	return harness.Scenario{
		Name:  "crash-after-shard-end",
		Title: "SIGKILL right after a parent's SHARD_END checkpoint, children's leases gone: the children are still read",
		Story: "The real binary runs as a child process. A shard is split; the moment its lease shows SHARD_END the " +
			"process is SIGKILLed and the children's lease rows are deleted, which is the state the KCL left behind when it " +
			"crashed between the two writes (children never created, the parent finished for good). On restart, " +
			"shard discovery must create the children's leases from the stream's lineage and read them from TRIM_HORIZON.",
		Guards:        []string{"awslabs/amazon-kinesis-client#548", "awslabs/amazon-kinesis-client#837", "awslabs/amazon-kinesis-client#442"},
		Items:         []int{3},
		Labels:        []string{LabelCrash, LabelResharding, LabelLease},
		Asserts:       []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "duplicates ≤ 3000, each explained by a lease move from a checkpoint below it", "children delivered"},
		Mode:          harness.ChildProcess,
		Records:       3000,
		Workload:      hot(1000),
		MaxDuplicates: 3000,
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.25), harness.SplitShard(harness.HotShard())),
			harness.Then(harness.ParentsFinished(), harness.Kill(harness.InstanceAt(0))),
			harness.Then(harness.Now(), harness.DeleteLease("the children", harness.LastChildren)),
			harness.Then(harness.Wait(300*time.Millisecond), harness.StartAgain(harness.InstanceAt(0))),
		},
		Verify: childrenDelivered,
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
		Guards:        []string{"redpanda-data/connect#2649"},
		Items:         []int{4},
		Labels:        []string{LabelCrash, LabelResharding},
		Asserts:       []string{"LoseNothing (the parent's tail included)", "KeepPerKeyOrder", "KeepPerShardOrder", "duplicates ≤ 3000, each explained by a lease move", "children delivered; the parent finished"},
		Mode:          harness.ChildProcess,
		Records:       3000,
		Workload:      hot(1000),
		MaxDuplicates: 3000,
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.25), harness.Kill(harness.InstanceAt(0))),
			harness.Then(harness.AfterFraction(0.4), harness.SplitShard(harness.HotShard())),
			harness.Then(harness.AfterFraction(0.55), harness.StartAgain(harness.InstanceAt(0))),
		},
		Verify: func(ctx context.Context, r *harness.Run, o *harness.Outcome) []string {
			f := childrenDelivered(ctx, r, o)
			rs := o.Reshards
			if len(rs) > 0 {
				parent := rs[0].Parents[0]
				if o.OutputPerShard()[parent] < r.AckedPerShard()[parent] {
					f = append(f, fmt.Sprintf("parent %s: %d of %d records delivered", parent, o.OutputPerShard()[parent], r.AckedPerShard()[parent]))
				}
			}
			return f
		},
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
		Asserts:  []string{"LoseNothing (every record written after the trim)", "KeepPerKeyOrder", "KeepPerShardOrder", "no duplicates", "children delivered"},
		Settings: calm(nil),
		Records:  3000,
		Workload: hot(1000),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.15), harness.Stop(harness.InstanceAt(0))),
			harness.Then(harness.AfterFraction(0.3), harness.SplitShard(harness.HotShard())),
			harness.Then(harness.AfterFraction(0.45), harness.TrimStream()),
			harness.Then(harness.AfterFraction(0.55), harness.StartAgain(harness.InstanceAt(0))),
		},
		Verify: func(_ context.Context, r *harness.Run, o *harness.Outcome) []string {
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
		},
	}
}

// ZombieCheckpoint is catalogue item 6.
func ZombieCheckpoint() harness.Scenario {
	return harness.Scenario{
		Name:  "zombie-checkpoint",
		Title: "A paused worker wakes after its leases were taken: its checkpoints are refused",
		Story: "Two binaries; one is SIGSTOPped at 30% until the other holds every lease and has checkpointed past " +
			"it, then SIGCONTed. The zombie still believes it owns its shards: any checkpoint it writes must fail the " +
			"lease's compare-and-set, or it would rewind (or fast-forward) the new owner's progress.",
		Guards:        []string{"awslabs/amazon-kinesis-client#108", "awslabs/amazon-kinesis-client#677", "awslabs/amazon-kinesis-client#973"},
		Items:         []int{6},
		Labels:        []string{LabelLease, LabelCrash},
		Asserts:       []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "duplicates ≤ 3000, each explained by a lease move", "no lease checkpoint ever went backwards", "the zombie saw its leases lost"},
		Mode:          harness.ChildProcess,
		Instances:     2,
		Records:       3000,
		Workload:      steady(800),
		MaxDuplicates: 3000,
		Schedule: []harness.Step{
			// Only an instance holding leases can become a zombie: under load
			// the start-up steal may still be pending at 30%.
			harness.Then(harness.AfterFraction(0.3), harness.Note("milestone", "30% of the records in")),
			harness.Then(harness.Balanced(), harness.Pause(harness.InstanceAt(0))),
			harness.Then(harness.OwnsAllLeases(1), harness.Note("milestone", "r1 holds every lease")),
			harness.Then(harness.Wait(1500*time.Millisecond), harness.Resume(harness.InstanceAt(0))),
		},
		Verify: func(_ context.Context, _ *harness.Run, o *harness.Outcome) []string {
			z := o.Stats["r0"]
			if z.LeaseEvents["lost"] == 0 && z.Checkpoints["lost"] == 0 {
				return []string{fmt.Sprintf("the zombie r0 never noticed it lost its leases (lease events %v, checkpoints %v)", z.LeaseEvents, z.Checkpoints)}
			}
			return nil
		},
	}
}

// RebalanceJoinLeave is catalogue item 7.
func RebalanceJoinLeave() harness.Scenario {
	return harness.Scenario{
		Name:  "rebalance-join-leave",
		Title: "Instances join and leave mid-stream: leases are stolen and handed over, duplicates bounded, nothing lost",
		Story: "Four shards and one instance; a second and a third join (stealing leases one at a time towards an " +
			"even share), then the first leaves gracefully and the second is killed. Every steal and takeover may " +
			"replay a little — never lose, never reorder.",
		Guards:        []string{"awslabs/amazon-kinesis-client#265"},
		Items:         []int{7},
		Labels:        []string{LabelLease, LabelCrash, LabelExternal},
		Asserts:       []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "duplicates ≤ 3000, each explained by a lease move", "leases moved between workers"},
		Shards:        4,
		Records:       3000,
		Workload:      steady(700),
		MaxDuplicates: 3000,
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.15), harness.AddInstance()),
			harness.Then(harness.AfterFraction(0.3), harness.AddInstance()),
			harness.Then(harness.AfterFraction(0.55), harness.Stop(harness.InstanceAt(0))),
			harness.Then(harness.AfterFraction(0.75), harness.Kill(harness.InstanceAt(1))),
		},
		Verify: func(_ context.Context, _ *harness.Run, o *harness.Outcome) []string {
			if o.LeaseMoves == 0 {
				return []string{"no lease ever moved between workers: the rebalance was not exercised"}
			}
			return nil
		},
	}
}

// LeaseMovesBeforeChildCheckpoint is catalogue item 10.
func LeaseMovesBeforeChildCheckpoint() harness.Scenario {
	return harness.Scenario{
		Name:  "lease-moves-before-child-checkpoint",
		Title: "A child shard's lease moves before its first checkpoint: the new owner starts at the child's beginning",
		Story: "Checkpoints are rare (every 30 s) so that a child shard's lease still reads TRIM_HORIZON when its " +
			"owner is killed, moments after taking it. The next owner must read the child from its first record, " +
			"not from LATEST and not from some parent position.",
		Guards:        []string{"awslabs/amazon-kinesis-client#751"},
		Items:         []int{10},
		Labels:        []string{LabelLease, LabelResharding, LabelCrash},
		Asserts:       []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "duplicates ≤ 3000, each explained by a lease move", "the child's lease changed owner"},
		Instances:     2,
		Records:       3000,
		Workload:      hot(1000),
		Settings:      map[string]string{"CHECKPOINT_FREQ_SECONDS": "30"},
		MaxDuplicates: 3000,
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.3), harness.SplitShard(harness.HotShard())),
			harness.Then(harness.ChildTaken(), harness.Kill(harness.OwnerOf("a child", harness.LastChildren))),
		},
		Verify: func(ctx context.Context, r *harness.Run, o *harness.Outcome) []string {
			f := childrenDelivered(ctx, r, o)
			moved := false
			for _, c := range o.LeaseChanges {
				if slices.Contains(o.Reshards[0].Children, c.Shard) && c.From != "" && c.To != "" {
					moved = true
				}
			}
			if !moved {
				f = append(f, "no child lease moved from its killed owner to another worker")
			}
			return f
		},
	}
}

// SinkStallExpiredIterators is catalogue item 11.
func SinkStallExpiredIterators() harness.Scenario {
	return harness.Scenario{
		Name:  "sink-stall-expired-iterators",
		Title: "Kafka stalls longer than the iterator lifetime: expired iterators are renewed where reading stopped",
		Story: "At 30% the Kafka sink stalls; meanwhile every shard iterator expires (the clock jumps past five " +
			"minutes on the embedded backend; elsewhere the fault layer answers ExpiredIteratorException). When " +
			"Kafka comes back the reader must take a new AFTER_SEQUENCE_NUMBER iterator at the last record it " +
			"handed on — not restart from the checkpoint (duplicates) or from the horizon, and not skip ahead.",
		Guards:   []string{"harlow/kinesis-consumer#166", "twitchscience/kinsumer#51", "awslabs/amazon-kinesis-client#829"},
		Items:    []int{11},
		Labels:   []string{LabelExpiredIterator, LabelKafka, LabelExternal},
		Asserts:  []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "HaveNoDuplicates", "expired iterators were seen and recovered"},
		Settings: calm(nil),
		Records:  3000,
		Workload: steady(1000),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.3), harness.StallSink()),
			harness.Then(harness.Wait(500*time.Millisecond), harness.ExpireIterators()),
			harness.Then(harness.Wait(700*time.Millisecond), harness.ReleaseSink()),
		},
		Verify: func(_ context.Context, _ *harness.Run, o *harness.Outcome) []string {
			if o.Total.ExpiredIterators == 0 {
				return []string{"the replicator never saw an expired iterator: the fault was not exercised"}
			}
			return nil
		},
	}
}

// ReadThrottling is catalogue item 12, by fault rule.
func ReadThrottling() harness.Scenario {
	return harness.Scenario{
		Name:  "read-throttling",
		Title: "GetRecords throttled for 3 seconds: the replicator backs off and catches up",
		Story: "Every GetRecords is answered ProvisionedThroughputExceededException for three seconds mid-run. The " +
			"reader must back off (not spin), lose nothing and catch up once the throttling ends.",
		Guards:   []string{"harlow/kinesis-consumer#158", "awslabs/amazon-kinesis-client#1521"},
		Items:    []int{12},
		Labels:   []string{LabelThrottling, LabelExternal},
		Asserts:  []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "HaveNoDuplicates", "throttles were counted"},
		Settings: calm(nil),
		Records:  3000,
		Workload: steady(1000),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.25), harness.ThrottleReads(3*time.Second)),
		},
		Verify: func(_ context.Context, _ *harness.Run, o *harness.Outcome) []string {
			if o.Total.Throttles == 0 {
				return []string{"no throttled call was counted"}
			}
			return nil
		},
	}
}

// CompetingConsumers is catalogue item 12, by the real per-shard read limit.
func CompetingConsumers() harness.Scenario {
	return harness.Scenario{
		Name:  "competing-consumers",
		Title: "Other consumers push a shard past 5 reads/s: the replicator is throttled, backs off, catches up",
		Story: "Two extra consumers per shard call GetRecords 25 times a second each while the replicator runs: " +
			"the emulator enforces the 5 calls/s per-shard limit, so everyone is throttled. The replicator must " +
			"back off with jitter and still deliver everything in order.",
		Guards:   []string{"harlow/kinesis-consumer#158", "awslabs/amazon-kinesis-client#1521"},
		Items:    []int{12},
		Labels:   []string{LabelThrottling},
		Asserts:  []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "HaveNoDuplicates", "the replicator was throttled by the read limit"},
		Settings: calm(nil),
		Records:  3000,
		Workload: steady(1000),
		Needs:    needsLimits,
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.15), harness.CompetingReaders(2, 25, 3*time.Second)),
		},
		Verify: func(_ context.Context, _ *harness.Run, o *harness.Outcome) []string {
			if o.Total.Throttles == 0 {
				return []string{"the replicator was never throttled: the read limit was not reached"}
			}
			return nil
		},
	}
}

func needsLimits(r *harness.Run) error {
	if r.Env.KinesisEmulator() == nil {
		return fmt.Errorf("Kinesis' per-shard limits, which only the embedded emulator enforces: %w", harness.ErrUnsupported)
	}
	return nil
}

// LeaseTableThrottled is catalogue item 14.
func LeaseTableThrottled() harness.Scenario {
	return harness.Scenario{
		Name:  "lease-table-throttled",
		Title: "The lease table is throttled: leases do not flap and records keep flowing",
		Story: "Once two instances share four shards evenly, half of all requests to the lease table are answered " +
			"ProvisionedThroughputExceededException for three seconds. Renewals must retry and back off; no lease " +
			"may change hands because of it, and replication must go on.",
		Guards:        []string{"vmware/vmware-go-kcl#60", "vmware/vmware-go-kcl#77", "vmware/vmware-go-kcl-v2#14"},
		Items:         []int{14},
		Labels:        []string{LabelThrottling, LabelLease, LabelExternal},
		Asserts:       []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "duplicates ≤ 3000, each explained by a lease move", "no lease changed owner while throttled", "records were written while throttled", "the instances counted lease-table throttles"},
		Shards:        4,
		Instances:     2,
		Records:       5000, // enough to outlast a slow start-up rebalance and the fault
		Workload:      steady(700),
		MaxDuplicates: 3000,
		Schedule: []harness.Step{
			harness.Then(harness.Balanced(), harness.Note("milestone", "leases balanced: 2 per instance")),
			harness.Then(harness.Wait(500*time.Millisecond), harness.ThrottleLeaseTable(0.5, 3*time.Second)),
		},
		Verify: func(_ context.Context, _ *harness.Run, o *harness.Outcome) []string {
			f := leasesSteadyDuring(o, "throttle", "the lease table was throttled")
			// The throttling must have reached the lease manager (and been
			// retried), or the scenario proves nothing about it.
			var throttled int64
			for _, s := range o.Stats {
				throttled += s.LeaseTableThrottles
			}
			if throttled == 0 {
				f = append(f, "no instance counted a lease-table throttle (replicator_lease_table_throttles_total): the fault never reached the lease manager")
			}
			return f
		},
	}
}

// shard0Middle is the middle of the first shard's hash key range when a
// stream is created with two evenly sized shards (2^126): an explicit hash
// key that pins records to that shard.
const shard0Middle = "85070591730234615865843651857942052864"

// HotKeys is catalogue item 15.
func HotKeys() harness.Scenario {
	return harness.Scenario{
		Name:  "hot-keys",
		Title: "Producers skewed onto one shard at its write limit: throttled writes, per-key order intact",
		Story: "Four producers write as fast as Kinesis accepts, every record pinned (explicit hash key) onto the " +
			"first of two shards, so that shard runs at its 1,000 records/s write limit and producers are " +
			"throttled and retry. Each key's records must come out in exactly the order Kinesis acknowledged them.",
		Labels:   []string{LabelHotShard, LabelThrottling, LabelExternal},
		Items:    []int{15},
		Asserts:  []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "HaveNoDuplicates", "producers were throttled (on the embedded backend)", "all records on one shard"},
		Settings: calm(nil),
		Records:  4000,
		Workload: []workload.Option{workload.WithProducers(4), workload.WithKeys(workload.PinnedKeys(64, shard0Middle))},
		Verify: func(_ context.Context, r *harness.Run, o *harness.Outcome) []string {
			var f []string
			if r.Env.KinesisEmulator() != nil && o.Workload.Throttled == 0 {
				f = append(f, "no write was throttled: the hot shard never reached its limit")
			}
			if counts := r.AckedPerShard(); len(counts) != 1 {
				f = append(f, fmt.Sprintf("the workload was not pinned onto one shard (%v)", counts))
			}
			return f
		},
	}
}

// KafkaBrokerFaults is catalogue item 16.
func KafkaBrokerFaults() harness.Scenario {
	return harness.Scenario{
		Name:  "kafka-broker-faults",
		Title: "Produce errors, produce timeouts with unknown outcome, a broker restart and leader moves",
		Story: "The Kafka side fails in four ways mid-run: three produce requests rejected (NOT_LEADER_OR_FOLLOWER), " +
			"three appended but answered REQUEST_TIMED_OUT, a broker restart with data kept, and every partition's " +
			"leader moved. The idempotent producer must dedupe its retries; a failed produce must rewind the shard, " +
			"never skip it.",
		Labels:        []string{LabelKafka, LabelExternal},
		Items:         []int{16},
		Asserts:       []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "duplicates ≤ 3000 (a rewind may resend)"},
		Records:       3000,
		Workload:      steady(800),
		MaxDuplicates: 3000,
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.2), harness.FailProduce(6, 3)),
			harness.Then(harness.AfterFraction(0.4), harness.TimeoutAfterAppend(3)),
			harness.Then(harness.AfterFraction(0.6), harness.RestartBroker()),
			harness.Then(harness.AfterFraction(0.8), harness.MoveLeaders()),
		},
	}
}

func replayScenario(name, position string) harness.Scenario {
	return harness.Scenario{
		Name:  name,
		Title: "Reset to " + position + " and replicate again: the deduplicated output is unchanged and in order",
		Story: "A run with a split mid-stream, then every checkpoint is deleted and the instances restart from " +
			position + " into the same topic. Deduplicated by idempotency key the topic must be exactly what it was, " +
			"and the replay's own output must again hold every record in order.",
		Labels:        []string{LabelReplay, LabelExternal},
		Items:         []int{17},
		Asserts:       []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "BeUnchangedByReplay", "the replay alone holds every record, in order"},
		Records:       2000,
		Workload:      hot(1000),
		Replay:        position,
		Settings:      calm(nil),
		MaxDuplicates: harness.AnyDuplicates, // the replay writes every record again
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.5), harness.SplitShard(harness.HotShard())),
		},
	}
}

// ReplayTrimHorizon is catalogue item 17 from TRIM_HORIZON.
func ReplayTrimHorizon() harness.Scenario {
	return replayScenario("replay-trim-horizon", harness.ReplayTrimHorizon)
}

// ReplayAtTimestamp is catalogue item 17 from AT_TIMESTAMP.
func ReplayAtTimestamp() harness.Scenario {
	return replayScenario("replay-at-timestamp", harness.ReplayAtTimestamp)
}

func brokenScenario(name, title string, dlq bool, opts ...harness.RunnerOption) harness.Scenario {
	s := harness.Scenario{
		Name:     name,
		Title:    title,
		Story:    "A deliberately broken replicator: this run must FAIL, proving the checker catches the broken promise.",
		Labels:   []string{LabelSelfTest},
		Records:  1000,
		Workload: steady(2000),
		Runner:   opts,
		Quiet:    2 * time.Second,
		DLQ:      dlq,
	}
	return s
}

// BrokenDroppingSink drops every 97th record while acknowledging it.
func BrokenDroppingSink() harness.Scenario {
	s := brokenScenario("broken-dropping-sink", "Self-test: a sink that acknowledges records it never writes (loss)", false)
	s.Runner = []harness.RunnerOption{harness.WithInstanceSinkFor(func(topic string) harness.SinkWrapper { return harness.DroppingSink(topic, 97) })}
	s.Asserts = []string{"the checker reports Lost > 0 (LoseNothing fails)"}
	return s
}

// BrokenDuplicatingSink writes every 50th record twice.
func BrokenDuplicatingSink() harness.Scenario {
	s := brokenScenario("broken-duplicating-sink", "Self-test: a sink that writes some records twice (duplicates)", false)
	s.Runner = []harness.RunnerOption{harness.WithInstanceSinkFor(func(topic string) harness.SinkWrapper { return harness.DuplicatingSink(topic, 50) })}
	s.Asserts = []string{"the checker reports duplicates (HaveNoDuplicates fails)"}
	return s
}

// BrokenReorderingSink swaps consecutive records of a key.
func BrokenReorderingSink() harness.Scenario {
	s := brokenScenario("broken-reordering-sink", "Self-test: a sink that swaps consecutive records of a key (reordering)", false)
	s.Workload = []workload.Option{workload.WithRate(2000), workload.WithProducers(2), workload.WithKeys(workload.UniformKeys(4))}
	s.Runner = []harness.RunnerOption{harness.WithInstanceSinkFor(func(topic string) harness.SinkWrapper { return harness.ReorderingSink(topic) })}
	s.Asserts = []string{"the checker reports reordering per key and per shard (KeepPerKeyOrder, KeepPerShardOrder fail)"}
	return s
}

// BrokenDroppingTransform is a transform that silently drops records.
func BrokenDroppingTransform() harness.Scenario {
	s := brokenScenario("broken-dropping-transform", "Self-test: a transform that silently drops every 89th record (loss)",
		false, harness.WithInstanceTransformer(harness.DroppingTransformer(89)))
	s.Asserts = []string{"the checker reports Lost > 0 (LoseNothing fails)"}
	return s
}

// BrokenDeadLettering dead-letters valid records.
func BrokenDeadLettering() harness.Scenario {
	s := brokenScenario("broken-dead-lettering", "Self-test: a transform that fails valid records, sending them to the DLQ",
		true, harness.WithInstanceTransformer(harness.FailingTransformer(61)))
	s.Asserts = []string{"the checker reports DLQ findings: normal records dead-lettered (AccountForEveryDLQRecord fails)"}
	return s
}
