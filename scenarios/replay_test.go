package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/catalog"
	"github.com/shardbridge/shardbridge/harness/checker"
)

var _ = Describe("Replay", Label(catalog.LabelReplay), func() {
	// Catalogue 17. Resetting a consumer and re-running it must reproduce the
	// same output: the idempotency key makes a replay harmless downstream.
	DescribeTable("leaves the deduplicated output unchanged and in order",
		func(ctx SpecContext, sc harness.Scenario) {
			out := run(ctx, sc)
			Expect(out.Replay).NotTo(BeNil(), "the replay must have run")
			Expect(out.Replay).To(checker.BeUnchangedByReplay())
			Expect(out.ReplayOnly).NotTo(BeNil())
			Expect(*out.ReplayOnly).To(checker.LoseNothing(), "the replay alone must deliver every record again")
			Expect(*out.ReplayOnly).To(checker.KeepPerKeyOrder())
			Expect(*out.ReplayOnly).To(checker.KeepPerShardOrder())
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.BeExactlyOnceByIdempotence())
			expectSound(out)
		},
		Entry("from TRIM_HORIZON", Label(catalog.LabelExternal), NodeTimeout(specTimeout), catalog.ReplayTrimHorizon()),
		Entry("from AT_TIMESTAMP", Label(catalog.LabelExternal), NodeTimeout(specTimeout), catalog.ReplayAtTimestamp()),
	)
})
