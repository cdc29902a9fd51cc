package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/replicator/checkpointtopic"
)

// tombstones writes a tombstone for each shard to the checkpoint topic: the
// replicator then finds no Kafka checkpoint for it and resumes from the
// lease row (replicator/txn.go, checkpointtopic.Reader.Last). A topic that
// does not exist holds no checkpoint: nothing to do.
func (t Tools) tombstones(ctx context.Context, shards []string) error {
	if len(shards) == 0 {
		return nil
	}
	opts := append(append([]kgo.Opt{}, t.Kafka...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("checkpoint topic %q: kafka client: %w", t.CheckpointTopic, err)
	}
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(ctx, t.CheckpointTopic)
	if err != nil {
		return fmt.Errorf("checkpoint topic %q: metadata (no lease row was reset): %w", t.CheckpointTopic, err)
	}
	d, ok := topics[t.CheckpointTopic]
	if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
		if t.Log != nil {
			t.Log.Info("checkpoint topic does not exist: no Kafka checkpoint to clear", "topic", t.CheckpointTopic)
		}
		return nil
	}
	if d.Err != nil {
		return fmt.Errorf("checkpoint topic %q: metadata (no lease row was reset): %w", t.CheckpointTopic, d.Err)
	}
	recs := make([]*kgo.Record, len(shards))
	for i, s := range shards {
		recs[i] = &kgo.Record{Topic: t.CheckpointTopic, Partition: checkpointtopic.Partition, Key: []byte(s), Value: nil}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("checkpoint topic %q: writing tombstones for %d shards (no lease row was reset): %w", t.CheckpointTopic, len(shards), err)
	}
	if t.Log != nil {
		t.Log.Info("checkpoint topic: tombstones written", "topic", t.CheckpointTopic, "shards", shards)
	}
	return nil
}
