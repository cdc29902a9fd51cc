package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/report"
	"github.com/shardbridge/shardbridge/harness/workload"
)

// AnyDuplicates as Scenario.MaxDuplicates puts no bound on duplicates.
const AnyDuplicates = -1

// Replay positions for Scenario.Replay.
const (
	ReplayTrimHorizon = "TRIM_HORIZON"
	ReplayAtTimestamp = "AT_TIMESTAMP"
)

// Scenario is one chaos experiment: an environment, a stream, a topic,
// replicator instances, a workload and a fault schedule, run until the
// workload is done and the replicator has caught up, then judged record by
// record. The zero value of every field but Name has a sensible default.
type Scenario struct {
	Name   string   // short, unique: `chaos run NAME`
	Title  string   // one line: what it shows
	Story  string   // what happens, and the bug it guards against
	Guards []string // bug reports it guards against, e.g. "awslabs/amazon-kinesis-client#548"
	Items  []int    // design.md chaos catalogue items covered
	Labels []string // fault kinds, for ginkgo --label-filter
	// Asserts says in words what the scenario's specs assert.
	Asserts []string

	Shards     int   // initial shards (default 2)
	Partitions int32 // Kafka topic partitions (default 4)
	Instances  int   // replicator instances started first (default 1)
	Mode       RunMode
	// Settings are replicator settings by environment variable name.
	Settings map[string]string
	// DLQ creates a dead-letter topic and sets REPLICATOR_DLQ_TOPIC.
	DLQ bool
	// TopicConfig are configs of the main topic (e.g. max.message.bytes).
	TopicConfig map[string]string
	// Runner adds runner options (broken transformers or sinks…).
	Runner []RunnerOption

	Records  int64             // records the workload writes (default 2000)
	Workload []workload.Option // seed, total and logger are set by the harness
	Schedule []Step
	// Replay, when set, resets the application's checkpoints after the run
	// and replicates again from TRIM_HORIZON or AT_TIMESTAMP (the run's
	// start), then compares the deduplicated output.
	Replay string

	// Delivery is the promise judged (default at-least-once).
	Delivery checker.Mode
	// MaxDuplicates bounds the extra copies in the main topic (default 0;
	// AnyDuplicates for no bound).
	MaxDuplicates int
	// Verify adds the scenario's own checks; each returned string fails the run.
	Verify func(ctx context.Context, r *Run, o *Outcome) []string
	// Needs reports why the scenario cannot run on an environment
	// (wrapping ErrUnsupported), beyond what its actions need.
	Needs func(r *Run) error

	Timeout time.Duration // whole run (default 90s)
	// Quiet ends the wait for catching up when the output has not grown for
	// this long (default 10s): what is still missing then is lost.
	Quiet time.Duration
}

// Outcome is what a run found.
type Outcome struct {
	Scenario string
	Seed     int64
	Backend  Backend
	Names    Names
	Result   checker.Result
	// ReplayOnly judges what the replay alone wrote (Scenario.Replay).
	ReplayOnly *checker.Result
	Replay     *checker.ReplayResult
	Report     report.Report
	Faults     []report.Fault
	Stats      map[string]InstanceStats
	Total      InstanceStats
	Workload   workload.Stats
	// LeaseChanges are the owner changes the lease monitor saw.
	LeaseChanges []LeaseChange
	LeaseMoves   int
	// Regressions are checkpoints that went backwards.
	Regressions []string
	// UnexplainedDuplicates counts records with more copies than their
	// shard's lease moves explain (see UnexplainedDuplicates); a run whose
	// instances counted produce errors (which rewind and re-send) is excused.
	UnexplainedDuplicates int
	// Failures are everything besides the checker's Result that failed the run.
	Failures []string
	CaughtUp bool
	Duration time.Duration
	// Reshards are the splits and merges the schedule made.
	Reshards []Reshard

	mainOut []checker.Observed
}

