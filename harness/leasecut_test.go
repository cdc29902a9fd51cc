package harness

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"

	"github.com/shardbridge/shardbridge/replicator/lease"
	"github.com/shardbridge/shardbridge/replicator/source"
)

// countingDDB answers DescribeTable and counts the calls that reach it.
type countingDDB struct {
	lease.DynamoDBAPI
	calls int
}

func (c *countingDDB) DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	c.calls++
	return &dynamodb.DescribeTableOutput{}, nil
}

// countingKinesis answers ListShards and counts the calls that reach it.
type countingKinesis struct {
	source.KinesisAPI
	calls int
}

func (c *countingKinesis) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	c.calls++
	return &kinesis.ListShardsOutput{}, nil
}

// within runs f and fails the test if it does not return within d: the
// gate's answers must be immediate, never a wait.
func within(t *testing.T, d time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("call still blocked after %s", d)
		return nil
	}
}

func TestLeaseTableCutFailsOnlyDynamoDBCalls(t *testing.T) {
	ctx := context.Background()
	g := &lifeGate{}
	inner, innerKin := &countingDDB{}, &countingKinesis{}
	ddb, kin := gatedDynamoDB{g: g, c: inner}, gatedKinesis{g: g, c: innerKin}

	g.cutDynamoDB(true)
	err := within(t, 5*time.Second, func() error { _, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{}); return err })
	if !errors.Is(err, errLeaseTableCut) {
		t.Fatalf("DescribeTable while cut off = %v, want the lease-table cut", err)
	}
	var netErr net.Error
	var apiErr smithy.APIError
	if !errors.As(err, &netErr) || errors.As(err, &apiErr) {
		t.Errorf("the cut answers %T %v: want a network error, not an answer of the service", err, err)
	}
	if inner.calls != 0 {
		t.Errorf("%d DynamoDB calls reached the table while cut off", inner.calls)
	}
	if _, err := kin.ListShards(ctx, &kinesis.ListShardsInput{}); err != nil || innerKin.calls != 1 {
		t.Errorf("Kinesis while the lease table is cut off: %v, %d calls through; want it untouched", err, innerKin.calls)
	}

	g.cutDynamoDB(false)
	if _, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{}); err != nil || inner.calls != 1 {
		t.Errorf("DynamoDB after the reconnect: %v, %d calls through", err, inner.calls)
	}

	// A kill outranks the cut: the instance is dead, not partitioned.
	g.cutDynamoDB(true)
	g.kill()
	if _, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{}); !errors.Is(err, errKilled) {
		t.Errorf("DescribeTable of a killed, cut-off instance = %v, want errKilled", err)
	}
}

func TestInProcessCutOffFromLeaseTable(t *testing.T) {
	f := newFixture(t, InProcess, WithHandOffLog())
	ctx := context.Background()
	if err := f.runner.Start(ctx, 2); err != nil {
		t.Fatal(err)
	}
	cut, other := f.runner.Instance(0), f.runner.Instance(1)
	f.produce(t, 300, 6)
	f.waitCheckpointed(t)
	// Only an instance holding a lease can lose one: wait for one each.
	var shard string
	ctx1, cancel1 := context.WithTimeout(ctx, 60*time.Second)
	defer cancel1()
	if err := pollUntil(ctx1, 50*time.Millisecond, func() (bool, error) {
		f.mon.Poll(ctx1)
		owned := 0
		for _, l := range f.mon.Leases() {
			if l.Owner == cut.WorkerID() {
				owned, shard = owned+1, l.ShardID
			}
		}
		return owned == 1, nil
	}); err != nil {
		t.Fatalf("the leases never spread over both instances: %v (%v)", err, f.mon.Leases())
	}
	// The lease may have come to it after the first records were written:
	// write more, so that it hands some of that shard's off itself.
	f.produce(t, 300, 7)
	ctxOut, cancelOut := context.WithTimeout(ctx, 30*time.Second)
	defer cancelOut()
	if err := pollUntil(ctxOut, 50*time.Millisecond, func() (bool, error) {
		return f.runner.Total(ctxOut).RecordsOut >= 600 && len(f.runner.HandedOff(cut.WorkerID(), shard)) > 0, nil
	}); err != nil {
		t.Fatalf("the records were never all delivered, with some of %s by %s: %v", shard, cut.Name(), err)
	}

	if err := cut.CutLeaseTable(); err != nil {
		t.Fatal(err)
	}
	// It cannot renew: the other instance takes its lease once it expires.
	ctx2, cancel2 := context.WithTimeout(ctx, 60*time.Second)
	defer cancel2()
	if err := pollUntil(ctx2, 20*time.Millisecond, func() (bool, error) {
		f.mon.Poll(ctx2)
		l, ok := f.mon.Lease(shard)
		return ok && l.Owner == other.WorkerID(), nil
	}); err != nil {
		t.Fatalf("%s's lease never moved off the cut-off instance: %v (%v)", shard, err, f.mon.Leases())
	}
	// It finds out by itself, without a single lease-table answer.
	ctx3, cancel3 := context.WithTimeout(ctx, 60*time.Second)
	defer cancel3()
	if err := pollUntil(ctx3, 50*time.Millisecond, func() (bool, error) {
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
		for _, at := range f.runner.HandedOff(cut.WorkerID(), id) {
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
	if err := pollUntil(ctx4, 50*time.Millisecond, func() (bool, error) {
		f.mon.Poll(ctx4)
		for _, l := range f.mon.Leases() {
			if l.Owner == cut.WorkerID() {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		t.Fatalf("the reconnected instance never held a lease again: %v (%v)", err, f.mon.Leases())
	}
	if err := f.runner.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if fl := f.runner.Failures(); len(fl) > 0 {
		t.Errorf("failures: %v", fl)
	}
}
