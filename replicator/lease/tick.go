package lease

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Run ticks every FailoverTime/3 (on a wall-clock ticker) until ctx is done,
// then returns nil. Errors of a round are logged; the next round retries.
// Run does not release leases: call ReleaseAll after the last checkpoints.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(max(m.cfg.failover/3, time.Millisecond))
	defer t.Stop()
	for {
		if err := m.Tick(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("lease round failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick runs one round: renew every held lease, scan the table, then take
// expired or unowned leases or steal one to approach the balanced target.
// The only error returned is a failed scan (renewal problems are handled and
// reported through events).
func (m *Manager) Tick(ctx context.Context) error {
	m.tickMu.Lock()
	defer m.tickMu.Unlock()

	// Bound the renewal phase in real time so a hung lease table cannot stall
	// the round; failures are judged by the lease clock below.
	rctx, cancel := context.WithTimeout(ctx, max(m.cfg.failover/2, time.Second))
	m.renewAll(rctx)
	cancel()
	if ctx.Err() != nil {
		return ctx.Err()
	}

	all, bad, err := m.scan(ctx)
	if err != nil {
		return err
	}
	m.takeRound(ctx, all, bad)
	return nil
}

func (m *Manager) heldSnapshot() []*heldLease {
	m.mu.Lock()
	defer m.mu.Unlock()
	hs := make([]*heldLease, 0, len(m.held))
	for _, h := range m.held {
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].lease.ShardID < hs[j].lease.ShardID })
	return hs
}

// renewAll renews the held leases, several at a time.
func (m *Manager) renewAll(ctx context.Context) {
	hs := m.heldSnapshot()
	sem := make(chan struct{}, m.cfg.parallelism)
	var wg sync.WaitGroup
	for _, h := range hs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			m.renew(ctx, h)
		}()
	}
	wg.Wait()
}

func (m *Manager) renew(ctx context.Context, h *heldLease) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gone {
		return
	}
	l := h.lease
	var sent time.Time
	maybe, err := m.retry(ctx, func(ctx context.Context) error {
		sent = m.cfg.clock.Now()
		_, err := m.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:           aws.String(m.table),
			Key:                 keyOf(l.ShardID),
			UpdateExpression:    aws.String("SET #c = :next"),
			ConditionExpression: aws.String("#c = :cur AND #o = :me"),
			ExpressionAttributeNames: map[string]string{
				"#c": attrCounter, "#o": attrOwner,
			},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":cur": num(l.Counter), ":next": num(l.Counter + 1), ":me": str(m.worker),
			},
		}, noSDKRetry)
		return err
	})
	if err != nil && isConditionFailed(err) && maybe {
		// An earlier attempt may have landed; if the row is exactly what that
		// attempt wrote, the renewal succeeded.
		if cur, ok, gerr := m.Get(ctx, l.ShardID); gerr == nil && ok && cur.Owner == m.worker && cur.Counter == l.Counter+1 {
			err = nil
		}
	}
	m.noteOutcome(h, maybe, err)
	switch {
	case err == nil:
		m.mu.Lock()
		h.lease.Counter = l.Counter + 1
		h.lastRenewed = sent
		m.stats.Renewals++
		m.mu.Unlock()
	case isConditionFailed(err):
		// Not lost after all (an earlier write had landed): the next
		// renewal, from the re-read counter, refreshes the lease.
		m.lose(ctx, h, "")
	case ctx.Err() != nil && m.cfg.clock.Now().Sub(h.lastRenewed) < m.cfg.failover:
		// Cancelled or out of round time: not evidence of anything yet.
	default:
		m.mu.Lock()
		m.stats.RenewalFailures++
		m.mu.Unlock()
		since := m.cfg.clock.Now().Sub(h.lastRenewed)
		if since >= m.cfg.failover {
			m.drop(h, Lost, fmt.Sprintf("renewal failing for %s: %v", since, err), "")
			return
		}
		m.log.Warn("lease renewal failed; still held", "shard", l.ShardID, "since_last_renewal", since, "error", err)
	}
}

