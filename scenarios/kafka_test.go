package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/shardbridge/shardbridge/harness/catalog"
	"github.com/shardbridge/shardbridge/harness/checker"
)

var _ = Describe("Kafka", Label(catalog.LabelKafka), func() {
	// Catalogue 16. Produce errors, produce timeouts whose outcome is unknown,
	// a broker restart and leader moves: the sink's failure modes.
	It("survives produce errors, timeouts with unknown outcome, a broker restart and leader moves without loss or reordering",
		Label(catalog.LabelExternal), NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.KafkaBrokerFaults())
			Expect(out.Faults).To(ContainElements(
				HaveField("Kind", "produce-error"), HaveField("Kind", "produce-timeout"),
				HaveField("Kind", "broker-restart"), HaveField("Kind", "leader-move")))
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			Expect(out.Result).To(checker.BeExactlyOnceByIdempotence())
			expectDuplicatesAtMost(out, 3000)
			expectSound(out)
		})
})
