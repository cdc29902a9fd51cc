package replicator_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/fakes/fault"
	"github.com/shardbridge/shardbridge/replicator"
	"github.com/shardbridge/shardbridge/replicator/lease"
	"github.com/shardbridge/shardbridge/replicator/source"
)

// gateSink blocks every Produce while the gate is closed.
type gateSink struct {
	replicator.Sink
	mu      sync.Mutex
	open    chan struct{}
	blocked atomic.Int64
}

func newGateSink(s replicator.Sink) *gateSink {
	return &gateSink{Sink: s, open: make(chan struct{})} // starts closed
}

func (g *gateSink) Produce(ctx context.Context, r *kgo.Record, p func(*kgo.Record, error)) {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
	default:
		g.blocked.Add(1)
		select {
		case <-open:
		case <-ctx.Done():
			p(r, ctx.Err())
			return
		}
	}
	g.Sink.Produce(ctx, r, p)
}

func (g *gateSink) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// countingKinesis counts successful GetRecords calls.
type countingKinesis struct {
	source.KinesisAPI
	gets atomic.Int64
}

func (c *countingKinesis) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, o ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	out, err := c.KinesisAPI.GetRecords(ctx, in, o...)
	if err == nil && len(out.Records) > 0 {
		c.gets.Add(1)
	}
	return out, err
}

// The Kafka sink stalls for longer than an iterator lives (the emulator's
// clock jumps 6 minutes while a batch is held): the readers renew their
// iterators after the last record handed on, so nothing is lost and nothing
// is replayed.
func TestExpiredIteratorsWhileSinkStalled(t *testing.T) {
	e := newTestEnv(t, 2, 4)
	e.write(20, 20) // 400 records, about 200 per shard
	var gate *gateSink
	counting := &countingKinesis{KinesisAPI: e.repKin}
	cfg := e.config("w1")
	cfg.MaxRecordsPerGet = 40
	in := e.start(cfg,
		replicator.WithKinesisClient(counting),
		replicator.WithSinkWrapper(func(s replicator.Sink) replicator.Sink { gate = newGateSink(s); return gate }))
	// Each shard: batch 1 handed on (stuck in the sink), batch 2 prefetched.
	eventually(t, 10*time.Second, "the sink stalled with batches prefetched", func() bool {
		return gate.blocked.Load() >= 2 && counting.gets.Load() >= 4
	})
	e.clock.Advance(6 * time.Minute)
	// Exactly one batch prefetched per shard while the first one is stuck.
	if n := counting.gets.Load(); n != 4 {
		t.Errorf("%d GetRecords with records while the sink stalled, want 4 (one batch in the sink, one prefetched, per shard)", n)
	}
	gate.release()
	rep := e.waitDelivered(20 * time.Second)
	if rep.Duplicates != 0 {
		t.Errorf("%d records replayed: the iterator was not renewed at the last record handed on", rep.Duplicates)
	}
	if n := in.r.Stats().ExpiredIterators; n < 2 {
		t.Errorf("expired iterators = %d, want at least one per shard", n)
	}
	if v := in.metric(t, "replicator_expired_iterators_total"); v != float64(in.r.Stats().ExpiredIterators) {
		t.Errorf("replicator_expired_iterators_total = %v, Stats %d", v, in.r.Stats().ExpiredIterators)
	}
	if !e.logged(t, "shard iterator expired; renewing") {
		t.Error("no JSON log line of the iterator renewal")
	}
}

