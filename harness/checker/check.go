// Package checker decides, record by record, whether a Kinesis→Kafka
// replication run kept its promises, in the spirit of Jepsen's queue checkers
// and Kafka's own system tests.
//
// Reading (ReadTopic) is separate from judging (Check), so the judging is a
// pure function of a history and is unit-tested with synthetic histories.
//
//	out, err := checker.ReadTopic(ctx, brokers, "orders")
//	dlq, err := checker.ReadTopic(ctx, brokers, "orders-dlq", checker.MissingOK())
//	res := checker.Check(w.Acked(), out, dlq, checker.Options{Unconfirmed: w.Unconfirmed()})
//	Expect(res).To(checker.LoseNothing())
//	if !res.OK(checker.ExactlyOnce) { ... }
//
// # Definitions
//
// A record's idempotency key (ID) is (kinesis.shard, kinesis.seq,
// kinesis.subseq): its position in Kinesis. A Kafka record gets its ID from
// those headers when it carries any of them; a record carrying none (a
// bridge that writes no headers) is identified by its workload payload
// (producer, key, seq) and takes the ID of the acknowledgement that payload
// names, so every judgement below, order included, uses the position Kinesis
// acknowledged. Options.Identity can require headers or ignore them; see
// IdentityRule for the rule and for what payload identity cannot check. The
// checker shares no code with any bridge: it needs only the workload's
// history and what Kafka holds.
//
// An acknowledged record (workload.Ack) is expected in the main topic when
// its Kind is normal and in the dead-letter topic (DLQ) when it is malformed
// or oversized. A Kafka copy of an acknowledged normal record
// counts only if its key is the record's partition key and its payload names
// the same (producer, key, seq).
//
//   - Lost: acknowledged, and no counting copy is where it is expected nor
//     anywhere else. (A normal record found only in the DLQ, or a malformed
//     one found only in the main topic, is a DLQ finding instead.)
//   - Duplicated: an ID present more than once in one topic. Each is
//     attributed, as a hint, to the latest Options.Events entry of its shard
//     (or of no shard) between its first and second copy's timestamps (±
//     CauseSlack); otherwise "unattributed".
//   - ReorderedPerKey: the unit of per-key order is (producer, key), whose
//     seq the workload assigns in acknowledgement order. Within a partition,
//     taking each ID's first occurrence in offset order, a stream's seq must
//     strictly increase; a record whose seq is not above every earlier first
//     occurrence of its stream is a finding. Re-deliveries after the first
//     occurrence do not count (at-least-once resends are duplicates, not
//     reorders). With Partitioning "key" (the default) a stream must also
//     live in a single partition; with "shard" a key may move partition when
//     its shard is split or merged, and order across partitions is not
//     judged (Kafka defines none).
//   - ReorderedPerShard: for every (shard, partition) pair, the records of
//     that shard taking their first occurrence in that partition, in offset
//     order, must have strictly increasing (kinesis.seq as a big integer,
//     kinesis.subseq). In shard mode that is the shard's whole output; in key
//     mode it is the shard's output restricted to each partition its keys
//     hash to. Every record with idempotency headers takes part, acknowledged
//     or not, since its position in Kinesis is what is judged, and so does
//     every payload-identified record (at its acknowledged position) except
//     copies of Ambiguous acks, whose Kinesis copy is unknown.
//   - Unexpected: a main-topic record that cannot be identified (broken
//     idempotency headers, or none and a value that is not a workload
//     payload), a record (main or DLQ) with an ID or payload Kinesis never
//     acknowledged (unless its payload is a record whose write outcome was
//     unknown: see Options.Unconfirmed and workload.Ack.Ambiguous; those are
//     counted as UnconfirmedWrites), with content that does not match its
//     acknowledged record, or a record that Options.Filtered says the
//     replicator must drop.
//   - DLQ: a DLQ record without a dlq.error or dlq.stage header, a normal
//     record dead-lettered, or a malformed/oversized record in the main topic;
//     a dead letter with broken (or, under IdentityHeaders, missing)
//     idempotency headers; an anonymous dead letter (no headers, no payload)
//     left over once each is matched to an acknowledged malformed/oversized
//     record found nowhere else (Result.AnonymousDeadLetters).
//
// Exactly-once by idempotence holds when deduplicating the main topic by ID
// yields exactly the acknowledged normal input, in per-key order, and the DLQ
// accounts for the rest: no Lost, Unexpected, ReorderedPerKey or DLQ
// finding. A delivery mode's verdict is Result.OK: at-least-once tolerates
// duplicates and nothing else; exactly-once tolerates nothing.
//
// Replay: CompareReplay(before, after) checks that a replay left the
// deduplicated output unchanged (same IDs, same order per partition and key).
//
// Latency is the Kafka record timestamp minus the payload's sent_ms (or the
// kinesis.arrival_ms header, with LatencyFromArrival), for each acknowledged
// normal record's first copy, in an HdrHistogram (microseconds, 3 significant
// digits, negative values counted as zero).
package checker

