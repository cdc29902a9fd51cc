package checker

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness/workload"
)

// Histories of a bridge that writes no kinesis.* headers: the checker must
// identify every record by its payload and map it to its acknowledgement.

// stripOne removes the idempotency headers (kinesis.*) from o, keeping the
// dlq.* reasons.
func stripOne(o *Observed) {
	h := map[string]string{}
	for k, v := range o.Headers {
		if !strings.HasPrefix(k, "kinesis.") {
			h[k] = v
		}
	}
	o.Headers = h
}

// strip makes the whole history headerless.
func (h *history) strip() *history {
	for i := range h.out {
		stripOne(&h.out[i])
	}
	for i := range h.dlq {
		stripOne(&h.dlq[i])
	}
	return h
}

func TestHeaderlessCleanHistoryPasses(t *testing.T) {
	h := clean().strip()
	r := h.check(Options{})
	wantCounts(t, r, 0, 0, 0, 0, 0, 0)
	if !r.OK(ExactlyOnce) || !r.ExactlyOnceByIdempotence() {
		t.Fatalf("clean headerless history fails: %v", r.Problems(ExactlyOnce))
	}
	if r.Acked != 29 || r.Replicated != 27 || r.DeadLettered != 2 || r.IdentifiedByPayload != 29 || r.AnonymousDeadLetters != 0 {
		t.Fatalf("counts: %+v", r)
	}
	if r.Latency.Count != 27 {
		t.Fatalf("latency %+v", r.Latency)
	}
	// The same history with headers identifies nothing by payload.
	if r := clean().check(Options{}); r.IdentifiedByPayload != 0 {
		t.Fatalf("identified by payload %d with headers", r.IdentifiedByPayload)
	}
}

func TestHeaderlessLost(t *testing.T) {
	h := clean().strip()
	h.out = slices.Delete(h.out, 5, 6)
	r := h.check(Options{})
	wantCounts(t, r, 1, 0, 0, 0, 0, 0)
	// Lost is named by the ID Kinesis acknowledged.
	gone := clean().out[5]
	id, _ := gone.ID()
	if r.Lost.Examples[0].ID != id || r.OK(AtLeastOnce) {
		t.Fatalf("lost example %v, want %v", r.Lost.Examples[0], id)
	}
	// A lost sub-record of an aggregate.
	h = clean().strip()
	i := slices.IndexFunc(clean().out, func(o Observed) bool { return o.Headers[HeaderSubSeq] == "1" })
	h.out = slices.Delete(h.out, i, i+1)
	r = h.check(Options{})
	wantCounts(t, r, 1, 0, 0, 0, 0, 0)
	if e := r.Lost.Examples[0]; e.ID.SubSeq != 1 || e.Key != "c" {
		t.Fatalf("lost sub-record example %v", e)
	}
}

func TestHeaderlessDuplicates(t *testing.T) {
	h := clean().strip()
	// Re-deliver the first three records of partition 1 after them.
	var p1 []Observed
	for _, o := range h.out {
		if o.Partition == 1 {
			p1 = append(p1, o)
		}
	}
	for _, o := range p1[:3] {
		c := o
		c.Offset = h.next[1]
		c.Timestamp = o.Timestamp.Add(time.Second)
		h.next[1]++
		h.out = append(h.out, c)
	}
	r := h.check(Options{})
	wantCounts(t, r, 0, 3, 0, 0, 0, 0)
	if r.Duplicated.ExtraCopies != 3 || !r.OK(AtLeastOnce) || r.OK(ExactlyOnce) || !r.ExactlyOnceByIdempotence() {
		t.Fatalf("duplicates misjudged: %+v", r.Duplicated)
	}
	if r.Duplicated.Examples[0].ID.Shard != "shard-1" || r.Duplicated.Examples[0].Key != "c" {
		t.Fatalf("duplicate example %v", r.Duplicated.Examples[0])
	}
	// A duplicated dead letter.
	h = clean().strip()
	c := h.dlq[1]
	c.Offset = h.dlqN
	h.dlq = append(h.dlq, c)
	wantCounts(t, h.check(Options{}), 0, 1, 0, 0, 0, 0)
}