// noteOutcome records whether a write on h ended without a clear answer
// (its outcome unknown: it may have landed); only a success, or re-reading
// the row (lose), clears that. h.mu must be held.
func (m *Manager) noteOutcome(h *heldLease, maybe bool, err error) {
	switch {
	case err == nil:
		h.uncertain = false
	case maybe || ambiguous(err):
		h.uncertain = true
	}
}

// lose handles a condition failure on a held lease: it reads the row to say
// why, puts a deleted row back (see recreate), drops the lease and emits
// Lost. The one exception: after a write whose outcome is unknown, a row
// still naming this worker means that write landed (only this process
// writes as this worker). Then the lease is kept, its state re-read from
// the row, and lost is false: the caller's write did not happen and may be
// retried. It returns the reason. h.mu must be held.
func (m *Manager) lose(ctx context.Context, h *heldLease, prefix string) (reason string, lost bool) {
	id := h.lease.ShardID
	if h.uncertain {
		if cur, ok, err := m.Get(ctx, id); err == nil && ok && cur.Owner == m.worker {
			m.mu.Lock()
			h.lease.Counter, h.lease.Checkpoint, h.lease.SubSequence = cur.Counter, cur.Checkpoint, cur.SubSequence
			h.lease.AtTimestamp = cur.AtTimestamp
			h.lease.OwnerSwitchesSinceCheckpoint = cur.OwnerSwitchesSinceCheckpoint
			h.uncertain = false
			m.mu.Unlock()
			m.log.Info("an earlier lease write whose answer was lost had landed; lease state re-read", "shard", id, "counter", cur.Counter, "checkpoint", cur.Checkpoint)
			return "an earlier write whose answer was lost had landed; lease state re-read, retry", false
		}
	}
	reason, peer, deleted := m.lossReason(ctx, id)
	if deleted {
		reason = m.recreate(ctx, h.lease)
	}
	m.drop(h, Lost, prefix+reason, peer)
	return reason, true
}

// recreate puts back the row of a lease deleted while this worker held it,
// unowned and at the last checkpoint this worker wrote, so that any worker
// takes it over at once. Left to shard sync, the row would come back at the
// initial position: LATEST would skip every record since that checkpoint,
// TRIM_HORIZON would replay the whole shard (and a KCL worker, in
// amazon-kinesis-client#461, never read the shard again until restarted).
// To reset an application's positions, stop every instance first.
func (m *Manager) recreate(ctx context.Context, l Lease) string {
	row := Lease{
		ShardID: l.ShardID, Checkpoint: l.Checkpoint, SubSequence: l.SubSequence, AtTimestamp: l.AtTimestamp,
		ParentShardIDs: l.ParentShardIDs, StartingHashKey: l.StartingHashKey, EndingHashKey: l.EndingHashKey,
	}
	created, err := m.CreateLease(ctx, row)
	switch {
	case err != nil:
		return fmt.Sprintf("lease row deleted; putting it back at checkpoint %s failed (shard sync will recreate it at the initial position): %v", l.Checkpoint, err)
	case !created:
		return "lease row deleted (already recreated by another writer)"
	}
	m.log.Warn("lease row was deleted while held; recreated it unowned at this worker's last checkpoint",
		"shard", l.ShardID, "checkpoint", l.Checkpoint, "subsequence", l.SubSequence)
	return "lease row deleted; recreated unowned at checkpoint " + l.Checkpoint
}

// lossReason reads the row after a condition failure to say why the lease
// was lost, best effort; deleted reports that the row is gone.
func (m *Manager) lossReason(ctx context.Context, shardID string) (reason, peer string, deleted bool) {
	cur, ok, err := m.Get(ctx, shardID)
	switch {
	case err != nil:
		return fmt.Sprintf("condition check failed (row unreadable: %v)", err), "", false
	case !ok:
		return "lease row deleted", "", true
	case cur.Owner == "":
		return "lease released by someone else", "", false
	case cur.Owner != m.worker:
		return "taken by " + cur.Owner, cur.Owner, false
	default:
		return "lease counter moved by another writer with the same worker id", m.worker, false
	}
}

