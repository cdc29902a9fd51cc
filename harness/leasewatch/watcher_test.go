package leasewatch_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/leasewatch"
	"github.com/shardbridge/shardbridge/harness/sabotage"
)

// table is a lease table written by hand in the KCL's documented format:
// the watcher is tested against rows no bridge wrote.
type table struct {
	t    *testing.T
	ddb  *dynamodb.Client
	name string
}

func newTable(t *testing.T, name string) *table {
	t.Helper()
	ctx := context.Background()
	env, err := backend.Start(ctx, backend.WithSeed(1))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = env.Close(context.Background()) })
	ddb := env.NewDynamoDBClient()
	_, err = ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: dtypes.KeyTypeHash}},
		BillingMode:          dtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
	return &table{t: t, ddb: ddb, name: name}
}

func (tb *table) put(shard, owner string, counter int64, checkpoint string) {
	tb.t.Helper()
	tb.putSwitched(shard, owner, counter, checkpoint, 0)
}

func (tb *table) putSwitched(shard, owner string, counter int64, checkpoint string, switches int64) {
	tb.t.Helper()
	item := map[string]dtypes.AttributeValue{
		"leaseKey":                     &dtypes.AttributeValueMemberS{Value: shard},
		"leaseCounter":                 &dtypes.AttributeValueMemberN{Value: strconv.FormatInt(counter, 10)},
		"checkpoint":                   &dtypes.AttributeValueMemberS{Value: checkpoint},
		"checkpointSubSequenceNumber":  &dtypes.AttributeValueMemberN{Value: "0"},
		"parentShardId":                &dtypes.AttributeValueMemberSS{Value: []string{"shardId-000000000009"}},
		"ownerSwitchesSinceCheckpoint": &dtypes.AttributeValueMemberN{Value: strconv.FormatInt(switches, 10)},
	}
	if owner != "" {
		item["leaseOwner"] = &dtypes.AttributeValueMemberS{Value: owner}
	}
	if _, err := tb.ddb.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(tb.name), Item: item}); err != nil {
		tb.t.Fatalf("put %s: %v", shard, err)
	}
}

const seqA, seqB = "49000000000000000000000000000000000000000000000000000001", "49000000000000000000000000000000000000000000000000000002"

