package replicator_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/fakes/conformance/refemu"
	"github.com/shardbridge/shardbridge/replicator"
	"github.com/shardbridge/shardbridge/replicator/checkpointtopic"
	"github.com/shardbridge/shardbridge/replicator/config"
	"github.com/shardbridge/shardbridge/replicator/lease"
)

func (e *testEnv) exactlyOnce(worker string) config.Config {
	c := e.config(worker)
	c.DeliveryMode = config.ExactlyOnce
	c.TransactionInterval = 50 * time.Millisecond
	return c
}

// lastCommitted reads the shard's checkpoint from the checkpoint topic.
func (e *testEnv) lastCommitted(t *testing.T, shard string) (checkpointtopic.Value, bool) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, found, err := checkpointtopic.NewReader(e.app+config.CheckpointTopicSuffix, kadm.NewClient(cl),
		kgo.SeedBrokers(e.brokers...)).Last(ctx, shard)
	if err != nil {
		t.Fatal(err)
	}
	return v, found
}

// useApacheKafka points the environment at an Apache Kafka broker (where it
// is installed: make kafka) with the test topic created.
func (e *testEnv) useApacheKafka(t *testing.T, partitions int32) {
	t.Helper()
	k := refemu.StartKafkaForTest(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), partitions, 1, nil, e.topic); err != nil {
		t.Fatal(err)
	}
	e.brokers = k.Brokers
}

// Exactly-once: two instances, one crashes (Abort) mid-backlog and another
// joins, one stops gracefully. A read_committed reader finds every record
// exactly once, in order per key; the lease rows and the checkpoint topic
// agree at the end. On kfake and on Apache Kafka.
func TestExactlyOnceThroughCrashesAndMoves(t *testing.T) {
	t.Run("kfake", func(t *testing.T) { exactlyOnceThroughCrashes(t, false) })
	t.Run("apache-kafka", func(t *testing.T) { exactlyOnceThroughCrashes(t, true) })
}

func exactlyOnceThroughCrashes(t *testing.T, apache bool) {
	e := newTestEnv(t, 4, 8)
	if apache {
		e.useApacheKafka(t, 8)
	}
	e.write(20, 40) // a backlog
	a := e.start(e.exactlyOnce("a"))
	b := e.start(e.exactlyOnce("b"))
	stopWriting := e.writeUntilStopped(40, 20*time.Millisecond)
	eventually(t, 30*time.Second, "a and b to replicate", func() bool {
		return a.r.Stats().RecordsOut > 0 && b.r.Stats().RecordsOut > 0
	})
	a.r.Abort() // a crash with transactions open: the next owner fences them
	c := e.start(e.exactlyOnce("c"))
	eventually(t, 20*time.Second, "c to take a's shards", func() bool { return c.r.Stats().LeasesHeld >= 1 })
	if err := b.stop(t); err != nil {
		t.Fatal(err)
	}
	stopWriting()
	rep := e.waitDelivered(40 * time.Second)
	if rep.Duplicates != 0 {
		t.Fatalf("exactly-once left %d duplicates: %s", rep.Duplicates, rep)
	}
	if n := b.r.Stats().TransactionsCommitted + c.r.Stats().TransactionsCommitted; n == 0 {
		t.Error("b and c committed no transaction")
	}
	if err := c.stop(t); err != nil {
		t.Fatal(err)
	}
	last := e.lastSeqs()
	for _, l := range e.leases() {
		v, found := e.lastCommitted(t, l.ShardID)
		if !found || v.Sequence != last[l.ShardID] || l.Checkpoint != v.Sequence {
			t.Errorf("shard %s: checkpoint topic %+v (found %v), lease row %s, last written %s", l.ShardID, v, found, l.Checkpoint, last[l.ShardID])
		}
	}
}

// The checkpoint in Kafka wins over the lease row: a shard whose lease row
// lags (here: reset to TRIM_HORIZON behind the replicator's back) resumes
// from the committed checkpoint, not from the row.
func TestExactlyOnceResumesFromKafkaNotTheLeaseRow(t *testing.T) {
	e := newTestEnv(t, 1, 2)
	e.write(10, 20)
	a := e.start(e.exactlyOnce("a"))
	e.waitDelivered(20 * time.Second)
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	l := e.leases()[0]
	if _, err := e.ddbAPI.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName:                 aws.String(e.app),
		Key:                       map[string]ddbtypes.AttributeValue{"leaseKey": &ddbtypes.AttributeValueMemberS{Value: l.ShardID}},
		UpdateExpression:          aws.String("SET checkpoint = :th"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":th": &ddbtypes.AttributeValueMemberS{Value: lease.TrimHorizon}},
	}); err != nil {
		t.Fatal(err)
	}
	e.start(e.exactlyOnce("b"))
	e.write(2, 20)
	if rep := e.waitDelivered(20 * time.Second); rep.Duplicates != 0 {
		t.Fatalf("resumed from the lease row: %d duplicates", rep.Duplicates)
	}
}

// A transaction that fails (every produce refused for a while) is aborted:
// the shard re-opens its producer and resumes from its last commit, so a
// read_committed reader sees nothing twice.
func TestExactlyOnceFailedTransactionsAreAborted(t *testing.T) {
	e := newTestEnv(t, 2, 4)
	var failing atomic.Bool
	wrap := func(s replicator.Sink) replicator.Sink { return &failingSink{Sink: s, failing: &failing} }
	in := e.start(e.exactlyOnce("a"), replicator.WithSinkWrapper(wrap))
	e.write(5, 20)
	eventually(t, 15*time.Second, "a commit", func() bool { return in.r.Stats().TransactionsCommitted > 0 })
	failing.Store(true)
	wait := e.writeAsync(10, 20, 20*time.Millisecond)
	eventually(t, 15*time.Second, "an aborted transaction", func() bool { return in.r.Stats().TransactionsAborted > 0 })
	failing.Store(false)
	wait()
	e.write(3, 20)
	if rep := e.waitDelivered(30 * time.Second); rep.Duplicates != 0 {
		t.Fatalf("%d duplicates after aborted transactions: %s", rep.Duplicates, rep)
	}
}

// failingSink lets every other record through while failing is set and
// fails the rest, so a transaction holds records Kafka acknowledged and
// must not commit them.
type failingSink struct {
	replicator.Sink
	failing *atomic.Bool
	n       atomic.Int64
}

func (s *failingSink) Produce(ctx context.Context, r *kgo.Record, p func(*kgo.Record, error)) {
	if s.failing.Load() && s.n.Add(1)%2 == 0 {
		p(r, kerr.RequestTimedOut)
		return
	}
	s.Sink.Produce(ctx, r, p)
}

// A holder that is cut off is fenced: once another instance opened the
// shard's transactional producer, the old one's commit is refused.
func TestExactlyOnceTakeoverFencesTheOldProducer(t *testing.T) {
	e := newTestEnv(t, 1, 2)
	cfg := e.exactlyOnce("zombie")
	old, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.TransactionalID(cfg.TransactionalID("shardId-000000000000")))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := old.ProduceSync(ctx, &kgo.Record{Topic: e.topic, Value: []byte("zombie")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	e.write(3, 10)
	in := e.start(e.exactlyOnce("new"))
	e.waitDelivered(20 * time.Second) // the zombie's record is never read: its transaction was aborted
	if err := old.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("the old producer committed after the takeover")
	} else if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) && !errors.Is(err, kerr.InvalidTxnState) {
		t.Logf("old producer's commit refused with %v", err)
	}
	_ = in
}
