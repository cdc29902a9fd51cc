package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/shardbridge/shardbridge/harness/catalog"
	"github.com/shardbridge/shardbridge/harness/checker"
)

var _ = Describe("Lease table damaged", Label(catalog.LabelLease), func() {
	// Catalogue 9. amazon-kinesis-client#461: after a lease row was deleted,
	// no worker read the shard again until restarted.
	It("puts a deleted lease row back at its checkpoint and waits out a corrupted one (amazon-kinesis-client#461)",
		NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.LeaseRowsDamaged())
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			expectDuplicatesAtMost(out, 3000)
			expectSound(out)
		})

	// A lease write whose answer is lost must not cost the lease: the
	// manager retries it itself and recognises its own earlier write.
	It("keeps its leases when lease-table writes take effect but their answers are lost",
		NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.LeaseTableLostAnswers())
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			expectDuplicatesAtMost(out, 3000)
			expectSound(out)
		})
})
