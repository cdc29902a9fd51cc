package conformance

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardbridge/shardbridge/fakes/conformance/refemu"
)

func TestStartInProcess(t *testing.T) {
	b, err := StartInProcess()
	if err != nil {
		t.Fatal(err)
	}
	if b.Clock == nil || b.Kinesis == nil || b.DynamoDB == nil || !b.Caps.ClockControl || !b.Caps.Throttles {
		t.Fatalf("in-process backend incomplete: %+v", b)
	}
	if b.KinesisEndpoint == b.DynamoDBEndpoint || !strings.HasPrefix(b.KinesisEndpoint, "http://127.0.0.1:") {
		t.Fatalf("endpoints %q and %q", b.KinesisEndpoint, b.DynamoDBEndpoint)
	}
	ctx := context.Background()
	// The default clients (standard retryer) work against both emulators.
	if _, err := b.KinesisClient().ListStreams(ctx, &kinesis.ListStreamsInput{}); err != nil {
		t.Errorf("ListStreams: %v", err)
	}
	if _, err := b.DynamoDBClient().ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Errorf("ListTables: %v", err)
	}
	// An option reaches the client.
	c := b.KinesisClient(func(o *kinesis.Options) { o.Region = "eu-west-1" })
	if c.Options().Region != "eu-west-1" || aws.ToString(c.Options().BaseEndpoint) != b.KinesisEndpoint {
		t.Errorf("client options: region %s endpoint %s", c.Options().Region, aws.ToString(c.Options().BaseEndpoint))
	}
	b.Close()
	b.Close() // idempotent
	if _, err := http.Post(b.KinesisEndpoint, "application/json", strings.NewReader("{}")); err == nil {
		t.Error("Kinesis endpoint still answers after Close")
	}
}

func TestNewReferenceBackend(t *testing.T) {
	if b := NewReferenceBackend(nil, nil); b.KinesisEndpoint != "" || b.DynamoDBEndpoint != "" || b.Caps.Throttles {
		t.Errorf("empty reference backend: %+v", b)
	}
	km := &refemu.Process{Name: refemu.KinesisMock, Endpoint: "http://127.0.0.1:1"}
	dl := &refemu.Process{Name: refemu.Dynalite, Endpoint: "http://127.0.0.1:2"}
	b := NewReferenceBackend(km, dl)
	if b.Name != "kinesis-mock+dynalite" || b.KinesisEndpoint != km.Endpoint || b.DynamoDBEndpoint != dl.Endpoint ||
		b.KinesisImpl != KinesisMock || b.DynamoDBImpl != Dynalite || !b.Caps.AsyncResharding || b.Caps.ExpiresIteratorsOnClock {
		t.Errorf("reference backend: %+v", b)
	}
}
