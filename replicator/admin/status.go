package admin

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/replicator/lease"
	"github.com/shardbridge/shardbridge/replicator/source"
)

// ShardStatus is one lease row as `replicator leases` shows it; the JSON
// field names are the documented output of --json.
type ShardStatus struct {
	Shard   string `json:"shard"`
	Owner   string `json:"owner"` // "" when unowned
	Counter int64  `json:"counter"`
	// Checkpoint is a sequence number or a sentinel (TRIM_HORIZON, LATEST,
	// AT_TIMESTAMP, SHARD_END); SubSequence its checkpointSubSequenceNumber.
	Checkpoint  string `json:"checkpoint"`
	SubSequence int64  `json:"subsequence"`
	// AtTimestamp is the row's own AT_TIMESTAMP start (RFC 3339), if any.
	AtTimestamp string   `json:"at_timestamp,omitempty"`
	Parents     []string `json:"parents"`
	// LagMillis is Kinesis' MillisBehindLatest at the checkpoint; null when
	// unknown (LagNote says why).
	LagMillis *int64 `json:"lag_ms"`
	LagNote   string `json:"lag_note,omitempty"`
}

// Status lists every lease with its lag, sorted by shard id.
func (t Tools) Status(ctx context.Context) ([]ShardStatus, error) {
	ls, err := t.rows(ctx, t.manager())
	if err != nil {
		return nil, err
	}
	out := make([]ShardStatus, 0, len(ls))
	for _, l := range ls {
		s := ShardStatus{
			Shard: l.ShardID, Owner: l.Owner, Counter: l.Counter,
			Checkpoint: l.Checkpoint, SubSequence: l.SubSequence,
			Parents: slices.Clone(l.ParentShardIDs),
		}
		if s.Parents == nil {
			s.Parents = []string{}
		}
		if !l.AtTimestamp.IsZero() {
			s.AtTimestamp = l.AtTimestamp.Format(time.RFC3339Nano)
		}
		if l.Finished() {
			s.LagNote = "shard ended"
		} else if lag, err := t.lag(ctx, l); err != nil {
			s.LagNote = err.Error()
		} else {
			s.LagMillis = &lag
		}
		out = append(out, s)
	}
	return out, nil
}

// lag is MillisBehindLatest of a read at l's checkpoint.
func (t Tools) lag(ctx context.Context, l lease.Lease) (int64, error) {
	in := &kinesis.GetShardIteratorInput{ShardId: aws.String(l.ShardID)}
	in.StreamName, in.StreamARN = source.StreamParams(t.Stream)
	switch l.Checkpoint {
	case lease.TrimHorizon:
		in.ShardIteratorType = ktypes.ShardIteratorTypeTrimHorizon
	case lease.Latest:
		in.ShardIteratorType = ktypes.ShardIteratorTypeLatest
	case lease.AtTimestamp:
		at := l.AtTimestamp
		if at.IsZero() {
			at = t.InitialTimestamp
		}
		if at.IsZero() {
			return 0, fmt.Errorf("AT_TIMESTAMP without a timestamp")
		}
		in.ShardIteratorType, in.Timestamp = ktypes.ShardIteratorTypeAtTimestamp, aws.Time(at)
	default:
		// Whether or not the record is an aggregate part-way done, the
		// records after it are what is left: close enough for a lag.
		in.ShardIteratorType, in.StartingSequenceNumber = ktypes.ShardIteratorTypeAfterSequenceNumber, aws.String(l.Checkpoint)
	}
	it, err := t.Kinesis.GetShardIterator(ctx, in)
	if err != nil {
		return 0, fmt.Errorf("GetShardIterator: %w", err)
	}
	recs, err := t.Kinesis.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(1)})
	if err != nil {
		return 0, fmt.Errorf("GetRecords: %w", err)
	}
	if recs.MillisBehindLatest == nil {
		return 0, fmt.Errorf("no MillisBehindLatest in the answer")
	}
	return *recs.MillisBehindLatest, nil
}