// drop forgets a held lease and emits an event. h.mu must be held.
func (m *Manager) drop(h *heldLease, kind EventKind, reason, peer string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h.gone {
		return
	}
	h.gone = true
	if m.held[h.lease.ShardID] == h {
		delete(m.held, h.lease.ShardID)
	}
	m.emit(kind, h.lease, reason, peer)
}

// takeRound decides which leases to take from a fresh scan.
func (m *Manager) takeRound(ctx context.Context, all []Lease, bad []string) {
	now := m.cfg.clock.Now()

	// Corrupt rows stand in as unfinished leases for the parent check, so a
	// child never overtakes a parent whose row is unreadable.
	forParents := all
	if len(bad) > 0 {
		forParents = append(append([]Lease(nil), all...), stubs(bad)...)
	}

	m.mu.Lock()
	seen := make(map[string]bool, len(all))
	for _, l := range all {
		seen[l.ShardID] = true
		o, ok := m.obs[l.ShardID]
		switch {
		case ok && o.counter == l.Counter:
			// unchanged: keep the time we first saw this counter
		case !ok && l.Owner == "":
			m.obs[l.ShardID] = observation{counter: l.Counter} // never renewed: expired already
		default:
			m.obs[l.ShardID] = observation{counter: l.Counter, since: now}
		}
	}
	for id := range m.obs {
		if !seen[id] {
			delete(m.obs, id)
		}
	}
	held := make(map[string]bool, len(m.held))
	for id := range m.held {
		held[id] = true
	}
	obs := make(map[string]observation, len(m.obs))
	for id, o := range m.obs {
		obs[id] = o
	}
	first := !m.initialized
	m.mu.Unlock()

	var (
		expired []Lease
		owned   = map[string][]Lease{} // live owner → its non-expired leases
		total   int
	)
	for _, l := range all {
		if held[l.ShardID] {
			total++
			continue
		}
		if l.Finished() || !ParentsDone(l, forParents) || (m.cfg.eligible != nil && !m.cfg.eligible(l)) {
			continue
		}
		total++
		// At start-up, rows still naming this worker are its own from a
		// previous run (same worker id): reclaim them at once, as the KCL does.
		reclaim := first && l.Owner == m.worker
		if l.Owner == "" || reclaim || now.Sub(obs[l.ShardID].since) >= m.cfg.failover {
			expired = append(expired, l)
			continue
		}
		owned[l.Owner] = append(owned[l.Owner], l)
	}
	workers := len(owned)
	if _, ok := owned[m.worker]; !ok {
		workers++
	}
	mine := len(held)
	target := 0
	if total > 0 {
		target = (total + workers - 1) / workers
	}
	if m.cfg.maxLeases > 0 && target > m.cfg.maxLeases {
		m.log.Warn("balanced target exceeds max leases for worker; some shards may stay unprocessed",
			"target", target, "max", m.cfg.maxLeases)
		target = m.cfg.maxLeases
	}
	need := target - mine

	defer func() {
		m.mu.Lock()
		m.initialized = true
		m.mu.Unlock()
	}()
	if need <= 0 {
		return
	}

	if len(expired) > 0 {
		m.shuffle(expired)
		// Own rows first: they are ours already and their consumers resume cheaply.
		sort.SliceStable(expired, func(i, j int) bool {
			return expired[i].Owner == m.worker && expired[j].Owner != m.worker
		})
		m.log.Debug("taking leases", "active", total, "workers", workers, "target", target, "held", mine, "expired", len(expired))
		for _, l := range expired[:min(need, len(expired))] {
			reason := "unowned"
			switch {
			case l.Owner == m.worker:
				reason = "own lease from a previous run"
			case l.Owner != "":
				reason = fmt.Sprintf("expired: counter %d unchanged for %s", l.Counter, now.Sub(obs[l.ShardID].since))
			}
			m.take(ctx, l, Acquired, reason)
		}
		return
	}

	// Nothing free: steal from the most loaded worker (ties: smallest id).
	victim, most := "", 0
	for w, ls := range owned {
		if w == m.worker {
			continue
		}
		if len(ls) > most || (len(ls) == most && w < victim) {
			victim, most = w, len(ls)
		}
	}
	n := 0
	switch {
	case most > target:
		n = min(m.cfg.maxSteal, need, most-target)
	case most == target && mine < target-1:
		// Everyone else sits exactly at target (which the total cannot fill
		// for all): steal one so the spread stays within one lease.
		n = 1
	}
	if n == 0 {
		return
	}
	// One steal per round interval: a round that ran long (a slow lease
	// table) is followed at once by the ticker's pending round, which would
	// otherwise steal again before the victim has even noticed the first.
	m.mu.Lock()
	recent := !m.lastSteal.IsZero() && now.Sub(m.lastSteal) < m.cfg.failover/3
	if !recent {
		m.lastSteal = now
	}
	m.mu.Unlock()
	if recent {
		return
	}
	cands := owned[victim]
	sort.Slice(cands, func(i, j int) bool { return cands[i].ShardID < cands[j].ShardID })
	m.shuffle(cands)
	m.log.Info("stealing leases", "from", victim, "their_count", most, "target", target, "held", mine, "count", n)
	for _, l := range cands[:n] {
		m.take(ctx, l, Stolen, fmt.Sprintf("rebalance: %s held %d, target %d", victim, most, target))
	}
}

