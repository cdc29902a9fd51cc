package inject

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/harness"
)

// SplitShard splits a shard at the middle of its hash key range.
func SplitShard(sel harness.ShardSelector) harness.Action {
	return harness.Action{Kind: "split-shard", Desc: "split " + sel.Desc, Do: func(ctx context.Context, r *harness.Run) error {
		s, err := sel.Pick(ctx, r)
		if err != nil {
			return err
		}
		lo, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
		hi, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
		mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
		mid.Add(mid, big.NewInt(1))
		id := aws.ToString(s.ShardId)
		_, err = r.Env.Kinesis().SplitShard(ctx, &kinesis.SplitShardInput{
			StreamName: aws.String(r.Names.Stream), ShardToSplit: aws.String(id), NewStartingHashKey: aws.String(mid.String()),
		})
		if err != nil {
			return fmt.Errorf("split %s: %w", id, err)
		}
		if err := r.Env.WaitStreamActive(ctx, r.Names.Stream); err != nil {
			return err
		}
		if err := r.NoteReshard(ctx, "split", id); err != nil {
			return err
		}
		r.Record("split-shard", fmt.Sprintf("split %s (%s)", id, sel.Desc), id)
		return nil
	}}
}

// MergeShards merges two adjacent open shards: the pair of adjacent shards
// with the fewest acknowledged records (the cold ones).
func MergeShards() harness.Action {
	return harness.Action{Kind: "merge-shards", Desc: "merge the two coldest adjacent shards", Do: func(ctx context.Context, r *harness.Run) error {
		open, err := r.OpenShards(ctx)
		if err != nil {
			return err
		}
		if len(open) < 2 {
			return errors.New("merge: fewer than two open shards")
		}
		counts := r.AckedPerShard()
		best := -1
		for i := 0; i+1 < len(open); i++ {
			if !adjacent(open[i], open[i+1]) {
				continue
			}
			if best < 0 || counts[aws.ToString(open[i].ShardId)]+counts[aws.ToString(open[i+1].ShardId)] <
				counts[aws.ToString(open[best].ShardId)]+counts[aws.ToString(open[best+1].ShardId)] {
				best = i
			}
		}
		if best < 0 {
			return errors.New("merge: no adjacent open shards")
		}
		a, b := aws.ToString(open[best].ShardId), aws.ToString(open[best+1].ShardId)
		if _, err := r.Env.Kinesis().MergeShards(ctx, &kinesis.MergeShardsInput{
			StreamName: aws.String(r.Names.Stream), ShardToMerge: aws.String(a), AdjacentShardToMerge: aws.String(b),
		}); err != nil {
			return fmt.Errorf("merge %s and %s: %w", a, b, err)
		}
		if err := r.Env.WaitStreamActive(ctx, r.Names.Stream); err != nil {
			return err
		}
		if err := r.NoteReshard(ctx, "merge", a, b); err != nil {
			return err
		}
		r.Record("merge-shards", fmt.Sprintf("merged %s and %s", a, b), a)
		return nil
	}}
}

func adjacent(a, b ktypes.Shard) bool {
	end, _ := new(big.Int).SetString(aws.ToString(a.HashKeyRange.EndingHashKey), 10)
	start, _ := new(big.Int).SetString(aws.ToString(b.HashKeyRange.StartingHashKey), 10)
	return end != nil && start != nil && new(big.Int).Add(end, big.NewInt(1)).Cmp(start) == 0
}

// ScaleShards is UpdateShardCount under its earlier name.
func ScaleShards(n int) harness.Action { return UpdateShardCount(n) }

// TrimStream drops, as retention would, every record that arrived until now
// and every shard closed until now (the in-process emulator's TrimBefore).
// Records written before the trim are then no longer required in Kafka
// (those replicated before it may be there); every later one still is.
func TrimStream() harness.Action {
	return harness.Action{Kind: "retention-trim", Desc: "trim the stream (retention)", Needs: needEmulator, Do: func(ctx context.Context, r *harness.Run) error {
		cut := r.Env.Clock().Now()
		if err := r.Env.KinesisEmulator().TrimBefore(r.Names.Stream, cut); err != nil {
			return fmt.Errorf("trim: %w", err)
		}
		// Arrival times have millisecond precision and the trim point may be
		// applied as reads happen: the marker must arrive strictly after the
		// cut, so every record numbered after it survives the trim.
		for !r.Env.Clock().Now().After(cut.Add(time.Millisecond)) {
			time.Sleep(time.Millisecond)
		}
		if err := r.MarkTrimmed(ctx); err != nil {
			return err
		}
		r.Record("retention-trim", "retention dropped every record written so far, and the closed shards", "")
		return nil
	}}
}
