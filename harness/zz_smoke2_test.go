package harness

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness/report"
	"github.com/shardbridge/shardbridge/harness/workload"
)

func TestZZSmoke2(t *testing.T) {
	sc := Scenario{Name: "smoke2", Records: 3000, Workload: []workload.Option{workload.WithRate(1000), workload.WithProducers(2)},
		Instances: 1, MaxDuplicates: AnyDuplicates,
		Schedule: []Step{
			Then(AfterFraction(0.3), StallSink()),
			Then(Wait(500*time.Millisecond), ExpireIterators()),
			Then(Wait(500*time.Millisecond), ReleaseSink()),
		}}
	lg := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	out, err := sc.Run(context.Background(), RunSeed(1), RunLogger(lg), RunObserver(Observer{
		OnFault: func(f report.Fault, d time.Duration) {
			t.Logf("%6s %s %s", d.Round(time.Millisecond), f.Kind, f.Detail)
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	report.Write(os.Stdout, out.Report)
	t.Logf("%+v", out.Total)
}
