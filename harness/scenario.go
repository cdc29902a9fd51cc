// Package harness runs chaos scenarios against a Kinesis→Kafka bridge and
// judges, record by record, what it lost, reordered or duplicated.
//
// Contract:
//   - A Scenario declares an experiment: a stream, a topic, bridge instances,
//     a workload, a schedule of steps (Then(AfterFraction(0.3),
//     inject.SplitShard(HotShard()))) and its Verdicts — the one place that
//     says what the run must show. Scenario.Run gives an Outcome; its
//     Problems are every verdict that failed, and the Ginkgo specs and the
//     `chaos` command read nothing else.
//   - The bridge under test is any bridge.Launcher (RunBridge): a bridge
//     file run as processes, or the in-process Shardbridge adapter. The
//     harness learns what happened only from Kinesis acknowledgements, the
//     lease table (harness/leasewatch) and Kafka (harness/checker); it
//     imports nothing of the system under test.
//   - A scenario that needs what the backend or the bridge lacks fails to
//     start with an error wrapping bridge.ErrUnsupported (specs skip, naming
//     the reason); a backend that cannot start wraps
//     backend.ErrBackendUnavailable. Nothing passes silently.
//   - Every random choice is seeded from the run's seed (RunSeed, or
//     SHARDBRIDGE_SEED): a failing run is re-run from its seed.
package harness

import (
	"context"
	"time"

	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/workload"
)

// Scenario is one chaos experiment, run until the workload is done and the
// bridge has caught up, then judged record by record. The zero value of
// every field but Name has a sensible default.
type Scenario struct {
	Name   string   // short, unique: `chaos run NAME`
	Title  string   // one line: what it shows
	Story  string   // what happens, and the bug it guards against
	Guards []string // bug reports it guards against, e.g. "awslabs/amazon-kinesis-client#548"
	Items  []int    // docs/catalogue.md items covered
	Labels []string // fault kinds, for ginkgo --label-filter

	Shards int // initial shards (default 2)
	// OnDemand creates the stream in on-demand capacity mode: Kinesis
	// chooses the shards (4 at first) and Shards is ignored.
	OnDemand   bool
	Partitions int32 // Kafka topic partitions (default 4)
	Instances  int   // bridge instances started first (default 1)
	// Processes prefers the bridge's instances as OS processes (a kill is
	// a real SIGKILL) where the caller offers the choice.
	Processes bool
	// Settings are bridge settings by environment variable name
	// (Shardbridge's; a bridge file may pass them on).
	Settings map[string]string
	// DLQ creates a dead-letter topic, named to the bridge as {{dlq_topic}}.
	DLQ bool
	// TopicConfig are configs of the main topic (e.g. max.message.bytes).
	TopicConfig map[string]string
	// Bridge, when set, replaces the run's bridge: self-tests run a
	// sabotaged one to prove the verdicts notice.
	Bridge bridge.Launcher
	// Requires are the capabilities the scenario needs of the bridge,
	// beyond what its steps need.
	Requires []bridge.Capability
	// CanRun reports why the scenario cannot run on an environment
	// (wrapping bridge.ErrUnsupported), or nil.
	CanRun func(r *Run) error

	Records  int64             // records the workload writes (default 2000)
	Workload []workload.Option // seed, total and logger are set by the harness
	Schedule []Step
	// Replay, when set (TRIM_HORIZON or AT_TIMESTAMP), empties the lease
	// table after the run and replicates again from that position, then
	// compares the deduplicated output.
	Replay string

	Verdicts Verdicts

	Timeout time.Duration // whole run (default 90s)
	// Quiet ends the wait for catching up when the output has not grown for
	// this long (default 10s): what is still missing then is lost.
	Quiet time.Duration
}

// Verdicts are what a scenario's run must show, declared once. Every run is
// also judged on the promises of its Delivery mode (nothing lost, per-key
// and per-shard order, nothing unexpected, every dead letter accounted for),
// on catching up, on no lease checkpoint going backwards, and on
// re-deliveries that the lease history explains.
type Verdicts struct {
	// Delivery is the promise judged (default at-least-once).
	Delivery checker.Mode
	// MaxDuplicates bounds the extra copies in the main topic (0: none
	// allowed; negative: no bound). Why says what the bound rests on.
	MaxDuplicates int
	Why           string
	// Checks are the scenario's own checks.
	Checks []Check
	// Broken marks a self-test: the bridge is sabotaged and the run must
	// fail with every one of these problems (matched as substrings of
	// Outcome.Problems, e.g. "lost").
	Broken []string
}

// Check is one scenario-specific verdict: each string it returns is a
// problem that fails the run.
type Check struct {
	Name string
	Func func(ctx context.Context, r *Run, o *Outcome) []string
}

// Names of the verdicts every run is judged on, as Outcome.Verdicts lists them.
const (
	VerdictDelivery   = "delivery"
	VerdictCaughtUp   = "caught up"
	VerdictDuplicates = "duplicates"
	VerdictLeases     = "leases"
	VerdictReplay     = "replay"
	VerdictRun        = "run"
)

// Replay positions for Scenario.Replay.
const (
	ReplayTrimHorizon = "TRIM_HORIZON"
	ReplayAtTimestamp = "AT_TIMESTAMP"
)

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
	if c.Records <= 0 {
		c.Records = 2000
	}
	if c.Verdicts.Delivery == "" {
		c.Verdicts.Delivery = checker.AtLeastOnce
	}
	if c.Timeout <= 0 {
		c.Timeout = 90 * time.Second
	}
	if c.Quiet <= 0 {
		c.Quiet = 10 * time.Second
	}
	return c
}
