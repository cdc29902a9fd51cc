package replicator_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/replicator/config"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReplicate measures the whole pipeline end to end through the
// in-process emulators, in both delivery modes: a backlog of records of 100
// bytes on 4 shards is read, processed and produced to an embedded Kafka (8
// partitions), until Kafka acknowledged every one (at-least-once) or every
// one is in a committed transaction (exactly-once). Reported per record:
// wall time (records/s), CPU and heap allocations of the whole process —
// which includes the Kinesis and DynamoDB emulators and the Kafka broker, so
// the replicator's own share is lower.
//
//	go test -run '^$' -bench Replicate -benchtime 3x ./replicator/
func BenchmarkReplicate(b *testing.B) {
	for _, mode := range []string{config.AtLeastOnce, config.ExactlyOnce} {
		b.Run(mode, func(b *testing.B) { benchCatchUp(b, mode, nil) })
	}
}

// benchCatchUp runs the catch-up benchmark; tweak, if set, adjusts the
// configuration (e.g. the transaction interval, to choose its default).
func benchCatchUp(b *testing.B, mode string, tweak func(*config.Config)) {
	const records = 40000
	payload := make([]byte, 100)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	var wall, cpu time.Duration
	var allocs, heap uint64
	goroutines := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newTestEnv(b, 4, 8)
		for n := 0; n < records; n += 500 {
			entries := make([]types.PutRecordsRequestEntry, 500)
			for j := range entries {
				entries[j] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("key-%d", (n+j)%1000)), Data: payload}
			}
			if _, err := e.kinAPI.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(e.stream), Records: entries}); err != nil {
				b.Fatal(err)
			}
		}
		cfg := e.config("bench")
		cfg.PollInterval = 200 * time.Millisecond
		cfg.DeliveryMode = mode
		if tweak != nil {
			tweak(&cfg)
		}
		runtime.GC()
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		c0, w0 := cpuTime(), time.Now()
		b.StartTimer()

		in := e.start(cfg)
		done := func() bool { return in.r.Stats().RecordsOut >= records }
		if mode == config.ExactlyOnce {
			done = func() bool { return in.r.Stats().RecordsCommitted >= records }
		}
		for !done() {
			time.Sleep(2 * time.Millisecond)
		}

		b.StopTimer()
		wall += time.Since(w0)
		cpu += cpuTime() - c0
		runtime.ReadMemStats(&ms1)
		allocs += ms1.Mallocs - ms0.Mallocs
		// The instance's footprint while holding 4 shards (with the
		// emulators and broker, the same in both modes): the difference
		// between the modes is the per-shard producers' cost.
		runtime.GC()
		runtime.ReadMemStats(&ms1)
		heap = max(heap, ms1.HeapInuse)
		goroutines = max(goroutines, runtime.NumGoroutine())
		if err := in.stop(b); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(records * b.N)
	b.ReportMetric(n/wall.Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/record")
	b.ReportMetric(float64(allocs)/n, "allocs/record")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(goroutines), "goroutines")
}

// BenchmarkTailLatency measures end-to-end latency while tailing, in both
// delivery modes, with the default poll and transaction intervals: records
// are written at 500/s over 4 shards for 4 s, and a consumer at
// read_committed notes when each arrives. Reported: p50 and p99 in ms, from
// the write's acknowledgement to the record's arrival at the consumer.
//
//	go test -run '^$' -bench TailLatency -benchtime 1x ./replicator/
func BenchmarkTailLatency(b *testing.B) {
	for _, mode := range []string{config.AtLeastOnce, config.ExactlyOnce} {
		b.Run(mode, func(b *testing.B) { benchTail(b, mode, nil) })
	}
}

// benchTail runs the tailing benchmark; tweak as for benchCatchUp.
func benchTail(b *testing.B, mode string, tweak func(*config.Config)) {
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newTestEnv(b, 4, 8)
		cfg := e.config("bench")
		cfg.DeliveryMode = mode
		if tweak != nil {
			tweak(&cfg)
		}
		e.start(cfg)
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.kafka.Brokers()...), kgo.ConsumeTopics(e.topic),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(20*time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		var mu sync.Mutex
		sent := map[string]time.Time{}
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan struct{})
		go func() {
			defer close(got)
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				now := time.Now()
				fs.EachRecord(func(r *kgo.Record) {
					mu.Lock()
					if t, ok := sent[string(r.Value)]; ok {
						lat = append(lat, now.Sub(t))
						delete(sent, string(r.Value))
					}
					mu.Unlock()
				})
			}
		}()
		time.Sleep(time.Second) // leases taken, readers polling
		b.StartTimer()
		for tick := 0; tick < 80; tick++ { // 4 s at 500 records/s
			entries := make([]types.PutRecordsRequestEntry, 25)
			for j := range entries {
				entries[j] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("key-%d", j)), Data: []byte(fmt.Sprintf("%d-%d-%d", i, tick, j))}
			}
			if _, err := e.kinAPI.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(e.stream), Records: entries}); err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			mu.Lock()
			for _, en := range entries {
				sent[string(en.Data)] = now
			}
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			left := len(sent)
			mu.Unlock()
			if left == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		b.StopTimer()
		cancel()
		<-got
		cl.Close()
	}
	slices.Sort(lat)
	if len(lat) == 0 {
		b.Fatal("no record arrived")
	}
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
