// Package partition decides which Kafka partition a replicated record goes
// to, in the replicator's two modes.
//
//   - "key" (default): Kafka's standard placement for keyed records, exactly
//     as the Java client's default partitioner computes it:
//     toPositive(murmur2(keyBytes)) % numPartitions with murmur2 seeded
//     0x9747b28c. A Kafka-native producer writing the same key therefore
//     picks the same partition. KeyPartitioner reuses franz-go's
//     StickyKeyPartitioner(nil), which is that algorithm; this package keeps
//     its own Murmur2/KeyPartition only as a reference the tests pin to
//     Kafka's published vectors and compare franz-go against, and for tools
//     (the checker) that must predict a record's partition offline.
//   - "shard": the 1:1 mapping of the Python KCL bridge this service
//     replaces: shard shardId-000000000007 → partition 7. The sink sets
//     kgo.Record.Partition from ShardPartition and produces with
//     ShardPartitioner. Shard numbers keep growing across reshards (a split
//     of shard 0 in a 4-shard stream creates shards 4 and 5), so the topic
//     needs more partitions than the highest shard number still to be read,
//     not merely as many as there are open shards; CheckShardPartitions
//     names the shards that lack one (the replicator then lets them wait for
//     the topic to grow instead of halting).
package partition

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Murmur2 is Kafka's murmur2 hash (org.apache.kafka.common.utils.Utils.murmur2)
// returned as the signed 32-bit value the Java code yields.
func Murmur2(b []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		k := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h = h*m ^ k
	}
	switch len(b) { // the tail, as Java's fall-through switch
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// KeyPartition is the Java default partitioner's choice for a keyed record:
// toPositive(murmur2(key)) % n, where toPositive masks the sign bit (it is
// not Math.abs). n must be positive.
func KeyPartition(key []byte, n int32) int32 {
	return (Murmur2(key) & 0x7fffffff) % n
}

// KeyPartitioner places keyed records as KeyPartition does. It is franz-go's
// StickyKeyPartitioner with its default Kafka hasher, whose murmur2 the tests
// check against Murmur2; records with a nil key (never produced by the
// replicator: Kinesis partition keys are never empty) stick to a random
// partition per batch, as the Java client does.
func KeyPartitioner() kgo.Partitioner {
	return kgo.StickyKeyPartitioner(nil)
}

// ShardPartitioner produces every record to the partition already set in
// kgo.Record.Partition (see ShardPartition). franz-go fails a record whose
// partition does not exist instead of re-routing it.
func ShardPartitioner() kgo.Partitioner {
	return kgo.ManualPartitioner()
}

const shardIDPrefix = "shardId-"

// ShardIndex parses the number of a Kinesis shard id: "shardId-000000000007"
// → 7.
func ShardIndex(shardID string) (int, error) {
	digits, ok := strings.CutPrefix(shardID, shardIDPrefix)
	if !ok || digits == "" {
		return 0, fmt.Errorf("shard id %q: want %s<number>", shardID, shardIDPrefix)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, fmt.Errorf("shard id %q: want %s<number>", shardID, shardIDPrefix)
		}
	}
	n, err := strconv.ParseInt(digits, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("shard id %q: number out of range: %w", shardID, err)
	}
	return int(n), nil
}

// ShardPartition is the partition a shard's records go to in "shard" mode:
// the shard's number, which must be below numPartitions.
func ShardPartition(shardID string, numPartitions int32) (int32, error) {
	idx, err := ShardIndex(shardID)
	if err != nil {
		return 0, err
	}
	if int64(idx) >= int64(numPartitions) {
		return 0, fmt.Errorf("shard %s maps to partition %d but the topic has %d partitions", shardID, idx, numPartitions)
	}
	return int32(idx), nil
}

// CheckShardPartitions verifies that every shard in shardIDs has its own
// partition in a topic of numPartitions partitions. Pass every shard still
// to be read: the open shards and the closed ones not yet drained. The error
// names the shard with the highest number and the partitions needed.
func CheckShardPartitions(shardIDs []string, numPartitions int32) error {
	maxIdx, maxID := -1, ""
	for _, id := range shardIDs {
		idx, err := ShardIndex(id)
		if err != nil {
			return err
		}
		if idx > maxIdx {
			maxIdx, maxID = idx, id
		}
	}
	if int64(maxIdx) >= int64(numPartitions) {
		return fmt.Errorf("partitioning \"shard\" needs at least %d partitions (shard %s maps to partition %d) but the topic has %d",
			maxIdx+1, maxID, maxIdx, numPartitions)
	}
	return nil
}
