// Package kpl reads and writes the Kinesis Producer Library (KPL) aggregation
// format and carries the record-level rules around it: the hash-range test
// (which the KCL uses to drop sub-records after a reshard; the replicator
// only counts them) and the (sequence, subsequence) skip on resume.
//
// Format (amazon-kinesis-producer aggregation-format.md): the 4 magic bytes
// F3 89 9A C2, a protobuf AggregatedRecord, then the 16-byte MD5 of the
// protobuf bytes.
//
//	message AggregatedRecord {
//	  repeated string partition_key_table     = 1;
//	  repeated string explicit_hash_key_table = 2;
//	  repeated Record records                 = 3;
//	}
//	message Record {
//	  required uint64 partition_key_index     = 1;
//	  optional uint64 explicit_hash_key_index = 2;
//	  required bytes  data                    = 3;
//	  repeated Tag    tags                    = 4; // ignored
//	}
//
// The codec is written by hand with protowire because the reference Go
// implementation (github.com/awslabs/kinesis-aggregation) cannot be fetched
// through this project's module proxy (it answers 403), and two messages do
// not justify generated code.
//
// Contract:
//   - A record whose magic, length or MD5 does not match is a plain record:
//     IsAggregated reports false and Deaggregate returns ErrNotAggregated;
//     callers then treat the Kinesis record as one ordinary record. This is
//     how the KCL behaves, and it means a plain payload that happens to
//     start with the magic bytes is never mangled.
//   - A record with the magic and a valid MD5 but a protobuf that does not
//     decode (truncated fields, wrong wire types, a key index outside its
//     table, a missing required field, an explicit hash key that is not a
//     128-bit decimal, no sub-records) yields a descriptive error so the
//     caller can send it to the dead-letter topic instead of dropping it.
//   - Sub-records get subsequence numbers 0..n-1 in the order they appear.
//   - Deaggregate never panics, whatever its input (see FuzzDeaggregate).
package kpl

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// magic is the 4-byte prefix of every KPL aggregated record.
var magic = [4]byte{0xF3, 0x89, 0x9A, 0xC2}

const (
	magicLen  = len(magic)
	digestLen = md5.Size
)

// Protobuf field numbers of the aggregation format.
const (
	fieldPartitionKeyTable    protowire.Number = 1
	fieldExplicitHashKeyTable protowire.Number = 2
	fieldRecords              protowire.Number = 3

	fieldPartitionKeyIndex    protowire.Number = 1
	fieldExplicitHashKeyIndex protowire.Number = 2
	fieldData                 protowire.Number = 3
)

// ErrNotAggregated is returned by Deaggregate for a record that is not a KPL
// aggregate (wrong magic, too short, or MD5 mismatch): treat it as a plain
// record.
var ErrNotAggregated = errors.New("kpl: not an aggregated record")

// maxHashKey is 2^128-1, the top of the Kinesis hash key space.
var maxHashKey = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

// SubRecord is one user record inside an aggregate.
type SubRecord struct {
	PartitionKey    string
	ExplicitHashKey string // decimal 128-bit hash key; "" when the producer set none
	// Data aliases the aggregate passed to Deaggregate (no copy): do not
	// modify the aggregate while sub-records are in use.
	Data []byte
	// SubSequence is the sub-record's position in its aggregate, 0..n-1.
	// Aggregate ignores it (position decides).
	SubSequence int64
}

// IsAggregated reports whether data is a KPL aggregate: magic prefix, room
// for a digest, and a matching MD5 of the protobuf part.
func IsAggregated(data []byte) bool {
	if len(data) < magicLen+digestLen || !bytes.Equal(data[:magicLen], magic[:]) {
		return false
	}
	body := data[magicLen : len(data)-digestLen]
	sum := md5.Sum(body)
	return bytes.Equal(sum[:], data[len(data)-digestLen:])
}

