package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// tailResult is what the steady writes after the catch-up showed.
type tailResult struct {
	rate          float64 // records/s asked for
	sent          int     // records acknowledged by PutRecords
	received      int     // of those, consumed from Kafka
	p50, p99, max time.Duration
}

type tailRun struct {
	w         *writer
	kafkaOpts []kgo.Opt
	topic     string
	start     map[int32]int64 // where the consumer starts: past the backlog
	exactly   bool
	firstID   uint64 // ids below are the backlog's
	rate      float64
	duration  time.Duration
	drain     time.Duration // how long to wait for the last records after the writes
	rep       *replicator
}

// tickEvery spreads the writes: one PutRecords every tick.
const tickEvery = 20 * time.Millisecond

// measure writes at t.rate for t.duration while a consumer reads the topic,
// and returns the latency from each record's PutRecords acknowledgement to
// its consumption.
func (t tailRun) measure(ctx context.Context) (tailResult, error) {
	res := tailResult{rate: t.rate}
	var mu sync.Mutex
	acked := map[uint64]time.Time{}
	consumed := map[uint64]time.Time{}

	offsets := map[int32]kgo.Offset{}
	for p, o := range t.start {
		offsets[p] = kgo.NewOffset().At(o)
	}
	opts := append(append([]kgo.Opt(nil), t.kafkaOpts...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{t.topic: offsets}))
	if t.exactly {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return res, fmt.Errorf("tail consumer: %w", err)
	}
	defer cl.Close()
	cctx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()
	consumerDone := make(chan struct{})
	go func() {
		defer close(consumerDone)
		for cctx.Err() == nil {
			fs := cl.PollFetches(cctx)
			now := time.Now()
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				if id, ok := recordID(r.Value); ok && id >= t.firstID {
					if _, dup := consumed[id]; !dup {
						consumed[id] = now
					}
				}
			})
			mu.Unlock()
		}
	}()

	// The writes: one batch per tick, each put in its own goroutine so a
	// slow or throttled call does not shift the schedule.
	total := max(1, int(t.rate*t.duration.Seconds()+0.5))
	var puts sync.WaitGroup
	putErr := make(chan error, 1)
	next := t.firstID
	end := t.firstID + uint64(total)
	begin := time.Now()
	tick := time.NewTicker(tickEvery)
	for next < end {
		due := t.firstID + uint64(t.rate*time.Since(begin).Seconds()) + 1
		due = min(due, end)
		if due > next {
			ids := make([]uint64, 0, due-next)
			for ; next < due; next++ {
				ids = append(ids, next)
			}
			for _, b := range t.w.batches(ids) {
				puts.Add(1)
				go func() {
					defer puts.Done()
					err := t.w.put(ctx, b, func(id uint64, at time.Time) {
						mu.Lock()
						acked[id] = at
						mu.Unlock()
					})
					if err != nil {
						select {
						case putErr <- err:
						default:
						}
					}
				}()
			}
		}
		select {
		case <-ctx.Done():
			tick.Stop()
			puts.Wait()
			return res, fmt.Errorf("tail writes: %w", ctx.Err())
		case <-tick.C:
		}
	}
	tick.Stop()
	puts.Wait()
	select {
	case err := <-putErr:
		return res, fmt.Errorf("tail writes: %w", err)
	default:
	}

	// The drain: until every acknowledged record was consumed.
	deadline := time.Now().Add(t.drain)
	for {
		mu.Lock()
		n := 0
		for id := range acked {
			if _, ok := consumed[id]; ok {
				n++
			}
		}
		sent := len(acked)
		mu.Unlock()
		if n == sent || time.Now().After(deadline) {
			break
		}
		if err := t.rep.exited(); err != nil {
			return res, err
		}
		time.Sleep(pollEvery)
	}
	stopConsumer()
	<-consumerDone

	lat := make([]time.Duration, 0, len(acked))
	for id, a := range acked {
		if c, ok := consumed[id]; ok {
			lat = append(lat, max(c.Sub(a), 0))
		}
	}
	res.sent, res.received = len(acked), len(lat)
	if len(lat) == 0 {
		return res, fmt.Errorf("tail: none of %d records written reached Kafka within %s", len(acked), t.drain)
	}
	slices.Sort(lat)
	res.p50, res.p99, res.max = percentile(lat, 0.50), percentile(lat, 0.99), lat[len(lat)-1]
	return res, nil
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
