// Package process is the replicator's middle stage: it turns one Kinesis
// record into the Kafka records to produce and the records to dead-letter.
//
// Contract:
//   - A Record carries its source position (stream, shard, sequence number,
//     subsequence). (kinesis.shard, kinesis.seq, kinesis.subseq) is the
//     idempotency key every output record carries as headers (Headers).
//   - Pipeline.Process applies, in order: KPL de-aggregation (package kpl),
//     the skip of sub-records at or before the shard's checkpoint, optional
//     payload decompression (Decompressor), the user Transformer, and an
//     optional size limit. Sub-records outside the shard's hash range are
//     counted but kept, unlike in the KCL (see Pipeline.Process).
//   - Nothing is dropped silently. A record that fails a stage comes back as
//     a failed Item holding its original bytes (before decompression) and a
//     StageError naming the stage ("deaggregate", "decompress", "transform",
//     "size"); DLQHeaders turns that into the dead-letter headers. Records
//     are left out only by the checkpoint skip or a Transformer that returns
//     no output, and Result counts each.
//   - A Transformer sees one record and returns zero or more; it may change
//     PartitionKey, ExplicitHashKey and Data. The pipeline restores the
//     source position fields on every output, so a transformer cannot break
//     the idempotency key. Outputs of one source record share that key.
package process

import (
	"errors"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Record is one Kinesis record, or one KPL sub-record of it, on its way to
// Kafka.
type Record struct {
	Stream         string
	ShardID        string
	SequenceNumber string
	// SubSequence is the KPL sub-record's index in its aggregate, or -1 for
	// a plain (non-aggregated) record. Note the zero value 0 means "first
	// sub-record": set -1 when building a plain Record by hand
	// (Pipeline.Process does so for its input).
	SubSequence     int64
	PartitionKey    string
	ExplicitHashKey string
	Data            []byte
	// ArrivalTime is Kinesis's ApproximateArrivalTimestamp.
	ArrivalTime time.Time
}

// IsSubRecord reports whether r came out of a KPL aggregate.
func (r Record) IsSubRecord() bool { return r.SubSequence >= 0 }

// Stage names, used in StageError and the dlq.stage header.
const (
	StageDeaggregate = "deaggregate"
	StageDecompress  = "decompress"
	StageTransform   = "transform"
	StageSize        = "size"
)

// StageError is a record-level failure tagged with the pipeline stage that
// raised it, so the dead-letter headers can name the stage.
type StageError struct {
	Stage string
	Err   error
}

func (e *StageError) Error() string { return e.Stage + ": " + e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// StageOf returns the stage named by the first StageError in err's chain, or
// "" if there is none.
func StageOf(err error) string {
	var se *StageError
	if errors.As(err, &se) {
		return se.Stage
	}
	return ""
}

// Header keys of output and dead-letter records.
const (
	HeaderStream    = "kinesis.stream"
	HeaderShard     = "kinesis.shard"
	HeaderSeq       = "kinesis.seq"
	HeaderSubSeq    = "kinesis.subseq"
	HeaderArrivalMS = "kinesis.arrival_ms"
	HeaderDLQError  = "dlq.error"
	HeaderDLQStage  = "dlq.stage"
)

// Headers are the headers of r's Kafka record (docs/architecture.md, "The
// replicator", step 5): kinesis.stream, kinesis.shard, kinesis.seq,
// kinesis.subseq (only for KPL sub-records) and kinesis.arrival_ms
// (milliseconds since the epoch; "0" when the arrival time is unknown).
func Headers(r Record) []kgo.RecordHeader {
	return appendHeaders(make([]kgo.RecordHeader, 0, 5), r)
}

func appendHeaders(h []kgo.RecordHeader, r Record) []kgo.RecordHeader {
	h = append(h,
		kgo.RecordHeader{Key: HeaderStream, Value: []byte(r.Stream)},
		kgo.RecordHeader{Key: HeaderShard, Value: []byte(r.ShardID)},
		kgo.RecordHeader{Key: HeaderSeq, Value: []byte(r.SequenceNumber)},
	)
	if r.IsSubRecord() {
		h = append(h, kgo.RecordHeader{Key: HeaderSubSeq, Value: strconv.AppendInt(nil, r.SubSequence, 10)})
	}
	var ms int64
	if !r.ArrivalTime.IsZero() {
		ms = r.ArrivalTime.UnixMilli()
	}
	return append(h, kgo.RecordHeader{Key: HeaderArrivalMS, Value: strconv.AppendInt(nil, ms, 10)})
}

// DLQHeaders are the headers of a dead-letter record: dlq.error and
// dlq.stage, then the source position as in Headers. An empty stage is taken
// from err's StageError, else "unknown".
func DLQHeaders(r Record, stage string, err error) []kgo.RecordHeader {
	if stage == "" {
		if stage = StageOf(err); stage == "" {
			stage = "unknown"
		}
	}
	msg := "unknown error"
	if err != nil {
		msg = err.Error()
	}
	h := make([]kgo.RecordHeader, 0, 7)
	h = append(h,
		kgo.RecordHeader{Key: HeaderDLQError, Value: []byte(msg)},
		kgo.RecordHeader{Key: HeaderDLQStage, Value: []byte(stage)},
	)
	return appendHeaders(h, r)
}

// KafkaRecord is r as a Kafka record: key = partition key, value = data,
// headers = Headers(r). The caller sets Topic (and Partition in shard mode).
func KafkaRecord(r Record) *kgo.Record {
	return &kgo.Record{Key: []byte(r.PartitionKey), Value: r.Data, Headers: Headers(r)}
}

// DLQRecord is r as a dead-letter record: key = partition key, value = the
// original bytes, headers = DLQHeaders(r, stage, err).
func DLQRecord(r Record, stage string, err error) *kgo.Record {
	return &kgo.Record{Key: []byte(r.PartitionKey), Value: r.Data, Headers: DLQHeaders(r, stage, err)}
}
