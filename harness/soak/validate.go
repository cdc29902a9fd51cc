package soak

import (
	"errors"
	"fmt"
)

// Validate replays the plan's steps on a model of the stream and the
// instances and reports the first step that could not run as planned: an
// action the profile lacks, a pause never resumed, a kill never restarted,
// a merge of fewer than two open shards, a scaling out of bounds, …
func Validate(pl Plan, p Profile) error {
	if pl.Shards < 1 || pl.Instances < 1 || pl.Records < 1 || pl.Rate < 1 {
		return fmt.Errorf("plan %s: %d shards, %d instances, %d records at %d/s", pl.Name(), pl.Shards, pl.Instances, pl.Records, pl.Rate)
	}
	open := pl.Shards
	inst := make([]instState, pl.Instances)
	corrupted, produceFailed := false, false
	running := func() int {
		n := 0
		for _, s := range inst {
			if s == up {
				n++
			}
		}
		return n
	}
	for i, s := range pl.Steps {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("plan %s step %d (%s): %s", pl.Name(), i+1, s.Do.Kind, fmt.Sprintf(format, args...))
		}
		switch s.When.Kind {
		case TrigFraction, TrigWait:
		case TrigBalanced, TrigParents, TrigLeased:
			if !p.LeaseTable {
				return fail("trigger %s needs a lease table", s.When.Kind)
			}
			if running() == 0 {
				return fail("trigger %s waits on the lease table with no instance running", s.When.Kind)
			}
		default:
			return fail("unknown trigger %q", s.When.Kind)
		}
		need := map[string]bool{
			ActPause: p.Pause, ActResume: p.Pause, ActThrottleReads: p.FaultLayer, ActThrottleLeases: p.FaultLayer,
			ActExpire: p.ExpireIterators, ActBrokerRestart: p.BrokerControl, ActFailProduce: p.BrokerFaults,
			ActProduceTimeout: p.BrokerFaults, ActCorruptLease: p.LeaseTable, ActRepairLease: p.LeaseTable,
		}
		if ok, listed := need[s.Do.Kind]; listed && !ok {
			return fail("the environment (%s) cannot do it", p.Backend)
		}
		a := s.Do
		inRange := a.Instance >= 0 && a.Instance < len(inst)
		switch a.Kind {
		case ActSplit:
			if open >= maxOpenShards || a.Shard >= open {
				return fail("split shard %d of %d open", a.Shard, open)
			}
			open++
		case ActMerge:
			if open < 2 {
				return fail("merge with %d open shard", open)
			}
			open--
		case ActScale:
			if a.N == open || a.N > 2*open || 2*a.N < open || a.N > maxOpenShards {
				return fail("UpdateShardCount %d → %d", open, a.N)
			}
			open = a.N
		case ActKill, ActPause, ActRestart, ActLeave:
			if !inRange || inst[a.Instance] != up {
				return fail("instance r%d is not running", a.Instance)
			}
			if a.Kind == ActLeave && running() < 2 {
				return fail("the last running instance would leave")
			}
			switch a.Kind {
			case ActKill:
				inst[a.Instance] = killed
			case ActPause:
				inst[a.Instance] = paused
			case ActLeave:
				inst[a.Instance] = gone
			}
		case ActStart:
			if !inRange || inst[a.Instance] != killed {
				return fail("start r%d, which was not killed", a.Instance)
			}
			inst[a.Instance] = up
		case ActResume:
			if !inRange || inst[a.Instance] != paused {
				return fail("resume r%d, which was not paused", a.Instance)
			}
			inst[a.Instance] = up
		case ActJoin:
			if running() >= maxInstances {
				return fail("more than %d instances", maxInstances)
			}
			inst = append(inst, up)
		case ActCorruptLease:
			if corrupted {
				return fail("a lease row is already corrupted")
			}
			corrupted = true
		case ActRepairLease:
			if !corrupted {
				return fail("no lease row was corrupted")
			}
			corrupted = false
		case ActFailProduce:
			produceFailed = true
		case ActBrokerRestart:
			produceFailed = false
		case ActThrottleReads, ActThrottleLeases, ActExpire, ActProduceTimeout:
		default:
			return fail("unknown action")
		}
	}
	var errs []error
	for i, s := range inst {
		switch s {
		case killed:
			errs = append(errs, fmt.Errorf("r%d is killed and never started again", i))
		case paused:
			errs = append(errs, fmt.Errorf("r%d is paused and never resumed", i))
		}
	}
	if running() == 0 {
		errs = append(errs, errors.New("no instance is left running"))
	}
	if corrupted {
		errs = append(errs, errors.New("a corrupted lease row is never repaired"))
	}
	if produceFailed {
		errs = append(errs, errors.New("failed produces are not followed by a broker restart"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("plan %s ends unsound: %w", pl.Name(), err)
	}
	return nil
}
