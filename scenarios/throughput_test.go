package scenarios

import . "github.com/onsi/ginkgo/v2"

var _ = Describe("Throughput", func() {
	specs(Baseline(), SinkStallExpiredIterators(), ReadThrottling(), CompetingConsumers(), HotKeys())
})
