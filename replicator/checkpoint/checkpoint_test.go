package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"testing"

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
	if err != nil || start != (Position{"123", 4}) || start.IsSentinel() || start.String() != "123/4" {
		t.Fatalf("Start = %v, %v", start, err)
	}
	if p := (Position{Sequence: lease.TrimHorizon}); !p.IsSentinel() || p.String() != lease.TrimHorizon {
		t.Errorf("sentinel %v", p)
	}
	if err := c.Checkpoint(ctx, "s", Position{"200", -1}); err != nil {
		t.Fatal(err)
	}
	if err := c.Checkpoint(ctx, "s", Position{Sequence: lease.Latest}); err == nil {
		t.Error("a sentinel was accepted as a checkpoint")
	}
	if err := c.ShardEnd(ctx, "s", []lease.ChildShard{{ShardID: "c1"}, {ShardID: "c2"}}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(m.calls) != "[cp s 200 -1 end s 2]" {
		t.Errorf("calls %v", m.calls)
	}
	m.err = fmt.Errorf("checkpoint s: %w", lease.ErrLeaseLost)
	if err := c.Checkpoint(ctx, "s", Position{"201", -1}); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("lost lease: %v", err)
	}
}
