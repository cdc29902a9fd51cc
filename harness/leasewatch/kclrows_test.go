package leasewatch_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardbridge/shardbridge/harness/leasewatch"
)

// Rows as the KCL (3.x) writes them, with the attributes it adds that the
// watcher does not use, and rows of earlier replicator versions (subsequence
// -1 for a whole record): both decode, and the two spellings of "the whole
// record at seqA is done" compare equal.
func TestDecodeRowAcceptsKCLAndEarlierReplicatorRows(t *testing.T) {
	s := func(v string) dtypes.AttributeValue { return &dtypes.AttributeValueMemberS{Value: v} }
	n := func(v string) dtypes.AttributeValue { return &dtypes.AttributeValueMemberN{Value: v} }
	kcl := map[string]dtypes.AttributeValue{
		"leaseKey": s("shardId-000000000001"), "leaseCounter": n("12"), // leaseOwner absent: unowned
		"checkpoint": s(seqA), "checkpointSubSequenceNumber": n("0"), "ownerSwitchesSinceCheckpoint": n("0"),
		"parentShardId":                      &dtypes.AttributeValueMemberSS{Value: []string{"shardId-000000000000"}},
		"childShardIds":                      &dtypes.AttributeValueMemberSS{Value: []string{"shardId-000000000003"}},
		"pendingCheckpoint":                  s(seqB),
		"pendingCheckpointSubSequenceNumber": n("0"),
		"pendingCheckpointState":             &dtypes.AttributeValueMemberB{Value: []byte{1}},
		"startingHashKey":                    s("0"),
		"endingHashKey":                      s("170141183460469231731687303715884105727"),
		"throughputKBps":                     n("1.5"),
		"checkpointOwner":                    s("worker-a"),
		"entityType":                         s("LEASE"),
	}
	k, err := leasewatch.DecodeRow(kcl)
	if err != nil {
		t.Fatalf("KCL row: %v", err)
	}
	if k.Owner != "" || k.Checkpoint != seqA || k.SubSequence != 0 || len(k.Children) != 1 {
		t.Errorf("KCL row decoded as %+v", k)
	}
	legacy := map[string]dtypes.AttributeValue{
		"leaseKey": s("shardId-000000000001"), "leaseCounter": n("3"), "leaseOwner": s("w1"),
		"checkpoint": s(seqA), "checkpointSubSequenceNumber": n("-1"), "ownerSwitchesSinceCheckpoint": n("0"),
	}
	l, err := leasewatch.DecodeRow(legacy)
	if err != nil {
		t.Fatalf("earlier replicator row: %v", err)
	}
	if c := leasewatch.ComparePositions(l, k); c != 0 {
		t.Errorf("(seqA, -1) and (seqA, 0) compare %d: both mean the whole record is done", c)
	}
	for _, sentinel := range []string{leasewatch.TrimHorizon, leasewatch.Latest, leasewatch.AtTimestamp, leasewatch.ShardEnd} {
		kcl["checkpoint"] = s(sentinel)
		if r, err := leasewatch.DecodeRow(kcl); err != nil || r.Checkpoint != sentinel {
			t.Errorf("KCL row at %s: %+v, %v", sentinel, r, err)
		}
	}
	other := map[string]dtypes.AttributeValue{"leaseKey": s("Leader"), "entityType": s("LEADER")}
	if _, err := leasewatch.DecodeRow(other); !errors.Is(err, leasewatch.ErrNotLease) {
		t.Errorf("a non-lease entity: %v, want ErrNotLease", err)
	}
}

// An operator reset rewrites rows back to a start position: while the
// watcher is held, scans are dropped, and after the release the rewritten
// rows are a new baseline, not regressions. Without Hold the same rewrite
// is one.
func TestHoldAcrossAReset(t *testing.T) {
	ctx := context.Background()
	for _, hold := range []bool{true, false} {
		tb := newTable(t, fmt.Sprintf("watch-hold-%v", hold))
		w := leasewatch.New(tb.ddb, tb.name, 0)
		tb.put("s1", "w1", 5, seqB)
		w.Poll(ctx)
		release := func() {}
		if hold {
			release = w.Hold()
		}
		tb.put("s1", "", 6, leasewatch.TrimHorizon)
		w.Poll(ctx)
		release()
		w.Poll(ctx)
		if got := len(w.Regressions()); (got == 0) != hold {
			t.Errorf("hold %v: regressions %v", hold, w.Regressions())
		}
	}
}