// Deaggregate splits a KPL aggregate into its sub-records. It returns
// ErrNotAggregated when data is a plain record, and a descriptive error when
// data claims to be an aggregate (magic and MD5 match) but does not decode.
func Deaggregate(data []byte) ([]SubRecord, error) {
	if !IsAggregated(data) {
		return nil, ErrNotAggregated
	}
	body := data[magicLen : len(data)-digestLen]

	var (
		pkTable  []string
		ehkTable []string
		raw      [][]byte // encoded Record messages, decoded once the tables are known
	)
	for off := 0; off < len(body); {
		num, typ, n := protowire.ConsumeTag(body[off:])
		if n < 0 {
			return nil, fmt.Errorf("kpl: aggregated record: bad tag at byte %d: %w", off, protowire.ParseError(n))
		}
		off += n
		switch num {
		case fieldPartitionKeyTable, fieldExplicitHashKeyTable, fieldRecords:
			if typ != protowire.BytesType {
				return nil, fmt.Errorf("kpl: aggregated record: field %d has wire type %d, want bytes", num, typ)
			}
			v, n := protowire.ConsumeBytes(body[off:])
			if n < 0 {
				return nil, fmt.Errorf("kpl: aggregated record: field %d at byte %d: %w", num, off, protowire.ParseError(n))
			}
			off += n
			switch num {
			case fieldPartitionKeyTable:
				pkTable = append(pkTable, string(v))
			case fieldExplicitHashKeyTable:
				ehkTable = append(ehkTable, string(v))
			default:
				raw = append(raw, v)
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, body[off:])
			if n < 0 {
				return nil, fmt.Errorf("kpl: aggregated record: unknown field %d at byte %d: %w", num, off, protowire.ParseError(n))
			}
			off += n
		}
	}
	if len(raw) == 0 {
		return nil, errors.New("kpl: aggregated record holds no sub-records")
	}

	subs := make([]SubRecord, len(raw))
	for i, msg := range raw {
		sub, err := decodeRecord(msg, pkTable, ehkTable)
		if err != nil {
			return nil, fmt.Errorf("kpl: sub-record %d of %d: %w", i, len(raw), err)
		}
		sub.SubSequence = int64(i)
		subs[i] = sub
	}
	return subs, nil
}

func decodeRecord(msg []byte, pkTable, ehkTable []string) (SubRecord, error) {
	var (
		sub                 SubRecord
		pkIdx, ehkIdx       uint64
		hasPK, hasEHK, hasD bool
	)
	for off := 0; off < len(msg); {
		num, typ, n := protowire.ConsumeTag(msg[off:])
		if n < 0 {
			return sub, fmt.Errorf("bad tag at byte %d: %w", off, protowire.ParseError(n))
		}
		off += n
		switch num {
		case fieldPartitionKeyIndex, fieldExplicitHashKeyIndex:
			if typ != protowire.VarintType {
				return sub, fmt.Errorf("field %d has wire type %d, want varint", num, typ)
			}
			v, n := protowire.ConsumeVarint(msg[off:])
			if n < 0 {
				return sub, fmt.Errorf("field %d at byte %d: %w", num, off, protowire.ParseError(n))
			}
			off += n
			if num == fieldPartitionKeyIndex {
				pkIdx, hasPK = v, true
			} else {
				ehkIdx, hasEHK = v, true
			}
		case fieldData:
			if typ != protowire.BytesType {
				return sub, fmt.Errorf("data has wire type %d, want bytes", typ)
			}
			v, n := protowire.ConsumeBytes(msg[off:])
			if n < 0 {
				return sub, fmt.Errorf("data at byte %d: %w", off, protowire.ParseError(n))
			}
			off += n
			sub.Data, hasD = v, true
		default: // tags (4) and anything newer: skipped
			n := protowire.ConsumeFieldValue(num, typ, msg[off:])
			if n < 0 {
				return sub, fmt.Errorf("field %d at byte %d: %w", num, off, protowire.ParseError(n))
			}
			off += n
		}
	}
	if !hasPK {
		return sub, errors.New("missing required partition_key_index")
	}
	if !hasD {
		return sub, errors.New("missing required data")
	}
	if pkIdx >= uint64(len(pkTable)) {
		return sub, fmt.Errorf("partition_key_index %d outside the partition key table (%d entries)", pkIdx, len(pkTable))
	}
	sub.PartitionKey = pkTable[pkIdx]
	if hasEHK {
		if ehkIdx >= uint64(len(ehkTable)) {
			return sub, fmt.Errorf("explicit_hash_key_index %d outside the explicit hash key table (%d entries)", ehkIdx, len(ehkTable))
		}
		sub.ExplicitHashKey = ehkTable[ehkIdx]
		if _, ok := parseHashKey(sub.ExplicitHashKey); !ok {
			return sub, fmt.Errorf("explicit hash key %q is not a decimal in [0, 2^128)", sub.ExplicitHashKey)
		}
	}
	return sub, nil
}

