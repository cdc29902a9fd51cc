package replicator

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/shardbridge/shardbridge/replicator/lease"
	"github.com/shardbridge/shardbridge/replicator/source"
)

// syncGrace stands between shard sync and the lease table: a lease missing
// from a table that has other rows is created only once it has been missing
// for the grace period (the failover time). Such a row was most likely
// deleted while held, and its holder puts it back at its last checkpoint
// within that time (see lease.Manager); created at once by shard sync it
// would start at the initial position instead: LATEST skips every record
// since the checkpoint, TRIM_HORIZON replays the shard. An empty table (a
// new application) gets its leases at once.
type syncGrace struct {
	store source.LeaseStore
	now   func() time.Time
	grace time.Duration
	log   *slog.Logger

	mu      sync.Mutex
	empty   bool                 // the last List found no rows
	missing map[string]time.Time // shard → when sync first found its lease missing
}

func newSyncGrace(store source.LeaseStore, now func() time.Time, grace time.Duration, log *slog.Logger) *syncGrace {
	return &syncGrace{store: store, now: now, grace: grace, log: log, missing: map[string]time.Time{}}
}

func (g *syncGrace) List(ctx context.Context) ([]lease.Lease, error) {
	all, err := g.store.List(ctx)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.empty = len(all) == 0
	for _, l := range all {
		delete(g.missing, l.ShardID) // back (or created by someone else)
	}
	return all, nil
}

func (g *syncGrace) CreateLease(ctx context.Context, l lease.Lease) (bool, error) {
	g.mu.Lock()
	wait := false
	if !g.empty {
		now := g.now()
		first, seen := g.missing[l.ShardID]
		switch {
		case !seen:
			g.missing[l.ShardID] = now
			g.log.Info("lease missing; leaving its last holder time to put it back before creating it",
				"shard", l.ShardID, "grace", g.grace, "initial_position", l.Checkpoint)
			wait = true
		case now.Sub(first) < g.grace:
			wait = true
		default:
			delete(g.missing, l.ShardID)
		}
	}
	g.mu.Unlock()
	if wait {
		return false, nil
	}
	return g.store.CreateLease(ctx, l)
}
