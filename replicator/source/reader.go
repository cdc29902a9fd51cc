package source

import (
	"context"
	"errors"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/shardbridge/shardbridge/replicator/backoff"
)

// Position is where a reader starts (or restarts) in its shard.
type Position struct {
	Type      types.ShardIteratorType
	Sequence  string    // AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER
	Timestamp time.Time // AT_TIMESTAMP
}

func (p Position) String() string {
	switch p.Type {
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		return string(p.Type) + " " + p.Sequence
	case types.ShardIteratorTypeAtTimestamp:
		return string(p.Type) + " " + p.Timestamp.Format(time.RFC3339Nano)
	}
	return string(p.Type)
}

// Batch is what a Reader hands on: the records of one GetRecords call (never
// empty unless End), or the end of the shard.
type Batch struct {
	Records            []types.Record
	MillisBehindLatest int64
	// End: the shard is closed and every record was handed on. ChildShards
	// are the children Kinesis announced (may be empty for old shards).
	End         bool
	ChildShards []types.ChildShard
	// Gone: the shard no longer exists (trimmed by retention, or the stream
	// was recreated): End without anything more to read.
	Gone bool
	// Charge is what Records count against ReaderOptions.Memory (the sum of
	// their RecordCharge); the consumer releases it.
	Charge int64
}

// ReaderOptions configure a Reader. Zero values take the defaults noted.
type ReaderOptions struct {
	Stream  string // a name or an ARN (see StreamParams)
	ShardID string
	Start   Position
	// MaxRecords per GetRecords call (default and maximum 10000).
	MaxRecords int
	// PollInterval is the wait between calls once caught up (default 200ms).
	PollInterval time.Duration
	// MinInterval is the least time between two GetRecords calls, caught up
	// or not (default 200ms: Kinesis allows five calls a second per shard).
	MinInterval time.Duration
	// BackoffBase and BackoffMax bound the exponential, jittered back-off
	// after throttling and transient errors (defaults 250ms and 10s).
	BackoffBase, BackoffMax time.Duration
	// CallTimeout bounds one AWS call (default 30s).
	CallTimeout time.Duration
	Seed        int64 // seeds the jitter (mixed with the shard id)
	Logger      *slog.Logger
	// NotBefore delays the first GetRecords: a new reader of a shard (after
	// a rewind) passes the previous reader's NextCall, so the shard's call
	// rate holds across readers.
	NotBefore time.Time

	// Memory, when set, bounds what the reader fetches: it reserves room
	// before each GetRecords, sizes the call's Limit to the grant, and
	// hands each batch on with its Charge, which the consumer releases.
	Memory Memory
	// AverageCharge is the expected RecordCharge of the shard's records (a
	// previous reader's AverageCharge); 0 assumes the largest record
	// Kinesis holds, so the first call cannot overshoot the budget.
	AverageCharge int64

	OnThrottle func(operation string) // each throttled call
	OnExpired  func()                 // each ExpiredIteratorException
	OnLag      func(millis int64)     // MillisBehindLatest of each successful call
}

// Reader reads one shard in order and hands batches on through a channel.
//
// Contract:
//   - One batch is prefetched: while the consumer works on batch N, Run
//     fetches batch N+1 and waits to hand it on.
//   - GetRecords is never called more often than every MinInterval, and when
//     caught up (no records, or MillisBehindLatest 0) only every PollInterval;
//     the first call waits for NotBefore, so successive readers of a shard
//     (see NextCall) keep that spacing too.
//   - Throttling and transient errors back off exponentially with full jitter
//     (seeded) and recover; the back-off resets after a success.
//   - ExpiredIteratorException: a new iterator AFTER_SEQUENCE_NUMBER the last
//     record handed on, or at the original start position when nothing was
//     handed on yet — never the checkpoint, never the horizon.
//   - AT/AFTER_SEQUENCE_NUMBER refused as invalid (the record was trimmed,
//     or the sequence number belongs to no record of the shard): the reader
//     falls back to TRIM_HORIZON, the oldest record still there, and logs it.
//   - A shard that does not exist any more ends with a Gone batch.
//   - Run returns nil after handing on the End batch, or ctx's error.
type Reader struct {
	api  KinesisAPI
	o    ReaderOptions
	log  *slog.Logger
	rnd  *rand.Rand
	last atomic.Pointer[string] // sequence number of the last record handed on
	next atomic.Int64           // earliest next GetRecords, Unix nanoseconds

	avgCharge int64 // only Run's goroutine uses them
	avgKnown  bool
}

