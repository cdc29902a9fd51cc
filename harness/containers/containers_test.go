package containers_test

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/containers"
)

// startOrSkip starts the containers backend through the harness seam. Without
// Docker it skips with "Docker not available: <reason>" — unless
// SHARDBRIDGE_REQUIRE_DOCKER=true, where a missing engine is a failure.
func startOrSkip(t *testing.T) *backend.Env {
	t.Helper()
	ctx := context.Background()
	env, err := backend.Start(ctx, backend.WithKind(backend.Containers), backend.WithContainers(containers.Starter()))
	if err != nil {
		if reason, ok := containers.SkipReason(err); ok {
			if required, _ := strconv.ParseBool(os.Getenv(containers.EnvRequireDocker)); required {
				t.Fatalf("%s=true but %s", containers.EnvRequireDocker, reason)
			}
			t.Skip(reason)
		}
		t.Fatalf("containers backend: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return env
}

// TestContainersSmoke is a round trip through every service of the backend:
// Kinesis put/get, a DynamoDB conditional write, a Kafka topic produced to
// and read back across a broker restart on the same advertised address.
func TestContainersSmoke(t *testing.T) {
	env := startOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	if got := env.Backend(); got != backend.Containers {
		t.Fatalf("backend = %s", got)
	}

	// Kinesis, through the harness's fault proxy.
	if err := env.CreateStream(ctx, "smoke", 2); err != nil {
		t.Fatal(err)
	}
	put, err := env.Kinesis().PutRecord(ctx, &kinesis.PutRecordInput{
		StreamName: aws.String("smoke"), PartitionKey: aws.String("k1"), Data: []byte("hello"),
	})
	if err != nil {
		t.Fatalf("put record: %v", err)
	}
	it, err := env.Kinesis().GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String("smoke"), ShardId: put.ShardId, ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		t.Fatalf("get shard iterator: %v", err)
	}
	recs, err := env.Kinesis().GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatalf("get records: %v", err)
	}
	if len(recs.Records) != 1 || !bytes.Equal(recs.Records[0].Data, []byte("hello")) || aws.ToString(recs.Records[0].SequenceNumber) != aws.ToString(put.SequenceNumber) {
		t.Fatalf("get records = %+v, want the record put", recs.Records)
	}

	// DynamoDB: the conditional write the lease protocol is built on.
	_, err = env.DynamoDB().CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("smoke-leases"),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
	item := map[string]ddbtypes.AttributeValue{"leaseKey": &ddbtypes.AttributeValueMemberS{Value: "shardId-000000000000"}}
	cond := aws.String("attribute_not_exists(leaseKey)")
	if _, err := env.DynamoDB().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("smoke-leases"), Item: item, ConditionExpression: cond}); err != nil {
		t.Fatalf("first conditional put: %v", err)
	}
	if _, err := env.DynamoDB().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("smoke-leases"), Item: item, ConditionExpression: cond}); err == nil {
		t.Fatal("second conditional put succeeded; want ConditionalCheckFailedException")
	}

	// Kafka, then a broker restart with data and address kept.
	if err := env.CreateTopic(ctx, "smoke", 3); err != nil {
		t.Fatal(err)
	}
	produce(ctx, t, env.Brokers(), "before-restart")
	if env.Broker() == nil {
		t.Fatal("no broker control")
	}
	before := env.Brokers()
	if err := env.Broker().Restart(ctx); err != nil {
		t.Fatalf("broker restart: %v", err)
	}
	if after := env.Brokers(); after[0] != before[0] {
		t.Fatalf("brokers changed across restart: %v → %v", before, after)
	}
	produce(ctx, t, env.Brokers(), "after-restart")
	got := consume(ctx, t, env.Brokers(), 2)
	if got[0] != "before-restart" || got[1] != "after-restart" {
		t.Fatalf("topic holds %q, want the record from before the restart and the one after", got)
	}
}

func produce(ctx context.Context, t *testing.T, brokers []string, value string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("smoke"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("produce %s: %v", value, err)
	}
}

func consume(ctx context.Context, t *testing.T, brokers []string, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("smoke"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []string
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", len(out), n, err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	return out
}
