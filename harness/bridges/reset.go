package bridges

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/replicator/admin"
	"github.com/shardbridge/shardbridge/replicator/config"
)

// CanReset: the in-process replicator resets with its operator command's
// code, as shardbridge.yaml's reset does with the binary.
func (l *Launcher) CanReset() bool { return true }

// Reset is `replicator reset --position position --at timestamp --force`
// run in this process, over the run's environment.
func (l *Launcher) Reset(ctx context.Context, in bridge.Launch, position, timestamp string) (string, error) {
	cfg, _, err := l.config(in)
	if err != nil {
		return "", err
	}
	o := admin.ResetOptions{Position: position, Force: true}
	if timestamp != "" {
		if o.At, err = time.Parse(time.RFC3339Nano, timestamp); err != nil {
			return "", fmt.Errorf("reset: timestamp %q: %w", timestamp, err)
		}
	}
	t := admin.Tools{
		DynamoDB: in.Env.NewDynamoDBClient(), Kinesis: in.Env.NewKinesisClient(),
		Table: cfg.ApplicationName, Stream: cfg.StreamName, InitialTimestamp: cfg.InitialTimestamp,
		FailoverTime: cfg.FailoverTime, Log: in.Logger.With("instance", "reset"),
	}
	if cfg.DeliveryMode == config.ExactlyOnce {
		t.Kafka = append(in.Env.KafkaOpts(), kgo.SeedBrokers(in.Env.Brokers()...))
		t.CheckpointTopic = cfg.CheckpointTopicName()
	}
	done, err := t.Reset(ctx, o)
	var out strings.Builder
	for _, d := range done {
		fmt.Fprintf(&out, "%s: %s -> %s\n", d.Shard, d.From, position)
	}
	return out.String(), err
}
