package kafkaconf

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafka runs every case against kfake and Apache Kafka.
func TestKafka(t *testing.T) {
	forEachBackend(t, []kafkaCase{
		{name: "IdempotentRestart", serial: true, fn: testIdempotentRestart},
		{name: "Protocol", fn: testProtocol},
		{name: "MessageTooLarge", fn: testMessageTooLarge},
		{name: "UnknownTopic", fn: testUnknownTopic},
		{name: "AcksAll", fn: testAcksAll},
		{name: "TopicConfigs", fn: testTopicConfigs},
		{name: "TxnCommitAbort", fn: testTxnCommitAbort},
		{name: "TxnOpenInvisible", fn: testTxnOpenInvisible},
		{name: "TxnFencing", fn: testTxnFencing},
		{name: "TxnTwoTopics", fn: testTxnTwoTopics},
		{name: "TxnTimeout", fn: testTxnTimeout},
	})
}

// An idempotent producer (kgo's default) keeps producing to three
// partitions while the broker restarts: after the restart the same client
// goes on, and reading back gives every record exactly once, in the order
// produced, per partition — the retries of requests the restart cut off are
// deduplicated by the producer state the broker kept.
func testIdempotentRestart(t *testing.T, b *Backend) {
	const partitions = 3
	topic := newTopic(t, b, "idem", partitions, nil)
	ctx := ctxT(t, 2*time.Minute)
	cl := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))

	var (
		mu   sync.Mutex
		seq  int
		sent = map[int32][]string{} // per partition, in produce order
		errs []error
		wg   sync.WaitGroup
	)
	// produce is called by one goroutine at a time, so the order of sent
	// is the order of the Produce calls.
	produce := func(phase string) {
		p := int32(seq % partitions)
		v := fmt.Sprintf("%s-%05d", phase, seq)
		seq++
		mu.Lock()
		sent[p] = append(sent[p], v)
		mu.Unlock()
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Partition: p, Value: []byte(v)}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", v, err))
				mu.Unlock()
			}
		})
	}
	flush := func(what string) {
		t.Helper()
		if err := cl.Flush(ctx); err != nil {
			t.Fatalf("flush %s: %v", what, err)
		}
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("%s: %d records failed, first: %v", what, len(errs), errs[0])
		}
	}

	for range 30 {
		produce("before")
	}
	flush("before the restart")

	// Keep producing while the broker goes down and comes back.
	stop, stopped := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		defer func() { stopped <- n }()
		for ; n < 2000; n++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			produce("during")
		}
	}()
	time.Sleep(50 * time.Millisecond)
	rs := time.Now()
	if err := b.Restart(ctx); err != nil {
		close(stop)
		<-stopped
		t.Fatalf("restart: %v", err)
	}
	restart := time.Since(rs)
	close(stop)
	during := <-stopped

	for range 30 {
		produce("after")
	}
	flush("across the restart")
	t.Logf("restart took %s; %d records produced while it ran, %d in all", restart.Round(10*time.Millisecond), during, seq)

	seal(t, b, topic, partitions)
	got := readSealed(t, b, kgo.ReadUncommitted(), topic, partitions)
	for p := range int32(partitions) {
		if !slices.Equal(got[p], sent[p]) {
			t.Errorf("partition %d: read %d records, produced %d; %s", p, len(got[p]), len(sent[p]), firstDifference(got[p], sent[p]))
		}
	}
}

