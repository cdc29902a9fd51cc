package junit

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/report"
)

// parsed is what a CI reader takes from the file.
type parsed struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Time     string `xml:"time,attr"`
		Cases    []struct {
			Name       string       `xml:"name,attr"`
			Classname  string       `xml:"classname,attr"`
			Time       string       `xml:"time,attr"`
			Properties []Property   `xml:"properties>property"`
			Failure    *readFailure `xml:"failure"`
			Error      *readFailure `xml:"error"`
			Skipped    *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

type readFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func write(t *testing.T, cases []Case) parsed {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, "shardbridge chaos", cases); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), xml.Header) {
		t.Errorf("no XML declaration:\n%s", b.String())
	}
	var p parsed
	if err := xml.Unmarshal(b.Bytes(), &p); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	return p
}

// outcome is a run as the harness returns it: an at-least-once baseline
// that lost two records.
func outcome() *harness.Outcome {
	res := checker.Result{Acked: 100, Replicated: 98, Lost: checker.Anomaly{Count: 2}}
	return &harness.Outcome{
		Scenario: "baseline", Seed: 42, Backend: backend.Embedded, Bridge: "shardbridge", Duration: 1500 * time.Millisecond,
		Result:   res,
		Verdicts: []harness.Verdict{{Name: harness.VerdictDelivery, Problems: res.Problems(checker.AtLeastOnce)}},
		Report: report.Report{Scenario: "baseline", Seed: 42, Mode: checker.AtLeastOnce, Backend: "embedded (in-process)",
			Duration: 1500 * time.Millisecond, Produced: 100, Result: res},
	}
}

func TestWriteCounts(t *testing.T) {
	pass := FromOutcome(outcome(), "")
	pass.Failure = nil
	p := write(t, []Case{
		pass,
		FromOutcome(outcome(), "chaos run baseline --seed 42"),
		NotRun("hot-shard-split", 7, "", fmt.Errorf("start: %w", backend.ErrBackendUnavailable)),
		NotRun("lease-steal", 8, "", errors.New("kinesis: connection refused")),
	})
	if p.Tests != 4 || p.Failures != 1 || p.Errors != 1 || p.Skipped != 1 || len(p.Suites) != 1 {
		t.Fatalf("testsuites counts %+v", p)
	}
	s := p.Suites[0]
	if s.Name != "shardbridge chaos" || s.Tests != 4 || s.Failures != 1 || s.Errors != 1 || s.Skipped != 1 || s.Time != "3.000" || len(s.Cases) != 4 {
		t.Fatalf("testsuite %+v", s)
	}
	if c := s.Cases[0]; c.Name != "baseline" || c.Classname != "shardbridge chaos" || c.Time != "1.500" || c.Failure != nil {
		t.Errorf("passing case %+v", c)
	}
	if c := s.Cases[2]; c.Skipped == nil || !strings.Contains(c.Skipped.Message, "cannot run here") || c.Error != nil {
		t.Errorf("unavailable backend: %+v", c)
	}
	if c := s.Cases[3]; c.Error == nil || c.Error.Text != "kinesis: connection refused" || c.Skipped != nil {
		t.Errorf("run that could not take place: %+v", c)
	}
}

func TestFailingRun(t *testing.T) {
	c := write(t, []Case{FromOutcome(outcome(), "chaos run baseline --seed 42")}).Suites[0].Cases[0]
	props := map[string]string{}
	for _, p := range c.Properties {
		props[p.Name] = p.Value
	}
	want := map[string]string{"seed": "42", "rerun": "chaos run baseline --seed 42", "backend": "embedded (in-process)",
		"bridge": "shardbridge", "delivery": "at-least-once", "verdict": "FAIL"}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("property %s = %q, want %q", k, props[k], v)
		}
	}
	if c.Failure == nil || c.Failure.Message != "delivery: 2 lost" || c.Failure.Text != "delivery: 2 lost" {
		t.Fatalf("failure %+v", c.Failure)
	}
	if !strings.Contains(c.SystemOut, "verdict     FAIL: 2 lost") || !strings.Contains(c.SystemOut, "seed        42") {
		t.Errorf("system-out is not the text report:\n%s", c.SystemOut)
	}
}

// A self-test's FAIL is what it must show: the case passes, and fails when
// the sabotage goes unnoticed.
func TestSelfTest(t *testing.T) {
	out := outcome()
	out.Broken = []string{"lost"}
	c := FromOutcome(out, "")
	if c.Failure != nil {
		t.Fatalf("caught sabotage reported as a failure: %+v", c.Failure)
	}
	if got := c.Properties[1]; got.Name != "rerun" || got.Value != "SHARDBRIDGE_SEED=42" {
		t.Errorf("default rerun %+v", got)
	}
	out.Broken = []string{"duplicated"}
	if c := FromOutcome(out, ""); c.Failure == nil || !strings.Contains(c.Failure.Message, "must be caught") {
		t.Fatalf("uncaught sabotage passed: %+v", c.Failure)
	}
}

// Whatever a report holds, the file stays well-formed XML: a CDATA end
// marker and control bytes from a record's key.
func TestAwkwardText(t *testing.T) {
	c := Case{Name: "x", SystemOut: "key \x00\x1b]]> <b>&", Failure: &Failure{Message: "a\x07b", Text: "line 1\nline 2 ]]>"}}
	p := write(t, []Case{c})
	got := p.Suites[0].Cases[0]
	if got.SystemOut != "key \uFFFD\uFFFD]]> <b>&" || got.Failure.Text != "line 1\nline 2 ]]>" || got.Failure.Message != "a\uFFFDb" {
		t.Fatalf("round trip: %q, %+v", got.SystemOut, got.Failure)
	}
}

func TestSummary(t *testing.T) {
	long := strings.Repeat("x", 300)
	if got := summary([]string{long + "\nsecond line", "b", "c"}); got != strings.Repeat("x", 200)+"… (and 2 more)" {
		t.Errorf("summary = %q", got)
	}
}
