package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/fakes/kafka"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newCluster(t *testing.T, opts ...kafka.Option) *kafka.Cluster {
	t.Helper()
	c, err := kafka.New(testCtx(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func client(t *testing.T, c *kafka.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(c.Brokers()...),
		kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }),
		// NOT_LEADER makes kgo refresh metadata, at most once per min age
		// (5 s by default); keep the tests quick.
		kgo.MetadataMinAge(50 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produce(t *testing.T, cl *kgo.Client, topic, prefix string, n int) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i % 7)), Value: fmt.Appendf(nil, "%s-%03d", prefix, i)}
	}
	if err := cl.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce %s: %v", prefix, err)
	}
}

// consume reads topic from the start until want records arrived and returns
// their values (sorted).
func consume(t *testing.T, c *kafka.Cluster, topic string, want int, opts ...kgo.Opt) []string {
	t.Helper()
	cl := client(t, c, append([]kgo.Opt{
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, opts...)...)
	ctx := testCtx(t)
	var got []string
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records from %s", len(got), want, topic)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	slices.Sort(got)
	return got
}

// endOffsets sums the topic's high watermarks: for non-transactional
// produce, the number of records ever appended.
func endOffsets(t *testing.T, c *kafka.Cluster, topic string) int64 {
	t.Helper()
	adm := kadm.NewClient(client(t, c))
	offs, err := adm.ListEndOffsets(testCtx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	offs.Each(func(o kadm.ListedOffset) { sum += o.Offset })
	return sum
}

func values(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}

func assertExactly(t *testing.T, got []string, want ...[]string) {
	t.Helper()
	all := slices.Concat(want...)
	slices.Sort(all)
	if !slices.Equal(got, all) {
		t.Fatalf("got %d records %v\nwant %d %v", len(got), got, len(all), all)
	}
}

func TestProduceConsumeRoundTrip(t *testing.T) {
	c := newCluster(t, kafka.WithTopic("orders", 3))
	if len(c.Brokers()) != 1 {
		t.Fatalf("brokers = %v", c.Brokers())
	}
	produce(t, client(t, c), "orders", "a", 50)
	assertExactly(t, consume(t, c, "orders", 50), values("a", 50))

	if err := c.CreateTopic(testCtx(t), "more", 2); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTopic(testCtx(t), "more", 2); err != nil {
		t.Fatalf("re-creating an existing topic: %v", err)
	}
	produce(t, client(t, c), "more", "m", 5)
	assertExactly(t, consume(t, c, "more", 5), values("m", 5))
}

func TestRestartKeepsDataAndAddress(t *testing.T) {
	c := newCluster(t, kafka.WithTopic("orders", 2))
	before := c.Brokers()
	producer := client(t, c)
	produce(t, producer, "orders", "a", 20)

	if err := c.Restart(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if after := c.Brokers(); !slices.Equal(before, after) {
		t.Fatalf("brokers moved: %v -> %v", before, after)
	}
	// The same producer reconnects to the same address and carries on.
	produce(t, producer, "orders", "b", 20)
	assertExactly(t, consume(t, c, "orders", 40), values("a", 20), values("b", 20))
	if n := endOffsets(t, c, "orders"); n != 40 {
		t.Fatalf("end offsets sum = %d, want 40", n)
	}
}

func TestStopStart(t *testing.T) {
	c := newCluster(t, kafka.WithTopic("orders", 1))
	producer := client(t, c)
	produce(t, producer, "orders", "a", 5)

	c.Stop()
	if c.Running() || c.Kfake() != nil {
		t.Fatal("still running after Stop")
	}
	if err := c.MoveLeader("orders", 0); err == nil {
		t.Error("MoveLeader on a stopped cluster succeeded")
	}
	for _, addr := range c.Brokers() {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			t.Fatalf("broker %s still accepts connections after Stop", addr)
		}
	}
	if err := c.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	// The producer from before the outage reconnects.
	produce(t, producer, "orders", "b", 5)
	assertExactly(t, consume(t, c, "orders", 10), values("a", 5), values("b", 5))
}

func TestFailProduceIdempotentRetryNoDuplicates(t *testing.T) {
	c := newCluster(t, kafka.WithTopic("orders", 1))
	producer := client(t, c) // idempotent by default in franz-go
	produce(t, producer, "orders", "warm", 1)

	c.FailProduce("orders", kerr.NotLeaderForPartition.Code, 2)
	produce(t, producer, "orders", "a", 30)
	if hits := c.FaultHits(); hits != 2 {
		t.Fatalf("fault answered %d produce requests, want 2", hits)
	}
	assertExactly(t, consume(t, c, "orders", 31), values("warm", 1), values("a", 30))
	if n := endOffsets(t, c, "orders"); n != 31 {
		t.Fatalf("end offsets = %d, want 31 (a rejected request must not append)", n)
	}
}

func TestFailProduceNonRetriableCodeReachesProducer(t *testing.T) {
	c := newCluster(t, kafka.WithTopic("orders", 1))
	producer := client(t, c)
	produce(t, producer, "orders", "warm", 1)
	c.FailProduce("orders", kerr.MessageTooLarge.Code, 1)
	err := producer.ProduceSync(testCtx(t), &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("want MESSAGE_TOO_LARGE, got %v", err)
	}
}

func TestTimeoutAfterAppend(t *testing.T) {
	t.Run("idempotent producer: no duplicates", func(t *testing.T) {
		c := newCluster(t, kafka.WithTopic("orders", 1))
		producer := client(t, c)
		produce(t, producer, "orders", "warm", 1)
		c.TimeoutAfterAppend("orders", 1)
		produce(t, producer, "orders", "a", 10)
		if hits := c.FaultHits(); hits != 1 {
			t.Fatalf("fault hits = %d, want 1", hits)
		}
		if n := endOffsets(t, c, "orders"); n != 11 {
			t.Fatalf("end offsets = %d, want 11: the retry of an appended batch was not deduplicated", n)
		}
		assertExactly(t, consume(t, c, "orders", 11), values("warm", 1), values("a", 10))
	})
	t.Run("plain producer: the append happened, the retry duplicates", func(t *testing.T) {
		c := newCluster(t, kafka.WithTopic("orders", 1))
		producer := client(t, c, kgo.DisableIdempotentWrite())
		produce(t, producer, "orders", "warm", 1)
		c.TimeoutAfterAppend("orders", 1)
		produce(t, producer, "orders", "a", 10)
		if n := endOffsets(t, c, "orders"); n != 21 {
			t.Fatalf("end offsets = %d, want 21 (appended, timed out, appended again)", n)
		}
	})
}

func TestTransactionsReadCommitted(t *testing.T) {
	c := newCluster(t, kafka.WithTopic("orders", 2))
	ctx := testCtx(t)
	producer := client(t, c, kgo.TransactionalID("shard-0"))

	txn := func(prefix string, n int, commit bool) {
		if err := producer.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		produce(t, producer, "orders", prefix, n)
		if err := producer.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end transaction %s: %v", prefix, err)
		}
	}
	txn("committed", 10, true)
	txn("aborted", 10, false)
	txn("later", 5, true)

	assertExactly(t, consume(t, c, "orders", 15, kgo.FetchIsolationLevel(kgo.ReadCommitted())),
		values("committed", 10), values("later", 5))
	// read_uncommitted does see the aborted records.
	assertExactly(t, consume(t, c, "orders", 25),
		values("committed", 10), values("aborted", 10), values("later", 5))
}

func TestFencedProducerOpenTransactionIsAborted(t *testing.T) {
	c := newCluster(t, kafka.WithTopic("orders", 1))
	ctx := testCtx(t)
	zombie := client(t, c, kgo.TransactionalID("shard-0"))
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(t, zombie, "orders", "zombie", 5) // flushed, not committed

	successor := client(t, c, kgo.TransactionalID("shard-0"))
	if err := successor.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(t, successor, "orders", "successor", 5) // InitProducerID fences the zombie
	if err := successor.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("successor commit: %v", err)
	}

	if err := zombie.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("fenced producer committed")
	}
	// The zombie's records were aborted: read_committed never shows them and
	// the successor's records are not held back behind an open transaction.
	assertExactly(t, consume(t, c, "orders", 5, kgo.FetchIsolationLevel(kgo.ReadCommitted())),
		values("successor", 5))
}

