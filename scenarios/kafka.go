package scenarios

import (
	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/inject"
)

// KafkaBrokerFaults is catalogue item 16.
func KafkaBrokerFaults() harness.Scenario {
	return harness.Scenario{
		Name:  "kafka-broker-faults",
		Title: "Produce errors, produce timeouts with unknown outcome, a broker restart and leader moves",
		Story: "The Kafka side fails in four ways mid-run: three produce requests rejected (NOT_LEADER_OR_FOLLOWER), " +
			"three appended but answered REQUEST_TIMED_OUT, a broker restart with data kept, and every partition's " +
			"leader moved. The idempotent producer must dedupe its retries; a failed produce must rewind the shard, " +
			"never skip it.",
		Labels:   []string{LabelKafka, LabelExternal},
		Items:    []int{16},
		Records:  3000,
		Workload: steady(800),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.2), inject.FailProduce(6, 3)),
			harness.Then(harness.AfterFraction(0.4), inject.TimeoutAfterAppend(3)),
			harness.Then(harness.AfterFraction(0.6), inject.RestartBroker()),
			harness.Then(harness.AfterFraction(0.8), inject.MoveLeaders()),
		},
		Verdicts: afterLeaseMoves(happened("produce-error", "produce-timeout", "broker-restart", "leader-move")),
	}
}

func replayScenario(name, position string) harness.Scenario {
	return harness.Scenario{
		Name:  name,
		Title: "Reset to " + position + " and replicate again: the deduplicated output is unchanged and in order",
		Story: "A run with a split mid-stream, then every checkpoint is deleted and the instances restart from " +
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
