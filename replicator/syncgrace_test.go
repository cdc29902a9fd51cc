package replicator

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/replicator/lease"
)

type memLeaseStore struct {
	rows    map[string]lease.Lease
	created []string
}

func (m *memLeaseStore) List(context.Context) ([]lease.Lease, error) {
	out := make([]lease.Lease, 0, len(m.rows))
	for _, l := range m.rows {
		out = append(out, l)
	}
	return out, nil
}

func (m *memLeaseStore) CreateLease(_ context.Context, l lease.Lease) (bool, error) {
	if _, ok := m.rows[l.ShardID]; ok {
		return false, nil
	}
	m.rows[l.ShardID] = l
	m.created = append(m.created, l.ShardID)
	return true, nil
}

func TestSyncGraceWaitsBeforeRecreatingAMissingLease(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	store := &memLeaseStore{rows: map[string]lease.Lease{}}
	g := newSyncGrace(store, func() time.Time { return now }, 10*time.Second, slog.New(slog.DiscardHandler))
	create := func(id string) bool {
		t.Helper()
		if _, err := g.List(ctx); err != nil {
			t.Fatal(err)
		}
		ok, err := g.CreateLease(ctx, lease.Lease{ShardID: id, Checkpoint: lease.TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	// A new application (empty table) gets its leases at once.
	if _, err := g.List(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if ok, err := g.CreateLease(ctx, lease.Lease{ShardID: id, Checkpoint: lease.TrimHorizon}); !ok || err != nil {
			t.Fatalf("lease %s of an empty table not created at once: %v", id, err)
		}
	}
	// A row missing from a table with other rows waits out the grace.
	if create("c") {
		t.Fatal("missing lease created at once")
	}
	now = now.Add(9 * time.Second)
	if create("c") {
		t.Fatal("missing lease created before the grace ended")
	}
	now = now.Add(time.Second)
	if !create("c") {
		t.Fatal("missing lease not created once the grace ended")
	}
	// A row put back within the grace (by its holder) resets the wait.
	if create("d") {
		t.Fatal("missing lease d created at once")
	}
	store.rows["d"] = lease.Lease{ShardID: "d", Checkpoint: "49000000000000000000000000000000000000000000000000000001"}
	if _, err := g.List(ctx); err != nil { // the next sync sees it back
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	delete(store.rows, "d")
	if create("d") {
		t.Fatal("a lease missing again was created without a new grace")
	}
}
