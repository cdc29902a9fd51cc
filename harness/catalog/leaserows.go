package catalog

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/shardbridge/shardbridge/fakes/fault"
	"github.com/shardbridge/shardbridge/harness"
)

// recreatedAt matches the lease-loss reason of a holder that put a deleted
// row back, capturing the checkpoint it used.
var recreatedAt = regexp.MustCompile(`recreated unowned at checkpoint ([0-9A-Z_]+)`)

// LeaseRowsDamaged is catalogue item 9.
func LeaseRowsDamaged() harness.Scenario {
	return harness.Scenario{
		Name:  "lease-rows-damaged",
		Title: "Lease rows deleted and corrupted by hand: each shard resumes from its checkpoint, nothing lost",
		Story: "Two instances share four shards. An operator deletes the lease row of a shard r0 is reading: r0 " +
			"puts the row back at its last checkpoint and the shard is read on from there (a KCL worker left such a " +
			"shard unread until restarted; recreating it at the initial position would skip or replay records). " +
			"Then the row of a shard r1 holds is corrupted (counter a string, checkpoint a number): r1 stops reading " +
			"that shard and reports the row unreadable instead of guessing a position; once the operator restores " +
			"the row, the shard is taken over from its checkpoint.",
		Guards:        []string{"awslabs/amazon-kinesis-client#461"},
		Items:         []int{9},
		Labels:        []string{LabelLease},
		Asserts:       []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "duplicates ≤ 3000, each explained by a lease move", "the deleted row came back at a sequence-number checkpoint", "the corrupted row was reported unreadable"},
		Shards:        4,
		Instances:     2,
		Records:       4000,
		Workload:      steady(700),
		MaxDuplicates: 3000,
		Schedule: []harness.Step{
			harness.Then(harness.Balanced(), harness.Note("milestone", "leases balanced: 2 per instance")),
			// A row still at TRIM_HORIZON would rightly come back there.
			harness.Then(harness.AfterFraction(0.3), harness.Note("milestone", "30% of the records in")),
			harness.Then(harness.When("a shard r0 holds has checkpointed", func(_ context.Context, r *harness.Run) (bool, error) {
				return len(checkpointedHeldBy(0)(r)) > 0, nil
			}), harness.DeleteLease("a checkpointed shard r0 holds", checkpointedHeldBy(0))),
			harness.Then(harness.When("the deleted lease is back and leased", deletedLeaseBack), harness.Note("milestone", "the deleted lease is leased again")),
			harness.Then(harness.AfterFraction(0.55), harness.CorruptLease("a shard r1 holds", harness.HeldBy(1))),
			// Long enough for the holder's renewal (every FailoverTime/3) to
			// meet the damage and drop the lease.
			harness.Then(harness.Wait(2500*time.Millisecond), harness.RepairLease()),
		},
		Verify: func(_ context.Context, r *harness.Run, o *harness.Outcome) []string {
			var f []string
			deleted, corrupted := faultShard(r, "lease-delete"), faultShard(r, "lease-corrupt")
			var recreated, unreadable bool
			for _, a := range r.Runner.Abandons() {
				if a.Shard == deleted {
					if m := recreatedAt.FindStringSubmatch(a.Reason); m != nil {
						recreated = true
						if strings.Trim(m[1], "0123456789") != "" {
							f = append(f, fmt.Sprintf("the deleted row of %s was recreated at %s, not at its last sequence-number checkpoint", deleted, m[1]))
						}
					}
				}
				if a.Shard == corrupted && strings.Contains(a.Reason, "unreadable") {
					unreadable = true
				}
			}
			if !recreated {
				f = append(f, fmt.Sprintf("no holder reported putting back the deleted row of %q (abandons %v)", deleted, r.Runner.Abandons()))
			}
			if !unreadable {
				f = append(f, fmt.Sprintf("no holder reported the corrupted row of %q as unreadable", corrupted))
			}
			return f
		},
	}
}

