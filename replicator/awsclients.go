package replicator

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardbridge/shardbridge/replicator/config"
)

// AWSClients builds the Kinesis and DynamoDB clients the replicator (and its
// operator commands) use: region from KCL_REGION or the SDK's default chain,
// endpoints from the configuration's overrides or AWS_ENDPOINT_URL_*.
//
// No transport wrapper against smithy-go's closed-body race (an SDK call
// reporting "use of closed network connection" on a 200 when net/http
// re-checks a request body larger than its 4 KiB write buffer after the
// response arrived): every request the replicator sends is well below that
// (GetRecords, GetShardIterator, ListShards, lease reads and writes: under 1
// KiB; the tests fail above 2 KiB, see maxRequestBody), so its bytes stay
// buffered until after that check and the race cannot happen. Were it ever
// to, the call is retried like any transient error.
func AWSClients(ctx context.Context, cfg config.Config) (*kinesis.Client, *dynamodb.Client, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsRegion(cfg.Region),
		awsconfig.WithRetryer(func() aws.Retryer {
			// No client-side retry quota: a long throttling episode must
			// slow the replicator down, not make its calls fail outright.
			return retry.NewStandard(func(so *retry.StandardOptions) { so.RateLimiter = ratelimit.None })
		}))
	if err != nil {
		return nil, nil, fmt.Errorf("aws configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, nil, errors.New("KCL_REGION: required (or set AWS_REGION)")
	}
	kin := kinesis.NewFromConfig(awsCfg, func(ko *kinesis.Options) {
		if cfg.KinesisEndpoint != "" {
			ko.BaseEndpoint = aws.String(cfg.KinesisEndpoint)
		}
	})
	ddb := dynamodb.NewFromConfig(awsCfg, func(do *dynamodb.Options) {
		if cfg.DynamoDBEndpoint != "" {
			do.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint)
		}
	})
	return kin, ddb, nil
}
