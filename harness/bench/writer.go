package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// PutRecords limits: 500 entries and 5 MiB of data plus partition keys.
const (
	maxPutEntries = 500
	maxPutBytes   = 5 << 20
)

// writer puts bench records into a stream, record id to shard id % shards,
// so every shard gets the same share whatever the keys hash to.
type writer struct {
	kin      *kinesis.Client
	stream   string
	hashKeys []string // each shard's starting hash key
	pay      *payloads
}

func newWriter(ctx context.Context, kin *kinesis.Client, stream string, pay *payloads) (*writer, error) {
	w := &writer{kin: kin, stream: stream, pay: pay}
	var token *string
	for {
		in := &kinesis.ListShardsInput{NextToken: token}
		if token == nil {
			in.StreamName = aws.String(stream)
		}
		out, err := kin.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list shards of %s: %w", stream, err)
		}
		for _, s := range out.Shards {
			w.hashKeys = append(w.hashKeys, aws.ToString(s.HashKeyRange.StartingHashKey))
		}
		if token = out.NextToken; token == nil {
			return w, nil
		}
	}
}

// batches cuts ids into PutRecords-sized runs.
func (w *writer) batches(ids []uint64) [][]uint64 {
	per := maxPutEntries
	if n := maxPutBytes / (w.pay.size + 24); n < per { // 24: a generous key
		per = max(n, 1)
	}
	var out [][]uint64
	for len(ids) > 0 {
		k := min(per, len(ids))
		out = append(out, ids[:k])
		ids = ids[k:]
	}
	return out
}

// put writes one batch, retrying the entries Kinesis refuses (throttling)
// until they are in or ctx ends; acked, if not nil, learns when each
// record's PutRecords answered.
func (w *writer) put(ctx context.Context, ids []uint64, acked func(id uint64, at time.Time)) error {
	for backoff := 20 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		entries := make([]ktypes.PutRecordsRequestEntry, len(ids))
		for i, id := range ids {
			entries[i] = ktypes.PutRecordsRequestEntry{
				Data:            w.pay.data(id),
				PartitionKey:    aws.String(partitionKey(id)),
				ExplicitHashKey: aws.String(w.hashKeys[id%uint64(len(w.hashKeys))]),
			}
		}
		out, err := w.kin.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(w.stream), Records: entries})
		if err != nil {
			return fmt.Errorf("put %d records: %w", len(ids), err)
		}
		now := time.Now()
		var failed []uint64
		for i, r := range out.Records {
			if r.ErrorCode != nil {
				failed = append(failed, ids[i])
			} else if acked != nil {
				acked(ids[i], now)
			}
		}
		if len(failed) == 0 {
			return nil
		}
		ids = failed
		select {
		case <-ctx.Done():
			return fmt.Errorf("put: %d records still refused: %w", len(ids), ctx.Err())
		case <-time.After(backoff):
		}
	}
}

// fill writes records 0..n-1 with parallel PutRecords calls.
func (w *writer) fill(ctx context.Context, n int, parallel int) error {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	work := make(chan []uint64)
	errs := make(chan error, parallel)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if err := w.put(ctx, b, nil); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for _, b := range w.batches(ids) {
		select {
		case work <- b:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("fill backlog: %w", err)
	default:
		return ctx.Err()
	}
}
