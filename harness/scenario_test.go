package harness_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/bridges"
	"github.com/shardbridge/shardbridge/harness/inject"
	"github.com/shardbridge/shardbridge/harness/report"
	"github.com/shardbridge/shardbridge/harness/workload"
)

func TestScenarioNeedsSkipBeforeStarting(t *testing.T) {
	sc := harness.Scenario{Name: "needs", CanRun: func(*harness.Run) error { return fmt.Errorf("a thing: %w", bridge.ErrUnsupported) }}
	_, err := sc.Run(context.Background(), harness.RunSeed(1), harness.RunBridge(bridges.InProcess()))
	if !errors.Is(err, bridge.ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
	// A capability the bridge lacks is named.
	sc = harness.Scenario{Name: "pause", Schedule: []harness.Step{harness.Then(harness.Now(), inject.Pause(harness.InstanceAt(0)))}}
	noPause, err := bridge.ParseSpec([]byte("name: nopause\ncommand: [true]\nready: {log: x}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Run(context.Background(), harness.RunSeed(1), harness.RunBridge(noPause)); !errors.Is(err, bridge.ErrUnsupported) || !contains(err.Error(), "pause") {
		t.Fatalf("err = %v, want ErrUnsupported naming pause", err)
	}
	sc = harness.Scenario{Name: "trim-elsewhere", Schedule: []harness.Step{harness.Then(harness.Now(), inject.TrimStream())}}
	_, err = sc.Run(context.Background(), harness.RunSeed(1), harness.RunBridge(bridges.InProcess()), harness.RunBackend(backend.WithKind("nonsense")))
	if err == nil {
		t.Fatal("an unknown backend must be refused")
	}
	if _, err := (&harness.Scenario{Name: "no-bridge"}).Run(context.Background()); err == nil {
		t.Fatal("a run without a bridge must be refused")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestScheduleRecordsEveryStep(t *testing.T) {
	sc := harness.Scenario{
		Name: "schedule", Records: 600, Workload: []workload.Option{workload.WithRate(600)},
		Schedule: []harness.Step{
			harness.Then(harness.AfterRecords(100), harness.Note("milestone", "100 records")),
			harness.Then(harness.Wait(100*time.Millisecond), inject.ThrottleReads(300*time.Millisecond)),
			harness.Then(harness.AfterFraction(0.8), inject.SplitShard(harness.OpenShard(0))),
			harness.Then(harness.ParentsFinished(), harness.Note("milestone", "parent finished")),
		},
		Verdicts: harness.Verdicts{Checks: []harness.Check{{Name: "reshards", Func: func(_ context.Context, r *harness.Run, o *harness.Outcome) []string {
			if len(r.Reshards()) != 1 || len(r.Reshards()[0].Children) != 2 {
				return []string{fmt.Sprintf("reshards %v", r.Reshards())}
			}
			return nil
		}}}},
	}
	var live []string
	out, err := sc.Run(context.Background(), harness.RunSeed(5), harness.RunBridge(bridges.InProcess()),
		harness.RunObserver(harness.Observer{OnFault: func(f report.Fault, _ time.Duration) { live = append(live, f.Kind) }}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"milestone", "throttle", "fault-off", "split-shard", "milestone"}
	if fmt.Sprint(live) != fmt.Sprint(want) {
		t.Errorf("faults seen live %v, want %v", live, want)
	}
	if len(out.Faults) != len(want) {
		t.Errorf("faults recorded %v", out.Faults)
	}
	if !out.Passed() {
		t.Errorf("run failed: %v", out.Problems())
	}
	if out.Total.Throttles == 0 {
		t.Error("the throttle rule never reached the replicator")
	}
	if len(out.Verdicts) < 7 || out.Verdicts[len(out.Verdicts)-1].Name != "reshards" {
		t.Errorf("verdicts %+v: want the standard ones, then the scenario's check", out.Verdicts)
	}
}