// GetRecords is throttled for 10 seconds of the emulator clock. The test
// does not sleep them: it waits until the readers have backed off a number
// of times (milliseconds of real time with the test's short back-off), then
// moves the clock past the window; the readers recover and deliver all.
func TestGetRecordsThrottledFor10Seconds(t *testing.T) {
	e := newTestEnv(t, 2, 4)
	e.write(10, 20)
	now := e.clock.Now()
	e.inj.Add(fault.Rule{Name: "throttle-10s", Service: fault.ServiceKinesis, Operations: []string{"GetRecords"},
		From: now, Until: now.Add(10 * time.Second), Action: fault.Throttle})
	in := e.start(e.config("w1"))
	eventually(t, 15*time.Second, "readers throttled repeatedly", func() bool { return in.r.Stats().Throttles >= 10 })
	if out := in.r.Stats().RecordsOut; out != 0 {
		t.Fatalf("%d records delivered through a full throttle", out)
	}
	e.clock.Advance(10 * time.Second)
	rep := e.waitDelivered(20 * time.Second)
	if rep.Duplicates != 0 {
		t.Errorf("%d duplicates", rep.Duplicates)
	}
	injected := e.inj.Count(fault.Throttle)
	if st := in.r.Stats(); st.Throttles != int64(injected) {
		t.Errorf("replicator counted %d throttles, fault layer injected %d", st.Throttles, injected)
	}
	if v := in.metric(t, `replicator_throttles_total{operation="GetRecords"}`); v != float64(injected) {
		t.Errorf("replicator_throttles_total = %v, fault layer injected %d", v, injected)
	}
	if !e.logged(t, "GetRecords throttled; backing off") || !e.logged(t, "GetRecords recovered") {
		t.Error("no JSON log lines of the throttling episode")
	}
}

// A produce that fails with a non-retriable error rewinds the shard to its
// last acknowledged record: nothing is lost or reordered.
func TestProduceFailureRewinds(t *testing.T) {
	e := newTestEnv(t, 2, 2)
	e.write(10, 20)
	in := e.start(e.config("w1"))
	e.waitDelivered(20 * time.Second)
	e.kafka.FailProduce(e.topic, kerr.InvalidRecord.Code, 3)
	e.write(10, 20)
	e.waitDelivered(20 * time.Second)
	if n := in.r.Stats().ProduceErrors; n == 0 {
		t.Error("no produce error seen: the fault did not reach the replicator")
	}
}

// The Kafka broker restarts mid-stream: the producer reconnects and nothing
// is lost or reordered.
func TestKafkaBrokerRestart(t *testing.T) {
	e := newTestEnv(t, 2, 2)
	e.start(e.config("w1"))
	e.write(5, 20)
	e.waitDelivered(20 * time.Second)
	wait := e.writeAsync(20, 20, 10*time.Millisecond)
	if err := e.kafka.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	wait()
	e.waitDelivered(30 * time.Second)
}

// holdSink keeps every record (and its promise) until released: Produce
// returns at once, as franz-go's does, so only the replicator's own bound
// limits what a shard hands on.
type holdSink struct {
	replicator.Sink
	mu       sync.Mutex
	released bool
	held     []heldRecord
	perShard map[string]int
}

type heldRecord struct {
	r *kgo.Record
	p func(*kgo.Record, error)
}

