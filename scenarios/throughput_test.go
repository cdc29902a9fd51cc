package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/shardbridge/shardbridge/harness/catalog"
	"github.com/shardbridge/shardbridge/harness/checker"
)

var _ = Describe("Throttling, hot keys and expired iterators", func() {
	// Catalogue 11. harlow/kinesis-consumer#166, twitchscience/kinsumer#51,
	// amazon-kinesis-client#829: after a long stall the consumer's iterators
	// had expired and it restarted from the horizon, or skipped ahead.
	It("renews expired iterators where reading stopped after Kafka stalls (kinesis-consumer#166, kinsumer#51, amazon-kinesis-client#829)",
		Label(catalog.LabelExpiredIterator, catalog.LabelKafka, catalog.LabelExternal), NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.SinkStallExpiredIterators())
			Expect(out.Total.ExpiredIterators).To(BeNumerically(">", 0), "iterators must have expired")
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			Expect(out.Result).To(checker.HaveNoDuplicates(), "renewing at the last record handed on replays nothing")
			expectSound(out)
		})

	// Catalogue 12. harlow/kinesis-consumer#158, amazon-kinesis-client#1521:
	// throttled reads were retried in a tight loop or surfaced as failures.
	It("backs off and catches up when GetRecords is throttled (kinesis-consumer#158, amazon-kinesis-client#1521)",
		Label(catalog.LabelThrottling, catalog.LabelExternal), NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.ReadThrottling())
			Expect(out.Total.Throttles).To(BeNumerically(">", 0))
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			Expect(out.Result).To(checker.HaveNoDuplicates())
			expectSound(out)
		})

	It("shares a shard's 5 reads/s with other consumers: throttled, backing off, catching up (kinesis-consumer#158, amazon-kinesis-client#1521)",
		Label(catalog.LabelThrottling), NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.CompetingConsumers())
			Expect(out.Total.Throttles).To(BeNumerically(">", 0), "the read limit must have throttled the replicator")
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			Expect(out.Result).To(checker.HaveNoDuplicates())
			expectSound(out)
		})

	// Catalogue 15. Hot keys: one shard at its write limit.
	It("keeps a hot key's order while producers are throttled at the shard's write limit",
		Label(catalog.LabelHotShard, catalog.LabelThrottling, catalog.LabelExternal), NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.HotKeys())
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			Expect(out.Result).To(checker.HaveNoDuplicates())
			expectSound(out) // includes: writes were throttled (embedded backend), keys skewed onto one shard
		})
})
