package replicator

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/replicator/backoff"
	"github.com/shardbridge/shardbridge/replicator/checkpoint"
	"github.com/shardbridge/shardbridge/replicator/lease"
	"github.com/shardbridge/shardbridge/replicator/membudget"
	"github.com/shardbridge/shardbridge/replicator/partition"
	"github.com/shardbridge/shardbridge/replicator/process"
	"github.com/shardbridge/shardbridge/replicator/source"
)

var (
	errProduceFailed = errors.New("kafka produce failed")
	errStopping      = errors.New("stopping")
	errHalted        = errors.New("shard halted")
)

// workerDeps is what a shard worker uses, and all it uses, of its
// replicator. Replicator.workerDeps builds it once start-up has learned the
// topics (partition counts, the size limit of the pipeline).
type workerDeps struct {
	cfg      workerConfig
	log      *slog.Logger // the worker adds the shard
	leases   leaseHolder
	cp       checkpoint.Checkpointer
	kin      source.KinesisAPI
	pipeline *process.Pipeline
	sink     Sink
	obs      *observer

	// leaseTable is the lease table, cached briefly: a child shard polls it
	// for its parents.
	leaseTable func(context.Context) ([]lease.Lease, error)
	// listedShards is the last shard listing (hash ranges of leases created
	// without one).
	listedShards func() []types.Shard
	// shardEnded is called after a SHARD_END checkpoint: the children's
	// leases exist now, so the lease cache is stale and a shard sync is due.
	shardEnded func()
	// txn is set in exactly-once mode (see txn.go).
	txn *txnDeps
	// partitions is set for shard partitioning (see partitions.go).
	partitions *shardPartitions
	// memory bounds what every shard holds fetched and not acknowledged.
	memory *membudget.Budget
}

// workerConfig is the part of the configuration, and the facts learned at
// start-up, that a shard worker needs.
type workerConfig struct {
	stream           string // the stream's name (headers, checkpoints)
	streamRef        string // how Kinesis calls name it: its ARN when given, else its name
	topic            string
	dlqTopic         string
	dlqPartitions    int32
	dlqLimit         int    // the dead-letter topic's max.message.bytes
	initialPosition  string // config.TrimHorizon, Latest or AtTimestamp
	initialTimestamp time.Time

	maxInFlight, maxInFlightBytes int
	checkpointInterval            time.Duration
	seed                          int64 // jitter of the reader and of the produce back-off (mixed with the shard id)

	// The reader's settings.
	maxRecordsPerGet        int
	pollInterval            time.Duration
	minGetInterval          time.Duration
	backoffBase, backoffMax time.Duration
}

// leaseHolder is the part of *lease.Manager a shard worker uses.
type leaseHolder interface {
	// Holds reports whether the lease is held and was renewed within the
	// failover time: the fence before every hand-off to Kafka.
	Holds(shardID string) bool
	// Release gives a lease back (here: one already finished at SHARD_END).
	Release(ctx context.Context, shardID string) error
	// Verify renews the lease at once; false when it is no longer held
	// (exactly-once: asked after being fenced, so a stolen shard is not
	// started again here).
	Verify(ctx context.Context, shardID string) bool
}

var _ leaseHolder = (*lease.Manager)(nil)

// shardWorker runs one held shard: reader → pipeline → sink → checkpoints.
type shardWorker struct {
	d   *workerDeps
	cfg *workerConfig
	l   lease.Lease
	id  string
	log *slog.Logger

	hard     context.Context // cancelled when the lease is lost: stop at once
	hardStop context.CancelFunc
	soft     context.Context // cancelled for a graceful stop: stop reading
	softStop context.CancelFunc
	done     chan struct{}
	ending   atomic.Bool // shard end being checkpointed: the lease goes away by itself

	// drainCtx and finalCtx bound a graceful stop: waiting for Kafka's
	// acknowledgements ends with drainCtx, the final checkpoint with
	// finalCtx. Both nil until stop.
	shutdownMu sync.Mutex
	drainCtx   context.Context
	finalCtx   context.Context
	incomplete string // why the graceful stop was incomplete, if it was
	lostWhy    string // lose's first reason

	// nextGet is the earliest time the next reader of this shard may call
	// GetRecords, so a rewind (a new reader) keeps the per-shard call rate.
	nextGet time.Time

	partition int32 // shard partitioning only
	rnd       *rand.Rand

	// mem is the shard's account in the memory budget (nil without one);
	// avgCharge the average budget charge of its records, carried from one
	// reader to the next so a rewind does not start from the worst case.
	mem       *membudget.Account
	avgCharge int64

	// sess is the shard's transactional producer (exactly-once only); only
	// the worker's own goroutine uses it.
	sess *txnSession

	mu        sync.Mutex
	tr        *tracker
	lastCP    checkpoint.Position
	hasLastCP bool
	halted    string
	committed checkpoint.Position // exactly-once: last position committed in Kafka
}

