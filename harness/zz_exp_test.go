package harness

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func TestZZExpire(t *testing.T) {
	ctx := context.Background()
	env, err := Start(ctx, WithSeed(1))
	if err != nil { t.Fatal(err) }
	defer env.Close(ctx)
	env.CreateStream(ctx, "s", 1)
	it, err := env.Kinesis().GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon})
	if err != nil { t.Fatal(err) }
	out, err := env.Kinesis().GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	t.Log(err)
	env.Clock().Advance(5*time.Minute + 5*time.Second)
	_, err = env.Kinesis().GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
	t.Log("after advance:", err)
}
