package checker

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness/workload"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// history builds synthetic Kinesis acknowledgements and Kafka topics.
type history struct {
	acks []workload.Ack
	out  []Observed
	dlq  []Observed
	seq  int64
	next map[int32]int64 // next offset per main partition
	dlqN int64
	kseq map[string]int64
}

func newHistory() *history {
	return &history{seq: 4960000000000000000, next: map[int32]int64{}, kseq: map[string]int64{}}
}

// ack records that Kinesis acknowledged the next record of (producer, key) on
// shard; sub ≥ 0 makes it a sub-record of the previous sequence number.
func (h *history) ack(producer int, key, shard string, sub int64, kind workload.Kind) workload.Ack {
	if sub <= 0 {
		h.seq += 7
	}
	sk := fmt.Sprintf("%d/%s", producer, key)
	a := workload.Ack{
		Producer: producer, Key: key, KeySeq: h.kseq[sk], ShardID: shard,
		SequenceNumber: strconv.FormatInt(h.seq, 10), SubSequence: sub, Kind: kind,
		PartitionKey: key, SentMs: t0.UnixMilli() + int64(len(h.acks)),
	}
	h.kseq[sk]++
	h.acks = append(h.acks, a)
	return a
}

func (h *history) observed(a workload.Ack, topic string, partition int32, offset int64) Observed {
	p := workload.Payload{Producer: a.Producer, Key: a.Key, Seq: a.KeySeq, Kind: a.Kind, SentMs: a.SentMs}
	v, _ := json.Marshal(p)
	if a.Kind == workload.KindMalformed {
		v = append([]byte(workload.MalformedPrefix), v...)
	}
	o := Observed{
		Topic: topic, Partition: partition, Offset: offset, Key: []byte(a.PartitionKey), Value: v,
		Timestamp: time.UnixMilli(a.SentMs).Add(time.Duration(offset+1) * time.Millisecond),
		Headers: map[string]string{
			HeaderStream: "s", HeaderShard: a.ShardID, HeaderSeq: a.SequenceNumber,
			HeaderArrivalMs: strconv.FormatInt(a.SentMs+1, 10),
		},
	}
	if a.SubSequence >= 0 {
		o.Headers[HeaderSubSeq] = strconv.FormatInt(a.SubSequence, 10)
	}
	return o
}

// deliver appends a to the main topic's partition.
func (h *history) deliver(a workload.Ack, partition int32) {
	h.out = append(h.out, h.observed(a, "out", partition, h.next[partition]))
	h.next[partition]++
}

func (h *history) deadLetter(a workload.Ack, reason bool) {
	o := h.observed(a, "dlq", 0, h.dlqN)
	h.dlqN++
	if reason {
		o.Headers[HeaderDLQError] = "invalid JSON"
		o.Headers[HeaderDLQStage] = "transform"
	}
	h.dlq = append(h.dlq, o)
}

func (h *history) check(opts Options) Result { return Check(h.acks, h.out, h.dlq, opts) }

// clean: 2 producers, keys a/b/c over shards 0/1, key a and b in partition
// 0, c in partition 1, one aggregate, one malformed and one oversized record.
func clean() *history {
	h := newHistory()
	part := map[string]int32{"a": 0, "b": 0, "c": 1}
	shard := map[string]string{"a": "shard-0", "b": "shard-1", "c": "shard-1"}
	for round := range 4 {
		for _, p := range []int{0, 1} {
			for _, k := range []string{"a", "b", "c"} {
				h.deliver(h.ack(p, k, shard[k], -1, workload.KindNormal), part[k])
			}
		}
		if round == 1 {
			for sub := range int64(3) {
				h.deliver(h.ack(0, "c", "shard-1", sub, workload.KindNormal), 1)
			}
		}
	}
	h.deadLetter(h.ack(0, "a", "shard-0", -1, workload.KindMalformed), true)
	h.deadLetter(h.ack(1, "b", "shard-1", -1, workload.KindOversized), true)
	return h
}

