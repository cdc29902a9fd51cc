package harness

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/report"
	"github.com/shardbridge/shardbridge/harness/workload"
	"github.com/shardbridge/shardbridge/replicator/lease"
)

// fixture is an environment with a two-shard stream, a topic and a runner.
type fixture struct {
	env    *Env
	runner *Runner
	names  Names
	mon    *LeaseMonitor
}

func newFixture(t *testing.T, mode RunMode, opts ...RunnerOption) *fixture {
	t.Helper()
	ctx := context.Background()
	env, err := Start(ctx, WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Close(context.Background()) })
	n := Names{Stream: "rt-" + uniqueSuffix(), Topic: "rt-" + uniqueSuffix(), Application: "rt-" + uniqueSuffix()}
	if err := env.CreateStream(ctx, n.Stream, 2); err != nil {
		t.Fatal(err)
	}
	if err := env.CreateTopic(ctx, n.Topic, 2); err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(env, append([]RunnerOption{WithRunMode(mode), WithStream(n.Stream), WithApplication(n.Application), WithTopic(n.Topic),
		WithSetting("REPLICATOR_FAILOVER_TIME", "2s"), WithSetting("CHECKPOINT_FREQ_SECONDS", "0.2")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return &fixture{env: env, runner: r, names: n, mon: NewLeaseMonitor(env, n.Application)}
}

func (f *fixture) produce(t *testing.T, n int64, seed int64) []workload.Ack {
	t.Helper()
	w, err := workload.New(f.env.Kinesis(), f.names.Stream, workload.WithTotal(n), workload.WithSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w.Acked()
}

func (f *fixture) waitOut(t *testing.T, in *Instance, n int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := pollUntil(ctx, 50*time.Millisecond, func() (bool, error) {
		s, err := in.Stats(ctx)
		return err == nil && s.RecordsOut >= n, nil
	})
	if err != nil {
		t.Fatalf("instance %s did not write %d records: %v", in.Name(), n, err)
	}
}

// waitCheckpointed waits until every lease row is checkpointed past TRIM_HORIZON.
func (f *fixture) waitCheckpointed(t *testing.T) []lease.Lease {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rows []lease.Lease
	err := pollUntil(ctx, 50*time.Millisecond, func() (bool, error) {
		f.mon.Poll(ctx)
		rows = f.mon.Leases()
		if len(rows) != 2 {
			return false, nil
		}
		for _, l := range rows {
			if checkpointRank(l.Checkpoint) != 1 {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("leases never checkpointed: %v (%v)", err, rows)
	}
	return rows
}

func TestInProcessKillLeavesLeasesAndCheckpointsAsTheyWere(t *testing.T) {
	f := newFixture(t, InProcess)
	ctx := context.Background()
	if err := f.runner.Start(ctx, 1); err != nil {
		t.Fatal(err)
	}
	in := f.runner.Instance(0)
	if err := in.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	f.produce(t, 500, 1)
	f.waitOut(t, in, 500)
	f.waitCheckpointed(t)
	if err := in.Kill(); err != nil {
		t.Fatal(err)
	}
	f.mon.Poll(ctx)
	before := f.mon.Leases()
	if in.Running() {
		t.Fatal("a killed instance is still running")
	}
	// A crash releases nothing and checkpoints nothing more.
	f.mon.Poll(ctx)
	for _, l := range f.mon.Leases() {
		if l.Owner != in.WorkerID() {
			t.Errorf("lease %s owned by %q after the kill, want still %q (no release)", l.ShardID, l.Owner, in.WorkerID())
		}
	}
	total := in.TotalStats(ctx)
	if total.RecordsOut < 500 {
		t.Errorf("the killed life's counters were lost: %+v", total)
	}
	// Nor does it checkpoint after dying.
	time.Sleep(300 * time.Millisecond) // longer than the checkpoint interval
	f.mon.Poll(ctx)
	for i, l := range f.mon.Leases() {
		if compareCheckpoints(l, before[i]) > 0 {
			t.Errorf("lease %s checkpointed after the kill: %s → %s", l.ShardID, before[i].Checkpoint, l.Checkpoint)
		}
	}
	// A new life takes the expired leases over and the graceful stop releases them.
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if in.Lives() != 2 || in.WorkerIDs()[0] == in.WorkerIDs()[1] {
		t.Fatalf("lives %d, worker ids %v", in.Lives(), in.WorkerIDs())
	}
	f.produce(t, 100, 2)
	ctx2, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := pollUntil(ctx2, 50*time.Millisecond, func() (bool, error) {
		s, err := in.Stats(ctx2)
		return err == nil && s.RecordsOut >= 100, nil
	}); err != nil {
		t.Fatalf("the new life did not take over: %v", err)
	}
	if err := in.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	f.mon.Poll(ctx)
	for _, l := range f.mon.Leases() {
		if l.Owner != "" {
			t.Errorf("lease %s still owned by %q after a graceful stop", l.ShardID, l.Owner)
		}
	}
	if fl := f.runner.Failures(); len(fl) > 0 {
		t.Errorf("failures: %v", fl)
	}
}

func TestInProcessPauseMakesAZombie(t *testing.T) {
	f := newFixture(t, InProcess)
	ctx := context.Background()
	if err := f.runner.Start(ctx, 2); err != nil {
		t.Fatal(err)
	}
	f.produce(t, 300, 3)
	f.waitCheckpointed(t)
	zombie := f.runner.Instance(0)
	// Only an instance that holds a lease can become a zombie. Right after
	// start one instance may hold both leases until the other steals one,
	// so wait for the balanced spread first.
	ctx1, cancel1 := context.WithTimeout(ctx, 60*time.Second)
	defer cancel1()
	if err := pollUntil(ctx1, 50*time.Millisecond, func() (bool, error) {
		f.mon.Poll(ctx1)
		owned := 0
		for _, l := range f.mon.Leases() {
			if l.Owner == zombie.WorkerID() {
				owned++
			}
		}
		return owned == 1, nil
	}); err != nil {
		t.Fatalf("the leases never spread over both instances: %v (%v)", err, f.mon.Leases())
	}
	if err := zombie.Pause(); err != nil {
		t.Fatal(err)
	}
	// The other instance takes every lease once the zombie's expire.
	ctx2, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	other := f.runner.Instance(1)
	err := pollUntil(ctx2, 50*time.Millisecond, func() (bool, error) {
		f.mon.Poll(ctx2)
		rows := f.mon.Leases()
		for _, l := range rows {
			if l.Owner != other.WorkerID() {
				return false, nil
			}
		}
		return len(rows) == 2, nil
	})
	if err != nil {
		t.Fatalf("the leases never moved off the paused instance: %v", err)
	}
	if err := zombie.Resume(); err != nil {
		t.Fatal(err)
	}
	// A fresh, generous bound: under a loaded `go test ./...` the first phase
	// can use most of its own.
	ctx3, cancel3 := context.WithTimeout(ctx, 60*time.Second)
	defer cancel3()
	err = pollUntil(ctx3, 50*time.Millisecond, func() (bool, error) {
		s, err := zombie.Stats(ctx3)
		return err == nil && s.LeaseEvents["lost"] > 0, nil
	})
	if err != nil {
		t.Fatalf("the resumed zombie never noticed its leases were lost: %v", err)
	}
	if len(f.runner.Abandons()) == 0 {
		t.Error("the lease losses were not tapped from the instance's log")
	}
}

func TestChildProcessLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the replicator binary")
	}
	if !processesSupported {
		t.Skip("child processes need a Unix system")
	}
	f := newFixture(t, ChildProcess)
	ctx := context.Background()
	if err := f.runner.Start(ctx, 1); err != nil {
		t.Fatal(err)
	}
	in := f.runner.Instance(0)
	if err := in.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := in.CutLeaseTable(); !errors.Is(err, ErrUnsupported) {
		t.Errorf("cutting a child process off from the lease table = %v, want ErrUnsupported", err)
	}
	f.produce(t, 300, 4)
	f.waitOut(t, in, 300)
	s, err := in.Stats(ctx)
	if err != nil || s.LeasesHeld != 2 || s.LeaseEvents["acquired"] != 2 {
		t.Fatalf("metrics scraped from the process: %+v, %v", s, err)
	}
	// SIGSTOP: stats read while paused are the last ones; SIGCONT resumes.
	if err := in.Pause(); err != nil {
		t.Fatal(err)
	}
	if p, err := in.Stats(ctx); err != nil || p.RecordsOut != s.RecordsOut {
		t.Fatalf("paused stats %+v, %v", p, err)
	}
	if err := in.Resume(); err != nil {
		t.Fatal(err)
	}
	f.waitCheckpointed(t)
	// SIGKILL: the process is gone, its leases stay owned.
	if err := in.Kill(); err != nil {
		t.Fatal(err)
	}
	f.mon.Poll(ctx)
	for _, l := range f.mon.Leases() {
		if l.Owner != in.WorkerIDs()[0] {
			t.Errorf("lease %s owner %q after SIGKILL", l.ShardID, l.Owner)
		}
	}
	// A new life; SIGTERM stops it with status 0 and releases the leases.
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.produce(t, 50, 5)
	ctx2, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := pollUntil(ctx2, 50*time.Millisecond, func() (bool, error) {
		s, err := in.Stats(ctx2)
		return err == nil && s.RecordsOut >= 50, nil
	}); err != nil {
		t.Fatalf("restarted process did not take over: %v\n%s", err, in.LogTail())
	}
	if err := in.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if fl := f.runner.Failures(); len(fl) > 0 {
		t.Errorf("failures: %v", fl)
	}
	out, err := checker.ReadTopic(ctx, f.env.Brokers(), f.names.Topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 350 {
		t.Errorf("topic holds %d records, want at least 350", len(out))
	}
}

func TestScheduleRecordsEveryStep(t *testing.T) {
	sc := Scenario{
		Name: "schedule", Records: 600, Workload: []workload.Option{workload.WithRate(600)},
		Schedule: []Step{
			Then(AfterRecords(100), Note("milestone", "100 records")),
			Then(Wait(100*time.Millisecond), ThrottleReads(300*time.Millisecond)),
			Then(AfterFraction(0.8), SplitShard(OpenShard(0))),
			Then(ParentsFinished(), Note("milestone", "parent finished")),
		},
		Verify: func(_ context.Context, r *Run, o *Outcome) []string {
			if len(r.Reshards()) != 1 || len(r.Reshards()[0].Children) != 2 {
				return []string{fmt.Sprintf("reshards %v", r.Reshards())}
			}
			return nil
		},
	}
	var live []string
	out, err := sc.Run(context.Background(), RunSeed(5), RunObserver(Observer{OnFault: func(f report.Fault, _ time.Duration) { live = append(live, f.Kind) }}))
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
		t.Errorf("run failed: %v", out.Report.Problems())
	}
	if out.Total.Throttles == 0 {
		t.Error("the throttle rule never reached the replicator")
	}
}
