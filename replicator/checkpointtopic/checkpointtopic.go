// Package checkpointtopic stores shard checkpoints in a compacted Kafka
// topic, written inside the same transaction as the shard's records, which
// is what makes exactly-once delivery survive any crash: a reader at
// read_committed sees the records of a transaction and its checkpoint
// together, or neither.
//
// Contract:
//   - One record per commit, keyed by the shard id, on partition 0 of the
//     topic (one partition: the key → partition mapping can never change
//     under the replicator). Its value is a small JSON document (Value)
//     naming the stream, the shard and the position: a sequence number and
//     subsequence, or SHARD_END. A record that does not decode is an error
//     naming its offset, never skipped.
//   - Last returns the last committed position of a shard. It reads the
//     partition's end offset first, waits until every transaction that wrote
//     below it has ended (the last stable offset reaches it), then reads the
//     partition at read_committed up to there. Call it after fencing the
//     shard's transactional producer: no transaction of the shard can then
//     commit later, so the answer is final.
//   - Ensure creates the topic when it is missing (cleanup.policy=compact,
//     one partition, the broker's replication factor) and refuses a topic
//     that exists with more than one partition (a producer's key
//     partitioner would spread checkpoints where Last does not read) or that
//     is not compacted (a deleted checkpoint would replay its shard).
package checkpointtopic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Partition is the one partition checkpoints are written to.
const Partition int32 = 0

// ShardEnd is the Sequence of a shard read to its end.
const ShardEnd = "SHARD_END"

// Configs are the topic configs Ensure creates the topic with.
var Configs = map[string]string{
	"cleanup.policy": "compact",
	// Compaction runs only on closed segments: roll them often enough that
	// a takeover reads little more than one record per shard.
	"segment.ms":                "600000",
	"min.cleanable.dirty.ratio": "0.1",
}

// Value is a checkpoint record's value.
type Value struct {
	Version     int    `json:"v"`
	Stream      string `json:"stream"`
	Shard       string `json:"shard"`
	Sequence    string `json:"sequence"` // or ShardEnd
	SubSequence int64  `json:"subsequence"`
	// Time is when the transaction was committed, by the writer's clock
	// (Unix milliseconds); for operators only.
	Time int64 `json:"time_ms"`
}

// Record is the checkpoint record of v, for the topic.
func Record(topic string, v Value) *kgo.Record {
	v.Version = 1
	b, _ := json.Marshal(v) // strings and integers: cannot fail
	return &kgo.Record{Topic: topic, Partition: Partition, Key: []byte(v.Shard), Value: b}
}

// Decode reads a checkpoint record's value.
func Decode(b []byte) (Value, error) {
	var v Value
	if err := json.Unmarshal(b, &v); err != nil {
		return Value{}, err
	}
	if v.Version != 1 || v.Shard == "" || v.Sequence == "" {
		return Value{}, fmt.Errorf("not a version 1 checkpoint: %q", b)
	}
	return v, nil
}

// Ensure creates topic if it is missing, and checks that it is compacted.
func Ensure(ctx context.Context, adm *kadm.Client, topic string) error {
	configs := map[string]*string{}
	for k, v := range Configs {
		configs[k] = &v
	}
	resp, err := adm.CreateTopic(ctx, 1, -1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("creating checkpoint topic %q: %w", topic, err)
	}
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("checkpoint topic %q: metadata: %w", topic, err)
	}
	if d, ok := details[topic]; ok && d.Err == nil && len(d.Partitions) != 1 {
		return fmt.Errorf("checkpoint topic %q has %d partitions; it must have exactly 1 (checkpoints are read from partition 0)", topic, len(d.Partitions))
	}
	described, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		// Some brokers refuse DescribeConfigs to producers: trust the topic.
		return nil
	}
	for _, rc := range described {
		if rc.Err != nil {
			continue
		}
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && c.MaybeValue() != "compact" {
				return fmt.Errorf("checkpoint topic %q has cleanup.policy=%s; it must be compact (a deleted checkpoint replays its shard)", topic, c.MaybeValue())
			}
		}
	}
	return nil
}

// Reader reads the last committed checkpoint of a shard.
type Reader struct {
	topic string
	opts  []kgo.Opt // connection options (brokers, security)
	adm   *kadm.Client
	poll  time.Duration
}

// NewReader reads topic with clients built from opts (brokers, security);
// adm answers offset queries.
func NewReader(topic string, adm *kadm.Client, opts ...kgo.Opt) *Reader {
	return &Reader{topic: topic, opts: opts, adm: adm, poll: 20 * time.Millisecond}
}

