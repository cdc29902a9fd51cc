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

	"github.com/shardbridge/shardbridge/harness/workload"
)

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
