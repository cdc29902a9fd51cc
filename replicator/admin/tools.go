package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/replicator/lease"
	"github.com/shardbridge/shardbridge/replicator/source"
)

// Tools is what the commands work with: the application's lease table, its
// stream, and in exactly-once mode its checkpoint topic.
type Tools struct {
	DynamoDB lease.DynamoDBAPI
	Kinesis  source.KinesisAPI
	Table    string // the lease table (KCL_APPLICATION_NAME)
	Stream   string // a name or an ARN (see source.StreamParams)
	// InitialTimestamp is the configured AT_TIMESTAMP start, for rows at
	// AT_TIMESTAMP that name none.
	InitialTimestamp time.Time
	// FailoverTime is how long Reset --force watches held leases.
	FailoverTime time.Duration
	// Kafka, when set (exactly-once mode), are the client options for the
	// checkpoint topic CheckpointTopic.
	Kafka           []kgo.Opt
	CheckpointTopic string
	Log             *slog.Logger
}

// ErrNoTable is returned (wrapped, naming the table) when the lease table
// does not exist.
var ErrNoTable = errors.New("lease table not found")

// manager is a lease manager for reading and resetting rows; it never
// takes a lease, so its worker id only shows in its logs.
func (t Tools) manager() *lease.Manager {
	log := t.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return lease.NewManager(t.DynamoDB, t.Table, "operator", lease.WithLogger(log), lease.WithFailoverTime(max(t.FailoverTime, time.Second)))
}

// rows checks that the table exists and lists its leases.
func (t Tools) rows(ctx context.Context, m *lease.Manager) ([]lease.Lease, error) {
	_, err := t.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.Table)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("%w: %q (KCL_APPLICATION_NAME names it; has the replicator ever run with it?)", ErrNoTable, t.Table)
	}
	if err != nil {
		return nil, fmt.Errorf("lease table %q: %w", t.Table, err)
	}
	ls, err := m.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading lease table %q: %w", t.Table, err)
	}
	return ls, nil
}
