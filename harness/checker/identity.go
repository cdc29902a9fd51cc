package checker

import (
	"errors"
	"fmt"

	"github.com/shardbridge/shardbridge/harness/workload"
)

// IdentityRule chooses how a Kafka record is matched to the Kinesis record
// it copies (Options.Identity).
//
//   - IdentityAuto (the zero value), per record: a record that carries any
//     idempotency header (kinesis.shard, kinesis.seq or kinesis.subseq) is
//     identified by its headers, which must then be complete and valid; a
//     record with none of them is identified by its payload; a record with
//     neither is unidentifiable. So a bridge that writes the headers is
//     judged exactly as before, one that writes none is judged by payload,
//     and one that writes them for some records only is judged record by
//     record (a copy with headers and a copy without of the same record are
//     duplicates of each other).
//   - IdentityHeaders: headers only; a record without them is
//     unidentifiable. Use it for a bridge whose contract promises the
//     headers, so their absence is reported.
//   - IdentityPayload: the payload only, headers ignored.
//
// Payload identity: the value must parse as a workload.Payload (the
// malformed "!malformed {json}" form included); its (producer, key, seq)
// names one acknowledged record, and the Kafka record takes that Ack's ID
// (IDOf: the shard, sequence number and, for a KPL sub-record, subsequence
// Kinesis acknowledged). Order per shard and per key, duplicates, losses and
// replays are then judged on that ID exactly as for header identity. A
// de-aggregating bridge writes each sub-record's payload, and each
// sub-record has its own Ack (its KeySeq and SubSequence), so sub-records
// are covered too.
//
// What payload identity cannot see, and how Check copes (see Check):
//   - A payload naming a record never acknowledged is either a record whose
//     write outcome was unknown (Options.Unconfirmed, counted as
//     UnconfirmedWrites) or Unexpected. There is no Kinesis position to
//     judge its order by.
//   - An Ambiguous Ack's record may be in Kinesis more than once, every copy
//     with the same payload. Up to max(Attempts-1, 1) extra copies of it are
//     counted as UnconfirmedWrites, not duplicates, and its per-shard order
//     is not judged (the copies sit at different Kinesis positions and the
//     payload does not say which one a Kafka record is).
//   - A value that is not a workload payload (a corrupted KPL aggregate, a
//     dead letter truncated by the bridge) cannot be identified. In the main
//     topic it is Unexpected; in the DLQ it is an anonymous dead letter,
//     matched by count (see Result.AnonymousDeadLetters).
type IdentityRule string

// Identity rules.
const (
	IdentityAuto    IdentityRule = ""
	IdentityHeaders IdentityRule = "headers"
	IdentityPayload IdentityRule = "payload"
)

// Identified is the outcome of AckIndex.Identify for one Kafka record.
type Identified struct {
	// ID is the record's idempotency key: from its headers, or the ID of the
	// acknowledged record its payload names. ID{SubSeq: -1} (no Shard) when
	// the record could not be identified.
	ID ID
	// By is IdentityHeaders or IdentityPayload: how ID was found ("" when it
	// was not).
	By IdentityRule
	// Ack is the index of the acknowledged record with this ID, or -1.
	Ack int
	// Payload is the record's parsed value (Producer -1 when the value is not
	// a workload payload).
	Payload    workload.Payload
	payloadErr error
}

// Errors of AckIndex.Identify (test with errors.Is; the messages carry the
// details).
var (
	// ErrUnidentifiable: no usable idempotency headers, and the value is not
	// a workload payload (or the rule forbids the fallback).
	ErrUnidentifiable = errors.New("record cannot be identified")
	// ErrNotAcknowledged: a payload-identified record whose (producer, key,
	// seq) Kinesis never acknowledged.
	ErrNotAcknowledged = errors.New("payload names a record Kinesis never acknowledged")
	// ErrAmbiguousPayload: a payload that several acknowledged records share
	// (a broken history).
	ErrAmbiguousPayload = errors.New("payload names more than one acknowledged record")
)

