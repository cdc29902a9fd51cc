package scenarios

import (
	"time"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/inject"
)

// KafkaBrokerFaults is catalogue item 16 on any broker the harness can
// kill: the real Apache Kafka of the reference backend as well as kfake.
func KafkaBrokerFaults() harness.Scenario {
	return harness.Scenario{
		Name:  "kafka-broker-faults",
		Title: "The Kafka broker is killed mid-run, then restarted cleanly: produces of unknown outcome, nothing lost",
		Story: "At 30% the broker is SIGKILLed — every produce request in flight gets no answer, so its outcome is " +
			"unknown to the bridge — and comes back two seconds later on its data; at 65% it is restarted cleanly. " +
			"A produce that failed must rewind its shard, never skip it, and order per key must hold.",
		Labels:   []string{LabelKafka, LabelCrash, LabelExternal},
		Items:    []int{16},
		Records:  3000,
		Workload: steady(800),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.3), inject.CrashBroker(2*time.Second)),
			harness.Then(harness.AfterFraction(0.65), inject.RestartBroker()),
		},
		Verdicts: harness.Verdicts{MaxDuplicates: 3000, Why: failedProduceRewinds,
			Checks: []harness.Check{happened("broker-crash", "broker-restart")}},
	}
}

// failedProduceRewinds is why Kafka fault scenarios allow duplicates.
const failedProduceRewinds = "a failed produce rewinds its shard to the last acknowledged record"

// KafkaProduceFaults is catalogue item 16 through the in-process broker's
// fault controls, which a real broker does not have.
func KafkaProduceFaults() harness.Scenario {
	return harness.Scenario{
		Name:  "kafka-produce-faults",
		Title: "Produce errors, produce timeouts with unknown outcome after the append, a restart and leader moves",
		Story: "The Kafka side fails in four ways mid-run: three produce requests rejected (NOT_LEADER_OR_FOLLOWER), " +
			"three appended but answered REQUEST_TIMED_OUT, a broker restart with data kept, and every partition's " +
			"leader moved. The idempotent producer must dedupe its retries; a failed produce must rewind the shard, " +
			"never skip it.",
		Labels:   []string{LabelKafka},
		Items:    []int{16},
		Records:  3000,
		Workload: steady(800),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.2), inject.FailProduce(6, 3)),
			harness.Then(harness.AfterFraction(0.4), inject.TimeoutAfterAppend(3)),
			// Without this restart the franz-go producer holds the partition's
			// records after kfake's NOT_LEADER_OR_FOLLOWER (which comes with
			// no leader change, unlike a real broker's) for longer than the
			// run's quiet window: seed 327193987 saw no produce error, 512 of
			// 3000 records out, and the rest delivered only at shutdown.
			harness.Then(harness.AfterFraction(0.6), inject.RestartBroker()),
			harness.Then(harness.AfterFraction(0.8), inject.MoveLeaders()),
		},
		Verdicts: harness.Verdicts{MaxDuplicates: 3000, Why: failedProduceRewinds,
			Checks: []harness.Check{happened("produce-error", "produce-timeout", "broker-restart", "leader-move")}},
	}
}

func replayScenario(name, position string) harness.Scenario {
	return harness.Scenario{
		Name:  name,
		Title: "Reset to " + position + " and replicate again: the deduplicated output is unchanged and in order",
		Story: "A run with a split mid-stream, then every checkpoint is reset (the bridge's reset command, or its lease rows deleted) and the instances restart from " +
			position + " into the same topic. Deduplicated by idempotency key the topic must be exactly what it was, " +
			"and the replay's own output must again hold every record in order.",
		Labels:   []string{LabelReplay, LabelExternal},
		Items:    []int{17},
		Records:  2000,
		Workload: hot(1000),
		Replay:   position,
		Settings: calm(nil),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.5), inject.SplitShard(harness.HotShard())),
		},
		Verdicts: harness.Verdicts{MaxDuplicates: -1, Why: "the replay writes every record again"},
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