func wantCounts(t *testing.T, r Result, lost, dup, key, shard, unexpected, dlq int) {
	t.Helper()
	got := []int{r.Lost.Count, r.Duplicated.Count, r.ReorderedPerKey.Count, r.ReorderedPerShard.Count, r.Unexpected.Count, r.DLQ.Count}
	want := []int{lost, dup, key, shard, unexpected, dlq}
	if !slices.Equal(got, want) {
		t.Fatalf("lost/dup/key/shard/unexpected/dlq = %v, want %v\n%s", got, want, details(r, true))
	}
}

func TestCleanHistoryPasses(t *testing.T) {
	h := clean()
	r := h.check(Options{})
	wantCounts(t, r, 0, 0, 0, 0, 0, 0)
	if !r.OK(ExactlyOnce) || !r.OK(AtLeastOnce) || !r.ExactlyOnceByIdempotence() {
		t.Fatalf("clean history fails: %v", r.Problems(ExactlyOnce))
	}
	if r.Acked != 29 || r.AckedNormal != 27 || r.Replicated != 27 || r.DeadLettered != 2 || r.OutputRecords != 27 || r.DLQRecords != 2 {
		t.Fatalf("counts: %+v", r)
	}
	if r.Latency.Count != 27 || r.Latency.Max <= 0 || r.Throughput <= 0 {
		t.Fatalf("latency %+v throughput %v", r.Latency, r.Throughput)
	}
}

func TestLost(t *testing.T) {
	h := clean()
	gone := h.out[5]
	h.out = slices.Delete(h.out, 5, 6)
	r := h.check(Options{})
	wantCounts(t, r, 1, 0, 0, 0, 0, 0)
	id, _ := gone.ID()
	if r.Lost.Examples[0].ID != id || r.OK(AtLeastOnce) {
		t.Fatalf("lost example %v, want %v", r.Lost.Examples[0], id)
	}
}

func TestLostDeadLetter(t *testing.T) {
	h := clean()
	h.dlq = h.dlq[:1]
	r := h.check(Options{})
	wantCounts(t, r, 1, 0, 0, 0, 0, 0)
	if r.LostDeadLetters != 1 || r.Lost.Examples[0].Kind != workload.KindOversized {
		t.Fatalf("lost dead letter not classified: %+v", r.Lost)
	}
}

func TestDuplicatesAllowedOnlyAtLeastOnce(t *testing.T) {
	h := clean()
	// Re-deliver the last two records of partition 0 after a crash: an
	// at-least-once resend, in order.
	var p0 []Observed
	for _, o := range h.out {
		if o.Partition == 0 {
			p0 = append(p0, o)
		}
	}
	for _, o := range p0[len(p0)-2:] {
		c := o
		c.Offset = h.next[0]
		c.Timestamp = o.Timestamp.Add(10 * time.Second)
		h.next[0]++
		h.out = append(h.out, c)
	}
	crash := p0[len(p0)-1].Timestamp.Add(time.Second)
	shard, _ := p0[len(p0)-2].ID()
	r := h.check(Options{Events: []Event{
		{Time: crash, Kind: "crash", Detail: "instance 1 killed"},
		{Time: crash.Add(time.Second), Kind: "lease-move", Shard: shard.Shard},
		{Time: crash.Add(2 * time.Second), Kind: "lease-move", Shard: "other-shard"},
		{Time: crash.Add(time.Hour), Kind: "broker-restart"},
	}})
	wantCounts(t, r, 0, 2, 0, 0, 0, 0)
	if r.Duplicated.ExtraCopies != 2 || !r.OK(AtLeastOnce) || r.OK(ExactlyOnce) || !r.ExactlyOnceByIdempotence() {
		t.Fatalf("duplicates misjudged: %+v problems %v", r.Duplicated, r.Problems(ExactlyOnce))
	}
	// The latest fitting event of that shard or of none wins.
	if r.Duplicated.Causes["lease-move"]+r.Duplicated.Causes["crash"] != 2 || r.Duplicated.Causes["broker-restart"] != 0 {
		t.Fatalf("causes %v", r.Duplicated.Causes)
	}
	if !strings.Contains(r.Duplicated.Examples[0].Detail, "2 copies") {
		t.Fatalf("example %v", r.Duplicated.Examples[0])
	}
	r = h.check(Options{})
	if r.Duplicated.Causes["unattributed"] != 2 {
		t.Fatalf("causes without events %v", r.Duplicated.Causes)
	}
}

