package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/replicator/lease"
)

type fakeManager struct {
	calls []string
	err   error
}

func (f *fakeManager) Checkpoint(_ context.Context, shard, seq string, sub int64) error {
	f.calls = append(f.calls, fmt.Sprintf("cp %s %s %d", shard, seq, sub))
	return f.err
}

func (f *fakeManager) CheckpointShardEnd(_ context.Context, shard string, children []lease.ChildShard) error {
	f.calls = append(f.calls, fmt.Sprintf("end %s %d", shard, len(children)))
	return f.err
}

func TestLeases(t *testing.T) {
	m := &fakeManager{}
	c := Leases(m)
	ctx := context.Background()
	start, err := c.Start(ctx, lease.Lease{ShardID: "s", Checkpoint: "123", SubSequence: 4})
	if err != nil || start != (Position{Sequence: "123", SubSequence: 4}) || start.IsSentinel() || start.String() != "123/4" {
		t.Fatalf("Start = %v, %v", start, err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if p, _ := c.Start(ctx, lease.Lease{ShardID: "s", Checkpoint: lease.AtTimestamp, AtTimestamp: at}); p.Timestamp != at || p.Sequence != lease.AtTimestamp {
		t.Errorf("AT_TIMESTAMP row read as %+v, want its own timestamp", p)
	}
	if p := Record("7", -1); p.SubSequence != 0 || p.Legacy() {
		t.Errorf("a whole record's checkpoint is %+v, want subsequence 0 (the KCL's)", p)
	}
	if p := (Position{Sequence: "7", SubSequence: -1}); !p.Legacy() {
		t.Error("an earlier version's -1 is not read as a whole record done")
	}
	if p := (Position{Sequence: lease.TrimHorizon}); !p.IsSentinel() || p.String() != lease.TrimHorizon {
		t.Errorf("sentinel %v", p)
	}
	if err := c.Checkpoint(ctx, "s", Position{Sequence: "200", SubSequence: 0}); err != nil {
		t.Fatal(err)
	}
	if err := c.Checkpoint(ctx, "s", Position{Sequence: lease.Latest}); err == nil {
		t.Error("a sentinel was accepted as a checkpoint")
	}
	if err := c.ShardEnd(ctx, "s", []lease.ChildShard{{ShardID: "c1"}, {ShardID: "c2"}}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(m.calls) != "[cp s 200 0 end s 2]" {
		t.Errorf("calls %v", m.calls)
	}
	m.err = fmt.Errorf("checkpoint s: %w", lease.ErrLeaseLost)
	if err := c.Checkpoint(ctx, "s", Position{Sequence: "201"}); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("lost lease: %v", err)
	}
}
