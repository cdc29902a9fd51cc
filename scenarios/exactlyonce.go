package scenarios

import (
	"time"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/inject"
)

// ExactlyOnceGauntlet is exactly-once delivery's acceptance run: every
// kind of instance failure and both kinds of resharding in one run.
func ExactlyOnceGauntlet() harness.Scenario {
	return harness.Scenario{
		Name:  "exactly-once-gauntlet",
		Title: "Exactly-once through SIGKILL, SIGSTOP, SIGTERM, a split and a merge under load: every record once",
		Story: "Two instances in exactly-once mode on a stream written at 1,500 records/s. The hot shard is split, r0 " +
			"is killed and started again, r1 is frozen past the failover time (its open transactions fenced by the " +
			"new owners) and thawed, two shards are merged, r0 is restarted gracefully, r1 is killed and started " +
			"again. A read_committed consumer must find every acknowledged record exactly once, per key and per " +
			"shard in order, parents before children.",
		Labels:    []string{LabelCrash, LabelResharding, LabelLease, LabelExternal},
		Processes: true,
		Instances: 2,
		Shards:    2,
		Records:   15000,
		Workload:  steady(1500),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.1), inject.SplitShard(harness.HotShard())),
			harness.Then(harness.AfterFraction(0.15), inject.Kill(harness.InstanceAt(0))),
			harness.Then(harness.AfterFraction(0.22), inject.StartAgain(harness.InstanceAt(0))),
			harness.Then(harness.AfterFraction(0.25), inject.Pause(harness.InstanceAt(1))),
			harness.Then(harness.Wait(4*time.Second), inject.Resume(harness.InstanceAt(1))),
			harness.Then(harness.AfterFraction(0.6), inject.MergeShards()),
			harness.Then(harness.AfterFraction(0.7), inject.Restart(harness.InstanceAt(0))),
			harness.Then(harness.AfterFraction(0.8), inject.Kill(harness.InstanceAt(1))),
			harness.Then(harness.AfterFraction(0.88), inject.StartAgain(harness.InstanceAt(1))),
		},
		Verdicts: harness.Verdicts{Delivery: checker.ExactlyOnce, Checks: []harness.Check{{Name: "children delivered", Func: childrenDelivered}}},
		Timeout:  2 * time.Minute,
	}
}
