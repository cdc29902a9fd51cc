package conformance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// summary is the stream's DescribeStreamSummary answer.
func (s *kstream) summary() *types.StreamDescriptionSummary {
	s.t.Helper()
	out, err := s.kc.DescribeStreamSummary(s.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(s.name)})
	if err != nil {
		s.t.Fatalf("DescribeStreamSummary %s: %v", s.name, err)
	}
	return out.StreamDescriptionSummary
}

// testOnDemand: an ON_DEMAND stream starts with 4 shards, refuses
// UpdateShardCount, and UpdateStreamMode switches it to PROVISIONED (shards
// unchanged), after which UpdateShardCount works; DescribeStreamSummary
// reports the mode and the open shard count throughout.
func testOnDemand(t *testing.T, tg target) {
	b := tg.backend(t)
	s := &kstream{t: t, ctx: ctxT(t), b: b, kc: kinesisClient(b), name: uniqueName("od")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = s.kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(s.name), EnforceConsumerDeletion: aws.Bool(true)})
	})
	if _, err := s.kc.CreateStream(s.ctx, &kinesis.CreateStreamInput{StreamName: aws.String(s.name),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}); err != nil {
		t.Fatalf("CreateStream ON_DEMAND: %v", err)
	}
	s.waitActive()
	sum := s.summary()
	if sum.StreamModeDetails == nil || sum.StreamModeDetails.StreamMode != types.StreamModeOnDemand || aws.ToInt32(sum.OpenShardCount) != 4 {
		t.Errorf("new ON_DEMAND stream: mode %+v, %d open shards; want ON_DEMAND, 4", sum.StreamModeDetails, aws.ToInt32(sum.OpenShardCount))
	}
	checkCoverage(t, s.openShards())

	_, err := s.kc.UpdateShardCount(s.ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String(s.name), TargetShardCount: aws.Int32(6), ScalingType: types.ScalingTypeUniformScaling})
	if !errors.As(err, new(*types.InvalidArgumentException)) {
		if conforms(t, tg, "on-demand-update-shard-count") {
			t.Errorf("UpdateShardCount on an ON_DEMAND stream: want InvalidArgumentException, got %v", err)
		}
		s.waitActive()
	}

	arn := aws.String(aws.ToString(sum.StreamARN))
	if _, err := s.kc.UpdateStreamMode(s.ctx, &kinesis.UpdateStreamModeInput{StreamARN: arn,
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned}}); err != nil {
		t.Fatalf("UpdateStreamMode PROVISIONED: %v", err)
	}
	s.waitActive()
	sum = s.summary()
	if sum.StreamModeDetails == nil || sum.StreamModeDetails.StreamMode != types.StreamModeProvisioned {
		t.Errorf("after UpdateStreamMode PROVISIONED: mode %+v", sum.StreamModeDetails)
	}
	open := aws.ToInt32(sum.OpenShardCount)
	if open < 1 {
		t.Fatalf("after UpdateStreamMode: OpenShardCount %d", open)
	}
	if _, err := s.kc.UpdateShardCount(s.ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String(s.name), TargetShardCount: aws.Int32(open * 2), ScalingType: types.ScalingTypeUniformScaling}); err != nil {
		t.Fatalf("UpdateShardCount %d on the now PROVISIONED stream: %v", open*2, err)
	}
	s.waitActive()
	if got := aws.ToInt32(s.summary().OpenShardCount); got != open*2 {
		t.Errorf("after UpdateShardCount %d: OpenShardCount %d", open*2, got)
	}
	if _, err := s.kc.UpdateStreamMode(s.ctx, &kinesis.UpdateStreamModeInput{StreamARN: arn,
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}); err != nil {
		t.Fatalf("UpdateStreamMode ON_DEMAND: %v", err)
	}
	s.waitActive()
	if m := s.summary().StreamModeDetails; m == nil || m.StreamMode != types.StreamModeOnDemand {
		t.Errorf("after UpdateStreamMode ON_DEMAND: mode %+v", m)
	}
}

// testUpdateShardCountLimits: one call may at most double and at least halve
// the open shards (LimitExceededException otherwise); within them the open
// shards are uniform and each new shard is linked to its parents.
func testUpdateShardCountLimits(t *testing.T, tg target) {
	b := tg.backend(t)
	s := &kstream{t: t, ctx: ctxT(t), b: b, kc: kinesisClient(b), name: uniqueName("usc")}
	if tg.caps.PerStreamLimits {
		b.Kinesis.SetLimits(s.name, true) // the in-process functional cases run without limits
	}
	s.create(4)
	update := func(n int32) error {
		_, err := s.kc.UpdateShardCount(s.ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String(s.name), TargetShardCount: aws.Int32(n), ScalingType: types.ScalingTypeUniformScaling})
		return err
	}
	for _, n := range []int32{9, 1} {
		err := update(n)
		switch {
		case err == nil:
			t.Errorf("UpdateShardCount 4 → %d: accepted, want it refused (at most double, at least half)", n)
			s.waitActive()
		case errors.As(err, new(*types.LimitExceededException)):
		case conforms(t, tg, "update-shard-count-limit-code"):
			t.Errorf("UpdateShardCount 4 → %d: want LimitExceededException, got %v", n, err)
		}
	}
	for _, n := range []int32{8, 4, 2} {
		if err := update(n); err != nil {
			t.Fatalf("UpdateShardCount → %d: %v", n, err)
		}
		s.waitActive()
		open := s.openShards()
		if len(open) != int(n) {
			t.Fatalf("after UpdateShardCount %d: %d open shards", n, len(open))
		}
		checkCoverage(t, open)
	}
	// Lineage: every shard but the first four has a listed parent, and every
	// closed shard has an ending sequence number.
	all := s.shards(nil)
	byID := map[string]types.Shard{}
	for _, sh := range all {
		byID[aws.ToString(sh.ShardId)] = sh
	}
	for _, sh := range all {
		for _, p := range []*string{sh.ParentShardId, sh.AdjacentParentShardId} {
			if p == nil {
				continue
			}
			parent, ok := byID[*p]
			if !ok {
				t.Errorf("shard %s names parent %s, which ListShards does not list", aws.ToString(sh.ShardId), *p)
			} else if parent.SequenceNumberRange.EndingSequenceNumber == nil {
				t.Errorf("parent %s of %s is still open", *p, aws.ToString(sh.ShardId))
			}
		}
	}
}