func TestHeaderlessReorderedPerKey(t *testing.T) {
	// Reshard: the child shard's record of a key before the parent's.
	h := newHistory()
	parent := h.ack(0, "k", "shard-parent", -1, workload.KindNormal)
	child := h.ack(0, "k", "shard-child", -1, workload.KindNormal)
	h.deliver(child, 0)
	h.deliver(parent, 0)
	r := h.strip().check(Options{})
	wantCounts(t, r, 0, 0, 1, 0, 0, 0)
	e := r.ReorderedPerKey.Examples[0]
	if !strings.Contains(e.Detail, "seq 0 after seq 1") || e.IdentifiedBy != IdentityPayload || !strings.Contains(e.String(), "identified by payload") {
		t.Fatalf("example %v", e)
	}
	if r.OK(AtLeastOnce) || r.ExactlyOnceByIdempotence() {
		t.Fatal("reordering passed")
	}
	// Two keys of one shard swapped in one partition: per-shard order,
	// judged on the acknowledged sequence numbers.
	h = newHistory()
	a := h.ack(0, "a", "shard-0", -1, workload.KindNormal)
	b := h.ack(0, "b", "shard-0", -1, workload.KindNormal)
	h.deliver(b, 0)
	h.deliver(a, 0)
	wantCounts(t, h.strip().check(Options{}), 0, 0, 0, 1, 0, 0)
	// A resend after a crash is not a reorder.
	h = newHistory()
	var as []workload.Ack
	for range 4 {
		as = append(as, h.ack(0, "k", "shard-0", -1, workload.KindNormal))
	}
	for _, i := range []int{0, 1, 2, 1, 2, 3} {
		h.deliver(as[i], 0)
	}
	wantCounts(t, h.strip().check(Options{}), 0, 2, 0, 0, 0, 0)
}

// KPL sub-records, de-aggregated by a headerless bridge, each identified by
// its own payload and ordered by (sequence number, subsequence).
func TestHeaderlessSubRecordOrder(t *testing.T) {
	h := newHistory()
	var subs []workload.Ack
	for i := range int64(3) {
		subs = append(subs, h.ack(0, "k", "shard-0", i, workload.KindNormal))
	}
	h.deliver(subs[0], 0)
	h.deliver(subs[2], 0)
	h.deliver(subs[1], 0)
	r := h.strip().check(Options{})
	wantCounts(t, r, 0, 0, 1, 1, 0, 0)
	if !strings.Contains(r.ReorderedPerShard.Examples[0].Detail, "/2 of the same shard") {
		t.Fatalf("example %v", r.ReorderedPerShard.Examples[0])
	}
}

// Some records with headers, some without: each judged by its own rule, in
// one ID space.
func TestMixedHeadersAndPayloads(t *testing.T) {
	h := clean()
	for i := range h.out {
		if i%2 == 1 {
			stripOne(&h.out[i])
		}
	}
	stripOne(&h.dlq[0])
	r := h.check(Options{})
	wantCounts(t, r, 0, 0, 0, 0, 0, 0)
	if r.IdentifiedByPayload != 14 || r.Replicated != 27 || r.DeadLettered != 2 {
		t.Fatalf("counts %+v", r)
	}
	// A copy with headers and a copy without of one record are duplicates.
	c := h.out[0] // has headers
	stripOne(&c)
	c.Offset = h.next[c.Partition]
	h.next[c.Partition]++
	h.out = append(h.out, c)
	r = h.check(Options{})
	wantCounts(t, r, 0, 1, 0, 0, 0, 0)
	// Reordering across the two kinds: a headerless record of key a placed
	// before an earlier one with headers.
	h = clean()
	var ia []int
	for i, o := range h.out {
		if string(o.Key) == "a" && o.Partition == 0 {
			ia = append(ia, i)
		}
	}
	i, j := ia[0], ia[1]
	h.out[i].Value, h.out[j].Value = h.out[j].Value, h.out[i].Value
	h.out[i].Headers, h.out[j].Headers = h.out[j].Headers, h.out[i].Headers
	stripOne(&h.out[i])
	r = h.check(Options{})
	if r.ReorderedPerShard.Count != 1 || r.Lost.Count+r.Unexpected.Count+r.Duplicated.Count != 0 {
		t.Fatalf("mixed reorder: %v", r.Problems(ExactlyOnce))
	}
}

