// Package membudget bounds, across every shard of a replicator, the bytes of
// records fetched from Kinesis and not yet acknowledged by Kafka —
// GetRecords responses being decoded included. Per-shard limits alone
// multiply by the shard count: a worker holding 200 shards of large records
// would hold gigabytes.
//
// Contract:
//   - Budget.Total bytes are shared by the Accounts open on it (one per
//     shard being read). Reserve grants between min and want bytes, waiting
//     while fewer than min are free; Release returns them; Add counts bytes
//     already allocated (a response larger than its reservation) without
//     waiting, so Used may pass Total by that much.
//   - Fair share: Total / open accounts. While an account below its share
//     waits, no account at or above its share gets a new grant, so a hot
//     shard cannot starve the rest; while none waits, any account may use
//     whatever is free, so a lone hot shard gets the whole budget.
//   - An account holding nothing is granted what it wants even past Total when the
//     budget is otherwise empty: a single record larger than the budget
//     still goes through, one at a time.
//   - Close releases what the account still holds and leaves the share.
package membudget

import (
	"context"
	"sync"
	"sync/atomic"
)

// Budget is the shared pool.
type Budget struct {
	total int64

	mu       sync.Mutex
	used     int64
	accounts map[*Account]struct{}
	changed  chan struct{} // closed and replaced whenever bytes are freed or an account leaves, if anyone waits
	waiting  int           // accounts waiting in Reserve

	waits atomic.Int64
}

// New returns a budget of total bytes (at least 1).
func New(total int64) *Budget {
	return &Budget{total: max(total, 1), accounts: map[*Account]struct{}{}, changed: make(chan struct{})}
}

// Total is the budget's size in bytes.
func (b *Budget) Total() int64 { return b.total }

// Used is the bytes held by every account now.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Waits counts the Reserve calls that had to wait.
func (b *Budget) Waits() int64 { return b.waits.Load() }

// Open returns a new account (one per shard being read).
func (b *Budget) Open() *Account {
	a := &Account{b: b}
	b.mu.Lock()
	b.accounts[a] = struct{}{}
	b.mu.Unlock()
	return a
}

// Account is one shard's part of the budget.
type Account struct {
	b       *Budget
	used    int64 // guarded by b.mu
	waiting bool  // guarded by b.mu
	closed  bool  // guarded by b.mu
}

// Reserve waits until at least least bytes can be granted to the account
// and grants up to want. It returns ctx's error if ctx ends first.
func (a *Account) Reserve(ctx context.Context, want, least int64) (int64, error) {
	least = max(least, 1)
	want = max(want, least)
	b := a.b
	counted := false
	for {
		b.mu.Lock()
		if g, ok := a.grantLocked(want, least); ok {
			a.used += g
			b.used += g
			a.stopWaitingLocked()
			b.mu.Unlock()
			return g, nil
		}
		if !a.waiting {
			a.waiting = true
			b.waiting++
		}
		ch := b.changed
		b.mu.Unlock()
		if !counted {
			counted = true
			b.waits.Add(1)
		}
		select {
		case <-ctx.Done():
			b.mu.Lock()
			a.stopWaitingLocked()
			b.mu.Unlock()
			b.notify() // others may have deferred to this account
			return 0, ctx.Err()
		case <-ch:
		}
	}
}

func (a *Account) stopWaitingLocked() {
	if a.waiting {
		a.waiting = false
		a.b.waiting--
	}
}

// grantLocked decides a grant; b.mu must be held.
func (a *Account) grantLocked(want, least int64) (int64, bool) {
	b := a.b
	free := b.total - b.used
	if free < least {
		if a.used == 0 && b.used == 0 {
			return least, true // alone and empty: even an oversized record passes
		}
		return 0, false
	}
	share := b.total / int64(max(len(b.accounts), 1))
	if a.used >= share {
		for o := range b.accounts {
			if o != a && o.waiting && o.used < share {
				return 0, false // a shard below its share goes first
			}
		}
	}
	return min(want, free), true
}

// Add counts n more bytes without waiting (memory already allocated).
func (a *Account) Add(n int64) {
	if n <= 0 {
		return
	}
	b := a.b
	b.mu.Lock()
	a.used += n
	b.used += n
	b.mu.Unlock()
}

// Release returns n bytes (at most what the account holds).
func (a *Account) Release(n int64) {
	if n <= 0 {
		return
	}
	b := a.b
	b.mu.Lock()
	n = min(n, a.used)
	a.used -= n
	b.used -= n
	b.mu.Unlock()
	b.notify()
}

// Total is the whole budget's size.
func (a *Account) Total() int64 { return a.b.total }

// Held is what the account holds now.
func (a *Account) Held() int64 {
	a.b.mu.Lock()
	defer a.b.mu.Unlock()
	return a.used
}

// Close releases everything the account holds and leaves the budget.
func (a *Account) Close() {
	b := a.b
	b.mu.Lock()
	if a.closed {
		b.mu.Unlock()
		return
	}
	a.closed = true
	b.used -= a.used
	a.used = 0
	a.stopWaitingLocked()
	delete(b.accounts, a)
	b.mu.Unlock()
	b.notify()
}

// notify wakes every waiter to re-check; it costs nothing when none waits
// (every acknowledgement releases bytes).
func (b *Budget) notify() {
	b.mu.Lock()
	if b.waiting > 0 {
		close(b.changed)
		b.changed = make(chan struct{})
	}
	b.mu.Unlock()
}
