package scenarios

// The chaos suite: every scenario of the catalogue as a Ginkgo spec, judged
// by the verdicts it declares (harness.Outcome.Unmet).
//
//	go test ./scenarios/...                                 # embedded backend
//	SHARDBRIDGE_SEED=42 go test ./scenarios/...             # re-run a seed
//	ginkgo -p --label-filter=crash ./scenarios/...          # by fault kind
//	SHARDBRIDGE_BACKEND=reference ginkgo --label-filter=external ./scenarios/...
//	SHARDBRIDGE_BRIDGE=harness/bridges/shardbridge.yaml go test ./scenarios/...
//
// Every spec prints its seed. A backend that cannot start here (reference
// emulators not installed, no Docker) or a capability the bridge lacks
// skips the spec with the reason; nothing passes silently.

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/containers"
	"github.com/shardbridge/shardbridge/harness/junit"
	"github.com/shardbridge/shardbridge/harness/report"
)

func TestScenarios(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Shardbridge chaos scenarios")
}

// suiteBridges is the bridge choice of this test process (a bridge file
// from SHARDBRIDGE_BRIDGE, else the built-in Shardbridge).
var suiteBridges *Bridges

var _ = BeforeSuite(func(ctx SpecContext) {
	file := os.Getenv(EnvBridge)
	if file != "" && !filepath.IsAbs(file) {
		// Relative to the repository root, where `make` runs.
		file = filepath.Join("..", file)
	}
	var err error
	suiteBridges, err = NewBridges(file)
	Expect(err).NotTo(HaveOccurred(), "%s", EnvBridge)
	if backend.Kind(os.Getenv(backend.EnvBackend)) != backend.Containers {
		return
	}
	// On the containers backend, one check up front: without a Docker engine
	// the whole suite skips with the reason (or fails, when
	// SHARDBRIDGE_REQUIRE_DOCKER says Docker must be there).
	if err := containers.CheckDocker(ctx); err != nil {
		if v, _ := strconv.ParseBool(os.Getenv("SHARDBRIDGE_REQUIRE_DOCKER")); v {
			Fail(err.Error())
		}
		fmt.Fprintf(os.Stdout, "chaos scenarios skipped on the containers backend: %v\n", err)
		Skip(err.Error())
	}
})

var _ = AfterSuite(func() {
	if suiteBridges != nil {
		suiteBridges.Close()
	}
})

// specTimeout bounds one scenario spec (each run bounds itself too).
const specTimeout = 3 * time.Minute

