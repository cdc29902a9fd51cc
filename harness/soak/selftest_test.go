package soak

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness/bridges"
	"github.com/shardbridge/shardbridge/harness/sabotage"
)

// A soak must fail a broken bridge: one that drops records while
// acknowledging them is caught losing them, and one that writes records
// twice is caught duplicating where the plan allows no duplicate. The failed
// run keeps its reports.
func TestSoakCatchesSabotagedBridges(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the bridge on the embedded backend")
	}
	const seed = 1
	// A calm plan (one instance, no re-delivering fault) allows no duplicate.
	calm := 0
	for run := 1; run <= 200 && calm == 0; run++ {
		if Generate(seed, run, 2*time.Second, FullProfile()).Calm {
			calm = run
		}
	}
	if calm == 0 {
		t.Fatal("no calm plan among 200 runs of seed 1")
	}
	cases := []struct {
		name string
		run  int
		sink func(topic string) sabotage.SinkWrapper
		want string
	}{
		{"dropping", 1, func(topic string) sabotage.SinkWrapper { return sabotage.DroppingSink(topic, 97) }, "lost"},
		{"duplicating", calm, func(topic string) sabotage.SinkWrapper { return sabotage.DuplicatingSink(topic, 50) }, "duplicate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			sum, err := Run(context.Background(), Config{
				Seed: seed, Runs: 1, Only: c.run, Duration: 2 * time.Second, Quiet: 3 * time.Second,
				Bridge: bridges.InProcess(bridges.WithSink(c.sink)), KeepDir: dir,
				Repeat: func(run int) string { return "chaos soak --seed 1 --run " + strconv.Itoa(run) },
			})
			if err != nil {
				t.Fatal(err)
			}
			tot := sum.Totals()
			if tot.Failed != 1 {
				var b strings.Builder
				_ = sum.WriteTable(&b)
				t.Fatalf("the sabotaged bridge passed the soak:\n%s\n%s", b.String(), sum.Runs[0].Description)
			}
			r := sum.Runs[0]
			if !strings.Contains(strings.Join(r.Problems, "\n"), c.want) {
				t.Errorf("problems %v lack %q", r.Problems, c.want)
			}
			if c.want == "lost" && tot.Lost == 0 {
				t.Errorf("no record counted lost: %+v", tot)
			}
			for _, ext := range []string{"txt", "json", "html"} {
				b, err := os.ReadFile(filepath.Join(dir, "run-"+strconv.Itoa(c.run)+"."+ext))
				if err != nil {
					t.Fatalf("the failed run's %s report was not kept: %v (kept %v)", ext, err, r.Kept)
				}
				if ext == "html" && !strings.Contains(string(b), `data-chart="leases"`) {
					t.Errorf("the HTML report has no charts")
				}
				if ext == "txt" && (!strings.Contains(string(b), "repeat: chaos soak") || !strings.Contains(string(b), "verdict     FAIL") || !strings.Contains(string(b), "lease history")) {
					t.Errorf("text report lacks the repeat command or the verdict:\n%s", b)
				}
			}
		})
	}
}