// NewReader returns a reader of one shard.
func NewReader(api KinesisAPI, o ReaderOptions) *Reader {
	if o.MaxRecords <= 0 || o.MaxRecords > 10000 {
		o.MaxRecords = 10000
	}
	if o.MinInterval <= 0 {
		o.MinInterval = 200 * time.Millisecond
	}
	if o.PollInterval < o.MinInterval {
		o.PollInterval = o.MinInterval
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 250 * time.Millisecond
	}
	if o.BackoffMax < o.BackoffBase {
		o.BackoffMax = max(10*time.Second, o.BackoffBase)
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OnThrottle == nil {
		o.OnThrottle = func(string) {}
	}
	if o.OnExpired == nil {
		o.OnExpired = func() {}
	}
	if o.OnLag == nil {
		o.OnLag = func(int64) {}
	}
	h := fnv.New64a()
	h.Write([]byte(o.ShardID))
	avg := o.AverageCharge
	if avg <= 0 {
		avg = maxRecordCharge
	}
	return &Reader{
		api:       api,
		o:         o,
		log:       o.Logger.With("shard", o.ShardID),
		rnd:       rand.New(rand.NewPCG(uint64(o.Seed), h.Sum64())),
		avgCharge: avg,
		avgKnown:  o.AverageCharge > 0,
	}
}

// LastHandedOn is the sequence number of the last record handed on ("" if
// none). Safe to call while Run runs.
func (r *Reader) LastHandedOn() string {
	if p := r.last.Load(); p != nil {
		return *p
	}
	return ""
}

// NextCall is the earliest time the shard may see its next GetRecords call
// (from this reader or a successor). Safe to call while Run runs.
func (r *Reader) NextCall() time.Time {
	if n := r.next.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return r.o.NotBefore
}

// noRetry disables the SDK's own retries: the reader's loop retries with its
// own back-off, and the SDK's client-side retry quota would otherwise turn a
// long throttling episode into "retry quota exceeded" failures.
func noRetry(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} }

// Run reads until the shard ends or ctx is done.
func (r *Reader) Run(ctx context.Context, out chan<- Batch) error {
	iter, gone, err := r.iterator(ctx, r.o.Start)
	if err != nil {
		return err
	}
	if gone {
		return r.send(ctx, out, Batch{End: true, Gone: true})
	}
	var (
		next     = r.o.NotBefore // earliest start of the next GetRecords
		failures int
	)
	for {
		if err := backoff.SleepUntil(ctx, next); err != nil {
			return err
		}
		granted, limit, err := r.reserveCall(ctx)
		if err != nil {
			return err
		}
		start := time.Now()
		next = start.Add(r.o.MinInterval)
		r.next.Store(next.UnixNano())
		cctx, cancel := context.WithTimeout(ctx, r.o.CallTimeout)
		_, arn := StreamParams(r.o.Stream)
		res, err := r.api.GetRecords(cctx, &kinesis.GetRecordsInput{
			ShardIterator: iter,
			Limit:         aws.Int32(limit),
			StreamARN:     arn, // the iterator names the stream; the ARN routes the call
		}, noRetry)
		cancel()
		if err != nil {
			r.settleCall(granted, nil)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			switch code := errorCode(err); {
			case code == "ExpiredIteratorException":
				r.o.OnExpired()
				pos := r.resumePosition()
				r.log.Info("shard iterator expired; renewing", "at", pos.String())
				if iter, gone, err = r.iterator(ctx, pos); err != nil {
					return err
				}
				if gone {
					return r.send(ctx, out, Batch{End: true, Gone: true})
				}
				continue
			case isThrottle(code):
				r.o.OnThrottle("GetRecords")
				failures++
				d := r.backoff(failures)
				// One warning per throttling episode; the rest at debug level
				// (the metric counts every one).
				lvl := slog.LevelDebug
				if failures == 1 {
					lvl = slog.LevelWarn
				}
				r.log.Log(ctx, lvl, "GetRecords throttled; backing off", "error_code", code, "backoff", d, "attempt", failures)
				next = time.Now().Add(d)
				r.next.Store(next.UnixNano())
				continue
			case code == "ResourceNotFoundException":
				r.log.Warn("shard not found while reading; treating it as ended", "error", err)
				return r.send(ctx, out, Batch{End: true, Gone: true})
			case code == "InvalidArgumentException":
				// The iterator itself is unusable (e.g. issued for another
				// stream incarnation): take a fresh one from the last record.
				pos := r.resumePosition()
				r.log.Warn("GetRecords refused the iterator; renewing", "error", err, "at", pos.String())
				if iter, gone, err = r.iterator(ctx, pos); err != nil {
					return err
				}
				if gone {
					return r.send(ctx, out, Batch{End: true, Gone: true})
				}
				continue
			default:
				failures++
				d := r.backoff(failures)
				r.log.Warn("GetRecords failed; retrying", "error", err, "backoff", d, "attempt", failures)
				next = time.Now().Add(d)
				r.next.Store(next.UnixNano())
				continue
			}
		}
		if failures > 0 {
			r.log.Info("GetRecords recovered", "failed_attempts", failures)
			failures = 0
		}
		held := r.settleCall(granted, res.Records)
		lag := aws.ToInt64(res.MillisBehindLatest)
		r.o.OnLag(lag)
		iter = res.NextShardIterator
		ended := iter == nil || *iter == ""
		if len(res.Records) > 0 || ended {
			b := Batch{Records: res.Records, MillisBehindLatest: lag, End: ended, Charge: held}
			if ended {
				b.ChildShards = res.ChildShards
			}
			if err := r.send(ctx, out, b); err != nil {
				if r.o.Memory != nil {
					r.o.Memory.Release(held) // never handed on
				}
				return err
			}
			if n := len(res.Records); n > 0 {
				r.last.Store(res.Records[n-1].SequenceNumber)
			}
			if ended {
				return nil
			}
		}
		if len(res.Records) == 0 || lag == 0 {
			next = start.Add(r.o.PollInterval)
			r.next.Store(next.UnixNano())
		}
	}
}

