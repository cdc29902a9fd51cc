package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/shardbridge/shardbridge/harness/catalog"
	"github.com/shardbridge/shardbridge/harness/checker"
)

var _ = Describe("Baseline", Label(catalog.LabelBaseline), func() {
	It("delivers every record once, in order, and dead-letters every malformed and oversized one",
		Label(catalog.LabelExternal), NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.Baseline())
			Expect(out.Result.AckedMalformed).To(BeNumerically(">", 0))
			Expect(out.Result.AckedOversized).To(BeNumerically(">", 0))
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			Expect(out.Result).To(checker.HaveNoDuplicates())
			Expect(out.Result).To(checker.AccountForEveryDLQRecord())
			Expect(out.Result).To(checker.BeExactlyOnceByIdempotence())
			expectSound(out)
		})
})