func TestDuplicateInDLQ(t *testing.T) {
	h := clean()
	c := h.dlq[0]
	c.Offset = h.dlqN
	h.dlq = append(h.dlq, c)
	r := h.check(Options{})
	wantCounts(t, r, 0, 1, 0, 0, 0, 0)
	if r.Duplicated.Examples[0].Topic != "dlq" {
		t.Fatalf("example %v", r.Duplicated.Examples[0])
	}
}

// The child shard's record of a key delivered before the parent's: per-key
// order broken, each shard in order (the classic reshard bug).
func TestReorderedPerKeyAcrossReshard(t *testing.T) {
	h := newHistory()
	parent := h.ack(0, "k", "shard-parent", -1, workload.KindNormal)
	child := h.ack(0, "k", "shard-child", -1, workload.KindNormal)
	h.deliver(child, 0)
	h.deliver(parent, 0)
	r := h.check(Options{})
	wantCounts(t, r, 0, 0, 1, 0, 0, 0)
	if !strings.Contains(r.ReorderedPerKey.Examples[0].Detail, "seq 0 after seq 1") {
		t.Fatalf("example %v", r.ReorderedPerKey.Examples[0])
	}
	if r.OK(AtLeastOnce) || r.ExactlyOnceByIdempotence() {
		t.Fatal("reordering passed")
	}
}

func TestResendIsNotReorder(t *testing.T) {
	h := newHistory()
	var as []workload.Ack
	for range 4 {
		as = append(as, h.ack(0, "k", "shard-0", -1, workload.KindNormal))
	}
	for _, i := range []int{0, 1, 2, 1, 2, 3} { // crash after 2, resume from checkpoint 0
		h.deliver(as[i], 0)
	}
	r := h.check(Options{})
	wantCounts(t, r, 0, 2, 0, 0, 0, 0)
}

func TestReorderedPerShard(t *testing.T) {
	h := newHistory()
	a := h.ack(0, "a", "shard-0", -1, workload.KindNormal)
	b := h.ack(0, "b", "shard-0", -1, workload.KindNormal)
	h.deliver(b, 0)
	h.deliver(a, 0)
	r := h.check(Options{})
	wantCounts(t, r, 0, 0, 0, 1, 0, 0)
	// The same two records in different partitions are not ordered.
	h = newHistory()
	a = h.ack(0, "a", "shard-0", -1, workload.KindNormal)
	b = h.ack(0, "b", "shard-0", -1, workload.KindNormal)
	h.deliver(b, 0)
	h.deliver(a, 1)
	wantCounts(t, h.check(Options{}), 0, 0, 0, 0, 0, 0)
}

func TestSequenceNumbersCompareAsIntegers(t *testing.T) {
	h := newHistory()
	h.seq = 2 // next acks get 9 and 16: "16" < "9" as strings
	a := h.ack(0, "a", "shard-0", -1, workload.KindNormal)
	b := h.ack(0, "b", "shard-0", -1, workload.KindNormal)
	if a.SequenceNumber != "9" || b.SequenceNumber != "16" {
		t.Fatalf("setup: %s %s", a.SequenceNumber, b.SequenceNumber)
	}
	h.deliver(a, 0)
	h.deliver(b, 0)
	wantCounts(t, h.check(Options{}), 0, 0, 0, 0, 0, 0)
	if compareSeq("0100", "99") != 1 || compareSeq(strings.Repeat("9", 128), "1"+strings.Repeat("0", 128)) != -1 ||
		compareSeq(strings.Repeat("9", 129), "1"+strings.Repeat("0", 128)) != 1 {
		t.Fatal("compareSeq")
	}
}

