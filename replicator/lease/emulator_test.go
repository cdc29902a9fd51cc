package lease_test

// Integration tests: the Manager over the real AWS SDK client and wire
// protocol, against the in-process DynamoDB emulator, with the shared fault
// layer in front of it for throttling.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardbridge/shardbridge/fakes/clock"
	fakeddb "github.com/shardbridge/shardbridge/fakes/dynamodb"
	"github.com/shardbridge/shardbridge/fakes/fault"
	"github.com/shardbridge/shardbridge/replicator/lease"
)

const failover = 10 * time.Second

type stack struct {
	t      *testing.T
	client *dynamodb.Client
	inj    *fault.Injector
	clk    *clock.Clock
	table  string
	url    string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	inj := fault.New(fault.WithSeed(1))
	srv := httptest.NewServer(inj.Middleware(fakeddb.New()))
	t.Cleanup(srv.Close)
	client := dynamodb.New(dynamodb.Options{
		BaseEndpoint: aws.String(srv.URL),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		// The Manager does its own retries; keep the SDK's out of the way so
		// the tests observe every throttle.
		Retryer: aws.NopRetryer{},
	})
	s := &stack{t: t, client: client, inj: inj, clk: clock.NewManual(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)), table: "replicator-app", url: srv.URL}
	if err := s.manager("setup").EnsureTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *stack) manager(id string, opts ...lease.Option) *lease.Manager {
	base := []lease.Option{
		lease.WithClock(s.clk), lease.WithFailoverTime(failover), lease.WithSeed(3),
		lease.WithLogger(slog.New(slog.DiscardHandler)),
		lease.WithSleep(func(ctx context.Context, _ time.Duration) error { return ctx.Err() }),
	}
	return lease.NewManager(s.client, s.table, id, append(base, opts...)...)
}

func (s *stack) round(ms ...*lease.Manager) {
	s.t.Helper()
	for _, m := range ms {
		if err := m.Tick(context.Background()); err != nil {
			s.t.Fatalf("%s: %v", m.WorkerID(), err)
		}
	}
	s.clk.Advance(failover / 3)
}

func (s *stack) create(ids ...string) {
	s.t.Helper()
	m := s.manager("creator")
	for _, id := range ids {
		if _, err := m.CreateLease(context.Background(), lease.Lease{ShardID: id, Checkpoint: lease.TrimHorizon}); err != nil {
			s.t.Fatal(err)
		}
	}
}

func drainEvents(m *lease.Manager) []lease.Event {
	var out []lease.Event
	for {
		select {
		case ev := <-m.Events():
			out = append(out, ev)
		default:
			return out
		}
	}
}

func held(ms ...*lease.Manager) []int {
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = len(m.Held())
	}
	return out
}

func TestEmulatorTableCreation(t *testing.T) {
	s := newStack(t)
	out, err := s.client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Table.TableStatus != types.TableStatusActive || aws.ToString(out.Table.KeySchema[0].AttributeName) != "leaseKey" {
		t.Fatalf("table %+v", out.Table)
	}
	if out.Table.BillingModeSummary == nil || out.Table.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Fatalf("billing %+v", out.Table.BillingModeSummary)
	}
	if err := s.manager("again").EnsureTable(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestEmulatorBalanceStealAndZombie(t *testing.T) {
	s := newStack(t)
	var ids []string
	for i := range 7 {
		ids = append(ids, fmt.Sprintf("shardId-%012d", i))
	}
	s.create(ids...)
	w1, w2, w3 := s.manager("w1"), s.manager("w2", lease.WithSeed(4)), s.manager("w3", lease.WithSeed(5))
	s.round(w1)
	for range 6 {
		s.round(w1, w2, w3)
	}
	c := held(w1, w2, w3)
	slices.Sort(c)
	if !slices.Equal(c, []int{2, 2, 3}) {
		t.Fatalf("split %v", held(w1, w2, w3))
	}
	// w1 stops renewing (paused); after failover the others take its leases.
	victim := w1.Held()[0].ShardID
	if err := w1.Checkpoint(context.Background(), victim, "49590338271490256608559692538361571095921575989136588898", 0); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		s.round(w2, w3)
	}
	if c := held(w2, w3); c[0]+c[1] != 7 {
		t.Fatalf("survivors hold %v", c)
	}
	drainEvents(w1)
	err := w1.Checkpoint(context.Background(), victim, "49590338271490256608559692538361571095921575989136588999", 0)
	if !errors.Is(err, lease.ErrLeaseLost) {
		t.Fatalf("zombie checkpoint: %v", err)
	}
	if evs := drainEvents(w1); len(evs) != 1 || evs[0].Kind != lease.Lost {
		t.Fatalf("zombie events %+v", evs)
	}
	l, _, err := w2.Get(context.Background(), victim)
	if err != nil || !strings.HasSuffix(l.Checkpoint, "898") || l.OwnerSwitchesSinceCheckpoint != 1 {
		t.Fatalf("row %+v %v", l, err)
	}
}

