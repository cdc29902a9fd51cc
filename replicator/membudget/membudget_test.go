package membudget

import (
	"context"
	"testing"
	"time"
)

func reserved(t *testing.T, a *Account, want, least int64) (int64, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	g, err := a.Reserve(ctx, want, least)
	return g, err == nil
}

func TestGrantsWithinTheTotal(t *testing.T) {
	b := New(100)
	a, c := b.Open(), b.Open()
	if g, ok := reserved(t, a, 70, 10); !ok || g != 70 {
		t.Fatalf("first grant %d %v, want 70", g, ok)
	}
	if g, ok := reserved(t, c, 50, 10); !ok || g != 30 {
		t.Fatalf("second grant %d %v, want the 30 left", g, ok)
	}
	if _, ok := reserved(t, c, 50, 10); ok {
		t.Fatal("granted past the total")
	}
	if b.Used() != 100 || b.Waits() != 1 {
		t.Fatalf("used %d waits %d, want 100 and 1", b.Used(), b.Waits())
	}
	a.Release(70)
	if g, ok := reserved(t, c, 50, 10); !ok || g != 50 {
		t.Fatalf("after a release: %d %v", g, ok)
	}
	a.Add(500) // memory already allocated is counted, not refused
	if b.Used() != 580 {
		t.Fatalf("used %d, want 580", b.Used())
	}
	a.Close()
	c.Close()
	if b.Used() != 0 {
		t.Fatalf("closed accounts left %d bytes", b.Used())
	}
}

// A record larger than the whole budget passes when the budget is empty.
func TestOversizedRecordPassesAlone(t *testing.T) {
	b := New(100)
	a, c := b.Open(), b.Open()
	if g, ok := reserved(t, a, 300, 300); !ok || g != 300 {
		t.Fatalf("oversized grant on an empty budget: %d %v", g, ok)
	}
	if _, ok := reserved(t, c, 300, 300); ok {
		t.Fatal("a second oversized grant while the first is held")
	}
	a.Release(300)
	if _, ok := reserved(t, c, 300, 300); !ok {
		t.Fatal("the oversized record did not pass once the budget emptied")
	}
}

// A waiting shard below its share goes before a shard above it: the hot
// shard's next grant waits until the cold one got room.
func TestFairShare(t *testing.T) {
	b := New(100)
	hot, cold := b.Open(), b.Open()
	if g, ok := reserved(t, hot, 90, 10); !ok || g != 90 {
		t.Fatalf("a lone hot shard gets what is free: %d %v", g, ok)
	}
	got := make(chan int64)
	go func() {
		g, _ := cold.Reserve(context.Background(), 40, 40)
		got <- g
	}()
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return cold.waiting })
	hot.Release(20) // 30 free: not enough for the cold shard's 40
	if _, ok := reserved(t, hot, 10, 10); ok {
		t.Fatal("the hot shard (above its share of 50) was granted while the cold one waits")
	}
	hot.Release(10)
	if g := <-got; g != 40 {
		t.Fatalf("cold shard granted %d, want 40", g)
	}
	hot.Release(20) // hot 40, cold 40: 20 free
	if _, ok := reserved(t, hot, 10, 10); !ok {
		t.Fatal("the hot shard waits although nobody below its share does")
	}
}

func TestReserveEndsWithItsContext(t *testing.T) {
	b := New(10)
	a, c := b.Open(), b.Open()
	reserved(t, a, 10, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := c.Reserve(ctx, 5, 5); done <- err }()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("Reserve returned a grant after its context ended")
	}
	if b.Used() != 10 {
		t.Fatalf("used %d after a cancelled reserve", b.Used())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition never held")
}