// Aggregate encodes recs as one KPL aggregate. Partition keys and explicit
// hash keys are deduplicated into their tables, as the KPL does; an empty
// ExplicitHashKey means none. SubSequence fields are ignored.
func Aggregate(recs []SubRecord) ([]byte, error) {
	if len(recs) == 0 {
		return nil, errors.New("kpl: aggregate needs at least one sub-record")
	}
	pkIndex := make(map[string]uint64, len(recs))
	ehkIndex := make(map[string]uint64)
	var pkTable, ehkTable []string
	type entry struct {
		pk, ehk uint64
		hasEHK  bool
	}
	entries := make([]entry, len(recs))
	for i, r := range recs {
		idx, ok := pkIndex[r.PartitionKey]
		if !ok {
			idx = uint64(len(pkTable))
			pkIndex[r.PartitionKey] = idx
			pkTable = append(pkTable, r.PartitionKey)
		}
		entries[i].pk = idx
		if r.ExplicitHashKey != "" {
			if _, ok := parseHashKey(r.ExplicitHashKey); !ok {
				return nil, fmt.Errorf("kpl: sub-record %d: explicit hash key %q is not a decimal in [0, 2^128)", i, r.ExplicitHashKey)
			}
			idx, ok := ehkIndex[r.ExplicitHashKey]
			if !ok {
				idx = uint64(len(ehkTable))
				ehkIndex[r.ExplicitHashKey] = idx
				ehkTable = append(ehkTable, r.ExplicitHashKey)
			}
			entries[i].ehk, entries[i].hasEHK = idx, true
		}
	}

	out := append(make([]byte, 0, 64+aggregateSizeHint(recs)), magic[:]...)
	for _, k := range pkTable {
		out = protowire.AppendTag(out, fieldPartitionKeyTable, protowire.BytesType)
		out = protowire.AppendString(out, k)
	}
	for _, k := range ehkTable {
		out = protowire.AppendTag(out, fieldExplicitHashKeyTable, protowire.BytesType)
		out = protowire.AppendString(out, k)
	}
	var msg []byte
	for i, r := range recs {
		msg = msg[:0]
		msg = protowire.AppendTag(msg, fieldPartitionKeyIndex, protowire.VarintType)
		msg = protowire.AppendVarint(msg, entries[i].pk)
		if entries[i].hasEHK {
			msg = protowire.AppendTag(msg, fieldExplicitHashKeyIndex, protowire.VarintType)
			msg = protowire.AppendVarint(msg, entries[i].ehk)
		}
		msg = protowire.AppendTag(msg, fieldData, protowire.BytesType)
		msg = protowire.AppendBytes(msg, r.Data)
		out = protowire.AppendTag(out, fieldRecords, protowire.BytesType)
		out = protowire.AppendBytes(out, msg)
	}
	sum := md5.Sum(out[magicLen:])
	return append(out, sum[:]...), nil
}

func aggregateSizeHint(recs []SubRecord) int {
	n := 0
	for _, r := range recs {
		n += len(r.PartitionKey) + len(r.ExplicitHashKey) + len(r.Data) + 16
	}
	return n
}

