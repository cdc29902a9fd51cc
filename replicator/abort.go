package replicator

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/replicator/lease"
)

// ErrAborted is returned by Run after Abort, and by every lease-table call
// and Produce attempted after it.
var ErrAborted = errors.New("replicator aborted")

// abortDDBGrace bounds how long Abort lets lease-table calls already under
// way finish before cutting them off. Letting them finish (rather than
// cancelling them) is what makes "no write after Abort returns" hold: a
// cancelled request may already sit at the server and be applied later.
const abortDDBGrace = 2 * time.Second

// Abort stops the replicator as a crash would (SIGKILL): no more lease-table
// calls and no more Produce calls are let through, every shard stops at once
// without waiting for Kafka and without a checkpoint, the lease manager stops
// renewing, and the leases stay owned (they expire after FailoverTime and
// another instance takes them over). Lease-table calls already under way are
// let finish for at most abortDDBGrace, then cut off. The Kafka client is
// closed without a flush: records it still buffers fail; a produce request
// already sent may still be appended by the broker, as after a real crash.
//
// When Abort returns, Run has returned (ErrAborted) if it was running, and no
// further DynamoDB write or Kafka request leaves this replicator. Abort is
// safe to call more than once and concurrently with Run; a Run called after
// it returns ErrAborted at once.
func (r *Replicator) Abort() {
	r.abortOnce.Do(func() {
		r.log.Warn("aborting: no flush, no checkpoint, leases left to expire")
		r.aborting.Store(true) // no Produce from here on
		r.ddbGate.close(abortDDBGrace)
		r.abortNow()
	})
	if r.runStarted.Load() {
		<-r.runDone
	}
}

// crash is Run's end after Abort: every worker stops at once (in-flight
// records abandoned, no checkpoint), the lease manager stops without
// releasing anything; the Kafka client is closed by Run's deferred Close.
func (r *Replicator) crash(stopMgr context.CancelFunc, mgrDone <-chan struct{}) error {
	r.ready.Store(false)
	r.readyErr.Store(ptr("aborted"))
	r.mu.Lock()
	ws := make([]*shardWorker, 0, len(r.workers))
	for _, w := range r.workers {
		ws = append(ws, w)
	}
	r.mu.Unlock()
	for _, w := range ws {
		w.lose(reasonAborted)
	}
	for _, w := range ws {
		<-w.done
	}
	stopMgr()
	<-mgrDone
	return ErrAborted
}

// reasonAborted is lose's reason at Abort.
const reasonAborted = "aborted"

// ddbGate is the lease table's client behind Abort: once closed, calls fail
// with ErrAborted without reaching DynamoDB.
type ddbGate struct {
	next lease.DynamoDBAPI

	mu       sync.Mutex
	closed   bool
	inFlight sync.WaitGroup
	cut      context.Context // cancelled when the grace for calls under way ends
	cutNow   context.CancelFunc
}

func newDDBGate(next lease.DynamoDBAPI) *ddbGate {
	cut, cutNow := context.WithCancel(context.Background())
	return &ddbGate{next: next, cut: cut, cutNow: cutNow}
}

// enter admits a call (done must be called after it) or refuses it.
func (g *ddbGate) enter(ctx context.Context) (context.Context, func(), error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, nil, ErrAborted
	}
	g.inFlight.Add(1)
	cctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(g.cut, cancel)
	return cctx, func() { stop(); cancel(); g.inFlight.Done() }, nil
}

// close refuses new calls, waits up to grace for those under way, then cuts
// them off and waits for them to return.
func (g *ddbGate) close(grace time.Duration) {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	done := make(chan struct{})
	go func() { g.inFlight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		g.cutNow()
		<-done
	}
}

func gated[In, Out any](g *ddbGate, ctx context.Context, in In, opts []func(*dynamodb.Options),
	call func(context.Context, In, ...func(*dynamodb.Options)) (Out, error)) (Out, error) {
	cctx, done, err := g.enter(ctx)
	if err != nil {
		var zero Out
		return zero, err
	}
	defer done()
	return call(cctx, in, opts...)
}

func (g *ddbGate) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return gated(g, ctx, in, o, g.next.GetItem)
}

func (g *ddbGate) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return gated(g, ctx, in, o, g.next.PutItem)
}

func (g *ddbGate) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return gated(g, ctx, in, o, g.next.UpdateItem)
}

func (g *ddbGate) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return gated(g, ctx, in, o, g.next.DeleteItem)
}

func (g *ddbGate) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return gated(g, ctx, in, o, g.next.Scan)
}

func (g *ddbGate) CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, o ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	return gated(g, ctx, in, o, g.next.CreateTable)
}

func (g *ddbGate) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, o ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return gated(g, ctx, in, o, g.next.DescribeTable)
}

// abortSink is the outermost sink: after Abort, records are failed at once
// instead of being handed to Kafka.
type abortSink struct {
	aborting *atomic.Bool
	inner    Sink
}

func (s abortSink) Produce(ctx context.Context, rec *kgo.Record, promise func(*kgo.Record, error)) {
	if s.aborting.Load() {
		promise(rec, ErrAborted)
		return
	}
	s.inner.Produce(ctx, rec, promise)
}

func (s abortSink) Flush(ctx context.Context) error {
	if s.aborting.Load() {
		return ErrAborted
	}
	return s.inner.Flush(ctx)
}
