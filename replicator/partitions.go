package replicator

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/replicator/partition"
)

// shardPartitions knows the data topic's partition count for shard
// partitioning. Shard numbers keep growing across reshards (a split, an
// UpdateShardCount, an on-demand scale-up), so a child shard can map past
// the partitions the topic had at start-up: its worker waits, re-reading the
// count, until an operator grows the topic — saying so once and in a metric —
// and then goes on without a restart.
type shardPartitions struct {
	topic   string
	adm     *kadm.Client
	client  *kgo.Client // the shared producer: its metadata must see a new partition before a record is routed to it
	recheck time.Duration

	mu sync.Mutex
	n  int32
}

// msgWaitingForPartition is the one log line of a shard waiting for its
// partition.
const msgWaitingForPartition = "REPLICATOR_PARTITIONING=shard: the topic has no partition for this shard yet; it waits, keeping its lease, until the topic grows"

// wait returns the shard's partition once the topic has it. It returns
// ctx's error when the worker stops first; waiting (true) is called when
// the shard starts waiting and again (false) when it stops.
func (p *shardPartitions) wait(ctx context.Context, shardID string, log *slog.Logger, waiting func(bool)) (int32, error) {
	idx, err := partition.ShardIndex(shardID)
	if err != nil {
		return 0, err
	}
	said := false
	defer func() {
		if said {
			waiting(false)
		}
	}()
	for {
		p.mu.Lock()
		n := p.n
		p.mu.Unlock()
		if int64(idx) < int64(n) {
			if said {
				log.Info("the topic has the shard's partition now; starting", "partition", idx, "partitions", n)
			}
			return int32(idx), nil
		}
		if fresh, err := p.refresh(ctx); err == nil && int64(idx) < int64(fresh) {
			continue
		}
		if !said {
			said = true
			waiting(true)
			log.Warn(msgWaitingForPartition, "topic", p.topic, "partition", idx, "partitions", n,
				"fix", fmt.Sprintf("kafka-topics.sh --alter --topic %s --partitions %d (or more)", p.topic, idx+1),
				"recheck", p.recheck)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(p.recheck):
		}
	}
}

// refresh re-reads the partition count from Kafka and, when it grew, makes
// the shared producer see the new partitions (a record routed by hand to a
// partition its metadata lacks fails at once).
func (p *shardPartitions) refresh(ctx context.Context) (int32, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := describeTopic(cctx, p.adm, p.topic, "KAFKA_TOPIC")
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	grew := info.partitions > p.n
	p.mu.Unlock()
	if grew && p.client != nil {
		last := info.partitions - 1
		for range 50 {
			p.client.ForceMetadataRefresh()
			if _, _, err := p.client.PartitionLeader(p.topic, last); err == nil {
				break
			}
			select {
			case <-cctx.Done():
				return 0, cctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	p.mu.Lock()
	p.n = max(p.n, info.partitions)
	n := p.n
	p.mu.Unlock()
	return n, nil
}
