package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/shardbridge/shardbridge/harness/catalog"
	"github.com/shardbridge/shardbridge/harness/checker"
)

var _ = Describe("Leases", Label(catalog.LabelLease), func() {
	// Catalogue 6. amazon-kinesis-client#108, #677, #973: a worker paused past
	// its failover time woke up and checkpointed a shard another worker owned.
	It("refuses a zombie's checkpoints after its leases were taken (amazon-kinesis-client#108, #677, #973)",
		Label(catalog.LabelCrash), NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.ZombieCheckpoint())
			zombie := out.Stats["r0"]
			Expect(zombie.LeaseEvents["lost"]+zombie.Checkpoints["lost"]).To(BeNumerically(">", 0),
				"the resumed zombie must find out that its leases are gone")
			Expect(out.Regressions).To(BeEmpty(), "no checkpoint may go backwards")
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			expectDuplicatesAtMost(out, 3000)
			expectSound(out)
		})

	// Catalogue 7. amazon-kinesis-client#265: lease stealing during a rebalance
	// lost records and duplicated many.
	It("loses nothing while instances join and leave and leases are stolen (amazon-kinesis-client#265)",
		Label(catalog.LabelCrash, catalog.LabelExternal), NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.RebalanceJoinLeave())
			Expect(out.LeaseMoves).To(BeNumerically(">", 0), "leases must have moved between workers")
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			expectDuplicatesAtMost(out, 3000)
			expectSound(out)
		})

	// Catalogue 10. amazon-kinesis-client#751: a child shard's lease taken over
	// before its first checkpoint made the new owner start at the wrong place.
	It("starts a child shard from its first record when its lease moves before the first checkpoint (amazon-kinesis-client#751)",
		Label(catalog.LabelResharding, catalog.LabelCrash), NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.LeaseMovesBeforeChildCheckpoint())
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			expectDuplicatesAtMost(out, 3000)
			expectSound(out) // includes: the child's lease moved to another worker
		})

	// Catalogue 14. vmware/vmware-go-kcl#60, #77, vmware-go-kcl-v2#14: a
	// throttled lease table made leases flap between workers and stopped work.
	It("keeps leases and work steady while the lease table is throttled (vmware-go-kcl#60, #77, vmware-go-kcl-v2#14)",
		Label(catalog.LabelThrottling, catalog.LabelExternal), NodeTimeout(specTimeout), func(ctx SpecContext) {
			out := run(ctx, catalog.LeaseTableThrottled())
			Expect(out.Faults).To(ContainElement(HaveField("Kind", "throttle")))
			Expect(out.Result).To(checker.LoseNothing())
			Expect(out.Result).To(checker.KeepPerKeyOrder())
			Expect(out.Result).To(checker.KeepPerShardOrder())
			expectDuplicatesAtMost(out, 3000)
			expectSound(out) // includes: no lease changed owner while throttled; records kept flowing
		})
})
