package scenarios

import . "github.com/onsi/ginkgo/v2"

var _ = Describe("Resharding", Label(LabelResharding), func() {
	specs(HotShardSplit(), ColdShardMerge(), ShardPartitioningReshard(), UpdateShardCountUpDown(), OnDemandStream(), CrashAfterShardEnd(), RestartAcrossSplit(), TrimmedParent(), KPLAfterReshard())
})
