// Package scenarios_test is Shardbridge's chaos suite: every scenario of the
// catalogue (harness/catalog, design.md "The chaos catalogue") as a Ginkgo
// spec that names the bug it guards against and asserts, record by record,
// with the checker's matchers.
//
//	go test ./scenarios/...                                 # embedded backend
//	SHARDBRIDGE_SEED=42 go test ./scenarios/...             # re-run a seed
//	ginkgo -p --label-filter=crash ./scenarios/...          # by fault kind
//	SHARDBRIDGE_BACKEND=reference ginkgo --label-filter=external ./scenarios/...
//
// Every spec prints its seed. A backend that cannot start here (reference
// emulators not installed, no Docker) or a fault it cannot inject skips the
// spec with the reason; nothing passes silently.
package scenarios_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/containers"
	"github.com/shardbridge/shardbridge/harness/report"
)

func TestScenarios(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Shardbridge chaos scenarios")
}

// On the containers backend, one check up front: without a Docker engine the
// whole suite skips with the reason (or fails, when SHARDBRIDGE_REQUIRE_DOCKER
// says Docker must be there), instead of every spec skipping on its own.
var _ = BeforeSuite(func(ctx SpecContext) {
	if harness.Backend(os.Getenv(harness.EnvBackend)) != harness.BackendContainers {
		return
	}
	if err := containers.CheckDocker(ctx); err != nil {
		if v, _ := strconv.ParseBool(os.Getenv("SHARDBRIDGE_REQUIRE_DOCKER")); v {
			Fail(err.Error())
		}
		// Printed outside Ginkgo's buffered writer so the reason shows in a plain run.
		fmt.Fprintf(os.Stdout, "chaos scenarios skipped on the containers backend: %v\n", err)
		Skip(err.Error())
	}
})

var _ = AfterSuite(func() {
	// The replicator binary built for child-process scenarios (once per
	// process) goes with the process.
	harness.RemoveBuiltBinary()
})

// specTimeout bounds one scenario spec (each run bounds itself too).
const specTimeout = 3 * time.Minute

// specSeed is SHARDBRIDGE_SEED when set; otherwise Ginkgo's random seed
// mixed with the spec's name, so each spec draws its own and prints it.
func specSeed() int64 {
	if v := os.Getenv(harness.EnvSeed); v != "" {
		seed, err := strconv.ParseInt(v, 10, 64)
		Expect(err).NotTo(HaveOccurred(), "%s must be an integer", harness.EnvSeed)
		return seed
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", GinkgoRandomSeed(), CurrentSpecReport().FullText())
	return int64(h.Sum64() % 1_000_000_000)
}

// run runs one scenario for the current spec and returns what it found.
// Only a run that could not take place fails here (or skips, when the
// backend or a fault is not available); the spec asserts on the Outcome.
func run(ctx context.Context, sc harness.Scenario) *harness.Outcome {
	GinkgoHelper()
	seed := specSeed()
	fmt.Fprintf(GinkgoWriter, "scenario %s — seed %d (re-run with %s=%d)\n", sc.Name, seed, harness.EnvSeed, seed)
	AddReportEntry("seed", fmt.Sprintf("%s=%d", harness.EnvSeed, seed))
	out, err := sc.Run(ctx, harness.RunSeed(seed), harness.RunEnv(harness.WithContainers(containers.Starter())), harness.RunObserver(harness.Observer{
		OnFault: func(f report.Fault, at time.Duration) {
			fmt.Fprintf(GinkgoWriter, "  %7s  %-18s %s\n", at.Round(time.Millisecond), f.Kind, f.Detail)
		},
	}))
	if errors.Is(err, harness.ErrBackendUnavailable) || errors.Is(err, harness.ErrUnsupported) {
		Skip(fmt.Sprintf("scenario %s cannot run here: %v", sc.Name, err))
	}
	Expect(err).NotTo(HaveOccurred(), "scenario %s could not run", sc.Name)
	var buf bytes.Buffer
	Expect(report.Write(&buf, out.Report)).To(Succeed())
	fmt.Fprint(GinkgoWriter, buf.String())
	AddReportEntry("report", buf.String(), ReportEntryVisibilityFailureOrVerbose)
	return out
}

// expectSound asserts what every scenario must hold whatever its faults:
// the run caught up, nothing unexpected is in Kafka, every dead letter is
// accounted for, and the harness saw no other failure (scenario checks,
// lease checkpoints that went backwards, instances that died on their own).
func expectSound(out *harness.Outcome) {
	GinkgoHelper()
	Expect(out.CaughtUp).To(BeTrue(), "the replicator must catch up with the workload")
	Expect(out.Result).To(checker.HaveNoUnexpected())
	Expect(out.Result).To(checker.AccountForEveryDLQRecord())
	Expect(out.Regressions).To(BeEmpty(), "no lease checkpoint may go backwards")
	if out.Total.ProduceErrors == 0 {
		Expect(out.UnexplainedDuplicates).To(BeZero(),
			"a record may come again only when its shard's lease moved while it was not yet checkpointed")
	}
	Expect(out.Failures).To(BeEmpty())
}

// expectDuplicatesAtMost bounds the extra copies in the main topic.
func expectDuplicatesAtMost(out *harness.Outcome, n int) {
	GinkgoHelper()
	Expect(out.Result.Duplicated.ExtraCopies).To(BeNumerically("<=", n),
		"duplicates must stay bounded (causes: %v)", out.Result.Duplicated.Causes)
}