// firstDifference describes where got first departs from want, naming a
// duplicate when it is one.
func firstDifference(got, want []string) string {
	seen := map[string]int{}
	for i, v := range got {
		if j, dup := seen[v]; dup {
			return fmt.Sprintf("duplicate %s at %d and %d", v, j, i)
		}
		seen[v] = i
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("at %d read %s, produced %s", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("lengths differ (read %d, produced %d)", len(got), len(want))
}

// Both brokers speak the wire protocol the transaction cases rely on:
// transaction.version 2 (KIP-890 part 2: Produce v12+ adds partitions to the
// transaction implicitly, EndTxn v5+ bumps the epoch), so kgo takes the same
// transactional code path against each.
func testProtocol(t *testing.T, b *Backend) {
	ctx := ctxT(t, 15*time.Second)
	cl := newClient(t, b)
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	maxOf := map[int16]int16{}
	for _, k := range resp.ApiKeys {
		maxOf[k.ApiKey] = k.MaxVersion
	}
	var keys []string
	for _, k := range []kmsg.Key{kmsg.Produce, kmsg.Fetch, kmsg.InitProducerID, kmsg.AddPartitionsToTxn, kmsg.EndTxn, kmsg.TxnOffsetCommit} {
		keys = append(keys, fmt.Sprintf("%s v%d", k.Name(), maxOf[int16(k)]))
	}
	features := map[string]int16{}
	var fs []string
	for _, f := range resp.FinalizedFeatures {
		features[f.Name] = f.MaxVersionLevel
		fs = append(fs, fmt.Sprintf("%s=%d", f.Name, f.MaxVersionLevel))
	}
	slices.Sort(fs)
	t.Logf("%s: max versions %s; finalized features %s", b.Name, strings.Join(keys, ", "), strings.Join(fs, " "))
	if features["transaction.version"] < 2 {
		t.Errorf("transaction.version = %d, want 2 (KIP-890 part 2)", features["transaction.version"])
	}
	if maxOf[int16(kmsg.Produce)] < 12 || maxOf[int16(kmsg.EndTxn)] < 5 {
		t.Errorf("Produce v%d, EndTxn v%d: want at least v12 and v5 (KIP-890 part 2)", maxOf[int16(kmsg.Produce)], maxOf[int16(kmsg.EndTxn)])
	}
}

// A topic's max.message.bytes bounds a record batch as sent (after
// compression, headers included): a larger batch fails with
// MESSAGE_TOO_LARGE, and the same producer goes on to produce a small one.
func testMessageTooLarge(t *testing.T, b *Backend) {
	topic := newTopic(t, b, "big", 1, map[string]string{"max.message.bytes": "1024"})
	ctx := ctxT(t, 30*time.Second)
	// Uncompressed, so the batch's size on the wire is known exactly.
	cl := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordDeliveryTimeout(20*time.Second))
	produce := func(v []byte) error { return cl.ProduceSync(ctx, &kgo.Record{Value: v}).FirstErr() }

	var want []string
	check(t, b, "4KiB-refused", func(t *testing.T) {
		big := make([]byte, 4096)
		_, _ = rand.Read(big)
		err := produce(big)
		if !errors.Is(err, kerr.MessageTooLarge) {
			t.Fatalf("4 KiB record to a topic with max.message.bytes=1024: want MESSAGE_TOO_LARGE, got %v", err)
		}
		t.Logf("4 KiB record: %v", err)
	}, nil)
	check(t, b, "small-after-refusal", func(t *testing.T) {
		if err := produce([]byte("small")); err != nil {
			t.Fatalf("small record after a refused one: %v", err)
		}
		want = append(want, "small")
	}, nil)
	// One record with no key and no headers in a batch of its own:
	// 61 bytes of batch header (the 12 of offset and length included) and
	// 7 bytes of record framing + the value, when both varint lengths take
	// two bytes. A value of 954 bytes makes a batch of exactly 1024.
	check(t, b, "limit-is-inclusive", func(t *testing.T) {
		if err := produce([]byte(strings.Repeat("a", 954))); err != nil {
			t.Errorf("batch of exactly max.message.bytes (1024): %v", err)
		} else {
			want = append(want, strings.Repeat("a", 954))
		}
		if err := produce([]byte(strings.Repeat("b", 955))); !errors.Is(err, kerr.MessageTooLarge) {
			t.Errorf("batch of max.message.bytes+1 (1025): want MESSAGE_TOO_LARGE, got %v", err)
		}
	}, nil)
	seal(t, b, topic, 1)
	if got := readSealed(t, b, kgo.ReadUncommitted(), topic, 1)[0]; !slices.Equal(got, want) {
		t.Errorf("topic holds %d records %.40q, want %d %.40q", len(got), got, len(want), want)
	}
}

// Producing to a topic that does not exist fails with
// UNKNOWN_TOPIC_OR_PARTITION once kgo has seen the topic missing from
// metadata UnknownTopicRetries times, and neither broker creates it (auto
// creation is off), even for a client that asks for it.
func testUnknownTopic(t *testing.T, b *Backend) {
	for _, c := range []struct {
		name string
		opts []kgo.Opt
	}{
		{"produce-fails", nil},
		{"auto-create-request-refused", []kgo.Opt{kgo.AllowAutoTopicCreation()}},
	} {
		check(t, b, c.name, func(t *testing.T) {
			topic := uniqueName("missing")
			ctx := ctxT(t, 25*time.Second)
			cl := newClient(t, b, append([]kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.RecordDeliveryTimeout(20 * time.Second)}, c.opts...)...)
			start := time.Now()
			err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr()
			if !errors.Is(err, kerr.UnknownTopicOrPartition) {
				t.Fatalf("produce to missing topic %s: want UNKNOWN_TOPIC_OR_PARTITION, got %v", topic, err)
			}
			t.Logf("failed after %s: %v", time.Since(start).Round(10*time.Millisecond), err)
			topics, err := newAdmin(t, b).ListTopics(ctx)
			if err != nil {
				t.Fatalf("list topics: %v", err)
			}
			if topics.Has(topic) {
				t.Errorf("topic %s exists after the failed produce: the broker created it", topic)
			}
		}, nil)
	}
	check(t, b, "metadata", func(t *testing.T) {
		topic := uniqueName("missing")
		ctx := ctxT(t, 15*time.Second)
		m, err := newAdmin(t, b).Metadata(ctx, topic)
		if err != nil {
			t.Fatalf("metadata: %v", err)
		}
		if td, ok := m.Topics[topic]; !ok || !errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
			t.Errorf("metadata of missing topic: %+v, want UNKNOWN_TOPIC_OR_PARTITION", td)
		}
	}, nil)
}

