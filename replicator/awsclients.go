package replicator

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/shardbridge/shardbridge/replicator/backoff"
	"github.com/shardbridge/shardbridge/replicator/config"
)

// assumedRole is a role the replicator assumes for one service; start-up
// assumes it once so a refusal is reported naming the role and the service,
// not as a lease-table or stream failure.
type assumedRole struct {
	setting, role, service string
	creds                  aws.CredentialsProvider
}

// awsClients builds the Kinesis and DynamoDB clients from the SDK's default
// configuration (environment, profile, web identity, container and instance
// credentials), each in its own region and, when configured, with its own
// role assumed through STS on top of the default credentials.
//
// No transport wrapper against smithy-go's closed-body race (an SDK call
// reporting "use of closed network connection" on a 200 when net/http
// re-checks a request body larger than its 4 KiB write buffer after the
// response arrived): every request the replicator sends is well below that
// (GetRecords, GetShardIterator, ListShards, lease reads and writes: under
// 1 KiB; the tests fail above 2 KiB, see maxRequestBody), so its bytes stay
// buffered until after that check and the race cannot happen. Were it ever
// to, the call is retried like any transient error.
func awsClients(ctx context.Context, cfg config.Config) (*kinesis.Client, *dynamodb.Client, []assumedRole, error) {
	base, err := awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithRetryer(func() aws.Retryer {
			// No client-side retry quota: a long throttling episode must
			// slow the replicator down, not make its calls fail outright.
			return retry.NewStandard(func(so *retry.StandardOptions) { so.RateLimiter = ratelimit.None })
		}))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("aws configuration: %w", err)
	}
	streamRegion, leaseRegion := cfg.StreamRegion(), cfg.LeaseTableRegion()
	if streamRegion == "" {
		streamRegion = base.Region
	}
	if leaseRegion == "" {
		leaseRegion = streamRegion
	}
	if streamRegion == "" {
		return nil, nil, nil, errors.New("KCL_REGION: required (or set AWS_REGION, or name the stream by ARN)")
	}
	var roles []assumedRole

	kinCfg := base.Copy()
	kinCfg.Region = streamRegion
	if cfg.StreamRoleARN != "" {
		kinCfg.Credentials = assumeRole(base, streamRegion, cfg.StreamRoleARN, cfg.StreamRoleExternalID, cfg.SessionName())
		roles = append(roles, assumedRole{"REPLICATOR_STREAM_ROLE_ARN", cfg.StreamRoleARN, "Kinesis", kinCfg.Credentials})
	}
	ddbCfg := base.Copy()
	ddbCfg.Region = leaseRegion
	if cfg.LeaseTableRoleARN != "" {
		ddbCfg.Credentials = assumeRole(base, leaseRegion, cfg.LeaseTableRoleARN, cfg.LeaseTableRoleExternalID, cfg.SessionName())
		roles = append(roles, assumedRole{"REPLICATOR_LEASE_TABLE_ROLE_ARN", cfg.LeaseTableRoleARN, "DynamoDB", ddbCfg.Credentials})
	}

	kin := kinesis.NewFromConfig(kinCfg, func(ko *kinesis.Options) {
		if cfg.KinesisEndpoint != "" {
			ko.BaseEndpoint = aws.String(cfg.KinesisEndpoint)
		}
	})
	ddb := dynamodb.NewFromConfig(ddbCfg, func(do *dynamodb.Options) {
		if cfg.DynamoDBEndpoint != "" {
			do.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint)
		}
	})
	return kin, ddb, roles, nil
}

// assumeRole is role's credentials, assumed with base's credentials through
// the regional STS endpoint (AWS_ENDPOINT_URL_STS overrides it) and cached
// until shortly before they expire.
func assumeRole(base aws.Config, region, role, externalID, session string) aws.CredentialsProvider {
	stsCfg := base.Copy()
	stsCfg.Region = region
	p := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(stsCfg), role, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = session
		if externalID != "" {
			o.ExternalID = aws.String(externalID)
		}
	})
	return aws.NewCredentialsCache(p)
}

// rolesFor keeps the roles of one service.
func rolesFor(roles []assumedRole, service string) []assumedRole {
	var out []assumedRole
	for _, r := range roles {
		if r.service == service {
			out = append(out, r)
		}
	}
	return out
}

// checkRoles assumes every configured role once, retried for at most the
// start-up timeout.
func (r *Replicator) checkRoles(ctx context.Context) error {
	for _, ar := range r.roles {
		what := fmt.Sprintf("sts role %s for %s", ar.role, ar.service)
		if err := backoff.Retry(ctx, r.log, r.cfg.StartupTimeout, what, func(ctx context.Context) error {
			if _, err := ar.creds.Retrieve(ctx); err != nil {
				return fmt.Errorf("%s: assuming %s for %s calls: %w", ar.setting, ar.role, ar.service, err)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// streamName is the stream's name, whether it was given by name or by ARN.
func (r *Replicator) streamName() string {
	name, _, _ := r.cfg.Stream()
	return name
}

// streamRef is how Kinesis calls name the stream: its ARN when one was
// given (see source.StreamParams), else its name.
func (r *Replicator) streamRef() string { return r.cfg.StreamRef() }

// AWSClients builds the Kinesis and DynamoDB clients the replicator uses —
// regions, roles and endpoints as configured — for its operator commands.
// Roles are assumed on the first call.
func AWSClients(ctx context.Context, cfg config.Config) (*kinesis.Client, *dynamodb.Client, error) {
	kin, ddb, _, err := awsClients(ctx, cfg)
	return kin, ddb, err
}
