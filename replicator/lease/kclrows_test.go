package lease

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Lease rows in the KCL's format, built from its attribute names and types:
// leaseKey S, leaseOwner S (absent when unowned), leaseCounter N, checkpoint
// S (a sequence number or a sentinel), checkpointSubSequenceNumber N (0 for
// a whole record), ownerSwitchesSinceCheckpoint N, parentShardId SS,
// childShardIds SS, startingHashKey/endingHashKey S, and the attributes it
// adds that the replicator does not use (pendingCheckpoint S,
// pendingCheckpointSubSequenceNumber N, pendingCheckpointState B,
// throughputKBps N, checkpointOwner S, entityType S).
const kclSeq = "49590338271490256608559692538361571095921575989136588898"

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
func ss(v ...string) types.AttributeValue {
	return &types.AttributeValueMemberSS{Value: v}
}

func kclRow(shard, checkpoint, sub string, extra map[string]types.AttributeValue) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"leaseKey": s(shard), "leaseCounter": n("42"),
		"checkpoint": s(checkpoint), "checkpointSubSequenceNumber": n(sub),
		"ownerSwitchesSinceCheckpoint": n("1"),
		"parentShardId":                ss("shardId-000000000000"),
		"startingHashKey":              s("0"),
		"endingHashKey":                s("170141183460469231731687303715884105727"),
		"entityType":                   s("LEASE"),
	}
	for k, v := range extra {
		it[k] = v
	}
	return it
}

func TestKCLRowsAreRead(t *testing.T) {
	unused := map[string]types.AttributeValue{
		"pendingCheckpoint": s(kclSeq), "pendingCheckpointSubSequenceNumber": n("0"),
		"pendingCheckpointState": &types.AttributeValueMemberB{Value: []byte("state")},
		"throughputKBps":         n("12.5"), "checkpointOwner": s("worker-b"),
		"childShardIds": ss("shardId-000000000003", "shardId-000000000002"),
	}
	cases := []struct {
		name string
		item map[string]types.AttributeValue
		want Lease
	}{
		{"whole record, unowned, unused attributes", kclRow("shardId-000000000001", kclSeq, "0", unused),
			Lease{Checkpoint: kclSeq, SubSequence: 0, ChildShardIDs: []string{"shardId-000000000002", "shardId-000000000003"}}},
		{"KPL sub-record, owned", kclRow("shardId-000000000001", kclSeq, "3", map[string]types.AttributeValue{"leaseOwner": s("kcl-worker")}),
			Lease{Owner: "kcl-worker", Checkpoint: kclSeq, SubSequence: 3}},
		{"earlier replicator's -1", kclRow("shardId-000000000001", kclSeq, "-1", nil), Lease{Checkpoint: kclSeq, SubSequence: -1}},
		{"TRIM_HORIZON", kclRow("shardId-000000000001", TrimHorizon, "0", nil), Lease{Checkpoint: TrimHorizon}},
		{"LATEST", kclRow("shardId-000000000001", Latest, "0", nil), Lease{Checkpoint: Latest}},
		{"AT_TIMESTAMP", kclRow("shardId-000000000001", AtTimestamp, "0", nil), Lease{Checkpoint: AtTimestamp}},
		{"SHARD_END", kclRow("shardId-000000000001", ShardEnd, "0", map[string]types.AttributeValue{"childShardIds": ss("shardId-000000000002")}),
			Lease{Checkpoint: ShardEnd, ChildShardIDs: []string{"shardId-000000000002"}}},
		{"no entityType (KCL 2.x)", func() map[string]types.AttributeValue {
			it := kclRow("shardId-000000000001", kclSeq, "0", nil)
			delete(it, "entityType")
			return it
		}(), Lease{Checkpoint: kclSeq}},
	}
	for _, c := range cases {
		got, err := fromItem(c.item)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		want := c.want
		want.ShardID, want.Counter, want.OwnerSwitchesSinceCheckpoint = "shardId-000000000001", 42, 1
		want.ParentShardIDs = []string{"shardId-000000000000"}
		want.StartingHashKey, want.EndingHashKey = "0", "170141183460469231731687303715884105727"
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, want)
		}
	}
	if _, err := fromItem(map[string]types.AttributeValue{"leaseKey": s("Leader"), "entityType": s("LEADER")}); !errors.Is(err, ErrNotLease) {
		t.Errorf("a KCL entity that is not a lease: %v, want ErrNotLease", err)
	}
}

