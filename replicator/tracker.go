package replicator

import (
	"context"
	"sync"
	"time"

	"github.com/shardbridge/shardbridge/replicator/checkpoint"
)

// tracker follows one shard's records from hand-off to Kafka acknowledgement
// and computes the checkpoint watermark: the position of the last record of
// the longest acknowledged prefix, in source order. It also bounds the
// records and bytes in flight.
//
// Slots are handed out in source order. A slot either carries a position
// (the last output of a source record or sub-record) or not (an earlier
// output of a transformer's fan-out, which must not let the checkpoint pass
// its siblings). The watermark only moves past contiguous acknowledged slots,
// so a checkpoint never covers a record Kafka has not confirmed.
type tracker struct {
	maxCount, maxBytes int
	mem                releaser // the shard's memory budget account, or nil

	mu      sync.Mutex
	q       []slot
	head    int    // index in q of the oldest unretired slot
	base    uint64 // slot number of q[head]
	next    uint64 // next slot number
	count   int    // produce-pending slots
	bytes   int    // bytes of produce-pending slots
	mark    checkpoint.Position
	hasMark bool
	arrival int64         // Kinesis arrival (Unix ns) of the record whose outputs are being added
	closed  bool          // abandoned: charges are released at once
	err     error         // first produce error
	failed  chan struct{} // closed on the first produce error
	changed chan struct{} // signalled (non-blocking) on every acknowledgement
}

type slot struct {
	pos     checkpoint.Position
	hasPos  bool
	done    bool
	failed  bool
	bytes   int
	arrival int64 // Unix ns; 0 when unknown
	charge  int64 // memory budget bytes of the source record, released when the slot retires
}

// releaser returns bytes to the memory budget.
type releaser interface{ Release(n int64) }

func newTracker(maxCount, maxBytes int, mem releaser) *tracker {
	return &tracker{
		maxCount: max(maxCount, 1),
		maxBytes: max(maxBytes, 1),
		mem:      mem,
		failed:   make(chan struct{}),
		changed:  make(chan struct{}, 1),
	}
}

// acquire waits until one more record of size n fits the in-flight bounds.
// A record larger than the byte bound still passes when nothing else is in
// flight, so a big record cannot block its shard forever.
func (t *tracker) acquire(ctx context.Context, n int) error {
	for {
		t.mu.Lock()
		ok := t.count == 0 || (t.count < t.maxCount && t.bytes+n <= t.maxBytes)
		failed := t.err != nil
		t.mu.Unlock()
		if failed {
			return errProduceFailed
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.changed:
		case <-t.failed:
		}
	}
}

// add appends a slot. A pending slot counts against the bounds until ack;
// a slot added done (a record filtered out, nothing to produce) only carries
// its position.
func (t *tracker) add(pos checkpoint.Position, hasPos, pending bool, n int) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.next
	t.next++
	t.q = append(t.q, slot{pos: pos, hasPos: hasPos, done: !pending, bytes: n, arrival: t.arrival})
	if pending {
		t.count++
		t.bytes += n
	} else {
		t.advance()
	}
	return id
}

// charge attaches a source record's memory budget charge to its last slot,
// so it is released when the record is acknowledged (the slot retires); a
// record whose slots are all retired already releases it at once.
func (t *tracker) charge(n int64) {
	if t.mem == nil || n <= 0 {
		return
	}
	t.mu.Lock()
	if !t.closed && t.head < len(t.q) {
		t.q[len(t.q)-1].charge += n
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	t.mem.Release(n)
}

// close releases the charges of every slot not retired yet: the tracker is
// being abandoned (a rewind, a stop). Acknowledgements after close release
// nothing more.
func (t *tracker) close() {
	if t.mem == nil {
		return
	}
	t.mu.Lock()
	var n int64
	for i := t.head; i < len(t.q); i++ {
		n += t.q[i].charge
		t.q[i].charge = 0
	}
	t.closed = true
	t.mu.Unlock()
	t.mem.Release(n)
}

// arriving sets the Kinesis arrival time of the source record whose outputs
// the next add calls hand on (for the oldest-unacknowledged gauge).
func (t *tracker) arriving(at time.Time) {
	var ns int64
	if !at.IsZero() {
		ns = at.UnixNano()
	}
	t.mu.Lock()
	t.arrival = ns
	t.mu.Unlock()
}

// oldestUnacknowledged is the arrival time of the oldest record handed on
// and not acknowledged yet. The head of the queue is that record: the
// acknowledged prefix is retired as it grows.
func (t *tracker) oldestUnacknowledged() (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.head >= len(t.q) || t.q[t.head].arrival == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, t.q[t.head].arrival), true
}

// fail records a failure of the shard's output that is not one record's
// (exactly-once: a flush or a commit); the shard then rewinds.
func (t *tracker) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = err
		close(t.failed)
	}
}

// ack marks a slot acknowledged (err == nil) or failed.
func (t *tracker) ack(id uint64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := t.head + int(id-t.base)
	if id < t.base || i >= len(t.q) || t.q[i].done || t.q[i].failed {
		return
	}
	t.count--
	t.bytes -= t.q[i].bytes
	if err != nil {
		if t.err == nil {
			t.err = err
			close(t.failed)
		}
		// A failed slot never completes: the watermark stops before it.
		t.q[i].failed = true
	} else {
		t.q[i].done = true
		t.advance()
	}
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// advance retires the acknowledged prefix and releases its memory budget
// charges. t.mu must be held (the budget never calls back into a tracker).
func (t *tracker) advance() {
	var freed int64
	defer func() {
		if freed > 0 {
			t.mem.Release(freed)
		}
	}()
	for t.head < len(t.q) && t.q[t.head].done {
		s := t.q[t.head]
		if s.hasPos {
			t.mark, t.hasMark = s.pos, true
		}
		freed += s.charge
		t.q[t.head] = slot{}
		t.head++
		t.base++
	}
	// Compact once the retired prefix dominates, keeping memory flat.
	if t.head > 1024 && t.head*2 > len(t.q) {
		n := copy(t.q, t.q[t.head:])
		clear(t.q[n:])
		t.q = t.q[:n]
		t.head = 0
	}
}

// watermark is the position of the last record of the acknowledged prefix.
func (t *tracker) watermark() (checkpoint.Position, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mark, t.hasMark
}

// pending is the number of records handed to Kafka and not answered yet.
func (t *tracker) pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count
}

// failure is the first produce error, or nil.
func (t *tracker) failure() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// drain waits until every handed-on record was answered (acknowledged or
// failed).
func (t *tracker) drain(ctx context.Context) error {
	for {
		if t.pending() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.changed:
		}
	}
}