func newShardWorker(d *workerDeps, l lease.Lease) *shardWorker {
	hard, hardStop := context.WithCancel(context.Background())
	soft, softStop := context.WithCancel(hard)
	h := fnv.New64a()
	h.Write([]byte(l.ShardID))
	return &shardWorker{
		d: d, cfg: &d.cfg, l: l, id: l.ShardID,
		log:  d.log.With("shard", l.ShardID),
		hard: hard, hardStop: hardStop, soft: soft, softStop: softStop,
		done: make(chan struct{}),
		rnd:  rand.New(rand.NewPCG(uint64(d.cfg.seed), h.Sum64())),
	}
}

// lose stops the shard at once: its in-flight records are abandoned
// without a checkpoint.
func (w *shardWorker) lose(reason string) {
	w.shutdownMu.Lock()
	if w.lostWhy == "" {
		w.lostWhy = reason
	}
	w.shutdownMu.Unlock()
	if w.hard.Err() == nil {
		w.log.Warn("stopping shard at once", "reason", reason)
	}
	w.hardStop()
}

// leaseLost reports whether the shard was stopped because its lease went to
// another worker (rather than abandoned at the end of a shutdown).
func (w *shardWorker) leaseLost() bool {
	w.shutdownMu.Lock()
	defer w.shutdownMu.Unlock()
	return w.lostWhy != "" && w.lostWhy != reasonShutdownTimeout
}

// reasonShutdownTimeout is lose's reason when a graceful stop ran out of time.
const reasonShutdownTimeout = "shutdown timeout"

// stop asks for a graceful stop: no more reading; in-flight records are
// waited for until drain ends, then what Kafka acknowledged is checkpointed
// (until final ends).
func (w *shardWorker) stop(drain, final context.Context) {
	w.shutdownMu.Lock()
	w.drainCtx, w.finalCtx = drain, final
	w.shutdownMu.Unlock()
	w.softStop()
}

// boundCtx is parent, also cancelled when the lease is lost.
func (w *shardWorker) boundCtx(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(w.hard, cancel)
	return ctx, func() { stop(); cancel() }
}

// drainContext bounds waiting for acknowledgements: it ends when the lease
// is lost, or when a graceful stop (asked for now or later) reaches its
// drain deadline.
func (w *shardWorker) drainContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	stopHard := context.AfterFunc(w.hard, cancel)
	stopSoft := context.AfterFunc(w.soft, func() {
		w.shutdownMu.Lock()
		d := w.drainCtx
		w.shutdownMu.Unlock()
		if d == nil {
			return // soft ends without a graceful stop only with hard
		}
		// d has a deadline: this registration ends with it.
		context.AfterFunc(d, cancel)
	})
	return ctx, func() { stopHard(); stopSoft(); cancel() }
}

// drainExpired reports whether a graceful stop's drain deadline passed.
func (w *shardWorker) drainExpired() bool {
	w.shutdownMu.Lock()
	defer w.shutdownMu.Unlock()
	return w.drainCtx != nil && w.drainCtx.Err() != nil
}

// finalContext bounds the final checkpoint.
func (w *shardWorker) finalContext() (context.Context, context.CancelFunc) {
	w.shutdownMu.Lock()
	f := w.finalCtx
	w.shutdownMu.Unlock()
	if f == nil {
		return w.boundCtx(context.Background())
	}
	return w.boundCtx(f)
}

