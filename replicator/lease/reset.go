package lease

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrChanged is returned (wrapped) by Reset when the row's counter moved
// since it was read: some worker wrote it in between.
var ErrChanged = errors.New("lease row changed since it was read")

// Reset rewrites the row read as l so that the application replays the
// shard from position (TRIM_HORIZON, LATEST or AT_TIMESTAMP; at is the
// timestamp for AT_TIMESTAMP): subsequence 0, no owner (the next worker
// takes it at once), no children and no pending checkpoint (a SHARD_END row
// becomes unfinished again, so its children wait for it as they did the
// first time), counter+1 so that a zombie holder's next write fails. It is a
// compare-and-set on the counter read in l: a worker that wrote since makes
// it fail with ErrChanged, and nothing is written.
func (m *Manager) Reset(ctx context.Context, l Lease, position string, at time.Time) error {
	switch position {
	case TrimHorizon, Latest:
		at = time.Time{}
	case AtTimestamp:
		if at.IsZero() {
			return fmt.Errorf("reset %s: %s needs a timestamp", l.ShardID, AtTimestamp)
		}
	default:
		return fmt.Errorf("reset %s: position %q is not %s, %s or %s", l.ShardID, position, TrimHorizon, Latest, AtTimestamp)
	}
	names := map[string]string{
		"#c": attrCounter, "#cp": attrCheckpoint, "#ss": attrSubSeq, "#sw": attrOwnerSwitch,
		"#o": attrOwner, "#ch": attrChildren, "#at": attrAtTimestamp,
		// The KCL's own, which a reset must not leave behind either.
		"#pc": "pendingCheckpoint", "#ps": "pendingCheckpointSubSequenceNumber", "#pst": "pendingCheckpointState",
		"#co": "checkpointOwner",
	}
	vals := map[string]types.AttributeValue{
		":cur": num(l.Counter), ":next": num(l.Counter + 1), ":cp": str(position), ":zero": num(0),
	}
	set := "SET #c = :next, #cp = :cp, #ss = :zero, #sw = :zero"
	remove := " REMOVE #o, #ch, #pc, #ps, #pst, #co"
	if position == AtTimestamp {
		set += ", #at = :at"
		vals[":at"] = num(at.UnixMilli())
	} else {
		remove += ", #at"
	}
	_, err := m.retry(ctx, func(ctx context.Context) error {
		_, err := m.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(m.table),
			Key:                       keyOf(l.ShardID),
			UpdateExpression:          aws.String(set + remove),
			ConditionExpression:       aws.String("#c = :cur"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: vals,
		}, noSDKRetry)
		return err
	})
	if isConditionFailed(err) {
		return fmt.Errorf("reset %s: %w (counter %d read)", l.ShardID, ErrChanged, l.Counter)
	}
	if err != nil {
		return fmt.Errorf("reset %s: %w", l.ShardID, err)
	}
	return nil
}
