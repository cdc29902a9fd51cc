package scenarios

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shardbridge/shardbridge/fakes/fault"
	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/inject"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ZombieCheckpoint is catalogue item 6.
func ZombieCheckpoint() harness.Scenario {
	return harness.Scenario{
		Name:  "zombie-checkpoint",
		Title: "A paused worker wakes after its leases were taken: its checkpoints are refused",
		Story: "Two binaries; one is SIGSTOPped at 30% until the other holds every lease and has checkpointed past " +
			"it, then SIGCONTed. The zombie still believes it owns its shards: any checkpoint it writes must fail the " +
			"lease's compare-and-set, or it would rewind (or fast-forward) the new owner's progress. In exactly-once mode the " +
			"zombie's open transaction must be fenced: the new owner's producer aborts it, so none of its records is ever committed.",
		Guards:    []string{"awslabs/amazon-kinesis-client#108", "awslabs/amazon-kinesis-client#677", "awslabs/amazon-kinesis-client#973"},
		Items:     []int{6},
		Labels:    []string{LabelLease, LabelCrash},
		Requires:  []bridge.Capability{bridge.Metrics},
		Processes: true,
		Instances: 2,
		Records:   3000,
		Workload:  steady(800),
		Schedule: []harness.Step{
			// Only an instance holding leases can become a zombie: under load
			// the start-up steal may still be pending at 30%.
			harness.Then(harness.AfterFraction(0.3), harness.Note("milestone", "30% of the records in")),
			harness.Then(harness.Balanced(), inject.Pause(harness.InstanceAt(0))),
			harness.Then(harness.Wait(0), openTransactionsOf(0)),
			harness.Then(harness.OwnsAllLeases(1), harness.Note("milestone", "r1 holds every lease")),
			harness.Then(harness.Wait(1500*time.Millisecond), inject.Resume(harness.InstanceAt(0))),
		},
		// Exactly-once: long transactions (within a longer failover time,
		// whose three quarters are the transaction timeout), so that r0
		// surely has one open, holding records, when it is paused.
		Settings: map[string]string{"REPLICATOR_FAILOVER_TIME": "6s", "REPLICATOR_TRANSACTION_INTERVAL": "2s"},
		Quiet:    15 * time.Second, // r0's shards are silent until the takeover, after the failover time
		Verdicts: afterLeaseMoves(harness.Check{Name: "scenario checks", Func: func(_ context.Context, r *harness.Run, o *harness.Outcome) []string {
			z := o.Stats["r0"]
			var f []string
			if z.LeaseEvents["lost"] == 0 && z.Checkpoints["lost"] == 0 {
				f = append(f, fmt.Sprintf("the zombie r0 never noticed it lost its leases (lease events %v, checkpoints %v)", z.LeaseEvents, z.Checkpoints))
			}
			// Exactly-once: a transaction r0 had open, holding records, when
			// it was paused must end aborted (fenced by the new owner), so
			// the topic holds aborted records (or r0 counted the fencing).
			open := len(o.FaultTimes(kindOpenTransaction))
			if r.Scenario.Verdicts.Delivery == checker.ExactlyOnce && open > 0 && o.AbortedRecords == 0 && z.Transactions["fenced"] == 0 {
				f = append(f, fmt.Sprintf("the zombie r0 had %d open transactions when paused, but none was fenced: no aborted records in the topic, r0's transactions %v", open, z.Transactions))
			}
			return f
		}}),
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
		Guards:   []string{"awslabs/amazon-kinesis-client#265"},
		Items:    []int{7},
		Labels:   []string{LabelLease, LabelCrash, LabelExternal},
		Requires: []bridge.Capability{bridge.LeaseTable},
		Shards:   4,
		Records:  3000,
		Workload: steady(700),
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.15), inject.AddInstance()),
			harness.Then(harness.AfterFraction(0.3), inject.AddInstance()),
			harness.Then(harness.AfterFraction(0.55), inject.Stop(harness.InstanceAt(0))),
			harness.Then(harness.AfterFraction(0.75), inject.Kill(harness.InstanceAt(1))),
		},
		Verdicts: afterLeaseMoves(harness.Check{Name: "scenario checks", Func: func(_ context.Context, _ *harness.Run, o *harness.Outcome) []string {
			if o.LeaseMoves == 0 {
				return []string{"no lease ever moved between workers: the rebalance was not exercised"}
			}
			return nil
		}}),
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
		Guards:    []string{"awslabs/amazon-kinesis-client#751"},
		Items:     []int{10},
		Labels:    []string{LabelLease, LabelResharding, LabelCrash},
		Instances: 2,
		Records:   3000,
		Workload:  hot(1000),
		Settings:  map[string]string{"CHECKPOINT_FREQ_SECONDS": "30"},
		Schedule: []harness.Step{
			harness.Then(harness.AfterFraction(0.3), inject.SplitShard(harness.HotShard())),
			harness.Then(harness.ChildTaken(), inject.Kill(harness.OwnerOf("a child", inject.LastChildren))),
		},
		Verdicts: afterLeaseMoves(harness.Check{Name: "scenario checks", Func: func(ctx context.Context, r *harness.Run, o *harness.Outcome) []string {
			f := childrenDelivered(ctx, r, o)
			moved := false
			for _, c := range o.LeaseChanges {
				if slices.Contains(o.Reshards[0].Children, c.Shard) && c.From != "" && c.To != "" && !c.Lapse {
					moved = true
				}
			}
			if !moved {
				f = append(f, "no child lease moved from its killed owner to another worker")
			}
			return f
		}}),
	}
}

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
		Guards:    []string{"awslabs/amazon-kinesis-client#136"},
		Items:     []int{8},
		Labels:    []string{LabelLease, LabelCrash},
		Requires:  []bridge.Capability{bridge.HandOffLog, bridge.CutLeaseTable, bridge.Metrics}, // the cut is a per-instance gate; the hand-off log shows r0 stopped in time
		Shards:    4,
		Instances: 2,
		Records:   6000,
		Workload:  steady(800),
		// r1 resumes r0's shards from r0's last checkpoint before the cut, so
		// everything r0 wrote until it stopped (up to the checkpoint interval
		// plus the failover time) comes again, and again when r0 takes leases
		// back: about 1,500–2,800 copies at this rate.
		Schedule: []harness.Step{
			// Only a worker holding leases can be cut off from them.
			harness.Then(harness.AfterFraction(0.15), harness.Note("milestone", "15% of the records in")),
			harness.Then(harness.Balanced(), inject.CutOffLeaseTable(harness.InstanceAt(0))),
			harness.Then(harness.OwnsAllLeases(1), harness.Note("milestone", "r1 holds every lease")),
			harness.Then(harness.Wait(time.Second), inject.ReconnectLeaseTable(harness.InstanceAt(0))),
		},
		Verdicts: harness.Verdicts{MaxDuplicates: 4500, Why: "r1 resumes r0's shards from r0's checkpoint before the cut, and r0 takes some back: about 1,500–2,800 copies at this rate", Checks: []harness.Check{{Name: "scenario checks", Func: cutOffWorkerStopped}}},
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
	r0, r1 := r.Instances.Instance(0), r.Instances.Instance(1)
	if r0 == nil || r1 == nil {
		return append(f, "the run has no instances r0 and r1")
	}
	handoffs, ok := r.Bridge().(bridge.HandOffLogger)
	if !ok {
		return append(f, "the bridge keeps no hand-off log")
	}
	zombies, takers := r0.WorkerIDs(), r1.WorkerIDs()
	takeovers, unaware := 0, 0
	for _, c := range o.LeaseChanges {
		if c.Time.Before(from) || !c.Time.Before(to) || !slices.Contains(zombies, c.From) || !slices.Contains(takers, c.To) {
			continue
		}
		takeovers++
		var late []time.Time
		for _, t := range handoffs.HandedOff(c.From, c.Shard) {
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
		Guards:    []string{"awslabs/amazon-kinesis-client#461"},
		Items:     []int{9},
		Labels:    []string{LabelLease},
		Requires:  []bridge.Capability{bridge.Metrics},
		Shards:    4,
		Instances: 2,
		Records:   4000,
		Workload:  steady(700),
		Schedule: []harness.Step{
			harness.Then(harness.Balanced(), harness.Note("milestone", "leases balanced: 2 per instance")),
			// A row still at TRIM_HORIZON would rightly come back there.
			harness.Then(harness.AfterFraction(0.3), harness.Note("milestone", "30% of the records in")),
			harness.Then(harness.When("a shard r0 holds has checkpointed", func(_ context.Context, r *harness.Run) (bool, error) {
				return len(checkpointedHeldBy(0)(r)) > 0, nil
			}), inject.DeleteLease("a checkpointed shard r0 holds", checkpointedHeldBy(0))),
			harness.Then(harness.When("the deleted lease is back and leased", deletedLeaseBack), harness.Note("milestone", "the deleted lease is leased again")),
			harness.Then(harness.AfterFraction(0.55), inject.CorruptLease("a shard r1 holds", inject.HeldBy(1))),
			// Long enough for the holder's renewal (every FailoverTime/3) to
			// meet the damage and drop the lease.
			harness.Then(harness.Wait(2500*time.Millisecond), inject.RepairLease()),
		},
		Verdicts: afterLeaseMoves(harness.Check{Name: "scenario checks", Func: func(_ context.Context, r *harness.Run, o *harness.Outcome) []string {
			var f []string
			deleted, corrupted := faultShard(r, "lease-delete"), faultShard(r, "lease-corrupt")
			// The deleted row came back: by the lease table alone, with an
			// owner and at a sequence-number checkpoint (not the initial
			// position, which would replay or skip the shard).
			if row, ok := r.Leases.FirstRow(deleted); !ok {
				f = append(f, fmt.Sprintf("the deleted row of %q never came back", deleted))
			} else if strings.Trim(row.Checkpoint, "0123456789") != "" {
				f = append(f, fmt.Sprintf("the deleted row of %s came back at %s, not at its last sequence-number checkpoint", deleted, row.Position()))
			}
			if _, ok := o.CorruptRows[corrupted]; !ok {
				f = append(f, fmt.Sprintf("the lease watcher never saw the corrupted row of %q", corrupted))
			}
			// Its holder must not guess at the damaged row: its renewal fails on
			// it and it drops the lease (counted by its metrics).
			if z := o.Stats["r1"]; z.LeaseEvents["lost"] == 0 {
				f = append(f, fmt.Sprintf("r1, which held the corrupted row of %q, never dropped a lease (lease events %v)", corrupted, z.LeaseEvents))
			}
			return f
		}}),
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
		Labels:    []string{LabelLease},
		Requires:  []bridge.Capability{bridge.LeaseTable},
		Shards:    4,
		Instances: 2,
		Records:   5000, // enough to outlast a slow start-up rebalance and the fault
		Workload:  steady(700),
		Schedule: []harness.Step{
			harness.Then(harness.Balanced(), harness.Note("milestone", "leases balanced: 2 per instance")),
			harness.Then(harness.Wait(500*time.Millisecond), inject.Fault("lose-lease-answers",
				fault.Rule{Service: fault.ServiceDynamoDB, Operations: []string{"UpdateItem"}, Probability: 0.5, Action: fault.LoseResponse},
				3*time.Second)),
		},
		Verdicts: afterLeaseMoves(harness.Check{Name: "scenario checks", Func: func(_ context.Context, r *harness.Run, o *harness.Outcome) []string {
			f := leasesSteadyDuring(o, string(fault.LoseResponse), "lease-table answers were lost")
			if n := r.Env.Faults().Count(fault.LoseResponse); n == 0 {
				f = append(f, "no lease-table answer was lost: the fault never fired")
			}
			on, off := o.FaultTimes(string(fault.LoseResponse)), o.FaultTimes("fault-off")
			if len(on) == 0 || len(off) == 0 {
				return f
			}
			// An instance that misread its own write drops a healthy lease:
			// the lease table shows it lapse (or change hands, which
			// leasesSteadyDuring reports).
			for _, c := range o.LeaseChanges {
				if c.Lapse && !c.Time.Before(on[0]) && !c.Time.After(off[0].Add(time.Second)) {
					f = append(f, fmt.Sprintf("the lease of %s lapsed while answers were lost (%s renewed it late)", c.Shard, c.To))
				}
			}
			return f
		}}),
	}
}

