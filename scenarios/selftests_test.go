package scenarios

import . "github.com/onsi/ginkgo/v2"

// A check that cannot fail proves nothing: each self-test must be caught.
var _ = Describe("The verdicts catch a broken bridge", Label(LabelSelfTest), func() {
	specs(BrokenDroppingSink(), BrokenDuplicatingSink(), BrokenReorderingSink(), BrokenDroppingTransform(), BrokenDeadLettering(), BrokenSeparateCommits())
})
