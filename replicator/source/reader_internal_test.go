package source

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func TestBackoffIsCappedExponentialWithJitter(t *testing.T) {
	r := NewReader(nil, ReaderOptions{ShardID: "shardId-000000000000", BackoffBase: 100 * time.Millisecond, BackoffMax: 2 * time.Second, Seed: 7})
	prevMax := time.Duration(0)
	for n := 1; n <= 12; n++ {
		d := min(100*time.Millisecond<<(n-1), 2*time.Second)
		for range 50 {
			got := r.backoff(n)
			if got < d/2 || got > d {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, got, d/2, d)
			}
			if got < prevMax/2 {
				t.Fatalf("backoff(%d) = %v shrank below the previous step", n, got)
			}
		}
		prevMax = d
	}
	// Same seed and shard, same sequence: runs are reproducible.
	a := NewReader(nil, ReaderOptions{ShardID: "x", Seed: 3})
	b := NewReader(nil, ReaderOptions{ShardID: "x", Seed: 3})
	for n := 1; n < 10; n++ {
		if a.backoff(n) != b.backoff(n) {
			t.Fatal("jitter is not seeded")
		}
	}
}

// scripted answers GetRecords with a fixed lag and records call times.
type scripted struct {
	KinesisAPI
	mu    sync.Mutex
	calls []time.Time
	lag   int64
	empty bool
}

func (s *scripted) GetShardIterator(context.Context, *kinesis.GetShardIteratorInput, ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String("it")}, nil
}

func (s *scripted) GetRecords(context.Context, *kinesis.GetRecordsInput, ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, time.Now())
	out := &kinesis.GetRecordsOutput{NextShardIterator: aws.String("it"), MillisBehindLatest: aws.Int64(s.lag)}
	if !s.empty {
		out.Records = []types.Record{{SequenceNumber: aws.String(fmt.Sprint(len(s.calls))), Data: []byte("x"), PartitionKey: aws.String("k")}}
	}
	return out, nil
}

// Calls are spaced by at least MinInterval when behind and PollInterval when
// caught up (lower bounds only: timers never fire early).
func TestReaderCallSpacing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lag     int64
		empty   bool
		spacing time.Duration
	}{
		{"behind", 5000, false, 20 * time.Millisecond},
		{"caught up (lag 0)", 0, false, 60 * time.Millisecond},
		{"caught up (empty)", 5000, true, 60 * time.Millisecond},
	} {
		api := &scripted{lag: tc.lag, empty: tc.empty}
		r := NewReader(api, ReaderOptions{ShardID: "s", MinInterval: 20 * time.Millisecond, PollInterval: 60 * time.Millisecond})
		out := make(chan Batch, 100)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = r.Run(ctx, out) }()
		for {
			api.mu.Lock()
			n := len(api.calls)
			api.mu.Unlock()
			if n >= 5 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done
		api.mu.Lock()
		for i := 1; i < len(api.calls); i++ {
			// The reader spaces from its own reading of the clock, taken a
			// moment after the previous call was recorded here: allow that
			// moment, not an early timer.
			if gap := api.calls[i].Sub(api.calls[i-1]); gap < tc.spacing-time.Millisecond {
				t.Errorf("%s: calls %d and %d only %v apart, want >= %v", tc.name, i-1, i, gap, tc.spacing)
			}
		}
		api.mu.Unlock()
	}
}

// Without options a reader keeps to Kinesis' 5 GetRecords calls per second
// per shard, however short a PollInterval it is given.
func TestReaderDefaultsKeepFiveCallsPerSecond(t *testing.T) {
	r := NewReader(nil, ReaderOptions{ShardID: "s", PollInterval: 10 * time.Millisecond})
	if r.o.MinInterval != 200*time.Millisecond || r.o.PollInterval != 200*time.Millisecond {
		t.Fatalf("MinInterval %v, PollInterval %v: want both 200ms", r.o.MinInterval, r.o.PollInterval)
	}
}

// A successor reader (after a rewind) waits for its predecessor's NextCall,
// so the shard's call spacing holds across readers.
func TestReaderSpacingHoldsAcrossReaders(t *testing.T) {
	api := &scripted{lag: 5000}
	first := NewReader(api, ReaderOptions{ShardID: "s", MinInterval: 80 * time.Millisecond})
	out := make(chan Batch, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = first.Run(ctx, out) }()
	<-out // one call made
	cancel()
	<-done
	second := NewReader(api, ReaderOptions{ShardID: "s", MinInterval: 80 * time.Millisecond, NotBefore: first.NextCall()})
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = second.Run(ctx, out) }()
	for range 2 {
		<-out
	}
	cancel()
	api.mu.Lock()
	defer api.mu.Unlock()
	for i := 1; i < len(api.calls); i++ {
		if gap := api.calls[i].Sub(api.calls[i-1]); gap < 80*time.Millisecond {
			t.Errorf("calls %d and %d only %v apart across readers, want >= 80ms", i-1, i, gap)
		}
	}
}
