package soak

import "time"

// Plan is one generated run: data only, so that it can be compared,
// described and validated before anything starts.
type Plan struct {
	Seed    int64 // the soak's seed
	Run     int   // 1-based
	RunSeed int64 // the harness seed of this run (workload, jitter, fault probabilities)
	Profile Profile

	Shards    int
	Instances int
	Duration  time.Duration
	Records   int64
	Rate      int // records per second
	Producers int
	Zipf      bool // else uniform keys
	Keys      int
	Skew      float64 // Zipf exponent
	MinSize   int
	MaxSize   int
	Aggregate int // KPL sub-records per Kinesis record (0: off)

	Steps []Step

	// Calm runs the bridge with a long lease failover (no lease may lapse
	// on a starved machine) and allows no duplicate.
	Calm          bool
	MaxDuplicates int
	Why           string
}

// Step is a trigger and an action, by kind and parameters.
type Step struct {
	When Trigger
	Do   Action
}

// Trigger kinds.
const (
	TrigFraction = "fraction" // harness.AfterFraction(Fraction)
	TrigWait     = "wait"     // harness.Wait(Wait)
	TrigBalanced = "balanced" // harness.Balanced()
	TrigParents  = "parents"  // harness.ParentsFinished()
	TrigLeased   = "leased"   // Fraction reached and a shard is leased
)

// Trigger says when a step fires.
type Trigger struct {
	Kind     string
	Fraction float64
	Wait     time.Duration
}

// Action kinds, each one function of harness/inject.
const (
	ActSplit          = "split"           // SplitShard(HotShard() or OpenShard(Shard))
	ActMerge          = "merge"           // MergeShards()
	ActScale          = "scale"           // UpdateShardCount(N)
	ActKill           = "kill"            // Kill(InstanceAt(Instance))
	ActStart          = "start"           // StartAgain(InstanceAt(Instance))
	ActRestart        = "restart"         // Restart(InstanceAt(Instance))
	ActPause          = "pause"           // Pause(InstanceAt(Instance))
	ActResume         = "resume"          // Resume(InstanceAt(Instance))
	ActJoin           = "join"            // AddInstance()
	ActLeave          = "leave"           // Stop(InstanceAt(Instance))
	ActThrottleReads  = "throttle-reads"  // ThrottleReads(D)
	ActThrottleLeases = "throttle-leases" // ThrottleLeaseTable(P, D)
	ActExpire         = "expire"          // ExpireIterators()
	ActBrokerRestart  = "broker-restart"  // RestartBroker()
	ActFailProduce    = "fail-produce"    // FailProduce(6, N)
	ActProduceTimeout = "produce-timeout" // TimeoutAfterAppend(N)
	ActCorruptLease   = "corrupt-lease"   // CorruptLease(a leased shard)
	ActRepairLease    = "repair-lease"    // RepairLease()
)

// Action is what a step does.
type Action struct {
	Kind     string
	Instance int           // instance index (kill, start, restart, pause, resume, leave)
	Shard    int           // split: open shard index, -1 for the hot shard
	N        int           // scale: target shards; fail-produce, produce-timeout: requests
	P        float64       // throttle-leases: probability
	D        time.Duration // throttles: duration
}

// hotShard is Action.Shard for the hot shard.
const hotShard = -1

// maxOpenShards caps resharding: enough to exercise it, few enough for
// short runs on two cores.
const maxOpenShards = 8

// maxInstances caps joins.
const maxInstances = 4
