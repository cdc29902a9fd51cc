package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardbridge/shardbridge/replicator/lease"
)

// LeaseChange is one change of a lease's owner the monitor saw.
type LeaseChange struct {
	Time  time.Time `json:"time"`
	Shard string    `json:"shard"`
	From  string    `json:"from,omitempty"` // "" = unowned
	To    string    `json:"to,omitempty"`
	// Checkpoint and SubSequence are the lease's checkpoint as last seen
	// under the previous owner: the new owner resumes at or after it.
	Checkpoint  string `json:"checkpoint,omitempty"`
	SubSequence int64  `json:"sub_sequence,omitempty"`
}

// LeaseMonitor watches a lease table (KCL layout, read with the
// replicator's own lease package) and keeps what scenarios assert on: every
// owner change, when each shard was first owned and first finished, and
// any checkpoint that went backwards — which only a zombie's accepted write
// (or a lost lease row) can cause.
type LeaseMonitor struct {
	mgr      *lease.Manager
	interval time.Duration

	mu          sync.Mutex
	latest      []lease.Lease
	seen        bool
	owners      map[string]string
	checkpoints map[string]lease.Lease
	changes     []LeaseChange
	resets      map[string]int
	regressions []string
	generation  int // bumped by forget, so a scan that straddles a deletion is dropped
	history     map[string][]checkpointAt
	firstOwned  map[string]time.Time
	finished    map[string]time.Time
	scans       int
	errors      int
	cancel      context.CancelFunc
	done        chan struct{}
}

// NewLeaseMonitor returns a monitor of the lease table named table.
func NewLeaseMonitor(env *Env, table string) *LeaseMonitor {
	return &LeaseMonitor{
		mgr: lease.NewManager(env.NewDynamoDBClient(), table, "harness-observer",
			lease.WithLogger(slog.New(slog.DiscardHandler))),
		interval:    25 * time.Millisecond,
		owners:      map[string]string{},
		resets:      map[string]int{},
		checkpoints: map[string]lease.Lease{},
		firstOwned:  map[string]time.Time{},
		history:     map[string][]checkpointAt{},
		finished:    map[string]time.Time{},
	}
}

// Start polls the table until Stop.
func (m *LeaseMonitor) Start(ctx context.Context) {
	ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		t := time.NewTicker(m.interval)
		defer t.Stop()
		for {
			m.Poll(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends polling after one last scan.
func (m *LeaseMonitor) Stop(ctx context.Context) {
	if m.cancel != nil {
		m.cancel()
		<-m.done
		m.cancel = nil
	}
	m.Poll(ctx)
}

// Poll scans the table once (a missing table reads as empty).
func (m *LeaseMonitor) Poll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	m.mu.Lock()
	gen := m.generation
	m.mu.Unlock()
	all, err := m.mgr.List(ctx)
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.generation {
		// The harness deleted rows while this scan was in flight: what it read
		// may predate the deletion and must not become the new baseline.
		return
	}
	if err != nil {
		m.errors++
		return
	}
	m.scans++
	m.latest, m.seen = all, true
	for _, l := range all {
		prevOwner, known := m.owners[l.ShardID]
		if known && prevOwner != l.Owner {
			c := LeaseChange{Time: now, Shard: l.ShardID, From: prevOwner, To: l.Owner}
			if prev, ok := m.checkpoints[l.ShardID]; ok {
				c.Checkpoint, c.SubSequence = prev.Checkpoint, prev.SubSequence
			}
			m.changes = append(m.changes, c)
		}
		m.owners[l.ShardID] = l.Owner
		if l.Owner != "" {
			if _, ok := m.firstOwned[l.ShardID]; !ok {
				m.firstOwned[l.ShardID] = now
			}
		}
		if l.Finished() {
			if _, ok := m.finished[l.ShardID]; !ok {
				m.finished[l.ShardID] = now
			}
		}
		if prev, ok := m.checkpoints[l.ShardID]; ok && compareCheckpoints(l, prev) < 0 {
			m.regressions = append(m.regressions, fmt.Sprintf("%s: checkpoint went back from %s to %s (owner %q, counter %d)",
				l.ShardID, checkpointString(prev), checkpointString(l), l.Owner, l.Counter))
		}
		m.checkpoints[l.ShardID] = l
		h := m.history[l.ShardID]
		if len(h) == 0 || compareCheckpoints(h[len(h)-1].l, l) != 0 {
			m.history[l.ShardID] = append(h, checkpointAt{t: now, l: l})
		}
	}
}

type checkpointAt struct {
	t time.Time
	l lease.Lease
}

// CheckpointAt returns a shard's checkpoint as last seen at or before t
// (a zero Lease, that is before any record, when none was seen).
func (m *LeaseMonitor) CheckpointAt(shard string, t time.Time) lease.Lease {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out lease.Lease
	for _, h := range m.history[shard] {
		if h.t.After(t) {
			break
		}
		out = h.l
	}
	return out
}

// forget drops what the monitor knows of a shard whose row the harness
// deleted, so its re-creation is not taken for a regression.
func (m *LeaseMonitor) forget(shard string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.checkpoints, shard)
	delete(m.owners, shard)
	delete(m.history, shard)
	m.resets[shard]++
	m.generation++
}

// forgetAll forgets every shard the monitor has seen, after the harness
// deleted the whole table. It must not rely on the latest scan: a scan that
// ran while the rows were being deleted one by one lacks the rows already
// gone, whose old checkpoints would then be taken for the baseline.
func (m *LeaseMonitor) forgetAll() {
	m.mu.Lock()
	shards := make(map[string]bool, len(m.checkpoints)+len(m.owners))
	for id := range m.checkpoints {
		shards[id] = true
	}
	for id := range m.owners {
		shards[id] = true
	}
	m.mu.Unlock()
	for id := range shards {
		m.forget(id)
	}
}

// Resets counts, per shard, how often the harness deleted or damaged its
// lease row (its checkpoint was lost: a re-read from the start is expected).
func (m *LeaseMonitor) Resets() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.resets))
	for k, v := range m.resets {
		out[k] = v
	}
	return out
}

