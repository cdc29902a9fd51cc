package clock

import (
	"testing"
	"time"
)

func TestManualClockMovesOnlyWhenTold(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewManual(start)
	if !c.Now().Equal(start) {
		t.Fatalf("Now = %v, want %v", c.Now(), start)
	}
	c.Advance(5 * time.Minute)
	if got, want := c.Now(), start.Add(5*time.Minute); !got.Equal(want) {
		t.Fatalf("after Advance: %v, want %v", got, want)
	}
	c.Advance(-time.Hour)
	c.Set(start)
	if got, want := c.Now(), start.Add(5*time.Minute); !got.Equal(want) {
		t.Fatalf("clock ran back: %v, want %v", got, want)
	}
}

func TestRealClockAdvanceAddsOffset(t *testing.T) {
	c := New()
	c.Advance(time.Hour)
	if d := time.Until(c.Now()); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("offset after Advance(1h) = %v", d)
	}
	if c.Offset() != time.Hour {
		t.Fatalf("Offset = %v", c.Offset())
	}
}
