package source

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Memory is a shard's account in the replicator's memory budget (see package
// membudget): the reader reserves room before each GetRecords and sizes its
// Limit to the grant.
type Memory interface {
	// Reserve grants between least and want bytes, waiting for room.
	Reserve(ctx context.Context, want, least int64) (int64, error)
	// Add counts bytes already allocated, without waiting.
	Add(n int64)
	// Release returns bytes.
	Release(n int64)
	// Total is the whole budget's size.
	Total() int64
}

const (
	// recordOverhead approximates the memory of a decoded record beyond its
	// data and partition key: the struct, the sequence number string, the
	// arrival time.
	recordOverhead = 200
	// decodeFactor is the peak of a GetRecords response while the SDK
	// decodes it, per byte of records: the JSON body's base64 text (4/3)
	// and the decoded bytes, plus the generic tree it decodes through.
	decodeFactor = 2
	// maxResponseBytes is the most one GetRecords call returns (10 MB).
	maxResponseBytes = 10 << 20
	// maxRecordCharge is the largest record Kinesis holds (1 MiB of data
	// and partition key) with its overhead: the size assumed for a shard's
	// records until one call has shown their real size.
	maxRecordCharge = 1<<20 + recordOverhead
)

// RecordCharge is what one decoded record counts against the budget.
func RecordCharge(r *types.Record) int64 {
	return int64(len(r.Data)+len(aws.ToString(r.PartitionKey))) + recordOverhead
}

// charge sums RecordCharge over records.
func charge(records []types.Record) int64 {
	var n int64
	for i := range records {
		n += RecordCharge(&records[i])
	}
	return n
}

// reserveCall reserves room for the next GetRecords and returns the grant
// and the Limit it affords. Without a budget: no grant, the configured limit.
func (r *Reader) reserveCall(ctx context.Context) (granted int64, limit int32, err error) {
	if r.o.Memory == nil {
		return 0, int32(r.o.MaxRecords), nil
	}
	avg := max(r.avgCharge, recordOverhead)
	per := avg * decodeFactor
	want := min(int64(r.o.MaxRecords)*avg, maxResponseBytes) * decodeFactor
	least := per
	if !r.avgKnown {
		// The records' size is unknown: wait for room for the largest
		// response (or half the budget, if that is less) rather than take
		// a sliver and fetch a handful of records, which costs a whole call
		// interval. The excess returns as soon as the answer shows the size.
		least = max(min(want, r.o.Memory.Total()/2), per)
	}
	least = min(least, r.o.Memory.Total()) // a grant past the budget only for a record that turns out larger
	g, err := r.o.Memory.Reserve(ctx, want, least)
	if err != nil {
		return 0, 0, err
	}
	if g >= maxResponseBytes*decodeFactor {
		// Room for the largest response Kinesis sends, whatever the
		// records' size: no need to guess it (a first call would otherwise
		// fetch a handful of records, costing a whole call interval).
		return g, int32(r.o.MaxRecords), nil
	}
	return g, int32(max(min(g/per, int64(r.o.MaxRecords)), 1)), nil
}

// settleCall turns a call's reservation into the charge of the records it
// returned (which the batch carries on, until the worker releases it
// record by record), and learns their average size for the next Limit.
func (r *Reader) settleCall(granted int64, records []types.Record) int64 {
	if r.o.Memory == nil {
		return 0
	}
	c := charge(records)
	if c < granted {
		r.o.Memory.Release(granted - c)
	} else {
		r.o.Memory.Add(c - granted)
	}
	if n := int64(len(records)); n > 0 {
		r.avgCharge, r.avgKnown = c/n, true
	}
	return c
}

// AverageCharge is the average RecordCharge of the records read so far (or
// the hint it started from): a later reader of the shard starts from it.
func (r *Reader) AverageCharge() int64 { return r.avgCharge }