func TestSubSequenceOrder(t *testing.T) {
	h := newHistory()
	var subs []workload.Ack
	for i := range int64(3) {
		subs = append(subs, h.ack(0, "k", "shard-0", i, workload.KindNormal))
	}
	h.deliver(subs[0], 0)
	h.deliver(subs[2], 0)
	h.deliver(subs[1], 0)
	r := h.check(Options{})
	wantCounts(t, r, 0, 0, 1, 1, 0, 0)
	if !strings.Contains(r.ReorderedPerShard.Examples[0].Detail, "/2 of the same shard") {
		t.Fatalf("example %v", r.ReorderedPerShard.Examples[0])
	}
}

func TestKeySplitAcrossPartitions(t *testing.T) {
	h := newHistory()
	a := h.ack(0, "k", "shard-0", -1, workload.KindNormal)
	b := h.ack(0, "k", "shard-1", -1, workload.KindNormal)
	h.deliver(a, 0)
	h.deliver(b, 1)
	r := h.check(Options{})
	wantCounts(t, r, 0, 0, 1, 0, 0, 0)
	if !strings.Contains(r.ReorderedPerKey.Examples[0].Detail, "split across partitions 0 and 1") {
		t.Fatalf("example %v", r.ReorderedPerKey.Examples[0])
	}
	// Shard partitioning: a key follows its shard to another partition.
	wantCounts(t, h.check(Options{Partitioning: "shard"}), 0, 0, 0, 0, 0, 0)
}

func TestUnexpected(t *testing.T) {
	h := clean()
	ghost := h.observed(workload.Ack{Producer: 5, Key: "z", KeySeq: 0, ShardID: "shard-9", SequenceNumber: "1", SubSequence: -1, Kind: workload.KindNormal, PartitionKey: "z"}, "out", 3, 0)
	noHeaders := Observed{Topic: "out", Partition: 3, Offset: 1, Value: []byte("{}"), Headers: map[string]string{}}
	h.out = append(h.out, ghost, noHeaders)
	r := h.check(Options{})
	wantCounts(t, r, 0, 0, 0, 0, 2, 0)
	if r.Unexpected.Examples[0].Producer != 5 || !strings.Contains(r.Unexpected.Examples[1].Detail, "missing kinesis.shard") {
		t.Fatalf("examples %v", r.Unexpected.Examples)
	}
	if r.OK(AtLeastOnce) {
		t.Fatal("unexpected records passed")
	}
}

func TestWrongContentIsUnexpectedAndLost(t *testing.T) {
	h := clean()
	// Sub-record payloads swapped under their headers (a deaggregation bug).
	var idx []int
	for i, o := range h.out {
		if o.Headers[HeaderSubSeq] != "" {
			idx = append(idx, i)
		}
	}
	h.out[idx[0]].Value, h.out[idx[1]].Value = h.out[idx[1]].Value, h.out[idx[0]].Value
	r := h.check(Options{})
	wantCounts(t, r, 2, 0, 0, 0, 2, 0)
	if !strings.Contains(r.Unexpected.Examples[0].Detail, "content does not match") {
		t.Fatalf("example %v", r.Unexpected.Examples[0])
	}
	// The wrong Kafka key is caught the same way.
	h = clean()
	h.out[0].Key = []byte("other")
	wantCounts(t, h.check(Options{}), 1, 0, 0, 0, 1, 0)
}

func TestUnconfirmedWritesAreTolerated(t *testing.T) {
	h := clean()
	// The producer's call failed after Kinesis wrote it; the retry was acked
	// (Ambiguous). The first copy reaches Kafka under its own sequence number.
	h.acks[0].Ambiguous = true
	first := h.acks[0]
	first.SequenceNumber = "4970000000000000000" // after everything else in its shard
	h.out = append(h.out, h.observed(first, "out", 0, h.next[0]))
	h.next[0]++
	// A record never acknowledged at all, whose outcome was unknown.
	never := workload.Ack{Producer: 1, Key: "a", KeySeq: 99, ShardID: "shard-0", SequenceNumber: "49700000000000000000", SubSequence: -1, Kind: workload.KindNormal, PartitionKey: "a"}
	h.out = append(h.out, h.observed(never, "out", 0, h.next[0]))
	r := h.check(Options{Unconfirmed: []workload.Ack{never}})
	wantCounts(t, r, 0, 0, 0, 0, 0, 0)
	if r.UnconfirmedWrites != 2 {
		t.Fatalf("unconfirmed writes %d, want 2", r.UnconfirmedWrites)
	}
	// Without the ambiguity marks the same history is unexpected.
	h.acks[0].Ambiguous = false
	wantCounts(t, h.check(Options{}), 0, 0, 0, 0, 2, 0)
}

