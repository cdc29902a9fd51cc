package harness

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/leasewatch"
	"github.com/shardbridge/shardbridge/harness/report"
	"github.com/shardbridge/shardbridge/harness/workload"
)

// Outcome is what a run found.
type Outcome struct {
	Scenario string
	Seed     int64
	Backend  backend.Kind
	Bridge   string
	Names    bridge.Names
	Result   checker.Result
	// ReplayOnly judges what the replay alone wrote (Scenario.Replay).
	ReplayOnly *checker.Result
	Replay     *checker.ReplayResult
	Report     report.Report
	Faults     []report.Fault
	Stats      map[string]bridge.Stats
	Total      bridge.Stats
	Workload   workload.Stats
	// LeaseChanges are the holder changes and lapses the lease watcher saw.
	LeaseChanges []leasewatch.Change
	LeaseMoves   int
	// Regressions are checkpoints that went backwards; CorruptRows are lease
	// rows that did not decode as the KCL documents them.
	Regressions []string
	CorruptRows map[string]string
	// UnexplainedDuplicates counts records with more copies than their
	// shard's lease history explains (a run whose instances counted produce
	// errors, which rewind and re-send, is excused).
	UnexplainedDuplicates int
	// AbortedRecords counts records in the main topic that aborted
	// transactions left there (read_uncommitted sees them, read_committed
	// does not); counted in exactly-once runs only.
	AbortedRecords int
	// Verdicts are the run's judgements, by name; each lists its problems.
	Verdicts []Verdict
	CaughtUp bool
	Duration time.Duration
	// Reshards are the splits and merges the schedule made.
	Reshards []Reshard
	// Broken copies Scenario.Verdicts.Broken: the problems a self-test must show.
	Broken []string

	mainOut []checker.Observed
	acks    []workload.Ack
}

// Verdict is one judgement of a run.
type Verdict struct {
	Name     string
	Problems []string // empty: held
}

// Problems lists every problem of every verdict; empty means the run kept
// every promise it was judged on.
func (o *Outcome) Problems() []string {
	var p []string
	for _, v := range o.Verdicts {
		for _, s := range v.Problems {
			p = append(p, v.Name+": "+s)
		}
	}
	return p
}

// Passed reports whether the run kept every promise it was judged on.
func (o *Outcome) Passed() bool { return len(o.Problems()) == 0 }

// Unmet lists how the run missed what its scenario declared: for a sound
// bridge, every problem; for a self-test (Verdicts.Broken), every expected
// problem that did not show.
func (o *Outcome) Unmet() []string {
	if len(o.Broken) == 0 {
		return o.Problems()
	}
	var miss []string
	all := strings.Join(o.Problems(), "\n")
	for _, want := range o.Broken {
		if !strings.Contains(all, want) {
			miss = append(miss, fmt.Sprintf("the sabotaged bridge must be caught with %q, but the problems were: %v", want, o.Problems()))
		}
	}
	return miss
}

// OutputPerShard counts the distinct records of each shard in the main
// topic (identified by headers, or by payload for a bridge without them).
func (o *Outcome) OutputPerShard() map[string]int {
	seen := map[checker.ID]bool{}
	out := map[string]int{}
	ix := checker.NewAckIndex(o.acks)
	for _, rec := range o.mainOut {
		r, err := ix.Identify(rec, checker.IdentityAuto)
		id := r.ID
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
	envOpts []backend.Option
	bridge  bridge.Launcher
	obs     Observer
	logger  *slog.Logger
	every   time.Duration
	mode    checker.Mode
}

// RunOption configures Scenario.Run.
type RunOption func(*runConfig)

// RunSeed fixes the seed (default: SHARDBRIDGE_SEED, else fresh).
func RunSeed(seed int64) RunOption { return func(c *runConfig) { c.seed, c.seedSet = seed, true } }

// RunBridge sets the bridge under test (required unless the scenario
// brings its own).
func RunBridge(l bridge.Launcher) RunOption { return func(c *runConfig) { c.bridge = l } }

// RunBackend adds options of the environment (kind, logger…).
func RunBackend(opts ...backend.Option) RunOption {
	return func(c *runConfig) { c.envOpts = append(c.envOpts, opts...) }
}

// RunObserver receives live events.
func RunObserver(o Observer) RunOption { return func(c *runConfig) { c.obs = o } }

// RunLogger sets the run's logger (default: discard).
func RunLogger(l *slog.Logger) RunOption { return func(c *runConfig) { c.logger = l } }

// RunDelivery runs the scenario with the bridge in the given delivery mode
// and judges it on that mode's promise. Exactly-once asks the bridge for it
// (REPLICATOR_DELIVERY=exactly-once among its settings, {{delivery}} in a
// bridge file; the bridge must offer bridge.ExactlyOnce) and allows no
// duplicate at all in the main topic, read at read_committed. The default is
// the scenario's own Verdicts.Delivery.
func RunDelivery(m checker.Mode) RunOption { return func(c *runConfig) { c.mode = m } }

// RunProgressEvery sets how often OnProgress is called (default 1s).
func RunProgressEvery(d time.Duration) RunOption { return func(c *runConfig) { c.every = d } }
