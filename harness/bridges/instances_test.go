package bridges

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/leasewatch"
	"github.com/shardbridge/shardbridge/harness/workload"
)

// The in-process adapter and the shipped bridge file, driven through a
// bridge.Pool and judged by the lease watcher: kills, pauses, lease-table
// cuts and child-process lives behave as a real deployment's would.

func suffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func isSequence(cp string) bool { return cp != "" && strings.Trim(cp, "0123456789") == "" }

// fixture is an environment with a two-shard stream, a topic and a runner.
type fixture struct {
	env   *backend.Env
	pool  *bridge.Pool
	names bridge.Names
	mon   *leasewatch.Watcher
	in    *Launcher
}

func newFixture(t *testing.T, l bridge.Launcher) *fixture {
	t.Helper()
	ctx := context.Background()
	env, err := backend.Start(ctx, backend.WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Close(context.Background()) })
	n := bridge.Names{Stream: "rt-" + suffix(), Topic: "rt-" + suffix(), Application: "rt-" + suffix()}
	if err := env.CreateStream(ctx, n.Stream, 2); err != nil {
		t.Fatal(err)
	}
	if err := env.CreateTopic(ctx, n.Topic, 2); err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{"REPLICATOR_FAILOVER_TIME": "2s", "CHECKPOINT_FREQ_SECONDS": "0.2"}
	pool, err := bridge.NewPool(env, l, n, settings, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Close(context.Background()) })
	in, _ := l.(*Launcher)
	return &fixture{env: env, pool: pool, names: n, in: in, mon: leasewatch.New(env.NewDynamoDBClient(), n.Application, 2*time.Second)}
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

func (f *fixture) waitOut(t *testing.T, in *bridge.Instance, n int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := bridge.PollUntil(ctx, 50*time.Millisecond, func() (bool, error) {
		s, err := in.Stats(ctx)
		return err == nil && s.RecordsOut >= n, nil
	})
	if err != nil {
		t.Fatalf("instance %s did not write %d records: %v", in.Name(), n, err)
	}
}

