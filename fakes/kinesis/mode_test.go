package kinesis_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// UpdateStreamMode takes the stream by ARN only, keeps the shards, and with
// limits on switches a stream at most twice per rolling 24 hours.
func TestUpdateStreamMode(t *testing.T) {
	e := newEnv(t, true)
	e.create(t, "s", 3)
	arn := aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/s")
	set := func(m types.StreamMode) error {
		_, err := e.c.UpdateStreamMode(ctx, &sdk.UpdateStreamModeInput{StreamARN: arn, StreamModeDetails: &types.StreamModeDetails{StreamMode: m}})
		return err
	}
	mode := func() (types.StreamMode, int32) {
		out := must[*sdk.DescribeStreamSummaryOutput](t)(e.c.DescribeStreamSummary(ctx, &sdk.DescribeStreamSummaryInput{StreamARN: arn}))
		return out.StreamDescriptionSummary.StreamModeDetails.StreamMode, aws.ToInt32(out.StreamDescriptionSummary.OpenShardCount)
	}
	if err := set(types.StreamModeOnDemand); err != nil {
		t.Fatal(err)
	}
	if m, n := mode(); m != types.StreamModeOnDemand || n != 3 {
		t.Fatalf("after the switch: %s with %d shards, want ON_DEMAND with 3", m, n)
	}
	_, err := e.c.UpdateShardCount(ctx, &sdk.UpdateShardCountInput{StreamARN: arn, TargetShardCount: aws.Int32(4), ScalingType: types.ScalingTypeUniformScaling})
	wantErr[*types.InvalidArgumentException](t, err)
	if err := set(types.StreamModeOnDemand); err != nil { // already: no change, not counted
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	if err := set(types.StreamModeProvisioned); err != nil {
		t.Fatal(err)
	}
	wantErr[*types.LimitExceededException](t, set(types.StreamModeOnDemand)) // third switch within 24 h
	e.clk.Advance(23*time.Hour + time.Second)                                // the first switch ages out
	if err := set(types.StreamModeOnDemand); err != nil {
		t.Fatal(err)
	}
	wantErr[*types.InvalidArgumentException](t, set("SOMETIMES"))
	_, err = e.c.UpdateStreamMode(ctx, &sdk.UpdateStreamModeInput{StreamARN: aws.String("arn:aws:kinesis:eu-west-1:000000000000:stream/s"),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned}})
	wantErr[*types.ResourceNotFoundException](t, err) // another region
}