// identifyError is one of the sentinel errors with its own message.
type identifyError struct {
	kind error
	msg  string
}

func (e *identifyError) Error() string { return e.msg }
func (e *identifyError) Unwrap() error { return e.kind }

func identifyErr(kind error, format string, args ...any) error {
	return &identifyError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// AckIndex finds acknowledged records by ID and by payload identity.
type AckIndex struct {
	acks      []workload.Ack
	byID      map[ID]int
	byPayload map[identity]int // -1 when several acks share the identity
	dupIDs    [][2]int         // (first, repeat) ack indexes with the same ID
}

// NewAckIndex indexes acks (the first of several acks with one ID wins).
func NewAckIndex(acks []workload.Ack) *AckIndex {
	ix := &AckIndex{acks: acks, byID: make(map[ID]int, len(acks)), byPayload: make(map[identity]int, len(acks))}
	for i, a := range acks {
		id := IDOf(a)
		if j, dup := ix.byID[id]; dup {
			ix.dupIDs = append(ix.dupIDs, [2]int{j, i})
			continue
		}
		ix.byID[id] = i
		pi := identity{a.Producer, a.Key, a.KeySeq}
		if _, dup := ix.byPayload[pi]; dup {
			ix.byPayload[pi] = -1
		} else {
			ix.byPayload[pi] = i
		}
	}
	return ix
}

// ByID returns the index of the acknowledged record with id, or -1.
func (ix *AckIndex) ByID(id ID) int {
	if i, ok := ix.byID[id]; ok {
		return i
	}
	return -1
}

// hasIDHeaders reports whether o carries any idempotency header.
func hasIDHeaders(o *Observed) bool {
	for _, h := range []string{HeaderShard, HeaderSeq, HeaderSubSeq} {
		if _, ok := o.Headers[h]; ok {
			return true
		}
	}
	return false
}

// Identify tells which record o is under rule (see IdentityRule). An error
// means no ID was found; Identified still holds what is known (By, Payload).
// A header-identified record Kinesis never acknowledged has an ID and Ack
// -1, without error.
func (ix *AckIndex) Identify(o Observed, rule IdentityRule) (Identified, error) {
	return ix.identify(&o, rule)
}

func (ix *AckIndex) identify(o *Observed, rule IdentityRule) (Identified, error) {
	r := Identified{ID: ID{SubSeq: -1}, Ack: -1, Payload: workload.Payload{Producer: -1}}
	p, perr := workload.ParsePayload(o.Value)
	if perr == nil {
		r.Payload = p
	}
	r.payloadErr = perr
	if rule == IdentityHeaders || (rule != IdentityPayload && hasIDHeaders(o)) {
		id, err := o.ID()
		if err != nil {
			return r, identifyErr(ErrUnidentifiable, "%v", err)
		}
		r.ID, r.By, r.Ack = id, IdentityHeaders, ix.ByID(id)
		return r, nil
	}
	if perr != nil {
		if rule == IdentityPayload {
			return r, identifyErr(ErrUnidentifiable, "the value is not a workload payload (%v)", perr)
		}
		return r, identifyErr(ErrUnidentifiable, "missing kinesis.shard or kinesis.seq header (no idempotency header at all), and the value is not a workload payload (%v)", perr)
	}
	r.By = IdentityPayload
	i, ok := ix.byPayload[identity{p.Producer, p.Key, p.Seq}]
	switch {
	case !ok:
		return r, identifyErr(ErrNotAcknowledged, "identified by payload as producer %d key %s seq %d, which Kinesis never acknowledged", p.Producer, p.Key, p.Seq)
	case i < 0:
		return r, identifyErr(ErrAmbiguousPayload, "identified by payload as producer %d key %s seq %d, which more than one ack names", p.Producer, p.Key, p.Seq)
	}
	r.ID, r.Ack = IDOf(ix.acks[i]), i
	return r, nil
}
