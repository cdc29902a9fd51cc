package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/leasewatch"
	"github.com/shardbridge/shardbridge/harness/report"
	"github.com/shardbridge/shardbridge/harness/workload"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func uniqueSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Run runs the scenario. The error is for runs that could not take place
// (backend unavailable, a capability the bridge or backend lacks: errors.Is
// backend.ErrBackendUnavailable or bridge.ErrUnsupported); everything the
// run found, including a bridge that lost records, is in the Outcome.
func (s *Scenario) Run(ctx context.Context, opts ...RunOption) (*Outcome, error) {
	sc := s.withDefaults()
	cfg := runConfig{every: time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	launcher := cfg.bridge
	if sc.Bridge != nil {
		launcher = sc.Bridge
	}
	if cfg.mode == "" && sc.Verdicts.Delivery == checker.ExactlyOnce {
		cfg.mode = checker.ExactlyOnce // a scenario about exactly-once runs the bridge so
	}
	sc.applyDelivery(cfg.mode)
	if launcher == nil {
		return nil, fmt.Errorf("scenario %s: no bridge to run (harness.RunBridge)", sc.Name)
	}
	envOpts := append([]backend.Option{backend.WithLogger(cfg.logger)}, cfg.envOpts...)
	if cfg.seedSet {
		envOpts = append(envOpts, backend.WithSeed(cfg.seed))
	}
	ctx, cancel := context.WithTimeout(ctx, sc.Timeout+time.Minute)
	defer cancel()

	env, err := backend.Start(ctx, envOpts...)
	if err != nil {
		return nil, err
	}
	defer env.Close(context.WithoutCancel(ctx))

	suffix := uniqueSuffix()
	base := fmt.Sprintf("sb-%s-%s", sc.Name, suffix)
	names := bridge.Names{Stream: base, Application: base, Topic: base}
	if sc.DLQ {
		names.DLQTopic = base + "-dlq"
	}
	env.DeleteTableAfter(names.Application) // the bridge's lease table, on the external backend
	if topic := launcher.Capabilities().CheckpointTopicOf(names.Application); topic != "" {
		env.DeleteTopicAfter(topic)
	}
	pool, err := bridge.NewPool(env, launcher, names, sc.Settings, cfg.logger)
	if err != nil {
		return nil, err
	}
	r := &Run{
		Scenario: &sc, Env: env, Instances: pool, Seed: env.Seed(), Names: names,
		Partitions: sc.Partitions, total: sc.Records, obs: cfg.obs, rules: map[string]string{},
		Leases: leasewatch.New(env.NewDynamoDBClient(), names.Application, failoverOf(launcher, sc.Settings)),
	}
	if err := r.checkNeeds(); err != nil {
		return nil, err
	}
	return r.execute(ctx, cfg)
}

// openTransactions describes the transactions Kafka lists as not complete
// and, per partition of the main topic, the producers with a transaction
// open (a diagnosis of a read_committed read that cannot finish).
func (r *Run) openTransactions(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(append(r.Env.KafkaOpts(), kgo.SeedBrokers(r.Env.Brokers()...))...)
	if err != nil {
		return "open transactions unknown: " + err.Error()
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var parts []string
	if txns, err := adm.ListTransactions(ctx, nil, nil); err == nil {
		for id, t := range txns {
			if t.State != "CompleteCommit" && t.State != "CompleteAbort" && t.State != "Empty" {
				parts = append(parts, fmt.Sprintf("transaction %s %s", id, t.State))
			}
		}
	}
	set := kadm.TopicsSet{r.Names.Topic: {}}
	for p := int32(0); p < r.Partitions; p++ {
		set[r.Names.Topic][p] = struct{}{}
	}
	if producers, err := adm.DescribeProducers(ctx, set); err == nil {
		producers.EachProducer(func(p kadm.DescribedProducer) {
			if p.CurrentTxnStartOffset >= 0 {
				parts = append(parts, fmt.Sprintf("partition %d: producer %d epoch %d has a transaction open since offset %d", p.Partition, p.ProducerID, p.ProducerEpoch, p.CurrentTxnStartOffset))
			}
		})
	}
	if len(parts) == 0 {
		return "Kafka lists no open transaction"
	}
	slices.Sort(parts)
	return "open in Kafka: " + strings.Join(parts, "; ")
}

// applyDelivery makes the scenario run and be judged in mode m ("" keeps
// its own).
func (s *Scenario) applyDelivery(m checker.Mode) {
	if m == "" {
		return
	}
	s.Verdicts.Delivery = m
	s.Settings = maps.Clone(s.Settings)
	if s.Settings == nil {
		s.Settings = map[string]string{}
	}
	s.Settings[SettingDelivery] = string(m)
	if m == checker.ExactlyOnce {
		s.Requires = append(slices.Clone(s.Requires), bridge.ExactlyOnce)
		s.Verdicts.MaxDuplicates = 0
		s.Verdicts.Why = "exactly-once: a read_committed consumer sees every record once"
	}
}

// SettingDelivery is the bridge setting of the delivery mode (Shardbridge's
// name; a bridge file reads it as {{delivery}}).
const SettingDelivery = "REPLICATOR_DELIVERY"

func (r *Run) checkNeeds() error {
	need := r.Scenario.Requires
	if r.Scenario.Replay != "" {
		// A replay resets the application the KCL way: by emptying its lease table.
		need = append(slices.Clone(need), bridge.LeaseTable)
	}
	if err := bridge.Missing(r.Bridge(), need...); err != nil {
		return fmt.Errorf("scenario %s: %w", r.Scenario.Name, err)
	}
	if r.Scenario.CanRun != nil {
		if err := r.Scenario.CanRun(r); err != nil {
			return fmt.Errorf("scenario %s needs %w", r.Scenario.Name, err)
		}
	}
	for i, st := range r.Scenario.Schedule {
		if err := bridge.Missing(r.Bridge(), st.When.needs...); err != nil {
			return fmt.Errorf("scenario %s step %d (%s) needs %w", r.Scenario.Name, i+1, st.When.Desc, err)
		}
		if st.Do.Needs == nil {
			continue
		}
		if err := st.Do.Needs(r); err != nil {
			return fmt.Errorf("scenario %s step %d (%s) needs %w", r.Scenario.Name, i+1, st.Do.Desc, err)
		}
	}
	return nil
}

// failoverOf is the bridge's lease failover time: the scenario's
// REPLICATOR_FAILOVER_TIME, else what the bridge declares.
func failoverOf(l bridge.Launcher, settings map[string]string) time.Duration {
	if d, err := time.ParseDuration(settings["REPLICATOR_FAILOVER_TIME"]); err == nil && d > 0 {
		return d
	}
	return l.Capabilities().LeaseFailover
}

func (r *Run) execute(ctx context.Context, cfg runConfig) (*Outcome, error) {
	sc := r.Scenario
	env := r.Env
	out := &Outcome{Scenario: sc.Name, Seed: r.Seed, Backend: env.Backend(), Bridge: r.Bridge().BridgeName(),
		Names: r.Names, Broken: sc.Verdicts.Broken}
	// Problems by verdict, in the order they are listed.
	problems := map[string][]string{}
	fail := func(verdict, format string, args ...any) {
		problems[verdict] = append(problems[verdict], fmt.Sprintf(format, args...))
	}

	r.setPhase("setup")
	create := func() error { return env.CreateStream(ctx, r.Names.Stream, sc.Shards) }
	if sc.OnDemand {
		create = func() error { return env.CreateOnDemandStream(ctx, r.Names.Stream) }
	}
	if err := create(); err != nil {
		return nil, err
	}
	if err := env.CreateTopicWithConfig(ctx, r.Names.Topic, sc.Partitions, sc.TopicConfig); err != nil {
		return nil, err
	}
	if r.Names.DLQTopic != "" {
		if err := env.CreateTopic(ctx, r.Names.DLQTopic, 1); err != nil {
			return nil, err
		}
	}
	w, err := workload.New(env.Kinesis(), r.Names.Stream, append(slices.Clone(sc.Workload),
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
		_ = r.Instances.Close(context.WithoutCancel(ctx))
	}()

	r.setPhase("running")
	if err := r.Instances.Start(runCtx, sc.Instances); err != nil {
		fail(VerdictRun, "start instances: %v", err)
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
		fail(VerdictRun, "workload: %v", err)
	}
	problems[VerdictRun] = append(problems[VerdictRun], <-schedDone...)

	// Leave the fault layer clean before catching up: rules left on
	// (duration 0) are switched off and counted.
	r.mu.Lock()
	left := slices.Collect(maps.Keys(r.rules))
	r.mu.Unlock()
	slices.Sort(left)
	for _, name := range left {
		r.RemoveFaultRule(name)
	}
	r.Instances.ReleaseSink()

	r.setPhase("catching up")
	acks := w.Acked()
	expectAcks, trimmed := r.splitTrimmed(acks)
	caughtUp, err := r.waitCaughtUp(runCtx, expectAcks, nil, sc.Quiet)
	if err != nil {
		fail(VerdictCaughtUp, "catching up: %v", err)
	}
	out.CaughtUp = caughtUp
	if !caughtUp {
		fail(VerdictCaughtUp, "the bridge did not catch up: the output stopped short of the acknowledged input (waited until %s of quiet)", sc.Quiet)
	}
	checkOpts := checker.Options{
		Partitioning: r.Instances.Setting("REPLICATOR_PARTITIONING"),
		Unconfirmed:  append(w.Unconfirmed(), trimmed...),
	}

	// Graceful stop of everything still running; the output is final then.
	r.setPhase("stopping")
	if err := r.Instances.Close(context.WithoutCancel(ctx)); err != nil {
		fail(VerdictRun, "graceful stop: %v", err)
	}
	out.Stats = r.Instances.Stats(ctx)
	out.Total = r.Instances.Total(ctx)

	mainOut, dlqOut, err := r.readOutput(ctx, nil)
	if err != nil {
		// A read at read_committed that cannot reach the end waits on a
		// transaction: say which, for whoever reruns the seed.
		return nil, fmt.Errorf("%w; %s", err, r.openTransactions(ctx))
	}
	checkOpts.Events = r.events()
	res := checker.Check(expectAcks, mainOut, dlqOut, checkOpts)
	out.Result = res
	out.mainOut, out.acks = mainOut, expectAcks
	if sc.Verdicts.Delivery == checker.ExactlyOnce {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		all, err := checker.ReadTopic(rctx, r.Env.Brokers(), r.Names.Topic, checker.Uncommitted(), r.kafka())
		cancel()
		if err != nil {
			return nil, fmt.Errorf("read %s at read_uncommitted: %w", r.Names.Topic, err)
		}
		out.AbortedRecords = len(all) - len(mainOut)
	}
	// The main phase's lease history explains its duplicates (a replay
	// resets every lease afterwards).
	r.Leases.Poll(ctx)
	leases := r.Bridge().Capabilities().LeaseTable
	n, examples := unexplainedDuplicates(mainOut, r.Leases.Changes(), r.Leases.Resets())
	out.UnexplainedDuplicates = n

	if sc.Replay != "" {
		r.setPhase("replay")
		only, cmp, replayProblems := r.replay(runCtx, ctx, expectAcks, checkOpts, res, startClock)
		out.ReplayOnly, out.Replay = only, cmp
		problems[VerdictReplay] = append(problems[VerdictReplay], replayProblems...)
		if cmp != nil {
			problems[VerdictReplay] = append(problems[VerdictReplay], cmp.Problems()...)
		}
	}

	r.Leases.Stop(context.WithoutCancel(ctx))
	out.LeaseChanges = r.Leases.Changes()
	out.LeaseMoves = r.Leases.Moves()
	out.Regressions = r.Leases.Regressions()
	out.CorruptRows = r.Leases.Corrupt()
	for _, g := range out.Regressions {
		fail(VerdictLeases, "lease checkpoint regressed: %s", g)
	}
	out.Workload = w.Stats()
	problems[VerdictRun] = append(problems[VerdictRun], r.Instances.Failures()...)
	problems[VerdictDelivery] = res.Problems(sc.Verdicts.Delivery)
	if leases && n > 0 && out.Total.ProduceErrors == 0 {
		fail(VerdictDuplicates, "%d records were delivered again although their shard's checkpoint covered them whenever its lease moved (at-least-once allows re-delivery only from the last checkpoint), e.g. %v", n, examples)
	}
	if sc.Verdicts.MaxDuplicates >= 0 && res.Duplicated.ExtraCopies > sc.Verdicts.MaxDuplicates {
		fail(VerdictDuplicates, "%d duplicate copies in the main topic, more than the %d this scenario allows (%s)", res.Duplicated.ExtraCopies, sc.Verdicts.MaxDuplicates, orNone(sc.Verdicts.Why))
	}
	out.Faults = r.Faults()
	out.Reshards = r.Reshards()
	out.Duration = time.Since(r.start)
	names := []string{VerdictDelivery, VerdictCaughtUp, VerdictDuplicates, VerdictLeases, VerdictReplay, VerdictRun}
	for _, c := range sc.Verdicts.Checks {
		problems[c.Name] = append(problems[c.Name], c.Func(ctx, r, out)...)
		names = append(names, c.Name)
	}
	var failures []string
	for _, name := range names {
		out.Verdicts = append(out.Verdicts, Verdict{Name: name, Problems: problems[name]})
		if name != VerdictDelivery && name != VerdictReplay {
			for _, p := range problems[name] {
				failures = append(failures, name+": "+p)
			}
		}
	}
	r.mu.Lock()
	gaugeMaxLag := r.maxLag
	r.mu.Unlock()
	out.Report = report.Report{
		Scenario: sc.Name, Seed: r.Seed, Mode: sc.Verdicts.Delivery, Backend: string(env.Backend()) + " (" + env.Parts() + ")",
		Started: r.start, Duration: out.Duration, Produced: out.Workload.Generated,
		Result: res, Replay: out.Replay, MaxLag: res.Lag.Max, GaugeMaxLag: gaugeMaxLag, Faults: out.Faults, Failures: failures, Aborted: out.AbortedRecords,
		Timeline: r.timeline(expectAcks, res),
	}
	r.setPhase("done")
	return out, nil
}

// timeline is the run's history for the HTML report's charts.
func (r *Run) timeline(acks []workload.Ack, res checker.Result) *report.Timeline {
	t := &report.Timeline{Samples: res.Samples}
	for _, a := range acks {
		if a.Kind == workload.KindNormal && a.AckedMs > 0 {
			t.AckedMs = append(t.AckedMs, a.AckedMs)
		}
	}
	for _, c := range r.Leases.Ownership() {
		t.Leases = append(t.Leases, report.LeaseChange{Time: c.Time, Shard: c.Shard, Owner: c.To})
	}
	return t
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
		err := bridge.PollUntil(ctx, 10*time.Millisecond, func() (bool, error) { return trig.Ready(ctx, r) })
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

// events are the candidate causes of duplicates: everything recorded plus
// every lease that changed hands.
func (r *Run) events() []checker.Event {
	ev := report.Events(r.Faults())
	for _, c := range r.Leases.Changes() {
		switch {
		case c.Lapse:
			ev = append(ev, checker.Event{Time: c.Time, Kind: "lease-lapsed", Shard: c.Shard, Detail: c.To + " renewed late"})
		case c.From != "" && c.To != "":
			ev = append(ev, checker.Event{Time: c.Time, Kind: "lease-moved", Shard: c.Shard, Detail: c.From + " → " + c.To})
		}
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
	mainOut, err = checker.ReadTopic(rctx, r.Env.Brokers(), r.Names.Topic, append(ropts, r.kafka())...)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", r.Names.Topic, err)
	}
	if r.Names.DLQTopic != "" && from == nil {
		dlqOut, err = checker.ReadTopic(rctx, r.Env.Brokers(), r.Names.DLQTopic, checker.MissingOK(), r.kafka())
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", r.Names.DLQTopic, err)
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
		if a.Kind == workload.KindNormal || r.Names.DLQTopic == "" {
			wantMain++
		} else {
			wantDLQ++
		}
	}
	if from != nil {
		wantDLQ = 0
	}
	lastSize, lastChange := int64(-1), time.Now()
	lastMissing := -1
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
				res := checker.Check(acks, mainOut, dlqOut, checker.Options{Partitioning: r.Instances.Setting("REPLICATOR_PARTITIONING")})
				missing := res.Lost.Count
				if from != nil {
					missing -= res.LostDeadLetters // the replay's DLQ copies are not read
				}
				// Progress at read_committed counts as output growing:
				// a transaction's commit makes records visible without
				// moving the end offsets much (one marker), and a read
				// can wait seconds for an open transaction to end.
				if lastMissing < 0 || missing < lastMissing {
					lastChange = time.Now()
				}
				lastMissing = missing
				if missing == 0 {
					stableReads++
					if stableReads >= 2 {
						return true, nil
					}
				}
			}
		}
		if stableReads == 0 && time.Since(lastChange) > quiet {
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
	ends, err := checker.EndOffsets(ctx, r.Env.Brokers(), r.Names.Topic, r.kafka())
	if err != nil {
		return 0, err
	}
	for p, e := range ends {
		n += e - from[p]
	}
	if r.Names.DLQTopic != "" && from == nil {
		ends, err := checker.EndOffsets(ctx, r.Env.Brokers(), r.Names.DLQTopic, checker.MissingOK(), r.kafka())
		if err != nil {
			return 0, err
		}
		for _, e := range ends {
			n += e
		}
	}
	return n, nil
}

func orNone(why string) string {
	if why == "" {
		return "no reason given"
	}
	return why
}