// OutputPerShard counts the distinct records of each shard in the main topic.
func (o *Outcome) OutputPerShard() map[string]int {
	seen := map[checker.ID]bool{}
	out := map[string]int{}
	for _, rec := range o.mainOut {
		id, err := rec.ID()
		if err != nil || seen[id] {
			continue
		}
		seen[id] = true
		out[id.Shard]++
	}
	return out
}

// WrittenBetween counts main-topic records whose Kafka timestamp falls in [from, to).
func (o *Outcome) WrittenBetween(from, to time.Time) int {
	n := 0
	for _, rec := range o.mainOut {
		if !rec.Timestamp.Before(from) && rec.Timestamp.Before(to) {
			n++
		}
	}
	return n
}

// FaultTimes returns when faults of a kind were recorded.
func (o *Outcome) FaultTimes(kind string) []time.Time {
	var ts []time.Time
	for _, f := range o.Faults {
		if f.Kind == kind {
			ts = append(ts, f.Time)
		}
	}
	return ts
}

// Passed reports whether the run kept every promise it was judged on.
func (o *Outcome) Passed() bool { return o.Report.Passed() }

// Names are the unique resource names of a run.
type Names struct {
	Stream, Application, Topic, DLQTopic string
}

// Progress is a periodic snapshot of a run, for live output.
type Progress struct {
	Elapsed    time.Duration
	Produced   int64 // acknowledged by Kinesis
	Replicated int64 // written to Kafka by the instances (copies included)
	DLQ        int64
	MaxLag     time.Duration
	Running    int
	Throttles  int64
	Expired    int64
	Phase      string
}

// Observer receives a run's events as they happen (the demo prints them).
type Observer struct {
	OnFault    func(report.Fault, time.Duration)
	OnProgress func(Progress)
	OnPhase    func(string)
}

type runConfig struct {
	seed    int64
	seedSet bool
	envOpts []Option
	obs     Observer
	logger  *slog.Logger
	every   time.Duration
}

// RunOption configures Scenario.Run.
type RunOption func(*runConfig)

// RunSeed fixes the seed (default: SHARDBRIDGE_SEED, else fresh).
func RunSeed(seed int64) RunOption { return func(c *runConfig) { c.seed, c.seedSet = seed, true } }

// RunEnv adds options of the environment (backend, logger…).
func RunEnv(opts ...Option) RunOption {
	return func(c *runConfig) { c.envOpts = append(c.envOpts, opts...) }
}

// RunObserver receives live events.
func RunObserver(o Observer) RunOption { return func(c *runConfig) { c.obs = o } }

// RunLogger sets the run's logger (default: discard).
func RunLogger(l *slog.Logger) RunOption { return func(c *runConfig) { c.logger = l } }

// RunProgressEvery sets how often OnProgress is called (default 1s).
func RunProgressEvery(d time.Duration) RunOption { return func(c *runConfig) { c.every = d } }

