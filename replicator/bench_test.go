package replicator_test

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReplicate measures the whole pipeline end to end through the
// in-process emulators: a backlog of records of 100 bytes on 4 shards is
// read, processed and produced to an embedded Kafka (8 partitions), until
// Kafka acknowledged every one. Reported per record: wall time (records/s),
// CPU and heap allocations of the whole process — which includes the Kinesis
// and DynamoDB emulators and the Kafka broker, so the replicator's own share
// is lower.
//
//	go test -run '^$' -bench Replicate -benchtime 3x ./replicator/
func BenchmarkReplicate(b *testing.B) {
	const records = 40000
	payload := make([]byte, 100)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	var wall, cpu time.Duration
	var allocs uint64
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
		runtime.GC()
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		c0, w0 := cpuTime(), time.Now()
		b.StartTimer()

		in := e.start(cfg)
		for in.r.Stats().RecordsOut < records {
			time.Sleep(2 * time.Millisecond)
		}

		b.StopTimer()
		wall += time.Since(w0)
		cpu += cpuTime() - c0
		runtime.ReadMemStats(&ms1)
		allocs += ms1.Mallocs - ms0.Mallocs
		if err := in.stop(b); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(records * b.N)
	b.ReportMetric(n/wall.Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/record")
	b.ReportMetric(float64(allocs)/n, "allocs/record")
}
