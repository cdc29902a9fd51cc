package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/fakes/clock"
)

const (
	testTable    = "app-leases"
	testFailover = 10 * time.Second
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testLogger is silent unless LEASE_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("LEASE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// env is one lease table shared by several managers, on a manual clock.
type env struct {
	t   *testing.T
	ddb *fakeDDB
	clk *clock.Clock

	mu     sync.Mutex
	sleeps []time.Duration // backoff sleeps requested (they do not sleep)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, ddb: newFakeDDB(), clk: clock.NewManual(t0)}
	m := NewManager(e.ddb, testTable, "setup", WithClock(e.clk), WithLogger(testLogger()), WithSleep(e.sleep))
	if err := m.EnsureTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) sleep(ctx context.Context, d time.Duration) error {
	e.mu.Lock()
	e.sleeps = append(e.sleeps, d)
	e.mu.Unlock()
	return ctx.Err()
}

// manager returns a worker with its own fault wrapper over the shared table.
func (e *env) manager(id string, opts ...Option) (*Manager, *faulty) {
	f := &faulty{DynamoDBAPI: e.ddb}
	base := []Option{WithClock(e.clk), WithFailoverTime(testFailover), WithLogger(testLogger()), WithSleep(e.sleep), WithSeed(7)}
	return NewManager(f, testTable, id, append(base, opts...)...), f
}

func shardID(i int) string { return fmt.Sprintf("shardId-%012d", i) }

func (e *env) createLeases(n int) []string {
	e.t.Helper()
	m, _ := e.manager("creator")
	ids := make([]string, n)
	for i := range n {
		ids[i] = shardID(i)
		ok, err := m.CreateLease(context.Background(), Lease{ShardID: ids[i], Checkpoint: TrimHorizon})
		if err != nil || !ok {
			e.t.Fatalf("create %s: %v %v", ids[i], ok, err)
		}
	}
	return ids
}

// round ticks every manager once, then moves the clock by a renewal interval.
func (e *env) round(ms ...*Manager) {
	e.t.Helper()
	for _, m := range ms {
		if err := m.Tick(context.Background()); err != nil {
			e.t.Fatalf("%s tick: %v", m.WorkerID(), err)
		}
	}
	e.clk.Advance(testFailover / 3)
}

func (e *env) row(id string) Lease {
	e.t.Helper()
	m, _ := e.manager("reader")
	l, ok, err := m.Get(context.Background(), id)
	if err != nil || !ok {
		e.t.Fatalf("get %s: %v %v", id, ok, err)
	}
	return l
}

// drain returns the events queued so far.
func drain(m *Manager) []Event {
	var out []Event
	for {
		select {
		case ev := <-m.Events():
			out = append(out, ev)
		default:
			return out
		}
	}
}

func kinds(evs []Event, k EventKind) []Event {
	var out []Event
	for _, ev := range evs {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

func heldIDs(m *Manager) []string {
	var ids []string
	for _, l := range m.Held() {
		ids = append(ids, l.ShardID)
	}
	return ids
}

// checkExclusive fails if the table names a manager as owner of a lease that
// manager does not hold, or if two managers hold a lease that both renewed
// after the latest take. (A victim of a steal keeps believing it holds the
// lease until its next renewal: that window is inherent to the protocol, and
// its checkpoints are refused meanwhile.)
func (e *env) checkExclusive(ms ...*Manager) {
	e.t.Helper()
	byID := map[string]*Manager{}
	for _, m := range ms {
		byID[m.WorkerID()] = m
	}
	reader, _ := e.manager("reader")
	all, err := reader.List(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, l := range all {
		if m := byID[l.Owner]; m != nil && !m.Holds(l.ShardID) {
			e.t.Fatalf("table says %s owns %s but it does not hold it", l.Owner, l.ShardID)
		}
		for _, m := range ms {
			if m.WorkerID() != l.Owner && m.Holds(l.ShardID) {
				// Stale view: must be at most one renewal interval old.
				for _, h := range m.Held() {
					if h.ShardID == l.ShardID && h.Counter >= l.Counter {
						e.t.Fatalf("%s holds %s at counter %d but the table has %s at %d", m.WorkerID(), l.ShardID, h.Counter, l.Owner, l.Counter)
					}
				}
			}
		}
	}
}

func counts(ms ...*Manager) []int {
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = len(m.Held())
	}
	return out
}

func balanced(n int, cs []int) bool {
	lo, hi := n/len(cs), (n+len(cs)-1)/len(cs)
	sum := 0
	for _, c := range cs {
		if c < lo || c > hi {
			return false
		}
		sum += c
	}
	return sum == n
}

func throttle(op string) error {
	return apiErr("ProvisionedThroughputExceededException", "throttled "+op)
}

func isLost(err error) bool { return errors.Is(err, ErrLeaseLost) }
