package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shardbridge/shardbridge/harness/soak"
)

// chaos soak on the embedded backend: three short runs pass with nothing
// lost, and --seed 1 --run 2 repeats run 2's experiment exactly.
func TestSoakSummaryAndRepeat(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the bridge on the embedded backend")
	}
	dir := t.TempDir()
	soakJSON := func(args ...string) (soak.Summary, string) {
		t.Helper()
		file, xmlFile := filepath.Join(dir, "summary.json"), filepath.Join(dir, "soak.xml")
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append(append([]string{"soak"}, args...), "--keep", dir, "--json", file, "--junit", xmlFile), &stdout, &stderr)
		if code != 0 {
			t.Fatalf("chaos soak %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout.String(), stderr.String())
		}
		if !strings.Contains(stderr.String(), "soak run 1/") {
			t.Errorf("no progress line on stderr:\n%s", stderr.String())
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var s soak.Summary
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("--json: %v", err)
		}
		x, err := os.ReadFile(xmlFile)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(x), "<testcase "); n != len(s.Runs) || !strings.Contains(string(x), `name="soak run `) {
			t.Errorf("--junit: %d testcases for %d runs:\n%s", n, len(s.Runs), x)
		}
		return s, stdout.String()
	}
	all, out := soakJSON("--runs", "3", "--seed", "1", "--duration", "3s")
	// runs passed failed acked lost …
	if !regexp.MustCompile(`(?m)^3 +3 +0 +[1-9]\d* +0 +0 +0 `).MatchString(out) {
		t.Errorf("the summary does not show 3 runs passed with 0 lost and 0 reordered:\n%s", out)
	}
	for _, w := range []string{"soak seed 1", "slowest catch-up", "--seed 1 --run 1 --duration 3s"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if len(all.Runs) != 3 {
		t.Fatalf("%d runs in the JSON summary, want 3", len(all.Runs))
	}
	one, _ := soakJSON("--seed", "1", "--run", "2", "--duration", "3s")
	if len(one.Runs) != 1 || one.Runs[0].Run != 2 {
		t.Fatalf("--run 2 ran %+v", one.Runs)
	}
	if got, want := one.Runs[0].Description, all.Runs[1].Description; got != want {
		t.Errorf("--seed 1 --run 2 is not run 2 of the soak:\n%s\nwant\n%s", got, want)
	}
	if one.Runs[0].RunSeed != all.Runs[1].RunSeed {
		t.Errorf("run 2's harness seed %d, repeated as %d", all.Runs[1].RunSeed, one.Runs[0].RunSeed)
	}
}