// Leases returns the last scan.
func (m *LeaseMonitor) Leases() []lease.Lease {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]lease.Lease(nil), m.latest...)
}

// Lease returns the last scanned row of a shard.
func (m *LeaseMonitor) Lease(shard string) (lease.Lease, bool) {
	for _, l := range m.Leases() {
		if l.ShardID == shard {
			return l, true
		}
	}
	return lease.Lease{}, false
}

// Changes returns every owner change seen.
func (m *LeaseMonitor) Changes() []LeaseChange {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]LeaseChange(nil), m.changes...)
}

// Moves counts owner changes from one worker straight to another (a steal
// or a takeover of an expired lease), as opposed to take-ups of unowned
// leases and releases.
func (m *LeaseMonitor) Moves() int {
	n := 0
	for _, c := range m.Changes() {
		if c.From != "" && c.To != "" {
			n++
		}
	}
	return n
}

// Regressions lists checkpoints that went backwards.
func (m *LeaseMonitor) Regressions() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.regressions...)
}

// FirstOwned reports when a shard's lease was first seen with an owner.
func (m *LeaseMonitor) FirstOwned(shard string) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.firstOwned[shard]
	return t, ok
}

// Finished reports when a shard's lease was first seen at SHARD_END.
func (m *LeaseMonitor) Finished(shard string) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.finished[shard]
	return t, ok
}

// checkpointRank orders sentinels around sequence numbers: the initial
// positions before any record, SHARD_END after every record.
func checkpointRank(cp string) int {
	switch cp {
	case lease.TrimHorizon, lease.Latest, lease.AtTimestamp, "":
		return 0
	case lease.ShardEnd:
		return 2
	}
	return 1
}

func compareCheckpoints(a, b lease.Lease) int {
	ra, rb := checkpointRank(a.Checkpoint), checkpointRank(b.Checkpoint)
	if ra != rb || ra != 1 {
		return ra - rb
	}
	x, okx := new(big.Int).SetString(a.Checkpoint, 10)
	y, oky := new(big.Int).SetString(b.Checkpoint, 10)
	if !okx || !oky {
		return strings.Compare(a.Checkpoint, b.Checkpoint)
	}
	if c := x.Cmp(y); c != 0 {
		return c
	}
	switch {
	case a.SubSequence < b.SubSequence:
		return -1
	case a.SubSequence > b.SubSequence:
		return 1
	}
	return 0
}

func checkpointString(l lease.Lease) string {
	if l.SubSequence > 0 {
		return fmt.Sprintf("%s/%d", l.Checkpoint, l.SubSequence)
	}
	return l.Checkpoint
}

