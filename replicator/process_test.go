package replicator_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/replicator"
	"github.com/shardbridge/shardbridge/replicator/config"
	"github.com/shardbridge/shardbridge/replicator/kpl"
	"github.com/shardbridge/shardbridge/replicator/lease"
	"github.com/shardbridge/shardbridge/replicator/process"
	"github.com/shardbridge/shardbridge/replicator/source"
)

// failEvery fails the records whose per-key counter is n mod 10.
func failEvery(n int) process.Transformer {
	return process.TransformerFunc(func(_ context.Context, r process.Record) ([]process.Record, error) {
		var key string
		var i int
		if _, err := fmt.Sscanf(strings.Replace(string(r.Data), ":", " ", 1), "%s %d", &key, &i); err == nil && i%10 == n {
			return nil, errors.New("poison record")
		}
		return []process.Record{r}, nil
	})
}

func split(ws []putRecord, bad func(putRecord) bool) (good, poison []putRecord) {
	for _, w := range ws {
		if bad(w) {
			poison = append(poison, w)
		} else {
			good = append(good, w)
		}
	}
	return good, poison
}

func readTopic(t *testing.T, e *testEnv, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := readAll(ctx, e.kafka.Brokers(), topic)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

// Records a transform fails, and a record larger than the topic's
// max.message.bytes, go to the dead-letter topic with their original bytes
// and headers naming stage, error and source position.
func TestDeadLetterTopic(t *testing.T) {
	e := newTestEnv(t, 2, 2)
	if err := e.kafka.CreateTopic(context.Background(), "orders-dlq", 1); err != nil {
		t.Fatal(err)
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(e.kafka.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	maxBytes := "4000"
	if _, err := kadm.NewClient(adm).AlterTopicConfigs(context.Background(),
		[]kadm.AlterConfig{{Name: "max.message.bytes", Value: &maxBytes}}, e.topic); err != nil {
		t.Fatal(err)
	}

	e.write(20, 10)
	big := bytes.Repeat([]byte("x"), 6000)
	put, err := e.kinAPI.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String(e.stream),
		PartitionKey: aws.String("big"), Data: big})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.config("w1")
	cfg.DLQTopic = "orders-dlq"
	in := e.start(cfg, replicator.WithTransformer(failEvery(3)))

	good, poison := split(e.writtenRecords(), func(w putRecord) bool { return w.N%10 == 3 })
	e.waitTopic(e.topic, good, 20*time.Second)
	poison = append(poison, putRecord{Shard: aws.ToString(put.ShardId), Seq: aws.ToString(put.SequenceNumber),
		SubSeq: -1, Key: "big", N: -1, Data: big})
	e.waitTopic("orders-dlq", poison, 20*time.Second) // all there, nothing else
	var sawBig bool
	for _, r := range readTopic(t, e, "orders-dlq") {
		switch header(r, "kinesis.seq") {
		case aws.ToString(put.SequenceNumber):
			sawBig = true
			if !bytes.Equal(r.Value, big) || header(r, "dlq.stage") != process.StageSize || header(r, "kinesis.shard") != aws.ToString(put.ShardId) {
				t.Errorf("big record in DLQ: stage %q, %d bytes", header(r, "dlq.stage"), len(r.Value))
			}
		default:
			if header(r, "dlq.stage") != process.StageTransform || !strings.Contains(header(r, "dlq.error"), "poison record") {
				t.Errorf("DLQ headers %v", r.Headers)
			}
		}
	}
	if !sawBig {
		t.Error("the record above max.message.bytes is not in the dead-letter topic")
	}
	if st := in.r.Stats(); st.RecordsDLQ < int64(len(poison)) {
		t.Errorf("RecordsDLQ = %d, want at least %d", st.RecordsDLQ, len(poison))
	}
	if v := in.metric(t, "replicator_records_dlq_total"); v < float64(len(poison)) {
		t.Errorf("replicator_records_dlq_total = %v, want at least %d", v, len(poison))
	}
	if v := in.metric(t, "replicator_bytes_dlq_total"); v < float64(len(big)) {
		t.Errorf("replicator_bytes_dlq_total = %v, want at least %d", v, len(big))
	}
	if !e.logged(t, "record sent to the dead-letter topic", "stage", process.StageSize, "seq", aws.ToString(put.SequenceNumber)) {
		t.Error("no JSON log line of the oversized record's dead-lettering")
	}
}

// Without a dead-letter topic a poison record halts its shard: nothing after
// it is written, the shard keeps its lease, the other shards carry on.
func TestPoisonRecordWithoutDLQHaltsShard(t *testing.T) {
	e := newTestEnv(t, 2, 2)
	e.write(10, 10)
	in := e.start(e.config("w1"), replicator.WithTransformer(process.TransformerFunc(
		func(_ context.Context, r process.Record) ([]process.Record, error) {
			if string(r.Data) == "key-000:5" {
				return nil, errors.New("poison record")
			}
			return []process.Record{r}, nil
		})))
	var poison putRecord
	for _, w := range e.writtenRecords() {
		if w.Key == "key-000" && w.N == 5 {
			poison = w
		}
	}
	eventually(t, 20*time.Second, "the poisoned shard to halt", func() bool {
		return in.r.Stats().Shards[poison.Shard].Halted != ""
	})
	// Every record before the poison one in its shard, and all of the other
	// shard, is delivered; nothing at or after it in its shard is.
	var before []putRecord
	for _, w := range e.writtenRecords() {
		if w.Shard != poison.Shard || seqLess(w.Seq, poison.Seq) {
			before = append(before, w)
		}
	}
	e.waitTopic(e.topic, before, 20*time.Second)
	for _, r := range readTopic(t, e, e.topic) {
		if header(r, "kinesis.shard") == poison.Shard && !seqLess(header(r, "kinesis.seq"), poison.Seq) {
			t.Fatalf("record %s written after the halted record %s", header(r, "kinesis.seq"), poison.Seq)
		}
	}
	if h := in.r.Stats().Shards[poison.Shard].Halted; !strings.Contains(h, "REPLICATOR_DLQ_TOPIC") {
		t.Errorf("halt reason %q does not point at the setting", h)
	}
	for _, l := range e.leases() {
		if l.ShardID == poison.Shard && l.Owner != "w1" {
			t.Errorf("halted shard's lease owned by %q, want kept by w1", l.Owner)
		}
	}
}

func seqLess(a, b string) bool {
	x, _ := new(big.Int).SetString(a, 10)
	y, _ := new(big.Int).SetString(b, 10)
	return x.Cmp(y) < 0
}

func TestShardPartitioning(t *testing.T) {
	// Shards 2 and 3 of a 2-partition topic wait, keeping their leases, say
	// so in the log and the metric, and start without a restart once the
	// topic grows; shard n still lands in partition n.
	t.Run("waits for the topic to grow", func(t *testing.T) {
		e := newTestEnv(t, 4, 2)
		cfg := e.config("w1")
		cfg.Partitioning = config.PartitionByShard
		cfg.ShardSyncInterval = time.Second // the recheck interval
		in := e.start(cfg)
		e.write(5, 20)
		eventually(t, 20*time.Second, "shards 2 and 3 to wait for their partitions", func() bool {
			return in.metric(t, "replicator_shards_waiting_for_partition") == 2
		})
		if !e.logged(t, replicator.MsgWaitingForPartition, "shard", "shardId-000000000003", "partition", "3", "partitions", "2") {
			t.Error("no log line naming the missing partition 3")
		}
		if in.r.Stats().LeasesHeld != 4 {
			t.Errorf("holds %d leases while waiting, want all 4", in.r.Stats().LeasesHeld)
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if _, err := kadm.NewClient(cl).CreatePartitions(context.Background(), 2, e.topic); err != nil {
			t.Fatal(err)
		}
		e.waitDelivered(30 * time.Second)
		if v := in.metric(t, "replicator_shards_waiting_for_partition"); v != 0 {
			t.Errorf("replicator_shards_waiting_for_partition = %v after the topic grew", v)
		}
		for _, r := range readTopic(t, e, e.topic) {
			if want := fmt.Sprintf("shardId-%012d", r.Partition); header(r, "kinesis.shard") != want {
				t.Fatalf("record of %s in partition %d", header(r, "kinesis.shard"), r.Partition)
			}
		}
	})
	t.Run("shard n goes to partition n", func(t *testing.T) {
		e := newTestEnv(t, 2, 3)
		cfg := e.config("w1")
		cfg.Partitioning = config.PartitionByShard
		e.start(cfg)
		e.write(5, 20)
		e.waitDelivered(20 * time.Second)
		for _, r := range readTopic(t, e, e.topic) {
			if want := fmt.Sprintf("shardId-%012d", r.Partition); header(r, "kinesis.shard") != want {
				t.Fatalf("record of %s in partition %d", header(r, "kinesis.shard"), r.Partition)
			}
		}
	})
}

// KPL aggregates: sub-records become Kafka records keyed by their own
// partition keys, a sub-record outside the shard's hash range is delivered
// and counted (Kinesis holds it nowhere else: amazon-kinesis-client#343),
// checkpoints are (sequence, subsequence) and a restart skips what they cover.
// KPL aggregates in both delivery modes: every sub-record once, checkpoints
// at sub-record positions (in exactly-once mode in the checkpoint topic
// too), a restart from them replays nothing.
func TestKPLAggregates(t *testing.T) {
	for _, mode := range []string{config.AtLeastOnce, config.ExactlyOnce} {
		t.Run(mode, func(t *testing.T) { kplAggregates(t, mode) })
	}
}

func kplAggregates(t *testing.T, mode string) {
	e := newTestEnv(t, 2, 2)
	cfgFor := func(worker string) config.Config {
		c := e.config(worker)
		c.DeliveryMode = mode
		return c
	}
	shards, err := source.ListShards(context.Background(), e.kinAPI, e.stream)
	if err != nil {
		t.Fatal(err)
	}
	shardFor := func(key string) int {
		sum := md5.Sum([]byte(key))
		h := new(big.Int).SetBytes(sum[:])
		for i, s := range shards {
			lo, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
			hi, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
			if h.Cmp(lo) >= 0 && h.Cmp(hi) <= 0 {
				return i
			}
		}
		t.Fatalf("no shard for %s", key)
		return -1
	}
	byShard := map[int][]string{}
	for k := 0; len(byShard[0]) < 5 || len(byShard[1]) < 5; k++ {
		key := fmt.Sprintf("kpl-%d", k)
		byShard[shardFor(key)] = append(byShard[shardFor(key)], key)
	}
	next := map[string]int{}
	var written []putRecord
	writeAggregates := func(rounds int, stray bool) {
		for range rounds {
			for s := 0; s < 2; s++ {
				var subs []kpl.SubRecord
				keys := byShard[s][:5]
				for _, k := range keys {
					subs = append(subs, kpl.SubRecord{PartitionKey: k, Data: payload(k, next[k])})
				}
				if stray { // a key of the other shard: the KCL drops it, losing it
					subs = append(subs, kpl.SubRecord{PartitionKey: byShard[1-s][0], Data: []byte("stray")})
				}
				data, err := kpl.Aggregate(subs)
				if err != nil {
					t.Fatal(err)
				}
				res, err := e.kinAPI.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String(e.stream),
					PartitionKey: aws.String(keys[0]), Data: data})
				if err != nil {
					t.Fatal(err)
				}
				for i, k := range keys {
					written = append(written, putRecord{Shard: aws.ToString(res.ShardId), Seq: aws.ToString(res.SequenceNumber),
						SubSeq: int64(i), Key: k, N: next[k]})
					next[k]++
				}
				if stray { // its key's order spans two shards: not judged
					written = append(written, putRecord{Shard: aws.ToString(res.ShardId), Seq: aws.ToString(res.SequenceNumber),
						SubSeq: int64(len(keys)), Key: byShard[1-s][0], N: -1, Data: []byte("stray")})
				}
			}
		}
	}
	writeAggregates(5, false)
	writeAggregates(1, true)
	in := e.start(cfgFor("w1"))
	rep := e.waitTopic(e.topic, written, 20*time.Second)
	if rep.Read != len(written) {
		t.Errorf("read %d records, want exactly the %d sub-records, the 2 strays included: %s", rep.Read, len(written), rep)
	}
	if st := in.r.Stats(); st.Filtered != 0 || st.OutOfRange != 2 {
		t.Errorf("filtered %d, out of range %d: want the 2 strays delivered and counted", st.Filtered, st.OutOfRange)
	}
	if err := in.stop(t); err != nil {
		t.Fatal(err)
	}
	for _, l := range e.leases() {
		if l.SubSequence != 5 { // the stray sub-record, index 5, is the last
			t.Errorf("lease %s checkpoint %s/%d, want subsequence 5", l.ShardID, l.Checkpoint, l.SubSequence)
		}
		if mode == config.ExactlyOnce {
			if v, found := e.lastCommitted(t, l.ShardID); !found || v.Sequence != l.Checkpoint || v.SubSequence != 5 {
				t.Errorf("shard %s: checkpoint topic %+v (found %v), want %s/5", l.ShardID, v, found, l.Checkpoint)
			}
		}
	}
	e.start(cfgFor("w2"))
	writeAggregates(2, false)
	if rep := e.waitTopic(e.topic, written, 20*time.Second); rep.Duplicates != 0 {
		t.Errorf("restart from a sub-record checkpoint replayed %d records", rep.Duplicates)
	}
}