func TestHeaderlessUnexpected(t *testing.T) {
	h := clean().strip()
	ghost := h.observed(workload.Ack{Producer: 5, Key: "z", KeySeq: 0, ShardID: "shard-9", SequenceNumber: "1", SubSequence: -1, Kind: workload.KindNormal, PartitionKey: "z"}, "out", 3, 0)
	stripOne(&ghost)
	garbage := Observed{Topic: "out", Partition: 3, Offset: 1, Value: []byte("not json"), Headers: map[string]string{}}
	// Half the headers: a bridge that claims header identity must get it
	// right, whatever its payload says.
	partial := h.observed(h.acks[0], "out", 3, 2)
	delete(partial.Headers, HeaderSeq)
	h.out = append(h.out, ghost, garbage, partial)
	r := h.check(Options{})
	wantCounts(t, r, 0, 0, 0, 0, 3, 0)
	ex := r.Unexpected.Examples
	if ex[0].Producer != 5 || !strings.Contains(ex[0].Detail, "never acknowledged") || ex[0].IdentifiedBy != IdentityPayload ||
		!strings.Contains(ex[1].Detail, "not a workload payload") || !strings.Contains(ex[2].Detail, "missing kinesis.shard or kinesis.seq") {
		t.Fatalf("examples %v", ex)
	}
	// Wrong Kafka key: the copy does not count, so unexpected and lost.
	h = clean().strip()
	h.out[0].Key = []byte("other")
	wantCounts(t, h.check(Options{}), 1, 0, 0, 0, 1, 0)
	// A filtered record delivered anyway.
	h = clean().strip()
	r = h.check(Options{Filtered: func(a workload.Ack) bool { return a.Key == "c" && a.Kind == workload.KindNormal }})
	if r.Filtered != 11 || r.Unexpected.Count != 11 {
		t.Fatalf("filtered %d unexpected %d", r.Filtered, r.Unexpected.Count)
	}
}

func TestHeaderlessUnconfirmedWrites(t *testing.T) {
	// A record never acknowledged whose outcome was unknown.
	h := clean().strip()
	never := workload.Ack{Producer: 1, Key: "a", KeySeq: 99, ShardID: "shard-0", SequenceNumber: "1", SubSequence: -1, Kind: workload.KindNormal, PartitionKey: "a"}
	o := h.observed(never, "out", 0, h.next[0])
	stripOne(&o)
	h.out = append(h.out, o)
	h.next[0]++
	r := h.check(Options{Unconfirmed: []workload.Ack{never}})
	wantCounts(t, r, 0, 0, 0, 0, 0, 0)
	if r.UnconfirmedWrites != 1 {
		t.Fatalf("unconfirmed writes %d", r.UnconfirmedWrites)
	}
	wantCounts(t, h.check(Options{}), 0, 0, 0, 0, 1, 0)

	// An Ambiguous ack: Kinesis holds the record once per attempt that may
	// have written it, all with one payload. Its extra copies (up to
	// Attempts-1) are the producer's; beyond that they are duplicates.
	// In the shard: a's copy from the failed call, then b, then a again
	// (the acknowledged copy). Both copies of a name a's acknowledged
	// position, so per-shard order is not judged for them.
	h = newHistory()
	b := h.ack(0, "j", "shard-0", -1, workload.KindNormal)
	h.ack(0, "k", "shard-0", -1, workload.KindNormal)
	h.acks[1].Ambiguous, h.acks[1].Attempts = true, 2
	a := h.acks[1]
	h.deliver(a, 0)
	h.deliver(b, 0)
	h.deliver(a, 0)
	r = h.strip().check(Options{})
	wantCounts(t, r, 0, 0, 0, 0, 0, 0)
	if r.UnconfirmedWrites != 1 {
		t.Fatalf("unconfirmed writes %d", r.UnconfirmedWrites)
	}
	h.deliver(a, 0)
	r = h.strip().check(Options{})
	wantCounts(t, r, 0, 1, 0, 0, 0, 0)
	if r.UnconfirmedWrites != 1 || r.Duplicated.ExtraCopies != 1 {
		t.Fatalf("unconfirmed %d, extra copies %d", r.UnconfirmedWrites, r.Duplicated.ExtraCopies)
	}
}