// parseHashKey parses a decimal hash key and checks it lies in [0, 2^128).
func parseHashKey(s string) (*big.Int, bool) {
	if s == "" {
		return nil, false
	}
	for i := 0; i < len(s); i++ { // big.Int.SetString also takes signs, underscores and prefixes
		if s[i] < '0' || s[i] > '9' {
			return nil, false
		}
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Cmp(maxHashKey) > 0 {
		return nil, false
	}
	return v, true
}

// EffectiveHashKey is the 128-bit hash key Kinesis would route sub to: its
// explicit hash key when set, otherwise the MD5 of the partition key's UTF-8
// bytes read as a big-endian unsigned integer. It returns nil when the
// explicit hash key is not a valid 128-bit decimal (Deaggregate rejects such
// aggregates, so this only happens for hand-built SubRecords).
func EffectiveHashKey(sub SubRecord) *big.Int {
	k, ok := effectiveHashKey(sub)
	if !ok {
		return nil
	}
	return new(big.Int).SetBytes(k[:])
}

// effectiveHashKey is EffectiveHashKey as 16 big-endian bytes, which compare
// like the numbers and cost no allocation for the common MD5 case.
func effectiveHashKey(sub SubRecord) ([16]byte, bool) {
	if sub.ExplicitHashKey != "" {
		return hashKeyBytes(sub.ExplicitHashKey)
	}
	return md5.Sum([]byte(sub.PartitionKey)), true
}

func hashKeyBytes(s string) ([16]byte, bool) {
	var k [16]byte
	v, ok := parseHashKey(s)
	if !ok {
		return k, false
	}
	v.FillBytes(k[:])
	return k, true
}

// HashRange is a shard's inclusive hash key range, parsed once so that
// testing many sub-records costs no parsing.
type HashRange struct {
	lo, hi [16]byte
}

// ParseHashRange parses a shard's StartingHashKey and EndingHashKey
// (decimal, 0 ≤ start ≤ end < 2^128).
func ParseHashRange(startHashKey, endHashKey string) (HashRange, error) {
	lo, ok := hashKeyBytes(startHashKey)
	if !ok {
		return HashRange{}, fmt.Errorf("kpl: starting hash key %q is not a decimal in [0, 2^128)", startHashKey)
	}
	hi, ok := hashKeyBytes(endHashKey)
	if !ok {
		return HashRange{}, fmt.Errorf("kpl: ending hash key %q is not a decimal in [0, 2^128)", endHashKey)
	}
	if bytes.Compare(lo[:], hi[:]) > 0 {
		return HashRange{}, fmt.Errorf("kpl: hash range [%s, %s] is empty", startHashKey, endHashKey)
	}
	return HashRange{lo: lo, hi: hi}, nil
}

// Contains reports whether sub's effective hash key lies in the range. A
// sub-record whose explicit hash key does not parse is kept (see InRange).
func (r HashRange) Contains(sub SubRecord) bool {
	k, ok := effectiveHashKey(sub)
	if !ok {
		return true
	}
	return bytes.Compare(k[:], r.lo[:]) >= 0 && bytes.Compare(k[:], r.hi[:]) <= 0
}

// InRange reports whether sub's effective hash key lies in the shard's
// inclusive range [startHashKey, endHashKey]. An aggregate is stored in the
// one shard its own key routes to, so around a reshard it can carry
// sub-records whose keys belong to a sibling. The KCL drops those, assuming
// the producer wrote them to the sibling too; only the KPL does, so the
// replicator keeps them (amazon-kinesis-client#343). When the hash key or a
// bound cannot be parsed the answer is true.
func InRange(sub SubRecord, startHashKey, endHashKey string) bool {
	r, err := ParseHashRange(startHashKey, endHashKey)
	if err != nil {
		return true
	}
	return r.Contains(sub)
}

// Skip reports whether the (seq, subSeq) position is at or before the
// checkpoint (checkpointSeq, checkpointSubSeq), i.e. was already delivered
// and must be skipped on resume. Sequence numbers are compared as numbers
// (CompareSequence), then subsequences, as the KCL compares extended
// sequence numbers. A whole record is passed with subsequence -1 (or 0):
// any checkpoint at its sequence number covers it, whether the KCL's 0 or
// an earlier version's -1. A sub-record k is covered by (seq, c) when
// k <= c, so the KCL's (seq, 0) on an aggregate covers sub-record 0 only.
// A checkpoint that is not a number (empty, TRIM_HORIZON, LATEST,
// AT_TIMESTAMP, SHARD_END sentinels) or a seq that is not one skips nothing:
// delivering twice is recoverable, losing a record is not.
func Skip(seq string, subSeq int64, checkpointSeq string, checkpointSubSeq int64) bool {
	c, ok := compareSeq(seq, checkpointSeq)
	if !ok {
		return false
	}
	return c < 0 || c == 0 && subSeq <= checkpointSubSeq
}

// CompareSequence compares two Kinesis sequence numbers (decimal strings of
// up to 129 digits) as unsigned integers: -1, 0 or +1. Leading zeros do not
// count. It fails when either is not a string of digits.
func CompareSequence(a, b string) (int, error) {
	c, ok := compareSeq(a, b)
	if !ok {
		return 0, fmt.Errorf("kpl: cannot compare sequence numbers %q and %q: not decimal", a, b)
	}
	return c, nil
}

// compareSeq is CompareSequence without the error value, so the per-record
// path allocates nothing.
func compareSeq(a, b string) (int, bool) {
	a, okA := trimDecimal(a)
	b, okB := trimDecimal(b)
	if !okA || !okB {
		return 0, false
	}
	if len(a) != len(b) { // no leading zeros: the longer number is larger
		if len(a) < len(b) {
			return -1, true
		}
		return 1, true
	}
	return strings.Compare(a, b), true
}

func trimDecimal(s string) (string, bool) {
	if s == "" {
		return s, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return s, false
		}
	}
	return strings.TrimLeft(s, "0"), true
}
