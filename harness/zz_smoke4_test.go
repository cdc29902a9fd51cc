package harness

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness/report"
	"github.com/shardbridge/shardbridge/harness/workload"
)

func TestZZSmoke4(t *testing.T) {
	t0 := time.Now()
	sc := Scenario{Name: "smoke4", Records: 3000, Workload: []workload.Option{workload.WithRate(1000), workload.WithProducers(2)},
		Instances: 2, MaxDuplicates: AnyDuplicates, Mode: ChildProcess,
		Schedule: []Step{
			Then(AfterFraction(0.3), Kill(InstanceAt(0))),
			Then(AfterFraction(0.5), Pause(InstanceAt(1))),
			Then(Wait(time.Second), StartAgain(InstanceAt(0))),
			Then(Wait(2*time.Second), Resume(InstanceAt(1))),
		}}
	out, err := sc.Run(context.Background(), RunSeed(1), RunObserver(Observer{
		OnFault: func(f report.Fault, d time.Duration) {
			t.Logf("%6s %s %s", d.Round(time.Millisecond), f.Kind, f.Detail)
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	report.Write(os.Stdout, out.Report)
	for k, v := range out.Stats {
		t.Logf("%s %+v", k, v)
	}
	t.Log(out.LeaseChanges, time.Since(t0))
}
