package fault_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/fakes/awsmux"
	"github.com/shardbridge/shardbridge/fakes/clock"
	ddbemu "github.com/shardbridge/shardbridge/fakes/dynamodb"
	"github.com/shardbridge/shardbridge/fakes/fault"
	kinemu "github.com/shardbridge/shardbridge/fakes/kinesis"
)

// TestRulesOnRealEmulators runs the same shard and table rules once as
// middleware around the in-process emulators and once as a reverse proxy in
// front of them, with the emulators' real (opaque) iterators.
func TestRulesOnRealEmulators(t *testing.T) {
	for _, mode := range []string{"middleware", "proxy"} {
		t.Run(mode, func(t *testing.T) {
			clk := clock.NewManual(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
			kin := kinemu.New(kinemu.WithClock(clk), kinemu.WithLimits(false))
			ddb := ddbemu.New(ddbemu.WithClock(clk))
			if err := kin.CreateStream("orders", 2); err != nil {
				t.Fatal(err)
			}
			inj := fault.New(fault.WithClock(clk), fault.WithSeed(3))
			var front http.Handler
			if mode == "middleware" {
				front = inj.Middleware(awsmux.New(kin, ddb))
			} else {
				upstream := httptest.NewServer(awsmux.New(kin, ddb))
				t.Cleanup(upstream.Close)
				p, err := fault.NewProxy(upstream.URL, inj)
				if err != nil {
					t.Fatal(err)
				}
				front = p
			}
			srv := httptest.NewServer(front)
			t.Cleanup(srv.Close)
			ctx := context.Background()
			kc := kinesisClient(srv.URL, 1)
			dc := dynamoClient(srv.URL, 1)

			for i, ehk := range []string{"0", "340282366920938463463374607431768211455"} {
				if _, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String("k"), ExplicitHashKey: aws.String(ehk), Data: []byte{byte(i)}}); err != nil {
					t.Fatal(err)
				}
			}
			iters := map[string]*string{}
			for _, sh := range []string{shard0, shard1} {
				out, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("orders"), ShardId: aws.String(sh), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
				if err != nil {
					t.Fatal(err)
				}
				iters[sh] = out.ShardIterator
			}
			inj.Add(fault.Rule{Name: "hot", Operations: []string{"GetRecords"}, Stream: "orders", Shard: shard1, Count: 2, Action: fault.Throttle})
			inj.Add(fault.Rule{Name: "stale", Service: "kinesis", Shard: shard0, Count: 1, Action: fault.ExpiredIterator,
				From: clk.Now().Add(time.Minute)})

			// Shard 1 is throttled twice (rule count), shard 0 is untouched.
			var pte *types.ProvisionedThroughputExceededException
			for range 2 {
				if _, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iters[shard1]}); !errors.As(err, &pte) {
					t.Fatalf("shard 1: want throttle, got %v", err)
				}
			}
			r1, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iters[shard1]})
			if err != nil || len(r1.Records) != 1 {
				t.Fatalf("shard 1 after the count: %v", err)
			}
			r0, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iters[shard0]})
			if err != nil || len(r0.Records) != 1 {
				t.Fatalf("shard 0: %v", err)
			}
			// The window opens a minute later on the shared clock; the
			// chained iterator of shard 0 was learned from the response.
			clk.Advance(time.Minute)
			var eie *types.ExpiredIteratorException
			if _, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: r1.NextShardIterator}); err != nil {
				t.Fatalf("shard 1 chained: %v", err)
			}
			if _, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: r0.NextShardIterator}); !errors.As(err, &eie) {
				t.Fatalf("shard 0 chained: want expired iterator, got %v", err)
			}

			// DynamoDB: a table rule throttles one table only.
			for _, table := range []string{"leases", "other"} {
				if _, err := dc.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: ddbtypes.BillingModePayPerRequest,
					AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
					KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: ddbtypes.KeyTypeHash}}}); err != nil {
					t.Fatal(err)
				}
			}
			inj.Add(fault.Rule{Service: "dynamodb", Table: "leases", Operations: []string{"PutItem"}, Action: fault.Throttle})
			putItem := func(table string) error {
				_, err := dc.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]ddbtypes.AttributeValue{"leaseKey": &ddbtypes.AttributeValueMemberS{Value: "a"}}})
				return err
			}
			var dpte *ddbtypes.ProvisionedThroughputExceededException
			if err := putItem("leases"); !errors.As(err, &dpte) {
				t.Fatalf("leases: want throttle, got %v", err)
			}
			if err := putItem("other"); err != nil {
				t.Fatalf("other: %v", err)
			}

			evs := inj.Events()
			if len(evs) != 4 || inj.Count(fault.Throttle) != 3 || inj.Count(fault.ExpiredIterator) != 1 {
				t.Fatalf("events %+v", evs)
			}
			for i, want := range []struct{ rule, shard, table string }{{"hot", shard1, ""}, {"hot", shard1, ""}, {"stale", shard0, ""}, {"", "", "leases"}} {
				if evs[i].RuleName != want.rule || evs[i].Shard != want.shard || evs[i].Table != want.table {
					t.Errorf("event %d = %+v, want %+v", i, evs[i], want)
				}
			}
		})
	}
}
