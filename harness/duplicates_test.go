package harness

import (
	"testing"

	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/leasewatch"
)

func obs(shard, seq string, offset int64) checker.Observed {
	return checker.Observed{Topic: "t", Offset: offset, Headers: map[string]string{
		checker.HeaderShard: shard, checker.HeaderSeq: seq, checker.HeaderStream: "s",
	}}
}

func TestUnexplainedDuplicates(t *testing.T) {
	out := []checker.Observed{
		obs("shard-a", "100", 0), obs("shard-a", "200", 1), obs("shard-a", "300", 2),
		// shard-a's lease moved from checkpoint 150: 200 and 300 may come again, 100 may not.
		obs("shard-a", "100", 3), obs("shard-a", "200", 4), obs("shard-a", "300", 5),
		// A third copy of 300 needs a second move below it.
		obs("shard-a", "300", 6),
		// shard-b had its row deleted: anything may come again.
		obs("shard-b", "5", 7), obs("shard-b", "5", 8),
	}
	changes := []leasewatch.Change{
		{Shard: "shard-a", From: "w1", To: "w2", Checkpoint: "150"},
		{Shard: "shard-a", From: "", To: "w3", Checkpoint: leasewatch.TrimHorizon}, // a take-up, not a move
	}
	n, ex := unexplainedDuplicates(out, changes, map[string]int{"shard-b": 1})
	if n != 2 {
		t.Fatalf("unexplained = %d (%v), want 2 (100 covered by the checkpoint; 300's third copy)", n, ex)
	}
	changes = append(changes, leasewatch.Change{Shard: "shard-a", From: "w2", To: "w1", Checkpoint: leasewatch.TrimHorizon})
	if n, ex = unexplainedDuplicates(out, changes, map[string]int{"shard-b": 1}); n != 0 {
		t.Fatalf("unexplained = %d (%v), want 0 once a move from TRIM_HORIZON happened", n, ex)
	}
}

// A lapse (the same owner re-taking its expired lease) explains a
// re-delivery like a move does.
func TestALapseExplainsARedelivery(t *testing.T) {
	out := []checker.Observed{obs("s", "200", 0), obs("s", "200", 1)}
	if n, _ := unexplainedDuplicates(out, nil, nil); n != 1 {
		t.Fatalf("unexplained = %d, want 1 without any lease history", n)
	}
	lapse := []leasewatch.Change{{Shard: "s", From: "w1", To: "w1", Lapse: true, Checkpoint: "100"}}
	if n, ex := unexplainedDuplicates(out, lapse, nil); n != 0 {
		t.Fatalf("unexplained = %d (%v), want 0 after a lapse from checkpoint 100", n, ex)
	}
}
