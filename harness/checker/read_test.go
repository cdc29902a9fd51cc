package checker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/harness/workload"
)

func startKafka(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "out", "dlq"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// replicated renders an ack the way the replicator writes it.
func replicated(a workload.Ack, topic string) *kgo.Record {
	v := fmt.Appendf(nil, `{"producer":%d,"key":%q,"seq":%d,"kind":%q,"sent_ms":%d,"pad":""}`, a.Producer, a.Key, a.KeySeq, a.Kind, a.SentMs)
	r := &kgo.Record{Topic: topic, Key: []byte(a.PartitionKey), Value: v, Headers: []kgo.RecordHeader{
		{Key: HeaderStream, Value: []byte("stream")},
		{Key: HeaderShard, Value: []byte(a.ShardID)},
		{Key: HeaderSeq, Value: []byte(a.SequenceNumber)},
		{Key: HeaderArrivalMs, Value: []byte(strconv.FormatInt(a.SentMs, 10))},
	}}
	if a.SubSequence >= 0 {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderSubSeq, Value: []byte(strconv.FormatInt(a.SubSequence, 10))})
	}
	return r
}

func TestReadTopicReadCommitted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	brokers := startKafka(t)
	tx, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("shard-0"))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()

	h := newHistory()
	var committed []workload.Ack
	for i := range 30 {
		committed = append(committed, h.ack(i%3, fmt.Sprintf("k%d", i%5), "shard-0", -1, workload.KindNormal))
	}
	ghost := h.ack(9, "ghost", "shard-0", -1, workload.KindNormal)
	h.acks = h.acks[:len(h.acks)-1] // never acknowledged: written only in an aborted transaction

	// Transaction 1 commits; transaction 2 (a zombie's batch) aborts and so
	// ends every partition's log with an abort marker.
	for i, batch := range [][]workload.Ack{committed, {ghost, ghost, ghost}} {
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, a := range batch {
			if err := tx.ProduceSync(ctx, replicated(a, "out")).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.EndTransaction(ctx, kgo.TransactionEndTry(i == 0)); err != nil {
			t.Fatal(err)
		}
	}
	// A plain producer writes the dead-letter topic.
	plain, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	bad := h.ack(0, "k1", "shard-0", -1, workload.KindMalformed)
	dl := replicated(bad, "dlq")
	dl.Headers = append(dl.Headers, kgo.RecordHeader{Key: HeaderDLQError, Value: []byte("not JSON")}, kgo.RecordHeader{Key: HeaderDLQStage, Value: []byte("transform")})
	if err := plain.ProduceSync(ctx, dl).FirstErr(); err != nil {
		t.Fatal(err)
	}

	out, err := ReadTopic(ctx, brokers, "out")
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(committed) {
		t.Fatalf("read %d records, want the %d committed ones", len(out), len(committed))
	}
	for i, o := range out {
		if string(o.Key) == "ghost" {
			t.Fatalf("aborted record visible under read_committed: %+v", o)
		}
		if i > 0 && (o.Partition < out[i-1].Partition || (o.Partition == out[i-1].Partition && o.Offset <= out[i-1].Offset)) {
			t.Fatal("records not in (partition, offset) order")
		}
	}
	dlq, err := ReadTopic(ctx, brokers, "dlq")
	if err != nil || len(dlq) != 1 {
		t.Fatalf("dlq: %d records, %v", len(dlq), err)
	}
	r := Check(h.acks, out, dlq, Options{})
	if !r.OK(ExactlyOnce) || r.Replicated != 30 || r.DeadLettered != 1 {
		t.Fatalf("check over kfake: %v\n%s", r.Problems(ExactlyOnce), details(r, true))
	}

	// Only what came after a snapshot of the end offsets.
	ends, err := EndOffsets(ctx, brokers, "out")
	if err != nil {
		t.Fatal(err)
	}
	extra := h.ack(0, "k0", "shard-0", -1, workload.KindNormal)
	if err := plain.ProduceSync(ctx, replicated(extra, "out")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	tail, err := ReadTopic(ctx, brokers, "out", FromOffsets(ends))
	if err != nil || len(tail) != 1 || string(tail[0].Key) != "k0" {
		t.Fatalf("tail read: %v, %v", tail, err)
	}
}

// openTransaction begins a transaction of id that holds 5 replicated
// records on "out", and leaves it open.
func openTransaction(ctx context.Context, t *testing.T, brokers []string, id string) *kgo.Client {
	t.Helper()
	tx, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(id))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tx.Close)
	h := newHistory()
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := tx.ProduceSync(ctx, replicated(h.ack(0, "k", "shard-0", -1, workload.KindNormal), "out")).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return tx
}

func TestReadTopicWaitsForOpenTransaction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	brokers := startKafka(t)
	tx := openTransaction(ctx, t, brokers, "open")
	// The records are below the high watermark but not yet committed: the
	// read cannot finish until the transaction does.
	type result struct {
		out []Observed
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := ReadTopic(ctx, brokers, "out")
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("read finished (%d records, %v) while the transaction was open", len(r.out), r.err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || len(r.out) != 5 {
		t.Fatalf("after commit: %d records, %v", len(r.out), r.err)
	}
}

// A transaction open when the read begins and aborted afterwards leaves its
// records below the end offsets the read took (never returned at
// read_committed) and its abort marker past them: the read still ends.
func TestReadTopicAfterAbortStraddlingTheEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	brokers := startKafka(t)
	tx := openTransaction(ctx, t, brokers, "zombie")
	done := make(chan error, 1)
	var out []Observed
	go func() {
		var err error
		out, err = ReadTopic(ctx, brokers, "out")
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // the read took its end offsets and waits
	if err := tx.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil || len(out) != 0 {
			t.Fatalf("after the abort: %d records, %v", len(out), err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("the read never ended: the abort marker past the end offsets was not taken as the end")
	}
}

func TestReadTopicMissing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	brokers := startKafka(t)
	if _, err := ReadTopic(ctx, brokers, "nope"); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("missing topic: %v", err)
	}
	out, err := ReadTopic(ctx, brokers, "nope", MissingOK())
	if err != nil || out != nil {
		t.Fatalf("MissingOK: %v, %v", out, err)
	}
	empty, err := ReadTopic(ctx, brokers, "out")
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty topic: %v, %v", empty, err)
	}
}
