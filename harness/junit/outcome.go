package junit

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/report"
)

// FromOutcome is the testcase of one run. rerun is the command that
// re-runs it (default: the seed variable the Ginkgo suite reads).
//
// The case fails when the run missed what its scenario declares
// (Outcome.Unmet), as the chaos command's exit status and the Ginkgo spec
// do: a self-test's expected FAIL is a passing case.
func FromOutcome(out *harness.Outcome, rerun string) Case {
	var text strings.Builder
	_ = report.Write(&text, out.Report) // a strings.Builder does not fail
	verdict := "PASS"
	if !out.Passed() {
		verdict = "FAIL"
	}
	c := Case{
		Name: out.Scenario, Time: out.Duration, SystemOut: text.String(),
		Properties: []Property{
			{"seed", fmt.Sprint(out.Seed)},
			{"rerun", cmp.Or(rerun, fmt.Sprintf("%s=%d", backend.EnvSeed, out.Seed))},
			{"backend", cmp.Or(out.Report.Backend, string(out.Backend))},
			{"bridge", out.Bridge},
			{"delivery", string(cmp.Or(out.Report.Mode, checker.AtLeastOnce))},
			{"verdict", verdict},
		},
	}
	if len(out.Broken) > 0 {
		c.Properties = append(c.Properties, Property{"self_test", "must be caught: " + strings.Join(out.Broken, "; ")})
	}
	if unmet := out.Unmet(); len(unmet) > 0 {
		c.Failure = &Failure{Type: "FAIL", Message: summary(unmet), Text: strings.Join(unmet, "\n")}
	}
	return c
}

// NotRun is the testcase of a run that did not take place: skipped when
// the backend or a capability of the bridge is missing here, an error
// otherwise.
func NotRun(scenario string, seed int64, rerun string, err error) Case {
	c := Case{Name: scenario, Properties: []Property{
		{"seed", fmt.Sprint(seed)},
		{"rerun", cmp.Or(rerun, fmt.Sprintf("%s=%d", backend.EnvSeed, seed))},
	}}
	if errors.Is(err, backend.ErrBackendUnavailable) || errors.Is(err, bridge.ErrUnsupported) {
		c.Skipped = "cannot run here: " + err.Error()
		return c
	}
	c.Error = &Failure{Type: "error", Message: "the run could not take place", Text: err.Error()}
	return c
}

// summary is the failure's one-line message: the first reason, and how
// many more there are.
func summary(reasons []string) string {
	first, _, _ := strings.Cut(reasons[0], "\n")
	const max = 200
	if r := []rune(first); len(r) > max {
		first = string(r[:max]) + "…"
	}
	if n := len(reasons) - 1; n > 0 {
		first += fmt.Sprintf(" (and %d more)", n)
	}
	return first
}