// acks=all produces succeed on a one-replica topic; acks=1 and acks=0
// (which need idempotence off) too, and acks=all even when the topic's
// min.insync.replicas exceeds its replicas.
func testAcksAll(t *testing.T, b *Backend) {
	topic := newTopic(t, b, "acks", 1, nil)
	var want []string
	check(t, b, "all-isr", func(t *testing.T) {
		ctx := ctxT(t, 30*time.Second)
		cl := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
		var rs []*kgo.Record
		for i := range 10 {
			v := fmt.Sprintf("all-%d", i)
			rs = append(rs, &kgo.Record{Value: []byte(v)})
			want = append(want, v)
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("acks=all: %v", err)
		}
	}, nil)
	check(t, b, "leader-and-none", func(t *testing.T) {
		ctx := ctxT(t, 30*time.Second)
		for _, a := range []struct {
			name string
			acks kgo.Acks
		}{{"leader", kgo.LeaderAck()}, {"none", kgo.NoAck()}} {
			cl := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(a.acks), kgo.DisableIdempotentWrite())
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("acks-" + a.name)}).FirstErr(); err != nil {
				t.Fatalf("acks=%s: %v", a.name, err)
			}
			want = append(want, "acks-"+a.name)
		}
	}, nil)
	seal(t, b, topic, 1)
	if got := readSealed(t, b, kgo.ReadUncommitted(), topic, 1)[0]; !slices.Equal(got, want) {
		t.Errorf("read %q, want %q", got, want)
	}

	// min.insync.replicas=2 on a topic with one replica: Apache Kafka
	// caps the requirement at the replica count (Partition.effectiveMinIsr
	// = min(min.insync.replicas, replicas)), kfake ignores the setting; both
	// take the produce. NOT_ENOUGH_REPLICAS needs a follower out of the ISR,
	// which one broker cannot show.
	strict := newTopic(t, b, "min-isr", 1, map[string]string{"min.insync.replicas": "2"})
	check(t, b, "min-insync-above-replicas", func(t *testing.T) {
		ctx := ctxT(t, 15*time.Second)
		cl := newClient(t, b, kgo.DefaultProduceTopic(strict), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(5*time.Second))
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("all")}).FirstErr(); err != nil {
			t.Errorf("acks=all to a one-replica topic with min.insync.replicas=2: %v", err)
		}
	}, nil)
}

// txnClient returns a transactional producer.
func txnClient(t *testing.T, b *Backend, id string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newClient(t, b, append([]kgo.Opt{kgo.TransactionalID(id), kgo.TransactionTimeout(30 * time.Second)}, opts...)...)
}

// inTxn runs one transaction: begin, produce values to topic, flush, end.
func inTxn(ctx context.Context, cl *kgo.Client, commit kgo.TransactionEndTry, rs ...*kgo.Record) error {
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	if err := cl.EndTransaction(ctx, commit); err != nil {
		return fmt.Errorf("end (commit %v): %w", commit, err)
	}
	return nil
}

