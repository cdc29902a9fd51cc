package lease

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Checkpoint sentinels, spelled as the KCL spells them in the lease table.
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
	AtTimestamp = "AT_TIMESTAMP"
	ShardEnd    = "SHARD_END"
)

// Attribute names of the lease table; the KCL's own names, so operators who
// know the KCL recognise the rows.
const (
	attrKey          = "leaseKey"
	attrOwner        = "leaseOwner"
	attrCounter      = "leaseCounter"
	attrCheckpoint   = "checkpoint"
	attrSubSeq       = "checkpointSubSequenceNumber"
	attrOwnerSwitch  = "ownerSwitchesSinceCheckpoint"
	attrParents      = "parentShardId"
	attrChildren     = "childShardIds"
	attrStartingHash = "startingHashKey"
	attrEndingHash   = "endingHashKey"
	attrEntityType   = "entityType"

	// attrAtTimestamp is this project's own attribute, not the KCL's: the
	// timestamp (N, Unix milliseconds) of a checkpoint at AT_TIMESTAMP, so
	// that each row can name its own (the KCL takes it from configuration).
	// The KCL ignores attributes it does not know.
	attrAtTimestamp = "shardbridgeAtTimestamp"
)

// entityLease is the only entityType value (written by KCL 3.x) that marks a
// lease row; rows of other entity types are not leases.
const entityLease = "LEASE"

// ErrLeaseLost is returned (wrapped with the shard id) when a worker writes to
// a lease it no longer holds: the row's counter or owner moved under it.
var ErrLeaseLost = errors.New("lease lost")

// ErrNotLease marks a row of the lease table that is not a lease (an
// entityType other than LEASE): it is skipped without complaint.
var ErrNotLease = errors.New("not a lease row")

// ErrCorrupt marks a lease row whose attributes are missing or malformed.
var ErrCorrupt = errors.New("corrupt lease row")

// Lease is one row of the lease table: the ownership and progress of a shard.
type Lease struct {
	ShardID string // leaseKey
	Owner   string // leaseOwner; "" when unowned
	Counter int64  // leaseCounter; every write moves it

	// Checkpoint is a sequence number or one of the sentinels TrimHorizon,
	// Latest, AtTimestamp, ShardEnd.
	Checkpoint string
	// SubSequence is checkpointSubSequenceNumber, as the KCL writes it: 0
	// for a whole (non-aggregated) record, the sub-record's index for a KPL
	// aggregate (everything up to it is done), 0 with a sentinel. -1 was
	// written for a whole record by earlier replicator versions and is read
	// as "the whole record at Checkpoint is done".
	SubSequence                  int64
	OwnerSwitchesSinceCheckpoint int64

	// AtTimestamp is where a checkpoint at AT_TIMESTAMP starts (the
	// shardbridgeAtTimestamp attribute); zero means the configured initial
	// timestamp.
	AtTimestamp time.Time

	ParentShardIDs []string
	ChildShardIDs  []string

	StartingHashKey, EndingHashKey string
}

// Finished reports whether the shard was read to its end.
func (l Lease) Finished() bool { return l.Checkpoint == ShardEnd }

// clone returns a deep copy so callers never share slices with the manager.
func (l Lease) clone() Lease {
	l.ParentShardIDs = slices.Clone(l.ParentShardIDs)
	l.ChildShardIDs = slices.Clone(l.ChildShardIDs)
	return l
}

// ChildShard describes a child shard announced when a parent reaches its end
// (Kinesis GetRecords ChildShards): its id, all its parents (two for a merge)
// and its hash key range.
type ChildShard struct {
	ShardID                        string
	ParentShardIDs                 []string
	StartingHashKey, EndingHashKey string
}

// ParentsDone reports whether every parent of l is finished: its lease is at
// SHARD_END, or it has no lease at all. A missing parent lease counts as done
// on purpose: a parent trimmed away by retention never gets a lease (or its
// lease was cleaned up), and its children must not wait for it forever.
func ParentsDone(l Lease, all []Lease) bool {
	for _, p := range l.ParentShardIDs {
		for _, o := range all {
			if o.ShardID == p && !o.Finished() {
				return false
			}
		}
	}
	return true
}

// toItem renders a lease as a DynamoDB item. Empty optional fields are left
// out (DynamoDB refuses empty sets).
func toItem(l Lease) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		attrKey:         &types.AttributeValueMemberS{Value: l.ShardID},
		attrCounter:     num(l.Counter),
		attrCheckpoint:  &types.AttributeValueMemberS{Value: l.Checkpoint},
		attrSubSeq:      num(l.SubSequence),
		attrOwnerSwitch: num(l.OwnerSwitchesSinceCheckpoint),
	}
	if l.Owner != "" {
		it[attrOwner] = &types.AttributeValueMemberS{Value: l.Owner}
	}
	if len(l.ParentShardIDs) > 0 {
		it[attrParents] = &types.AttributeValueMemberSS{Value: slices.Clone(l.ParentShardIDs)}
	}
	if len(l.ChildShardIDs) > 0 {
		it[attrChildren] = &types.AttributeValueMemberSS{Value: slices.Clone(l.ChildShardIDs)}
	}
	if l.StartingHashKey != "" {
		it[attrStartingHash] = &types.AttributeValueMemberS{Value: l.StartingHashKey}
	}
	if l.EndingHashKey != "" {
		it[attrEndingHash] = &types.AttributeValueMemberS{Value: l.EndingHashKey}
	}
	if l.Checkpoint == AtTimestamp && !l.AtTimestamp.IsZero() {
		it[attrAtTimestamp] = num(l.AtTimestamp.UnixMilli())
	}
	return it
}

