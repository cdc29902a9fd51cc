package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/shardbridge/shardbridge/harness/catalog"
	"github.com/shardbridge/shardbridge/harness/checker"
)

// A check that cannot fail proves nothing. Each spec here swaps a
// deliberately broken sink or transformer into the replicator and expects
// the checker to report exactly the promise it breaks.
var _ = Describe("The checker catches a broken replicator", Label(catalog.LabelSelfTest), func() {
	It("reports loss when the sink acknowledges records it never wrote", NodeTimeout(specTimeout), func(ctx SpecContext) {
		out := run(ctx, catalog.BrokenDroppingSink())
		Expect(out.Result).NotTo(checker.LoseNothing())
		Expect(out.Result.Lost.Count).To(BeNumerically(">=", 10)) // every 97th of 1,000
		Expect(out.Passed()).To(BeFalse())
	})

	It("reports loss when a transform silently drops records", NodeTimeout(specTimeout), func(ctx SpecContext) {
		out := run(ctx, catalog.BrokenDroppingTransform())
		Expect(out.Result).NotTo(checker.LoseNothing())
		Expect(out.Passed()).To(BeFalse())
	})

	It("reports duplicates when the sink writes records twice", NodeTimeout(specTimeout), func(ctx SpecContext) {
		out := run(ctx, catalog.BrokenDuplicatingSink())
		Expect(out.Result).NotTo(checker.HaveNoDuplicates())
		Expect(out.Result.Duplicated.ExtraCopies).To(BeNumerically(">=", 10))
		// Deduplicating by idempotency key still recovers the input:
		// duplicates alone break only the "no duplicates" promise.
		Expect(out.Result).To(checker.BeExactlyOnceByIdempotence())
		Expect(out.Passed()).To(BeFalse())
	})

	It("reports reordering when the sink swaps records of a key", NodeTimeout(specTimeout), func(ctx SpecContext) {
		out := run(ctx, catalog.BrokenReorderingSink())
		Expect(out.Result).NotTo(checker.KeepPerKeyOrder())
		Expect(out.Result).NotTo(checker.KeepPerShardOrder())
		Expect(out.Result).To(checker.LoseNothing())
		Expect(out.Passed()).To(BeFalse())
	})

	It("reports valid records dead-lettered by a failing transform", NodeTimeout(specTimeout), func(ctx SpecContext) {
		out := run(ctx, catalog.BrokenDeadLettering())
		Expect(out.Result).NotTo(checker.AccountForEveryDLQRecord())
		Expect(out.Passed()).To(BeFalse())
	})
})
