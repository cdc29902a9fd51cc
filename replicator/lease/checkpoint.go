package lease

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// lockHeld returns the held lease for shardID with its write lock taken, or
// ErrLeaseLost when this worker does not hold it.
func (m *Manager) lockHeld(shardID string) (*heldLease, error) {
	m.mu.Lock()
	h := m.held[shardID]
	m.mu.Unlock()
	if h == nil {
		return nil, fmt.Errorf("shard %s: %w (not held by %s)", shardID, ErrLeaseLost, m.worker)
	}
	h.mu.Lock()
	if h.gone {
		h.mu.Unlock()
		return nil, fmt.Errorf("shard %s: %w (not held by %s)", shardID, ErrLeaseLost, m.worker)
	}
	return h, nil
}

// write performs a conditional update of a held lease (counter and owner
// must match what this worker last wrote) and bumps the counter. verify,
// when an earlier attempt may have landed and the condition then failed,
// decides from the current row whether that attempt was in fact ours.
// h.mu must be held. It returns the local time the successful request was sent.
func (m *Manager) write(ctx context.Context, h *heldLease, set string, remove string, values map[string]types.AttributeValue, names map[string]string, verify func(Lease) bool) (time.Time, error) {
	l := h.lease
	if names == nil {
		names = map[string]string{}
	}
	names["#c"], names["#o"] = attrCounter, attrOwner
	vals := map[string]types.AttributeValue{":cur": num(l.Counter), ":next": num(l.Counter + 1), ":me": str(m.worker)}
	for k, v := range values {
		vals[k] = v
	}
	expr := "SET #c = :next"
	if set != "" {
		expr += ", " + set
	}
	if remove != "" {
		expr += " REMOVE " + remove
	}
	var sent time.Time
	maybe, err := m.retry(ctx, func(ctx context.Context) error {
		sent = m.cfg.clock.Now()
		_, err := m.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(m.table),
			Key:                       keyOf(l.ShardID),
			UpdateExpression:          aws.String(expr),
			ConditionExpression:       aws.String("#c = :cur AND #o = :me"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: vals,
		}, noSDKRetry)
		return err
	})
	if err != nil && isConditionFailed(err) && maybe && verify != nil {
		if cur, ok, gerr := m.Get(ctx, l.ShardID); gerr == nil && ok && cur.Counter == l.Counter+1 && verify(cur) {
			err = nil
		}
	}
	m.noteOutcome(h, maybe, err)
	return sent, err
}

// Checkpoint records progress on a held lease: sequence number (or sentinel
// other than SHARD_END) and subsequence, as a compare-and-set on the counter
// and owner. It resets ownerSwitchesSinceCheckpoint and counts as a renewal.
// If the condition fails the lease is dropped, a Lost event is emitted and
// the error wraps ErrLeaseLost; the caller must stop processing the shard.
// Transient errors are retried, then returned without dropping the lease.
func (m *Manager) Checkpoint(ctx context.Context, shardID, seq string, subSeq int64) error {
	if seq == "" {
		return fmt.Errorf("checkpoint %s: empty sequence number", shardID)
	}
	if seq == ShardEnd {
		return fmt.Errorf("checkpoint %s: use CheckpointShardEnd for %s", shardID, ShardEnd)
	}
	h, err := m.lockHeld(shardID)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer h.mu.Unlock()
	// A record position replaces an AT_TIMESTAMP start: its timestamp goes.
	sent, err := m.write(ctx, h,
		"#cp = :seq, #ss = :sub, #sw = :zero", "#at",
		map[string]types.AttributeValue{":seq": str(seq), ":sub": num(subSeq), ":zero": num(0)},
		map[string]string{"#cp": attrCheckpoint, "#ss": attrSubSeq, "#sw": attrOwnerSwitch, "#at": attrAtTimestamp},
		func(cur Lease) bool {
			return cur.Owner == m.worker && cur.Checkpoint == seq && cur.SubSequence == subSeq
		})
	if err != nil {
		return m.writeFailed(ctx, h, "checkpoint", err)
	}
	m.mu.Lock()
	h.lease.Counter++
	h.lease.Checkpoint, h.lease.SubSequence, h.lease.OwnerSwitchesSinceCheckpoint = seq, subSeq, 0
	h.lease.AtTimestamp = time.Time{}
	h.lastRenewed = sent
	m.stats.Checkpoints++
	m.mu.Unlock()
	return nil
}

// writeFailed turns a failed write into loss (condition failure) or a plain
// wrapped error. h.mu must be held.
func (m *Manager) writeFailed(ctx context.Context, h *heldLease, op string, err error) error {
	shardID := h.lease.ShardID
	if isConditionFailed(err) {
		reason, lost := m.lose(ctx, h, op+" refused: ")
		if !lost {
			return fmt.Errorf("%s %s: %s", op, shardID, reason)
		}
		return fmt.Errorf("%s %s: %w (%s)", op, shardID, ErrLeaseLost, reason)
	}
	return fmt.Errorf("%s %s: %w", op, shardID, err)
}