func TestMoveLeader(t *testing.T) {
	c := newCluster(t, kafka.WithBrokers(3), kafka.WithTopic("orders", 1))
	if len(c.Brokers()) != 3 {
		t.Fatalf("brokers = %v", c.Brokers())
	}
	producer := client(t, c)
	produce(t, producer, "orders", "a", 5)
	before := c.LeaderFor("orders", 0)
	if err := c.MoveLeader("orders", 0); err != nil {
		t.Fatal(err)
	}
	if after := c.LeaderFor("orders", 0); after == before || after < 0 {
		t.Fatalf("leader %d -> %d", before, after)
	}
	produce(t, producer, "orders", "b", 5)
	assertExactly(t, consume(t, c, "orders", 10), values("a", 5), values("b", 5))
	if err := c.MoveLeader("missing", 0); err == nil {
		t.Error("MoveLeader of a missing topic succeeded")
	}
}

func TestSetLatency(t *testing.T) {
	c := newCluster(t, kafka.WithTopic("orders", 1))
	producer := client(t, c)
	produce(t, producer, "orders", "warm", 1)

	const d = 100 * time.Millisecond
	c.SetLatency(d)
	start := time.Now()
	produce(t, producer, "orders", "slow", 1)
	// Only a lower bound: at least one request waited d.
	if el := time.Since(start); el < d {
		t.Fatalf("produce took %v with %v latency", el, d)
	}
	// Latency survives a restart.
	if err := c.Restart(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	produce(t, producer, "orders", "slow-again", 1)
	if el := time.Since(start); el < d {
		t.Fatalf("after restart produce took %v with %v latency", el, d)
	}
	c.SetLatency(0)
	produce(t, producer, "orders", "fast", 1)
	c.SetLatency(d) // re-installs after the control function removed itself
	start = time.Now()
	produce(t, producer, "orders", "slow-3", 1)
	if el := time.Since(start); el < d {
		t.Fatalf("re-enabled latency: produce took %v", el)
	}
}

func TestWithDataDirOutlivesCluster(t *testing.T) {
	dir := t.TempDir()
	c1, err := kafka.New(testCtx(t), kafka.WithDataDir(dir), kafka.WithTopic("orders", 1))
	if err != nil {
		t.Fatal(err)
	}
	produce(t, client(t, c1), "orders", "a", 3)
	c1.Close()
	c2 := newCluster(t, kafka.WithDataDir(dir), kafka.WithTopic("orders", 1), kafka.WithTopic("extra", 1))
	assertExactly(t, consume(t, c2, "orders", 3), values("a", 3))
	if c2.Kfake().TopicInfo("extra") == nil {
		t.Error("topic added by WithTopic on a reloaded data dir is missing")
	}
}

func TestAdvertisedHost(t *testing.T) {
	c := newCluster(t, kafka.WithListenHost("0.0.0.0"), kafka.WithAdvertisedHost("localhost"), kafka.WithTopic("orders", 1))
	brokers := c.Brokers()
	host, _, err := net.SplitHostPort(brokers[0])
	if err != nil || host != "localhost" {
		t.Fatalf("brokers = %v", brokers)
	}
	produce(t, client(t, c), "orders", "a", 3)
	if err := c.Restart(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Brokers(), brokers) {
		t.Fatalf("brokers moved: %v -> %v", brokers, c.Brokers())
	}
	assertExactly(t, consume(t, c, "orders", 3), values("a", 3))
}
