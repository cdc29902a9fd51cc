package process

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func headerMap(t *testing.T, hs []kgo.RecordHeader) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, h := range hs {
		if _, dup := m[h.Key]; dup {
			t.Fatalf("duplicate header %q", h.Key)
		}
		m[h.Key] = string(h.Value)
	}
	return m
}

var arrival = time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)

func sample() Record {
	return Record{
		Stream: "orders", ShardID: "shardId-000000000003",
		SequenceNumber: "49590338271490256608559692538361571095921575989136588898",
		SubSequence:    -1, PartitionKey: "user-1", Data: []byte(`{"a":1}`), ArrivalTime: arrival,
	}
}

func TestHeadersPlainRecord(t *testing.T) {
	got := headerMap(t, Headers(sample()))
	want := map[string]string{
		"kinesis.stream":     "orders",
		"kinesis.shard":      "shardId-000000000003",
		"kinesis.seq":        "49590338271490256608559692538361571095921575989136588898",
		"kinesis.arrival_ms": fmt.Sprint(arrival.UnixMilli()),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("headers %v, want %v", got, want)
	}
}

func TestHeadersSubRecord(t *testing.T) {
	r := sample()
	r.SubSequence = 0
	got := headerMap(t, Headers(r))
	if got["kinesis.subseq"] != "0" || len(got) != 5 {
		t.Fatalf("sub-record 0 headers %v", got)
	}
	r.SubSequence = 17
	if got := headerMap(t, Headers(r)); got["kinesis.subseq"] != "17" {
		t.Fatalf("subseq header %q", got["kinesis.subseq"])
	}
	r.ArrivalTime = time.Time{}
	if got := headerMap(t, Headers(r)); got["kinesis.arrival_ms"] != "0" {
		t.Fatalf("unknown arrival time header %q", got["kinesis.arrival_ms"])
	}
}

func TestDLQHeaders(t *testing.T) {
	r := sample()
	r.SubSequence = 2
	err := &StageError{Stage: StageDecompress, Err: errors.New("gzip: invalid header")}
	got := headerMap(t, DLQHeaders(r, "", err))
	want := map[string]string{
		"dlq.error": "decompress: gzip: invalid header", "dlq.stage": "decompress",
		"kinesis.stream": "orders", "kinesis.shard": "shardId-000000000003",
		"kinesis.seq": r.SequenceNumber, "kinesis.subseq": "2", "kinesis.arrival_ms": fmt.Sprint(arrival.UnixMilli()),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("DLQ headers\n got %v\nwant %v", got, want)
	}
	// An explicit stage wins; a bare error has stage "unknown".
	if got := headerMap(t, DLQHeaders(r, StageSize, err)); got["dlq.stage"] != "size" {
		t.Fatalf("explicit stage ignored: %v", got)
	}
	if got := headerMap(t, DLQHeaders(r, "", errors.New("x"))); got["dlq.stage"] != "unknown" || got["dlq.error"] != "x" {
		t.Fatalf("bare error: %v", got)
	}
}

func TestKafkaAndDLQRecords(t *testing.T) {
	r := sample()
	kr := KafkaRecord(r)
	if string(kr.Key) != "user-1" || string(kr.Value) != `{"a":1}` || len(kr.Headers) != 4 {
		t.Fatalf("KafkaRecord = %+v", kr)
	}
	dr := DLQRecord(r, StageTransform, errors.New("bad"))
	if string(dr.Key) != "user-1" || string(dr.Value) != `{"a":1}` || headerMap(t, dr.Headers)["dlq.stage"] != "transform" {
		t.Fatalf("DLQRecord = %+v", dr)
	}
}

func TestStageError(t *testing.T) {
	inner := errors.New("boom")
	err := fmt.Errorf("wrapped: %w", &StageError{Stage: StageTransform, Err: inner})
	if !errors.Is(err, inner) || StageOf(err) != StageTransform || StageOf(inner) != "" {
		t.Fatalf("StageError chain broken: %v", err)
	}
}
