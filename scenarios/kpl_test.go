package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/shardbridge/shardbridge/harness/catalog"
	"github.com/shardbridge/shardbridge/harness/checker"
)

var _ = Describe("KPL aggregation", Label(catalog.LabelResharding), func() {
	// Catalogue 13. amazon-kinesis-client#343 and kinesis-aggregation#11: the
	// KCL dropped the sub-records of an aggregate whose hash keys fell outside
	// the shard it was read from, although no other shard held them.
	It("delivers KPL sub-records that fall outside their shard's hash range after a split (amazon-kinesis-client#343, kinesis-aggregation#11)",
		NodeTimeout(specTimeout), func(ctx SpecContext) {
			sc := catalog.KPLAfterReshard()
			out := run(ctx, sc)
			Expect(out.Reshards).To(HaveLen(2), "both splits must have happened")
			Expect(out.Total.OutOfRange).To(BeNumerically(">", 0), "sub-records outside their shard's hash range must have been read")
			Expect(out.Total.Filtered).To(BeZero(), "no sub-record may be filtered: Kinesis holds it in no other shard")
			Expect(out.Result).To(checker.LoseNothing(), "every sub-record must arrive, in its shard's hash range or not")
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			Expect(out.Result).To(checker.HaveNoDuplicates())
			expectSound(out) // includes: exactly the out-of-range sub-records counted, keys spanned parent → child, children delivered
		})
})
