package replicator

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/replicator/checkpoint"
	"github.com/shardbridge/shardbridge/replicator/checkpointtopic"
	"github.com/shardbridge/shardbridge/replicator/lease"
)

// Exactly-once delivery (REPLICATOR_DELIVERY=exactly-once).
//
// Each held shard has its own transactional producer, whose
// transactional.id is stable per application and shard. Opening it
// (InitProducerID) bumps the producer epoch: the previous holder's open
// transaction is aborted and its next write or commit refused. Only then is
// the shard's last committed checkpoint read from the checkpoint topic, so
// that no later commit of the previous holder can exist.
//
// A transaction holds a run of the shard's records (and its dead letters)
// plus one checkpoint record at the position of the last of them (or
// SHARD_END). It commits every TransactionInterval, or once it holds
// TransactionMaxRecords records, between GetRecords batches. Any failure of
// the transaction (a produce, the flush, the commit, even one of unknown
// outcome) is handled the one way: close the producer, open it again
// (fencing this shard's own unfinished transaction), read the checkpoint
// again and resume from it. The lease row is written after commits only,
// so it never runs ahead of Kafka.

// txnDeps is what a shard worker needs for exactly-once delivery.
type txnDeps struct {
	// open builds the shard's transactional producer; the worker fences
	// with it (ProducerID) before reading the checkpoint.
	open       func(shardID string) (*kgo.Client, error)
	reader     *checkpointtopic.Reader
	topic      string // the checkpoint topic
	interval   time.Duration
	maxRecords int
	// timeout is the transaction timeout: a commit (flush included) that
	// takes longer is abandoned, since the brokers abort the transaction
	// by then anyway.
	timeout  time.Duration
	aborting *atomic.Bool // Abort: no Kafka request from here on
	now      func() time.Time
	wrap     func(Sink) Sink // WithSinkWrapper's, if any
}

// txnSession is one shard's transactional producer and its open
// transaction.
type txnSession struct {
	d       *txnDeps
	cl      *kgo.Client
	sink    Sink // the session, wrapped by WithSinkWrapper's wrapper
	records int  // records produced in the open transaction
	inTxn   bool
}

var errTxnAborting = errors.New("replicator aborted: no more Kafka requests")

// Produce hands a record to the open transaction (the worker's Sink).
func (s *txnSession) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	if s.d.aborting.Load() {
		promise(r, ErrAborted)
		return
	}
	s.records++
	s.cl.Produce(ctx, r, promise)
}

// Flush waits for every record handed over to be answered.
func (s *txnSession) Flush(ctx context.Context) error { return s.cl.Flush(ctx) }

// begin opens a transaction unless one is open.
func (s *txnSession) begin() error {
	if s.inTxn {
		return nil
	}
	if err := s.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	s.inTxn, s.records = true, 0
	return nil
}

// commit writes the checkpoint record at pos, then commits the open
// transaction. The caller has flushed and checked every acknowledgement.
func (s *txnSession) commit(ctx context.Context, stream, shard string, pos checkpoint.Position) error {
	if s.d.aborting.Load() {
		return errTxnAborting
	}
	rec := checkpointtopic.Record(s.d.topic, checkpointtopic.Value{
		Stream: stream, Shard: shard, Sequence: pos.Sequence, SubSequence: pos.SubSequence,
		Time: s.d.now().UnixMilli(),
	})
	if err := s.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("writing the checkpoint record: %w", err)
	}
	if s.d.aborting.Load() {
		return errTxnAborting
	}
	s.inTxn = false
	if err := s.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.records = 0
	return nil
}

// abandon aborts an open transaction that holds records (a shard stopped
// without a commit: lease lost, stop incomplete), so that read_committed
// consumers are not held up until the next owner fences it. Its error says
// whether the transaction had been fenced already.
func (s *txnSession) abandon(ctx context.Context) (bool, error) {
	if s == nil || s.cl == nil || !s.inTxn || s.records == 0 || s.d.aborting.Load() {
		return false, nil
	}
	s.inTxn = false
	if err := s.cl.AbortBufferedRecords(ctx); err != nil {
		return true, fmt.Errorf("dropping buffered records: %w", err)
	}
	return true, s.cl.EndTransaction(ctx, kgo.TryAbort)
}

