package checkpointtopic

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/fakes/conformance/refemu"
)

const topic = "app.checkpoints"

// brokers is where the tests run: kfake, or Apache Kafka (apache: true,
// where it is installed; make kafka).
func brokers(t *testing.T, apache bool) []string {
	t.Helper()
	if apache {
		return refemu.StartKafkaForTest(t).Brokers
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// each runs test on kfake and on Apache Kafka.
func each(t *testing.T, test func(t *testing.T, apache bool)) {
	t.Run("kfake", func(t *testing.T) { test(t, false) })
	t.Run("apache-kafka", func(t *testing.T) { test(t, true) })
}

func cluster(t *testing.T, apache bool) ([]string, *kadm.Client) {
	t.Helper()
	seeds := brokers(t, apache)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	if err := Ensure(context.Background(), adm, topic); err != nil {
		t.Fatal(err)
	}
	return seeds, adm
}

// txn writes recs in one transaction of the producer id and ends it.
func txn(t *testing.T, seeds []string, id string, commit bool, recs ...*kgo.Record) {
	t.Helper()
	cl := txnClient(t, seeds, id)
	defer cl.Close()
	produce(t, cl, recs...)
	if err := cl.EndTransaction(context.Background(), kgo.TransactionEndTry(commit)); err != nil {
		t.Fatal(err)
	}
}

func txnClient(t *testing.T, seeds []string, id string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.TransactionalID(id), kgo.TransactionTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	return cl
}

func produce(t *testing.T, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func cp(shard, seq string) *kgo.Record {
	return Record(topic, Value{Stream: "s", Shard: shard, Sequence: seq, SubSequence: -1})
}

func TestLastIsTheLastCommittedCheckpoint(t *testing.T) {
	each(t, func(t *testing.T, apache bool) {
		seeds, adm := cluster(t, apache)
		ctx := context.Background()
		r := NewReader(topic, adm, kgo.SeedBrokers(seeds...))

		if _, found, err := r.Last(ctx, "shard-0"); err != nil || found {
			t.Fatalf("empty topic: found %v, err %v", found, err)
		}
		txn(t, seeds, "a", true, cp("shard-0", "10"), cp("shard-1", "11"))
		txn(t, seeds, "a", true, cp("shard-0", "20"))
		txn(t, seeds, "a", false, cp("shard-0", "30")) // aborted: never seen
		v, found, err := r.Last(ctx, "shard-0")
		if err != nil || !found || v.Sequence != "20" || v.Stream != "s" {
			t.Fatalf("Last = %+v %v %v, want sequence 20", v, found, err)
		}
		v, found, err = r.Last(ctx, "shard-1")
		if err != nil || !found || v.Sequence != "11" {
			t.Fatalf("Last(shard-1) = %+v %v %v, want 11", v, found, err)
		}
		if _, found, _ := r.Last(ctx, "shard-9"); found {
			t.Fatal("a shard never checkpointed was found")
		}
	})
}

func TestLastWaitsForOpenTransactions(t *testing.T) {
	each(t, func(t *testing.T, apache bool) {
		seeds, adm := cluster(t, apache)
		ctx := context.Background()
		r := NewReader(topic, adm, kgo.SeedBrokers(seeds...))

		// Another shard's transaction is open below this shard's commit: at
		// read_committed the commit is hidden until that one ends.
		other := txnClient(t, seeds, "other")
		defer other.Close()
		produce(t, other, cp("shard-1", "5"))
		txn(t, seeds, "mine", true, cp("shard-0", "7"))

		got := make(chan Value, 1)
		go func() {
			v, _, err := r.Last(ctx, "shard-0")
			if err != nil {
				t.Error(err)
			}
			got <- v
		}()
		select {
		case v := <-got:
			t.Fatalf("Last answered %+v while a transaction below the end was open", v)
		case <-time.After(300 * time.Millisecond):
		}
		if err := other.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		select {
		case v := <-got:
			if v.Sequence != "7" {
				t.Fatalf("Last = %+v, want 7", v)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Last did not answer after the open transaction committed")
		}
	})
}

func TestLastAfterFencingSeesNoZombieWrite(t *testing.T) {
	each(t, func(t *testing.T, apache bool) {
		seeds, adm := cluster(t, apache)
		ctx := context.Background()
		r := NewReader(topic, adm, kgo.SeedBrokers(seeds...))
		txn(t, seeds, "shard-0", true, cp("shard-0", "1"))

		zombie := txnClient(t, seeds, "shard-0")
		defer zombie.Close()
		produce(t, zombie, cp("shard-0", "2"))

		// The new holder fences (initialising the same transactional id), then
		// reads: the zombie's open transaction is aborted, its commit refused.
		next, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.TransactionalID("shard-0"))
		if err != nil {
			t.Fatal(err)
		}
		defer next.Close()
		if _, _, err := next.ProducerID(ctx); err != nil {
			t.Fatal(err)
		}
		v, _, err := r.Last(ctx, "shard-0")
		if err != nil || v.Sequence != "1" {
			t.Fatalf("Last after fencing = %+v, %v; want 1", v, err)
		}
		// Kafka answers PRODUCER_FENCED or INVALID_PRODUCER_EPOCH; kfake
		// INVALID_TXN_STATE. Any refusal will do: the commit must not land.
		if err := zombie.EndTransaction(ctx, kgo.TryCommit); err == nil {
			t.Fatal("the zombie's commit succeeded after fencing")
		}
		if v, _, _ := r.Last(ctx, "shard-0"); v.Sequence != "1" {
			t.Fatalf("the zombie's commit landed: %+v", v)
		}
	})
}

func TestTombstoneAndGarbage(t *testing.T) {
	each(t, func(t *testing.T, apache bool) {
		seeds, adm := cluster(t, apache)
		ctx := context.Background()
		r := NewReader(topic, adm, kgo.SeedBrokers(seeds...))
		txn(t, seeds, "a", true, cp("shard-0", "1"), &kgo.Record{Topic: topic, Key: []byte("shard-0")})
		if _, found, err := r.Last(ctx, "shard-0"); err != nil || found {
			t.Fatalf("after a tombstone: found %v, err %v", found, err)
		}
		txn(t, seeds, "a", true, &kgo.Record{Topic: topic, Key: []byte("shard-0"), Value: []byte("{oops")})
		if _, _, err := r.Last(ctx, "shard-0"); err == nil || !strings.Contains(err.Error(), "offset 3") {
			t.Fatalf("a garbage checkpoint gave %v, want an error naming its offset", err)
		}
	})
}

func TestEnsureRefusesADeleteTopic(t *testing.T) {
	each(t, func(t *testing.T, apache bool) {
		seeds, adm := cluster(t, apache)
		_ = seeds
		ctx := context.Background()
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, "plain"); err != nil {
			t.Fatal(err)
		}
		err := Ensure(ctx, adm, "plain")
		if err == nil || !strings.Contains(err.Error(), "cleanup.policy=delete") {
			t.Fatalf("Ensure on a delete topic = %v", err)
		}
		if err := Ensure(ctx, adm, topic); err != nil {
			t.Fatalf("Ensure twice: %v", err)
		}
	})
}
