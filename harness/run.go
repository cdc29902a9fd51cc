package harness

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/fakes/fault"
	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/leasewatch"
	"github.com/shardbridge/shardbridge/harness/report"
	"github.com/shardbridge/shardbridge/harness/workload"
)

// Run is a scenario run in progress: what triggers, actions and checks see.
type Run struct {
	Scenario   *Scenario
	Env        *backend.Env
	Instances  *bridge.Pool
	Leases     *leasewatch.Watcher
	Seed       int64
	Names      bridge.Names
	Partitions int32

	start time.Time
	total int64
	obs   Observer

	mu       sync.Mutex
	work     *workload.Workload
	faults   []report.Fault
	rules    map[string]string
	trimSeqs []*big.Int
	markers  string
	reshards []Reshard
	phase    string
	maxLag   time.Duration
	damaged  map[string]map[string]dtypes.AttributeValue // shard → lease row before it was damaged
}

// Elapsed is the time since the run started.
func (r *Run) Elapsed() time.Duration { return time.Since(r.start) }

// Started is when the run started (wall clock).
func (r *Run) Started() time.Time { return r.start }

// Produced is how many records Kinesis has acknowledged.
func (r *Run) Produced() int64 {
	r.mu.Lock()
	w := r.work
	r.mu.Unlock()
	if w == nil {
		return 0
	}
	return w.Produced()
}

// Acked returns every acknowledged record so far.
func (r *Run) Acked() []workload.Ack {
	r.mu.Lock()
	w := r.work
	r.mu.Unlock()
	if w == nil {
		return nil
	}
	return w.Acked()
}

// AckedPerShard counts acknowledged records per shard.
func (r *Run) AckedPerShard() map[string]int {
	out := map[string]int{}
	for _, a := range r.Acked() {
		out[a.ShardID]++
	}
	return out
}

// Shards lists every shard of the stream.
func (r *Run) Shards(ctx context.Context) ([]ktypes.Shard, error) {
	var out []ktypes.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(r.Names.Stream)}
	for {
		res, err := r.Env.Kinesis().ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list shards: %w", err)
		}
		out = append(out, res.Shards...)
		if res.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: res.NextToken}
	}
	return out, nil
}

// OpenShards lists the open shards in hash key order.
func (r *Run) OpenShards(ctx context.Context) ([]ktypes.Shard, error) {
	all, err := r.Shards(ctx)
	if err != nil {
		return nil, err
	}
	var open []ktypes.Shard
	for _, s := range all {
		if s.SequenceNumberRange == nil || s.SequenceNumberRange.EndingSequenceNumber == nil {
			open = append(open, s)
		}
	}
	slices.SortFunc(open, func(a, b ktypes.Shard) int {
		x, _ := new(big.Int).SetString(aws.ToString(a.HashKeyRange.StartingHashKey), 10)
		y, _ := new(big.Int).SetString(aws.ToString(b.HashKeyRange.StartingHashKey), 10)
		return x.Cmp(y)
	})
	if len(open) == 0 {
		return nil, errors.New("no open shard")
	}
	return open, nil
}

// ChildShards lists the shards created by resharding (those with a parent).
func (r *Run) ChildShards(ctx context.Context) ([]string, error) {
	all, err := r.Shards(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, s := range all {
		if aws.ToString(s.ParentShardId) != "" {
			ids = append(ids, aws.ToString(s.ShardId))
		}
	}
	return ids, nil
}

// Reshard is one split or merge the schedule made.
type Reshard struct {
	Kind     string // "split" or "merge"
	Parents  []string
	Children []string
}

// Reshards lists the splits and merges made so far.
func (r *Run) Reshards() []Reshard {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Reshard(nil), r.reshards...)
}

// LastReshard returns the latest split or merge.
func (r *Run) LastReshard() (Reshard, bool) {
	rs := r.Reshards()
	if len(rs) == 0 {
		return Reshard{}, false
	}
	return rs[len(rs)-1], true
}

// NoteReshard finds the children of parents and remembers the reshard.
func (r *Run) NoteReshard(ctx context.Context, kind string, parents ...string) error {
	all, err := r.Shards(ctx)
	if err != nil {
		return err
	}
	rs := Reshard{Kind: kind, Parents: parents}
	for _, s := range all {
		if slices.Contains(parents, aws.ToString(s.ParentShardId)) || slices.Contains(parents, aws.ToString(s.AdjacentParentShardId)) {
			rs.Children = append(rs.Children, aws.ToString(s.ShardId))
		}
	}
	r.mu.Lock()
	r.reshards = append(r.reshards, rs)
	r.mu.Unlock()
	return nil
}

// Record notes a fault (or any event worth showing) with the current time.
func (r *Run) Record(kind, detail, shard string) {
	f := report.Fault{Time: time.Now(), Kind: kind, Detail: detail, Shard: shard}
	r.mu.Lock()
	r.faults = append(r.faults, f)
	obs := r.obs.OnFault
	r.mu.Unlock()
	if obs != nil {
		obs(f, f.Time.Sub(r.start))
	}
}