func recs(topic string, vs ...string) []*kgo.Record {
	var rs []*kgo.Record
	for _, v := range vs {
		rs = append(rs, &kgo.Record{Topic: topic, Value: []byte(v)})
	}
	return rs
}

// A read_committed consumer sees committed transactions and never aborted
// ones; a read_uncommitted one sees both.
func testTxnCommitAbort(t *testing.T, b *Backend) {
	topic := newTopic(t, b, "txn", 1, nil)
	ctx := ctxT(t, 45*time.Second)
	cl := txnClient(t, b, uniqueName("txn"))
	for _, tx := range []struct {
		commit kgo.TransactionEndTry
		vs     []string
	}{
		{kgo.TryCommit, []string{"c1", "c2"}},
		{kgo.TryAbort, []string{"a1", "a2"}},
		{kgo.TryCommit, []string{"c3"}},
	} {
		if err := inTxn(ctx, cl, tx.commit, recs(topic, tx.vs...)...); err != nil {
			t.Fatalf("transaction %v: %v", tx.vs, err)
		}
	}
	seal(t, b, topic, 1)
	check(t, b, "read-committed", func(t *testing.T) {
		if got := readSealed(t, b, kgo.ReadCommitted(), topic, 1)[0]; !slices.Equal(got, []string{"c1", "c2", "c3"}) {
			t.Errorf("read_committed read %q, want the committed c1 c2 c3", got)
		}
	}, nil)
	check(t, b, "read-uncommitted", func(t *testing.T) {
		if got := readSealed(t, b, kgo.ReadUncommitted(), topic, 1)[0]; !slices.Equal(got, []string{"c1", "c2", "a1", "a2", "c3"}) {
			t.Errorf("read_uncommitted read %q, want every data record c1 c2 a1 a2 c3", got)
		}
	}, nil)
}

// Records of an open transaction hold the last stable offset at the
// transaction's first record: read_committed sees none of them, nor a
// non-transactional record written after them, until the transaction ends;
// read_uncommitted sees all of them at once.
func testTxnOpenInvisible(t *testing.T, b *Backend) {
	topic := newTopic(t, b, "open", 1, nil)
	ctx := ctxT(t, 45*time.Second)
	cl := txnClient(t, b, uniqueName("open"))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, recs(topic, "o1", "o2")...).FirstErr(); err != nil {
		t.Fatalf("produce in the open transaction: %v", err)
	}
	plain := newClient(t, b, kgo.DefaultProduceTopic(topic))
	if err := plain.ProduceSync(ctx, recs(topic, "plain")...).FirstErr(); err != nil {
		t.Fatalf("non-transactional produce: %v", err)
	}
	check(t, b, "last-stable-offset", func(t *testing.T) {
		hwm, lso := offsets(t, b, topic)
		if hwm != 3 || lso != 0 {
			t.Errorf("high watermark %d and last stable offset %d, want 3 and 0 (the open transaction's first offset)", hwm, lso)
		}
	}, nil)
	check(t, b, "read-committed-sees-nothing", func(t *testing.T) {
		if got := pollFor(t, b, kgo.ReadCommitted(), 1500*time.Millisecond, -1, topic); len(got) != 0 {
			t.Errorf("read_committed read %q during the open transaction, want nothing", got)
		}
	}, nil)
	check(t, b, "read-uncommitted-sees-all", func(t *testing.T) {
		got := pollFor(t, b, kgo.ReadUncommitted(), 15*time.Second, 3, topic)
		if want := []string{topic + ":o1", topic + ":o2", topic + ":plain"}; !slices.Equal(got, want) {
			t.Errorf("read_uncommitted read %q, want %q", got, want)
		}
	}, nil)
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit: %v", err)
	}
	seal(t, b, topic, 1)
	check(t, b, "visible-after-commit", func(t *testing.T) {
		if got := readSealed(t, b, kgo.ReadCommitted(), topic, 1)[0]; !slices.Equal(got, []string{"o1", "o2", "plain"}) {
			t.Errorf("read_committed read %q after the commit, want o1 o2 plain", got)
		}
		if hwm, lso := offsets(t, b, topic); hwm != lso {
			t.Errorf("after the commit: high watermark %d, last stable offset %d, want equal", hwm, lso)
		}
	}, nil)
}

