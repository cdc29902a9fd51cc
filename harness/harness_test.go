package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/replicator/lease"
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
	changes := []LeaseChange{
		{Shard: "shard-a", From: "w1", To: "w2", Checkpoint: "150"},
		{Shard: "shard-a", From: "", To: "w3", Checkpoint: lease.TrimHorizon}, // a take-up, not a move
	}
	n, ex := UnexplainedDuplicates(out, changes, map[string]int{"shard-b": 1})
	if n != 2 {
		t.Fatalf("unexplained = %d (%v), want 2 (100 covered by the checkpoint; 300's third copy)", n, ex)
	}
	changes = append(changes, LeaseChange{Shard: "shard-a", From: "w2", To: "w1", Checkpoint: lease.TrimHorizon})
	if n, ex = UnexplainedDuplicates(out, changes, map[string]int{"shard-b": 1}); n != 0 {
		t.Fatalf("unexplained = %d (%v), want 0 once a move from TRIM_HORIZON happened", n, ex)
	}
}

func TestCompareCheckpoints(t *testing.T) {
	l := func(cp string, sub int64) lease.Lease { return lease.Lease{Checkpoint: cp, SubSequence: sub} }
	cases := []struct {
		a, b lease.Lease
		want int
	}{
		{l(lease.TrimHorizon, 0), l("1", 0), -1},
		{l("99", 0), l("100", 0), -1},
		{l("1000000000000000000000000000000000000000", 0), l("999999999999999999999999999999999999999", 0), 1},
		{l("100", 2), l("100", 1), 1},
		{l(lease.ShardEnd, 0), l("5", 0), 1},
		{l(lease.Latest, 0), l(lease.TrimHorizon, 0), 0},
	}
	for _, c := range cases {
		if got := compareCheckpoints(c.a, c.b); (got > 0) != (c.want > 0) || (got < 0) != (c.want < 0) {
			t.Errorf("compare(%v, %v) = %d, want sign of %d", c.a, c.b, got, c.want)
		}
	}
}

func TestTapHandlerSeesLeaseLossesThroughDiscardedLogs(t *testing.T) {
	var got []string
	tap := &tapHandler{next: slog.DiscardHandler, seen: func(_, shard, reason string, _ time.Time) { got = append(got, shard+"/"+reason) }}
	log := slog.New(tap).With("instance", "r0").With("component", "lease")
	log.Warn("lease lost", "shard", "shardId-1", "reason", "taken by w2")
	log.Info("lease acquired", "shard", "shardId-2")
	log.With("shard", "shardId-3").Warn("stopping shard at once", "reason", "lease no longer held")
	if len(got) != 2 || got[0] != "shardId-1/taken by w2" || got[1] != "shardId-3/lease no longer held" {
		t.Fatalf("losses seen: %v", got)
	}
	if _, shard, reason, _, ok := parseAbandon(`{"time":"2026-01-02T03:04:05Z","level":"WARN","msg":"lease lost","shard":"shardId-7","reason":"row deleted"}`); !ok || shard != "shardId-7" || reason != "row deleted" {
		t.Fatalf("parseAbandon: %q %q %v", shard, reason, ok)
	}
	if _, _, _, _, ok := parseAbandon(`{"msg":"lease acquired","shard":"x"}`); ok {
		t.Fatal("parseAbandon accepted another message")
	}
}

func TestSeedFromEnv(t *testing.T) {
	seed, err := SeedFromEnv(func(string) string { return "42" })
	if err != nil || seed != 42 {
		t.Fatalf("seed %d, %v", seed, err)
	}
	if _, err := SeedFromEnv(func(string) string { return "x" }); err == nil {
		t.Fatal("a non-integer seed must be refused")
	}
}

func TestScenarioNeedsSkipBeforeStarting(t *testing.T) {
	sc := Scenario{Name: "needs", Needs: func(*Run) error { return fmt.Errorf("a thing: %w", ErrUnsupported) }}
	_, err := sc.Run(context.Background(), RunSeed(1))
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
	sc = Scenario{Name: "trim-elsewhere", Schedule: []Step{Then(Now(), TrimStream())}}
	_, err = sc.Run(context.Background(), RunSeed(1), RunEnv(WithBackend("nonsense")))
	if err == nil {
		t.Fatal("an unknown backend must be refused")
	}
}
