package soak

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/inject"
	"github.com/shardbridge/shardbridge/harness/workload"
)

// Name is the scenario name of a run (it names the run's stream and topic).
func (pl Plan) Name() string { return fmt.Sprintf("soak-%d-%d", pl.Seed, pl.Run) }

// Scenario turns the plan into the harness scenario it describes.
func (pl Plan) Scenario() harness.Scenario {
	keys := workload.UniformKeys(pl.Keys)
	if pl.Zipf {
		keys = workload.ZipfKeys(pl.Keys, pl.Skew)
	}
	wl := []workload.Option{workload.WithRate(float64(pl.Rate)), workload.WithProducers(pl.Producers),
		workload.WithKeys(keys), workload.WithRecordSize(pl.MinSize, pl.MaxSize)}
	if pl.Aggregate > 1 {
		wl = append(wl, workload.WithAggregation(pl.Aggregate))
	}
	sc := harness.Scenario{
		Name:      pl.Name(),
		Title:     fmt.Sprintf("Soak run %d of seed %d", pl.Run, pl.Seed),
		Shards:    pl.Shards,
		Instances: pl.Instances,
		Records:   pl.Records,
		Workload:  wl,
		// Faults wait on each other (a pause, a failover): generous, so a
		// slow machine fails nothing by time alone.
		Timeout:  max(90*time.Second, 4*pl.Duration+60*time.Second),
		Verdicts: harness.Verdicts{MaxDuplicates: pl.MaxDuplicates, Why: pl.Why},
	}
	if pl.Calm {
		// One instance and no fault that moves a lease: a long failover, so
		// that a CPU-starved machine cannot make it lose its own lease.
		sc.Settings = map[string]string{"REPLICATOR_FAILOVER_TIME": "8s"}
	}
	for _, s := range pl.Steps {
		sc.Schedule = append(sc.Schedule, harness.Then(s.When.trigger(), s.Do.action()))
	}
	return sc
}

func (t Trigger) trigger() harness.Trigger {
	switch t.Kind {
	case TrigWait:
		return harness.Wait(t.Wait)
	case TrigBalanced:
		return harness.Balanced()
	case TrigParents:
		return harness.ParentsFinished()
	case TrigLeased:
		return leasedAfter(t.Fraction)
	}
	return harness.AfterFraction(t.Fraction)
}

func (a Action) action() harness.Action {
	in := harness.InstanceAt(a.Instance)
	switch a.Kind {
	case ActSplit:
		if a.Shard == hotShard {
			return inject.SplitShard(harness.HotShard())
		}
		return inject.SplitShard(harness.OpenShard(a.Shard))
	case ActMerge:
		return inject.MergeShards()
	case ActScale:
		return inject.UpdateShardCount(a.N)
	case ActKill:
		return inject.Kill(in)
	case ActStart:
		return inject.StartAgain(in)
	case ActRestart:
		return inject.Restart(in)
	case ActPause:
		return inject.Pause(in)
	case ActResume:
		return inject.Resume(in)
	case ActJoin:
		return inject.AddInstance()
	case ActLeave:
		return inject.Stop(in)
	case ActThrottleReads:
		return inject.ThrottleReads(a.D)
	case ActThrottleLeases:
		return inject.ThrottleLeaseTable(a.P, a.D)
	case ActExpire:
		return inject.ExpireIterators()
	case ActBrokerRestart:
		return inject.RestartBroker()
	case ActFailProduce:
		return inject.FailProduce(6, a.N) // NOT_LEADER_OR_FOLLOWER
	case ActProduceTimeout:
		return inject.TimeoutAfterAppend(a.N)
	case ActCorruptLease:
		return inject.CorruptLease("a leased shard", leasedShard)
	case ActRepairLease:
		return inject.RepairLease()
	}
	return harness.Action{Kind: a.Kind, Desc: "unknown action " + a.Kind, Do: func(context.Context, *harness.Run) error {
		return fmt.Errorf("soak: unknown action %q", a.Kind)
	}}
}

// leasedShard names the unfinished shard with an owner of smallest id (by
// the lease table as last scanned), or none.
func leasedShard(r *harness.Run) []string {
	for _, l := range r.Leases.Rows() { // sorted by shard id
		if l.Owner != "" && !l.Finished() {
			return []string{l.Shard}
		}
	}
	return nil
}

// leasedAfter fires once the fraction of the records is acknowledged and
// some shard is leased (a lease row can only be damaged once it exists).
func leasedAfter(f float64) harness.Trigger {
	return harness.When(fmt.Sprintf("%.0f%% of the records are in and a shard is leased", f*100), func(_ context.Context, r *harness.Run) (bool, error) {
		return float64(r.Produced()) >= f*float64(r.Scenario.Records) && len(leasedShard(r)) > 0, nil
	})
}

// StepLines lists the schedule as the report shows it: trigger, action.
func (pl Plan) StepLines() []string {
	lines := make([]string, len(pl.Steps))
	for i, s := range pl.Steps {
		h := harness.Then(s.When.trigger(), s.Do.action())
		lines[i] = fmt.Sprintf("%d. %s: %s", i+1, h.When.Desc, h.Do.Desc)
	}
	return lines
}

// Describe renders the plan: equal descriptions are the same experiment.
func (pl Plan) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %d of seed %d (harness seed %d) on %s\n", pl.Run, pl.Seed, pl.RunSeed, pl.Profile.Backend)
	keys := fmt.Sprintf("%d uniform keys", pl.Keys)
	if pl.Zipf {
		keys = fmt.Sprintf("%d Zipf keys (s=%.1f)", pl.Keys, pl.Skew)
	}
	agg := "KPL aggregation off"
	if pl.Aggregate > 1 {
		agg = fmt.Sprintf("KPL aggregates of %d", pl.Aggregate)
	}
	fmt.Fprintf(&b, "  %s, %s; %d records at %d/s (%s), %s, %s, %d–%d B, %s\n",
		plural(pl.Instances, "instance"), plural(pl.Shards, "shard"), pl.Records, pl.Rate, pl.Duration,
		plural(pl.Producers, "producer"), keys, pl.MinSize, pl.MaxSize, agg)
	if pl.MaxDuplicates == 0 {
		fmt.Fprintf(&b, "  verdicts: nothing lost, order per key and shard, no duplicate (long lease failover)\n")
	} else {
		fmt.Fprintf(&b, "  verdicts: nothing lost, order per key and shard, duplicates ≤ %d: %s\n", pl.MaxDuplicates, pl.Why)
	}
	b.WriteString("  schedule:\n")
	for _, l := range pl.StepLines() {
		fmt.Fprintf(&b, "    %s\n", l)
	}
	return b.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