func TestDLQAccounting(t *testing.T) {
	// A dead letter without its reason headers.
	h := clean()
	delete(h.dlq[0].Headers, HeaderDLQStage)
	r := h.check(Options{})
	wantCounts(t, r, 0, 0, 0, 0, 0, 1)
	if !strings.Contains(r.DLQ.Examples[0].Detail, "dlq.stage") {
		t.Fatalf("example %v", r.DLQ.Examples[0])
	}
	// A malformed record delivered to the main topic instead.
	h = clean()
	bad := h.dlq[0]
	h.dlq = h.dlq[1:]
	bad.Topic, bad.Partition, bad.Offset = "out", 0, h.next[0]
	h.out = append(h.out, bad)
	r = h.check(Options{})
	wantCounts(t, r, 0, 0, 0, 0, 0, 1)
	if !strings.Contains(r.DLQ.Examples[0].Detail, "malformed record in the main topic") {
		t.Fatalf("example %v", r.DLQ.Examples[0])
	}
	// A normal record dead-lettered instead of delivered: not lost, misrouted.
	h = clean()
	moved := h.out[3]
	h.out = slices.Delete(h.out, 3, 4)
	moved.Topic, moved.Offset = "dlq", h.dlqN
	moved.Headers[HeaderDLQError], moved.Headers[HeaderDLQStage] = "boom", "sink"
	h.dlq = append(h.dlq, moved)
	r = h.check(Options{})
	wantCounts(t, r, 0, 0, 0, 0, 0, 1)
	if !strings.Contains(r.DLQ.Examples[0].Detail, "normal record dead-lettered") || r.ExactlyOnceByIdempotence() {
		t.Fatalf("example %v", r.DLQ.Examples[0])
	}
	// An unknown dead letter is unexpected.
	h = clean()
	ghost := h.observed(workload.Ack{Producer: 3, Key: "q", ShardID: "shard-0", SequenceNumber: "5", SubSequence: -1, Kind: workload.KindMalformed}, "dlq", 0, h.dlqN)
	ghost.Headers[HeaderDLQError], ghost.Headers[HeaderDLQStage] = "x", "y"
	h.dlq = append(h.dlq, ghost)
	wantCounts(t, h.check(Options{}), 0, 0, 0, 0, 1, 0)
}

func TestFiltered(t *testing.T) {
	h := clean()
	filtered := func(a workload.Ack) bool { return a.Key == "c" && a.Kind == workload.KindNormal }
	// Records of key c delivered though the transform should drop them.
	r := h.check(Options{Filtered: filtered})
	if r.Filtered != 11 || r.Unexpected.Count != 11 {
		t.Fatalf("filtered %d unexpected %d", r.Filtered, r.Unexpected.Count)
	}
	h.out = slices.DeleteFunc(h.out, func(o Observed) bool { return string(o.Key) == "c" })
	r = h.check(Options{Filtered: filtered})
	wantCounts(t, r, 0, 0, 0, 0, 0, 0)
	if r.Replicated != 16 {
		t.Fatalf("replicated %d", r.Replicated)
	}
}

func TestInputErrorsAndEmptyRunFail(t *testing.T) {
	h := clean()
	h.acks = append(h.acks, h.acks[0])
	r := h.check(Options{})
	if r.OK(AtLeastOnce) || len(r.InputErrors) != 1 {
		t.Fatalf("duplicate ack not reported: %v", r.InputErrors)
	}
	if r := Check(nil, nil, nil, Options{}); r.OK(AtLeastOnce) || r.ExactlyOnceByIdempotence() {
		t.Fatal("an empty run passed")
	}
}

