package catalog

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shardbridge/shardbridge/harness"
)

// LeaseTableCutOff is catalogue item 8.
func LeaseTableCutOff() harness.Scenario {
	return harness.Scenario{
		Name:  "lease-table-cut-off",
		Title: "A worker cut off from DynamoDB: its leases are taken over, and it stops writing each shard before it is",
		Story: "Two instances share four shards evenly; then r0 is cut off from the lease table (every DynamoDB call " +
			"fails with a network error) while its Kinesis reads and Kafka writes still work. It cannot renew, so r1 " +
			"takes every lease over once they expire. r0 must find out by itself — its renewals have failed for the " +
			"failover time — and stop each shard before r1 owns it: a worker that keeps writing a shard it lost " +
			"interleaves stale copies with the new owner's. Once r1 holds everything r0 is reconnected and may " +
			"take leases back by rebalancing.",
		Guards: []string{"awslabs/amazon-kinesis-client#136"},
		Items:  []int{8},
		Labels: []string{LabelLease, LabelCrash},
		Asserts: []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "duplicates ≤ 4500, each explained by a lease move",
			"the cut-off worker reported its leases lost", "it handed no record of a shard to Kafka after the other worker took that shard over"},
		Mode:      harness.InProcess,                                // the cut is a per-instance gate in front of its DynamoDB client
		Runner:    []harness.RunnerOption{harness.WithHandOffLog()}, // for the check that r0 stopped in time
		Shards:    4,
		Instances: 2,
		Records:   6000,
		Workload:  steady(800),
		// r1 resumes r0's shards from r0's last checkpoint before the cut, so
		// everything r0 wrote until it stopped (up to the checkpoint interval
		// plus the failover time) comes again, and again when r0 takes leases
		// back: about 1,500–2,800 copies at this rate.
		MaxDuplicates: 4500,
		Schedule: []harness.Step{
			// Only a worker holding leases can be cut off from them.
			harness.Then(harness.AfterFraction(0.15), harness.Note("milestone", "15% of the records in")),
			harness.Then(harness.Balanced(), harness.CutOffLeaseTable(harness.InstanceAt(0))),
			harness.Then(harness.OwnsAllLeases(1), harness.Note("milestone", "r1 holds every lease")),
			harness.Then(harness.Wait(time.Second), harness.ReconnectLeaseTable(harness.InstanceAt(0))),
		},
		Verify: cutOffWorkerStopped,
	}
}

// cutOffWorkerStopped checks that r0 noticed its losses and that, for every
// lease r1 took from it while it was cut off, r0 handed no record of that
// shard to Kafka after the takeover. The takeover time is when the lease
// monitor saw the new owner, a little after the write that made it so: the
// check never blames r0 wrongly, and misses only a straggler within one
// monitor poll of the takeover.
func cutOffWorkerStopped(_ context.Context, r *harness.Run, o *harness.Outcome) []string {
	cut, back := o.FaultTimes("lease-table-cut"), o.FaultTimes("lease-table-reconnect")
	if len(cut) == 0 || len(back) == 0 {
		return []string{"r0 was never cut off from the lease table and reconnected"}
	}
	from, to := cut[0], back[0]
	var f []string
	if z := o.Stats["r0"]; z.LeaseEvents["lost"] == 0 {
		f = append(f, fmt.Sprintf("the cut-off r0 never reported losing its leases (lease events %v)", z.LeaseEvents))
	}
	r0, r1 := r.Runner.Instance(0), r.Runner.Instance(1)
	if r0 == nil || r1 == nil {
		return append(f, "the run has no instances r0 and r1")
	}
	zombies, takers := r0.WorkerIDs(), r1.WorkerIDs()
	takeovers, unaware := 0, 0
	for _, c := range o.LeaseChanges {
		if c.Time.Before(from) || !c.Time.Before(to) || !slices.Contains(zombies, c.From) || !slices.Contains(takers, c.To) {
			continue
		}
		takeovers++
		var late []time.Time
		for _, t := range r.Runner.HandedOff(c.From, c.Shard) {
			switch {
			case t.After(from) && !t.After(c.Time):
				unaware++ // still writing, not knowing yet: allowed
			case t.After(c.Time) && t.Before(to):
				late = append(late, t)
			}
		}
		if len(late) > 0 {
			f = append(f, fmt.Sprintf("%s handed %d records of %s to Kafka after %s took the shard over (seen at %s), the last %s after",
				c.From, len(late), c.Shard, c.To, c.Time.Format("15:04:05.000"), late[len(late)-1].Sub(c.Time).Round(time.Millisecond)))
		}
	}
	if takeovers == 0 {
		f = append(f, "r1 took no lease over from r0 while r0 was cut off")
	}
	if unaware == 0 {
		f = append(f, "r0 wrote nothing of its shards after the cut: the scenario never had a worker that still believed it owned them")
	}
	return f
}
