// Package junit writes chaos runs as a JUnit XML file, the format CI systems
// show as test results: one testsuite, one testcase per run.
//
//	c := junit.FromOutcome(out, "chaos run baseline --seed 42")
//	err := junit.Write(f, "shardbridge chaos", []junit.Case{c})
//
// A command that runs many scenarios (or one scenario many times) collects
// a Case per run and writes them in one call.
package junit

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// Case is one run: a testcase.
type Case struct {
	Name       string // the scenario's name
	Classname  string // groups cases in CI views; default: the suite's name
	Time       time.Duration
	Properties []Property
	// Failure is set when the run missed what its scenario declares.
	Failure *Failure
	// Error is set when the run could not take place (the case has no
	// verdict); Skipped when it could not run here (backend or capability
	// missing).
	Error   *Failure
	Skipped string
	// SystemOut is the run's text report.
	SystemOut string
}

// Property is a name/value pair of a testcase.
type Property struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// Failure is a <failure> or <error>: a one-line message, a type, and the
// full reasons as its text.
type Failure struct {
	Message string
	Type    string
	Text    string
}

// The XML elements, in the shape Jenkins, GitLab and GitHub reporters read.
type xmlSuites struct {
	XMLName  xml.Name   `xml:"testsuites"`
	Name     string     `xml:"name,attr"`
	Tests    int        `xml:"tests,attr"`
	Failures int        `xml:"failures,attr"`
	Errors   int        `xml:"errors,attr"`
	Skipped  int        `xml:"skipped,attr"`
	Time     string     `xml:"time,attr"`
	Suites   []xmlSuite `xml:"testsuite"`
}

type xmlSuite struct {
	Name      string    `xml:"name,attr"`
	Tests     int       `xml:"tests,attr"`
	Failures  int       `xml:"failures,attr"`
	Errors    int       `xml:"errors,attr"`
	Skipped   int       `xml:"skipped,attr"`
	Time      string    `xml:"time,attr"`
	Timestamp string    `xml:"timestamp,attr,omitempty"`
	Cases     []xmlCase `xml:"testcase"`
}

type xmlCase struct {
	Name       string         `xml:"name,attr"`
	Classname  string         `xml:"classname,attr"`
	Time       string         `xml:"time,attr"`
	Properties *xmlProperties `xml:"properties,omitempty"`
	Failure    *xmlFailure    `xml:"failure,omitempty"`
	Error      *xmlFailure    `xml:"error,omitempty"`
	Skipped    *xmlSkipped    `xml:"skipped,omitempty"`
	SystemOut  *xmlText       `xml:"system-out,omitempty"`
}

// xmlText keeps a multi-line text readable in the file: CDATA, not one
// line of &#xA; escapes.
type xmlText struct {
	Text string `xml:",cdata"`
}

// text is s as XML can carry it: CDATA escapes nothing, so characters XML
// forbids (control bytes from a record's key, say) become U+FFFD.
func text(s string) *xmlText {
	if s == "" {
		return nil
	}
	return &xmlText{Text: strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || r >= 0x10000 && r <= 0x10FFFF {
			return r
		}
		return '\uFFFD'
	}, s)}
}

type xmlFailure struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	*xmlText
}

func failure(f *Failure) *xmlFailure {
	if f == nil {
		return nil
	}
	return &xmlFailure{Message: f.Message, Type: f.Type, xmlText: text(f.Text)}
}

type xmlProperties struct {
	Properties []Property `xml:"property"`
}

type xmlSkipped struct {
	Message string `xml:"message,attr"`
}

// seconds renders a duration the way JUnit files carry it.
func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// Write renders one testsuite named suite holding cases, wrapped in
// <testsuites> with the same counts.
func Write(w io.Writer, suite string, cases []Case) error {
	return WriteAt(w, suite, time.Time{}, cases)
}

// WriteAt is Write with the suite's start time (omitted when zero).
func WriteAt(w io.Writer, suite string, started time.Time, cases []Case) error {
	s := xmlSuite{Name: suite, Tests: len(cases), Cases: make([]xmlCase, 0, len(cases))}
	if !started.IsZero() {
		s.Timestamp = started.UTC().Format("2006-01-02T15:04:05")
	}
	var total time.Duration
	for _, c := range cases {
		x := xmlCase{Name: c.Name, Classname: c.Classname, Time: seconds(c.Time), Failure: failure(c.Failure), Error: failure(c.Error), SystemOut: text(c.SystemOut)}
		if x.Classname == "" {
			x.Classname = suite
		}
		if len(c.Properties) > 0 {
			x.Properties = &xmlProperties{Properties: c.Properties}
		}
		switch {
		case c.Error != nil:
			s.Errors++
		case c.Failure != nil:
			s.Failures++
		case c.Skipped != "":
			x.Skipped = &xmlSkipped{Message: c.Skipped}
			s.Skipped++
		}
		total += c.Time
		s.Cases = append(s.Cases, x)
	}
	s.Time = seconds(total)
	doc := xmlSuites{Name: suite, Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Skipped: s.Skipped, Time: s.Time, Suites: []xmlSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("junit: write: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit: encode: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("junit: write: %w", err)
	}
	return nil
}
