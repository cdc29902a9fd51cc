package replicator

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Sink is where records go: the Kafka client in production. Produce must
// call promise exactly once per record, in order per partition; Flush waits
// until every produced record was answered. *kgo.Client is a Sink; tests wrap
// it (WithSinkWrapper) to stall or break delivery on purpose.
type Sink interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
	Flush(ctx context.Context) error
}

var _ Sink = (*kgo.Client)(nil)

// defaultMaxMessageBytes is Kafka's default max.message.bytes (1 MiB + 12).
const defaultMaxMessageBytes = 1048588

// recordOverhead is room left, below a batch limit, for the record batch
// header (61 bytes) and one record's own framing and header varints, so that
// a record the pipeline lets through is never refused for size by Kafka.
const recordOverhead = 512

// topicInfo is what the replicator needs to know about a topic.
type topicInfo struct {
	partitions      int32
	maxMessageBytes int
}

// describeTopic reads a topic's partition count and max.message.bytes. A
// missing topic is an error naming the setting that pointed at it. It
// returns when ctx ends even if the client is still waiting for a broker
// connection (franz-go's dial and request timeouts do not follow ctx
// everywhere), so that start-up stays bounded by StartupTimeout.
func describeTopic(ctx context.Context, adm *kadm.Client, topic, setting string) (topicInfo, error) {
	type result struct {
		info topicInfo
		err  error
	}
	done := make(chan result, 1)
	go func() {
		info, err := describeTopicOnce(ctx, adm, topic, setting)
		done <- result{info, err}
	}()
	select {
	case r := <-done:
		return r.info, r.err
	case <-ctx.Done():
		return topicInfo{}, fmt.Errorf("%s: topic %q: no answer from Kafka: %w", setting, topic, ctx.Err())
	}
}

func describeTopicOnce(ctx context.Context, adm *kadm.Client, topic, setting string) (topicInfo, error) {
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return topicInfo{}, fmt.Errorf("kafka metadata: %w", err)
	}
	d, ok := details[topic]
	if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
		return topicInfo{}, fmt.Errorf("%s: topic %q does not exist (create it first)", setting, topic)
	}
	if d.Err != nil {
		return topicInfo{}, fmt.Errorf("%s: topic %q: %w", setting, topic, d.Err)
	}
	info := topicInfo{partitions: int32(len(d.Partitions)), maxMessageBytes: defaultMaxMessageBytes}
	configs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		// Some brokers refuse DescribeConfigs to producers; Kafka's default
		// then is the safest assumption.
		return info, nil
	}
	for _, rc := range configs {
		if rc.Name != topic || rc.Err != nil {
			continue
		}
		for _, c := range rc.Configs {
			if c.Key == "max.message.bytes" {
				if n, err := strconv.Atoi(c.MaybeValue()); err == nil && n > 0 {
					info.maxMessageBytes = n
				}
			}
		}
	}
	return info, nil
}
