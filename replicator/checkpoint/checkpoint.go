// Package checkpoint is where a shard's progress is stored.
//
// Contract:
//   - A Position (sequence number, subsequence) means what the KCL's
//     extended sequence number means: "every record before it, and the
//     record itself up to that subsequence, is in Kafka". A whole
//     (non-aggregated) record is checkpointed with subsequence 0, as the KCL
//     does; a KPL sub-record with its index in the aggregate. A resume
//     re-reads the record at the sequence number and skips what the
//     position covers.
//   - Migration: earlier versions wrote subsequence -1 for a whole record.
//     -1 is still read, as "the whole record is done": the resume starts
//     after it (they never wrote -1 for an aggregate, so nothing of it can
//     be left undone).
//   - At AT_TIMESTAMP, Timestamp is where the shard starts when the row
//     names one (an operator reset); zero means the configured one.
//   - Checkpoint must refuse (an error wrapping ErrLeaseLost) when this
//     worker no longer owns the shard; the caller then stops the shard at
//     once and drops what it had in flight.
//   - Start tells where a newly owned shard resumes.
//
// The interface is small on purpose: the lease table stores checkpoints for
// at-least-once delivery (Leases), and a later transactional exactly-once
// mode stores them in Kafka, in the same transaction as the records.
package checkpoint

import (
	"context"
	"fmt"
	"time"

	"github.com/shardbridge/shardbridge/replicator/lease"
)

// ErrLeaseLost is returned (wrapped) by a checkpoint that was refused because
// the shard belongs to another worker now.
var ErrLeaseLost = lease.ErrLeaseLost

// Position is a checkpoint: a Kinesis sequence number and a subsequence, or a
// sentinel (lease.TrimHorizon, lease.Latest, lease.AtTimestamp,
// lease.ShardEnd) in Sequence.
type Position struct {
	Sequence    string
	SubSequence int64
	Timestamp   time.Time // with lease.AtTimestamp only
}

// Record is the position of a whole record fully delivered, or of a KPL
// aggregate delivered up to sub-record sub. A whole record has sub < 0 in
// the pipeline; its checkpoint says 0, as the KCL writes it.
func Record(seq string, sub int64) Position {
	return Position{Sequence: seq, SubSequence: max(sub, 0)}
}

// Legacy reports whether p is a whole-record position written by an
// earlier version (subsequence -1): the record itself is done.
func (p Position) Legacy() bool { return !p.IsSentinel() && p.SubSequence < 0 }

// IsSentinel reports whether p names a start position rather than a record.
func (p Position) IsSentinel() bool {
	switch p.Sequence {
	case "", lease.TrimHorizon, lease.Latest, lease.AtTimestamp, lease.ShardEnd:
		return true
	}
	return false
}

func (p Position) String() string {
	if p.IsSentinel() {
		return p.Sequence
	}
	return fmt.Sprintf("%s/%d", p.Sequence, p.SubSequence)
}

// Checkpointer stores and reads shard progress.
type Checkpointer interface {
	// Start is where the shard of a newly acquired lease resumes.
	Start(ctx context.Context, l lease.Lease) (Position, error)
	// Checkpoint records that everything up to pos is delivered.
	Checkpoint(ctx context.Context, shardID string, pos Position) error
	// ShardEnd records that the shard was read to its end and every record
	// delivered, and makes its children readable.
	ShardEnd(ctx context.Context, shardID string, children []lease.ChildShard) error
}

// LeaseManager is the part of *lease.Manager the lease checkpointer uses.
type LeaseManager interface {
	Checkpoint(ctx context.Context, shardID, seq string, subSeq int64) error
	CheckpointShardEnd(ctx context.Context, shardID string, children []lease.ChildShard) error
}

// Leases stores checkpoints in the KCL lease table, as the KCL does.
func Leases(m LeaseManager) Checkpointer { return leases{m} }

type leases struct{ m LeaseManager }

func (c leases) Start(_ context.Context, l lease.Lease) (Position, error) {
	// The lease was taken with a compare-and-set on its counter, and every
	// checkpoint moves the counter, so the checkpoint read with it is current.
	return Position{Sequence: l.Checkpoint, SubSequence: l.SubSequence, Timestamp: l.AtTimestamp}, nil
}

func (c leases) Checkpoint(ctx context.Context, shardID string, pos Position) error {
	if pos.IsSentinel() {
		return fmt.Errorf("checkpoint %s: %q is not a record position", shardID, pos.Sequence)
	}
	return c.m.Checkpoint(ctx, shardID, pos.Sequence, pos.SubSequence)
}

func (c leases) ShardEnd(ctx context.Context, shardID string, children []lease.ChildShard) error {
	return c.m.CheckpointShardEnd(ctx, shardID, children)
}
