package harness

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/fakes/fault"
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
		return r.Runner.Total(ctx).RecordsOut >= n, nil
	}}
}

// When fires once cond holds.
func When(desc string, cond func(ctx context.Context, r *Run) (bool, error)) Trigger {
	return Trigger{Desc: "when " + desc, Ready: cond}
}

// ParentsFinished fires once every parent of the latest split or merge has
// its lease at SHARD_END.
func ParentsFinished() Trigger {
	return When("the resharded parents are finished (SHARD_END)", func(_ context.Context, r *Run) (bool, error) {
		rs, ok := r.LastReshard()
		if !ok {
			return false, errors.New("no split or merge happened before")
		}
		for _, p := range rs.Parents {
			l, ok := r.Leases.Lease(p)
			if !ok || !l.Finished() {
				return false, nil
			}
		}
		return true, nil
	})
}

// ChildTaken fires once a child of the latest split or merge is leased by a
// worker and has no checkpoint of its own yet.
func ChildTaken() Trigger {
	return When("a child shard is leased before its first checkpoint", func(_ context.Context, r *Run) (bool, error) {
		rs, ok := r.LastReshard()
		if !ok {
			return false, errors.New("no split or merge happened before")
		}
		for _, c := range rs.Children {
			if l, ok := r.Leases.Lease(c); ok && l.Owner != "" && checkpointRank(l.Checkpoint) == 0 {
				return true, nil
			}
		}
		return false, nil
	})
}

// OwnsAllLeases fires once instance i holds every unfinished lease.
func OwnsAllLeases(i int) Trigger {
	return When(fmt.Sprintf("r%d holds every lease", i), func(_ context.Context, r *Run) (bool, error) {
		in := r.Runner.Instance(i)
		if in == nil {
			return false, fmt.Errorf("no instance r%d", i)
		}
		leases := r.Leases.Leases()
		if len(leases) == 0 {
			return false, nil
		}
		for _, l := range leases {
			if !l.Finished() && l.Owner != in.WorkerID() {
				return false, nil
			}
		}
		return true, nil
	})
}

