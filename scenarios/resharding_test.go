package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/shardbridge/shardbridge/harness/catalog"
	"github.com/shardbridge/shardbridge/harness/checker"
)

var _ = Describe("Resharding", Label(catalog.LabelResharding), func() {
	// Catalogue 1. harlow/kinesis-consumer#155 and apache/flink-connector-aws#145:
	// children were read while their parent still had records, so a key's newer
	// records overtook its older ones.
	It("keeps per-key order across a hot-shard split and a second split of its hot child (kinesis-consumer#155, flink-connector-aws#145)",
		Label(catalog.LabelHotShard, catalog.LabelExternal), NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.HotShardSplit())
			Expect(out.Reshards).To(HaveLen(2), "both splits must have happened")
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			expectDuplicatesAtMost(out, 3000)
			expectSound(out) // includes: every child's records delivered, every parent at SHARD_END
		})

	// Catalogue 2. The merged child has two parents; reading it before both are
	// finished reorders the keys of the slower one.
	It("reads a merged child only after both cold parents are finished (kinesis-consumer#155, flink-connector-aws#145)",
		Label(catalog.LabelExternal), NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.ColdShardMerge())
			Expect(out.Reshards).To(HaveLen(1))
			Expect(out.Reshards[0].Parents).To(HaveLen(2))
			Expect(out.OutputPerShard()).To(HaveKey(out.Reshards[0].Children[0]), "the merged child must have been read")
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			expectDuplicatesAtMost(out, 3000)
			expectSound(out)
		})

	// Catalogue 3. amazon-kinesis-client#548, #837, #442: after a crash around a
	// parent's SHARD_END the children never got leases and were never read.
	It("still reads the children when the worker is SIGKILLed right after the parent's SHARD_END and their leases are gone (amazon-kinesis-client#548, #837, #442)",
		Label(catalog.LabelCrash, catalog.LabelLease), NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.CrashAfterShardEnd())
			Expect(out.Faults).To(ContainElement(HaveField("Kind", "kill")), "the instance must have been SIGKILLed")
			Expect(out.Faults).To(ContainElement(HaveField("Kind", "lease-delete")))
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			expectDuplicatesAtMost(out, 3000)
			expectSound(out)
		})

	// Catalogue 4. redpanda-data/connect#2649: after a restart only open shards
	// were consumed, so a parent closed while the consumer was down lost its tail.
	It("drains a closed parent's unread tail after a restart across a split (redpanda-data/connect#2649)",
		Label(catalog.LabelCrash), NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.RestartAcrossSplit())
			Expect(out.Result).To(checker.LoseNothing(), "the parent's tail written while the replicator was down must be delivered")
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			expectDuplicatesAtMost(out, 3000)
			expectSound(out)
		})

	// Catalogue 5. influxdata/telegraf#17877: a parent trimmed by retention was
	// never finished, and its children waited for it forever.
	It("does not let children wait forever for a parent trimmed by retention (influxdata/telegraf#17877)",
		NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.TrimmedParent())
			Expect(out.Faults).To(ContainElement(HaveField("Kind", "retention-trim")))
			Expect(out.Result).To(checker.LoseNothing(), "every record written after the trim must arrive")
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			Expect(out.Result).To(checker.HaveNoDuplicates())
			expectSound(out) // includes: the trimmed parent's children were read
		})
})