// isFenced reports whether err is one of the errors a fenced transactional
// producer may see.
func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}

// A second producer with the same transactional.id fences the first: once
// the second has initialised its producer id (on its first transactional
// produce), the first's next request fails as fenced — a produce (checked by
// the partition leader) or a commit (checked by the transaction
// coordinator) — the first's open transaction is aborted (its records never
// reach read_committed, and they no longer hold back the last stable
// offset), and the second's transaction commits.
func testTxnFencing(t *testing.T, b *Backend) {
	for _, next := range []string{"produce", "commit"} {
		check(t, b, "next-"+next, func(t *testing.T) {
			topic := newTopic(t, b, "fence", 1, nil)
			ctx := ctxT(t, 45*time.Second)
			id := uniqueName("fence")
			first := txnClient(t, b, id, kgo.RecordDeliveryTimeout(15*time.Second))
			if err := first.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			if err := first.ProduceSync(ctx, recs(topic, "first-open")...).FirstErr(); err != nil {
				t.Fatalf("first producer's first record: %v", err)
			}
			second := txnClient(t, b, id)
			if err := second.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			if err := second.ProduceSync(ctx, recs(topic, "second")...).FirstErr(); err != nil {
				t.Fatalf("second producer (same transactional.id): %v", err)
			}

			pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if next == "produce" {
				err := first.ProduceSync(pctx, recs(topic, "first-after-fence")...).FirstErr()
				t.Logf("%s: the fenced producer's produce: %v", b.Name, err)
				if !isFenced(err) {
					t.Errorf("fenced producer's produce: want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH, got %v", err)
				}
				// kgo does not send a commit after its producer id failed.
				if err := first.EndTransaction(pctx, kgo.TryCommit); !errors.Is(err, kerr.OperationNotAttempted) {
					t.Errorf("commit after the fenced produce: want kgo's OPERATION_NOT_ATTEMPTED, got %v", err)
				}
			} else {
				if err := first.Flush(pctx); err != nil {
					t.Fatal(err)
				}
				err := first.EndTransaction(pctx, kgo.TryCommit)
				t.Logf("%s: the fenced producer's commit: %v", b.Name, err)
				if !isFenced(err) {
					t.Errorf("fenced producer's commit: want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH, got %v", err)
				}
			}

			if err := second.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if err := second.EndTransaction(ctx, kgo.TryCommit); err != nil {
				t.Fatalf("second producer's commit: %v", err)
			}
			seal(t, b, topic, 1)
			if got := readSealed(t, b, kgo.ReadCommitted(), topic, 1)[0]; !slices.Equal(got, []string{"second"}) {
				t.Errorf("read_committed read %q, want only the second producer's record", got)
			}
			if got := readSealed(t, b, kgo.ReadUncommitted(), topic, 1)[0]; !slices.Equal(got, []string{"first-open", "second"}) {
				t.Errorf("read_uncommitted read %q, want first-open (aborted) and second", got)
			}
		}, nil)
	}
}

// A transaction over two topics commits atomically: while it is open
// neither topic's records are stable, after the commit both are; an aborted
// one leaves neither.
func testTxnTwoTopics(t *testing.T, b *Backend) {
	t1 := newTopic(t, b, "two-a", 1, nil)
	t2 := newTopic(t, b, "two-b", 1, nil)
	ctx := ctxT(t, 45*time.Second)
	cl := txnClient(t, b, uniqueName("two"))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, append(recs(t1, "x1"), recs(t2, "y1")...)...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	check(t, b, "both-unstable-while-open", func(t *testing.T) {
		for _, topic := range []string{t1, t2} {
			if hwm, lso := offsets(t, b, topic); hwm != 1 || lso != 0 {
				t.Errorf("%s while open: high watermark %d, last stable offset %d, want 1 and 0", topic, hwm, lso)
			}
		}
	}, nil)
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if err := inTxn(ctx, cl, kgo.TryAbort, append(recs(t1, "x2"), recs(t2, "y2")...)...); err != nil {
		t.Fatalf("aborted transaction: %v", err)
	}
	seal(t, b, t1, 1)
	seal(t, b, t2, 1)
	check(t, b, "commit-and-abort-atomic", func(t *testing.T) {
		got1 := readSealed(t, b, kgo.ReadCommitted(), t1, 1)[0]
		got2 := readSealed(t, b, kgo.ReadCommitted(), t2, 1)[0]
		if !slices.Equal(got1, []string{"x1"}) || !slices.Equal(got2, []string{"y1"}) {
			t.Errorf("read_committed read %q and %q, want the committed x1 and y1 only", got1, got2)
		}
	}, nil)
}

