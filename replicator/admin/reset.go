package admin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shardbridge/shardbridge/replicator/lease"
)

// ResetOptions say what to reset and where to.
type ResetOptions struct {
	Position string    // lease.TrimHorizon, lease.Latest or lease.AtTimestamp
	At       time.Time // with AT_TIMESTAMP only
	Shard    string    // "": every shard
	Force    bool      // proceed over leases whose holders are seen dead
	// Poll is how often Force re-reads the table while it watches (default:
	// a tenth of the failover time).
	Poll time.Duration
}

// ErrHeld is returned (wrapped, naming the workers and their shards) when
// Reset refuses because leases are held by workers that may be alive.
var ErrHeld = errors.New("leases are held")

// ErrUnknownShard is returned (wrapped) for a --shard the table lacks.
var ErrUnknownShard = errors.New("unknown shard")

// ResetDone is one shard Reset rewrote: its checkpoint before.
type ResetDone struct {
	Shard, From, Owner string
}

// Validate checks the options alone (no I/O).
func (o ResetOptions) Validate() error {
	switch o.Position {
	case lease.TrimHorizon, lease.Latest:
		if !o.At.IsZero() {
			return fmt.Errorf("--at: only used with --position %s (it is %s)", lease.AtTimestamp, o.Position)
		}
	case lease.AtTimestamp:
		if o.At.IsZero() {
			return fmt.Errorf("--at: required with --position %s (an RFC 3339 time)", lease.AtTimestamp)
		}
	case "":
		return fmt.Errorf("--position: required (%s, %s or %s)", lease.TrimHorizon, lease.Latest, lease.AtTimestamp)
	default:
		return fmt.Errorf("--position: %q is not %s, %s or %s", o.Position, lease.TrimHorizon, lease.Latest, lease.AtTimestamp)
	}
	return nil
}

// Reset rewrites the checkpoints of every shard (or o.Shard) so the
// application replays from o.Position; see the package contract.
func (t Tools) Reset(ctx context.Context, o ResetOptions) ([]ResetDone, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	m := t.manager()
	rows, err := t.rows(ctx, m)
	if err != nil {
		return nil, err
	}
	if o.Shard != "" && !slices.ContainsFunc(rows, func(l lease.Lease) bool { return l.ShardID == o.Shard }) {
		ids := make([]string, 0, len(rows))
		for _, l := range rows {
			ids = append(ids, l.ShardID)
		}
		return nil, fmt.Errorf("%w %q: the lease table %q has %d rows: %s", ErrUnknownShard, o.Shard, t.Table, len(ids), strings.Join(ids, ", "))
	}
	if held := holders(rows); len(held) > 0 {
		if !o.Force {
			return nil, fmt.Errorf("%w: %s; stop every replicator instance first (a graceful stop releases its leases), or pass --force if they are dead: it watches the table for the failover time (%s) and resets only if no holder renews", ErrHeld, describe(held), t.FailoverTime)
		}
		if rows, err = t.watchDead(ctx, m, rows, o.Poll); err != nil {
			return nil, err
		}
	}
	var targets []lease.Lease
	for _, l := range rows {
		if o.Shard == "" || l.ShardID == o.Shard {
			targets = append(targets, l)
		}
	}
	if len(t.Kafka) > 0 {
		// First: were a row reset and its tombstone not written, the next
		// owner would resume from the old Kafka checkpoint.
		ids := make([]string, len(targets))
		for i, l := range targets {
			ids[i] = l.ShardID
		}
		if err := t.tombstones(ctx, ids); err != nil {
			return nil, err
		}
	}
	done := make([]ResetDone, 0, len(targets))
	for _, l := range targets {
		if err := m.Reset(ctx, l, o.Position, o.At); err != nil {
			if errors.Is(err, lease.ErrChanged) {
				err = fmt.Errorf("%w: a worker wrote the row after it was read; is a replicator running? (%d of %d shards reset)", err, len(done), len(targets))
			}
			return done, err
		}
		done = append(done, ResetDone{Shard: l.ShardID, From: position(l), Owner: l.Owner})
	}
	return done, nil
}

// holders maps each owner to the shards it holds. A SHARD_END row keeps
// the owner that finished it, but nobody holds it any more (it is never
// renewed nor taken): it does not count.
func holders(rows []lease.Lease) map[string][]string {
	h := map[string][]string{}
	for _, l := range rows {
		if l.Owner != "" && !l.Finished() {
			h[l.Owner] = append(h[l.Owner], l.ShardID)
		}
	}
	return h
}

func describe(h map[string][]string) string {
	parts := make([]string, 0, len(h))
	for _, w := range slices.Sorted(maps.Keys(h)) {
		parts = append(parts, fmt.Sprintf("worker %s holds %s", w, strings.Join(h[w], ", ")))
	}
	return strings.Join(parts, "; ")
}

// watchDead re-reads the table for the failover time and returns the last
// rows read when no held row's counter (or owner) moved: its holders are
// dead, as a lease manager would judge it. Otherwise it refuses, naming the
// workers seen alive.
func (t Tools) watchDead(ctx context.Context, m *lease.Manager, first []lease.Lease, poll time.Duration) ([]lease.Lease, error) {
	if poll <= 0 {
		poll = max(t.FailoverTime/10, 10*time.Millisecond)
	}
	seen := map[string]lease.Lease{}
	for _, l := range first {
		seen[l.ShardID] = l
	}
	log := t.Log
	if log != nil {
		log.Info("leases are held; watching the table to see whether their holders are alive", "failover_time", t.FailoverTime, "holders", describe(holders(first)))
	}
	deadline := time.Now().Add(t.FailoverTime)
	rows := first
	for {
		alive := map[string][]string{}
		for _, l := range rows {
			before, ok := seen[l.ShardID]
			if ok && before.Owner != "" && !before.Finished() && (l.Counter != before.Counter || l.Owner != before.Owner) {
				alive[before.Owner] = append(alive[before.Owner], l.ShardID)
			}
		}
		if len(alive) > 0 {
			return nil, fmt.Errorf("%w by live workers: %s renewed within the failover time (%s); stop them first", ErrHeld, describe(alive), t.FailoverTime)
		}
		if !time.Now().Before(deadline) {
			return rows, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(poll, time.Until(deadline)+time.Millisecond)):
		}
		var err error
		if rows, err = m.List(ctx); err != nil {
			return nil, fmt.Errorf("watching lease table %q: %w", t.Table, err)
		}
	}
}

// position renders a row's checkpoint.
func position(l lease.Lease) string {
	switch l.Checkpoint {
	case lease.TrimHorizon, lease.Latest, lease.ShardEnd:
		return l.Checkpoint
	case lease.AtTimestamp:
		if !l.AtTimestamp.IsZero() {
			return l.Checkpoint + "@" + l.AtTimestamp.Format(time.RFC3339Nano)
		}
		return l.Checkpoint
	}
	return fmt.Sprintf("%s/%d", l.Checkpoint, l.SubSequence)
}