// specSeed is SHARDBRIDGE_SEED when set; otherwise Ginkgo's random seed
// mixed with the spec's name, so each spec draws its own and prints it.
func specSeed() int64 {
	if v := os.Getenv(backend.EnvSeed); v != "" {
		seed, err := strconv.ParseInt(v, 10, 64)
		Expect(err).NotTo(HaveOccurred(), "%s must be an integer", backend.EnvSeed)
		return seed
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", GinkgoRandomSeed(), CurrentSpecReport().FullText())
	return int64(h.Sum64() % 1_000_000_000)
}

// run runs one scenario for the current spec and returns what it found.
// Only a run that could not take place fails here (or skips, when the
// backend or a capability is not available).
func run(ctx context.Context, sc harness.Scenario, mode checker.Mode) *harness.Outcome {
	GinkgoHelper()
	seed := specSeed()
	fmt.Fprintf(GinkgoWriter, "scenario %s (%s) — seed %d (re-run with %s=%d)\n", sc.Name, cmp.Or(mode, sc.Verdicts.Delivery, checker.AtLeastOnce), seed, backend.EnvSeed, seed)
	AddReportEntry("seed", fmt.Sprintf("%s=%d", backend.EnvSeed, seed))
	out, err := sc.Run(ctx, harness.RunSeed(seed), harness.RunBridge(suiteBridges.For(sc)), harness.RunDelivery(mode),
		harness.RunBackend(backend.WithContainers(containers.Starter())),
		harness.RunObserver(harness.Observer{OnFault: func(f report.Fault, at time.Duration) {
			fmt.Fprintf(GinkgoWriter, "  %7s  %-18s %s\n", at.Round(time.Millisecond), f.Kind, f.Detail)
		}}))
	if errors.Is(err, backend.ErrBackendUnavailable) && os.Getenv("SHARDBRIDGE_REQUIRE_REFERENCE") == "1" {
		Fail(fmt.Sprintf("scenario %s: the backend is required (SHARDBRIDGE_REQUIRE_REFERENCE=1) but unavailable: %v", sc.Name, err))
	}
	if errors.Is(err, backend.ErrBackendUnavailable) || errors.Is(err, bridge.ErrUnsupported) {
		Skip(fmt.Sprintf("scenario %s cannot run here: %v", sc.Name, err))
	}
	Expect(err).NotTo(HaveOccurred(), "scenario %s could not run", sc.Name)
	var buf bytes.Buffer
	Expect(report.Write(&buf, out.Report)).To(Succeed())
	fmt.Fprint(GinkgoWriter, buf.String())
	AddReportEntry("report", buf.String(), ReportEntryVisibilityFailureOrVerbose)
	// The same properties as a `chaos run --junit` testcase, so that
	// Ginkgo's --junit-report carries them (the seed is added above, before
	// the run, so that a skipped spec has it too).
	for _, p := range junit.FromOutcome(out, "").Properties {
		switch p.Name {
		case "seed", "rerun":
		case "verdict":
			AddReportEntry(p.Name, p.Value)
		default:
			AddReportEntry(p.Name, p.Value, ReportEntryVisibilityFailureOrVerbose)
		}
	}
	DeferCleanup(func() {
		if CurrentSpecReport().Failed() {
			keepHTMLReport(sc.Name, cmp.Or(mode, sc.Verdicts.Delivery, checker.AtLeastOnce), seed, out.Report)
		}
	})
	return out
}

// htmlReportDir keeps the HTML report of every failed spec (a CI artifact;
// .artifacts/ is git-ignored).
const htmlReportDir = "../.artifacts/reports"

// keepHTMLReport writes a failed spec's HTML report and names it in the
// spec's report.
func keepHTMLReport(name string, mode checker.Mode, seed int64, r report.Report) {
	path := filepath.Join(htmlReportDir, fmt.Sprintf("%s-%s-%d.html", name, mode, seed))
	err := os.MkdirAll(htmlReportDir, 0o755)
	var f *os.File
	if err == nil {
		f, err = os.Create(path)
	}
	if err == nil {
		err = report.WriteHTML(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(GinkgoWriter, "html report: %v\n", err)
		return
	}
	abs, _ := filepath.Abs(path)
	AddReportEntry("html report", abs)
}

// specs registers one spec per scenario: its title and the bug reports it
// guards against, its labels, and one assertion — the run met what the
// scenario declared. Scenarios with crashes, lease moves, Kafka faults or
// replays have a delivery dimension: they run once more with the bridge in
// exactly-once mode (label exactly-once), where no duplicate is allowed.
func specs(scs ...harness.Scenario) {
	for _, sc := range scs {
		title := sc.Title
		if len(sc.Guards) > 0 {
			title += " (" + strings.Join(sc.Guards, ", ") + ")"
		}
		modes := []checker.Mode{""}
		if ExactlyOnceApplies(sc) {
			modes = append(modes, checker.ExactlyOnce)
		}
		for _, mode := range modes {
			labels, name := sc.Labels, title
			if mode != "" {
				labels = append(slices.Clone(labels), LabelExactlyOnce)
				name = "[" + string(mode) + "] " + title
			}
			It(name, Label(labels...), NodeTimeout(specTimeout), func(ctx SpecContext) {
				out := run(ctx, sc, mode)
				Expect(out.Unmet()).To(BeEmpty(), "scenario %s (seed %d)", sc.Name, out.Seed)
			})
		}
	}
}
