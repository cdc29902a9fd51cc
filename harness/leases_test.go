package harness

import (
	"context"
	"log/slog"
	"testing"

	"github.com/shardbridge/shardbridge/replicator/lease"
)

// A replay deletes the whole lease table row by row while the monitor keeps
// scanning; a scan between two deletions must not leave the deleted rows'
// old checkpoints behind as a baseline, or their re-creation at the start
// position reads as a regression.
func TestMonitorForgetsEveryShardAfterTheTableIsDeleted(t *testing.T) {
	ctx := context.Background()
	env, err := Start(ctx, WithSeed(1))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = env.Close(context.Background()) })
	const table = "monitor-forget"
	writer := lease.NewManager(env.NewDynamoDBClient(), table, "w1", lease.WithLogger(slog.New(slog.DiscardHandler)))
	if err := writer.EnsureTable(ctx); err != nil {
		t.Fatalf("table: %v", err)
	}
	shards := []string{"shardId-000000000000", "shardId-000000000001", "shardId-000000000002"}
	for _, id := range shards {
		if _, err := writer.CreateLease(ctx, lease.Lease{ShardID: id, Checkpoint: "49000000000000000000000000000000000000000000000000000001"}); err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
	}
	m := NewLeaseMonitor(env, table)
	m.Poll(ctx)

	// Rows go one by one; the monitor scans in between and sees only a part.
	if err := DeleteLeaseRow(ctx, env.DynamoDB(), table, shards[0]); err != nil {
		t.Fatal(err)
	}
	m.Poll(ctx)
	for _, id := range shards[1:] {
		if err := DeleteLeaseRow(ctx, env.DynamoDB(), table, id); err != nil {
			t.Fatal(err)
		}
	}
	m.forgetAll()

	for _, id := range shards {
		if _, err := writer.CreateLease(ctx, lease.Lease{ShardID: id, Checkpoint: lease.TrimHorizon}); err != nil {
			t.Fatalf("re-create %s: %v", id, err)
		}
	}
	m.Poll(ctx)
	if got := m.Regressions(); len(got) != 0 {
		t.Fatalf("re-created rows taken for regressions: %v", got)
	}
	for _, id := range shards {
		if m.Resets()[id] == 0 {
			t.Errorf("%s: reset not counted", id)
		}
	}
}