// Run is a scenario run in progress: what triggers, actions and Verify see.
type Run struct {
	Scenario                             *Scenario
	Env                                  *Env
	Runner                               *Runner
	Leases                               *LeaseMonitor
	Seed                                 int64
	Stream, Application, Topic, DLQTopic string
	Partitions                           int32

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
	damaged  map[string]map[string]dtypes.AttributeValue // shard → lease row before CorruptLease
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
	in := &kinesis.ListShardsInput{StreamName: aws.String(r.Stream)}
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

// noteReshard finds the children of parents and remembers the reshard.
func (r *Run) noteReshard(ctx context.Context, kind string, parents ...string) error {
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

func (r *Run) setRule(name, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.rules[name]; ok {
		r.Env.Faults().Remove(old)
	}
	r.rules[name] = id
}

// removeRule takes a named rule out and records how often it fired.
func (r *Run) removeRule(name string) bool {
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

// markTrimmed notes the point a retention trim reached: a marker record,
// written to a side stream after the trim, takes a sequence number above
// every record the trim could have dropped (the emulator numbers records
// in arrival order across streams).
func (r *Run) markTrimmed(ctx context.Context) error {
	r.mu.Lock()
	markers := r.markers
	r.mu.Unlock()
	if markers == "" {
		markers = r.Stream + "-markers"
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
	t := r.Runner.Total(ctx)
	lag := t.MaxLag()
	r.mu.Lock()
	r.maxLag = max(r.maxLag, lag)
	phase := r.phase
	r.mu.Unlock()
	return Progress{
		Elapsed: r.Elapsed(), Produced: r.Produced(), Replicated: t.RecordsOut, DLQ: t.RecordsDLQ,
		MaxLag: lag, Running: len(r.Runner.Running()), Throttles: t.Throttles, Expired: t.ExpiredIterators, Phase: phase,
	}
}

func uniqueSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Scenario) withDefaults() Scenario {
	c := *s
	if c.Shards <= 0 {
		c.Shards = 2
	}
	if c.Partitions <= 0 {
		c.Partitions = 4
	}
	if c.Instances <= 0 {
		c.Instances = 1
	}
	if c.Mode == "" {
		c.Mode = InProcess
	}
	if c.Records <= 0 {
		c.Records = 2000
	}
	if c.Delivery == "" {
		c.Delivery = checker.AtLeastOnce
	}
	if c.Timeout <= 0 {
		c.Timeout = 90 * time.Second
	}
	if c.Quiet <= 0 {
		c.Quiet = 10 * time.Second
	}
	return c
}

// Run runs the scenario. The error is for runs that could not take place
// (backend unavailable, an action unsupported here: errors.Is
// ErrBackendUnavailable or ErrUnsupported); everything the run found,
// including a replicator that lost records, is in the Outcome.
func (s *Scenario) Run(ctx context.Context, opts ...RunOption) (*Outcome, error) {
	sc := s.withDefaults()
	cfg := runConfig{every: time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	envOpts := append([]Option{WithLogger(cfg.logger)}, cfg.envOpts...)
	if cfg.seedSet {
		envOpts = append(envOpts, WithSeed(cfg.seed))
	}
	ctx, cancel := context.WithTimeout(ctx, sc.Timeout+time.Minute)
	defer cancel()

	env, err := Start(ctx, envOpts...)
	if err != nil {
		return nil, err
	}
	defer env.Close(context.WithoutCancel(ctx))

	suffix := uniqueSuffix()
	names := Names{
		Stream:      fmt.Sprintf("sb-%s-%s", sc.Name, suffix),
		Application: fmt.Sprintf("sb-%s-%s", sc.Name, suffix),
		Topic:       fmt.Sprintf("sb-%s-%s", sc.Name, suffix),
	}
	if sc.DLQ {
		names.DLQTopic = names.Topic + "-dlq"
	}
	runnerOpts := []RunnerOption{
		WithRunMode(sc.Mode), WithStream(names.Stream), WithApplication(names.Application), WithTopic(names.Topic),
		WithSettings(sc.Settings), WithRunnerLogger(cfg.logger),
	}
	if sc.DLQ {
		runnerOpts = append(runnerOpts, WithDLQTopic(names.DLQTopic))
	}
	runner, err := NewRunner(env, append(runnerOpts, sc.Runner...)...)
	if err != nil {
		return nil, err
	}
	r := &Run{
		Scenario: &sc, Env: env, Runner: runner, Seed: env.Seed(),
		Stream: names.Stream, Application: names.Application, Topic: names.Topic, DLQTopic: names.DLQTopic,
		Partitions: sc.Partitions, total: sc.Records, obs: cfg.obs, rules: map[string]string{},
		Leases: NewLeaseMonitor(env, names.Application),
	}
	if err := r.checkNeeds(); err != nil {
		return nil, err
	}
	if sc.Mode == ChildProcess {
		if _, err := ReplicatorBinary(ctx); err != nil {
			return nil, err
		}
	}
	return r.execute(ctx, cfg)
}

func (r *Run) checkNeeds() error {
	if r.Scenario.Needs != nil {
		if err := r.Scenario.Needs(r); err != nil {
			return fmt.Errorf("scenario %s needs %w", r.Scenario.Name, err)
		}
	}
	for i, st := range r.Scenario.Schedule {
		if st.Do.Needs == nil {
			continue
		}
		if err := st.Do.Needs(r); err != nil {
			return fmt.Errorf("scenario %s step %d (%s) needs %w", r.Scenario.Name, i+1, st.Do.Desc, err)
		}
	}
	return nil
}

func (r *Run) execute(ctx context.Context, cfg runConfig) (*Outcome, error) {
	sc := r.Scenario
	env := r.Env
	out := &Outcome{Scenario: sc.Name, Seed: r.Seed, Backend: env.Backend(),
		Names: Names{Stream: r.Stream, Application: r.Application, Topic: r.Topic, DLQTopic: r.DLQTopic}}
	var failures []string
	fail := func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }

	r.setPhase("setup")
	if err := env.CreateStream(ctx, r.Stream, sc.Shards); err != nil {
		return nil, err
	}
	if err := env.CreateTopicWithConfig(ctx, r.Topic, sc.Partitions, sc.TopicConfig); err != nil {
		return nil, err
	}
	if r.DLQTopic != "" {
		if err := env.CreateTopic(ctx, r.DLQTopic, 1); err != nil {
			return nil, err
		}
	}
	w, err := workload.New(env.Kinesis(), r.Stream, append(slices.Clone(sc.Workload),
		workload.WithSeed(r.Seed), workload.WithTotal(sc.Records), workload.WithLogger(env.Logger()))...)
	if err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	r.mu.Lock()
	r.work = w
	r.mu.Unlock()

	r.start = time.Now()
	startClock := env.Clock().Now()
	runCtx, cancelRun := context.WithTimeout(ctx, sc.Timeout)
	defer cancelRun()
	r.Leases.Start(runCtx)
	defer r.Leases.Stop(context.WithoutCancel(ctx))
	defer func() {
		// Whatever happened, leave no instance running.
		_ = r.Runner.Close(context.WithoutCancel(ctx))
	}()

	r.setPhase("running")
	if err := r.Runner.Start(runCtx, sc.Instances); err != nil {
		fail("start instances: %v", err)
	}

	// Progress sampler.
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		t := time.NewTicker(min(cfg.every, 250*time.Millisecond))
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-stopProgress:
				return
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			p := r.progress(runCtx)
			if cfg.obs.OnProgress != nil && time.Since(last) >= cfg.every {
				last = time.Now()
				cfg.obs.OnProgress(p)
			}
		}
	}()

	workDone := make(chan error, 1)
	go func() { workDone <- w.Run(runCtx) }()
	schedDone := make(chan []string, 1)
	go func() { schedDone <- r.runSchedule(runCtx) }()

	if err := <-workDone; err != nil {
		fail("workload: %v", err)
	}
	failures = append(failures, <-schedDone...)

	// Leave the fault layer clean before catching up: rules left on
	// (duration 0) are switched off and counted.
	r.mu.Lock()
	left := slices.Collect(maps.Keys(r.rules))
	r.mu.Unlock()
	slices.Sort(left)
	for _, name := range left {
		r.removeRule(name)
	}
	r.Runner.ReleaseSink()

	r.setPhase("catching up")
	acks := w.Acked()
	expectAcks, trimmed := r.splitTrimmed(acks)
	caughtUp, err := r.waitCaughtUp(runCtx, expectAcks, nil, sc.Quiet)
	if err != nil {
		fail("catching up: %v", err)
	}
	out.CaughtUp = caughtUp
	if !caughtUp {
		fail("the replicator did not catch up: the output stopped short of the acknowledged input (waited until %s of quiet)", sc.Quiet)
	}
	checkOpts := checker.Options{
		Partitioning: r.Runner.Setting("REPLICATOR_PARTITIONING"),
		Unconfirmed:  append(w.Unconfirmed(), trimmed...),
	}

	// Graceful stop of everything still running; the output is final then.
	r.setPhase("stopping")
	if err := r.Runner.Close(context.WithoutCancel(ctx)); err != nil {
		fail("graceful stop: %v", err)
	}
	out.Stats = r.Runner.Stats(ctx)
	out.Total = r.Runner.Total(ctx)

	mainOut, dlqOut, err := r.readOutput(ctx, nil)
	if err != nil {
		return nil, err
	}
	checkOpts.Events = r.events()
	res := checker.Check(expectAcks, mainOut, dlqOut, checkOpts)
	out.Result = res
	out.mainOut = mainOut
	// The main phase's lease history explains its duplicates (a replay
	// resets every lease afterwards).
	r.Leases.Poll(ctx)
	n, examples := UnexplainedDuplicates(mainOut, r.explanations(), r.Leases.Resets())
	out.UnexplainedDuplicates = n

	if sc.Replay != "" {
		r.setPhase("replay")
		only, cmp, problems := r.replay(runCtx, ctx, expectAcks, checkOpts, res, startClock)
		out.ReplayOnly, out.Replay = only, cmp
		failures = append(failures, problems...)
	}

	r.Leases.Stop(context.WithoutCancel(ctx))
	out.LeaseChanges = r.Leases.Changes()
	out.LeaseMoves = r.Leases.Moves()
	out.Regressions = r.Leases.Regressions()
	for _, g := range out.Regressions {
		fail("lease checkpoint regressed: %s", g)
	}
	out.Workload = w.Stats()
	failures = append(failures, r.Runner.Failures()...)
	if len(res.InputErrors) > 0 {
		fail("the workload's history is inconsistent: %s", strings.Join(res.InputErrors, "; "))
	}
	if n > 0 && out.Total.ProduceErrors == 0 {
		fail("%d records were delivered again although their shard's checkpoint covered them whenever its lease moved (at-least-once allows re-delivery only from the last checkpoint), e.g. %v", n, examples)
	}
	if sc.MaxDuplicates >= 0 && res.Duplicated.ExtraCopies > sc.MaxDuplicates {
		fail("%d duplicate copies in the main topic, more than the %d this scenario allows", res.Duplicated.ExtraCopies, sc.MaxDuplicates)
	}
	out.Faults = r.Faults()
	out.Reshards = r.Reshards()
	out.Duration = time.Since(r.start)
	if sc.Verify != nil {
		failures = append(failures, sc.Verify(ctx, r, out)...)
	}
	out.Failures = failures
	r.mu.Lock()
	maxLag := r.maxLag
	r.mu.Unlock()
	out.Report = report.Report{
		Scenario: sc.Name, Seed: r.Seed, Mode: sc.Delivery, Backend: string(env.Backend()),
		Started: r.start, Duration: out.Duration, Produced: out.Workload.Generated,
		Result: res, Replay: out.Replay, MaxLag: maxLag, Faults: out.Faults, Failures: failures,
	}
	r.setPhase("done")
	return out, nil
}

// runSchedule runs the steps in order; it returns the failures.
func (r *Run) runSchedule(ctx context.Context) []string {
	prev := time.Now()
	for i, st := range r.Scenario.Schedule {
		trig := st.When
		if trig.since != nil {
			trig = trig.since(prev)
		}
		if trig.Ready == nil {
			trig = Now()
		}
		err := pollUntil(ctx, 10*time.Millisecond, func() (bool, error) { return trig.Ready(ctx, r) })
		if err != nil {
			return []string{fmt.Sprintf("schedule step %d (%s: %s) never fired: %v", i+1, trig.Desc, st.Do.Desc, err)}
		}
		if err := st.Do.Do(ctx, r); err != nil {
			return []string{fmt.Sprintf("schedule step %d (%s) failed: %v", i+1, st.Do.Desc, err)}
		}
		prev = time.Now()
	}
	return nil
}

// explanations are the lease history that may explain re-deliveries: every
// owner change, and every shard an instance logged as abandoned (the same
// worker may run it again, invisible in the table), taken at the checkpoint
// seen a little before so that the resume point is not overestimated.
func (r *Run) explanations() []LeaseChange {
	ex := r.Leases.Changes()
	for _, a := range r.Runner.Abandons() {
		cp := r.Leases.CheckpointAt(a.Shard, a.Time.Add(-5*time.Second))
		ex = append(ex, LeaseChange{Time: a.Time, Shard: a.Shard, From: a.Worker, To: a.Worker + " (" + a.Event + ": " + a.Reason + ")",
			Checkpoint: cp.Checkpoint, SubSequence: cp.SubSequence})
	}
	return ex
}

// events are the candidate causes of duplicates: everything recorded plus
// every lease that changed hands.
func (r *Run) events() []checker.Event {
	ev := report.Events(r.Faults())
	for _, c := range r.Leases.Changes() {
		if c.From == "" || c.To == "" {
			continue
		}
		ev = append(ev, checker.Event{Time: c.Time, Kind: "lease-moved", Shard: c.Shard, Detail: c.From + " → " + c.To})
	}
	for _, a := range r.Runner.Abandons() {
		kind := "lease-lost"
		if a.Event == shardStopMessage {
			kind = "shard-stopped"
		}
		ev = append(ev, checker.Event{Time: a.Time, Kind: kind, Shard: a.Shard, Detail: a.Worker + ": " + a.Reason})
	}
	return ev
}

func (r *Run) readOutput(ctx context.Context, from map[int32]int64) (mainOut, dlqOut []checker.Observed, err error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var ropts []checker.ReadOption
	if from != nil {
		ropts = append(ropts, checker.FromOffsets(from))
	}
	mainOut, err = checker.ReadTopic(rctx, r.Env.Brokers(), r.Topic, ropts...)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", r.Topic, err)
	}
	if r.DLQTopic != "" && from == nil {
		dlqOut, err = checker.ReadTopic(rctx, r.Env.Brokers(), r.DLQTopic, checker.MissingOK())
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", r.DLQTopic, err)
		}
	}
	return mainOut, dlqOut, nil
}