func num(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func str(s string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: s} }

// fromItem parses a row. leaseKey, leaseCounter and checkpoint are required;
// the rest default to zero values when absent, but a present attribute of the
// wrong type is corruption. The error names the shard when it is known.
// Attributes the KCL adds and the replicator does not use (pendingCheckpoint,
// throughputKBps, checkpointOwner, ...) are ignored; a row whose entityType
// is not LEASE is ErrNotLease.
func fromItem(it map[string]types.AttributeValue) (Lease, error) {
	var l Lease
	if e, ok := it[attrEntityType].(*types.AttributeValueMemberS); ok && e.Value != entityLease {
		k, _ := it[attrKey].(*types.AttributeValueMemberS)
		if k != nil {
			l.ShardID = k.Value
		}
		return l, fmt.Errorf("%w: %s %q", ErrNotLease, attrEntityType, e.Value)
	}
	key, ok := it[attrKey].(*types.AttributeValueMemberS)
	if !ok || key.Value == "" {
		return l, fmt.Errorf("%w: %s missing or not a string", ErrCorrupt, attrKey)
	}
	l.ShardID = key.Value
	bad := func(attr, why string) (Lease, error) {
		return Lease{ShardID: l.ShardID}, fmt.Errorf("%w: shard %s: %s %s", ErrCorrupt, l.ShardID, attr, why)
	}
	var err error
	if l.Counter, err = getNum(it, attrCounter, true); err != nil {
		return bad(attrCounter, err.Error())
	}
	if l.Owner, err = getStr(it, attrOwner, false); err != nil {
		return bad(attrOwner, err.Error())
	}
	if l.Checkpoint, err = getStr(it, attrCheckpoint, true); err != nil {
		return bad(attrCheckpoint, err.Error())
	}
	if l.SubSequence, err = getNum(it, attrSubSeq, false); err != nil {
		return bad(attrSubSeq, err.Error())
	}
	if l.OwnerSwitchesSinceCheckpoint, err = getNum(it, attrOwnerSwitch, false); err != nil {
		return bad(attrOwnerSwitch, err.Error())
	}
	if l.ParentShardIDs, err = getSet(it, attrParents); err != nil {
		return bad(attrParents, err.Error())
	}
	if l.ChildShardIDs, err = getSet(it, attrChildren); err != nil {
		return bad(attrChildren, err.Error())
	}
	if l.StartingHashKey, err = getStr(it, attrStartingHash, false); err != nil {
		return bad(attrStartingHash, err.Error())
	}
	if l.EndingHashKey, err = getStr(it, attrEndingHash, false); err != nil {
		return bad(attrEndingHash, err.Error())
	}
	ms, err := getNum(it, attrAtTimestamp, false)
	if err != nil {
		return bad(attrAtTimestamp, err.Error())
	}
	if _, present := it[attrAtTimestamp]; present && l.Checkpoint == AtTimestamp {
		l.AtTimestamp = time.UnixMilli(ms).UTC()
	}
	return l, nil
}

func getStr(it map[string]types.AttributeValue, name string, required bool) (string, error) {
	v, present := it[name]
	if !present {
		if required {
			return "", errors.New("missing")
		}
		return "", nil
	}
	s, ok := v.(*types.AttributeValueMemberS)
	if !ok {
		return "", fmt.Errorf("is %T, want S", v)
	}
	if required && s.Value == "" {
		return "", errors.New("empty")
	}
	return s.Value, nil
}

func getNum(it map[string]types.AttributeValue, name string, required bool) (int64, error) {
	v, present := it[name]
	if !present {
		if required {
			return 0, errors.New("missing")
		}
		return 0, nil
	}
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("is %T, want N", v)
	}
	x, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not an integer: %q", n.Value)
	}
	return x, nil
}

func getSet(it map[string]types.AttributeValue, name string) ([]string, error) {
	v, present := it[name]
	if !present {
		return nil, nil
	}
	switch s := v.(type) {
	case *types.AttributeValueMemberSS:
		out := slices.Clone(s.Value)
		slices.Sort(out) // sets are unordered; sort for stable comparisons
		return out, nil
	case *types.AttributeValueMemberL:
		// Tolerated: some tools write sets as lists of strings.
		out := make([]string, 0, len(s.Value))
		for _, e := range s.Value {
			es, ok := e.(*types.AttributeValueMemberS)
			if !ok {
				return nil, fmt.Errorf("list element is %T, want S", e)
			}
			out = append(out, es.Value)
		}
		slices.Sort(out)
		return out, nil
	default:
		return nil, fmt.Errorf("is %T, want SS", v)
	}
}