// LeaseTableThrottled is catalogue item 14.
func LeaseTableThrottled() harness.Scenario {
	return harness.Scenario{
		Name:  "lease-table-throttled",
		Title: "The lease table is throttled: leases do not flap and records keep flowing",
		Story: "Once two instances share four shards evenly, half of all requests to the lease table are answered " +
			"ProvisionedThroughputExceededException for three seconds. Renewals must retry and back off; no lease " +
			"may change hands because of it, and replication must go on.",
		Guards:    []string{"vmware/vmware-go-kcl#60", "vmware/vmware-go-kcl#77", "vmware/vmware-go-kcl-v2#14"},
		Items:     []int{14},
		Labels:    []string{LabelThrottling, LabelLease, LabelExternal},
		Requires:  []bridge.Capability{bridge.Metrics},
		Shards:    4,
		Instances: 2,
		Records:   5000, // enough to outlast a slow start-up rebalance and the fault
		Workload:  steady(700),
		Schedule: []harness.Step{
			harness.Then(harness.Balanced(), harness.Note("milestone", "leases balanced: 2 per instance")),
			harness.Then(harness.Wait(500*time.Millisecond), inject.ThrottleLeaseTable(0.5, 3*time.Second)),
		},
		Verdicts: afterLeaseMoves(happened("throttle"), harness.Check{Name: "scenario checks", Func: leasesSteadyWhileThrottled}),
	}
}