// Dead letters whose bytes are not a payload (a corrupted aggregate, a
// truncated value) are matched to the dead-letter acks by count.
func TestHeaderlessAnonymousDeadLetters(t *testing.T) {
	anon := func() *history {
		h := clean().strip()
		for i := range h.dlq {
			h.dlq[i].Value = []byte{0xF3, 0x89, 0x9A, 0xC2, 0x0A}
		}
		return h
	}
	r := anon().check(Options{})
	wantCounts(t, r, 0, 0, 0, 0, 0, 0)
	if r.AnonymousDeadLetters != 2 || r.DeadLettered != 2 || !r.OK(ExactlyOnce) {
		t.Fatalf("counts %+v", r)
	}
	// One missing: that many lost.
	h := anon()
	h.dlq = h.dlq[:1]
	r = h.check(Options{})
	wantCounts(t, r, 1, 0, 0, 0, 0, 0)
	if r.LostDeadLetters != 1 || r.Lost.Examples[0].Kind != workload.KindOversized {
		t.Fatalf("lost %+v", r.Lost)
	}
	// One extra: a DLQ finding (which record it copies is unknowable).
	h = anon()
	c := h.dlq[0]
	c.Offset = h.dlqN
	h.dlq = append(h.dlq, c)
	r = h.check(Options{})
	wantCounts(t, r, 0, 0, 0, 0, 0, 1)
	if !strings.Contains(r.DLQ.Examples[0].Detail, "identified neither") {
		t.Fatalf("example %v", r.DLQ.Examples[0])
	}
	// ... unless a dead-letter record's outcome was unknown.
	h.acks[len(h.acks)-1].Ambiguous = true
	r = h.check(Options{})
	wantCounts(t, r, 0, 0, 0, 0, 0, 0)
	if r.UnconfirmedWrites != 1 {
		t.Fatalf("unconfirmed writes %d", r.UnconfirmedWrites)
	}
	// The reason headers are still required.
	h = anon()
	delete(h.dlq[0].Headers, HeaderDLQError)
	wantCounts(t, h.check(Options{}), 0, 0, 0, 0, 0, 1)
	// A normal record dead-lettered by payload is misrouted, not lost.
	h = clean().strip()
	moved := h.out[3]
	h.out = slices.Delete(h.out, 3, 4)
	moved.Topic, moved.Offset = "dlq", h.dlqN
	moved.Headers = map[string]string{HeaderDLQError: "boom", HeaderDLQStage: "sink"}
	h.dlq = append(h.dlq, moved)
	r = h.check(Options{})
	wantCounts(t, r, 0, 0, 0, 0, 0, 1)
	if !strings.Contains(r.DLQ.Examples[0].Detail, "normal record dead-lettered") {
		t.Fatalf("example %v", r.DLQ.Examples[0])
	}
	// Requiring headers: every anonymous dead letter is a DLQ finding, and
	// its record lost.
	r = anon().check(Options{Identity: IdentityHeaders})
	wantCounts(t, r, 29, 0, 0, 0, 27, 2)
	// Dead letters with broken headers are not anonymous: a DLQ finding,
	// and their record is lost.
	h = anon()
	h.dlq[0].Headers[HeaderShard] = "shard-0"
	r = h.check(Options{})
	wantCounts(t, r, 1, 0, 0, 0, 0, 1)
	if !strings.Contains(r.DLQ.Examples[0].Detail, "without idempotency headers") {
		t.Fatalf("example %v", r.DLQ.Examples[0])
	}
}