// A table holding KCL rows (and a KCL entity that is not a lease) is listed
// without a corrupt row, and a KCL-owned whole-record checkpoint is taken
// over as is.
func TestKCLTableIsListedAndTakenOver(t *testing.T) {
	e := newEnv(t)
	put := func(it map[string]types.AttributeValue) {
		if _, err := e.ddb.PutItem(bg, &dynamodb.PutItemInput{TableName: aws.String(testTable), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	put(kclRow("shardId-000000000001", kclSeq, "0", map[string]types.AttributeValue{"pendingCheckpoint": s(kclSeq)}))
	put(map[string]types.AttributeValue{"leaseKey": s("Leader"), "entityType": s("LEADER")})
	m, _ := e.manager("w1")
	ls, err := m.List(bg)
	if err != nil || len(ls) != 1 || m.Stats().CorruptRows != 0 {
		t.Fatalf("listed %+v, %v; corrupt rows %d", ls, err, m.Stats().CorruptRows)
	}
	e.round(m)
	held := m.Held()
	if len(held) != 1 || held[0].Checkpoint != kclSeq || held[0].SubSequence != 0 {
		t.Fatalf("held %+v, want the KCL row at its checkpoint", held)
	}
}

// What the replicator writes has the KCL's types and values: a whole
// record's checkpoint has checkpointSubSequenceNumber 0.
func TestRowsWrittenHaveTheKCLFormat(t *testing.T) {
	e := newEnv(t)
	ids := e.createLeases(1)
	m, _ := e.manager("w1")
	e.round(m)
	if err := m.Checkpoint(bg, ids[0], kclSeq, 0); err != nil {
		t.Fatal(err)
	}
	out, err := e.ddb.GetItem(bg, &dynamodb.GetItemInput{TableName: aws.String(testTable), Key: keyOf(ids[0])})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"leaseKey": "S:" + ids[0], "leaseOwner": "S:w1", "checkpoint": "S:" + kclSeq,
		"checkpointSubSequenceNumber": "N:0", "ownerSwitchesSinceCheckpoint": "N:0",
	}
	for name, w := range want {
		if got := render(out.Item[name]); got != w {
			t.Errorf("%s = %s, want %s", name, got, w)
		}
	}
	if _, ok := out.Item["leaseCounter"].(*types.AttributeValueMemberN); !ok {
		t.Errorf("leaseCounter is %T, want N", out.Item["leaseCounter"])
	}
	for name := range out.Item {
		if !slices.Contains([]string{"leaseKey", "leaseOwner", "leaseCounter", "checkpoint", "checkpointSubSequenceNumber", "ownerSwitchesSinceCheckpoint"}, name) {
			t.Errorf("unexpected attribute %s = %s", name, render(out.Item[name]))
		}
	}
}

func render(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return "S:" + v.Value
	case *types.AttributeValueMemberN:
		return "N:" + v.Value
	case nil:
		return "absent"
	}
	return fmt.Sprintf("%T", v)
}

// Reset turns a finished, owned row into an unowned one at the position,
// keeps an AT_TIMESTAMP's timestamp in the row until the next checkpoint,
// and refuses when the counter moved since the row was read.
func TestReset(t *testing.T) {
	e := newEnv(t)
	ids := e.createLeases(2)
	m, _ := e.manager("w1")
	e.round(m)
	e.round(m)
	if err := m.CheckpointShardEnd(bg, ids[0], []ChildShard{{ShardID: "child", ParentShardIDs: []string{ids[0]}}}); err != nil {
		t.Fatal(err)
	}
	row := e.row(ids[0])
	if err := m.Reset(bg, row, TrimHorizon, time.Time{}); err != nil {
		t.Fatal(err)
	}
	got := e.row(ids[0])
	if got.Checkpoint != TrimHorizon || got.Owner != "" || len(got.ChildShardIDs) != 0 || got.Counter != row.Counter+1 || got.SubSequence != 0 {
		t.Errorf("after reset: %+v", got)
	}
	if err := m.Reset(bg, row, Latest, time.Time{}); !errors.Is(err, ErrChanged) {
		t.Errorf("reset with a stale counter: %v, want ErrChanged", err)
	}

	at := time.Date(2026, 3, 4, 5, 6, 7, 8_000_000, time.UTC)
	if err := m.Reset(bg, e.row(ids[1]), AtTimestamp, at); err != nil {
		t.Fatal(err)
	}
	got = e.row(ids[1])
	if got.Checkpoint != AtTimestamp || !got.AtTimestamp.Equal(at) || got.Owner != "" {
		t.Errorf("after reset to AT_TIMESTAMP: %+v", got)
	}
	m2, _ := e.manager("w2")
	e.round(m2)
	if !m2.Holds(ids[1]) {
		t.Fatal("the reset row was not taken at once")
	}
	for _, h := range m2.Held() {
		if h.ShardID == ids[1] && !h.AtTimestamp.Equal(at) {
			t.Errorf("held %+v, want the row's timestamp", h)
		}
	}
	if err := m2.Checkpoint(bg, ids[1], kclSeq, 0); err != nil {
		t.Fatal(err)
	}
	if got := e.row(ids[1]); !got.AtTimestamp.IsZero() {
		t.Errorf("a checkpoint left the reset timestamp behind: %+v", got)
	}
	for _, bad := range []string{ShardEnd, "12345", ""} {
		if err := m.Reset(context.Background(), e.row(ids[1]), bad, at); err == nil {
			t.Errorf("reset to %q accepted", bad)
		}
	}
	if err := m.Reset(bg, e.row(ids[1]), AtTimestamp, time.Time{}); err == nil {
		t.Error("AT_TIMESTAMP without a timestamp accepted")
	}
}
