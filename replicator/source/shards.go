// Package source reads a Kinesis stream: shard discovery, lease planning and
// the per-shard reader.
//
// Contract:
//   - A stream is named by name or by ARN; by ARN every call passes
//     StreamARN (never StreamName), GetRecords included.
//   - ListShards follows every NextToken page and returns every shard the
//     stream still lists (open and closed within retention), sorted by id.
//   - PlanLeases decides, KCL-style, which leases are missing: with
//     TRIM_HORIZON or AT_TIMESTAMP every listed shard gets a lease (closed
//     parents too, so their tail is read before their children); with LATEST
//     only open shards do, at LATEST unless a parent is tracked (then
//     TRIM_HORIZON: the parent's records end where the child's begin). Leases
//     come out parents first, so a child never exists without its listed
//     parents' leases.
//   - Reader reads one shard: see Reader.
package source

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/replicator/lease"
)

// KinesisAPI is the subset of *kinesis.Client the source uses.
type KinesisAPI interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

var _ KinesisAPI = (*kinesis.Client)(nil)

// StreamParams names a stream in a request: a stream ARN ("arn:...", which
// no stream name can be) goes in StreamARN, anything else in StreamName.
// By ARN, the SDK also routes the call to the stream's account and region.
func StreamParams(stream string) (name, arn *string) {
	if strings.HasPrefix(stream, "arn:") {
		return nil, aws.String(stream)
	}
	return aws.String(stream), nil
}

// ListShards returns every shard of the stream (a name or an ARN),
// following pagination. Each page is one call; the caller decides about
// retries.
func ListShards(ctx context.Context, api KinesisAPI, stream string) ([]types.Shard, error) {
	var out []types.Shard
	in := &kinesis.ListShardsInput{}
	in.StreamName, in.StreamARN = StreamParams(stream)
	for page := 0; ; page++ {
		res, err := api.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list shards of %s (page %d): %w", stream, page+1, err)
		}
		out = append(out, res.Shards...)
		if res.NextToken == nil || *res.NextToken == "" {
			break
		}
		// With a NextToken, Kinesis refuses StreamName (not StreamARN).
		in = &kinesis.ListShardsInput{NextToken: res.NextToken, StreamARN: in.StreamARN}
	}
	slices.SortFunc(out, func(a, b types.Shard) int { return compareShardIDs(aws.ToString(a.ShardId), aws.ToString(b.ShardId)) })
	return out, nil
}

// compareShardIDs orders shard ids by creation: Kinesis numbers them
// shardId-000000000000 upward, with the same width, so a plain comparison
// with the length first is enough.
func compareShardIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// Open reports whether a shard still accepts records.
func Open(s types.Shard) bool {
	return s.SequenceNumberRange == nil || s.SequenceNumberRange.EndingSequenceNumber == nil
}

// Parents returns a shard's parent ids (two for a merge).
func Parents(s types.Shard) []string {
	var p []string
	if s.ParentShardId != nil && *s.ParentShardId != "" {
		p = append(p, *s.ParentShardId)
	}
	if s.AdjacentParentShardId != nil && *s.AdjacentParentShardId != "" {
		p = append(p, *s.AdjacentParentShardId)
	}
	return p
}

// Children returns the shards listed as children of parent.
func Children(shards []types.Shard, parent string) []lease.ChildShard {
	var out []lease.ChildShard
	for _, s := range shards {
		ps := Parents(s)
		if !slices.Contains(ps, parent) {
			continue
		}
		c := lease.ChildShard{ShardID: aws.ToString(s.ShardId), ParentShardIDs: ps}
		if s.HashKeyRange != nil {
			c.StartingHashKey = aws.ToString(s.HashKeyRange.StartingHashKey)
			c.EndingHashKey = aws.ToString(s.HashKeyRange.EndingHashKey)
		}
		out = append(out, c)
	}
	return out
}

// PlanLeases returns the leases to create for shards that have none, in the
// order they must be created (parents before children). initialPosition is
// lease.TrimHorizon, lease.Latest or lease.AtTimestamp.
func PlanLeases(shards []types.Shard, existing []lease.Lease, initialPosition string) []lease.Lease {
	have := make(map[string]bool, len(existing))
	for _, l := range existing {
		have[l.ShardID] = true
	}
	listed := make(map[string]bool, len(shards))
	for _, s := range shards {
		listed[aws.ToString(s.ShardId)] = true
	}
	sorted := slices.Clone(shards)
	slices.SortFunc(sorted, func(a, b types.Shard) int { return compareShardIDs(aws.ToString(a.ShardId), aws.ToString(b.ShardId)) })

	var plan []lease.Lease
	planned := map[string]bool{}
	for _, s := range sorted {
		id := aws.ToString(s.ShardId)
		if have[id] {
			continue
		}
		l := lease.Lease{ShardID: id, ParentShardIDs: Parents(s), Checkpoint: initialPosition}
		if s.HashKeyRange != nil {
			l.StartingHashKey = aws.ToString(s.HashKeyRange.StartingHashKey)
			l.EndingHashKey = aws.ToString(s.HashKeyRange.EndingHashKey)
		}
		if initialPosition == lease.Latest {
			if !Open(s) {
				continue // LATEST never reads history, closed shards included
			}
			// A tracked parent (lease or planned) hands over to this child at
			// the child's first record.
			for _, p := range l.ParentShardIDs {
				if have[p] || planned[p] {
					l.Checkpoint = lease.TrimHorizon
				}
			}
		}
		plan = append(plan, l)
		planned[id] = true
	}
	return plan
}

// SyncLeases lists the stream's shards and creates the missing leases (see
// PlanLeases). It returns the shards listed and how many leases it created.
func SyncLeases(ctx context.Context, api KinesisAPI, mgr LeaseStore, stream, initialPosition string) ([]types.Shard, int, error) {
	shards, err := ListShards(ctx, api, stream)
	if err != nil {
		return nil, 0, err
	}
	existing, err := mgr.List(ctx)
	if err != nil {
		return shards, 0, fmt.Errorf("list leases: %w", err)
	}
	n := 0
	for _, l := range PlanLeases(shards, existing, initialPosition) {
		created, err := mgr.CreateLease(ctx, l)
		if err != nil {
			return shards, n, fmt.Errorf("create lease %s: %w", l.ShardID, err)
		}
		if created {
			n++
		}
	}
	return shards, n, nil
}

// LeaseStore is the part of *lease.Manager that SyncLeases uses.
type LeaseStore interface {
	List(ctx context.Context) ([]lease.Lease, error)
	CreateLease(ctx context.Context, l lease.Lease) (bool, error)
}