// CheckpointShardEnd finishes a held lease whose shard was read to its end:
// it first creates the child leases (conditional, idempotent: parents from
// the child's description, checkpoint TRIM_HORIZON so children are read from
// their start), then writes SHARD_END and childShardIds on the parent with a
// compare-and-set, and stops holding it (Released event, reason "shard end").
// Children come first so that no crash can leave a finished parent without
// children; a crash in between only means the shard end is reached again.
func (m *Manager) CheckpointShardEnd(ctx context.Context, shardID string, children []ChildShard) error {
	h, err := m.lockHeld(shardID)
	if err != nil {
		return fmt.Errorf("checkpoint shard end: %w", err)
	}
	defer h.mu.Unlock()

	ids := make([]string, 0, len(children))
	for _, c := range children {
		if c.ShardID == "" {
			return fmt.Errorf("checkpoint shard end %s: child with empty shard id", shardID)
		}
		parents := slices.Clone(c.ParentShardIDs)
		if !slices.Contains(parents, shardID) {
			parents = append(parents, shardID)
		}
		created, err := m.CreateLease(ctx, Lease{
			ShardID:         c.ShardID,
			Checkpoint:      TrimHorizon,
			ParentShardIDs:  parents,
			StartingHashKey: c.StartingHashKey,
			EndingHashKey:   c.EndingHashKey,
		})
		if err != nil {
			return fmt.Errorf("checkpoint shard end %s: %w", shardID, err)
		}
		if created {
			m.log.Info("child lease created", "shard", c.ShardID, "parents", parents)
		}
		ids = append(ids, c.ShardID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)

	set := "#cp = :end, #ss = :zero, #sw = :zero"
	values := map[string]types.AttributeValue{":end": str(ShardEnd), ":zero": num(0)}
	names := map[string]string{"#cp": attrCheckpoint, "#ss": attrSubSeq, "#sw": attrOwnerSwitch, "#at": attrAtTimestamp}
	if len(ids) > 0 {
		set += ", #ch = :children"
		values[":children"] = &types.AttributeValueMemberSS{Value: ids}
		names["#ch"] = attrChildren
	}
	if _, err := m.write(ctx, h, set, "#at", values, names, func(cur Lease) bool {
		return cur.Owner == m.worker && cur.Finished()
	}); err != nil {
		return m.writeFailed(ctx, h, "checkpoint shard end", err)
	}
	m.mu.Lock()
	h.lease.Counter++
	h.lease.Checkpoint, h.lease.SubSequence, h.lease.OwnerSwitchesSinceCheckpoint = ShardEnd, 0, 0
	h.lease.AtTimestamp = time.Time{}
	h.lease.ChildShardIDs = ids
	m.mu.Unlock()
	m.drop(h, Released, "shard end", "")
	return nil
}

// Release gives up a held lease (owner removed, counter bumped, conditional
// on counter and owner) so another worker can take it at once, e.g. on
// graceful shutdown after the last checkpoint. The lease is dropped locally
// whatever the outcome: on a transient error it simply expires later.
func (m *Manager) Release(ctx context.Context, shardID string) error {
	h, err := m.lockHeld(shardID)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	defer h.mu.Unlock()
	_, err = m.write(ctx, h, "", "#o", nil, nil, func(cur Lease) bool { return cur.Owner == "" })
	switch {
	case err == nil:
		m.mu.Lock()
		h.lease.Counter++
		h.lease.Owner = ""
		m.mu.Unlock()
		m.drop(h, Released, "released", "")
		return nil
	case isConditionFailed(err):
		return m.writeFailed(ctx, h, "release", err)
	default:
		m.drop(h, Released, fmt.Sprintf("released locally; table write failed: %v", err), "")
		return fmt.Errorf("release %s: %w", shardID, err)
	}
}

// ReleaseAll releases every held lease, several at a time, and joins the errors.
func (m *Manager) ReleaseAll(ctx context.Context) error {
	m.mu.Lock()
	ids := make([]string, 0, len(m.held))
	for id := range m.held {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	errs := make([]error, len(ids))
	sem := make(chan struct{}, m.cfg.parallelism)
	var wg sync.WaitGroup
	for i, id := range ids {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := m.Release(ctx, id)
			if err != nil && !errors.Is(err, ErrLeaseLost) {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// DeleteLease removes a lease row (for shards that no longer exist, e.g. a
// finished parent whose children are done). A held lease is dropped first
// (Released event, reason "deleted").
func (m *Manager) DeleteLease(ctx context.Context, shardID string) error {
	if h, err := m.lockHeld(shardID); err == nil {
		m.drop(h, Released, "deleted", "")
		h.mu.Unlock()
	}
	_, err := m.retry(ctx, func(ctx context.Context) error {
		_, err := m.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(m.table), Key: keyOf(shardID)}, noSDKRetry)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete lease %s: %w", shardID, err)
	}
	return nil
}
