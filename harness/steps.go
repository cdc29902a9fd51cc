package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/leasewatch"
)

// A schedule is a list of Steps run in order: each step waits for its
// trigger, which is judged only after the previous step has fired, then
// performs its action. Sequential steps read like the story of a failure
// ("after 1,000 records split the hot shard; when the parent is finished,
// kill its owner; …"). Every action records what it did (Run.Record), so the
// report and the live demo show each fault with its time.
type Step struct {
	When Trigger
	Do   Action
}

// Then is shorthand for a Step.
func Then(when Trigger, do Action) Step { return Step{When: when, Do: do} }

// Trigger decides when a step fires.
type Trigger struct {
	Desc string
	// Ready is polled (every few milliseconds) until it reports true.
	Ready func(ctx context.Context, r *Run) (bool, error)
	// since is set for triggers relative to the previous step.
	since func(prev time.Time) Trigger
	// needs are what the trigger reads of the bridge (the lease table).
	needs []bridge.Capability
}

// Now fires at once (right after the previous step).
func Now() Trigger {
	return Trigger{Desc: "now", Ready: func(context.Context, *Run) (bool, error) { return true, nil }}
}

// At fires d after the run started.
func At(d time.Duration) Trigger {
	return Trigger{Desc: "at " + d.String(), Ready: func(_ context.Context, r *Run) (bool, error) {
		return r.Elapsed() >= d, nil
	}}
}

// Wait fires d after the previous step fired.
func Wait(d time.Duration) Trigger {
	return Trigger{Desc: "after " + d.String(), since: func(prev time.Time) Trigger {
		return Trigger{Desc: "after " + d.String(), Ready: func(context.Context, *Run) (bool, error) {
			return time.Since(prev) >= d, nil
		}}
	}}
}

// AfterRecords fires once Kinesis has acknowledged n records in this run.
func AfterRecords(n int64) Trigger {
	return Trigger{Desc: fmt.Sprintf("after %d records", n), Ready: func(_ context.Context, r *Run) (bool, error) {
		return r.Produced() >= n, nil
	}}
}

// AfterFraction fires once the given fraction of the main workload's
// records is acknowledged.
func AfterFraction(f float64) Trigger {
	return Trigger{Desc: fmt.Sprintf("after %.0f%% of the records", f*100), Ready: func(_ context.Context, r *Run) (bool, error) {
		return float64(r.Produced()) >= f*float64(r.total), nil
	}}
}

// AfterReplicated fires once the instances report n records written to Kafka.
func AfterReplicated(n int64) Trigger {
	return Trigger{Desc: fmt.Sprintf("after %d records replicated", n), Ready: func(ctx context.Context, r *Run) (bool, error) {
		return r.Instances.Total(ctx).RecordsOut >= n, nil
	}}
}

// When fires once cond holds.
func When(desc string, cond func(ctx context.Context, r *Run) (bool, error)) Trigger {
	return Trigger{Desc: "when " + desc, Ready: cond}
}

// ParentsFinished fires once every parent of the latest split or merge has
// its lease at SHARD_END.
func ParentsFinished() Trigger {
	return leaseTrigger(When("the resharded parents are finished (SHARD_END)", func(_ context.Context, r *Run) (bool, error) {
		rs, ok := r.LastReshard()
		if !ok {
			return false, errors.New("no split or merge happened before")
		}
		for _, p := range rs.Parents {
			l, ok := r.Leases.Row(p)
			if !ok || !l.Finished() {
				return false, nil
			}
		}
		return true, nil
	}))
}

// ChildTaken fires once a child of the latest split or merge is leased by a
// worker and has no checkpoint of its own yet.
func ChildTaken() Trigger {
	return leaseTrigger(When("a child shard is leased before its first checkpoint", func(_ context.Context, r *Run) (bool, error) {
		rs, ok := r.LastReshard()
		if !ok {
			return false, errors.New("no split or merge happened before")
		}
		for _, c := range rs.Children {
			if l, ok := r.Leases.Row(c); ok && l.Owner != "" && leasewatch.ComparePositions(l, leasewatch.Row{}) == 0 {
				return true, nil
			}
		}
		return false, nil
	}))
}

// OwnsAllLeases fires once instance i holds every unfinished lease.
func OwnsAllLeases(i int) Trigger {
	return leaseTrigger(When(fmt.Sprintf("r%d holds every lease", i), func(_ context.Context, r *Run) (bool, error) {
		in := r.Instances.Instance(i)
		if in == nil {
			return false, fmt.Errorf("no instance r%d", i)
		}
		leases := r.Leases.Rows()
		if len(leases) == 0 {
			return false, nil
		}
		for _, l := range leases {
			if !l.Finished() && l.Owner != in.WorkerID() {
				return false, nil
			}
		}
		return true, nil
	}))
}

// Balanced fires once the unfinished leases are spread evenly over the
// running instances (each holds the floor or the ceiling of the share), so
// that later lease moves are not the start-up rebalance.
func Balanced() Trigger {
	return leaseTrigger(When("the leases are balanced over the running instances", func(_ context.Context, r *Run) (bool, error) {
		running := r.Instances.Running()
		if len(running) == 0 {
			return false, nil
		}
		held := map[string]int{}
		total := 0
		for _, l := range r.Leases.Rows() {
			if l.Finished() {
				continue
			}
			if l.Owner == "" {
				return false, nil
			}
			held[l.Owner]++
			total++
		}
		lo := total / len(running)
		hi := (total + len(running) - 1) / len(running)
		for _, in := range running {
			if n := held[in.WorkerID()]; n < lo || n > hi {
				return false, nil
			}
		}
		return total > 0, nil
	}))
}

// Action is something a step does to the system under test.
type Action struct {
	Kind string // e.g. "split-shard", "kill", "throttle"
	Desc string // for listings: "split the hot shard"
	// Needs reports, before the run, why the action cannot run on this
	// environment or bridge (wrapping bridge.ErrUnsupported), or nil.
	Needs func(r *Run) error
	Do    func(ctx context.Context, r *Run) error
}

// Func is an action from any function; it records itself as kind.
func Func(kind, desc string, f func(ctx context.Context, r *Run) error) Action {
	return Action{Kind: kind, Desc: desc, Do: func(ctx context.Context, r *Run) error {
		if err := f(ctx, r); err != nil {
			return err
		}
		r.Record(kind, desc, "")
		return nil
	}}
}

// Note records an event without doing anything: a milestone a trigger
// waited for ("r1 holds every lease") shows in the report's timeline.
func Note(kind, detail string) Action {
	return Action{Kind: kind, Desc: detail, Do: func(_ context.Context, r *Run) error {
		r.Record(kind, detail, "")
		return nil
	}}
}

// leaseTrigger marks a trigger that reads the lease table.
func leaseTrigger(t Trigger) Trigger {
	t.needs = []bridge.Capability{bridge.LeaseTable}
	return t
}