import (
	"cmp"
	"errors"
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

	Latency    LatencySummary          `json:"latency"`
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

type streamKey struct {
	producer int
	key      string
}

type identity struct {
	producer int
	key      string
	seq      int64
}

// copyRef is one Kafka copy of an ID.
type copyRef struct {
	partition int32
	offset    int64
	ts        time.Time
	counts    bool // content matches the acknowledged record
	arrival   int64
	hasArr    bool
}

type checkState struct {
	opts      Options
	res       *Result
	ix        *AckIndex
	ackByID   map[ID]int
	acks      []workload.Ack
	uncertain map[identity]bool
	filtered  []bool
	// ambiguousReported: payload identities shared by several acks, already
	// reported as an input error.
	ambiguousReported map[identity]bool
	// anonymous are the DLQ records identified by neither headers nor
	// payload.
	anonymous []Observed
}

// Check judges a history: what Kinesis acknowledged, and what the main and
// dead-letter topics hold (as ReadTopic returns them; any order is fine,
// records are sorted by topic, partition and offset first). It never fails:
// everything it finds is in the Result.
func Check(acks []workload.Ack, out []Observed, dlq []Observed, opts Options) Result {
	if opts.MaxExamples <= 0 {
		opts.MaxExamples = 10
	}
	if opts.CauseSlack <= 0 {
		opts.CauseSlack = time.Second
	}
	if opts.Partitioning == "" {
		opts.Partitioning = "key"
	}
	res := &Result{deduped: map[partKey][]ID{}}
	ix := NewAckIndex(acks)
	st := &checkState{opts: opts, res: res, ix: ix, acks: acks, ackByID: ix.byID,
		uncertain: map[identity]bool{}, filtered: make([]bool, len(acks)), ambiguousReported: map[identity]bool{}}
	for _, d := range ix.dupIDs {
		res.InputErrors = append(res.InputErrors, fmt.Sprintf("ID %s acknowledged twice (acks %d and %d)", IDOf(acks[d[0]]), d[0], d[1]))
	}

	for i, a := range acks {
		if st.ackByID[IDOf(a)] != i {
			continue // acknowledged twice: reported above
		}
		res.Acked++
		switch a.Kind {
		case workload.KindMalformed:
			res.AckedMalformed++
		case workload.KindOversized:
			res.AckedOversized++
		default:
			res.AckedNormal++
		}
		if a.Ambiguous {
			st.uncertain[identity{a.Producer, a.Key, a.KeySeq}] = true
		}
		if opts.Filtered != nil && opts.Filtered(a) {
			st.filtered[i] = true
			res.Filtered++
		}
	}
	for _, a := range opts.Unconfirmed {
		st.uncertain[identity{a.Producer, a.Key, a.KeySeq}] = true
	}

	mainCopies, mainOrder := st.scanMain(sortedCopy(out))
	dlqCopies, dlqOrder := st.scanDLQ(sortedCopy(dlq))
	st.duplicates(mainCopies, mainOrder, topicOf(out))
	st.duplicates(dlqCopies, dlqOrder, topicOf(dlq))
	st.accountAcks(mainCopies, dlqCopies, out)
	return *res
}

func sortedCopy(in []Observed) []Observed {
	s := slices.Clone(in)
	slices.SortStableFunc(s, func(a, b Observed) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	return s
}

func topicOf(obs []Observed) string {
	if len(obs) == 0 {
		return ""
	}
	return obs[0].Topic
}

func (st *checkState) example(id ID, o *Observed, detail string) Example {
	e := Example{ID: id, Producer: -1, KeySeq: -1, Offset: -1, Detail: detail}
	if i, ok := st.ackByID[id]; ok && id.Shard != "" {
		a := st.acks[i]
		e.Producer, e.Key, e.KeySeq, e.Kind = a.Producer, a.Key, a.KeySeq, a.Kind
	}
	if o != nil {
		e.Topic, e.Partition, e.Offset = o.Topic, o.Partition, o.Offset
		if e.Producer < 0 {
			if p, err := workload.ParsePayload(o.Value); err == nil {
				e.Producer, e.Key, e.KeySeq = p.Producer, p.Key, p.Seq
			}
		}
	}
	return e
}

// classify decides what an Observed with a valid ID is: the index of its
// acknowledged record (or -1), whether its content matches it, and for an
// unacknowledged record whether its payload is a record of unknown outcome.
func (st *checkState) classify(r Identified, o *Observed, main bool) (ackIdx int, counts, unconfirmed bool, mismatch string) {
	id, p, perr := r.ID, r.Payload, r.payloadErr
	i, ok := st.ackByID[id]
	if !ok {
		if perr == nil && st.uncertain[identity{p.Producer, p.Key, p.Seq}] {
			return -1, false, true, ""
		}
		return -1, false, false, ""
	}
	a := st.acks[i]
	if a.Kind != workload.KindNormal {
		// Malformed/oversized payloads may be unreadable (a corrupt
		// aggregate); judge their content only when it parses.
		if perr == nil && (p.Producer != a.Producer || p.Key != a.Key || p.Seq != a.KeySeq) {
			return i, false, false, fmt.Sprintf("payload is producer %d key %s seq %d", p.Producer, p.Key, p.Seq)
		}
		return i, true, false, ""
	}
	if main && string(o.Key) != a.PartitionKey {
		return i, false, false, fmt.Sprintf("Kafka key %q, want partition key %q", o.Key, a.PartitionKey)
	}
	if perr != nil {
		return i, false, false, "payload unreadable: " + perr.Error()
	}
	if p.Producer != a.Producer || p.Key != a.Key || p.Seq != a.KeySeq {
		return i, false, false, fmt.Sprintf("payload is producer %d key %s seq %d", p.Producer, p.Key, p.Seq)
	}
	return i, true, false, ""
}

// scanMain walks the main topic in (partition, offset) order, collecting
// copies per ID and judging order per key and per shard.
func (st *checkState) scanMain(recs []Observed) (map[ID][]copyRef, []ID) {
	opts, res := st.opts, st.res
	copies := map[ID][]copyRef{}
	var order []ID // IDs in order of first appearance

	type seenKey struct {
		partition int32
		id        ID
	}
	seen := map[seenKey]bool{}
	type streamPart struct {
		partition int32
		stream    streamKey
	}
	maxKeySeq := map[streamPart]int64{}
	streamHome := map[streamKey]int32{}
	splitReported := map[streamKey]bool{}
	type shardPart struct {
		partition int32
		shard     string
	}
	lastShardPos := map[shardPart]ID{}

	tolerated := map[ID]int{}

	for i := range recs {
		o := &recs[i]
		res.OutputRecords++
		r, err := st.identify(o)
		if err != nil {
			st.unidentified(r, err, o, "")
			continue
		}
		id := r.ID
		if st.tolerate(r, len(copies[id]), tolerated) {
			res.UnconfirmedWrites++
			continue
		}
		ex := func(detail string) Example {
			e := st.example(id, o, detail)
			if r.By == IdentityPayload {
				e.IdentifiedBy = IdentityPayload
			}
			return e
		}
		ackIdx, counts, unconfirmed, mismatch := st.classify(r, o, true)
		ref := copyRef{partition: o.Partition, offset: o.Offset, ts: o.Timestamp, counts: counts}
		ref.arrival, ref.hasArr = o.ArrivalMs()
		if len(copies[id]) == 0 {
			order = append(order, id)
		}
		copies[id] = append(copies[id], ref)
		switch {
		case unconfirmed:
			res.UnconfirmedWrites++
		case ackIdx < 0:
			res.Unexpected.add(opts.MaxExamples, ex("never acknowledged by Kinesis"))
		case mismatch != "":
			res.Unexpected.add(opts.MaxExamples, ex("content does not match the acknowledged record: "+mismatch))
		case st.filtered[ackIdx]:
			res.Unexpected.add(opts.MaxExamples, ex("the transform should have filtered this record out"))
		}

		sk := seenKey{o.Partition, id}
		if seen[sk] {
			continue // a re-delivery: judged as a duplicate, not for order
		}
		seen[sk] = true
		pk := partKey{o.Partition, string(o.Key)}
		res.deduped[pk] = append(res.deduped[pk], id)

		// Per shard: (seq, subseq) strictly increasing per (shard, partition).
		// A payload-identified copy of an Ambiguous ack may stand for another
		// Kinesis copy of the record, at another position: not judged.
		sp := shardPart{o.Partition, id.Shard}
		if r.By != IdentityPayload || !st.acks[ackIdx].Ambiguous {
			if last, ok := lastShardPos[sp]; ok && compareID(id, last) <= 0 {
				res.ReorderedPerShard.add(opts.MaxExamples, ex(fmt.Sprintf("follows %s of the same shard in this partition", last)))
			} else {
				lastShardPos[sp] = id
			}
		}

		// Per key: only acknowledged normal records with matching content.
		if ackIdx < 0 || !counts || st.acks[ackIdx].Kind != workload.KindNormal {
			continue
		}
		a := st.acks[ackIdx]
		stream := streamKey{a.Producer, a.Key}
		if home, ok := streamHome[stream]; !ok {
			streamHome[stream] = o.Partition
		} else if home != o.Partition && opts.Partitioning != "shard" && !splitReported[stream] {
			splitReported[stream] = true
			res.ReorderedPerKey.add(opts.MaxExamples, ex(fmt.Sprintf("key is split across partitions %d and %d", home, o.Partition)))
		}
		spk := streamPart{o.Partition, stream}
		if prev, ok := maxKeySeq[spk]; ok && a.KeySeq <= prev {
			res.ReorderedPerKey.add(opts.MaxExamples, ex(fmt.Sprintf("seq %d after seq %d of the same key", a.KeySeq, prev)))
		} else {
			maxKeySeq[spk] = a.KeySeq
		}
	}
	return copies, order
}

// scanDLQ walks the dead-letter topic.
func (st *checkState) scanDLQ(recs []Observed) (map[ID][]copyRef, []ID) {
	opts, res := st.opts, st.res
	copies := map[ID][]copyRef{}
	var order []ID
	tolerated := map[ID]int{}
	for i := range recs {
		o := &recs[i]
		res.DLQRecords++
		r, err := st.identify(o)
		anonymous := errors.Is(err, ErrUnidentifiable) && st.anonymousAllowed(o)
		if err != nil && !anonymous && r.By != IdentityPayload {
			// Broken or (with IdentityHeaders) missing idempotency headers.
			res.DLQ.add(opts.MaxExamples, st.example(r.ID, o, "dead letter without idempotency headers: "+err.Error()))
			continue
		}
		id := r.ID
		ex := func(detail string) Example {
			e := st.example(id, o, detail)
			if r.By == IdentityPayload {
				e.IdentifiedBy = IdentityPayload
			}
			return e
		}
		if o.Headers[HeaderDLQError] == "" || o.Headers[HeaderDLQStage] == "" {
			res.DLQ.add(opts.MaxExamples, ex("dead letter without a dlq.error or dlq.stage header"))
		}
		if anonymous {
			st.anonymous = append(st.anonymous, *o)
			continue
		}
		if err != nil { // payload-identified, but not as one acknowledged record
			st.unidentified(r, err, o, "dead letter ")
			continue
		}
		if st.tolerate(r, len(copies[id]), tolerated) {
			res.UnconfirmedWrites++
			continue
		}
		ackIdx, counts, unconfirmed, mismatch := st.classify(r, o, false)
		if len(copies[id]) == 0 {
			order = append(order, id)
		}
		copies[id] = append(copies[id], copyRef{partition: o.Partition, offset: o.Offset, ts: o.Timestamp, counts: counts})
		switch {
		case unconfirmed:
			res.UnconfirmedWrites++
		case ackIdx < 0:
			res.Unexpected.add(opts.MaxExamples, ex("dead letter never acknowledged by Kinesis"))
		case mismatch != "":
			res.Unexpected.add(opts.MaxExamples, ex("dead letter does not match the acknowledged record: "+mismatch))
		case st.filtered[ackIdx]:
			res.Unexpected.add(opts.MaxExamples, ex("the transform should have filtered this record out"))
		case st.acks[ackIdx].Kind == workload.KindNormal:
			res.DLQ.add(opts.MaxExamples, ex(fmt.Sprintf("normal record dead-lettered (stage %q: %s)", o.Headers[HeaderDLQStage], o.Headers[HeaderDLQError])))
		}
	}
	return copies, order
}

// identify applies Options.Identity to o, counting payload identifications.
func (st *checkState) identify(o *Observed) (Identified, error) {
	r, err := st.ix.identify(o, st.opts.Identity)
	if r.By == IdentityPayload {
		st.res.IdentifiedByPayload++
	}
	return r, err
}

// anonymousAllowed reports whether an unidentifiable dead letter may be
// matched by count: only when the rule allows payload identity and the
// record does not carry (broken) idempotency headers.
func (st *checkState) anonymousAllowed(o *Observed) bool {
	switch st.opts.Identity {
	case IdentityPayload:
		return true
	case IdentityHeaders:
		return false
	}
	return !hasIDHeaders(o)
}

// unidentified files a record Identify found no ID for: the producer's
// duplicate of a record of unknown outcome (tolerated), a broken history
// (several acks share its payload), or an unexpected record. what prefixes
// the detail ("dead letter " in the DLQ).
func (st *checkState) unidentified(r Identified, err error, o *Observed, what string) {
	res := st.res
	pi := identity{r.Payload.Producer, r.Payload.Key, r.Payload.Seq}
	switch {
	case r.By == IdentityPayload && errors.Is(err, ErrNotAcknowledged) && st.uncertain[pi]:
		res.UnconfirmedWrites++
	case errors.Is(err, ErrAmbiguousPayload):
		if !st.ambiguousReported[pi] {
			st.ambiguousReported[pi] = true
			res.InputErrors = append(res.InputErrors, fmt.Sprintf("producer %d key %s seq %d acknowledged more than once: records without idempotency headers cannot be identified by payload", pi.producer, pi.key, pi.seq))
		}
	default:
		e := st.example(r.ID, o, what+err.Error())
		if r.By == IdentityPayload {
			e.IdentifiedBy = IdentityPayload
		}
		res.Unexpected.add(st.opts.MaxExamples, e)
	}
}

// tolerate reports whether a payload-identified copy of an Ambiguous ack,
// beyond the prior copies already seen in this topic, may be the
// producer's own duplicate: Kinesis may hold the record once per attempt,
// every copy with the same payload, so up to max(Attempts-1, 1) extra copies
// are the producer's, not the bridge's.
func (st *checkState) tolerate(r Identified, prior int, tolerated map[ID]int) bool {
	if r.By != IdentityPayload || r.Ack < 0 || prior == 0 {
		return false
	}
	a := st.acks[r.Ack]
	if !a.Ambiguous || tolerated[r.ID] >= max(a.Attempts-1, 1) {
		return false
	}
	tolerated[r.ID]++
	return true
}

func (st *checkState) duplicates(copies map[ID][]copyRef, order []ID, topic string) {
	res := st.res
	for _, id := range order {
		cs := copies[id]
		if len(cs) < 2 {
			continue
		}
		cause, ev := st.cause(id, cs)
		if res.Duplicated.Causes == nil {
			res.Duplicated.Causes = map[string]int{}
		}
		res.Duplicated.Causes[cause]++
		res.Duplicated.ExtraCopies += len(cs) - 1
		offsets := make([]string, len(cs))
		for i, c := range cs {
			offsets[i] = fmt.Sprintf("[%d]@%d", c.partition, c.offset)
		}
		detail := fmt.Sprintf("%d copies at %s; cause: %s", len(cs), strings.Join(offsets, " "), cause)
		if ev != nil {
			detail += fmt.Sprintf(" at %s", ev.Time.UTC().Format("15:04:05.000"))
			if ev.Detail != "" {
				detail += " (" + ev.Detail + ")"
			}
		}
		o := Observed{Topic: topic, Partition: cs[0].partition, Offset: cs[0].offset}
		res.Duplicated.add(st.opts.MaxExamples, st.example(id, &o, detail))
	}
}

// cause attributes a duplicate to the latest event of its shard (or of no
// shard) between its first two copies' timestamps, widened by CauseSlack.
func (st *checkState) cause(id ID, cs []copyRef) (string, *Event) {
	t1, t2 := cs[0].ts, cs[1].ts
	if t2.Before(t1) {
		t1, t2 = t2, t1
	}
	from, until := t1.Add(-st.opts.CauseSlack), t2.Add(st.opts.CauseSlack)
	var best *Event
	for i := range st.opts.Events {
		ev := &st.opts.Events[i]
		if ev.Shard != "" && ev.Shard != id.Shard {
			continue
		}
		if ev.Time.Before(from) || ev.Time.After(until) {
			continue
		}
		if best == nil || ev.Time.After(best.Time) {
			best = ev
		}
	}
	if best == nil {
		return "unattributed", nil
	}
	return best.Kind, best
}

// accountAcks decides Lost and DLQ placement per acknowledged record, and
// measures latency and throughput.
func (st *checkState) accountAcks(mainCopies, dlqCopies map[ID][]copyRef, out []Observed) {
	opts, res := st.opts, st.res
	hist := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
	var firstSent, lastTS int64
	for _, o := range out {
		lastTS = max(lastTS, o.Timestamp.UnixMilli())
	}
	paired := st.pairAnonymous(dlqCopies)
	for i, a := range st.acks {
		id := IDOf(a)
		if st.ackByID[id] != i || st.filtered[i] {
			continue
		}
		if firstSent == 0 || (a.SentMs > 0 && a.SentMs < firstSent) {
			firstSent = a.SentMs
		}
		inMain := firstCounting(mainCopies[id])
		anyMain := len(mainCopies[id]) > 0
		inDLQ := firstCounting(dlqCopies[id])
		if a.Kind == workload.KindNormal {
			switch {
			case inMain != nil:
				res.Replicated++
				start := a.SentMs
				if opts.Latency == LatencyFromArrival {
					start = inMain.arrival
					if !inMain.hasArr {
						continue
					}
				}
				us := max(inMain.ts.UnixMicro()-start*1000, 0)
				_ = hist.RecordValue(min(us, hist.HighestTrackableValue()))
			case inDLQ != nil:
				// Reported as a DLQ finding by scanDLQ.
			default:
				detail := "not in the main topic"
				if anyMain {
					detail = "in the main topic only with the wrong content"
				}
				res.Lost.add(opts.MaxExamples, st.example(id, nil, detail))
			}
			continue
		}
		if anyMain {
			ref := mainCopies[id][0]
			res.DLQ.add(opts.MaxExamples, st.example(id, &Observed{Topic: topicOf(out), Partition: ref.partition, Offset: ref.offset},
				fmt.Sprintf("%s record in the main topic", a.Kind)))
		}
		switch {
		case inDLQ != nil || paired[i]:
			res.DeadLettered++
		case !anyMain:
			res.LostDeadLetters++
			res.Lost.add(opts.MaxExamples, st.example(id, nil, fmt.Sprintf("%s record in neither the dead-letter topic nor the main topic", a.Kind)))
		}
	}
	res.Histogram = hist
	res.Latency = summarize(hist)
	elapsed := opts.Elapsed
	if elapsed <= 0 && firstSent > 0 && lastTS > firstSent {
		elapsed = time.Duration(lastTS-firstSent) * time.Millisecond
	}
	if elapsed > 0 {
		res.Throughput = float64(res.Replicated) / elapsed.Seconds()
	}
}

// pairAnonymous matches the anonymous dead letters (identified neither by
// headers nor by payload) to acknowledged malformed/oversized records that
// have no identified copy in the DLQ: first a dead letter whose Kafka key is
// the record's partition key, then any, oldest acknowledgement first. It
// returns the matched acks. Dead letters left over are the producer's when
// the unknown outcomes allow (Ambiguous or Unconfirmed dead-letter records),
// DLQ findings otherwise. Counting cannot tell which record an anonymous
// dead letter is, so one lost and another duplicated cancel out.
func (st *checkState) pairAnonymous(dlqCopies map[ID][]copyRef) map[int]bool {
	res := st.res
	res.AnonymousDeadLetters = len(st.anonymous)
	if len(st.anonymous) == 0 {
		return nil
	}
	var cands []int
	byKey := map[string][]int{}
	spare := 0 // extra Kinesis copies of dead-letter records of unknown outcome
	for i, a := range st.acks {
		id := IDOf(a)
		if st.ackByID[id] != i || st.filtered[i] || a.Kind == workload.KindNormal {
			continue
		}
		if a.Ambiguous {
			spare += max(a.Attempts-1, 1)
		}
		if len(dlqCopies[id]) > 0 {
			continue
		}
		cands = append(cands, i)
		byKey[a.PartitionKey] = append(byKey[a.PartitionKey], i)
	}
	for _, a := range st.opts.Unconfirmed {
		if a.Kind != workload.KindNormal {
			spare++
		}
	}
	paired := map[int]bool{}
	used := make([]bool, len(st.anonymous))
	for j, o := range st.anonymous {
		q := byKey[string(o.Key)]
		for len(q) > 0 && paired[q[0]] {
			q = q[1:]
		}
		if len(q) > 0 {
			paired[q[0]], used[j] = true, true
			q = q[1:]
		}
		byKey[string(o.Key)] = q
	}
	next := 0
	for j := range st.anonymous {
		if used[j] {
			continue
		}
		for next < len(cands) && paired[cands[next]] {
			next++
		}
		if next < len(cands) {
			paired[cands[next]], used[j] = true, true
			continue
		}
		if spare > 0 {
			spare--
			res.UnconfirmedWrites++
			continue
		}
		o := &st.anonymous[j]
		res.DLQ.add(st.opts.MaxExamples, st.example(ID{SubSeq: -1}, o,
			"dead letter identified neither by idempotency headers nor by payload, and no acknowledged malformed/oversized record is left to account for it (a duplicate or a stray record)"))
	}
	return paired
}

func firstCounting(cs []copyRef) *copyRef {
	for i := range cs {
		if cs[i].counts {
			return &cs[i]
		}
	}
	return nil
}

func summarize(h *hdrhistogram.Histogram) LatencySummary {
	if h == nil || h.TotalCount() == 0 {
		return LatencySummary{}
	}
	d := func(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
	return LatencySummary{
		Count: h.TotalCount(),
		P50:   d(h.ValueAtQuantile(50)),
		P90:   d(h.ValueAtQuantile(90)),
		P99:   d(h.ValueAtQuantile(99)),
		P999:  d(h.ValueAtQuantile(99.9)),
		Max:   d(h.Max()),
	}
}
