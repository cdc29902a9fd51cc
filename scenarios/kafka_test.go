package scenarios

import . "github.com/onsi/ginkgo/v2"

var _ = Describe("Kafka", func() {
	specs(KafkaBrokerFaults(), KafkaProduceFaults(), ReplayTrimHorizon(), ReplayAtTimestamp())
})
