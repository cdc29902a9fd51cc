package partition

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Vectors of Apache Kafka's UtilsTest.testMurmur2
// (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
var kafkaVectors = []struct {
	in   string
	want int32
}{
	{"21", -973932308},
	{"foobar", -790332482},
	{"a-little-bit-long-string", -985981536},
	{"a-little-bit-longer-string", -1486304829},
	{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
	{"abc", 479470107},
}

func TestMurmur2KafkaVectors(t *testing.T) {
	for _, v := range kafkaVectors {
		if got := Murmur2([]byte(v.in)); got != v.want {
			t.Errorf("Murmur2(%q) = %d, want %d", v.in, got, v.want)
		}
	}
}

func TestKeyPartitionMasksSignBit(t *testing.T) {
	// toPositive(-790332482) = 1357151166 (mask, not abs); % 50 = 16, whereas
	// abs would give 790332482 % 50 = 32.
	if got := KeyPartition([]byte("foobar"), 50); got != 16 {
		t.Fatalf("KeyPartition(foobar, 50) = %d, want 16", got)
	}
	for _, v := range kafkaVectors {
		want := int32(int64(uint32(v.want)&0x7fffffff) % 7)
		if got := KeyPartition([]byte(v.in), 7); got != want {
			t.Errorf("KeyPartition(%q, 7) = %d, want %d", v.in, got, want)
		}
	}
}

// franz-go's default key partitioner must agree with the reference on every
// key, or Kafka-native producers and the replicator would disagree.
func TestKeyPartitionerAgreesWithReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	tp := KeyPartitioner().ForTopic("t")
	for i := range 20000 {
		key := make([]byte, rng.Intn(64))
		rng.Read(key)
		if i%2 == 0 { // also typical Kinesis keys: printable strings
			key = fmt.Appendf(nil, "user-%d", rng.Int63())
		}
		n := int32(1 + rng.Intn(512))
		if got, want := tp.Partition(&kgo.Record{Key: key}, int(n)), KeyPartition(key, n); int32(got) != want {
			t.Fatalf("key %q, %d partitions: franz-go chose %d, reference %d", key, n, got, want)
		}
	}
	if !tp.RequiresConsistency(&kgo.Record{Key: []byte{}}) {
		t.Fatal("an empty (non-nil) key must be hashed, not sprayed")
	}
}

func TestShardIndex(t *testing.T) {
	good := map[string]int{
		"shardId-000000000000": 0,
		"shardId-000000000007": 7,
		"shardId-000000001234": 1234,
		"shardId-7":            7,
	}
	for id, want := range good {
		if got, err := ShardIndex(id); err != nil || got != want {
			t.Errorf("ShardIndex(%q) = %d, %v; want %d", id, got, err, want)
		}
	}
	for _, id := range []string{"", "shardId-", "shard-0001", "shardId--1", "shardId-+1", "shardId-12a", "shardId-99999999999999"} {
		if _, err := ShardIndex(id); err == nil {
			t.Errorf("ShardIndex(%q) succeeded", id)
		}
	}
}

func TestShardPartition(t *testing.T) {
	if p, err := ShardPartition("shardId-000000000003", 4); err != nil || p != 3 {
		t.Fatalf("ShardPartition = %d, %v; want 3", p, err)
	}
	if _, err := ShardPartition("shardId-000000000004", 4); err == nil || !strings.Contains(err.Error(), "4 partitions") {
		t.Fatalf("shard 4 of a 4-partition topic: %v", err)
	}
}

func TestCheckShardPartitions(t *testing.T) {
	// 4-shard stream after splitting shard 0: shards 1..5 open.
	open := []string{"shardId-000000000001", "shardId-000000000002", "shardId-000000000003", "shardId-000000000004", "shardId-000000000005"}
	if err := CheckShardPartitions(open, 6); err != nil {
		t.Fatal(err)
	}
	err := CheckShardPartitions(open, 5)
	if err == nil || !strings.Contains(err.Error(), "at least 6 partitions") || !strings.Contains(err.Error(), "shardId-000000000005") {
		t.Fatalf("5 open shards numbered up to 5 on 5 partitions: %v", err)
	}
	if err := CheckShardPartitions([]string{"bogus"}, 10); err == nil {
		t.Fatal("bad shard id accepted")
	}
	if err := CheckShardPartitions(nil, 1); err != nil {
		t.Fatalf("no shards: %v", err)
	}
}

// Both partitioners end to end against an in-process broker: keyed records
// land where KeyPartition says, shard records where Record.Partition says,
// and a shard partition that does not exist fails instead of being re-routed.
func TestPartitionersProduce(t *testing.T) {
	const parts = 8
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, "keyed", "sharded"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	keyed, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("keyed"), kgo.RecordPartitioner(KeyPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer keyed.Close()
	var recs []*kgo.Record
	for i := range 50 {
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "pk-%d", i), Value: []byte("v")})
	}
	if err := keyed.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if want := KeyPartition(r.Key, parts); r.Partition != want {
			t.Fatalf("key %s went to partition %d, want %d", r.Key, r.Partition, want)
		}
	}

	sharded, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("sharded"), kgo.RecordPartitioner(ShardPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer sharded.Close()
	for _, id := range []string{"shardId-000000000000", "shardId-000000000005", "shardId-000000000007"} {
		p, err := ShardPartition(id, parts)
		if err != nil {
			t.Fatal(err)
		}
		r := &kgo.Record{Key: []byte("same-key"), Value: []byte(id), Partition: p}
		if err := sharded.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if r.Partition != p {
			t.Fatalf("%s: produced to %d, want %d", id, r.Partition, p)
		}
	}
	if err := sharded.ProduceSync(ctx, &kgo.Record{Value: []byte("x"), Partition: parts}).FirstErr(); err == nil {
		t.Fatal("record for a partition the topic lacks was accepted")
	}
}
