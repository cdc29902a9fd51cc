package scenarios

import (
	"time"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/bridges"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/inject"
	"github.com/shardbridge/shardbridge/harness/sabotage"
	"github.com/shardbridge/shardbridge/harness/workload"
)

// A check that cannot fail proves nothing. Each self-test runs the
// in-process Shardbridge with a deliberately broken sink or transform
// (harness/sabotage) and must FAIL with exactly the problem it plants.

func brokenScenario(name, title string, dlq bool, b *bridges.Launcher, broken ...string) harness.Scenario {
	return harness.Scenario{
		Name:     name,
		Title:    title,
		Story:    "A deliberately broken bridge: this run must FAIL, proving the verdicts catch the broken promise.",
		Labels:   []string{LabelSelfTest},
		Records:  1000,
		Workload: steady(2000),
		Bridge:   b,
		Quiet:    2 * time.Second,
		DLQ:      dlq,
		Verdicts: harness.Verdicts{Broken: broken},
	}
}

// BrokenDroppingSink drops every 97th record while acknowledging it.
func BrokenDroppingSink() harness.Scenario {
	return brokenScenario("broken-dropping-sink", "Self-test: a sink that acknowledges records it never writes (loss)", false,
		bridges.InProcess(bridges.WithSink(func(topic string) sabotage.SinkWrapper { return sabotage.DroppingSink(topic, 97) })), "lost")
}

// BrokenDuplicatingSink writes every 50th record twice.
func BrokenDuplicatingSink() harness.Scenario {
	return brokenScenario("broken-duplicating-sink", "Self-test: a sink that writes some records twice (duplicates)", false,
		bridges.InProcess(bridges.WithSink(func(topic string) sabotage.SinkWrapper { return sabotage.DuplicatingSink(topic, 50) })),
		"duplicate copies in the main topic")
}

// BrokenReorderingSink swaps consecutive records of a key.
func BrokenReorderingSink() harness.Scenario {
	s := brokenScenario("broken-reordering-sink", "Self-test: a sink that swaps consecutive records of a key (reordering)", false,
		bridges.InProcess(bridges.WithSink(sabotage.ReorderingSink)), "reordered per key", "reordered per shard")
	s.Workload = []workload.Option{workload.WithRate(2000), workload.WithProducers(2), workload.WithKeys(workload.UniformKeys(4))}
	return s
}

// BrokenDroppingTransform is a transform that silently drops records.
func BrokenDroppingTransform() harness.Scenario {
	return brokenScenario("broken-dropping-transform", "Self-test: a transform that silently drops every 89th record (loss)", false,
		bridges.InProcess(bridges.WithTransform(sabotage.DroppingTransform(89))), "lost")
}

// BrokenDeadLettering dead-letters valid records.
func BrokenDeadLettering() harness.Scenario {
	return brokenScenario("broken-dead-lettering", "Self-test: a transform that fails valid records, sending them to the DLQ", true,
		bridges.InProcess(bridges.WithTransform(sabotage.FailingTransform(61))), "DLQ accounting errors")
}

// BrokenSeparateCommits runs Shardbridge in exactly-once mode with its data
// committed apart from its checkpoint (sabotage.SeparateCommitSink): a crash
// then replays records that were already committed.
func BrokenSeparateCommits() harness.Scenario {
	s := brokenScenario("broken-separate-commits", "Self-test: exactly-once with data and checkpoint committed in separate transactions (duplicates after a crash)", false,
		bridges.InProcess(bridges.WithSinkTo(sabotage.SeparateCommitSink)), "duplicate copies in the main topic")
	s.Instances = 2
	s.Records = 3000
	s.Workload = steady(1000)
	s.Quiet = 12 * time.Second // the takeover waits for the failover time
	// Long transactions: at the kill r0 surely holds records committed
	// by the broken sink but not yet covered by a committed checkpoint.
	s.Settings = map[string]string{"REPLICATOR_FAILOVER_TIME": "6s", "REPLICATOR_TRANSACTION_INTERVAL": "2s"}
	s.Verdicts.Delivery = checker.ExactlyOnce
	s.Schedule = []harness.Step{
		harness.Then(harness.AfterFraction(0.3), harness.Note("milestone", "30% of the records in")),
		harness.Then(harness.Balanced(), inject.Kill(harness.InstanceAt(0))),
	}
	return s
}
