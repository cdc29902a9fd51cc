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

	"github.com/shardbridge/shardbridge/replicator/membudget"
)

// sized answers each GetRecords with Limit records of size bytes (at most
// 10 MB, as Kinesis does) and remembers the limits asked.
type sized struct {
	KinesisAPI
	size   int
	mu     sync.Mutex
	limits []int32
	seq    int
}

func (s *sized) GetShardIterator(context.Context, *kinesis.GetShardIteratorInput, ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String("it")}, nil
}

func (s *sized) GetRecords(_ context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = append(s.limits, aws.ToInt32(in.Limit))
	out := &kinesis.GetRecordsOutput{NextShardIterator: aws.String("it"), MillisBehindLatest: aws.Int64(1000)}
	for i := 0; i < int(aws.ToInt32(in.Limit)) && (i+1)*s.size <= maxResponseBytes; i++ {
		s.seq++
		out.Records = append(out.Records, types.Record{SequenceNumber: aws.String(fmt.Sprint(s.seq)), Data: make([]byte, s.size), PartitionKey: aws.String("k")})
	}
	return out, nil
}

// With a budget, GetRecords asks for what the grant affords once the
// records' size is known; each batch carries its charge, which stays held
// until the consumer releases it, and nothing more is fetched meanwhile
// beyond the budget.
func TestReaderSizesCallsToTheBudget(t *testing.T) {
	const size = 100_000
	b := membudget.New(4 << 20)
	acct := b.Open()
	api := &sized{size: size}
	r := NewReader(api, ReaderOptions{ShardID: "s", MinInterval: time.Millisecond, PollInterval: time.Millisecond, Memory: acct})
	out := make(chan Batch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx, out) }()

	first := <-out
	charge := int64(size + 1 + recordOverhead)
	if first.Charge != int64(len(first.Records))*charge {
		t.Fatalf("batch charge %d for %d records, want %d each", first.Charge, len(first.Records), charge)
	}
	// Unknown size: the first call waited for half the budget (2 MiB) and
	// asked for what that affords at the largest record size: one record.
	if api.limits[0] != 1 {
		t.Errorf("first Limit %d, want 1 (2 MiB grant / 2 MiB per unknown record)", api.limits[0])
	}
	second := <-out
	if want := int32((4<<20 - first.Charge) / (charge * decodeFactor)); api.limits[1] != want {
		t.Errorf("second Limit %d, want %d (the rest of the budget at the known size)", api.limits[1], want)
	}
	// The consumer holds both batches: the reader cannot reserve room for
	// a useful third call and waits.
	time.Sleep(50 * time.Millisecond)
	if n := len(api.limits); n > 3 {
		t.Errorf("%d calls while the budget was full", n)
	}
	if held := b.Used(); held > 4<<20+2*charge*decodeFactor {
		t.Errorf("%d bytes held, budget 4 MiB", held)
	}
	acct.Release(first.Charge + second.Charge)
	<-out // the reader goes on once room is back
	cancel()
	<-done
	acct.Close()
	if b.Used() != 0 {
		t.Errorf("%d bytes held after the account closed", b.Used())
	}
}