// With LATEST, records written before the shards are first read are not
// replicated; everything after is.
func TestInitialPositionLatest(t *testing.T) {
	e := newTestEnv(t, 2, 2)
	e.write(5, 10)
	old := e.writtenRecords()
	cfg := e.config("w1")
	cfg.InitialPosition = config.Latest
	in := e.start(cfg)
	eventually(t, 10*time.Second, "both shards polled", func() bool { return len(in.r.Stats().Shards) == 2 })
	e.write(5, 10)
	fresh := e.writtenRecords()[len(old):]
	rep := e.waitTopic(e.topic, fresh, 20*time.Second)
	if rep.Read != len(fresh) || rep.Unknown != 0 {
		t.Errorf("LATEST: %s", rep)
	}
	if err := in.stop(t); err != nil {
		t.Fatal(err)
	}
	for _, l := range e.leases() {
		if l.Checkpoint == lease.Latest {
			t.Errorf("lease %s still at LATEST after records were delivered", l.ShardID)
		}
	}
}

// Unreachable dependencies at start: a clear error after the bounded retry.
func TestStartupFailsClearly(t *testing.T) {
	e := newTestEnv(t, 1, 1)
	for _, tc := range []struct {
		name string
		mod  func(*config.Config)
		opts []replicator.Option
		want string
	}{
		{"kafka unreachable", func(c *config.Config) { c.KafkaBrokers = []string{"127.0.0.1:1"} }, nil, "kafka"},
		{"topic missing", func(c *config.Config) { c.KafkaTopic = "nope" }, nil, `KAFKA_TOPIC: topic "nope" does not exist`},
		{"stream missing", func(c *config.Config) { c.StreamName = "nope" }, nil, "kinesis stream nope"},
		{"dynamodb unreachable", nil, []replicator.Option{replicator.WithDynamoDBClient(unreachableDynamoDB(t))}, "dynamodb lease table"},
		{"kinesis unreachable", nil, []replicator.Option{replicator.WithKinesisClient(unreachableKinesis(t))}, "kinesis stream orders: still failing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.config("w1")
			cfg.StartupTimeout = 800 * time.Millisecond
			if tc.mod != nil {
				tc.mod(&cfg)
			}
			in := e.start(cfg, tc.opts...)
			select {
			case err := <-in.done:
				in.done <- err
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Run = %v, want an error containing %q", err, tc.want)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("start-up hangs")
			}
		})
	}
}

func unreachableDynamoDB(t *testing.T) *dynamodb.Client {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	return dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
}

func unreachableKinesis(t *testing.T) *kinesis.Client {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	return kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
}