// Faults returns what was recorded so far.
func (r *Run) Faults() []report.Fault {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]report.Fault(nil), r.faults...)
}

// AddFaultRule adds a rule to the AWS fault layer under a name (replacing
// one of the same name) until RemoveFaultRule or the end of the run.
func (r *Run) AddFaultRule(name string, rule fault.Rule) {
	id := r.Env.Faults().Add(rule)
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.rules[name]; ok {
		r.Env.Faults().Remove(old)
	}
	r.rules[name] = id
}

// RemoveFaultRule takes a named rule out and records how often it fired.
func (r *Run) RemoveFaultRule(name string) bool {
	r.mu.Lock()
	id, ok := r.rules[name]
	delete(r.rules, name)
	r.mu.Unlock()
	if !ok {
		return false
	}
	fired := 0
	for _, st := range r.Env.Faults().Rules() {
		if st.ID == id {
			fired = st.Fired
		}
	}
	r.Env.Faults().Remove(id)
	r.Record("fault-off", fmt.Sprintf("%s off (fired %d times)", name, fired), "")
	return true
}

// MarkTrimmed notes the point a retention trim reached: a marker record,
// written to a side stream after the trim, takes a sequence number above
// every record the trim could have dropped (the emulator numbers records
// in arrival order across streams).
func (r *Run) MarkTrimmed(ctx context.Context) error {
	r.mu.Lock()
	markers := r.markers
	r.mu.Unlock()
	if markers == "" {
		markers = r.Names.Stream + "-markers"
		if err := r.Env.CreateStream(ctx, markers, 1); err != nil {
			return err
		}
		r.mu.Lock()
		r.markers = markers
		r.mu.Unlock()
	}
	out, err := r.Env.Kinesis().PutRecord(ctx, &kinesis.PutRecordInput{
		StreamName: aws.String(markers), PartitionKey: aws.String("marker"), Data: []byte("trim"),
	})
	if err != nil {
		return fmt.Errorf("trim marker: %w", err)
	}
	seq, ok := new(big.Int).SetString(aws.ToString(out.SequenceNumber), 10)
	if !ok {
		return fmt.Errorf("trim marker: sequence number %q", aws.ToString(out.SequenceNumber))
	}
	r.mu.Lock()
	r.trimSeqs = append(r.trimSeqs, seq)
	r.mu.Unlock()
	return nil
}

// splitTrimmed separates the acknowledged records a trim may have dropped.
func (r *Run) splitTrimmed(acks []workload.Ack) (kept, trimmed []workload.Ack) {
	r.mu.Lock()
	var limit *big.Int
	for _, s := range r.trimSeqs {
		if limit == nil || s.Cmp(limit) > 0 {
			limit = s
		}
	}
	r.mu.Unlock()
	if limit == nil {
		return acks, nil
	}
	for _, a := range acks {
		seq, ok := new(big.Int).SetString(a.SequenceNumber, 10)
		if ok && seq.Cmp(limit) < 0 {
			trimmed = append(trimmed, a)
			continue
		}
		kept = append(kept, a)
	}
	return kept, trimmed
}

// KeepDamagedRow keeps a lease row as it was before the harness damaged
// it, for TakeDamagedRows.
func (r *Run) KeepDamagedRow(shard string, row map[string]dtypes.AttributeValue) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.damaged == nil {
		r.damaged = map[string]map[string]dtypes.AttributeValue{}
	}
	r.damaged[shard] = row
}

// TakeDamagedRows returns and forgets every row KeepDamagedRow kept.
func (r *Run) TakeDamagedRows() map[string]map[string]dtypes.AttributeValue {
	r.mu.Lock()
	defer r.mu.Unlock()
	rows := r.damaged
	r.damaged = nil
	return rows
}

// Bridge is the bridge under test.
func (r *Run) Bridge() bridge.Launcher { return r.Instances.Launcher() }

func (r *Run) setPhase(p string) {
	r.mu.Lock()
	r.phase = p
	obs := r.obs.OnPhase
	r.mu.Unlock()
	if obs != nil {
		obs(p)
	}
}

// progress samples the instances and reports to the observer.
func (r *Run) progress(ctx context.Context) Progress {
	t := r.Instances.Total(ctx)
	lag := t.MaxLag()
	r.mu.Lock()
	r.maxLag = max(r.maxLag, lag)
	phase := r.phase
	r.mu.Unlock()
	return Progress{
		Elapsed: r.Elapsed(), Produced: r.Produced(), Replicated: t.RecordsOut, DLQ: t.RecordsDLQ,
		MaxLag: lag, Running: len(r.Instances.Running()), Throttles: t.Throttles, Expired: t.ExpiredIterators, Phase: phase,
	}
}

// kafka is the read option that reaches the environment's Kafka (its
// security settings, on the external backend).
func (r *Run) kafka() checker.ReadOption { return checker.WithClientOpts(r.Env.KafkaOpts()...) }