// waitCaughtUp waits until every acknowledged record is in Kafka and the
// output has stopped growing (so late duplicates land before judging), or
// until the output has not grown for quiet. It reports whether nothing was
// missing at the end.
func (r *Run) waitCaughtUp(ctx context.Context, acks []workload.Ack, from map[int32]int64, quiet time.Duration) (bool, error) {
	wantMain, wantDLQ := 0, 0
	for _, a := range acks {
		if a.Kind == workload.KindNormal || r.DLQTopic == "" {
			wantMain++
		} else {
			wantDLQ++
		}
	}
	if from != nil {
		wantDLQ = 0
	}
	lastSize, lastChange := int64(-1), time.Now()
	stableReads := 0
	for {
		size, err := r.outputSize(ctx, from)
		if err != nil && ctx.Err() != nil {
			return false, err
		}
		if size != lastSize {
			lastSize, lastChange, stableReads = size, time.Now(), 0
		}
		if err == nil && size >= int64(wantMain+wantDLQ) {
			mainOut, dlqOut, err := r.readOutput(ctx, from)
			if err == nil {
				res := checker.Check(acks, mainOut, dlqOut, checker.Options{Partitioning: r.Runner.Setting("REPLICATOR_PARTITIONING")})
				missing := res.Lost.Count
				if from != nil {
					missing -= res.LostDeadLetters // the replay's DLQ copies are not read
				}
				if missing == 0 {
					stableReads++
					if stableReads >= 2 {
						return true, nil
					}
				}
			}
		}
		if time.Since(lastChange) > quiet {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// outputSize sums the end offsets of the main topic (from the given
// offsets) and the DLQ.
func (r *Run) outputSize(ctx context.Context, from map[int32]int64) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var n int64
	ends, err := checker.EndOffsets(ctx, r.Env.Brokers(), r.Topic)
	if err != nil {
		return 0, err
	}
	for p, e := range ends {
		n += e - from[p]
	}
	if r.DLQTopic != "" && from == nil {
		ends, err := checker.EndOffsets(ctx, r.Env.Brokers(), r.DLQTopic, checker.MissingOK())
		if err != nil {
			return 0, err
		}
		for _, e := range ends {
			n += e
		}
	}
	return n, nil
}

// replay resets the application's checkpoints and replicates again from
// the scenario's replay position into the same topic.
func (r *Run) replay(runCtx, ctx context.Context, acks []workload.Ack, opts checker.Options, before checker.Result, startClock time.Time) (*checker.Result, *checker.ReplayResult, []string) {
	var problems []string
	ends, err := checker.EndOffsets(runCtx, r.Env.Brokers(), r.Topic)
	if err != nil {
		return nil, nil, []string{fmt.Sprintf("replay: end offsets: %v", err)}
	}
	n, err := DeleteAllLeaseRows(runCtx, r.Env.DynamoDB(), r.Application)
	if err != nil {
		return nil, nil, []string{fmt.Sprintf("replay: reset checkpoints: %v", err)}
	}
	r.Leases.forgetAll()
	r.Runner.SetSetting("KCL_INITIAL_POSITION", r.Scenario.Replay)
	detail := fmt.Sprintf("deleted %d lease rows; replaying from %s", n, r.Scenario.Replay)
	if r.Scenario.Replay == ReplayAtTimestamp {
		ts := startClock.Add(-time.Second).UTC().Format(time.RFC3339Nano)
		r.Runner.SetSetting("REPLICATOR_INITIAL_TIMESTAMP", ts)
		detail += " " + ts
	}
	r.Record("replay", detail, "")
	for _, in := range r.Runner.Instances() {
		if in.Index() >= r.Scenario.Instances {
			break
		}
		if err := in.Start(runCtx); err != nil {
			return nil, nil, []string{fmt.Sprintf("replay: start %s: %v", in.Name(), err)}
		}
	}
	caughtUp, err := r.waitCaughtUp(runCtx, acks, ends, r.Scenario.Quiet)
	if err != nil {
		problems = append(problems, fmt.Sprintf("replay: catching up: %v", err))
	}
	if !caughtUp {
		problems = append(problems, "replay: the replay did not deliver every acknowledged record again")
	}
	if err := r.Runner.Close(context.WithoutCancel(ctx)); err != nil {
		problems = append(problems, fmt.Sprintf("replay: graceful stop: %v", err))
	}
	replayOut, _, err := r.readOutput(ctx, ends)
	if err != nil {
		return nil, nil, append(problems, fmt.Sprintf("replay: read: %v", err))
	}
	onlyAcks := acks
	if r.DLQTopic != "" {
		onlyAcks = nil
		for _, a := range acks {
			if a.Kind == workload.KindNormal {
				onlyAcks = append(onlyAcks, a)
			}
		}
	}
	onlyOpts := opts
	onlyOpts.Events = r.events()
	only := checker.Check(onlyAcks, replayOut, nil, onlyOpts)
	for _, p := range only.Problems(r.Scenario.Delivery) {
		problems = append(problems, "replay output: "+p)
	}
	allOut, dlqOut, err := r.readOutput(ctx, nil)
	if err != nil {
		return &only, nil, append(problems, fmt.Sprintf("replay: read: %v", err))
	}
	after := checker.Check(acks, allOut, dlqOut, onlyOpts)
	cmp := checker.CompareReplay(before, after)
	return &only, &cmp, problems
}
