// Command minibridge is a deliberately small Kinesis→Kafka bridge: the test
// double that proves the harness judges any bridge, not only Shardbridge.
// It shares no code with the replicator. One instance reads every shard
// (a child only after its parents are read to their end) from its start
// position, and writes each record to Kafka keyed by partition key; records
// that are not JSON, or that the topic refuses as too large, go to the
// dead-letter topic with dlq.error and dlq.stage headers. It keeps no lease
// table and no checkpoint.
//
// Settings (environment): MINIBRIDGE_STREAM, MINIBRIDGE_TOPIC,
// MINIBRIDGE_DLQ_TOPIC (optional), MINIBRIDGE_BROKERS (comma-separated),
// MINIBRIDGE_HEADERS (true: write kinesis.shard/kinesis.seq headers; default
// false), MINIBRIDGE_DROP_EVERY (N > 0: silently drop every N-th record — a
// broken bridge for self-tests). Kinesis is reached through the AWS SDK's
// own configuration (AWS_ENDPOINT_URL_KINESIS, AWS_REGION, credentials). It
// prints "minibridge ready" once it has listed the shards, and stops on
// SIGTERM after the records in hand are written.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type settings struct {
	stream, topic, dlq string
	brokers            []string
	headers            bool
	dropEvery          int64
}

func load(getenv func(string) string) (settings, error) {
	s := settings{stream: getenv("MINIBRIDGE_STREAM"), topic: getenv("MINIBRIDGE_TOPIC"), dlq: getenv("MINIBRIDGE_DLQ_TOPIC")}
	if s.stream == "" || s.topic == "" || getenv("MINIBRIDGE_BROKERS") == "" {
		return s, errors.New("MINIBRIDGE_STREAM, MINIBRIDGE_TOPIC and MINIBRIDGE_BROKERS are required")
	}
	s.brokers = strings.Split(getenv("MINIBRIDGE_BROKERS"), ",")
	if v := getenv("MINIBRIDGE_HEADERS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, fmt.Errorf("MINIBRIDGE_HEADERS: %q is not a boolean", v)
		}
		s.headers = b
	}
	if v := getenv("MINIBRIDGE_DROP_EVERY"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return s, fmt.Errorf("MINIBRIDGE_DROP_EVERY: %q is not a count", v)
		}
		s.dropEvery = n
	}
	return s, nil
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := load(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "minibridge:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("minibridge failed", "error", err)
		os.Exit(1)
	}
}

type bridge struct {
	cfg   settings
	kin   *kinesis.Client
	kafka *kgo.Client
	log   *slog.Logger
	seen  atomic.Int64
	// maxBytes is the topic's max.message.bytes: a larger record is
	// dead-lettered before Kafka refuses it (and the batch it is in).
	maxBytes int

	mu       sync.Mutex
	done     map[string]bool // shards read to their end
	started  map[string]bool
	finished chan string
}

func run(ctx context.Context, cfg settings, log *slog.Logger) error {
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("AWS configuration: %w", err)
	}
	kc, err := kgo.NewClient(kgo.SeedBrokers(cfg.brokers...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer kc.Close()
	b := &bridge{cfg: cfg, kin: kinesis.NewFromConfig(awsCfg), kafka: kc, log: log,
		done: map[string]bool{}, started: map[string]bool{}, finished: make(chan string, 64)}
	if b.maxBytes, err = maxMessageBytes(ctx, kc, cfg.topic); err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ready := false
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		shards, err := b.listShards(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("list shards", "error", err)
		}
		if err == nil && !ready {
			fmt.Println("minibridge ready")
			ready = true
		}
		for _, s := range shards {
			id := aws.ToString(s.ShardId)
			if b.started[id] || !b.parentsDone(s, shards) {
				continue
			}
			b.started[id] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := b.readShard(ctx, id); err != nil && ctx.Err() == nil {
					log.Error("shard stopped", "shard", id, "error", err)
				}
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case id := <-b.finished:
			b.mu.Lock()
			b.done[id] = true
			b.mu.Unlock()
		}
	}
}

// parentsDone: a child is read only once every parent that still exists is
// read to its end (a parent trimmed away is not waited for).
func (b *bridge) parentsDone(s ktypes.Shard, all []ktypes.Shard) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range []string{aws.ToString(s.ParentShardId), aws.ToString(s.AdjacentParentShardId)} {
		if p == "" || b.done[p] {
			continue
		}
		for _, o := range all {
			if aws.ToString(o.ShardId) == p {
				return false
			}
		}
	}
	return true
}

