package checker

import (
	"fmt"
	"strings"

	"github.com/onsi/gomega/types"

	"github.com/shardbridge/shardbridge/harness/workload"
)

// Gomega matchers over a Result (or *Result), so specs read as the promise
// they check:
//
//	Expect(res).To(checker.LoseNothing())
//	Expect(res).To(checker.Pass(checker.AtLeastOnce))
//	Expect(checker.CompareReplay(before, after)).To(checker.BeUnchangedByReplay())
//
// A failure message names every count and prints the kept examples.

// LoseNothing succeeds when no acknowledged record is lost.
func LoseNothing() types.GomegaMatcher {
	return anomalyMatcher("lose no acknowledged record", func(r Result) Anomaly { return r.Lost },
		"acknowledged by Kinesis but absent from Kafka (main topic and DLQ)")
}

// HaveNoDuplicates succeeds when no ID appears twice in either topic.
func HaveNoDuplicates() types.GomegaMatcher {
	return &resultMatcher{what: "have no duplicates", check: func(r Result) (bool, string) {
		if r.Duplicated.Count == 0 {
			return true, ""
		}
		msg := fmt.Sprintf("%d IDs were duplicated (%d extra copies); causes: %s\n%s",
			r.Duplicated.Count, r.Duplicated.ExtraCopies, r.Duplicated.CauseSummary(), formatExamples(r.Duplicated.Anomaly))
		return false, msg
	}}
}

// KeepPerKeyOrder succeeds when no key's records are reordered.
func KeepPerKeyOrder() types.GomegaMatcher {
	return anomalyMatcher("keep per-key order", func(r Result) Anomaly { return r.ReorderedPerKey },
		"out of per-key order (first occurrences, per partition)")
}

// KeepPerShardOrder succeeds when no shard's records are reordered.
func KeepPerShardOrder() types.GomegaMatcher {
	return anomalyMatcher("keep per-shard order", func(r Result) Anomaly { return r.ReorderedPerShard },
		"out of per-shard sequence order (first occurrences, per shard and partition)")
}

// HaveNoUnexpected succeeds when Kafka holds nothing Kinesis never
// acknowledged and nothing with the wrong content.
func HaveNoUnexpected() types.GomegaMatcher {
	return anomalyMatcher("hold nothing unexpected", func(r Result) Anomaly { return r.Unexpected },
		"in Kafka but never acknowledged, or not matching their acknowledged record")
}

// AccountForEveryDLQRecord succeeds when every malformed or oversized record
// is in the DLQ with its reason, none is in the main topic, and no normal
// record was dead-lettered.
func AccountForEveryDLQRecord() types.GomegaMatcher {
	return &resultMatcher{what: "account for every dead-lettered record", check: func(r Result) (bool, string) {
		lostDLQ := Anomaly{Count: r.LostDeadLetters}
		for _, e := range r.Lost.Examples {
			if e.Kind != "" && e.Kind != workload.KindNormal {
				lostDLQ.Examples = append(lostDLQ.Examples, e)
			}
		}
		if r.DLQ.Count == 0 && lostDLQ.Count == 0 {
			return true, ""
		}
		msg := fmt.Sprintf("%d DLQ accounting errors (%d malformed/oversized acknowledged, %d dead-lettered)\n%s",
			r.DLQ.Count, r.AckedMalformed+r.AckedOversized, r.DeadLettered, formatExamples(r.DLQ))
		if lostDLQ.Count > 0 {
			msg += fmt.Sprintf("\nand records that should be dead letters are missing:\n%s", formatExamples(lostDLQ))
		}
		return false, msg
	}}
}

// BeExactlyOnceByIdempotence succeeds when the main topic, deduplicated by
// ID, is exactly the acknowledged input in per-key order (duplicates
// allowed).
func BeExactlyOnceByIdempotence() types.GomegaMatcher {
	return &resultMatcher{what: "be exactly-once by idempotence", check: func(r Result) (bool, string) {
		p := r.IdempotenceProblems()
		if len(p) == 0 {
			return true, ""
		}
		return false, strings.Join(p, ", ") + "\n" + details(r, false)
	}}
}

