package checker

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/harness/workload"
)

// Record headers a bridge may write (Shardbridge's contract, README's "The
// replicator") and the dead-letter headers the checker requires.
const (
	HeaderStream    = "kinesis.stream"
	HeaderShard     = "kinesis.shard"
	HeaderSeq       = "kinesis.seq"
	HeaderSubSeq    = "kinesis.subseq" // only on KPL sub-records
	HeaderArrivalMs = "kinesis.arrival_ms"
	HeaderDLQError  = "dlq.error"
	HeaderDLQStage  = "dlq.stage"
)

// ID is a record's idempotency key: (kinesis.shard, kinesis.seq,
// kinesis.subseq). SubSeq is -1 for a record that was not a KPL sub-record.
type ID struct {
	Shard  string `json:"shard"`
	Seq    string `json:"seq"`
	SubSeq int64  `json:"subseq"`
}

// String renders shard/seq or shard/seq/subseq.
func (id ID) String() string {
	if id.SubSeq < 0 {
		return id.Shard + "/" + id.Seq
	}
	return fmt.Sprintf("%s/%s/%d", id.Shard, id.Seq, id.SubSeq)
}

// IDOf returns the idempotency key the replicator must give an acknowledged
// record.
func IDOf(a workload.Ack) ID {
	return ID{Shard: a.ShardID, Seq: a.SequenceNumber, SubSeq: a.SubSequence}
}

// Observed is one record read from Kafka (control records excluded).
type Observed struct {
	Topic     string            `json:"topic"`
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Key       []byte            `json:"key"`
	Value     []byte            `json:"value"`
	Timestamp time.Time         `json:"timestamp"`
	Headers   map[string]string `json:"headers"` // last value wins for a repeated header
}

// FromRecord converts a franz-go record.
func FromRecord(r *kgo.Record) Observed {
	o := Observed{
		Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
		Key: r.Key, Value: r.Value, Timestamp: r.Timestamp,
		Headers: make(map[string]string, len(r.Headers)),
	}
	for _, h := range r.Headers {
		o.Headers[h.Key] = string(h.Value)
	}
	return o
}

// ID parses the record's idempotency key from its headers only. Check also
// identifies records without headers, by payload: see AckIndex.Identify and
// IdentityRule.
func (o Observed) ID() (ID, error) {
	shard, seq := o.Headers[HeaderShard], o.Headers[HeaderSeq]
	if shard == "" || seq == "" {
		return ID{}, errors.New("missing kinesis.shard or kinesis.seq header")
	}
	id := ID{Shard: shard, Seq: seq, SubSeq: -1}
	if s, ok := o.Headers[HeaderSubSeq]; ok {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return ID{}, fmt.Errorf("bad kinesis.subseq header %q", s)
		}
		id.SubSeq = n
	}
	return id, nil
}

// ArrivalMs returns the kinesis.arrival_ms header.
func (o Observed) ArrivalMs() (int64, bool) {
	n, err := strconv.ParseInt(o.Headers[HeaderArrivalMs], 10, 64)
	return n, err == nil
}

// compareSeq orders two Kinesis sequence numbers (decimal strings of up to
// 129 digits) as big integers: by length once leading zeros are gone, then
// lexically. Exact for decimal strings, no allocation.
func compareSeq(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// compareID orders two positions of one shard: (seq, subseq).
func compareID(a, b ID) int {
	if c := compareSeq(a.Seq, b.Seq); c != 0 {
		return c
	}
	switch {
	case a.SubSeq < b.SubSeq:
		return -1
	case a.SubSeq > b.SubSeq:
		return 1
	}
	return 0
}
