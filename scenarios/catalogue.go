// Package scenarios is the chaos catalogue: the failures that hurt real
// Kinesis consumers (docs/catalogue.md lists each item and the user reports
// it comes from), each written as a harness.Scenario that names the bug
// reports it guards against and declares its verdicts once.
//
// Contract:
//   - One file per family (resharding, leases, throughput, kafka, self-tests)
//     with its Ginkgo specs beside it; the specs and the `chaos` command
//     (scenarios/cmd/chaos) run the very same definitions and read the same
//     verdicts (harness.Outcome.Unmet).
//   - Every function returns a fresh Scenario (no shared state), so callers
//     may adjust a copy. Self-tests (label "self-test") run a deliberately
//     broken bridge and must fail with the problem they plant.
//   - Bridges picks the bridge under test: a bridge file when one is given
//     (--bridge, SHARDBRIDGE_BRIDGE), else the built-in Shardbridge.
package scenarios

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/bridges"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/inject"
	"github.com/shardbridge/shardbridge/harness/workload"
)

// leaseMoveReplay is why crash and rebalance scenarios allow duplicates: a
// new lease holder resumes at the last checkpoint, so up to a checkpoint
// interval of records comes again per move (each explained by the lease
// history, which the "duplicates" verdict also checks).
const leaseMoveReplay = "each lease move may replay up to a checkpoint interval"

// afterLeaseMoves are the verdicts of a scenario whose faults move leases:
// duplicates bounded by leaseMoveReplay, and the scenario's own checks.
func afterLeaseMoves(checks ...harness.Check) harness.Verdicts {
	return harness.Verdicts{MaxDuplicates: 3000, Why: leaseMoveReplay, Checks: checks}
}

// EnvBridge names a bridge file the Ginkgo suite runs every scenario with.
const EnvBridge = "SHARDBRIDGE_BRIDGE"

// Bridges picks the bridge each scenario runs with.
type Bridges struct {
	file      *bridge.Spec // every scenario runs it, when set
	processes *bridge.Spec // the built-in Shardbridge as processes, built once
}

// NewBridges returns the choice for a bridge file ("" for the built-in
// Shardbridge).
func NewBridges(file string) (*Bridges, error) {
	b := &Bridges{processes: bridges.Shardbridge()}
	if file != "" {
		spec, err := bridge.LoadSpec(file)
		if err != nil {
			return nil, err
		}
		b.file = spec
	}
	return b, nil
}

// For returns the bridge sc runs with: the bridge file when one was given;
// else Shardbridge in-process, or as processes when sc prefers them. A
// scenario that brings its own bridge (a self-test) keeps it.
func (b *Bridges) For(sc harness.Scenario) bridge.Launcher {
	switch {
	case sc.Bridge != nil:
		return sc.Bridge
	case b.file != nil:
		return b.file
	case sc.Processes:
		return b.processes
	case slices.Contains(sc.Requires, bridge.HandOffLog):
		return bridges.InProcess(bridges.WithHandOffLog())
	}
	return bridges.InProcess()
}

// Close removes what building the bridges left.
func (b *Bridges) Close() {
	b.processes.Close()
	if b.file != nil {
		b.file.Close()
	}
}

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
	// the reference backend (kinesis-mock + dynalite + Apache Kafka).
	LabelExternal = "external"
	// LabelSelfTest marks the deliberately broken runs.
	LabelSelfTest = "self-test"
	LabelBaseline = "baseline"
	// LabelExactlyOnce marks the specs run with the bridge in exactly-once
	// mode (the delivery dimension; see ExactlyOnceApplies).
	LabelExactlyOnce = "exactly-once"
)

