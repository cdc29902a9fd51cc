package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardbridge/shardbridge/harness/containers"
	"github.com/shardbridge/shardbridge/harness/report/reporttest"
)

// chaos run baseline --json --junit: the JSON report matches the committed
// schema, and the JUnit file holds one passing testcase with the run's
// properties and its report.
func TestRunWritesJSONAndJUnit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a scenario")
	}
	dir := t.TempDir()
	jsonFile, junitFile := filepath.Join(dir, "report.json"), filepath.Join(dir, "junit.xml")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"run", "baseline", "--seed", "11", "--backend", "embedded", "--json", jsonFile, "--junit", junitFile}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	schema, err := reporttest.Compile()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := reporttest.Validate(schema, b); err != nil {
		t.Errorf("%v\n%s", err, b)
	}

	b, err = os.ReadFile(junitFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suite    struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name       string `xml:"name,attr"`
				Properties []struct {
					Name  string `xml:"name,attr"`
					Value string `xml:"value,attr"`
				} `xml:"properties>property"`
				Failure   *struct{} `xml:"failure"`
				SystemOut string    `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if doc.Tests != 1 || doc.Failures != 0 || doc.Suite.Name != suiteName || len(doc.Suite.Cases) != 1 {
		t.Fatalf("JUnit file:\n%s", b)
	}
	c := doc.Suite.Cases[0]
	props := map[string]string{}
	for _, p := range c.Properties {
		props[p.Name] = p.Value
	}
	if c.Name != "baseline" || c.Failure != nil || props["seed"] != "11" || props["rerun"] != "chaos run baseline --seed 11 --backend embedded" ||
		props["verdict"] != "PASS" || props["delivery"] != "at-least-once" || !strings.HasPrefix(props["backend"], "embedded") ||
		!strings.HasPrefix(props["bridge"], "shardbridge") || !strings.Contains(c.SystemOut, "Shardbridge report: baseline") {
		t.Errorf("testcase %+v", c)
	}
}

// A run that cannot take place here still leaves its JUnit file: a skipped
// testcase with the reason (no Docker engine on this machine).
func TestJUnitOfARunThatCannotRun(t *testing.T) {
	if containers.CheckDocker(context.Background()) == nil {
		t.Skip("a Docker engine is here: the containers backend would run")
	}
	junitFile := filepath.Join(t.TempDir(), "junit.xml")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"run", "baseline", "--seed", "3", "--backend", "containers", "--junit", junitFile}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1\nstderr:\n%s", code, stderr.String())
	}
	b, err := os.ReadFile(junitFile)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `skipped="1"`) || !strings.Contains(s, `<skipped message="cannot run here: `) ||
		!strings.Contains(s, `value="chaos run baseline --seed 3 --backend containers"`) {
		t.Errorf("JUnit file:\n%s", s)
	}
}

// The re-run command repeats every flag that changes what runs, quoted for
// a shell where it must be.
func TestRerunLine(t *testing.T) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	for _, f := range []string{"backend", "bridge", "delivery", "json"} {
		fs.String(f, "", "")
	}
	fs.Bool("in-process", false, "")
	if err := fs.Parse([]string{"--bridge", "my bridges/it's.yaml", "--in-process", "--json", "x.json", "--delivery", "exactly-once"}); err != nil {
		t.Fatal(err)
	}
	want := `chaos run baseline --seed 7 --bridge 'my bridges/it'\''s.yaml' --delivery exactly-once --in-process`
	if got := rerunLine("run", "baseline", "", 7, fs); got != want {
		t.Errorf("rerunLine = %s\nwant        %s", got, want)
	}
	want = `chaos run --file 'my scenarios/a.yaml' --seed 7 --bridge 'my bridges/it'\''s.yaml' --delivery exactly-once --in-process`
	if got := rerunLine("run", "", "my scenarios/a.yaml", 7, fs); got != want {
		t.Errorf("rerunLine = %s\nwant        %s", got, want)
	}
}