func TestIdentityRules(t *testing.T) {
	// Headers only: a headerless bridge fails everything.
	r := clean().strip().check(Options{Identity: IdentityHeaders})
	wantCounts(t, r, 29, 0, 0, 0, 27, 2)
	// Payload only: headers are ignored, even wrong ones.
	h := clean()
	for i := range h.out {
		h.out[i].Headers[HeaderSeq] = "1"
	}
	if r := h.check(Options{}); r.Lost.Count != 27 || r.Unexpected.Count != 27 {
		t.Fatalf("wrong headers: %v", r.Problems(ExactlyOnce))
	}
	r = h.check(Options{Identity: IdentityPayload})
	wantCounts(t, r, 0, 0, 0, 0, 0, 0)
	if r.IdentifiedByPayload != 29 {
		t.Fatalf("identified by payload %d", r.IdentifiedByPayload)
	}
}

func TestAckIndexIdentify(t *testing.T) {
	h := clean()
	ix := NewAckIndex(h.acks)
	o := h.out[4]
	want, _ := o.ID()
	got, err := ix.Identify(o, IdentityAuto)
	if err != nil || got.ID != want || got.By != IdentityHeaders || got.Ack < 0 || IDOf(h.acks[got.Ack]) != want {
		t.Fatalf("with headers: %+v, %v", got, err)
	}
	stripOne(&o)
	got, err = ix.Identify(o, IdentityAuto)
	if err != nil || got.ID != want || got.By != IdentityPayload || got.Payload.Producer != h.acks[got.Ack].Producer {
		t.Fatalf("by payload: %+v, %v", got, err)
	}
	if _, err := ix.Identify(o, IdentityHeaders); !errors.Is(err, ErrUnidentifiable) {
		t.Fatalf("headers required: %v", err)
	}
	o.Value = []byte(`{"producer":9,"key":"a","seq":0,"kind":"normal"}`)
	if got, err := ix.Identify(o, IdentityAuto); !errors.Is(err, ErrNotAcknowledged) || got.By != IdentityPayload || got.Ack != -1 {
		t.Fatalf("unacknowledged payload: %+v, %v", got, err)
	}
	// Two acks naming one payload: the history is broken.
	dup := h.acks[0]
	dup.SequenceNumber = "1"
	h.acks = append(h.acks, dup)
	o = h.observed(h.acks[0], "out", 0, h.next[0])
	stripOne(&o)
	h.out = append(h.out, o)
	if _, err := NewAckIndex(h.acks).Identify(o, IdentityAuto); !errors.Is(err, ErrAmbiguousPayload) {
		t.Fatalf("ambiguous payload: %v", err)
	}
	if r := h.check(Options{}); len(r.InputErrors) != 1 || !strings.Contains(r.InputErrors[0], "acknowledged more than once") {
		t.Fatalf("input errors %v", r.InputErrors)
	}
}

func TestHeaderlessReplay(t *testing.T) {
	h := clean().strip()
	before := h.check(Options{})
	n := len(h.out)
	for _, o := range h.out[:n] {
		c := o
		c.Offset = h.next[o.Partition]
		h.next[o.Partition]++
		h.out = append(h.out, c)
	}
	if rr := CompareReplay(before, h.check(Options{})); !rr.OK() || rr.Before != 27 || rr.After != 27 {
		t.Fatalf("headerless replay: %+v", rr)
	}
	// The same output with headers is the same deduplicated output.
	if rr := CompareReplay(before, clean().check(Options{})); !rr.OK() {
		t.Fatalf("headers vs payload: %+v", rr)
	}
}