// close drops the producer; an open transaction is left to the next
// opening of the shard's transactional id (or the transaction timeout),
// which aborts it.
func (s *txnSession) close() {
	if s != nil && s.cl != nil {
		s.cl.Close()
		s.cl = nil
	}
}

// endSession ends the shard's transactional producer when the worker stops:
// an open transaction with records is aborted first (a zombie learns here
// that it was fenced), except after Abort, which sends nothing more.
func (w *shardWorker) endSession() {
	if w.sess == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	open, err := w.sess.abandon(ctx)
	switch {
	case !open:
	case fenced(err):
		w.d.obs.aborted(true)
		w.log.Warn("the shard's open transaction was fenced by its new owner", "error", err)
	default:
		w.d.obs.aborted(false)
		if err != nil {
			w.log.Warn("aborting the shard's open transaction", "error", err)
		}
	}
	w.sess.close()
}

// fencedOff stops a shard whose producer another instance fenced. The
// lease is verified first (renewed at once): when that instance took it
// over, the renewal fails and the shard is not started here again; else
// (the fencer was a zombie) it is, and fences the zombie in turn.
func (w *shardWorker) fencedOff(err error) {
	w.d.obs.aborted(true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	held := w.d.leases.Verify(ctx, w.id)
	cancel()
	w.lose(fmt.Sprintf("fenced: another instance opened this shard's transactional producer (%v); lease still held: %v", err, held))
}

// fenced reports whether err says another producer with the shard's
// transactional id has taken over.
func fenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.InvalidProducerIDMapping)
}

// openTxn opens the shard's transactional producer (fencing any previous
// holder) and reads the shard's last committed checkpoint; without one it
// falls back on the lease row (a shard never replicated exactly-once, or
// replicated at-least-once before). It retries until it succeeds or the
// worker stops (errStopping).
func (w *shardWorker) openTxn() (checkpoint.Position, error) {
	d := w.d.txn
	for attempt := 1; ; attempt++ {
		pos, err := w.openTxnOnce()
		if err == nil {
			return pos, nil
		}
		if w.soft.Err() != nil || d.aborting.Load() {
			return checkpoint.Position{}, errStopping
		}
		if !w.d.leases.Holds(w.id) {
			w.lose("lease no longer held while opening the shard's transactional producer")
			return checkpoint.Position{}, errStopping
		}
		wait := min(time.Duration(attempt)*250*time.Millisecond, 5*time.Second)
		w.log.Warn("opening the shard's transactional producer failed; retrying", "error", err, "attempt", attempt, "backoff", wait)
		select {
		case <-w.soft.Done():
			return checkpoint.Position{}, errStopping
		case <-time.After(wait):
		}
	}
}

func (w *shardWorker) openTxnOnce() (checkpoint.Position, error) {
	d := w.d.txn
	w.sess.close()
	if d.aborting.Load() {
		return checkpoint.Position{}, errTxnAborting
	}
	cl, err := d.open(w.id)
	if err != nil {
		return checkpoint.Position{}, fmt.Errorf("transactional producer: %w", err)
	}
	w.sess = &txnSession{d: d, cl: cl}
	w.sess.sink = w.sess
	if d.wrap != nil {
		w.sess.sink = d.wrap(w.sess)
	}
	ctx, cancel := w.boundCtx(context.Background())
	defer cancel()
	// Bounded: the brokers end any transaction within its timeout (plus
	// their clean-up interval, 10s by default); past that, something is
	// wrong, and a fresh attempt (a new producer) is logged and made.
	ctx, cancelOpen := context.WithTimeout(ctx, openTimeout(d.timeout))
	defer cancelOpen()
	// Fence first: initialising the producer id bumps the epoch and aborts
	// whatever the previous holder left open.
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return checkpoint.Position{}, fmt.Errorf("fencing the previous holder (InitProducerID): %w", err)
	}
	v, found, err := d.reader.Last(ctx, w.id)
	if err != nil {
		return checkpoint.Position{}, err
	}
	if found {
		pos := checkpoint.Position{Sequence: v.Sequence, SubSequence: v.SubSequence}
		if v.Sequence == checkpointtopic.ShardEnd {
			pos = checkpoint.Position{Sequence: lease.ShardEnd}
		}
		return pos, nil
	}
	return w.d.cp.Start(ctx, w.l)
}

