// Package leasewatch watches a KCL-format lease table from the outside and
// keeps what the harness judges leases by.
//
// Contract:
//   - It decodes lease rows itself (DecodeRow: the KCL's documented
//     attribute names and types) and shares no code with any bridge, so a
//     decoding bug in the system under test cannot hide from it. A row that
//     does not decode is reported (Corrupt), never skipped silently.
//   - Everything is learned from the table alone, as any worker of the KCL
//     protocol would see it: owner changes (Changes, Moves) — those between
//     two polls too, counted by the row's ownerSwitchesSinceCheckpoint — a
//     lease whose counter stood still for its whole failover time before it
//     moved again under the same owner (a lapse: the lease expired, for its
//     holder too, which resumes from the checkpoint), checkpoints that went backwards
//     (Regressions), when a shard was first owned and first finished.
//   - Times are the watcher's own observations (it polls every 25 ms); no
//     clock of a bridge is read.
package leasewatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Change is a change of a lease's holder the watcher saw.
type Change struct {
	Time  time.Time `json:"time"`
	Shard string    `json:"shard"`
	From  string    `json:"from,omitempty"` // "" = unowned
	To    string    `json:"to,omitempty"`
	// Lapse: the owner did not change, but the counter stood still for the
	// failover time, so the lease expired and was re-taken by the same worker.
	Lapse bool `json:"lapse,omitempty"`
	// Unseen: the move happened between two polls; the row's
	// ownerSwitchesSinceCheckpoint counted it (From is then unknown).
	Unseen bool `json:"unseen,omitempty"`
	// Checkpoint and SubSequence are the checkpoint as last seen before the
	// change: the new holder resumes at or after it.
	Checkpoint  string `json:"checkpoint,omitempty"`
	SubSequence int64  `json:"sub_sequence,omitempty"`
}

// Watcher polls one lease table. Its methods are safe for concurrent use.
type Watcher struct {
	ddb      *dynamodb.Client
	table    string
	interval time.Duration
	lapse    time.Duration

	mu          sync.Mutex
	latest      []Row
	owners      map[string]string
	counters    map[string]counterSeen
	checkpoints map[string]Row
	changes     []Change
	ownership   []Change // every owner seen, first sightings included (charts)
	resets      map[string]int
	regressions []string
	corrupt     map[string]string
	generation  int  // bumped by Forget, so a scan that straddles a deletion is dropped
	holding     bool // Hold: scans are dropped while the harness rewrites rows
	history     map[string][]rowAt
	firstOwned  map[string]time.Time
	finished    map[string]time.Time
	cancel      context.CancelFunc
	done        chan struct{}
}

type counterSeen struct {
	value int64
	at    time.Time // when the watcher first saw this value
}

type rowAt struct {
	t time.Time
	r Row
}

// New returns a watcher of the lease table named table. failover is the
// bridge's lease failover time: a counter that stands still that long
// belongs to an expired lease (0: lapses are not looked for). The watcher
// sees a counter move up to a poll and a write's latency after its holder
// sent it, so it counts a lapse from nine tenths of the failover time.
func New(ddb *dynamodb.Client, table string, failover time.Duration) *Watcher {
	return &Watcher{
		ddb: ddb, table: table, interval: 25 * time.Millisecond, lapse: failover * 9 / 10,
		owners: map[string]string{}, counters: map[string]counterSeen{}, resets: map[string]int{},
		checkpoints: map[string]Row{}, corrupt: map[string]string{}, firstOwned: map[string]time.Time{},
		history: map[string][]rowAt{}, finished: map[string]time.Time{},
	}
}