// LeaseTableLostAnswers guards the lease manager's own retries: writes to
// the lease table that take effect but whose answers are lost.
func LeaseTableLostAnswers() harness.Scenario {
	return harness.Scenario{
		Name:  "lease-table-lost-answers",
		Title: "Lease-table writes take effect but their answers are lost: no lease is dropped for it",
		Story: "Once two instances share four shards evenly, for three seconds half of all lease-table writes " +
			"(renewals, checkpoints) take effect yet answer HTTP 500. A blind retry of such a conditional write " +
			"fails its own condition; a replicator that reads that as a lost lease drops healthy leases and replays " +
			"records. Each instance must recognise its own write and carry on.",
		Labels:        []string{LabelLease},
		Asserts:       []string{"LoseNothing", "KeepPerKeyOrder", "KeepPerShardOrder", "duplicates ≤ 3000, each explained by a lease move", "no lease changed owner while answers were lost", "records were written while answers were lost", "no instance lost a lease while answers were lost"},
		Shards:        4,
		Instances:     2,
		Records:       5000, // enough to outlast a slow start-up rebalance and the fault
		Workload:      steady(700),
		MaxDuplicates: 3000,
		Schedule: []harness.Step{
			harness.Then(harness.Balanced(), harness.Note("milestone", "leases balanced: 2 per instance")),
			harness.Then(harness.Wait(500*time.Millisecond), harness.Fault("lose-lease-answers",
				fault.Rule{Service: fault.ServiceDynamoDB, Operations: []string{"UpdateItem"}, Probability: 0.5, Action: fault.LoseResponse},
				3*time.Second)),
		},
		Verify: func(_ context.Context, r *harness.Run, o *harness.Outcome) []string {
			f := leasesSteadyDuring(o, string(fault.LoseResponse), "lease-table answers were lost")
			if n := r.Env.Faults().Count(fault.LoseResponse); n == 0 {
				f = append(f, "no lease-table answer was lost: the fault never fired")
			}
			on, off := o.FaultTimes(string(fault.LoseResponse)), o.FaultTimes("fault-off")
			if len(on) == 0 || len(off) == 0 {
				return f
			}
			// A loss noticed in the window may stem from a steal just before
			// it ("taken by …", which leasesSteadyDuring judges by time);
			// any other loss is the instance misreading its own write.
			for _, a := range r.Runner.Abandons() {
				inWindow := !a.Time.Before(on[0]) && !a.Time.After(off[0].Add(time.Second))
				if inWindow && a.Event == "lease lost" && !strings.Contains(a.Reason, "taken by ") {
					f = append(f, fmt.Sprintf("%s gave up %s while answers were lost: %s (%s)", a.Instance, a.Shard, a.Event, a.Reason))
				}
			}
			return f
		},
	}
}

// leasesSteadyDuring checks that while the first fault of kind was on, no
// lease changed hands between workers and records kept reaching Kafka.
func leasesSteadyDuring(o *harness.Outcome, kind, what string) []string {
	on, off := o.FaultTimes(kind), o.FaultTimes("fault-off")
	if len(on) == 0 || len(off) == 0 {
		return []string{"never true: " + what}
	}
	var f []string
	from, to := on[0], off[0]
	for _, c := range o.LeaseChanges {
		if c.From != "" && c.To != "" && !c.Time.Before(from) && c.Time.Before(to) {
			f = append(f, fmt.Sprintf("lease %s flapped from %s to %s while %s", c.Shard, c.From, c.To, what))
		}
	}
	if n := o.WrittenBetween(from, to); n == 0 {
		f = append(f, "no record reached Kafka while "+what+": work stopped")
	}
	return f
}

// checkpointedHeldBy names one unfinished shard whose lease instance i
// holds and whose checkpoint is a sequence number (by the lease table as
// last scanned; the smallest shard id), or none.
func checkpointedHeldBy(i int) func(r *harness.Run) []string {
	return func(r *harness.Run) []string {
		in := r.Runner.Instance(i)
		if in == nil {
			return nil
		}
		for _, l := range r.Leases.Leases() { // sorted by shard id
			if l.Owner == in.WorkerID() && l.Checkpoint != "" && strings.Trim(l.Checkpoint, "0123456789") == "" {
				return []string{l.ShardID}
			}
		}
		return nil
	}
}

// deletedLeaseBack holds once the shard whose row was deleted has a leased
// row again.
func deletedLeaseBack(_ context.Context, r *harness.Run) (bool, error) {
	id := faultShard(r, "lease-delete")
	if id == "" {
		return false, nil
	}
	l, ok := r.Leases.Lease(id)
	return ok && l.Owner != "", nil
}

// faultShard is the shard of the first fault of kind recorded in the run.
func faultShard(r *harness.Run, kind string) string {
	for _, f := range r.Faults() {
		if f.Kind == kind {
			return f.Shard
		}
	}
	return ""
}