func (b *bridge) listShards(ctx context.Context) ([]ktypes.Shard, error) {
	var out []ktypes.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(b.cfg.stream)}
	for {
		res, err := b.kin.ListShards(ctx, in)
		if err != nil {
			return nil, err
		}
		out = append(out, res.Shards...)
		if res.NextToken == nil {
			return out, nil
		}
		in = &kinesis.ListShardsInput{NextToken: res.NextToken}
	}
}

func (b *bridge) readShard(ctx context.Context, shard string) error {
	it, err := b.kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String(b.cfg.stream), ShardId: aws.String(shard), ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		return fmt.Errorf("iterator: %w", err)
	}
	iter := it.ShardIterator
	for iter != nil {
		out, err := b.kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var thr *ktypes.ProvisionedThroughputExceededException
			if errors.As(err, &thr) {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			return fmt.Errorf("get records: %w", err)
		}
		if err := b.write(ctx, shard, out.Records); err != nil {
			return err
		}
		iter = out.NextShardIterator
		if len(out.Records) == 0 && iter != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	b.finished <- shard
	return nil
}

// write produces one batch in order and waits for it; a record the topic
// refuses as too large, or that is not JSON, is dead-lettered.
func (b *bridge) write(ctx context.Context, shard string, recs []ktypes.Record) error {
	var batch, dead []*kgo.Record
	for _, r := range recs {
		kr := &kgo.Record{Topic: b.cfg.topic, Key: []byte(aws.ToString(r.PartitionKey)), Value: r.Data}
		if b.cfg.headers {
			kr.Headers = []kgo.RecordHeader{{Key: "kinesis.shard", Value: []byte(shard)}, {Key: "kinesis.seq", Value: []byte(aws.ToString(r.SequenceNumber))}}
		}
		if n := b.seen.Add(1); b.cfg.dropEvery > 0 && n%b.cfg.dropEvery == 0 {
			continue // the sabotage: acknowledged, never written
		}
		if !json.Valid(r.Data) {
			dead = append(dead, deadLetter(b.cfg.dlq, kr, "transform", "not JSON"))
			continue
		}
		if size := len(kr.Key) + len(kr.Value) + recordOverhead; size > b.maxBytes {
			dead = append(dead, deadLetter(b.cfg.dlq, kr, "size", fmt.Sprintf("%d bytes, more than the topic's max.message.bytes %d", size, b.maxBytes)))
			continue
		}
		batch = append(batch, kr)
	}
	for _, res := range b.kafka.ProduceSync(context.WithoutCancel(ctx), batch...) {
		if res.Err != nil {
			return fmt.Errorf("produce: %w", res.Err)
		}
	}
	if len(dead) == 0 {
		return nil
	}
	if b.cfg.dlq == "" {
		return fmt.Errorf("%d records cannot be written and there is no dead-letter topic", len(dead))
	}
	return b.kafka.ProduceSync(context.WithoutCancel(ctx), dead...).FirstErr()
}

func deadLetter(topic string, r *kgo.Record, stage, why string) *kgo.Record {
	d := &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value, Headers: append([]kgo.RecordHeader(nil), r.Headers...)}
	d.Headers = append(d.Headers, kgo.RecordHeader{Key: "dlq.stage", Value: []byte(stage)}, kgo.RecordHeader{Key: "dlq.error", Value: []byte(why)})
	return d
}

// recordOverhead is room for a record's framing in its batch.
const recordOverhead = 512

// maxMessageBytes reads the topic's max.message.bytes.
func maxMessageBytes(ctx context.Context, kc *kgo.Client, topic string) (int, error) {
	rcs, err := kadm.NewClient(kc).DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("describe topic %s: %w", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		return 0, fmt.Errorf("describe topic %s: %w", topic, errors.Join(err, rc.Err))
	}
	for _, c := range rc.Configs {
		if c.Key == "max.message.bytes" && c.Value != nil {
			n, err := strconv.Atoi(*c.Value)
			if err != nil {
				return 0, fmt.Errorf("topic %s: max.message.bytes %q", topic, *c.Value)
			}
			return n, nil
		}
	}
	return 1048588, nil // Kafka's default
}