func (h *holdSink) Produce(ctx context.Context, r *kgo.Record, p func(*kgo.Record, error)) {
	h.mu.Lock()
	if !h.released {
		h.held = append(h.held, heldRecord{r, p})
		for _, hd := range r.Headers {
			if hd.Key == "kinesis.shard" {
				h.perShard[string(hd.Value)]++
			}
		}
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	h.Sink.Produce(ctx, r, p)
}

func (h *holdSink) release() {
	h.mu.Lock()
	held := h.held
	h.held, h.released = nil, true
	h.mu.Unlock()
	for _, x := range held {
		h.Sink.Produce(context.Background(), x.r, x.p)
	}
}

func (h *holdSink) counts() (total int, maxPerShard int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.perShard {
		total += n
		maxPerShard = max(maxPerShard, n)
	}
	return total, maxPerShard
}

// While Kafka acknowledges nothing, each shard hands on at most
// REPLICATOR_MAX_INFLIGHT_PER_SHARD records and no checkpoint moves; once
// acknowledgements come, everything is delivered and checkpointed.
func TestInFlightBoundedAndCheckpointOnlyPastAcks(t *testing.T) {
	e := newTestEnv(t, 2, 2)
	e.write(10, 20) // 200 records, both shards well above the bound
	cfg := e.config("w1")
	cfg.MaxInFlightPerShard = 25
	hold := &holdSink{perShard: map[string]int{}}
	in := e.start(cfg, replicator.WithSinkWrapper(func(s replicator.Sink) replicator.Sink { hold.Sink = s; return hold }))
	eventually(t, 10*time.Second, "both shards at their in-flight bound", func() bool {
		total, _ := hold.counts()
		return total >= 50
	})
	// Several checkpoint intervals pass while nothing is acknowledged.
	ticks := in.metric(t, `replicator_checkpoints_total{result="ok"}`)
	// An absence check needs time: three checkpoint intervals, in which a
	// wrong checkpoint or more records handed on would show.
	time.Sleep(3 * cfg.CheckpointInterval)
	if total, perShard := hold.counts(); perShard > cfg.MaxInFlightPerShard {
		t.Errorf("%d records of one shard in flight (%d in all), bound %d", perShard, total, cfg.MaxInFlightPerShard)
	}
	if got := in.metric(t, `replicator_checkpoints_total{result="ok"}`); got != ticks {
		t.Errorf("checkpoints written while nothing was acknowledged: %v → %v", ticks, got)
	}
	for _, l := range e.leases() {
		if l.Checkpoint != lease.TrimHorizon {
			t.Errorf("lease %s checkpoint %s while Kafka acknowledged nothing", l.ShardID, l.Checkpoint)
		}
	}
	hold.release()
	e.waitDelivered(20 * time.Second)
	last := e.lastSeqs()
	eventually(t, 10*time.Second, "checkpoints at the last records", func() bool {
		for _, l := range e.leases() {
			if l.Checkpoint != last[l.ShardID] {
				return false
			}
		}
		return true
	})
}

// A worker whose lease table is unreachable hands nothing more to Kafka once
// its leases are past their deadline (last renewal + failover time): the
// moment from which another worker may take them over. Lease rounds notice
// the loss only at their next tick; the hand-off itself must not wait.
func TestNoHandOffPastTheLeaseDeadline(t *testing.T) {
	e := newTestEnv(t, 2, 2)
	e.start(e.config("w1"), replicator.WithClock(e.clock))
	e.write(5, 20)
	e.waitDelivered(20 * time.Second)
	before := len(e.writtenRecords())

	id := e.inj.Add(fault.Rule{Name: "lease-table-down", Service: fault.ServiceDynamoDB, Action: fault.InternalFailure})
	defer e.inj.Remove(id)
	e.clock.Advance(4 * time.Second) // past the 3 s failover time
	e.write(5, 20)
	eventually(t, 20*time.Second, "both shards stopped", func() bool {
		n := 0
		for _, m := range e.logLines(t) {
			// A lease round may notice first (renewal failing, or the
			// lease no longer in Held); the records in Kafka tell.
			if r, _ := m["reason"].(string); m["msg"] == "stopping shard at once" && (strings.HasPrefix(r, "lease no longer held") || strings.HasPrefix(r, "lease lost: renewal failing")) {
				n++
			}
		}
		return n == 2
	})
	got := readTopic(t, e, e.topic)
	if len(got) != before {
		t.Fatalf("%d records in Kafka, want the %d written before the deadline: records were handed off after it", len(got), before)
	}
}

// The lag a shard reports keeps growing while it cannot read (GetRecords
// throttled) and while it cannot hand records on (the sink stalled), and
// falls back once it catches up: the "falling behind" alarm fires exactly
// when records wait.
func TestLagGrowsWhileThrottledOrStalled(t *testing.T) {
	const behind = 1500 // ms: a few poll intervals of waiting
	lagOf := func(in *instance) (int64, time.Duration) {
		for _, s := range in.r.Stats().Shards {
			return s.MillisBehindLatest, s.OldestUnacknowledged
		}
		return 0, 0
	}
	t.Run("throttled", func(t *testing.T) {
		e := newTestEnv(t, 1, 2)
		e.write(5, 10)
		now := e.clock.Now()
		e.inj.Add(fault.Rule{Name: "throttle", Service: fault.ServiceKinesis, Operations: []string{"GetRecords"},
			From: now, Until: now.Add(time.Minute), Action: fault.Throttle})
		in := e.start(e.config("w1"))
		eventually(t, 20*time.Second, "the lag to grow while throttled", func() bool {
			ms, _ := lagOf(in)
			return ms >= behind
		})
		if v := in.metric(t, `replicator_millis_behind_latest{shard="shardId-000000000000"}`); v < behind {
			t.Errorf("replicator_millis_behind_latest = %v while throttled, want >= %d", v, behind)
		}
		if out := in.r.Stats().RecordsOut; out != 0 {
			t.Fatalf("%d records delivered through the throttle", out)
		}
		e.clock.Advance(time.Minute)
		e.waitDelivered(20 * time.Second)
		eventually(t, 20*time.Second, "the lag to fall back once caught up", func() bool {
			ms, _ := lagOf(in)
			return ms < behind
		})
	})
	t.Run("sink-stalled", func(t *testing.T) {
		e := newTestEnv(t, 1, 2)
		e.write(5, 10)
		var gate *gateSink
		in := e.start(e.config("w1"),
			replicator.WithSinkWrapper(func(s replicator.Sink) replicator.Sink { gate = newGateSink(s); return gate }))
		eventually(t, 10*time.Second, "the sink to stall", func() bool { return gate.blocked.Load() >= 1 })
		eventually(t, 20*time.Second, "the lag and the oldest record's age to grow while the sink stalls", func() bool {
			ms, oldest := lagOf(in)
			return ms >= behind && oldest >= behind*time.Millisecond
		})
		if v := in.metric(t, `replicator_oldest_unacknowledged_record_age_seconds{shard="shardId-000000000000"}`); v < behind/1000.0 {
			t.Errorf("replicator_oldest_unacknowledged_record_age_seconds = %v while the sink stalls", v)
		}
		gate.release()
		e.waitDelivered(20 * time.Second)
		eventually(t, 20*time.Second, "the lag to fall back once delivered", func() bool {
			ms, oldest := lagOf(in)
			return ms < behind && oldest == 0
		})
	})
}

// The memory budget bounds what all shards hold fetched and not yet
// acknowledged: a backlog of 8 shards × 40 KB records many times the budget
// is replicated completely while the bytes held never pass it (records of
// one size: no response outgrows its reservation), and every byte comes
// back once the backlog is delivered.
func TestMemoryBudgetBoundsEveryShardTogether(t *testing.T) {
	const budget = 2 << 20
	e := newTestEnv(t, 8, 8)
	e.pad = 40_000
	e.write(12, 32) // 384 records, about 15 MB: seven times the budget
	cfg := e.config("w1")
	cfg.MemoryBudget = budget
	in := e.start(cfg)
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peak.Store(max(peak.Load(), in.r.Stats().MemoryInUse))
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	rep := e.waitDelivered(60 * time.Second)
	close(stop)
	<-sampled
	t.Logf("budget %d, peak in use %d: %s", budget, peak.Load(), rep)
	if p := peak.Load(); p > budget || p == 0 {
		t.Errorf("peak bytes held %d, budget %d", p, budget)
	}
	if st := in.r.Stats(); st.MemoryBudget != budget {
		t.Errorf("Stats.MemoryBudget = %d, want %d", st.MemoryBudget, budget)
	}
	if v := in.metric(t, "replicator_memory_waits_total"); v == 0 {
		t.Error("no GetRecords waited for room: the budget did not bind")
	}
	eventually(t, 10*time.Second, "every byte of the budget to come back", func() bool { return in.r.Stats().MemoryInUse == 0 })
}