// DeleteLeaseRow deletes a shard's row from a KCL lease table, as an
// operator cleaning up by hand would.
func DeleteLeaseRow(ctx context.Context, ddb *dynamodb.Client, table, shard string) error {
	_, err := ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(table),
		Key:       map[string]dtypes.AttributeValue{"leaseKey": &dtypes.AttributeValueMemberS{Value: shard}},
	})
	if err != nil {
		return fmt.Errorf("delete lease %s from %s: %w", shard, table, err)
	}
	return nil
}

// CorruptLeaseRow overwrites a shard's leaseCounter with a string and its
// checkpoint with a number, the kind of damage a hand edit does. It returns
// the row as it was just before (the damage is conditional on the counter
// read, so no write slips in between), for RestoreLeaseRow.
func CorruptLeaseRow(ctx context.Context, ddb *dynamodb.Client, table, shard string) (map[string]dtypes.AttributeValue, error) {
	key := map[string]dtypes.AttributeValue{"leaseKey": &dtypes.AttributeValueMemberS{Value: shard}}
	for {
		got, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("corrupt lease %s in %s: read: %w", shard, table, err)
		}
		counter, ok := got.Item["leaseCounter"]
		if !ok {
			return nil, fmt.Errorf("corrupt lease %s in %s: no such row (or no leaseCounter)", shard, table)
		}
		_, err = ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:           aws.String(table),
			Key:                 key,
			UpdateExpression:    aws.String("SET leaseCounter = :c, checkpoint = :p"),
			ConditionExpression: aws.String("leaseCounter = :read"),
			ExpressionAttributeValues: map[string]dtypes.AttributeValue{
				":c":    &dtypes.AttributeValueMemberS{Value: "not-a-number"},
				":p":    &dtypes.AttributeValueMemberN{Value: "42"},
				":read": counter,
			},
		})
		var ccf *dtypes.ConditionalCheckFailedException
		switch {
		case errors.As(err, &ccf):
			continue // the row moved on between the read and the write
		case err != nil:
			return nil, fmt.Errorf("corrupt lease %s in %s: %w", shard, table, err)
		}
		return got.Item, nil
	}
}

// RestoreLeaseRow writes back a row saved by CorruptLeaseRow, as an operator
// undoing a bad hand edit would, with its leaseCounter moved on so every
// worker sees that the row changed (its owner, having dropped the lease,
// lets it expire and it is taken over from its checkpoint).
func RestoreLeaseRow(ctx context.Context, ddb *dynamodb.Client, table string, row map[string]dtypes.AttributeValue) error {
	item := maps.Clone(row)
	shard := "?"
	if k, ok := item["leaseKey"].(*dtypes.AttributeValueMemberS); ok {
		shard = k.Value
	}
	c, ok := item["leaseCounter"].(*dtypes.AttributeValueMemberN)
	if !ok {
		return fmt.Errorf("restore lease %s in %s: the saved row has no numeric leaseCounter", shard, table)
	}
	n, err := strconv.ParseInt(c.Value, 10, 64)
	if err != nil {
		return fmt.Errorf("restore lease %s in %s: leaseCounter %q: %w", shard, table, c.Value, err)
	}
	item["leaseCounter"] = &dtypes.AttributeValueMemberN{Value: strconv.FormatInt(n+1000, 10)}
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		return fmt.Errorf("restore lease %s in %s: %w", shard, table, err)
	}
	return nil
}

// DeleteAllLeaseRows empties a lease table (every checkpoint forgotten), the
// usual way to make a KCL application start over from its initial position.
func DeleteAllLeaseRows(ctx context.Context, ddb *dynamodb.Client, table string) (int, error) {
	n := 0
	var start map[string]dtypes.AttributeValue
	for {
		out, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ExclusiveStartKey: start, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return n, fmt.Errorf("scan %s: %w", table, err)
		}
		for _, item := range out.Items {
			k, ok := item["leaseKey"].(*dtypes.AttributeValueMemberS)
			if !ok {
				continue
			}
			if err := DeleteLeaseRow(ctx, ddb, table, k.Value); err != nil {
				return n, err
			}
			n++
		}
		if len(out.LastEvaluatedKey) == 0 {
			return n, nil
		}
		start = out.LastEvaluatedKey
	}
}