// Topic configuration as the replicator and the harness see it:
// DescribeConfigs reports max.message.bytes (what the replicator sizes its
// batches by), CreateTopics refuses what Kafka refuses, and the topic
// settings that change records on the broker side take effect.
func testTopicConfigs(t *testing.T, b *Backend) {
	adm := newAdmin(t, b)
	check(t, b, "describe-max-message-bytes", func(t *testing.T) {
		ctx := ctxT(t, 15*time.Second)
		set := newTopic(t, b, "cfg-set", 1, map[string]string{"max.message.bytes": "1024"})
		def := newTopic(t, b, "cfg-default", 1, nil)
		rcs, err := adm.DescribeTopicConfigs(ctx, set, def)
		if err != nil {
			t.Fatalf("describe configs: %v", err)
		}
		want := map[string]struct {
			value  string
			source kmsg.ConfigSource
		}{set: {"1024", kmsg.ConfigSourceDynamicTopicConfig}, def: {"1048588", kmsg.ConfigSourceDefaultConfig}}
		for _, rc := range rcs {
			w, ok := want[rc.Name]
			if !ok || rc.Err != nil {
				t.Errorf("describe %s: %v", rc.Name, rc.Err)
				continue
			}
			delete(want, rc.Name)
			found := false
			for _, c := range rc.Configs {
				if c.Key != "max.message.bytes" {
					continue
				}
				found = true
				if c.MaybeValue() != w.value || c.Source != w.source {
					t.Errorf("%s: max.message.bytes = %s (%s), want %s (%s)", rc.Name, c.MaybeValue(), c.Source, w.value, w.source)
				}
			}
			if !found {
				t.Errorf("%s: no max.message.bytes among %d configs", rc.Name, len(rc.Configs))
			}
		}
		for name := range want {
			t.Errorf("no configs described for %s", name)
		}
	}, nil)
	check(t, b, "create-errors", func(t *testing.T) {
		ctx := ctxT(t, 15*time.Second)
		existing := newTopic(t, b, "cfg-exists", 1, nil)
		for _, c := range []struct {
			what       string
			topic      string
			partitions int32
			replicas   int16
			want       error
		}{
			{"an existing topic", existing, 1, 1, kerr.TopicAlreadyExists},
			{"more replicas than brokers", uniqueName("cfg"), 1, 3, kerr.InvalidReplicationFactor},
			{"zero partitions", uniqueName("cfg"), 0, 1, kerr.InvalidPartitions},
		} {
			if _, err := adm.CreateTopic(ctx, c.partitions, c.replicas, nil, c.topic); !errors.Is(err, c.want) {
				t.Errorf("create %s: want %v, got %v", c.what, c.want, err)
			}
		}
	}, nil)
	for _, c := range []struct {
		check, key, value string
	}{
		{"create-unknown-config", "no.such.config", "1"},
		{"create-malformed-value", "max.message.bytes", "lots"},
	} {
		create := func(t *testing.T) error {
			ctx := ctxT(t, 15*time.Second)
			_, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{c.key: kadm.StringPtr(c.value)}, uniqueName("cfg"))
			return err
		}
		check(t, b, c.check, func(t *testing.T) {
			if err := create(t); !errors.Is(err, kerr.InvalidConfig) {
				t.Errorf("create a topic with %s=%s: want INVALID_CONFIG, got %v", c.key, c.value, err)
			}
		}, func(t *testing.T) {
			if err := create(t); err != nil {
				t.Errorf("kfake refused %s=%s (%v): it used to create the topic", c.key, c.value, err)
			}
		})
	}

	// A record produced with a timestamp of 2001 to a LogAppendTime topic.
	appendTime := func(t *testing.T) (got *kgo.Record, before time.Time) {
		ctx := ctxT(t, 15*time.Second)
		topic := newTopic(t, b, "cfg-lat", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
		cl := newClient(t, b, kgo.DefaultProduceTopic(topic))
		before = time.Now().Add(-time.Second)
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v"), Timestamp: producerTime}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		seal(t, b, topic, 1)
		rs := readSealedRecords(t, b, kgo.ReadUncommitted(), topic, 1)[0]
		if len(rs) != 1 {
			t.Fatalf("read %d records, want 1", len(rs))
		}
		return rs[0], before
	}
	check(t, b, "log-append-time", func(t *testing.T) {
		if r, before := appendTime(t); r.Timestamp.Before(before) || r.Attrs.TimestampType() != 1 {
			t.Errorf("record on a LogAppendTime topic: timestamp %s (type %d), want the broker's append time (type 1), not the producer's %s",
				r.Timestamp.UTC(), r.Attrs.TimestampType(), producerTime)
		}
	}, func(t *testing.T) {
		if r, _ := appendTime(t); !r.Timestamp.Equal(producerTime) || r.Attrs.TimestampType() != 0 {
			t.Errorf("kfake stored timestamp %s (type %d): it used to keep the producer's %s (type 0)", r.Timestamp.UTC(), r.Attrs.TimestampType(), producerTime)
		}
	})

	// The codec of an uncompressed batch produced to a gzip topic.
	codec := func(t *testing.T) uint8 {
		ctx := ctxT(t, 15*time.Second)
		topic := newTopic(t, b, "cfg-gzip", 1, map[string]string{"compression.type": "gzip"})
		cl := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()))
		v := strings.Repeat("z", 200)
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		seal(t, b, topic, 1)
		rs := readSealedRecords(t, b, kgo.ReadUncommitted(), topic, 1)[0]
		if len(rs) != 1 || string(rs[0].Value) != v {
			t.Fatalf("read %d records back, want the one produced", len(rs))
		}
		return rs[0].Attrs.CompressionType()
	}
	check(t, b, "broker-compression", func(t *testing.T) {
		if c := codec(t); c != 1 {
			t.Errorf("uncompressed batch on a compression.type=gzip topic is stored with codec %d, want 1 (gzip, recompressed by the broker)", c)
		}
	}, func(t *testing.T) {
		if c := codec(t); c != 0 {
			t.Errorf("kfake stored codec %d: it used to keep the producer's batch as sent (0, none)", c)
		}
	})
}

