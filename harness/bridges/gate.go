package bridges

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/replicator"
	"github.com/shardbridge/shardbridge/replicator/lease"
	"github.com/shardbridge/shardbridge/replicator/source"
)

// errKilled is what an in-process instance's clients answer once it has been
// killed: from then on it can reach neither AWS nor Kafka, so it can neither
// checkpoint nor release its leases nor deliver another record, which is
// what SIGKILL does to a process.
var errKilled = errors.New("bridges: instance killed")

// errLeaseTableCut is what an in-process instance's lease-table calls answer
// while it is cut off from DynamoDB (Instance.CutLeaseTable): a network
// failure, not an answer from the service, so the replicator cannot tell
// whether a write landed, exactly as with a real partition.
var errLeaseTableCut error = &net.OpError{Op: "dial", Net: "tcp",
	Err: errors.New("bridges: instance cut off from the lease table (DynamoDB unreachable)")}

// lifeGate stands between an in-process instance and the outside world.
// Killed: every call fails at once. Paused: every call blocks until resumed
// or killed, ignoring its context, as a SIGSTOPped process would (its
// calls in flight complete only after SIGCONT, with stale state). Cut off
// from the lease table: every DynamoDB call fails at once, while Kinesis and
// Kafka calls go through.
type lifeGate struct {
	mu     sync.Mutex
	killed bool
	paused chan struct{} // non-nil while paused; closed by resume
	ddbCut bool
}

func (g *lifeGate) enter() error {
	for {
		g.mu.Lock()
		if g.killed {
			g.mu.Unlock()
			return errKilled
		}
		p := g.paused
		g.mu.Unlock()
		if p == nil {
			return nil
		}
		<-p
	}
}

// enterDynamoDB is enter for a lease-table call, which also fails while the
// instance is cut off from DynamoDB.
func (g *lifeGate) enterDynamoDB() error {
	if err := g.enter(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ddbCut {
		return errLeaseTableCut
	}
	return nil
}

// cutDynamoDB cuts the instance off from the lease table (true) or
// reconnects it (false).
func (g *lifeGate) cutDynamoDB(cut bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ddbCut = cut
}

func (g *lifeGate) kill() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.killed = true
	if g.paused != nil {
		close(g.paused)
		g.paused = nil
	}
}

func (g *lifeGate) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused == nil && !g.killed {
		g.paused = make(chan struct{})
	}
}

func (g *lifeGate) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused != nil {
		close(g.paused)
		g.paused = nil
	}
}

func (g *lifeGate) isKilled() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.killed
}

// gatedKinesis puts a lifeGate in front of the Kinesis client.
type gatedKinesis struct {
	g *lifeGate
	c source.KinesisAPI
}

func (k gatedKinesis) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	if err := k.g.enter(); err != nil {
		return nil, err
	}
	return k.c.ListShards(ctx, in, o...)
}

func (k gatedKinesis) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, o ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	if err := k.g.enter(); err != nil {
		return nil, err
	}
	return k.c.GetShardIterator(ctx, in, o...)
}

func (k gatedKinesis) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, o ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	if err := k.g.enter(); err != nil {
		return nil, err
	}
	return k.c.GetRecords(ctx, in, o...)
}

// gatedDynamoDB puts a lifeGate in front of the lease table's client; it
// also answers for the lease-table cut.
type gatedDynamoDB struct {
	g *lifeGate
	c lease.DynamoDBAPI
}

func (d gatedDynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := d.g.enterDynamoDB(); err != nil {
		return nil, err
	}
	return d.c.GetItem(ctx, in, o...)
}

func (d gatedDynamoDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := d.g.enterDynamoDB(); err != nil {
		return nil, err
	}
	return d.c.PutItem(ctx, in, o...)
}

func (d gatedDynamoDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := d.g.enterDynamoDB(); err != nil {
		return nil, err
	}
	return d.c.UpdateItem(ctx, in, o...)
}

func (d gatedDynamoDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if err := d.g.enterDynamoDB(); err != nil {
		return nil, err
	}
	return d.c.DeleteItem(ctx, in, o...)
}

func (d gatedDynamoDB) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	if err := d.g.enterDynamoDB(); err != nil {
		return nil, err
	}
	return d.c.Scan(ctx, in, o...)
}

func (d gatedDynamoDB) CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, o ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	if err := d.g.enterDynamoDB(); err != nil {
		return nil, err
	}
	return d.c.CreateTable(ctx, in, o...)
}

func (d gatedDynamoDB) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, o ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	if err := d.g.enterDynamoDB(); err != nil {
		return nil, err
	}
	return d.c.DescribeTable(ctx, in, o...)
}

// stallGate holds records back from Kafka while closed: the runner's
// "stall the sink" switch, shared by every in-process instance of a Runner.
type stallGate struct {
	mu      sync.Mutex
	stalled chan struct{} // non-nil while stalled; closed by release
}

func (s *stallGate) stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stalled == nil {
		s.stalled = make(chan struct{})
	}
}

func (s *stallGate) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stalled != nil {
		close(s.stalled)
		s.stalled = nil
	}
}

// wait blocks while the sink is stalled, or until ctx ends.
func (s *stallGate) wait(ctx context.Context) error {
	s.mu.Lock()
	ch := s.stalled
	s.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gatedSink is the outermost sink of an in-process instance: a killed
// instance delivers nothing more (and Flush does not wait: a crash does not
// flush); a paused one blocks; a stalled runner holds records back. Every
// record let through is noted in the runner's hand-off log.
type gatedSink struct {
	g      *lifeGate
	stall  *stallGate
	worker string
	handed *handoffLog
	inner  replicator.Sink
}

func (s gatedSink) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	if err := s.g.enter(); err != nil {
		promise(r, err)
		return
	}
	if err := s.stall.wait(ctx); err != nil {
		promise(r, err)
		return
	}
	if err := s.g.enter(); err != nil { // killed while stalled
		promise(r, err)
		return
	}
	s.handed.note(s.worker, r)
	s.inner.Produce(ctx, r, promise)
}

func (s gatedSink) Flush(ctx context.Context) error {
	if err := s.g.enter(); err != nil {
		return err
	}
	return s.inner.Flush(ctx)
}