// stopIncomplete says why the graceful stop left work undone ("" if not).
func (w *shardWorker) stopIncomplete() string {
	w.shutdownMu.Lock()
	defer w.shutdownMu.Unlock()
	return w.incomplete
}

// finishStop drains tr within the drain deadline, checkpoints what was
// acknowledged and notes what was left undone.
func (w *shardWorker) finishStop(tr *tracker) {
	ctx, cancel := w.drainContext()
	_ = tr.drain(ctx)
	cancel()
	var why []string
	if n := tr.pending(); n > 0 {
		why = append(why, fmt.Sprintf("%d records not acknowledged by Kafka", n))
	} else if w.sess != nil && tr.failure() == nil && w.hard.Err() == nil {
		dctx, cancel := w.drainContext()
		err := w.commitTxn(dctx, tr, false)
		cancel()
		if err != nil {
			why = append(why, "last transaction not committed: "+errors.Join(err, tr.failure()).Error())
		}
	}
	if err := w.finalCheckpoint(); err != nil {
		why = append(why, "final checkpoint not written: "+err.Error())
	}
	if len(why) > 0 && !w.leaseLost() {
		w.shutdownMu.Lock()
		w.incomplete = strings.Join(why, ", ")
		w.shutdownMu.Unlock()
		w.log.Warn("shard stopped with work undone; the next owner resumes from the last checkpoint", "undone", w.incomplete)
	}
}

func (w *shardWorker) run() {
	defer close(w.done)
	defer w.hardStop()
	defer w.d.obs.shardGone(w.id)

	if err := w.waitForParents(); err != nil {
		return
	}
	defer w.endSession()
	start, err := w.startPosition()
	if err != nil {
		if !errors.Is(err, errStopping) {
			w.log.Error("cannot read the shard's checkpoint", "error", err)
		}
		return
	}
	if start.Sequence == lease.ShardEnd && w.d.txn != nil && w.l.Checkpoint != lease.ShardEnd {
		// Kafka committed the shard's end; the lease row did not follow
		// (the holder stopped in between): finish it now.
		_ = w.endLease(nil)
		return
	}
	if start.Sequence == lease.ShardEnd {
		// Finished already (the lease manager does not normally hand these
		// out): give it back rather than hold it.
		if err := w.d.leases.Release(w.hard, w.id); err != nil {
			w.log.Warn("releasing a finished lease", "error", err)
		}
		return
	}
	// From here the shard is this instance's to read: a wait for its
	// partition counts as lag.
	w.d.obs.shardStarted(w.id, w.cfg.pollInterval, w.oldestUnacknowledged)
	if w.d.partitions != nil {
		// Keep the lease while waiting, so the shard does not hop between
		// instances that all lack its partition.
		p, err := w.d.partitions.wait(w.soft, w.id, w.log, w.d.obs.waitingForPartition)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				_ = w.halt(fmt.Sprintf("REPLICATOR_PARTITIONING=shard: %v", err))
				<-w.soft.Done()
			}
			return
		}
		w.partition = p
	}
	w.log.Info("shard started", "checkpoint", start.String(), "parents", w.l.ParentShardIDs)

	cpDone := make(chan struct{})
	go w.checkpointLoop(cpDone)
	defer func() { <-cpDone }()

	var mem releaser
	if w.d.memory != nil {
		w.mem = w.d.memory.Open()
		defer w.mem.Close() // after the last tracker's close: releases what acknowledgements never will
		mem = w.mem
	}
	resume := start
	failures := 0
	var last *tracker
	defer func() {
		if last != nil {
			last.close()
		}
	}()
	for {
		if last != nil {
			last.close() // rewinding: its unacknowledged records are read again
		}
		tr := newTracker(w.cfg.maxInFlight, w.cfg.maxInFlightBytes, mem)
		last = tr
		w.mu.Lock()
		w.tr = tr
		w.mu.Unlock()
		if w.sess != nil {
			if err := w.sess.begin(); err != nil {
				tr.fail(err)
			}
		}
		err := w.readFrom(resume, tr)
		switch {
		case err == nil: // shard end checkpointed
			return
		case errors.Is(err, errHalted):
			<-w.soft.Done() // keep the lease until stopped; see the package comment
			if w.hard.Err() == nil {
				w.finishStop(tr)
			}
			return
		case errors.Is(err, errProduceFailed) && w.d.txn != nil:
			failures++
			w.d.obs.produceFailed()
			w.log.Warn("transaction failed; re-opening the shard's producer and resuming from the last committed checkpoint", "error", tr.failure())
			d := backoff.Jitter(w.rnd, min(time.Duration(failures)*100*time.Millisecond, 2*time.Second))
			select {
			case <-time.After(d):
			case <-w.hard.Done():
				return
			}
			pos, err := w.recoverTxn(tr.failure())
			if err != nil {
				return // stopping, or the shard is lost
			}
			if pos.Sequence == lease.ShardEnd {
				_ = w.endLease(nil)
				return
			}
			resume = pos
			if w.soft.Err() != nil {
				return // a graceful stop: nothing open to commit
			}
		case errors.Is(err, errProduceFailed):
			failures++
			w.d.obs.produceFailed()
			ctx, cancel := w.drainContext()
			_ = tr.drain(ctx) // answers for everything in flight, then rewind
			cancel()
			if mark, ok := tr.watermark(); ok {
				resume = mark
				failures = 1 // progress since the last failure: back off from the start
			}
			d := backoff.Jitter(w.rnd, min(time.Duration(failures)*250*time.Millisecond, 5*time.Second))
			w.log.Warn("kafka produce failed; rewinding to the last acknowledged record",
				"error", tr.failure(), "resume_after", resume.String(), "backoff", d)
			if w.soft.Err() != nil {
				w.finishStop(tr)
				return
			}
			select {
			case <-time.After(d):
			case <-w.soft.Done():
				w.finishStop(tr)
				return
			}
		case w.hard.Err() != nil: // lease lost: abandon in-flight records
			return
		default: // graceful stop
			w.finishStop(tr)
			return
		}
	}
}