func TestDecodeRowFollowsTheDocumentedFormat(t *testing.T) {
	good := map[string]dtypes.AttributeValue{
		"leaseKey": &dtypes.AttributeValueMemberS{Value: "s1"}, "leaseOwner": &dtypes.AttributeValueMemberS{Value: "w1"},
		"leaseCounter": &dtypes.AttributeValueMemberN{Value: "7"}, "checkpoint": &dtypes.AttributeValueMemberS{Value: seqA},
		"checkpointSubSequenceNumber":  &dtypes.AttributeValueMemberN{Value: "3"},
		"ownerSwitchesSinceCheckpoint": &dtypes.AttributeValueMemberN{Value: "1"},
		"parentShardId":                &dtypes.AttributeValueMemberSS{Value: []string{"p2", "p1"}},
	}
	r, err := leasewatch.DecodeRow(good)
	if err != nil {
		t.Fatal(err)
	}
	if r.Shard != "s1" || r.Owner != "w1" || r.Counter != 7 || r.Checkpoint != seqA || r.SubSequence != 3 || r.OwnerSwitches != 1 || strings.Join(r.Parents, ",") != "p1,p2" {
		t.Fatalf("decoded %+v", r)
	}
	for name, mutate := range map[string]func(m map[string]dtypes.AttributeValue){
		"leaseCounter is S": func(m map[string]dtypes.AttributeValue) {
			m["leaseCounter"] = &dtypes.AttributeValueMemberS{Value: "x"}
		},
		"checkpoint missing": func(m map[string]dtypes.AttributeValue) { delete(m, "checkpoint") },
		"checkpoint is N":    func(m map[string]dtypes.AttributeValue) { m["checkpoint"] = &dtypes.AttributeValueMemberN{Value: "42"} },
		"checkpoint not a sequence": func(m map[string]dtypes.AttributeValue) {
			m["checkpoint"] = &dtypes.AttributeValueMemberS{Value: "12ab"}
		},
		"leaseKey missing": func(m map[string]dtypes.AttributeValue) { delete(m, "leaseKey") },
		"owner is N":       func(m map[string]dtypes.AttributeValue) { m["leaseOwner"] = &dtypes.AttributeValueMemberN{Value: "1"} },
	} {
		m := map[string]dtypes.AttributeValue{}
		for k, v := range good {
			m[k] = v
		}
		mutate(m)
		if _, err := leasewatch.DecodeRow(m); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// The watcher's self-test: a table whose rows do what a broken bridge does
// (a checkpoint going back, a corrupt row) must be reported; a holder
// change and a lapse must be seen.
func TestWatcherReportsWhatABrokenBridgeDoes(t *testing.T) {
	ctx := context.Background()
	tb := newTable(t, "watch-broken")
	w := leasewatch.New(tb.ddb, tb.name, 150*time.Millisecond)
	tb.put("s1", "w1", 1, seqB)
	tb.put("s2", "w1", 1, leasewatch.TrimHorizon)
	w.Poll(ctx)
	tb.put("s1", "w1", 2, seqA) // a zombie's accepted write: back from B to A
	tb.put("s2", "w2", 2, leasewatch.TrimHorizon)
	w.Poll(ctx)
	if got := w.Regressions(); len(got) != 1 || !strings.Contains(got[0], "s1") {
		t.Errorf("regressions = %v, want the one of s1", got)
	}
	if w.Moves() != 1 {
		t.Errorf("moves = %d, want 1 (s2 from w1 to w2)", w.Moves())
	}
	time.Sleep(200 * time.Millisecond) // s2's counter stands still past 2/3 of the failover time
	w.Poll(ctx)
	tb.put("s2", "w2", 3, leasewatch.TrimHorizon)
	w.Poll(ctx)
	lapses := 0
	for _, c := range w.Changes() {
		if c.Lapse && c.Shard == "s2" {
			lapses++
		}
	}
	if lapses != 1 {
		t.Errorf("lapses of s2 = %d, want 1 (changes %+v)", lapses, w.Changes())
	}
	if _, err := sabotage.CorruptLeaseRow(ctx, tb.ddb, tb.name, "s1"); err != nil {
		t.Fatal(err)
	}
	w.Poll(ctx)
	if why, ok := w.Corrupt()["s1"]; !ok || !strings.Contains(why, "leaseCounter") {
		t.Errorf("corrupt rows = %v, want s1's leaseCounter named", w.Corrupt())
	}
	if f, ok := w.Finished("s1"); ok {
		t.Errorf("s1 finished at %v, but it never reached SHARD_END", f)
	}
}

// A replay deletes the whole lease table row by row while the watcher keeps
// scanning; a scan between two deletions must not leave the deleted rows'
// old checkpoints behind as a baseline, or their re-creation at the start
// position reads as a regression.
func TestWatcherForgetsEveryShardAfterTheTableIsDeleted(t *testing.T) {
	ctx := context.Background()
	tb := newTable(t, "watch-forget")
	shards := []string{"shardId-000000000000", "shardId-000000000001", "shardId-000000000002"}
	for _, id := range shards {
		tb.put(id, "w1", 1, seqA)
	}
	w := leasewatch.New(tb.ddb, tb.name, 0)
	w.Poll(ctx)
	if err := sabotage.DeleteLeaseRow(ctx, tb.ddb, tb.name, shards[0]); err != nil {
		t.Fatal(err)
	}
	w.Poll(ctx)
	for _, id := range shards[1:] {
		if err := sabotage.DeleteLeaseRow(ctx, tb.ddb, tb.name, id); err != nil {
			t.Fatal(err)
		}
	}
	w.ForgetAll()
	for _, id := range shards {
		tb.put(id, "", 1, leasewatch.TrimHorizon)
	}
	w.Poll(ctx)
	if got := w.Regressions(); len(got) != 0 {
		t.Fatalf("re-created rows taken for regressions: %v", got)
	}
	for _, id := range shards {
		if w.Resets()[id] == 0 {
			t.Errorf("%s: reset not counted", id)
		}
	}
}

// A move between two polls is not seen as an owner change, but the row's
// ownerSwitchesSinceCheckpoint counts it: the watcher reports it, resuming
// from the row's checkpoint.
func TestWatcherCountsMovesBetweenPolls(t *testing.T) {
	ctx := context.Background()
	tb := newTable(t, "watch-unseen")
	w := leasewatch.New(tb.ddb, tb.name, 0)
	tb.putSwitched("s1", "w2", 3, seqA, 1) // w1 took it, then w2 stole it, all before the first poll
	w.Poll(ctx)
	tb.putSwitched("s1", "w1", 4, seqA, 2) // seen: w2 → w1
	w.Poll(ctx)
	tb.putSwitched("s1", "w3", 6, seqA, 4) // unseen w1 → w2, then seen w2 → w3... as w1 → w3 plus one unseen
	w.Poll(ctx)
	var seen, unseen int
	for _, c := range w.Changes() {
		if c.Unseen {
			unseen++
			if c.Checkpoint != seqA {
				t.Errorf("unseen move resumes from %s, want the row's checkpoint", c.Checkpoint)
			}
		} else {
			seen++
		}
	}
	if seen != 2 || unseen != 2 || w.Moves() != 4 {
		t.Errorf("seen %d, unseen %d, moves %d; want 2, 2, 4 (changes %+v)", seen, unseen, w.Moves(), w.Changes())
	}
}
