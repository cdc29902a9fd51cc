package scenarios

import . "github.com/onsi/ginkgo/v2"

var _ = Describe("Leases", Label(LabelLease), func() {
	specs(ZombieCheckpoint(), RebalanceJoinLeave(), LeaseTableCutOff(), LeaseRowsDamaged(),
		LeaseMovesBeforeChildCheckpoint(), LeaseTableThrottled(), LeaseTableLostAnswers())
})
