package process

import (
	"context"
	"errors"
	"fmt"

	"github.com/shardbridge/shardbridge/replicator/kpl"
)

// Pipeline runs the processing stages over Kinesis records. It is safe for
// concurrent use if its Transformer is.
type Pipeline struct {
	deaggregate bool
	decomp      *Decompressor
	transformer Transformer
	maxBytes    int
}

// Option configures a Pipeline.
type Option func(*Pipeline)

// WithTransformer sets the user transformer (default Passthrough).
func WithTransformer(t Transformer) Option { return func(p *Pipeline) { p.transformer = t } }

// WithDecompressor decompresses every (sub-)record payload before the
// transformer (default: none).
func WithDecompressor(d *Decompressor) Option { return func(p *Pipeline) { p.decomp = d } }

// WithDeaggregation turns KPL de-aggregation on or off (default on, as the
// KCL does).
func WithDeaggregation(on bool) Option { return func(p *Pipeline) { p.deaggregate = on } }

// WithMaxRecordBytes fails, with stage "size", every output whose key +
// value + header bytes exceed n (the sink derives n from the topic's
// max.message.bytes, leaving room for batch overhead). n <= 0 disables the
// check.
func WithMaxRecordBytes(n int) Option { return func(p *Pipeline) { p.maxBytes = n } }

// NewPipeline returns a pipeline with the given options.
func NewPipeline(opts ...Option) *Pipeline {
	p := &Pipeline{deaggregate: true, transformer: Passthrough()}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Position is what the pipeline needs to know about the shard a record came
// from.
type Position struct {
	// StartingHashKey and EndingHashKey are the shard's inclusive hash key
	// range; sub-records outside it are counted (Result.OutOfRange) and
	// delivered like the others. Empty (or unparseable) counts none.
	StartingHashKey, EndingHashKey string
	// CheckpointSeq and CheckpointSubSeq are the shard's checkpoint; every
	// (seq, subseq) at or before it is left out. Empty or a sentinel
	// (TRIM_HORIZON...) skips nothing.
	CheckpointSeq    string
	CheckpointSubSeq int64
}

// Item is one outcome of processing: a record to produce, or (Err != nil) a
// record for the dead-letter topic holding the original bytes.
type Item struct {
	Record Record
	Err    *StageError
}

// Failed reports whether the item goes to the dead-letter topic.
func (it Item) Failed() bool { return it.Err != nil }

// Result is what one Kinesis record turned into, in source order.
type Result struct {
	Items []Item
	// Skipped counts sub-records at or before the checkpoint, Filtered the
	// inputs the transformer returned no output for. OutOfRange counts the
	// sub-records processed although their hash key lies outside the
	// shard's range: they are not left out (see Process).
	Skipped, OutOfRange, Filtered int
	// LastSubSequence is the highest subsequence seen (including skipped and
	// filtered ones), -1 for a plain record: the checkpoint position once
	// every item is acknowledged (checkpoint.Record writes a plain record's
	// as 0, the KCL's value).
	LastSubSequence int64
}

// Process runs r (a raw Kinesis record, SubSequence ignored) through the
// stages. The error is non-nil only when ctx ends during a transform; record
// failures are Items, never errors.
//
// Sub-records whose hash key lies outside the shard's range are kept. The
// KCL drops them after a reshard, assuming the producer also wrote them to
// the shard that owns their range; only the KPL does (it re-sends records
// that landed on a shard it did not predict), other aggregators do not, and
// nothing in the stream tells the two apart. Kinesis stored the aggregate in
// this shard alone, so dropping its sub-records loses them
// (amazon-kinesis-client#343, kinesis-aggregation#11); keeping them costs at
// most a copy the KPL wrote twice.
func (p *Pipeline) Process(ctx context.Context, r Record, pos Position) (Result, error) {
	res := Result{LastSubSequence: -1}
	r.SubSequence = -1

	var inputs []Record
	if p.deaggregate {
		subs, err := kpl.Deaggregate(r.Data)
		switch {
		case errors.Is(err, kpl.ErrNotAggregated):
			inputs = []Record{r}
		case err != nil:
			// A malformed aggregate is a whole record: a checkpoint at it
			// (seq, 0) covers it, or the resume would dead-letter it again.
			if kpl.Skip(r.SequenceNumber, -1, pos.CheckpointSeq, pos.CheckpointSubSeq) {
				res.Skipped++
				return res, nil
			}
			res.Items = []Item{{Record: r, Err: &StageError{Stage: StageDeaggregate, Err: err}}}
			return res, nil
		default:
			// Parsed once per aggregate; an unusable range counts nothing.
			hr, rangeErr := kpl.ParseHashRange(pos.StartingHashKey, pos.EndingHashKey)
			inputs = make([]Record, 0, len(subs))
			for _, s := range subs {
				sr := r
				sr.PartitionKey, sr.ExplicitHashKey, sr.Data, sr.SubSequence = s.PartitionKey, s.ExplicitHashKey, s.Data, s.SubSequence
				res.LastSubSequence = s.SubSequence
				if kpl.Skip(sr.SequenceNumber, sr.SubSequence, pos.CheckpointSeq, pos.CheckpointSubSeq) {
					res.Skipped++
					continue
				}
				if rangeErr == nil && !hr.Contains(s) {
					res.OutOfRange++ // counted, never dropped: see above
				}
				inputs = append(inputs, sr)
			}
		}
	} else {
		inputs = []Record{r}
	}
	if len(inputs) == 1 && !inputs[0].IsSubRecord() && kpl.Skip(r.SequenceNumber, -1, pos.CheckpointSeq, pos.CheckpointSubSeq) {
		res.Skipped++
		return res, nil
	}

	res.Items = make([]Item, 0, len(inputs))
	for _, in := range inputs {
		if err := p.one(ctx, in, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (p *Pipeline) one(ctx context.Context, in Record, res *Result) error {
	fail := func(stage string, err error) {
		res.Items = append(res.Items, Item{Record: in, Err: &StageError{Stage: stage, Err: err}})
	}
	work := in
	if p.decomp != nil {
		data, err := p.decomp.Decompress(in.Data)
		if err != nil {
			fail(StageDecompress, err)
			return nil
		}
		work.Data = data
	}
	outs, err := p.transformer.Transform(ctx, work)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("transform interrupted: %w", ctx.Err())
		}
		fail(StageTransform, err)
		return nil
	}
	if len(outs) == 0 {
		res.Filtered++
		return nil
	}
	for i := range outs {
		o := &outs[i]
		// The source position is the idempotency key: transformers may not move it.
		o.Stream, o.ShardID, o.SequenceNumber, o.SubSequence, o.ArrivalTime = in.Stream, in.ShardID, in.SequenceNumber, in.SubSequence, in.ArrivalTime
		if p.maxBytes > 0 {
			// One input is delivered whole or dead-lettered whole: no
			// partial fan-out.
			if n := EncodedSize(*o); n > p.maxBytes {
				fail(StageSize, fmt.Errorf("output record of %d bytes (key + value + headers) exceeds the limit of %d", n, p.maxBytes))
				return nil
			}
		}
	}
	for _, o := range outs {
		res.Items = append(res.Items, Item{Record: o})
	}
	return nil
}

// EncodedSize is the key + value + header bytes of r's Kafka record.
func EncodedSize(r Record) int {
	n := len(r.PartitionKey) + len(r.Data)
	for _, h := range Headers(r) {
		n += len(h.Key) + len(h.Value)
	}
	return n
}