func TestLatency(t *testing.T) {
	h := newHistory()
	for i := range 100 {
		a := h.ack(0, "k", "shard-0", -1, workload.KindNormal)
		if i%2 == 0 { // acknowledged 10ms after sent; the odd ones have no acknowledgement time
			h.acks[len(h.acks)-1].AckedMs = a.SentMs + 10
		}
		o := h.observed(a, "out", 0, int64(i))
		o.Timestamp = time.UnixMilli(a.SentMs).Add(time.Duration(i+1) * time.Millisecond)
		o.Headers[HeaderArrivalMs] = strconv.FormatInt(a.SentMs+int64(i), 10) // arrival lags sent by i ms
		h.out = append(h.out, o)
	}
	r := h.check(Options{Elapsed: 2 * time.Second})
	l := r.Latency
	if l.Count != 100 || !near(l.P50, 50*time.Millisecond) || !near(l.P99, 99*time.Millisecond) || !near(l.Max, 100*time.Millisecond) {
		t.Fatalf("latency %+v", l)
	}
	if r.Throughput != 50 {
		t.Fatalf("throughput %v, want 50/s", r.Throughput)
	}
	// Lag counts from the acknowledgement: the largest is record 98's,
	// 99ms after sent, 89ms after acknowledged.
	if g := r.Lag; g.Count != 50 || !near(g.Max, 89*time.Millisecond) {
		t.Fatalf("lag %+v, want 50 records, max 89ms", g)
	}
	r = h.check(Options{Latency: LatencyFromArrival})
	if !near(r.Latency.Max, time.Millisecond) {
		t.Fatalf("arrival latency %+v", r.Latency)
	}
}

func near(d, want time.Duration) bool {
	diff := d - want
	return diff >= -want/100-time.Microsecond && diff <= want/100+time.Microsecond
}

func TestCompareReplay(t *testing.T) {
	h := clean()
	before := h.check(Options{})
	// Replay: every record delivered again in order; dedup is unchanged.
	n := len(h.out)
	for _, o := range h.out[:n] {
		c := o
		c.Offset = h.next[o.Partition]
		h.next[o.Partition]++
		h.out = append(h.out, c)
	}
	after := h.check(Options{})
	if rr := CompareReplay(before, after); !rr.OK() || rr.Before != 27 || rr.After != 27 {
		t.Fatalf("plain replay differs: %+v", rr)
	}
	// Only the replayed segment, reordered and with a renumbered sub-record.
	seg := slices.Clone(h.out[n:])
	// Swap the first two records of key "a" (producers 0 and 1).
	var ia []int
	for i, o := range seg {
		if string(o.Key) == "a" {
			ia = append(ia, i)
		}
	}
	i, j := ia[0], ia[1]
	seg[i], seg[j] = seg[j], seg[i]
	seg[i].Offset, seg[j].Offset = seg[j].Offset, seg[i].Offset
	for i := range seg {
		if seg[i].Headers[HeaderSubSeq] == "2" {
			seg[i].Headers = map[string]string{HeaderShard: seg[i].Headers[HeaderShard], HeaderSeq: seg[i].Headers[HeaderSeq], HeaderSubSeq: "7"}
		}
	}
	rr := CompareReplay(before, Check(h.acks, seg, h.dlq, Options{}))
	if rr.OK() || rr.MissingCount != 1 || rr.ExtraCount != 1 || rr.ReorderedCount != 1 {
		t.Fatalf("replay differences missed: %+v", rr)
	}
	if !strings.Contains(rr.Reordered[0].Detail, "position 0") || rr.Extra[0].SubSeq != 7 {
		t.Fatalf("replay examples %+v", rr)
	}
}

func TestExampleLimit(t *testing.T) {
	h := clean()
	h.out = nil
	r := h.check(Options{MaxExamples: 3})
	if r.Lost.Count != 27 || len(r.Lost.Examples) != 3 {
		t.Fatalf("lost %d with %d examples", r.Lost.Count, len(r.Lost.Examples))
	}
}
