// Package clock is the controllable clock shared by Shardbridge's emulators.
//
// A Clock runs on real time plus an offset by default, so rate limits behave as
// in production, and a test can Advance it to expire iterators, leases or
// retention instantly without sleeping. A frozen clock (NewManual) moves only
// when told to, for fully deterministic unit tests. The zero value is not
// usable; build one with New or NewManual. All methods are safe for concurrent use.
package clock

import (
	"sync"
	"time"
)

// Clock is a source of time that tests can move forward.
type Clock struct {
	mu     sync.Mutex
	frozen bool
	now    time.Time     // frozen time, when frozen
	offset time.Duration // added to real time, when not frozen
}

// New returns a clock that follows real time until Advance is called.
func New() *Clock { return &Clock{} }

// NewManual returns a clock frozen at start; only Advance and Set move it.
func NewManual(start time.Time) *Clock { return &Clock{frozen: true, now: start} }

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return c.now
	}
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d (negative d is ignored: time never runs back).
func (c *Clock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		c.now = c.now.Add(d)
		return
	}
	c.offset += d
}

// Set moves the clock to t if t is later than the current time.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		if t.After(c.now) {
			c.now = t
		}
		return
	}
	if d := time.Until(t); d > c.offset {
		c.offset = d
	}
}

// Offset reports how far the clock has been advanced beyond real time
// (zero for a frozen clock).
func (c *Clock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}
