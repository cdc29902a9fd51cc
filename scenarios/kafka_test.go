package scenarios

import . "github.com/onsi/ginkgo/v2"

var _ = Describe("Kafka", func() {
	specs(KafkaBrokerFaults(), KafkaBrokerCrash(), ReplayTrimHorizon(), ReplayAtTimestamp())
})