// Last returns the last committed checkpoint of shard, and false when the
// topic holds none (or its last record for the shard is a tombstone).
func (r *Reader) Last(ctx context.Context, shard string) (Value, bool, error) {
	end, err := r.endOffset(ctx)
	if err != nil {
		return Value{}, false, err
	}
	if end.Offset <= end.LogStart {
		return Value{}, false, nil
	}
	// Transactions still open below end (other shards', or this shard's
	// predecessor before fencing completed) hide what follows them at
	// read_committed: wait for them to end.
	for {
		lso, err := r.stableOffset(ctx)
		if err != nil {
			return Value{}, false, err
		}
		if lso >= end.Offset {
			break
		}
		select {
		case <-ctx.Done():
			return Value{}, false, fmt.Errorf("checkpoint topic %q: transactions below offset %d still open (last stable offset %d): %w", r.topic, end.Offset, lso, ctx.Err())
		case <-time.After(r.poll):
		}
	}
	return r.scan(ctx, shard, end)
}

type offsets struct{ LogStart, Offset int64 }

func (r *Reader) endOffset(ctx context.Context) (offsets, error) {
	ends, err := r.adm.ListEndOffsets(ctx, r.topic)
	if err != nil {
		return offsets{}, fmt.Errorf("checkpoint topic %q: end offset: %w", r.topic, err)
	}
	e, ok := ends.Lookup(r.topic, Partition)
	if !ok {
		return offsets{}, fmt.Errorf("checkpoint topic %q: no partition %d", r.topic, Partition)
	}
	if e.Err != nil {
		return offsets{}, fmt.Errorf("checkpoint topic %q: end offset: %w", r.topic, e.Err)
	}
	starts, err := r.adm.ListStartOffsets(ctx, r.topic)
	if err != nil {
		return offsets{}, fmt.Errorf("checkpoint topic %q: start offset: %w", r.topic, err)
	}
	s, ok := starts.Lookup(r.topic, Partition)
	if !ok || s.Err != nil {
		return offsets{}, fmt.Errorf("checkpoint topic %q: start offset: %v", r.topic, s.Err)
	}
	return offsets{LogStart: s.Offset, Offset: e.Offset}, nil
}

func (r *Reader) stableOffset(ctx context.Context) (int64, error) {
	c, err := r.adm.ListCommittedOffsets(ctx, r.topic)
	if err != nil {
		return 0, fmt.Errorf("checkpoint topic %q: last stable offset: %w", r.topic, err)
	}
	o, ok := c.Lookup(r.topic, Partition)
	if !ok || o.Err != nil {
		return 0, fmt.Errorf("checkpoint topic %q: last stable offset: %v", r.topic, o.Err)
	}
	return o.Offset, nil
}

// scan reads the partition at read_committed from its start to end and
// keeps the shard's last value. Control records are kept so that the read
// sees its way to end even when the last records below it are markers.
func (r *Reader) scan(ctx context.Context, shard string, end offsets) (Value, bool, error) {
	opts := append(append([]kgo.Opt{}, r.opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.topic: {Partition: kgo.NewOffset().At(end.LogStart)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return Value{}, false, fmt.Errorf("checkpoint topic %q: %w", r.topic, err)
	}
	defer cl.Close()
	var (
		last  Value
		found bool
	)
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return Value{}, false, fmt.Errorf("checkpoint topic %q: reading to offset %d: %w", r.topic, end.Offset, err)
		}
		for _, fe := range fs.Errors() {
			if !kerr.IsRetriable(fe.Err) {
				return Value{}, false, fmt.Errorf("checkpoint topic %q: %w", r.topic, fe.Err)
			}
		}
		done := false
		var bad error
		fs.EachRecord(func(rec *kgo.Record) {
			if done || bad != nil {
				return
			}
			if rec.Offset >= end.Offset-1 {
				done = true
			}
			if rec.Offset >= end.Offset || rec.Attrs.IsControl() || string(rec.Key) != shard {
				return
			}
			if rec.Value == nil {
				last, found = Value{}, false // tombstone: an operator reset the shard
				return
			}
			v, err := Decode(rec.Value)
			if err != nil {
				bad = fmt.Errorf("checkpoint topic %q: offset %d: %w", r.topic, rec.Offset, err)
				return
			}
			last, found = v, true
		})
		if bad != nil {
			return Value{}, false, bad
		}
		if done {
			return last, found, nil
		}
	}
}