// memory is the reader's budget account (a nil interface without one).
func (w *shardWorker) memory() source.Memory {
	if w.mem == nil {
		return nil
	}
	return w.mem
}

// oldestUnacknowledged is the arrival time of the oldest record of the
// shard's current reading handed to Kafka and not acknowledged yet.
func (w *shardWorker) oldestUnacknowledged() (time.Time, bool) {
	w.mu.Lock()
	tr := w.tr
	w.mu.Unlock()
	if tr == nil {
		return time.Time{}, false
	}
	return tr.oldestUnacknowledged()
}

// startPosition is where the shard resumes: the lease row's checkpoint, or
// in exactly-once mode, after fencing, the last one committed in Kafka.
func (w *shardWorker) startPosition() (checkpoint.Position, error) {
	if w.d.txn == nil {
		return w.d.cp.Start(w.hard, w.l)
	}
	pos, err := w.openTxn()
	if err != nil {
		return pos, err
	}
	w.mu.Lock()
	w.committed = pos
	w.mu.Unlock()
	return pos, nil
}

// output is where the shard's records go: the shared producer, or in
// exactly-once mode the shard's transactional one.
func (w *shardWorker) output() Sink {
	if w.sess != nil {
		return w.sess.sink
	}
	return w.d.sink
}

// waitForParents blocks until every parent shard is finished (KCL rule: a
// child is read only after its parents, so per-key order survives a reshard).
func (w *shardWorker) waitForParents() error {
	if len(w.l.ParentShardIDs) == 0 {
		return nil
	}
	logged := false
	for {
		all, err := w.d.leaseTable(w.hard)
		if err == nil && lease.ParentsDone(w.l, all) {
			if logged {
				w.log.Info("parents finished; starting child shard", "parents", w.l.ParentShardIDs)
			}
			return nil
		}
		if err != nil {
			w.log.Warn("listing leases while waiting for parents", "error", err)
		} else if !logged {
			w.log.Info("waiting for parent shards to finish", "parents", w.l.ParentShardIDs)
			logged = true
		}
		select {
		case <-w.soft.Done():
			return w.soft.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// iteratorPosition maps a checkpoint to where the reader starts.
func (w *shardWorker) iteratorPosition(p checkpoint.Position) source.Position {
	switch p.Sequence {
	case lease.TrimHorizon:
		return source.Position{Type: types.ShardIteratorTypeTrimHorizon}
	case lease.Latest:
		return source.Position{Type: types.ShardIteratorTypeLatest}
	case lease.AtTimestamp:
		if !p.Timestamp.IsZero() { // an operator reset named its own
			return source.Position{Type: types.ShardIteratorTypeAtTimestamp, Timestamp: p.Timestamp}
		}
		return source.Position{Type: types.ShardIteratorTypeAtTimestamp, Timestamp: w.cfg.initialTimestamp}
	case "":
		return w.iteratorPosition(checkpoint.Position{Sequence: leasePosition(w.cfg.initialPosition)})
	}
	if p.Legacy() {
		// Subsequence -1 from an earlier version: the whole record is done.
		return source.Position{Type: types.ShardIteratorTypeAfterSequenceNumber, Sequence: p.Sequence}
	}
	// As the KCL resumes: (seq, n) may be a whole record (n = 0) or part of
	// an aggregate, which cannot be told without reading it; re-read it and
	// skip what the checkpoint covers (process.Position).
	return source.Position{Type: types.ShardIteratorTypeAtSequenceNumber, Sequence: p.Sequence}
}

// readFrom reads from resume until the shard ends (nil), the worker stops,
// or a produce fails (errProduceFailed).
func (w *shardWorker) readFrom(resume checkpoint.Position, tr *tracker) error {
	ctx, cancel := context.WithCancel(w.soft)
	defer cancel()
	c, obs := w.cfg, w.d.obs
	reader := source.NewReader(w.d.kin, source.ReaderOptions{
		Stream:        c.streamRef,
		ShardID:       w.id,
		Start:         w.iteratorPosition(resume),
		MaxRecords:    c.maxRecordsPerGet,
		PollInterval:  c.pollInterval,
		MinInterval:   c.minGetInterval,
		BackoffBase:   c.backoffBase,
		BackoffMax:    c.backoffMax,
		Seed:          c.seed,
		NotBefore:     w.nextGet,
		Logger:        w.d.log, // the reader adds the shard itself
		OnThrottle:    obs.throttled,
		OnExpired:     obs.iteratorExpired,
		OnLag:         func(ms int64) { obs.lag(w.id, ms) },
		Memory:        w.memory(),
		AverageCharge: w.avgCharge,
	})
	batches := make(chan source.Batch)
	readErr := make(chan error, 1)
	go func() { readErr <- reader.Run(ctx, batches) }()
	defer func() {
		cancel()
		<-readErr
		w.nextGet = reader.NextCall() // only this goroutine reads and writes it
		w.avgCharge = reader.AverageCharge()
	}()

	pos := process.Position{StartingHashKey: w.l.StartingHashKey, EndingHashKey: w.l.EndingHashKey}
	if !resume.IsSentinel() {
		pos.CheckpointSeq, pos.CheckpointSubSeq = resume.Sequence, resume.SubSequence
	}
	if pos.StartingHashKey == "" {
		pos.StartingHashKey, pos.EndingHashKey = w.hashRange()
	}
	var commitTick <-chan time.Time // exactly-once: the transaction interval
	if w.d.txn != nil {
		t := time.NewTicker(w.d.txn.interval)
		defer t.Stop()
		commitTick = t.C
	}
	for {
		select {
		case b := <-batches:
			if err := w.handle(ctx, b, pos, tr); err != nil {
				return err
			}
			if b.End {
				return w.finishShard(b, tr)
			}
			if w.sess != nil && w.sess.records >= w.d.txn.maxRecords {
				if err := w.commitTxn(w.hard, tr, false); err != nil {
					return err
				}
			}
		case <-commitTick:
			if err := w.commitTxn(w.hard, tr, false); err != nil {
				return err
			}
		case err := <-readErr:
			readErr <- err // for the deferred wait
			if w.soft.Err() != nil {
				return errStopping
			}
			return fmt.Errorf("reader: %w", err)
		case <-tr.failed:
			return errProduceFailed
		case <-w.soft.Done():
			return errStopping
		}
	}
}

// hashRange finds the shard's hash range in the last listing (for leases
// created without one).
func (w *shardWorker) hashRange() (string, string) {
	for _, s := range w.d.listedShards() {
		if aws.ToString(s.ShardId) == w.id && s.HashKeyRange != nil {
			return aws.ToString(s.HashKeyRange.StartingHashKey), aws.ToString(s.HashKeyRange.EndingHashKey)
		}
	}
	return "", ""
}

// handle runs a batch through the pipeline and hands its records to Kafka.
func (w *shardWorker) handle(ctx context.Context, b source.Batch, pos process.Position, tr *tracker) error {
	// The batch's memory budget charge moves to the tracker record by record;
	// what is left when handling stops early is released here.
	unattached := b.Charge
	defer func() {
		if unattached > 0 {
			w.mem.Release(unattached)
		}
	}()
	for i := range b.Records {
		if err := ctx.Err(); err != nil {
			return errStopping
		}
		kr := &b.Records[i]
		var charge int64
		if w.mem != nil {
			charge = min(source.RecordCharge(kr), unattached)
		}
		rec := process.Record{
			Stream:         w.cfg.stream,
			ShardID:        w.id,
			SequenceNumber: aws.ToString(kr.SequenceNumber),
			SubSequence:    -1,
			PartitionKey:   aws.ToString(kr.PartitionKey),
			Data:           kr.Data,
		}
		if kr.ApproximateArrivalTimestamp != nil {
			rec.ArrivalTime = *kr.ApproximateArrivalTimestamp
		}
		res, err := w.d.pipeline.Process(ctx, rec, pos)
		if err != nil {
			return errStopping // ctx ended inside a transform
		}
		tr.arriving(rec.ArrivalTime)
		w.d.obs.processed(res.Filtered, res.OutOfRange)
		err = w.produceResult(ctx, rec, res, tr)
		tr.charge(charge)
		unattached -= charge
		if err != nil {
			return err
		}
	}
	w.d.obs.read(w.id, b)
	return nil
}

// produceResult hands one source record's outputs to Kafka. The last output
// of each sub-record carries the checkpoint position; the last output of the
// record carries (seq, LastSubSequence), covering trailing sub-records that
// were skipped or filtered.
func (w *shardWorker) produceResult(ctx context.Context, src process.Record, res process.Result, tr *tracker) error {
	seq := src.SequenceNumber
	final := checkpoint.Record(seq, res.LastSubSequence)
	if len(res.Items) == 0 {
		tr.add(final, true, false, 0)
		return nil
	}
	for i, it := range res.Items {
		var pos checkpoint.Position
		hasPos := false
		switch {
		case i == len(res.Items)-1:
			pos, hasPos = final, true
		case res.Items[i+1].Record.SubSequence != it.Record.SubSequence:
			pos, hasPos = checkpoint.Position{Sequence: seq, SubSequence: it.Record.SubSequence}, true
		}
		if err := w.produceItem(ctx, it, pos, hasPos, tr); err != nil {
			return err
		}
	}
	return nil
}

func (w *shardWorker) produceItem(ctx context.Context, it process.Item, pos checkpoint.Position, hasPos bool, tr *tracker) error {
	c := w.cfg
	var kr *kgo.Record
	dlq := it.Failed()
	if dlq {
		if c.dlqTopic == "" {
			return w.halt(fmt.Sprintf("record failed at stage %q and no dead-letter topic is configured (REPLICATOR_DLQ_TOPIC): %v; sequence %s subsequence %d",
				it.Err.Stage, it.Err.Err, it.Record.SequenceNumber, it.Record.SubSequence))
		}
		kr = process.DLQRecord(it.Record, "", it.Err)
		kr.Topic = c.dlqTopic
		if size := recordSize(kr); size > c.dlqLimit-recordOverhead {
			return w.halt(fmt.Sprintf("record failed at stage %q (%v) and is too large for the dead-letter topic too (%d bytes, max.message.bytes %d); sequence %s subsequence %d",
				it.Err.Stage, it.Err.Err, size, c.dlqLimit, it.Record.SequenceNumber, it.Record.SubSequence))
		}
		if c.dlqPartitions > 0 {
			kr.Partition = partition.KeyPartition(kr.Key, c.dlqPartitions)
		}
		w.log.Warn("record sent to the dead-letter topic", "stage", it.Err.Stage, "error", it.Err.Err.Error(),
			"seq", it.Record.SequenceNumber, "subseq", it.Record.SubSequence, "dlq_topic", c.dlqTopic)
	} else {
		kr = process.KafkaRecord(it.Record)
		kr.Topic = c.topic
		kr.Partition = w.partition
	}
	size := len(kr.Value) + len(kr.Key)
	if err := tr.acquire(ctx, size); err != nil {
		if errors.Is(err, errProduceFailed) {
			return err
		}
		return errStopping
	}
	// Fence: hand nothing to Kafka once the lease is past its deadline (last
	// renewal sent + failover time). That deadline comes before any other
	// worker may take the shard over, while the lease rounds and lease events
	// notice the loss only later (a worker cut off from the lease table kept
	// writing for hundreds of milliseconds after the takeover without this).
	if !w.d.leases.Holds(w.id) {
		w.lose("lease no longer held: not renewed within the failover time")
		return errStopping
	}
	id := tr.add(pos, hasPos, true, size)
	start := time.Now()
	valueLen := len(kr.Value)
	// Never the shard's context: franz-go fails every buffered record of a
	// partition when the first one's context ends, which would fail other
	// shards' records too. Memory is bounded by the tracker instead.
	w.output().Produce(context.Background(), kr, func(_ *kgo.Record, err error) {
		if err == nil {
			w.d.obs.delivered(dlq, valueLen, time.Since(start))
		}
		tr.ack(id, err)
	})
	return nil
}

// recordSize approximates a record's encoded size (key, value, headers).
func recordSize(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + 4
	}
	return n
}

// halt stops the shard on a record it can neither write nor dead-letter.
func (w *shardWorker) halt(reason string) error {
	w.mu.Lock()
	w.halted = reason
	w.mu.Unlock()
	unhalt := w.d.obs.halted(w.id, reason)
	w.log.Error("shard halted: fix the cause (e.g. set REPLICATOR_DLQ_TOPIC) and restart; records after the last checkpoint will be re-read", "reason", reason)
	go func() {
		defer unhalt()
		t := time.NewTicker(max(w.cfg.checkpointInterval, time.Minute))
		defer t.Stop()
		for {
			select {
			case <-w.hard.Done():
				return
			case <-t.C:
				w.log.Error("shard still halted", "reason", reason)
			}
		}
	}()
	return errHalted
}

// finishShard waits for every record of the ended shard to be acknowledged,
// then checkpoints SHARD_END, which creates the children's leases.
func (w *shardWorker) finishShard(b source.Batch, tr *tracker) error {
	ctx := w.hard
	for tr.pending() > 0 {
		if w.drainExpired() {
			return errStopping // the graceful stop checkpoints what was acknowledged
		}
		select {
		case <-tr.failed:
			return errProduceFailed
		case <-ctx.Done():
			return errStopping
		case <-tr.changed:
		case <-time.After(50 * time.Millisecond):
		}
	}
	if tr.failure() != nil {
		return errProduceFailed
	}
	if w.d.txn != nil {
		// The shard's last records and SHARD_END commit together; the lease
		// row follows (a crash in between is finished by the next owner).
		if err := w.commitTxn(ctx, tr, true); err != nil {
			return err
		}
	}
	if err := w.endLease(b.ChildShards); err != nil {
		return err
	}
	w.log.Info("shard ended", "gone", b.Gone)
	return nil
}

// endLease checkpoints SHARD_END in the lease table, which creates the
// children's leases; without the children from the last GetRecords it asks
// the shard listing.
func (w *shardWorker) endLease(childShards []types.ChildShard) error {
	ctx := w.hard
	children := make([]lease.ChildShard, 0, len(childShards))
	for _, c := range childShards {
		cs := lease.ChildShard{ShardID: aws.ToString(c.ShardId), ParentShardIDs: c.ParentShards}
		if c.HashKeyRange != nil {
			cs.StartingHashKey = aws.ToString(c.HashKeyRange.StartingHashKey)
			cs.EndingHashKey = aws.ToString(c.HashKeyRange.EndingHashKey)
		}
		children = append(children, cs)
	}
	if len(children) == 0 {
		// Old shards and trimmed ones announce no children: ask the listing.
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		shards, err := source.ListShards(lctx, w.d.kin, w.cfg.streamRef)
		cancel()
		if err != nil {
			w.log.Warn("listing shards at shard end", "error", err)
		} else {
			children = source.Children(shards, w.id)
		}
	}
	w.ending.Store(true)
	for attempt := 1; ; attempt++ {
		err := w.d.cp.ShardEnd(ctx, w.id, children)
		if err == nil {
			break
		}
		if errors.Is(err, checkpoint.ErrLeaseLost) {
			w.ending.Store(false)
			w.d.obs.checkpointFailed(true)
			w.lose(fmt.Sprintf("shard end checkpoint refused: %v", err))
			return errStopping
		}
		if ctx.Err() != nil {
			w.ending.Store(false)
			return errStopping
		}
		w.log.Warn("shard end checkpoint failed; retrying", "error", err, "attempt", attempt)
		select {
		case <-ctx.Done():
			return errStopping
		case <-time.After(min(time.Duration(attempt)*200*time.Millisecond, 3*time.Second)):
		}
	}
	ids := make([]string, len(children))
	for i, c := range children {
		ids[i] = c.ShardID
	}
	w.d.obs.shardEnded()
	w.log.Info("shard end checkpointed", "children", ids)
	w.d.shardEnded()
	return nil
}

// checkpointLoop checkpoints the watermark every CheckpointInterval.
func (w *shardWorker) checkpointLoop(done chan struct{}) {
	defer close(done)
	t := time.NewTicker(w.cfg.checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-w.soft.Done():
			return
		case <-t.C:
			_ = w.checkpoint(w.hard)
		}
	}
}

// finalCheckpoint checkpoints once more at a graceful stop.
func (w *shardWorker) finalCheckpoint() error {
	ctx, cancel := w.finalContext()
	defer cancel()
	return w.checkpoint(ctx)
}

// checkpoint writes the current watermark if it moved. A refusal means the
// lease is gone: stop the shard at once. It returns the error of a write
// that failed (nil when there was nothing to write).
func (w *shardWorker) checkpoint(ctx context.Context) error {
	w.mu.Lock()
	tr := w.tr
	last, hasLast := w.lastCP, w.hasLastCP
	w.mu.Unlock()
	if tr == nil {
		return nil
	}
	mark, ok := tr.watermark()
	if w.d.txn != nil {
		// Exactly-once: the lease row follows what Kafka committed.
		w.mu.Lock()
		mark, ok = w.committed, !w.committed.IsSentinel()
		w.mu.Unlock()
	}
	if !ok || (hasLast && mark == last) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("checkpoint %s: %w", mark, err)
	}
	err := w.d.cp.Checkpoint(ctx, w.id, mark)
	switch {
	case err == nil:
		w.mu.Lock()
		w.lastCP, w.hasLastCP = mark, true
		w.mu.Unlock()
		w.d.obs.checkpointed(w.id, mark)
	case errors.Is(err, checkpoint.ErrLeaseLost):
		w.d.obs.checkpointFailed(true)
		w.lose(fmt.Sprintf("checkpoint refused: %v", err))
	default:
		w.d.obs.checkpointFailed(false)
		if ctx.Err() == nil {
			w.log.Warn("checkpoint failed; retrying at the next interval", "error", err, "position", mark.String())
		}
	}
	return err
}
