package scenarios

import . "github.com/onsi/ginkgo/v2"

var _ = Describe("Resharding", Label(LabelResharding), func() {
	specs(HotShardSplit(), ColdShardMerge(), ShardPartitioningReshard(), UpdateShardCountUpDown(), CrashAfterShardEnd(), RestartAcrossSplit(), TrimmedParent(), KPLAfterReshard())
})