// waitCheckpointed waits until every lease row is checkpointed past TRIM_HORIZON.
func (f *fixture) waitCheckpointed(t *testing.T) []leasewatch.Row {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rows []leasewatch.Row
	err := bridge.PollUntil(ctx, 50*time.Millisecond, func() (bool, error) {
		f.mon.Poll(ctx)
		rows = f.mon.Rows()
		if len(rows) != 2 {
			return false, nil
		}
		for _, l := range rows {
			if !isSequence(l.Checkpoint) {
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
	f := newFixture(t, InProcess())
	ctx := context.Background()
	if err := f.pool.Start(ctx, 1); err != nil {
		t.Fatal(err)
	}
	in := f.pool.Instance(0)
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
	before := f.mon.Rows()
	if in.Running() {
		t.Fatal("a killed instance is still running")
	}
	// A crash releases nothing and checkpoints nothing more.
	f.mon.Poll(ctx)
	for _, l := range f.mon.Rows() {
		if l.Owner != in.WorkerID() {
			t.Errorf("lease %s owned by %q after the kill, want still %q (no release)", l.Shard, l.Owner, in.WorkerID())
		}
	}
	total := in.TotalStats(ctx)
	if total.RecordsOut < 500 {
		t.Errorf("the killed life's counters were lost: %+v", total)
	}
	// Nor does it checkpoint after dying.
	time.Sleep(300 * time.Millisecond) // longer than the checkpoint interval
	f.mon.Poll(ctx)
	for i, l := range f.mon.Rows() {
		if leasewatch.ComparePositions(l, before[i]) > 0 {
			t.Errorf("lease %s checkpointed after the kill: %s → %s", l.Shard, before[i].Checkpoint, l.Checkpoint)
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
	if err := bridge.PollUntil(ctx2, 50*time.Millisecond, func() (bool, error) {
		s, err := in.Stats(ctx2)
		return err == nil && s.RecordsOut >= 100, nil
	}); err != nil {
		t.Fatalf("the new life did not take over: %v", err)
	}
	if err := in.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	f.mon.Poll(ctx)
	for _, l := range f.mon.Rows() {
		if l.Owner != "" {
			t.Errorf("lease %s still owned by %q after a graceful stop", l.Shard, l.Owner)
		}
	}
	if fl := f.pool.Failures(); len(fl) > 0 {
		t.Errorf("failures: %v", fl)
	}
}

func TestInProcessPauseMakesAZombie(t *testing.T) {
	f := newFixture(t, InProcess())
	ctx := context.Background()
	if err := f.pool.Start(ctx, 2); err != nil {
		t.Fatal(err)
	}
	f.produce(t, 300, 3)
	f.waitCheckpointed(t)
	zombie := f.pool.Instance(0)
	// Only an instance that holds a lease can become a zombie. Right after
	// start one instance may hold both leases until the other steals one,
	// so wait for the balanced spread first.
	ctx1, cancel1 := context.WithTimeout(ctx, 60*time.Second)
	defer cancel1()
	if err := bridge.PollUntil(ctx1, 50*time.Millisecond, func() (bool, error) {
		f.mon.Poll(ctx1)
		owned := 0
		for _, l := range f.mon.Rows() {
			if l.Owner == zombie.WorkerID() {
				owned++
			}
		}
		return owned == 1, nil
	}); err != nil {
		t.Fatalf("the leases never spread over both instances: %v (%v)", err, f.mon.Rows())
	}
	if err := zombie.Pause(); err != nil {
		t.Fatal(err)
	}
	// The other instance takes every lease once the zombie's expire.
	ctx2, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	other := f.pool.Instance(1)
	err := bridge.PollUntil(ctx2, 50*time.Millisecond, func() (bool, error) {
		f.mon.Poll(ctx2)
		rows := f.mon.Rows()
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
	err = bridge.PollUntil(ctx3, 50*time.Millisecond, func() (bool, error) {
		s, err := zombie.Stats(ctx3)
		return err == nil && s.LeaseEvents["lost"] > 0, nil
	})
	if err != nil {
		t.Fatalf("the resumed zombie never noticed its leases were lost: %v", err)
	}
}

func TestChildProcessLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the replicator binary")
	}
	spec := Shardbridge()
	t.Cleanup(spec.Close)
	f := newFixture(t, spec)
	ctx := context.Background()
	if err := f.pool.Start(ctx, 1); err != nil {
		t.Fatal(err)
	}
	in := f.pool.Instance(0)
	if err := in.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := in.CutLeaseTable(); !errors.Is(err, bridge.ErrUnsupported) {
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
	for _, l := range f.mon.Rows() {
		if l.Owner != in.WorkerIDs()[0] {
			t.Errorf("lease %s owner %q after SIGKILL", l.Shard, l.Owner)
		}
	}
	// A new life; SIGTERM stops it with status 0 and releases the leases.
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.produce(t, 50, 5)
	ctx2, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := bridge.PollUntil(ctx2, 50*time.Millisecond, func() (bool, error) {
		s, err := in.Stats(ctx2)
		return err == nil && s.RecordsOut >= 50, nil
	}); err != nil {
		t.Fatalf("restarted process did not take over: %v\n%s", err, in.LogTail())
	}
	if err := in.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if fl := f.pool.Failures(); len(fl) > 0 {
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

func TestInProcessCutOffFromLeaseTable(t *testing.T) {
	f := newFixture(t, InProcess(WithHandOffLog()))
	ctx := context.Background()
	if err := f.pool.Start(ctx, 2); err != nil {
		t.Fatal(err)
	}
	cut, other := f.pool.Instance(0), f.pool.Instance(1)
	f.produce(t, 300, 6)
	f.waitCheckpointed(t)
	// Only an instance holding a lease can lose one: wait for one each.
	var shard string
	ctx1, cancel1 := context.WithTimeout(ctx, 60*time.Second)
	defer cancel1()
	if err := bridge.PollUntil(ctx1, 50*time.Millisecond, func() (bool, error) {
		f.mon.Poll(ctx1)
		owned := 0
		for _, l := range f.mon.Rows() {
			if l.Owner == cut.WorkerID() {
				owned, shard = owned+1, l.Shard
			}
		}
		return owned == 1, nil
	}); err != nil {
		t.Fatalf("the leases never spread over both instances: %v (%v)", err, f.mon.Rows())
	}
	// The lease may have come to it after the first records were written:
	// write more, so that it hands some of that shard's off itself.
	f.produce(t, 300, 7)
	ctxOut, cancelOut := context.WithTimeout(ctx, 30*time.Second)
	defer cancelOut()
	if err := bridge.PollUntil(ctxOut, 50*time.Millisecond, func() (bool, error) {
		return f.pool.Total(ctxOut).RecordsOut >= 600 && len(f.in.HandedOff(cut.WorkerID(), shard)) > 0, nil
	}); err != nil {
		t.Fatalf("the records were never all delivered, with some of %s by %s: %v", shard, cut.Name(), err)
	}

	if err := cut.CutLeaseTable(); err != nil {
		t.Fatal(err)
	}
	// It cannot renew: the other instance takes its lease once it expires.
	ctx2, cancel2 := context.WithTimeout(ctx, 60*time.Second)
	defer cancel2()
	if err := bridge.PollUntil(ctx2, 20*time.Millisecond, func() (bool, error) {
		f.mon.Poll(ctx2)
		l, ok := f.mon.Row(shard)
		return ok && l.Owner == other.WorkerID(), nil
	}); err != nil {
		t.Fatalf("%s's lease never moved off the cut-off instance: %v (%v)", shard, err, f.mon.Rows())
	}
	// It finds out by itself, without a single lease-table answer.
	ctx3, cancel3 := context.WithTimeout(ctx, 60*time.Second)
	defer cancel3()
	if err := bridge.PollUntil(ctx3, 50*time.Millisecond, func() (bool, error) {
		s, err := cut.Stats(ctx3)
		return err == nil && s.LeaseEvents["lost"] > 0, nil
	}); err != nil {
		t.Fatalf("the cut-off instance never reported its lease lost: %v", err)
	}
	if !cut.Running() {
		t.Fatal("a cut-off instance is not running: the cut must not end it")
	}
	// Once it has found out it writes nothing more: every record so far was
	// delivered before the cut, so any hand-off of its from now on would be
	// one of the new records, read by a worker that knows its lease is gone.
	before, err := other.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := time.Now()
	f.produce(t, 200, 7)
	f.waitOut(t, other, before.RecordsOut+200)
	for _, id := range []string{"shardId-000000000000", "shardId-000000000001"} {
		for _, at := range f.in.HandedOff(cut.WorkerID(), id) {
			if at.After(found) {
				t.Errorf("the cut-off instance handed a record of %s to Kafka %s after it reported its lease lost", id, at.Sub(found))
			}
		}
	}

	// Reconnected, it takes a lease back by rebalancing.
	if err := cut.RestoreLeaseTable(); err != nil {
		t.Fatal(err)
	}
	ctx4, cancel4 := context.WithTimeout(ctx, 60*time.Second)
	defer cancel4()
	if err := bridge.PollUntil(ctx4, 50*time.Millisecond, func() (bool, error) {
		f.mon.Poll(ctx4)
		for _, l := range f.mon.Rows() {
			if l.Owner == cut.WorkerID() {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		t.Fatalf("the reconnected instance never held a lease again: %v (%v)", err, f.mon.Rows())
	}
	if err := f.pool.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if fl := f.pool.Failures(); len(fl) > 0 {
		t.Errorf("failures: %v", fl)
	}
}