func (r *Reader) send(ctx context.Context, out chan<- Batch, b Batch) error {
	select {
	case out <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// resumePosition is where to continue after losing the iterator.
func (r *Reader) resumePosition() Position {
	if last := r.LastHandedOn(); last != "" {
		return Position{Type: types.ShardIteratorTypeAfterSequenceNumber, Sequence: last}
	}
	return r.o.Start
}

// iterator gets a shard iterator at pos, retrying throttling and transient
// errors. gone reports a shard that no longer exists.
func (r *Reader) iterator(ctx context.Context, pos Position) (iter *string, gone bool, err error) {
	failures := 0
	for {
		in := &kinesis.GetShardIteratorInput{
			ShardId:           aws.String(r.o.ShardID),
			ShardIteratorType: pos.Type,
		}
		in.StreamName, in.StreamARN = StreamParams(r.o.Stream)
		switch pos.Type {
		case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
			in.StartingSequenceNumber = aws.String(pos.Sequence)
		case types.ShardIteratorTypeAtTimestamp:
			in.Timestamp = aws.Time(pos.Timestamp)
		}
		cctx, cancel := context.WithTimeout(ctx, r.o.CallTimeout)
		res, err := r.api.GetShardIterator(cctx, in, noRetry)
		cancel()
		if err == nil {
			if res.ShardIterator == nil {
				// Kinesis answers a null iterator for a closed shard read
				// past its end: nothing more to read.
				return nil, true, nil
			}
			return res.ShardIterator, false, nil
		}
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		code := errorCode(err)
		switch {
		case code == "ResourceNotFoundException":
			r.log.Warn("shard not found; treating it as ended", "error", err)
			return nil, true, nil
		case code == "InvalidArgumentException" && pos.Sequence != "":
			r.log.Warn("sequence number refused (trimmed or not of this shard); falling back to TRIM_HORIZON",
				"at", pos.String(), "error", err)
			pos = Position{Type: types.ShardIteratorTypeTrimHorizon}
			continue
		case isThrottle(code):
			r.o.OnThrottle("GetShardIterator")
		}
		failures++
		d := r.backoff(failures)
		r.log.Warn("GetShardIterator failed; retrying", "error", err, "backoff", d, "attempt", failures)
		if err := backoff.SleepUntil(ctx, time.Now().Add(d)); err != nil {
			return nil, false, err
		}
	}
}

// backoff is the seeded jitter over the capped exponential of the reader's
// bounds.
func (r *Reader) backoff(failures int) time.Duration {
	return backoff.Jitter(r.rnd, backoff.Exponential(r.o.BackoffBase, r.o.BackoffMax, failures))
}

// errorCode is the AWS error code of err, "" for non-API errors.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isThrottle(code string) bool {
	switch code {
	case "ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException",
		"KMSThrottlingException", "RequestLimitExceeded":
		return true
	}
	return false
}