// Start polls the table until Stop.
func (w *Watcher) Start(ctx context.Context) {
	ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	w.done = make(chan struct{})
	go func() {
		defer close(w.done)
		t := time.NewTicker(w.interval)
		defer t.Stop()
		for {
			w.Poll(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends polling after one last scan.
func (w *Watcher) Stop(ctx context.Context) {
	if w.cancel != nil {
		w.cancel()
		<-w.done
		w.cancel = nil
	}
	w.Poll(ctx)
}

// scan reads every row (a missing table reads as empty).
func (w *Watcher) scan(ctx context.Context) ([]Row, map[string]string, error) {
	var rows []Row
	bad := map[string]string{}
	var start map[string]dtypes.AttributeValue
	for {
		out, err := w.ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(w.table), ExclusiveStartKey: start, ConsistentRead: aws.Bool(true)})
		if err != nil {
			var nf *dtypes.ResourceNotFoundException
			if asNotFound(err, &nf) {
				return nil, bad, nil
			}
			return nil, nil, err
		}
		for _, item := range out.Items {
			r, err := DecodeRow(item)
			if errors.Is(err, ErrNotLease) {
				continue
			}
			if err != nil {
				bad[r.Shard] = err.Error()
				continue
			}
			rows = append(rows, r)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return rows, bad, nil
		}
		start = out.LastEvaluatedKey
	}
}

// Poll scans the table once.
func (w *Watcher) Poll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	w.mu.Lock()
	gen := w.generation
	w.mu.Unlock()
	rows, bad, err := w.scan(ctx)
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil || gen != w.generation || w.holding {
		// A failed scan tells nothing; one that ran while the harness deleted
		// rows may predate the deletion and must not become the baseline.
		return
	}
	for shard, why := range bad {
		if _, ok := w.corrupt[shard]; !ok {
			w.corrupt[shard] = why
		}
	}
	w.latest = rows
	for _, r := range rows {
		w.observe(r, now)
	}
}

// observe folds one row into what is known; w.mu is held.
func (w *Watcher) observe(r Row, now time.Time) {
	prev, known := w.checkpoints[r.Shard]
	prevOwner, ownerKnown := w.owners[r.Shard]
	cs, counterKnown := w.counters[r.Shard]
	// Owner switches since the checkpoint that this poll has not seen
	// happen: the ones between polls.
	switches := r.OwnerSwitches
	if known && ComparePositions(prev, r) == 0 {
		switches -= prev.OwnerSwitches
	}
	moved := ownerKnown && prevOwner != r.Owner && prevOwner != "" && r.Owner != ""
	if moved {
		switches--
	}
	for range max(switches, 0) {
		w.changes = append(w.changes, Change{Time: now, Shard: r.Shard, From: "?", To: r.Owner, Unseen: true,
			Checkpoint: r.Checkpoint, SubSequence: r.SubSequence})
	}
	switch {
	case ownerKnown && prevOwner != r.Owner:
		c := Change{Time: now, Shard: r.Shard, From: prevOwner, To: r.Owner}
		if known {
			c.Checkpoint, c.SubSequence = prev.Checkpoint, prev.SubSequence
		}
		w.changes = append(w.changes, c)
	case counterKnown && cs.value != r.Counter && r.Owner != "" && w.lapse > 0 && now.Sub(cs.at) > w.lapse && !r.Finished():
		c := Change{Time: now, Shard: r.Shard, From: r.Owner, To: r.Owner, Lapse: true}
		if known {
			c.Checkpoint, c.SubSequence = prev.Checkpoint, prev.SubSequence
		}
		w.changes = append(w.changes, c)
	}
	if !ownerKnown || prevOwner != r.Owner {
		w.ownership = append(w.ownership, Change{Time: now, Shard: r.Shard, From: prevOwner, To: r.Owner})
	}
	w.owners[r.Shard] = r.Owner
	if !counterKnown || cs.value != r.Counter {
		w.counters[r.Shard] = counterSeen{value: r.Counter, at: now}
	}
	if r.Owner != "" {
		if _, ok := w.firstOwned[r.Shard]; !ok {
			w.firstOwned[r.Shard] = now
		}
	}
	if r.Finished() {
		if _, ok := w.finished[r.Shard]; !ok {
			w.finished[r.Shard] = now
		}
	}
	if known && ComparePositions(r, prev) < 0 {
		w.regressions = append(w.regressions, fmt.Sprintf("%s: checkpoint went back from %s to %s (owner %q, counter %d)",
			r.Shard, prev.Position(), r.Position(), r.Owner, r.Counter))
	}
	w.checkpoints[r.Shard] = r
	h := w.history[r.Shard]
	if len(h) == 0 || ComparePositions(h[len(h)-1].r, r) != 0 {
		w.history[r.Shard] = append(h, rowAt{t: now, r: r})
	}
}
