package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/shardbridge/shardbridge/harness/catalog"
	"github.com/shardbridge/shardbridge/harness/checker"
)

var _ = Describe("Leases", Label(catalog.LabelLease), func() {
	// Catalogue 8. amazon-kinesis-client#136: a worker that could not reach
	// DynamoDB lost its leases to another worker but went on processing the
	// shards (or dropped them without noticing).
	It("stops a worker cut off from DynamoDB before its leases are taken over (amazon-kinesis-client#136)",
		Label(catalog.LabelCrash), NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.LeaseTableCutOff())
			Expect(out.Faults).To(ContainElement(HaveField("Kind", "lease-table-cut")))
			cutOff := out.Stats["r0"]
			Expect(cutOff.LeaseEvents["lost"]).To(BeNumerically(">", 0),
				"the cut-off worker must find out that its leases are gone")
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			expectDuplicatesAtMost(out, 4500)
			expectSound(out) // includes: r0 wrote no shard after r1 took it over
		})
})