// Pass succeeds when the Result keeps mode's promise (Result.OK).
func Pass(mode Mode) types.GomegaMatcher {
	return &resultMatcher{what: fmt.Sprintf("keep the %s promise", mode), check: func(r Result) (bool, string) {
		p := r.Problems(mode)
		if len(p) == 0 {
			return true, ""
		}
		return false, strings.Join(p, ", ") + "\n" + details(r, mode != AtLeastOnce)
	}}
}

// BeUnchangedByReplay succeeds on a ReplayResult (or *ReplayResult) that
// found no difference.
func BeUnchangedByReplay() types.GomegaMatcher { return &replayMatcher{} }

type resultMatcher struct {
	what    string
	check   func(Result) (bool, string)
	failure string
}

func toResult(actual any) (Result, error) {
	switch r := actual.(type) {
	case Result:
		return r, nil
	case *Result:
		if r == nil {
			return Result{}, fmt.Errorf("expected a checker.Result, got a nil *checker.Result")
		}
		return *r, nil
	default:
		return Result{}, fmt.Errorf("expected a checker.Result, got %T", actual)
	}
}

func (m *resultMatcher) Match(actual any) (bool, error) {
	r, err := toResult(actual)
	if err != nil {
		return false, err
	}
	ok, msg := m.check(r)
	m.failure = msg
	return ok, nil
}

func (m *resultMatcher) FailureMessage(any) string {
	return fmt.Sprintf("Expected the replication to %s, but %s", m.what, m.failure)
}

func (m *resultMatcher) NegatedFailureMessage(any) string {
	return fmt.Sprintf("Expected the replication not to %s, but it did", m.what)
}

func anomalyMatcher(what string, get func(Result) Anomaly, meaning string) *resultMatcher {
	return &resultMatcher{what: what, check: func(r Result) (bool, string) {
		a := get(r)
		if a.Count == 0 {
			return true, ""
		}
		return false, fmt.Sprintf("%s %s:\n%s", records(a.Count), meaning, formatExamples(a))
	}}
}

// records renders "1 record was" or "n records were".
func records(n int) string {
	if n == 1 {
		return "1 record was"
	}
	return fmt.Sprintf("%d records were", n)
}

func formatExamples(a Anomaly) string {
	var b strings.Builder
	for _, e := range a.Examples {
		fmt.Fprintf(&b, "  - %s\n", e)
	}
	if more := a.Count - len(a.Examples); more > 0 {
		fmt.Fprintf(&b, "  … and %d more\n", more)
	}
	return b.String()
}

// details prints every non-empty anomaly with its examples.
func details(r Result, withDuplicates bool) string {
	var b strings.Builder
	section := func(name string, a Anomaly) {
		if a.Count > 0 {
			fmt.Fprintf(&b, "%s (%d):\n%s", name, a.Count, formatExamples(a))
		}
	}
	section("lost", r.Lost)
	if withDuplicates {
		section("duplicated", r.Duplicated.Anomaly)
	}
	section("reordered per key", r.ReorderedPerKey)
	section("reordered per shard", r.ReorderedPerShard)
	section("unexpected", r.Unexpected)
	section("DLQ accounting", r.DLQ)
	return b.String()
}

type replayMatcher struct{ failure string }

func (m *replayMatcher) Match(actual any) (bool, error) {
	var r ReplayResult
	switch v := actual.(type) {
	case ReplayResult:
		r = v
	case *ReplayResult:
		if v == nil {
			return false, fmt.Errorf("expected a checker.ReplayResult, got nil")
		}
		r = *v
	default:
		return false, fmt.Errorf("expected a checker.ReplayResult, got %T", actual)
	}
	if r.OK() {
		return true, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d distinct IDs before, %d after)\n", strings.Join(r.Problems(), ", "), r.Before, r.After)
	for _, id := range r.Missing {
		fmt.Fprintf(&b, "  - gone: %s\n", id)
	}
	for _, id := range r.Extra {
		fmt.Fprintf(&b, "  - new: %s\n", id)
	}
	for _, e := range r.Reordered {
		fmt.Fprintf(&b, "  - reordered: %s\n", e.Detail)
	}
	m.failure = b.String()
	return false, nil
}

func (m *replayMatcher) FailureMessage(any) string {
	return "Expected the replay to leave the deduplicated output unchanged, but " + m.failure
}

func (m *replayMatcher) NegatedFailureMessage(any) string {
	return "Expected the replay to change the deduplicated output, but it did not"
}
