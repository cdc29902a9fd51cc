package checker

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/shardbridge/shardbridge/harness/workload"
)

// Mode is the replicator's delivery promise (its REPLICATOR_DELIVERY_MODE).
type Mode string

// Delivery modes.
const (
	AtLeastOnce Mode = "at-least-once"
	ExactlyOnce Mode = "exactly-once"
)

// LatencySource chooses the start of the end-to-end latency.
type LatencySource int

const (
	// LatencyFromSent measures from the payload's sent_ms (the workload's
	// first send attempt).
	LatencyFromSent LatencySource = iota
	// LatencyFromArrival measures from the kinesis.arrival_ms header.
	LatencyFromArrival
)

// Event is something that happened during the run that may explain
// duplicates: a lease moved, an instance crashed, a broker restarted.
// Times must be on the clock the Kafka record timestamps use.
type Event struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	Shard  string    `json:"shard,omitempty"` // "" = not tied to one shard
	Detail string    `json:"detail,omitempty"`
}

// Options tunes Check. The zero value is usable.
type Options struct {
	// MaxExamples caps the examples kept per anomaly kind (default 10).
	MaxExamples int
	// Partitioning is the replicator's REPLICATOR_PARTITIONING: "key"
	// (default) or "shard".
	Partitioning string
	// Unconfirmed lists records whose write outcome was unknown and were
	// never acknowledged (workload.Unconfirmed); copies of them are tolerated.
	Unconfirmed []workload.Ack
	// Events are candidate causes for duplicates.
	Events []Event
	// CauseSlack widens the window an event must fall in to explain a
	// duplicate (default 1 s).
	CauseSlack time.Duration
	// Filtered reports acknowledged records the replicator must drop (a
	// json-filter transform); they are expected in neither topic.
	Filtered func(workload.Ack) bool
	// Latency chooses where end-to-end latency starts.
	Latency LatencySource
	// Elapsed is the run's duration for throughput; default: from the first
	// send to the last output timestamp.
	Elapsed time.Duration
	// Identity chooses how a Kafka record is matched to its Kinesis record:
	// by idempotency headers when it has them, else by payload (the
	// default, IdentityAuto), by headers only, or by payload only. See
	// IdentityRule.
	Identity IdentityRule
}

// Example is one anomalous record.
type Example struct {
	ID       ID     `json:"id"`
	Producer int    `json:"producer"` // -1 when unknown
	Key      string `json:"key,omitempty"`
	KeySeq   int64  `json:"key_seq"` // -1 when unknown
	// Kind is the acknowledged record's kind ("" when not acknowledged).
	Kind      workload.Kind `json:"kind,omitempty"`
	Topic     string        `json:"topic,omitempty"`
	Partition int32         `json:"partition"`
	Offset    int64         `json:"offset"` // -1 when not in Kafka
	Detail    string        `json:"detail"`
	// IdentifiedBy is IdentityPayload for a Kafka record identified by its
	// payload rather than its headers; "" otherwise.
	IdentifiedBy IdentityRule `json:"identified_by,omitempty"`
}

// String renders an example on one line.
func (e Example) String() string {
	var b strings.Builder
	if e.ID.Shard != "" {
		b.WriteString(e.ID.String())
	} else {
		b.WriteString("(no id)")
	}
	if e.Producer >= 0 {
		fmt.Fprintf(&b, " producer %d key %s seq %d", e.Producer, e.Key, e.KeySeq)
	}
	if e.Kind != "" && e.Kind != workload.KindNormal {
		fmt.Fprintf(&b, " (%s)", e.Kind)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " at %s[%d]@%d", e.Topic, e.Partition, e.Offset)
	}
	if e.IdentifiedBy == IdentityPayload {
		b.WriteString(" (identified by payload)")
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Anomaly counts one kind of finding and keeps the first examples.
type Anomaly struct {
	Count    int       `json:"count"`
	Examples []Example `json:"examples,omitempty"`
}

func (a *Anomaly) add(max int, e Example) {
	a.Count++
	if len(a.Examples) < max {
		a.Examples = append(a.Examples, e)
	}
}

// Duplicates are IDs seen more than once in a topic.
type Duplicates struct {
	Anomaly
	// ExtraCopies is the number of copies beyond the first, over all IDs.
	ExtraCopies int `json:"extra_copies"`
	// Causes counts duplicated IDs by the kind of event they are attributed
	// to ("unattributed" when none fits).
	Causes map[string]int `json:"causes,omitempty"`
}

// CauseSummary renders Causes as "cause count" pairs in name order ("none"
// when empty). The Gomega matchers and the run report both print it, and
// they must read the same so a failure message can be matched to a report.
func (d Duplicates) CauseSummary() string {
	c := d.Causes
	if len(c) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, c[k])
	}
	return strings.Join(parts, ", ")
}

// Sample is one replicated record: its shard, when the workload sent it and
// Kinesis acknowledged it (AckedMs 0 when unknown), and when its first
// counting copy appeared in Kafka (its record timestamp).
type Sample struct {
	Shard   string
	SentMs  int64
	AckedMs int64
	InKafka time.Time
}

// LatencySummary holds end-to-end latency percentiles.
type LatencySummary struct {
	Count int64         `json:"count"`
	P50   time.Duration `json:"p50"`
	P90   time.Duration `json:"p90"`
	P99   time.Duration `json:"p99"`
	P999  time.Duration `json:"p999"`
	Max   time.Duration `json:"max"`
}

