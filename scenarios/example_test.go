package scenarios

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/bridges"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/inject"
	"github.com/shardbridge/shardbridge/harness/workload"
)

// The inline example of docs/scenario-authoring.md, compiled and run here;
// TestAuthoringDocExample keeps the two identical.

// BEGIN EXAMPLE
var _ = Describe("My bridge", Label("example"), func() {
	It("loses nothing when the hot shard splits, a worker dies and reads are throttled", func(ctx SpecContext) {
		sc := harness.Scenario{
			Name:      "split-kill-throttle",
			Shards:    2,
			Instances: 2,
			Records:   2000,
			Workload: []workload.Option{
				workload.WithRate(800),
				workload.WithKeys(workload.ZipfKeys(40, 1.4)), // one shard runs hot
			},
			Schedule: []harness.Step{
				harness.Then(harness.AfterFraction(0.3), inject.SplitShard(harness.HotShard())),
				harness.Then(harness.AfterFraction(0.5), inject.Kill(harness.InstanceAt(0))),
				harness.Then(harness.Wait(time.Second), inject.ThrottleReads(2*time.Second)),
			},
			Verdicts: harness.Verdicts{MaxDuplicates: 2000, Why: "a crash may replay what was not yet checkpointed"},
		}
		// Any bridge: this is Shardbridge in-process; bridge.LoadSpec("my-bridge.yaml") loads another.
		myBridge := bridges.InProcess()
		out, err := sc.Run(ctx, harness.RunBridge(myBridge)) // seed: SHARDBRIDGE_SEED, else a fresh one (in the report)
		if errors.Is(err, backend.ErrBackendUnavailable) || errors.Is(err, bridge.ErrUnsupported) {
			Skip(err.Error())
		}
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("seed", out.Seed)
		Expect(out.Unmet()).To(BeEmpty())            // every verdict the scenario declares
		Expect(out.Result).To(checker.LoseNothing()) // the matchers read well on their own too
	})
})

// END EXAMPLE
