package bridges

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"

	"github.com/shardbridge/shardbridge/replicator/lease"
	"github.com/shardbridge/shardbridge/replicator/source"
)

// countingDDB answers DescribeTable and counts the calls that reach it.
type countingDDB struct {
	lease.DynamoDBAPI
	calls int
}

func (c *countingDDB) DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	c.calls++
	return &dynamodb.DescribeTableOutput{}, nil
}

// countingKinesis answers ListShards and counts the calls that reach it.
type countingKinesis struct {
	source.KinesisAPI
	calls int
}

func (c *countingKinesis) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	c.calls++
	return &kinesis.ListShardsOutput{}, nil
}

// within runs f and fails the test if it does not return within d: the
// gate's answers must be immediate, never a wait.
func within(t *testing.T, d time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("call still blocked after %s", d)
		return nil
	}
}

func TestLeaseTableCutFailsOnlyDynamoDBCalls(t *testing.T) {
	ctx := context.Background()
	g := &lifeGate{}
	inner, innerKin := &countingDDB{}, &countingKinesis{}
	ddb, kin := gatedDynamoDB{g: g, c: inner}, gatedKinesis{g: g, c: innerKin}

	g.cutDynamoDB(true)
	err := within(t, 5*time.Second, func() error { _, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{}); return err })
	if !errors.Is(err, errLeaseTableCut) {
		t.Fatalf("DescribeTable while cut off = %v, want the lease-table cut", err)
	}
	var netErr net.Error
	var apiErr smithy.APIError
	if !errors.As(err, &netErr) || errors.As(err, &apiErr) {
		t.Errorf("the cut answers %T %v: want a network error, not an answer of the service", err, err)
	}
	if inner.calls != 0 {
		t.Errorf("%d DynamoDB calls reached the table while cut off", inner.calls)
	}
	if _, err := kin.ListShards(ctx, &kinesis.ListShardsInput{}); err != nil || innerKin.calls != 1 {
		t.Errorf("Kinesis while the lease table is cut off: %v, %d calls through; want it untouched", err, innerKin.calls)
	}

	g.cutDynamoDB(false)
	if _, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{}); err != nil || inner.calls != 1 {
		t.Errorf("DynamoDB after the reconnect: %v, %d calls through", err, inner.calls)
	}

	// A kill outranks the cut: the instance is dead, not partitioned.
	g.cutDynamoDB(true)
	g.kill()
	if _, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{}); !errors.Is(err, errKilled) {
		t.Errorf("DescribeTable of a killed, cut-off instance = %v, want errKilled", err)
	}
}