// Result is the checker's verdict material.
type Result struct {
	Acked          int `json:"acked"`
	AckedNormal    int `json:"acked_normal"`
	AckedMalformed int `json:"acked_malformed"`
	AckedOversized int `json:"acked_oversized"`
	Filtered       int `json:"filtered"`
	OutputRecords  int `json:"output_records"` // main-topic records read
	DLQRecords     int `json:"dlq_records"`    // DLQ records read
	Replicated     int `json:"replicated"`     // distinct acknowledged normal records in the main topic
	DeadLettered   int `json:"dead_lettered"`  // distinct acknowledged malformed/oversized records in the DLQ
	// UnconfirmedWrites counts Kafka copies of records whose write outcome
	// was unknown to the producer: the producer's duplicates, tolerated.
	UnconfirmedWrites int `json:"unconfirmed_writes"`
	// IdentifiedByPayload counts Kafka records (main and DLQ) identified by
	// their payload because they carry no idempotency headers (or because
	// Options.Identity is IdentityPayload). Zero for a bridge that writes
	// the headers on every record.
	IdentifiedByPayload int `json:"identified_by_payload,omitempty"`
	// AnonymousDeadLetters counts DLQ records identified neither by headers
	// nor by payload (a corrupted aggregate, a truncated value, from a
	// bridge that writes no headers). They are matched by count to
	// acknowledged malformed/oversized records found nowhere else (those
	// count as DeadLettered); a surplus is a DLQ finding.
	AnonymousDeadLetters int `json:"anonymous_dead_letters,omitempty"`

	Lost Anomaly `json:"lost"`
	// LostDeadLetters is how many of Lost are malformed/oversized records
	// (expected in the DLQ).
	LostDeadLetters   int        `json:"lost_dead_letters"`
	Duplicated        Duplicates `json:"duplicated"`
	ReorderedPerKey   Anomaly    `json:"reordered_per_key"`
	ReorderedPerShard Anomaly    `json:"reordered_per_shard"`
	Unexpected        Anomaly    `json:"unexpected"`
	DLQ               Anomaly    `json:"dlq"`
	// InputErrors are problems with the history itself (an ID acknowledged
	// twice): the run proves nothing until they are fixed.
	InputErrors []string `json:"input_errors,omitempty"`

	Latency LatencySummary `json:"latency"`
	// Lag is the replication lag of each record: its Kafka timestamp minus
	// when Kinesis acknowledged it (Ack.AckedMs). Unlike a bridge's gauge it
	// is measured, record by record, so it cannot freeze.
	Lag LatencySummary `json:"lag"`
	// Samples are the replicated records' times, for charts over the run
	// (report.Timeline): one per acknowledged normal record found in the
	// main topic, in acknowledgement order.
	Samples    []Sample                `json:"-"`
	Histogram  *hdrhistogram.Histogram `json:"-"`
	Throughput float64                 `json:"throughput"` // replicated records per second

	// deduped is the main topic deduplicated by ID: per (partition, key), the
	// IDs in first-occurrence order. CompareReplay uses it.
	deduped map[partKey][]ID
}

type partKey struct {
	partition int32
	key       string
}

// Problems lists, in words, everything that fails mode's promise.
func (r Result) Problems(mode Mode) []string {
	var p []string
	if r.Acked == 0 {
		p = append(p, "no record was acknowledged by Kinesis: the run tested nothing")
	}
	p = append(p, r.InputErrors...)
	add := func(n int, what string) {
		if n > 0 {
			p = append(p, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(r.Lost.Count, "lost")
	if mode != AtLeastOnce {
		add(r.Duplicated.Count, "duplicated")
	}
	add(r.ReorderedPerKey.Count, "reordered per key")
	add(r.ReorderedPerShard.Count, "reordered per shard")
	add(r.Unexpected.Count, "unexpected")
	add(r.DLQ.Count, "DLQ accounting errors")
	return p
}

// OK reports whether the run kept mode's promise: at-least-once allows
// duplicates and nothing else; exactly-once (or any other mode string)
// allows nothing.
func (r Result) OK(mode Mode) bool { return len(r.Problems(mode)) == 0 }

// IdempotenceProblems lists what stops the main topic, deduplicated by ID,
// from being exactly the acknowledged input in per-key order.
func (r Result) IdempotenceProblems() []string {
	var p []string
	if r.Acked == 0 {
		p = append(p, "no record was acknowledged by Kinesis")
	}
	p = append(p, r.InputErrors...)
	for _, f := range []struct {
		n    int
		what string
	}{
		{r.Lost.Count, "lost"}, {r.Unexpected.Count, "unexpected"},
		{r.ReorderedPerKey.Count, "reordered per key"}, {r.DLQ.Count, "DLQ accounting errors"},
	} {
		if f.n > 0 {
			p = append(p, fmt.Sprintf("%d %s", f.n, f.what))
		}
	}
	return p
}

// ExactlyOnceByIdempotence reports whether deduplicating by ID yields
// exactly the acknowledged input, in per-key order.
func (r Result) ExactlyOnceByIdempotence() bool { return len(r.IdempotenceProblems()) == 0 }