// Balanced fires once the unfinished leases are spread evenly over the
// running instances (each holds the floor or the ceiling of the share), so
// that later lease moves are not the start-up rebalance.
func Balanced() Trigger {
	return When("the leases are balanced over the running instances", func(_ context.Context, r *Run) (bool, error) {
		running := r.Runner.Running()
		if len(running) == 0 {
			return false, nil
		}
		held := map[string]int{}
		total := 0
		for _, l := range r.Leases.Leases() {
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
	})
}

// Action is something a step does to the system under test.
type Action struct {
	Kind string // e.g. "split-shard", "kill", "throttle"
	Desc string // for listings: "split the hot shard"
	// Needs reports, before the run, why the action cannot run on this
	// environment (wrapping ErrUnsupported), or nil.
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

func needs(checks ...func(r *Run) error) func(r *Run) error {
	return func(r *Run) error {
		for _, c := range checks {
			if err := c(r); err != nil {
				return err
			}
		}
		return nil
	}
}

func needEmulator(r *Run) error {
	if r.Env.KinesisEmulator() == nil {
		return fmt.Errorf("the in-process Kinesis emulator (backend %s has none): %w", r.Env.Backend(), ErrUnsupported)
	}
	return nil
}

func needKafka(r *Run) error {
	if r.Env.Kafka() == nil {
		return fmt.Errorf("the in-process Kafka broker's fault controls (brokers are external): %w", ErrUnsupported)
	}
	return nil
}

func needBroker(r *Run) error {
	if r.Env.Broker() == nil {
		return fmt.Errorf("control of the Kafka broker (backend %s gives none): %w", r.Env.Backend(), ErrUnsupported)
	}
	return nil
}

func needInProcess(r *Run) error {
	if r.Runner.Mode() != InProcess {
		return fmt.Errorf("in-process instances: %w", ErrUnsupported)
	}
	return nil
}

// ShardSelector picks a shard when an action runs.
type ShardSelector struct {
	Desc string
	Pick func(ctx context.Context, r *Run) (ktypes.Shard, error)
}

// HotShard picks the open shard that received the most acknowledged records.
func HotShard() ShardSelector {
	return ShardSelector{Desc: "the hot shard", Pick: func(ctx context.Context, r *Run) (ktypes.Shard, error) {
		open, err := r.OpenShards(ctx)
		if err != nil {
			return ktypes.Shard{}, err
		}
		counts := r.AckedPerShard()
		sort.SliceStable(open, func(i, j int) bool {
			return counts[aws.ToString(open[i].ShardId)] > counts[aws.ToString(open[j].ShardId)]
		})
		return open[0], nil
	}}
}

// OpenShard picks the i-th open shard in hash key order.
func OpenShard(i int) ShardSelector {
	return ShardSelector{Desc: fmt.Sprintf("open shard #%d", i), Pick: func(ctx context.Context, r *Run) (ktypes.Shard, error) {
		open, err := r.OpenShards(ctx)
		if err != nil {
			return ktypes.Shard{}, err
		}
		if i >= len(open) {
			return ktypes.Shard{}, fmt.Errorf("no open shard #%d (%d open)", i, len(open))
		}
		return open[i], nil
	}}
}

// ShardOfKey picks the open shard a partition key hashes to.
func ShardOfKey(key string) ShardSelector {
	return ShardSelector{Desc: "the shard of key " + key, Pick: func(ctx context.Context, r *Run) (ktypes.Shard, error) {
		open, err := r.OpenShards(ctx)
		if err != nil {
			return ktypes.Shard{}, err
		}
		sum := md5.Sum([]byte(key))
		h := new(big.Int).SetBytes(sum[:])
		for _, s := range open {
			lo, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
			hi, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
			if lo != nil && hi != nil && h.Cmp(lo) >= 0 && h.Cmp(hi) <= 0 {
				return s, nil
			}
		}
		return ktypes.Shard{}, fmt.Errorf("no open shard holds key %q", key)
	}}
}

// ShardByID picks a shard by id.
func ShardByID(id string) ShardSelector {
	return ShardSelector{Desc: id, Pick: func(ctx context.Context, r *Run) (ktypes.Shard, error) {
		all, err := r.Shards(ctx)
		if err != nil {
			return ktypes.Shard{}, err
		}
		for _, s := range all {
			if aws.ToString(s.ShardId) == id {
				return s, nil
			}
		}
		return ktypes.Shard{}, fmt.Errorf("no shard %s", id)
	}}
}

// SplitShard splits a shard at the middle of its hash key range.
func SplitShard(sel ShardSelector) Action {
	return Action{Kind: "split-shard", Desc: "split " + sel.Desc, Do: func(ctx context.Context, r *Run) error {
		s, err := sel.Pick(ctx, r)
		if err != nil {
			return err
		}
		lo, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
		hi, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
		mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
		mid.Add(mid, big.NewInt(1))
		id := aws.ToString(s.ShardId)
		_, err = r.Env.Kinesis().SplitShard(ctx, &kinesis.SplitShardInput{
			StreamName: aws.String(r.Stream), ShardToSplit: aws.String(id), NewStartingHashKey: aws.String(mid.String()),
		})
		if err != nil {
			return fmt.Errorf("split %s: %w", id, err)
		}
		if err := r.Env.WaitStreamActive(ctx, r.Stream); err != nil {
			return err
		}
		if err := r.noteReshard(ctx, "split", id); err != nil {
			return err
		}
		r.Record("split-shard", fmt.Sprintf("split %s (%s)", id, sel.Desc), id)
		return nil
	}}
}

// MergeShards merges two adjacent open shards: the pair of adjacent shards
// with the fewest acknowledged records (the cold ones).
func MergeShards() Action {
	return Action{Kind: "merge-shards", Desc: "merge the two coldest adjacent shards", Do: func(ctx context.Context, r *Run) error {
		open, err := r.OpenShards(ctx)
		if err != nil {
			return err
		}
		if len(open) < 2 {
			return errors.New("merge: fewer than two open shards")
		}
		counts := r.AckedPerShard()
		best := -1
		for i := 0; i+1 < len(open); i++ {
			if !adjacent(open[i], open[i+1]) {
				continue
			}
			if best < 0 || counts[aws.ToString(open[i].ShardId)]+counts[aws.ToString(open[i+1].ShardId)] <
				counts[aws.ToString(open[best].ShardId)]+counts[aws.ToString(open[best+1].ShardId)] {
				best = i
			}
		}
		if best < 0 {
			return errors.New("merge: no adjacent open shards")
		}
		a, b := aws.ToString(open[best].ShardId), aws.ToString(open[best+1].ShardId)
		if _, err := r.Env.Kinesis().MergeShards(ctx, &kinesis.MergeShardsInput{
			StreamName: aws.String(r.Stream), ShardToMerge: aws.String(a), AdjacentShardToMerge: aws.String(b),
		}); err != nil {
			return fmt.Errorf("merge %s and %s: %w", a, b, err)
		}
		if err := r.Env.WaitStreamActive(ctx, r.Stream); err != nil {
			return err
		}
		if err := r.noteReshard(ctx, "merge", a, b); err != nil {
			return err
		}
		r.Record("merge-shards", fmt.Sprintf("merged %s and %s", a, b), a)
		return nil
	}}
}

func adjacent(a, b ktypes.Shard) bool {
	end, _ := new(big.Int).SetString(aws.ToString(a.HashKeyRange.EndingHashKey), 10)
	start, _ := new(big.Int).SetString(aws.ToString(b.HashKeyRange.StartingHashKey), 10)
	return end != nil && start != nil && new(big.Int).Add(end, big.NewInt(1)).Cmp(start) == 0
}

// ScaleShards changes the open shard count (UpdateShardCount, uniform scaling).
func ScaleShards(n int) Action {
	return Action{Kind: "scale-shards", Desc: fmt.Sprintf("scale to %d shards", n), Do: func(ctx context.Context, r *Run) error {
		if _, err := r.Env.Kinesis().UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{
			StreamName: aws.String(r.Stream), TargetShardCount: aws.Int32(int32(n)), ScalingType: ktypes.ScalingTypeUniformScaling,
		}); err != nil {
			return fmt.Errorf("scale to %d shards: %w", n, err)
		}
		if err := r.Env.WaitStreamActive(ctx, r.Stream); err != nil {
			return err
		}
		r.Record("scale-shards", fmt.Sprintf("scaled to %d open shards", n), "")
		return nil
	}}
}

// Fault adds a rule to the AWS fault layer for d (0: until FaultOff with
// the same name, or the end of the run). Stream and Table left empty are
// filled with the run's stream (Kinesis rules) and lease table (DynamoDB).
func Fault(name string, rule fault.Rule, d time.Duration) Action {
	rule.Name = name
	return Action{Kind: string(rule.Action), Desc: describeRule(rule, d), Do: func(ctx context.Context, r *Run) error {
		if rule.Service == fault.ServiceKinesis && rule.Stream == "" {
			rule.Stream = r.Stream
		}
		if rule.Service == fault.ServiceDynamoDB && rule.Table == "" {
			rule.Table = r.Application
		}
		if err := rule.Validate(); err != nil {
			return fmt.Errorf("fault rule %s: %w", name, err)
		}
		id := r.Env.Faults().Add(rule)
		r.setRule(name, id)
		r.Record(string(rule.Action), describeRule(rule, d)+" on", "")
		if d <= 0 {
			return nil
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		r.removeRule(name)
		return nil
	}}
}

// FaultOff removes the rule Fault added under name.
func FaultOff(name string) Action {
	return Action{Kind: "fault-off", Desc: "end fault " + name, Do: func(ctx context.Context, r *Run) error {
		if !r.removeRule(name) {
			return fmt.Errorf("no fault rule named %s", name)
		}
		return nil
	}}
}

func describeRule(rule fault.Rule, d time.Duration) string {
	s := string(rule.Action)
	if len(rule.Operations) > 0 {
		s += fmt.Sprintf(" %v", rule.Operations)
	}
	if rule.Service != "" {
		s += " " + rule.Service
	}
	if rule.Table != "" {
		s += " table " + rule.Table
	}
	if rule.Shard != "" {
		s += " shard " + rule.Shard
	}
	if rule.Probability > 0 && rule.Probability < 1 {
		s += fmt.Sprintf(" p=%.2f", rule.Probability)
	}
	if rule.Count > 0 {
		s += fmt.Sprintf(" ×%d", rule.Count)
	}
	if d > 0 {
		s += " for " + d.String()
	}
	return s
}

// ThrottleReads answers every GetRecords of the stream with
// ProvisionedThroughputExceededException for d.
func ThrottleReads(d time.Duration) Action {
	return Fault("throttle-reads", fault.Rule{Service: fault.ServiceKinesis, Operations: []string{"GetRecords"}, Action: fault.Throttle}, d)
}

// ThrottleLeaseTable throttles the lease table's requests with probability p for d.
func ThrottleLeaseTable(p float64, d time.Duration) Action {
	return Fault("throttle-lease-table", fault.Rule{Service: fault.ServiceDynamoDB, Probability: p, Action: fault.Throttle}, d)
}

// ExpireIterators makes every shard iterator the replicator holds expire:
// on a backend whose clock the harness controls, by moving the clock past
// the 5-minute iterator lifetime; elsewhere through the fault layer
// (ExpiredIteratorException for the next GetRecords of each shard).
func ExpireIterators() Action {
	return Action{Kind: "expire-iterators", Desc: "expire every shard iterator", Do: func(ctx context.Context, r *Run) error {
		if r.Env.ControlsServiceClock() {
			r.Env.Clock().Advance(5*time.Minute + 5*time.Second)
			r.Record("expire-iterators", "clock advanced 5m5s: every iterator issued before is expired", "")
			return nil
		}
		open, err := r.OpenShards(ctx)
		if err != nil {
			return err
		}
		for _, s := range open {
			r.Env.Faults().Add(fault.Rule{Name: "expire-iterators", Service: fault.ServiceKinesis, Operations: []string{"GetRecords"},
				Stream: r.Stream, Shard: aws.ToString(s.ShardId), Count: 1, Action: fault.ExpiredIterator})
		}
		r.Record("expire-iterators", fmt.Sprintf("ExpiredIteratorException for the next GetRecords of %d shards (fault layer)", len(open)), "")
		return nil
	}}
}

// InstanceSelector picks an instance when an action runs.
type InstanceSelector struct {
	Desc string
	Pick func(ctx context.Context, r *Run) (*Instance, error)
}

// InstanceAt picks the instance with index i.
func InstanceAt(i int) InstanceSelector {
	return InstanceSelector{Desc: fmt.Sprintf("r%d", i), Pick: func(_ context.Context, r *Run) (*Instance, error) {
		in := r.Runner.Instance(i)
		if in == nil {
			return nil, fmt.Errorf("no instance r%d", i)
		}
		return in, nil
	}}
}

// OwnerOf picks the running instance owning the lease of one of the shards
// named (the first owned one, by the lease table as last scanned).
func OwnerOf(desc string, shards func(r *Run) []string) InstanceSelector {
	return InstanceSelector{Desc: "the owner of " + desc, Pick: func(ctx context.Context, r *Run) (*Instance, error) {
		r.Leases.Poll(ctx)
		for _, id := range shards(r) {
			l, ok := r.Leases.Lease(id)
			if !ok || l.Owner == "" {
				continue
			}
			for _, in := range r.Runner.Instances() {
				if in.Running() && in.WorkerID() == l.Owner {
					return in, nil
				}
			}
		}
		return nil, fmt.Errorf("no running instance owns %s %v", desc, shards(r))
	}}
}

// MostLoaded picks the running instance holding the most leases.
func MostLoaded() InstanceSelector {
	return InstanceSelector{Desc: "the busiest instance", Pick: func(ctx context.Context, r *Run) (*Instance, error) {
		r.Leases.Poll(ctx)
		held := map[string]int{}
		for _, l := range r.Leases.Leases() {
			if l.Owner != "" && !l.Finished() {
				held[l.Owner]++
			}
		}
		var best *Instance
		for _, in := range r.Runner.Running() {
			if best == nil || held[in.WorkerID()] > held[best.WorkerID()] {
				best = in
			}
		}
		if best == nil {
			return nil, errors.New("no running instance")
		}
		return best, nil
	}}
}

func instanceAction(kind, verb string, sel InstanceSelector, needs func(*Run) error, f func(ctx context.Context, in *Instance) error) Action {
	return Action{Kind: kind, Desc: verb + " " + sel.Desc, Needs: needs, Do: func(ctx context.Context, r *Run) error {
		in, err := sel.Pick(ctx, r)
		if err != nil {
			return err
		}
		id := in.WorkerID()
		if err := f(ctx, in); err != nil {
			return fmt.Errorf("%s %s: %w", verb, in.Name(), err)
		}
		r.Record(kind, fmt.Sprintf("%s %s (%s)", verb, in.Name(), id), "")
		return nil
	}}
}

// Kill kills an instance: SIGKILL, or an in-process instance cut off at once.
func Kill(sel InstanceSelector) Action {
	return instanceAction("kill", "killed", sel, nil, func(_ context.Context, in *Instance) error { return in.Kill() })
}

// Stop stops an instance gracefully (SIGTERM): an instance leaving.
func Stop(sel InstanceSelector) Action {
	return instanceAction("stop", "stopped", sel, nil, func(ctx context.Context, in *Instance) error { return in.Stop(ctx) })
}

// Restart stops an instance gracefully and starts it again.
func Restart(sel InstanceSelector) Action {
	return instanceAction("restart", "restarted", sel, nil, func(ctx context.Context, in *Instance) error { return in.Restart(ctx) })
}

// StartAgain starts a new life of a stopped or killed instance.
func StartAgain(sel InstanceSelector) Action {
	return instanceAction("start", "started", sel, nil, func(ctx context.Context, in *Instance) error { return in.Start(ctx) })
}

// Pause freezes an instance (SIGSTOP) until Resume: a zombie in the making.
func Pause(sel InstanceSelector) Action {
	return instanceAction("pause", "paused", sel, nil, func(_ context.Context, in *Instance) error { return in.Pause() })
}

// Resume thaws a paused instance.
func Resume(sel InstanceSelector) Action {
	return instanceAction("resume", "resumed", sel, nil, func(_ context.Context, in *Instance) error { return in.Resume() })
}

// CutOffLeaseTable cuts an instance off from the lease table (every DynamoDB
// call it makes fails with a network error) while its Kinesis reads and
// Kafka writes go on, until ReconnectLeaseTable: a worker partitioned from
// DynamoDB, whose leases the others take over. In-process instances only.
func CutOffLeaseTable(sel InstanceSelector) Action {
	return instanceAction("lease-table-cut", "cut off from the lease table", sel, needInProcess,
		func(_ context.Context, in *Instance) error { return in.CutLeaseTable() })
}

// ReconnectLeaseTable ends CutOffLeaseTable.
func ReconnectLeaseTable(sel InstanceSelector) Action {
	return instanceAction("lease-table-reconnect", "reconnected to the lease table", sel, needInProcess,
		func(_ context.Context, in *Instance) error { return in.RestoreLeaseTable() })
}

// AddInstance starts one more instance: a worker joining.
func AddInstance() Action {
	return Action{Kind: "join", Desc: "add an instance", Do: func(ctx context.Context, r *Run) error {
		in, err := r.Runner.Add(ctx)
		if err != nil {
			return err
		}
		r.Record("join", fmt.Sprintf("started %s (%s)", in.Name(), in.WorkerID()), "")
		return nil
	}}
}

// RestartBroker stops the Kafka broker and starts it again with its data.
func RestartBroker() Action {
	return Action{Kind: "broker-restart", Desc: "restart the Kafka broker", Needs: needBroker, Do: func(ctx context.Context, r *Run) error {
		if err := r.Env.Broker().Restart(ctx); err != nil {
			return fmt.Errorf("restart broker: %w", err)
		}
		r.Record("broker-restart", "Kafka broker restarted (data kept)", "")
		return nil
	}}
}

// StopBroker takes the Kafka broker down for d.
func StopBroker(d time.Duration) Action {
	return Action{Kind: "broker-down", Desc: "Kafka broker down for " + d.String(), Needs: needBroker, Do: func(ctx context.Context, r *Run) error {
		if err := r.Env.Broker().Stop(ctx); err != nil {
			return fmt.Errorf("stop broker: %w", err)
		}
		r.Record("broker-down", "Kafka broker stopped for "+d.String(), "")
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		if err := r.Env.Broker().Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start broker: %w", err)
		}
		r.Record("broker-up", "Kafka broker started", "")
		return nil
	}}
}

// FailProduce makes the next n produce requests to the topic fail with the
// Kafka error code (e.g. 6 NOT_LEADER_OR_FOLLOWER).
func FailProduce(code int16, n int) Action {
	return Action{Kind: "produce-error", Desc: fmt.Sprintf("fail %d produce requests with code %d", n, code), Needs: needKafka,
		Do: func(_ context.Context, r *Run) error {
			r.Env.Kafka().FailProduce(r.Topic, code, n)
			r.Record("produce-error", fmt.Sprintf("next %d produce requests fail with Kafka error %d", n, code), "")
			return nil
		}}
}

// TimeoutAfterAppend makes the next n produce requests to the topic append
// and then answer REQUEST_TIMED_OUT: the outcome is unknown to the producer.
func TimeoutAfterAppend(n int) Action {
	return Action{Kind: "produce-timeout", Desc: fmt.Sprintf("time out %d produce requests after appending", n), Needs: needKafka,
		Do: func(_ context.Context, r *Run) error {
			r.Env.Kafka().TimeoutAfterAppend(r.Topic, n)
			r.Record("produce-timeout", fmt.Sprintf("next %d produce requests append, then time out (unknown outcome)", n), "")
			return nil
		}}
}

// MoveLeaders moves the leadership of every partition of the topic.
func MoveLeaders() Action {
	return Action{Kind: "leader-move", Desc: "move every partition's leader", Needs: needKafka, Do: func(_ context.Context, r *Run) error {
		for p := int32(0); p < r.Partitions; p++ {
			if err := r.Env.Kafka().MoveLeader(r.Topic, p); err != nil {
				return fmt.Errorf("move leader of partition %d: %w", p, err)
			}
		}
		r.Record("leader-move", fmt.Sprintf("moved the leader of %d partitions", r.Partitions), "")
		return nil
	}}
}

// BrokerLatency delays every Kafka request by latency for d.
func BrokerLatency(latency, d time.Duration) Action {
	return Action{Kind: "broker-latency", Desc: fmt.Sprintf("Kafka latency %s for %s", latency, d), Needs: needKafka, Do: func(ctx context.Context, r *Run) error {
		r.Env.Kafka().SetLatency(latency)
		r.Record("broker-latency", fmt.Sprintf("every Kafka request delayed %s for %s", latency, d), "")
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		r.Env.Kafka().SetLatency(0)
		return nil
	}}
}

// StallSink holds back every record the in-process instances hand to Kafka
// until ReleaseSink.
func StallSink() Action {
	return Action{Kind: "sink-stall", Desc: "stall the Kafka sink", Needs: needInProcess, Do: func(_ context.Context, r *Run) error {
		if err := r.Runner.StallSink(); err != nil {
			return err
		}
		r.Record("sink-stall", "Kafka sink stalled", "")
		return nil
	}}
}

// ReleaseSink ends StallSink.
func ReleaseSink() Action {
	return Action{Kind: "sink-release", Desc: "release the Kafka sink", Needs: needInProcess, Do: func(_ context.Context, r *Run) error {
		r.Runner.ReleaseSink()
		r.Record("sink-release", "Kafka sink released", "")
		return nil
	}}
}

// LastChildren names the children of the latest split or merge.
func LastChildren(r *Run) []string {
	rs, _ := r.LastReshard()
	return rs.Children
}

// LastParents names the parents of the latest split or merge.
func LastParents(r *Run) []string {
	rs, _ := r.LastReshard()
	return rs.Parents
}

// DeleteLease deletes the lease row of the shard picked by shard.
func DeleteLease(desc string, shard func(r *Run) []string) Action {
	return Action{Kind: "lease-delete", Desc: "delete the lease of " + desc, Do: func(ctx context.Context, r *Run) error {
		ids := shard(r)
		if len(ids) == 0 {
			return fmt.Errorf("no shard is %s", desc)
		}
		for _, id := range ids {
			if err := DeleteLeaseRow(ctx, r.Env.DynamoDB(), r.Application, id); err != nil {
				return err
			}
			r.Leases.forget(id)
			r.Record("lease-delete", "deleted the lease row of "+id, id)
		}
		return nil
	}}
}

// CorruptLease damages the lease row of the shards picked (the rows as they
// were are kept for RepairLease).
func CorruptLease(desc string, shard func(r *Run) []string) Action {
	return Action{Kind: "lease-corrupt", Desc: "corrupt the lease of " + desc, Do: func(ctx context.Context, r *Run) error {
		ids := shard(r)
		if len(ids) == 0 {
			return fmt.Errorf("no shard is %s", desc)
		}
		for _, id := range ids {
			row, err := CorruptLeaseRow(ctx, r.Env.DynamoDB(), r.Application, id)
			if err != nil {
				return err
			}
			r.mu.Lock()
			if r.damaged == nil {
				r.damaged = map[string]map[string]dtypes.AttributeValue{}
			}
			r.damaged[id] = row
			r.mu.Unlock()
			r.Leases.forget(id)
			r.Record("lease-corrupt", "corrupted the lease row of "+id, id)
		}
		return nil
	}}
}

// RepairLease writes back every lease row CorruptLease damaged, as they were
// before (with their counters moved on), as an operator undoing a bad edit.
func RepairLease() Action {
	return Action{Kind: "lease-repair", Desc: "repair the corrupted lease rows", Do: func(ctx context.Context, r *Run) error {
		r.mu.Lock()
		rows := r.damaged
		r.damaged = nil
		r.mu.Unlock()
		if len(rows) == 0 {
			return errors.New("no lease row was corrupted before")
		}
		for _, id := range slices.Sorted(maps.Keys(rows)) {
			if err := RestoreLeaseRow(ctx, r.Env.DynamoDB(), r.Application, rows[id]); err != nil {
				return err
			}
			r.Record("lease-repair", "restored the lease row of "+id, id)
		}
		return nil
	}}
}

// HeldBy names one unfinished shard whose lease instance i holds (by the
// lease table as last scanned; the smallest shard id), or none.
func HeldBy(i int) func(r *Run) []string {
	return func(r *Run) []string {
		in := r.Runner.Instance(i)
		if in == nil {
			return nil
		}
		var ids []string
		for _, l := range r.Leases.Leases() {
			if !l.Finished() && l.Owner == in.WorkerID() {
				ids = append(ids, l.ShardID)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		return []string{slices.Min(ids)}
	}
}

// TrimStream drops, as retention would, every record that arrived until now
// and every shard closed until now (the in-process emulator's TrimBefore).
// Records written before the trim are then no longer required in Kafka
// (those replicated before it may be there); every later one still is.
func TrimStream() Action {
	return Action{Kind: "retention-trim", Desc: "trim the stream (retention)", Needs: needEmulator, Do: func(ctx context.Context, r *Run) error {
		cut := r.Env.Clock().Now()
		if err := r.Env.KinesisEmulator().TrimBefore(r.Stream, cut); err != nil {
			return fmt.Errorf("trim: %w", err)
		}
		// Arrival times have millisecond precision and the trim point may be
		// applied as reads happen: the marker must arrive strictly after the
		// cut, so every record numbered after it survives the trim.
		for !r.Env.Clock().Now().After(cut.Add(time.Millisecond)) {
			time.Sleep(time.Millisecond)
		}
		if err := r.markTrimmed(ctx); err != nil {
			return err
		}
		r.Record("retention-trim", "retention dropped every record written so far, and the closed shards", "")
		return nil
	}}
}

// CompetingReaders runs n extra consumers on every open shard for d, each
// calling GetRecords perSecond times a second (throttled or not): together
// with the replicator they exceed the 5 reads/s per-shard limit.
func CompetingReaders(n int, perSecond float64, d time.Duration) Action {
	every := time.Duration(float64(time.Second) / perSecond)
	return Action{Kind: "competing-readers", Desc: fmt.Sprintf("%d competing readers per shard at %.0f calls/s for %s", n, perSecond, d), Do: func(ctx context.Context, r *Run) error {
		open, err := r.OpenShards(ctx)
		if err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		client := r.Env.NewKinesisClient()
		done := make(chan [2]int64, n*len(open))
		for _, s := range open {
			for range n {
				go func() { done <- readLoop(rctx, client, r.Stream, aws.ToString(s.ShardId), every) }()
			}
		}
		r.Record("competing-readers", fmt.Sprintf("%d readers on each of %d shards, %.0f calls/s each, for %s", n, len(open), perSecond, d), "")
		var calls, failed int64
		for range n * len(open) {
			c := <-done
			calls, failed = calls+c[0], failed+c[1]
		}
		r.Record("competing-readers-end", fmt.Sprintf("competing readers stopped after %d GetRecords calls (%d refused)", calls, failed), "")
		return nil
	}}
}

// readLoop reads a shard from LATEST once every interval; it returns its
// calls and how many of them failed.
func readLoop(ctx context.Context, c *kinesis.Client, stream, shard string, every time.Duration) [2]int64 {
	var calls, failed int64
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shard), ShardIteratorType: ktypes.ShardIteratorTypeLatest})
	for err != nil && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		it, err = c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shard), ShardIteratorType: ktypes.ShardIteratorTypeLatest})
	}
	if err != nil {
		return [2]int64{}
	}
	iter := it.ShardIterator
	for ctx.Err() == nil && iter != nil {
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter}, func(o *kinesis.Options) { o.RetryMaxAttempts = 1 })
		calls++
		if err == nil {
			iter = out.NextShardIterator
		} else {
			failed++
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
	return [2]int64{calls, failed}
}
