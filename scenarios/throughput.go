package scenarios

import (
	"context"
	"fmt"
	"time"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/inject"
	"github.com/shardbridge/shardbridge/harness/workload"
)

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
		Requires: []bridge.Capability{bridge.Metrics},
		Settings: calm(nil),
		Records:  3000,
		Workload: steady(1000),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.3), inject.StallSink()),
			harness.Then(harness.Wait(500*time.Millisecond), inject.ExpireIterators()),
			harness.Then(harness.Wait(700*time.Millisecond), inject.ReleaseSink()),
		},
		Verdicts: harness.Verdicts{Checks: []harness.Check{{Name: "scenario checks", Func: func(_ context.Context, _ *harness.Run, o *harness.Outcome) []string {
			if o.Total.ExpiredIterators == 0 {
				return []string{"the replicator never saw an expired iterator: the fault was not exercised"}
			}
			return nil
		}}}},
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
		Requires: []bridge.Capability{bridge.Metrics},
		Settings: calm(nil),
		Records:  3000,
		Workload: steady(1000),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.25), inject.ThrottleReads(readThrottle)),
		},
		Verdicts: harness.Verdicts{Checks: []harness.Check{{Name: "scenario checks", Func: func(_ context.Context, _ *harness.Run, o *harness.Outcome) []string {
			var p []string
			if o.Total.Throttles == 0 {
				p = append(p, "no throttled call was counted")
			}
			// Records acknowledged as the throttling began wait it out: a
			// report whose lag is shorter measured the wrong thing.
			if lag := o.Result.Lag.Max; lag < readThrottle {
				p = append(p, fmt.Sprintf("max lag %s, shorter than the %s the reads were throttled", lag, readThrottle))
			}
			return p
		}}}},
	}
}

// readThrottle is how long read-throttling refuses every GetRecords.
const readThrottle = 3 * time.Second

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
		Requires: []bridge.Capability{bridge.Metrics},
		Settings: calm(nil),
		Records:  3000,
		Workload: steady(1000),
		CanRun:   needsLimits,
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.15), inject.CompetingReaders(2, 25, 3*time.Second)),
		},
		Verdicts: harness.Verdicts{Checks: []harness.Check{{Name: "scenario checks", Func: func(_ context.Context, _ *harness.Run, o *harness.Outcome) []string {
			if o.Total.Throttles == 0 {
				return []string{"the replicator was never throttled: the read limit was not reached"}
			}
			return nil
		}}}},
	}
}

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
		Settings: calm(nil),
		Records:  4000,
		Workload: []workload.Option{workload.WithProducers(4), workload.WithKeys(workload.PinnedKeys(64, shard0Middle))},
		Verdicts: harness.Verdicts{Checks: []harness.Check{{Name: "scenario checks", Func: func(_ context.Context, r *harness.Run, o *harness.Outcome) []string {
			var f []string
			if r.Env.KinesisEmulator() != nil && o.Workload.Throttled == 0 {
				f = append(f, "no write was throttled: the hot shard never reached its limit")
			}
			if counts := r.AckedPerShard(); len(counts) != 1 {
				f = append(f, fmt.Sprintf("the workload was not pinned onto one shard (%v)", counts))
			}
			return f
		}}}},
	}
}