// All returns every scenario of the catalogue, self-tests last. The demo
// (Demo) is a tour over several of them, not a proof of its own, and is not
// listed; Get finds it.
func All() []harness.Scenario {
	return []harness.Scenario{
		Baseline(),
		HotShardSplit(),
		ColdShardMerge(),
		ShardPartitioningReshard(),
		UpdateShardCountUpDown(),
		OnDemandStream(),
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
		KafkaProduceFaults(),
		ReplayTrimHorizon(),
		ReplayAtTimestamp(),
		ExactlyOnceGauntlet(),
		BrokenDroppingSink(),
		BrokenDuplicatingSink(),
		BrokenReorderingSink(),
		BrokenDroppingTransform(),
		BrokenDeadLettering(),
		BrokenSeparateCommits(),
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
		Labels:    []string{LabelHotShard, LabelResharding, LabelCrash, LabelExpiredIterator, LabelThrottling},
		Items:     []int{1, 11, 12, 15},
		Processes: true,
		Shards:    2,
		Instances: 2,
		Records:   15000,
		DLQ:       true,
		Settings:  map[string]string{"REPLICATOR_TRANSFORM": "json-validate"},
		Workload:  append(hot(750), workload.WithMalformedEvery(100)),
		Timeout:   3 * time.Minute,
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.2), inject.SplitShard(harness.HotShard())),
			harness.Then(harness.AfterFraction(0.35), inject.Kill(harness.InstanceAt(0))),
			harness.Then(harness.AfterFraction(0.5), inject.StartAgain(harness.InstanceAt(0))),
			harness.Then(harness.AfterFraction(0.6), inject.ExpireIterators()),
			harness.Then(harness.AfterFraction(0.75), inject.ThrottleReads(3*time.Second)),
		},
		Verdicts: harness.Verdicts{MaxDuplicates: -1, Why: "the tour reports duplicates with their causes and bounds none", Checks: []harness.Check{{Name: "children delivered", Func: childrenDelivered}}},
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
		Records:     2000,
		DLQ:         true,
		Settings:    calm(map[string]string{"REPLICATOR_TRANSFORM": "json-validate"}),
		TopicConfig: map[string]string{"max.message.bytes": "32768"},
		Workload:    append(steady(1500), workload.WithMalformedEvery(50), workload.WithOversizedEvery(70), workload.WithOversizedSize(40<<10)),
		Verdicts: harness.Verdicts{Checks: []harness.Check{{Name: "scenario checks", Func: func(_ context.Context, _ *harness.Run, o *harness.Outcome) []string {
			var f []string
			if o.Result.AckedMalformed == 0 || o.Result.AckedOversized == 0 {
				f = append(f, "the workload wrote no malformed or no oversized record: the DLQ was not exercised")
			}
			return f
		}}}},
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
				if _, exists := r.Leases.Row(p); exists {
					f = append(f, fmt.Sprintf("parent shard %s was never checkpointed at SHARD_END", p))
				}
			}
		}
	}
	return f
}

func needsLimits(r *harness.Run) error {
	if r.Env.KinesisEmulator() == nil {
		return fmt.Errorf("the per-shard Kinesis limits, which only the embedded emulator enforces: %w", bridge.ErrUnsupported)
	}
	return nil
}

// shard0Middle is the middle of the first shard's hash key range when a
// stream is created with two evenly sized shards (2^126): an explicit hash
// key that pins records to that shard.
const shard0Middle = "85070591730234615865843651857942052864"

// happened is a check that faults of every kind named were recorded: a
// scenario whose fault never fired proves nothing.
func happened(kinds ...string) harness.Check {
	return harness.Check{Name: "faults injected", Func: func(_ context.Context, _ *harness.Run, o *harness.Outcome) []string {
		var f []string
		for _, k := range kinds {
			if len(o.FaultTimes(k)) == 0 {
				f = append(f, fmt.Sprintf("no %q fault was recorded", k))
			}
		}
		return f
	}}
}

// resharded is a check that the schedule made n splits or merges, the last
// one with the given number of parents.
func resharded(n, parents int) harness.Check {
	return harness.Check{Name: "resharded", Func: func(_ context.Context, _ *harness.Run, o *harness.Outcome) []string {
		if len(o.Reshards) != n {
			return []string{fmt.Sprintf("%d splits or merges happened, want %d", len(o.Reshards), n)}
		}
		if got := len(o.Reshards[n-1].Parents); got != parents {
			return []string{fmt.Sprintf("the last reshard had %d parents, want %d", got, parents)}
		}
		return nil
	}}
}

// ExactlyOnceApplies reports whether the scenario is also run with the
// bridge in exactly-once mode: every one with a crash, pause, lease move,
// Kafka fault or replay (where at-least-once delivery duplicates), except
// the self-tests.
func ExactlyOnceApplies(sc harness.Scenario) bool {
	if slices.Contains(sc.Labels, LabelSelfTest) || sc.Bridge != nil || sc.Verdicts.Delivery == checker.ExactlyOnce {
		return false // a self-test, or exactly-once already
	}
	for _, l := range []string{LabelCrash, LabelLease, LabelKafka, LabelReplay} {
		if slices.Contains(sc.Labels, l) {
			return true
		}
	}
	return false
}
