package replicator_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardbridge/shardbridge/replicator/config"
	"github.com/shardbridge/shardbridge/replicator/kpl"
	"github.com/shardbridge/shardbridge/replicator/lease"
)

// A replicator takes over a lease table the KCL wrote and resumes where the
// KCL would: a KCL checkpoint (seq, 0) on a whole record means that record
// is done; (seq, k) on a KPL aggregate means its sub-records 0..k are done;
// an earlier replicator version's (seq, -1) means the whole record is done.
// The rows carry the attributes the KCL adds and the replicator does not use
// and no leaseOwner.
func TestResumesFromKCLRows(t *testing.T) {
	for _, tc := range []struct {
		name string
		// at picks the checkpoint from the stream: the whole record before
		// the aggregate (plain), or the aggregate itself.
		atAggregate bool
		sub         string
	}{
		{"KCL whole record (seq, 0)", false, "0"},
		{"earlier replicator (seq, -1)", false, "-1"},
		{"KCL aggregate (seq, 2)", true, "2"},
		{"KCL aggregate (seq, 0)", true, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, mode := range []string{config.AtLeastOnce, config.ExactlyOnce} {
				t.Run(mode, func(t *testing.T) { resumeFromKCLRow(t, mode, tc.atAggregate, tc.sub) })
			}
		})
	}
}

func resumeFromKCLRow(t *testing.T, mode string, atAggregate bool, sub string) {
	e := newTestEnv(t, 1, 1)
	ctx := context.Background()
	e.write(5, 1) // key-000:0..4, whole records
	plain := e.writtenRecords()
	subs := make([]kpl.SubRecord, 5)
	for i := range subs {
		subs[i] = kpl.SubRecord{PartitionKey: "agg", Data: payload("agg", i)}
	}
	data, err := kpl.Aggregate(subs)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.kinAPI.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(e.stream), PartitionKey: aws.String("agg"), Data: data})
	if err != nil {
		t.Fatal(err)
	}
	shard, aggSeq := aws.ToString(res.ShardId), aws.ToString(res.SequenceNumber)
	e.write(1, 1) // key-000:5, after the aggregate
	after := e.writtenRecords()[len(plain):]

	// Expected: everything after the checkpoint.
	var want []putRecord
	cpSeq := plain[len(plain)-1].Seq
	if atAggregate {
		cpSeq = aggSeq
	}
	firstSub := 0
	if atAggregate {
		firstSub = map[string]int{"0": 1, "2": 3}[sub]
	}
	for i := firstSub; i < len(subs); i++ {
		want = append(want, putRecord{Shard: shard, Seq: aggSeq, SubSeq: int64(i), Key: "agg", N: i})
	}
	want = append(want, after...)

	if err := lease.NewManager(e.ddbAPI, e.app, "setup").EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	row := map[string]dtypes.AttributeValue{
		"leaseKey":                           &dtypes.AttributeValueMemberS{Value: shard},
		"leaseCounter":                       &dtypes.AttributeValueMemberN{Value: "17"},
		"checkpoint":                         &dtypes.AttributeValueMemberS{Value: cpSeq},
		"checkpointSubSequenceNumber":        &dtypes.AttributeValueMemberN{Value: sub},
		"ownerSwitchesSinceCheckpoint":       &dtypes.AttributeValueMemberN{Value: "2"},
		"pendingCheckpoint":                  &dtypes.AttributeValueMemberS{Value: cpSeq},
		"pendingCheckpointSubSequenceNumber": &dtypes.AttributeValueMemberN{Value: sub},
		"throughputKBps":                     &dtypes.AttributeValueMemberN{Value: "0.25"},
		"checkpointOwner":                    &dtypes.AttributeValueMemberS{Value: "kcl-worker-1"},
		"entityType":                         &dtypes.AttributeValueMemberS{Value: "LEASE"},
	}
	if _, err := e.ddbAPI.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.app), Item: row}); err != nil {
		t.Fatal(err)
	}
	cfg := e.config("w1")
	cfg.DeliveryMode = mode
	in := e.start(cfg)
	rep := e.waitTopic(e.topic, want, 20*time.Second) // fails on a record not in want
	if rep.Duplicates != 0 {
		t.Errorf("records delivered twice: %s", rep)
	}
	if err := in.stop(t); err != nil {
		t.Fatal(err)
	}
	// The replicator's own checkpoint of the last (whole) record: the KCL's 0.
	for _, l := range e.leases() {
		if l.Checkpoint != after[len(after)-1].Seq || l.SubSequence != 0 {
			t.Errorf("lease %s checkpoint %s/%d, want %s/0", l.ShardID, l.Checkpoint, l.SubSequence, after[len(after)-1].Seq)
		}
	}
}
