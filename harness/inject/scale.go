package inject

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/harness"
)

// UpdateShardCount scales the stream to n open shards with the
// UpdateShardCount API (UNIFORM_SCALING) and notes the reshard: its parents
// are the shards open before the call that it closed (Kinesis may also
// create and close short-lived shards on the way; they are the parents'
// descendants). Kinesis allows at most double and at least half the open
// shards per call.
func UpdateShardCount(n int) harness.Action {
	return harness.Action{Kind: "update-shard-count", Desc: fmt.Sprintf("UpdateShardCount to %d", n), Do: func(ctx context.Context, r *harness.Run) error {
		before, err := r.OpenShards(ctx)
		if err != nil {
			return err
		}
		if _, err := r.Env.Kinesis().UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{
			StreamName: aws.String(r.Names.Stream), TargetShardCount: aws.Int32(int32(n)), ScalingType: ktypes.ScalingTypeUniformScaling,
		}); err != nil {
			return fmt.Errorf("UpdateShardCount %d → %d: %w", len(before), n, err)
		}
		if err := r.Env.WaitStreamActive(ctx, r.Names.Stream); err != nil {
			return err
		}
		after, err := r.OpenShards(ctx)
		if err != nil {
			return err
		}
		stillOpen := map[string]bool{}
		for _, s := range after {
			stillOpen[aws.ToString(s.ShardId)] = true
		}
		var closed []string
		for _, s := range before {
			if id := aws.ToString(s.ShardId); !stillOpen[id] {
				closed = append(closed, id)
			}
		}
		if len(after) != n {
			return fmt.Errorf("UpdateShardCount %d → %d left %d open shards", len(before), n, len(after))
		}
		if err := r.NoteReshard(ctx, "update-shard-count", closed...); err != nil {
			return err
		}
		r.Record("update-shard-count", fmt.Sprintf("scaled %d → %d open shards, closing %v", len(before), n, closed), "")
		return nil
	}}
}

// SwitchStreamMode changes the stream's capacity mode (UpdateStreamMode,
// which takes the stream's ARN): ktypes.StreamModeProvisioned before
// UpdateShardCount on an on-demand stream, which Kinesis refuses otherwise.
func SwitchStreamMode(mode ktypes.StreamMode) harness.Action {
	return harness.Action{Kind: "stream-mode", Desc: "switch the stream to " + string(mode), Do: func(ctx context.Context, r *harness.Run) error {
		sum, err := r.Env.Kinesis().DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(r.Names.Stream)})
		if err != nil {
			return fmt.Errorf("describe stream: %w", err)
		}
		if _, err := r.Env.Kinesis().UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{
			StreamARN: sum.StreamDescriptionSummary.StreamARN, StreamModeDetails: &ktypes.StreamModeDetails{StreamMode: mode},
		}); err != nil {
			return fmt.Errorf("UpdateStreamMode %s: %w", mode, err)
		}
		if err := r.Env.WaitStreamActive(ctx, r.Names.Stream); err != nil {
			return err
		}
		r.Record("stream-mode", "stream switched to "+string(mode), "")
		return nil
	}}
}
