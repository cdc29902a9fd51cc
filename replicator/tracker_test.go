package replicator

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/replicator/checkpoint"
)

func pos(seq string, sub int64) checkpoint.Position {
	return checkpoint.Position{Sequence: seq, SubSequence: sub}
}

func TestTrackerWatermarkOnlyCoversContiguousAcks(t *testing.T) {
	tr := newTracker(100, 1<<20, nil)
	a := tr.add(pos("1", -1), true, true, 10)
	b := tr.add(pos("2", 0), false, true, 10) // fan-out sibling: no position
	c := tr.add(pos("2", 0), true, true, 10)
	tr.add(pos("3", 4), true, false, 0) // filtered record: done at once
	d := tr.add(pos("4", -1), true, true, 10)

	if _, ok := tr.watermark(); ok {
		t.Fatal("watermark before any ack")
	}
	tr.ack(c, nil)
	tr.ack(d, nil)
	if _, ok := tr.watermark(); ok {
		t.Fatal("watermark moved past unacknowledged slot a")
	}
	tr.ack(a, nil)
	if m, _ := tr.watermark(); m != pos("1", -1) {
		t.Fatalf("watermark %v, want 1/-1 (b still pending)", m)
	}
	tr.ack(b, nil)
	if m, _ := tr.watermark(); m != pos("4", -1) {
		t.Fatalf("watermark %v, want 4/-1", m)
	}
	if tr.pending() != 0 {
		t.Fatalf("pending %d", tr.pending())
	}
	tr.ack(b, nil) // duplicate answers are ignored
	if tr.pending() != 0 {
		t.Fatal("duplicate ack changed the count")
	}
}

func TestTrackerStopsAtAFailure(t *testing.T) {
	tr := newTracker(100, 1<<20, nil)
	a := tr.add(pos("1", -1), true, true, 1)
	b := tr.add(pos("2", -1), true, true, 1)
	c := tr.add(pos("3", -1), true, true, 1)
	tr.ack(a, nil)
	tr.ack(b, errors.New("NOT_LEADER"))
	tr.ack(c, nil)
	select {
	case <-tr.failed:
	default:
		t.Fatal("failed not closed")
	}
	if m, _ := tr.watermark(); m != pos("1", -1) {
		t.Fatalf("watermark %v moved past the failed record", m)
	}
	if err := tr.acquire(context.Background(), 1); !errors.Is(err, errProduceFailed) {
		t.Fatalf("acquire after failure: %v", err)
	}
	if err := tr.drain(context.Background()); err != nil || tr.pending() != 0 {
		t.Fatalf("drain: %v, pending %d", err, tr.pending())
	}
}

func TestTrackerBoundsInFlight(t *testing.T) {
	tr := newTracker(2, 100, nil)
	if err := tr.acquire(context.Background(), 60); err != nil {
		t.Fatal(err)
	}
	a := tr.add(pos("1", -1), true, true, 60)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := tr.acquire(ctx, 60); err == nil {
		t.Fatal("acquire beyond the byte bound did not block")
	}
	b := tr.add(pos("2", -1), true, true, 10) // fits: 70 bytes, 2 records
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if err := tr.acquire(ctx2, 1); err == nil {
		t.Fatal("acquire beyond the record bound did not block")
	}
	got := make(chan error, 1)
	go func() { got <- tr.acquire(context.Background(), 60) }()
	tr.ack(a, nil)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	tr.ack(b, nil)
	// A record bigger than the byte bound passes alone.
	if err := tr.acquire(context.Background(), 1000); err != nil {
		t.Fatal(err)
	}
}

func TestTrackerCompactsMemory(t *testing.T) {
	tr := newTracker(10, 1<<20, nil)
	for i := 0; i < 100000; i++ {
		id := tr.add(pos("1", int64(i)), true, true, 1)
		tr.ack(id, nil)
	}
	if len(tr.q) > 2048 {
		t.Fatalf("queue holds %d retired slots", len(tr.q))
	}
	if m, _ := tr.watermark(); m != pos("1", 99999) {
		t.Fatalf("watermark %v", m)
	}
}

// countingReleaser sums what a tracker gives back to the memory budget.
type countingReleaser struct{ released int64 }

func (c *countingReleaser) Release(n int64) { c.released += n }

// A record's memory charge comes back when it retires (acknowledged with
// everything before it), at once for a filtered record, and all of it when
// the tracker is abandoned; acknowledgements after that give nothing twice.
func TestTrackerReleasesMemoryCharges(t *testing.T) {
	mem := &countingReleaser{}
	tr := newTracker(100, 1<<20, mem)
	a := tr.add(pos("1", -1), true, true, 10)
	tr.charge(100)
	b := tr.add(pos("2", -1), true, true, 10)
	tr.charge(200)
	tr.ack(b, nil) // not retired: a is still pending
	if mem.released != 0 {
		t.Fatalf("released %d before the head was acknowledged", mem.released)
	}
	tr.ack(a, nil)
	if mem.released != 300 {
		t.Fatalf("released %d after both retired, want 300", mem.released)
	}
	tr.add(pos("3", -1), true, false, 0) // filtered: retires at once
	tr.charge(50)
	if mem.released != 350 {
		t.Fatalf("a filtered record's charge: released %d, want 350", mem.released)
	}
	c := tr.add(pos("4", -1), true, true, 10)
	tr.charge(400)
	tr.close()
	if mem.released != 750 {
		t.Fatalf("close released %d in all, want 750", mem.released)
	}
	tr.ack(c, nil)
	tr.charge(1)
	if mem.released != 751 {
		t.Fatalf("after close: released %d, want 751 (the late charge only)", mem.released)
	}
}