func stubs(ids []string) []Lease {
	out := make([]Lease, len(ids))
	for i, id := range ids {
		out[i] = Lease{ShardID: id}
	}
	return out
}

// shuffle permutes ls with the seeded generator, so workers that see the
// same table do not all race for the same lease, yet runs are reproducible.
func (m *Manager) shuffle(ls []Lease) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rng.Shuffle(len(ls), func(i, j int) { ls[i], ls[j] = ls[j], ls[i] })
}

// take writes this worker as the owner of l, conditional on the counter and
// owner it was seen with.
func (m *Manager) take(ctx context.Context, l Lease, kind EventKind, reason string) {
	switches := l.OwnerSwitchesSinceCheckpoint
	if l.Owner != "" && l.Owner != m.worker {
		switches++
	}
	names := map[string]string{"#c": attrCounter, "#o": attrOwner, "#s": attrOwnerSwitch}
	values := map[string]types.AttributeValue{
		":cur": num(l.Counter), ":next": num(l.Counter + 1), ":me": str(m.worker), ":sw": num(switches),
	}
	cond := "#c = :cur AND attribute_not_exists(#o)"
	if l.Owner != "" {
		cond = "#c = :cur AND #o = :prev"
		values[":prev"] = str(l.Owner)
	}
	var sent time.Time
	maybe, err := m.retry(ctx, func(ctx context.Context) error {
		sent = m.cfg.clock.Now()
		_, err := m.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(m.table),
			Key:                       keyOf(l.ShardID),
			UpdateExpression:          aws.String("SET #o = :me, #c = :next, #s = :sw"),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}, noSDKRetry)
		return err
	})
	if err != nil && isConditionFailed(err) && maybe {
		if cur, ok, gerr := m.Get(ctx, l.ShardID); gerr == nil && ok && cur.Owner == m.worker && cur.Counter == l.Counter+1 {
			err = nil
		}
	}
	if isConditionFailed(err) {
		m.log.Debug("lease taken by someone else first", "shard", l.ShardID)
		return
	}
	if err != nil {
		m.log.Warn("could not take lease", "shard", l.ShardID, "error", err)
		return
	}
	nl := l.clone()
	prev := l.Owner
	nl.Owner, nl.Counter, nl.OwnerSwitchesSinceCheckpoint = m.worker, l.Counter+1, switches
	m.mu.Lock()
	defer m.mu.Unlock()
	m.held[l.ShardID] = &heldLease{lease: nl, lastRenewed: sent}
	if prev == m.worker {
		prev = ""
	}
	m.emit(kind, nl, reason, prev)
}

func keyOf(shardID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrKey: str(shardID)}
}