// leasesSteadyWhileThrottled checks that no lease flapped and records kept
// flowing while the lease table was throttled, and that the throttling
// reached the lease manager.
func leasesSteadyWhileThrottled(_ context.Context, _ *harness.Run, o *harness.Outcome) []string {
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
		if c.From != "" && c.To != "" && !c.Lapse && !c.Time.Before(from) && c.Time.Before(to) {
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
		in := r.Instances.Instance(i)
		if in == nil {
			return nil
		}
		for _, l := range r.Leases.Rows() { // sorted by shard id
			if l.Owner == in.WorkerID() && l.Checkpoint != "" && strings.Trim(l.Checkpoint, "0123456789") == "" {
				return []string{l.Shard}
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
	l, ok := r.Leases.Row(id)
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

// kindOpenTransaction marks, in a run's faults, a transaction of a paused
// instance's shard that Kafka listed as ongoing (holding records).
const kindOpenTransaction = "open-transaction"

// openTransactionsOf records each Kafka transaction listed as ongoing whose
// transactional id names a shard instance i holds (Shardbridge's
// APPLICATION-SHARD ids): what a zombie leaves open when it is paused.
// Nothing is recorded for a bridge without transactions.
func openTransactionsOf(i int) harness.Action {
	return harness.Action{Kind: kindOpenTransaction, Desc: fmt.Sprintf("list r%d's open Kafka transactions", i), Do: func(ctx context.Context, r *harness.Run) error {
		in := r.Instances.Instance(i)
		if in == nil {
			return fmt.Errorf("no instance r%d", i)
		}
		held := map[string]bool{}
		for _, l := range r.Leases.Rows() {
			if l.Owner == in.WorkerID() {
				held[l.Shard] = true
			}
		}
		cl, err := kgo.NewClient(append(r.Env.KafkaOpts(), kgo.SeedBrokers(r.Env.Brokers()...))...)
		if err != nil {
			return err
		}
		defer cl.Close()
		txns, err := kadm.NewClient(cl).ListTransactions(ctx, nil, []string{"Ongoing"})
		if err != nil {
			return fmt.Errorf("list transactions: %w", err)
		}
		for id := range txns {
			shard, ok := strings.CutPrefix(id, r.Names.Application+"-")
			if ok && held[shard] {
				r.Record(kindOpenTransaction, fmt.Sprintf("r%d's transaction %s open at the pause", i, id), shard)
			}
		}
		return nil
	}}
}
