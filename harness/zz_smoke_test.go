package harness

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness/report"
	"github.com/shardbridge/shardbridge/harness/workload"
)

func TestZZSmoke(t *testing.T) {
	sc := Scenario{Name: "smoke", Records: 3000, Workload: []workload.Option{workload.WithRate(1000), workload.WithProducers(2)},
		Instances: 2, MaxDuplicates: AnyDuplicates,
		Schedule: []Step{
			Then(AfterFraction(0.3), SplitShard(HotShard())),
			Then(AfterFraction(0.5), Kill(InstanceAt(0))),
			Then(AfterFraction(0.6), ExpireIterators()),
			Then(AfterFraction(0.7), ThrottleReads(time.Second)),
		}}
	out, err := sc.Run(context.Background(), RunSeed(1), RunObserver(Observer{
		OnFault: func(f report.Fault, d time.Duration) {
			t.Logf("%6s %s %s", d.Round(time.Millisecond), f.Kind, f.Detail)
		},
		OnProgress: func(p Progress) { t.Logf("%+v", p) },
	}))
	if err != nil {
		t.Fatal(err)
	}
	report.Write(os.Stdout, out.Report)
	t.Logf("%+v", out.Total)
}
