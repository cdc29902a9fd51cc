package leasewatch

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The KCL's lease-table attributes (amazon-kinesis-client 3.x), as its
// documentation names and types them: the watcher decodes them itself.
const (
	AttrLeaseKey       = "leaseKey"                     // S, the shard id (hash key)
	AttrOwner          = "leaseOwner"                   // S, absent when unowned
	AttrCounter        = "leaseCounter"                 // N, moved by every write
	AttrCheckpoint     = "checkpoint"                   // S, sequence number or sentinel
	AttrSubSequence    = "checkpointSubSequenceNumber"  // N
	AttrOwnerSwitches  = "ownerSwitchesSinceCheckpoint" // N
	AttrParentShardIDs = "parentShardId"                // SS
	AttrChildShardIDs  = "childShardIds"                // SS
	AttrEntityType     = "entityType"                   // S, KCL 3.x: "LEASE" on lease rows
)

// ErrNotLease marks a row of another entity type (KCL 3.x keeps some in the
// lease table): not a lease, and not a malformed one either.
var ErrNotLease = errors.New("not a lease row")

// Checkpoint sentinels of the KCL.
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
	AtTimestamp = "AT_TIMESTAMP"
	ShardEnd    = "SHARD_END"
)

// Row is one lease row as the watcher read it.
type Row struct {
	Shard         string
	Owner         string // "" when unowned
	Counter       int64
	Checkpoint    string
	SubSequence   int64
	OwnerSwitches int64
	Parents       []string
	Children      []string
}

// Finished reports whether the shard was checkpointed at its end.
func (r Row) Finished() bool { return r.Checkpoint == ShardEnd }

// Position is the checkpoint as text: seq, seq/subseq, or a sentinel.
func (r Row) Position() string {
	if r.SubSequence > 0 {
		return fmt.Sprintf("%s/%d", r.Checkpoint, r.SubSequence)
	}
	return r.Checkpoint
}

// DecodeRow reads a lease row from its DynamoDB item. A row that does not
// follow the documented format (a missing key, counter or checkpoint, an
// attribute of the wrong type, a checkpoint that is neither a sentinel nor a
// decimal sequence number) is an error naming the attribute.
func DecodeRow(item map[string]dtypes.AttributeValue) (Row, error) {
	var r Row
	var err error
	if e, ok := item[AttrEntityType].(*dtypes.AttributeValueMemberS); ok && e.Value != "LEASE" {
		return r, fmt.Errorf("%w: %s %q", ErrNotLease, AttrEntityType, e.Value)
	}
	if r.Shard, err = str(item, AttrLeaseKey, true); err != nil {
		return r, err
	}
	fail := func(e error) (Row, error) { return Row{Shard: r.Shard}, fmt.Errorf("lease row %s: %w", r.Shard, e) }
	if r.Owner, err = str(item, AttrOwner, false); err != nil {
		return fail(err)
	}
	if r.Counter, err = num(item, AttrCounter, true); err != nil {
		return fail(err)
	}
	if r.Checkpoint, err = str(item, AttrCheckpoint, true); err != nil {
		return fail(err)
	}
	if rankOf(r.Checkpoint) == 1 {
		if _, ok := new(big.Int).SetString(r.Checkpoint, 10); !ok {
			return fail(fmt.Errorf("%s %q is neither a sequence number nor a sentinel", AttrCheckpoint, r.Checkpoint))
		}
	}
	if r.SubSequence, err = num(item, AttrSubSequence, false); err != nil {
		return fail(err)
	}
	if r.SubSequence < 0 {
		// Earlier replicator versions wrote -1 where the KCL writes 0 (a
		// whole record done; they never wrote -1 for a KPL aggregate): the
		// same position, so it compares equal.
		r.SubSequence = 0
	}
	if r.OwnerSwitches, err = num(item, AttrOwnerSwitches, false); err != nil {
		return fail(err)
	}
	if r.Parents, err = set(item, AttrParentShardIDs); err != nil {
		return fail(err)
	}
	if r.Children, err = set(item, AttrChildShardIDs); err != nil {
		return fail(err)
	}
	return r, nil
}

func str(item map[string]dtypes.AttributeValue, name string, required bool) (string, error) {
	v, ok := item[name]
	if !ok {
		if required {
			return "", fmt.Errorf("%s missing", name)
		}
		return "", nil
	}
	s, ok := v.(*dtypes.AttributeValueMemberS)
	if !ok {
		return "", fmt.Errorf("%s is %s, want S", name, typeName(v))
	}
	if required && s.Value == "" {
		return "", fmt.Errorf("%s empty", name)
	}
	return s.Value, nil
}

func num(item map[string]dtypes.AttributeValue, name string, required bool) (int64, error) {
	v, ok := item[name]
	if !ok {
		if required {
			return 0, fmt.Errorf("%s missing", name)
		}
		return 0, nil
	}
	n, ok := v.(*dtypes.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("%s is %s, want N", name, typeName(v))
	}
	x, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not an integer", name, n.Value)
	}
	return x, nil
}

// set reads a string set; the KCL writes parentShardId as SS, and a plain
// S is accepted too (a single parent written by hand).
func set(item map[string]dtypes.AttributeValue, name string) ([]string, error) {
	switch v := item[name].(type) {
	case nil:
		return nil, nil
	case *dtypes.AttributeValueMemberSS:
		out := slices.Clone(v.Value)
		slices.Sort(out)
		return out, nil
	case *dtypes.AttributeValueMemberS:
		return []string{v.Value}, nil
	default:
		return nil, fmt.Errorf("%s is %s, want SS", name, typeName(v))
	}
}

func typeName(v dtypes.AttributeValue) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", v), "*types.AttributeValueMember")
}

// rankOf orders sentinels around sequence numbers: the initial positions
// before any record, SHARD_END after every record.
func rankOf(cp string) int {
	switch cp {
	case TrimHorizon, Latest, AtTimestamp, "":
		return 0
	case ShardEnd:
		return 2
	}
	return 1
}

// ComparePositions orders two rows' checkpoints.
func ComparePositions(a, b Row) int {
	ra, rb := rankOf(a.Checkpoint), rankOf(b.Checkpoint)
	if ra != rb || ra != 1 {
		return ra - rb
	}
	x, _ := new(big.Int).SetString(a.Checkpoint, 10)
	y, _ := new(big.Int).SetString(b.Checkpoint, 10)
	if c := x.Cmp(y); c != 0 {
		return c
	}
	switch {
	case a.SubSequence < b.SubSequence:
		return -1
	case a.SubSequence > b.SubSequence:
		return 1
	}
	return 0
}