func TestEmulatorMergeAndCorruptRow(t *testing.T) {
	s := newStack(t)
	s.create("a", "b")
	w := s.manager("w1")
	s.round(w)
	ctx := context.Background()
	merged := lease.ChildShard{ShardID: "m", ParentShardIDs: []string{"a", "b"}, StartingHashKey: "0", EndingHashKey: "9"}
	if err := w.CheckpointShardEnd(ctx, "a", []lease.ChildShard{merged}); err != nil {
		t.Fatal(err)
	}
	s.round(w)
	if w.Holds("m") {
		t.Fatal("merge child taken before its second parent finished")
	}
	if err := w.CheckpointShardEnd(ctx, "b", []lease.ChildShard{merged}); err != nil {
		t.Fatal(err)
	}
	// Someone corrupts an unrelated row by hand; the round must carry on.
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: map[string]types.AttributeValue{
		"leaseKey": &types.AttributeValueMemberS{Value: "junk"}, "leaseCounter": &types.AttributeValueMemberS{Value: "NaN"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.round(w)
	if !w.Holds("m") || w.Holds("junk") {
		t.Fatalf("held %v", w.Held())
	}
	m, _, err := w.Get(ctx, "m")
	if err != nil || !slices.Equal(m.ParentShardIDs, []string{"a", "b"}) || m.Checkpoint != lease.TrimHorizon {
		t.Fatalf("child %+v %v", m, err)
	}
	a, _, _ := w.Get(ctx, "a")
	if !slices.Equal(a.ChildShardIDs, []string{"m"}) || a.Checkpoint != lease.ShardEnd {
		t.Fatalf("parent %+v", a)
	}
}

func TestEmulatorThrottledRenewalsDoNotFlap(t *testing.T) {
	s := newStack(t)
	s.create("s0", "s1", "s2", "s3")
	w1, w2 := s.manager("w1"), s.manager("w2", lease.WithSeed(9))
	s.round(w1)
	for range 3 {
		s.round(w1, w2)
	}
	drainEvents(w1)
	drainEvents(w2)
	before := [][]lease.Lease{w1.Held(), w2.Held()}
	// Every lease-table write is throttled for a while: two throttles per
	// round, absorbed by the retries within the round.
	for range 6 {
		s.inj.Add(fault.Rule{Name: "lease-throttle", Service: fault.ServiceDynamoDB, Operations: []string{"UpdateItem"}, Count: 2, Action: fault.Throttle})
		s.round(w1, w2)
	}
	if n := s.inj.Count(fault.Throttle); n != 12 {
		t.Fatalf("throttles injected %d, want 12", n)
	}
	if evs := append(drainEvents(w1), drainEvents(w2)...); len(evs) != 0 {
		t.Fatalf("leases flapped: %+v", evs)
	}
	if !slices.EqualFunc(before[0], w1.Held(), func(a, b lease.Lease) bool { return a.ShardID == b.ShardID }) {
		t.Fatal("w1's leases changed")
	}
	if w1.Stats().Throttles+w2.Stats().Throttles != 12 {
		t.Fatalf("throttles seen %d+%d", w1.Stats().Throttles, w2.Stats().Throttles)
	}
}

// A write whose answer is lost (applied, then HTTP 500) must not cost the
// lease, even with a client configured as production ones are (the SDK's
// standard retryer): a blind retry of the renewal or checkpoint fails its
// own condition, and only the manager, seeing the ambiguous attempt, can
// tell that the row is its own write.
func TestEmulatorLostResponsesDoNotLoseLeases(t *testing.T) {
	s := newStack(t)
	s.client = dynamodb.New(dynamodb.Options{
		BaseEndpoint: aws.String(s.url),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.RateLimiter = ratelimit.None
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
	s.create("s0")
	w := s.manager("w1")
	s.round(w)
	if evs := drainEvents(w); len(evs) != 1 || evs[0].Kind != lease.Acquired {
		t.Fatalf("events %+v", evs)
	}
	loseOne := fault.Rule{Name: "lose-update", Service: fault.ServiceDynamoDB, Operations: []string{"UpdateItem"}, Count: 1, Action: fault.LoseResponse}
	s.inj.Add(loseOne)
	s.round(w) // the renewal
	s.inj.Add(loseOne)
	if err := w.Checkpoint(context.Background(), "s0", "49000000000000000000000000000000000000000000000000000042", 0); err != nil {
		t.Fatalf("checkpoint with a lost answer: %v", err)
	}
	if n := s.inj.Count(fault.LoseResponse); n != 2 {
		t.Fatalf("answers lost %d, want 2", n)
	}
	if evs := drainEvents(w); len(evs) != 0 {
		t.Fatalf("a lost answer cost the lease: %+v", evs)
	}
	s.round(w)
	row, ok, err := w.Get(context.Background(), "s0")
	if err != nil || !ok || row.Owner != "w1" || row.Checkpoint != "49000000000000000000000000000000000000000000000000000042" {
		t.Fatalf("row %+v %v %v", row, ok, err)
	}
	if !w.Holds("s0") {
		t.Fatal("w1 no longer holds s0")
	}
}

// A checkpoint whose first attempt lands while every answer is lost ends
// in an error of unknown outcome; the next renewal meets the moved counter
// and must recognise the landed write as its own rather than drop the lease.
func TestEmulatorWriteOfUnknownOutcomeDoesNotLoseTheLease(t *testing.T) {
	s := newStack(t)
	s.create("s0")
	w := s.manager("w1")
	s.round(w)
	drainEvents(w)
	const seq = "49000000000000000000000000000000000000000000000000000042"
	// Every attempt of the checkpoint (six by default) loses its answer.
	s.inj.Add(fault.Rule{Name: "lose-all", Service: fault.ServiceDynamoDB, Operations: []string{"UpdateItem"}, Count: 6, Action: fault.LoseResponse})
	err := w.Checkpoint(context.Background(), "s0", seq, 0)
	if err == nil || errors.Is(err, lease.ErrLeaseLost) {
		t.Fatalf("checkpoint with every answer lost: %v, want a transient error", err)
	}
	if n := s.inj.Count(fault.LoseResponse); n != 6 {
		t.Fatalf("answers lost %d, want 6", n)
	}
	s.round(w)
	if evs := drainEvents(w); len(evs) != 0 {
		t.Fatalf("a write of unknown outcome cost the lease: %+v", evs)
	}
	s.round(w)
	if !w.Holds("s0") {
		t.Fatal("w1 no longer holds s0")
	}
	if err := w.Checkpoint(context.Background(), "s0", seq, 1); err != nil {
		t.Fatalf("checkpoint after re-reading the lease: %v", err)
	}
	row, ok, err := w.Get(context.Background(), "s0")
	if err != nil || !ok || row.Owner != "w1" || row.Checkpoint != seq || row.SubSequence != 1 {
		t.Fatalf("row %+v %v %v", row, ok, err)
	}
}

func TestEmulatorConcurrentCheckpoints(t *testing.T) {
	s := newStack(t)
	var ids []string
	for i := range 16 {
		ids = append(ids, fmt.Sprintf("shard-%02d", i))
	}
	s.create(ids...)
	m := s.manager("w1")
	s.round(m)
	ctx, cancel := context.WithCancel(context.Background())
	var ticks sync.WaitGroup
	ticks.Add(1)
	go func() {
		defer ticks.Done()
		for ctx.Err() == nil {
			_ = m.Tick(ctx)
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= 20; i++ {
				if err := m.Checkpoint(ctx, id, fmt.Sprint(1000+i), int64(g)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	ticks.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	list, err := m.List(context.Background())
	if err != nil || len(list) != 16 {
		t.Fatalf("list %d %v", len(list), err)
	}
	for _, l := range list {
		if l.Checkpoint != "1020" || l.Owner != "w1" {
			t.Fatalf("row %+v", l)
		}
	}
}

// A round that follows another at once (the ticker's pending tick after a
// slow round) does not steal again: one steal per round interval.
func TestEmulatorOneStealPerRoundInterval(t *testing.T) {
	s := newStack(t)
	s.create("s0", "s1", "s2", "s3")
	w1, w2 := s.manager("w1"), s.manager("w2", lease.WithSeed(9))
	s.round(w1)
	if n := len(w1.Held()); n != 4 {
		t.Fatalf("w1 holds %d, want 4", n)
	}
	tick := func() {
		t.Helper()
		if err := w2.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	tick()
	tick() // at once: no second steal
	if n := len(w2.Held()); n != 1 {
		t.Fatalf("w2 holds %d after two back-to-back rounds, want 1", n)
	}
	s.clk.Advance(failover / 3)
	tick()
	if n := len(w2.Held()); n != 2 {
		t.Fatalf("w2 holds %d a round interval later, want 2", n)
	}
}
