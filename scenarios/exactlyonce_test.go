package scenarios

import . "github.com/onsi/ginkgo/v2"

var _ = Describe("Exactly-once", func() {
	specs(ExactlyOnceGauntlet())
})