// openTimeout bounds fencing and reading the checkpoint: long enough for
// every other transaction on the checkpoint partition to end by the brokers'
// timeout and clean-up, at least 30s.
func openTimeout(txnTimeout time.Duration) time.Duration {
	return max(2*txnTimeout+15*time.Second, 30*time.Second)
}

// commitTxn commits the open transaction with the checkpoint at the last
// record handed over (SHARD_END when end). Nothing to commit is no error.
// A failure returns errProduceFailed (the shard re-opens its producer and
// resumes from the last committed checkpoint) or errStopping.
func (w *shardWorker) commitTxn(parent context.Context, tr *tracker, end bool) error {
	s := w.sess
	start := time.Now()
	// Bounded by the transaction timeout: a produce the brokers keep
	// refusing must not hold the shard (and its lease) for ever; the
	// transaction is then abandoned and the shard resumes from its last
	// commit.
	ctx, cancel := context.WithTimeout(parent, w.d.txn.timeout)
	defer cancel()
	// Through the sink's wrappers (WithSinkWrapper), which may hold the
	// shard's output back (a paused in-process instance).
	if err := s.sink.Flush(ctx); err != nil {
		if w.hard.Err() != nil || parent.Err() != nil {
			return errStopping
		}
		tr.fail(fmt.Errorf("flushing the transaction (%d records unanswered after %s): %w", tr.pending(), w.d.txn.timeout, err))
		return errProduceFailed
	}
	if tr.failure() != nil {
		return errProduceFailed
	}
	pos, ok := tr.watermark()
	if end {
		pos, ok = checkpoint.Position{Sequence: lease.ShardEnd}, true
	}
	w.mu.Lock()
	committed := w.committed
	w.mu.Unlock()
	if !ok || (pos == committed && s.records == 0) {
		return nil // nothing new
	}
	// A transaction is committed only within the lease's deadline: past it
	// another instance may have fenced this one and resumed from the
	// previous commit (its fencing would refuse the commit anyway).
	if !w.d.leases.Holds(w.id) {
		w.lose("lease no longer held: not renewed within the failover time")
		return errStopping
	}
	cpPos := pos
	if end {
		cpPos = checkpoint.Position{Sequence: checkpointtopic.ShardEnd}
	}
	n := s.records
	if err := s.commit(ctx, w.cfg.stream, w.id, cpPos); err != nil {
		if w.hard.Err() != nil || parent.Err() != nil || errors.Is(err, errTxnAborting) {
			return errStopping
		}
		if fenced(err) {
			w.fencedOff(err)
			return errStopping
		}
		tr.fail(fmt.Errorf("committing the transaction: %w", err))
		return errProduceFailed
	}
	w.d.obs.committed(time.Since(start), n)
	w.mu.Lock()
	w.committed = pos
	w.mu.Unlock()
	if end {
		return nil
	}
	if err := s.begin(); err != nil {
		tr.fail(err)
		return errProduceFailed
	}
	return nil
}

// recoverTxn ends a failed transaction the one way that is always safe:
// re-open the producer (aborting the transaction, or finding it committed
// when its commit's answer was lost) and resume from the checkpoint Kafka
// committed.
func (w *shardWorker) recoverTxn(cause error) (checkpoint.Position, error) {
	if fenced(cause) {
		w.fencedOff(cause)
		return checkpoint.Position{}, errStopping
	}
	w.d.obs.aborted(false)
	if !w.d.leases.Holds(w.id) {
		w.lose(fmt.Sprintf("transaction failed and the lease is not held (or the producer was fenced): %v", cause))
		return checkpoint.Position{}, errStopping
	}
	pos, err := w.openTxn()
	if err != nil {
		return checkpoint.Position{}, err
	}
	w.mu.Lock()
	w.committed = pos
	w.mu.Unlock()
	return pos, nil
}