// producerTime is the timestamp a producer sets in log-append-time.
var producerTime = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// A transaction left open past its transaction.timeout.ms is aborted by the
// broker: the last stable offset moves past it, read_committed never sees
// its records, and the producer's late commit fails.
func testTxnTimeout(t *testing.T, b *Backend) {
	topic := newTopic(t, b, "txn-timeout", 1, nil)
	ctx := ctxT(t, time.Minute)
	cl := txnClient(t, b, uniqueName("timeout"), kgo.TransactionTimeout(time.Second))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, recs(topic, "timed-out")...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	start := time.Now()
	adm := newAdmin(t, b)
	for {
		// Apache Kafka looks for timed-out transactions every
		// transaction.abort.timed.out.transaction.cleanup.interval.ms
		// (10 s by default).
		ends, err1 := adm.ListEndOffsets(ctx, topic)
		stable, err2 := adm.ListCommittedOffsets(ctx, topic)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("list offsets: %v", err)
		}
		e, _ := ends.Lookup(topic, 0)
		s, _ := stable.Lookup(topic, 0)
		if s.Offset > 0 && s.Offset == e.Offset {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("transaction open for %s with a 1 s timeout: high watermark %d, last stable offset %d", time.Since(start).Round(time.Second), e.Offset, s.Offset)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%s aborted the timed-out transaction %s after its produce", b.Name, time.Since(start).Round(100*time.Millisecond))
	check(t, b, "late-commit-fails", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := cl.Flush(cctx); err != nil {
			t.Fatal(err)
		}
		err := cl.EndTransaction(cctx, kgo.TryCommit)
		t.Logf("%s: commit after the timeout: %v", b.Name, err)
		if err == nil {
			t.Errorf("commit of a transaction the broker aborted succeeded")
		}
	}, nil)
	seal(t, b, topic, 1)
	check(t, b, "records-never-visible", func(t *testing.T) {
		if got := readSealed(t, b, kgo.ReadCommitted(), topic, 1)[0]; len(got) != 0 {
			t.Errorf("read_committed read %q from a timed-out transaction", got)
		}
	}, nil)
}
