package scenarios_test

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/workload"
)

// The example of docs/scenario-authoring.md, compiled and run here; the
// doc-sync test below keeps the two identical.

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
				harness.Then(harness.AfterFraction(0.3), harness.SplitShard(harness.HotShard())),
				harness.Then(harness.AfterFraction(0.5), harness.Kill(harness.InstanceAt(0))),
				harness.Then(harness.Wait(time.Second), harness.ThrottleReads(2*time.Second)),
			},
			MaxDuplicates: 2000, // a crash may replay what was not yet checkpointed
		}
		out, err := sc.Run(ctx) // seed: SHARDBRIDGE_SEED, else a fresh one (in the report)
		if errors.Is(err, harness.ErrBackendUnavailable) || errors.Is(err, harness.ErrUnsupported) {
			Skip(err.Error())
		}
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("seed", out.Seed)
		Expect(out.Result).To(checker.LoseNothing())
		Expect(out.Result).To(checker.KeepPerKeyOrder())
		Expect(out.Result).To(checker.KeepPerShardOrder())
		Expect(out.Failures).To(BeEmpty())
	})
})

// END EXAMPLE
