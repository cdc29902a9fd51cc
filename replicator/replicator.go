// Package replicator copies every record of a Kinesis data stream into a
// Kafka topic, in order per shard, with any number of instances sharing the
// shards through a KCL-style DynamoDB lease table.
//
// Contract:
//   - Per shard: lease acquired → wait until every parent is finished →
//     read from the checkpoint (or the initial position) → de-aggregate KPL
//     records (keeping sub-records outside the shard's hash range), decompress,
//     transform → produce to Kafka (idempotent producer, acks=all) with the
//     kinesis.* headers → checkpoint only past records Kafka acknowledged,
//     in order, every CheckpointInterval, at shard end and at shutdown.
//   - Delivery is at-least-once by default: duplicates appear only after a
//     crash, a lease move or a produce failure, bounded by the checkpoint
//     interval; every record carries its idempotency key headers.
//   - Exactly-once (DeliveryMode exactly-once, see txn.go): each held shard
//     has a transactional producer whose transactional.id is stable per
//     application and shard; taking a shard fences the previous holder
//     before the shard's last committed checkpoint is read from the
//     checkpoint topic. A transaction holds a run of the shard's records,
//     its dead letters and its checkpoint (or SHARD_END); the lease row
//     follows commits and never overrides Kafka. A read_committed consumer
//     sees every record once; any failed transaction is aborted and the
//     shard resumes from its last commit.
//   - A record that fails processing, or would exceed the topic's
//     max.message.bytes, goes to the dead-letter topic with its original
//     bytes. Without a dead-letter topic such a record halts its shard: the
//     shard keeps its lease (so the record does not hop between instances),
//     stops reading, logs the record's position at error level (again every
//     minute) and counts in replicator_shards_halted; Stats names the reason.
//     Nothing is ever dropped silently. The same holds for a record that is
//     too large even for the dead-letter topic.
//   - A produce failure rewinds the shard: reading stops, the records in
//     flight are waited for, and reading resumes after the last acknowledged
//     record (duplicates possible, loss and reordering not).
//   - Losing a lease (refused checkpoint, or the lease manager's Lost event)
//     stops the shard at once; its unacknowledged records are abandoned
//     without a checkpoint.
//   - Run stops gracefully when ctx ends: stop reading, wait for Kafka's
//     acknowledgements, checkpoint, release the leases, all within
//     ShutdownTimeout (the last quarter of it, at most 5s, is kept for the
//     checkpoints and the release). If Kafka does not acknowledge everything
//     in time (a broker down), the acknowledged prefix is still checkpointed,
//     the leases are still released, and Run returns ErrShutdownIncomplete
//     (the binary exits 1): nothing is lost, the rest is replayed by the
//     next owner.
//   - Abort is a crash, as SIGKILL would be, for in-process tests and
//     harnesses: Run returns ErrAborted promptly without waiting for Kafka,
//     without a checkpoint and without releasing the leases (they expire
//     after FailoverTime; the next owner replays from the last checkpoint).
//     Once Abort returns no lease-table write and no Kafka request leaves
//     the instance; only a produce request already sent may still be
//     appended by the broker, as after a real crash.
//   - A broker outage mid-run stalls the shards (records stay in flight,
//     bounded per shard; leases stay held) and recovers when it returns:
//     the producer retries without a delivery timeout.
//   - Start-up assumes the configured STS roles (each once, so a refusal
//     names the role and the service), then checks Kafka (brokers, topics,
//     max.message.bytes), the lease table (created if missing) and the
//     stream, each retried for at most StartupTimeout, then syncs the
//     leases; Ready (and /readyz) turn true only then.
//   - AWS reach (awsclients.go): Kinesis runs in the stream's region with
//     the stream role's credentials, DynamoDB in the lease table's region
//     with the lease-table role's; a stream given by ARN is named by
//     StreamARN in every Kinesis call, by its name in headers and
//     checkpoints.
//   - Known limit (as in the KCL): a shard started at LATEST keeps the LATEST
//     checkpoint until its first record is acknowledged, so records written
//     while no instance runs, before that first record, are not replicated.
package replicator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/replicator/backoff"
	"github.com/shardbridge/shardbridge/replicator/checkpoint"
	"github.com/shardbridge/shardbridge/replicator/checkpointtopic"
	"github.com/shardbridge/shardbridge/replicator/config"
	"github.com/shardbridge/shardbridge/replicator/kafkaopts"
	"github.com/shardbridge/shardbridge/replicator/lease"
	"github.com/shardbridge/shardbridge/replicator/membudget"
	"github.com/shardbridge/shardbridge/replicator/metrics"
	"github.com/shardbridge/shardbridge/replicator/partition"
	"github.com/shardbridge/shardbridge/replicator/process"
	"github.com/shardbridge/shardbridge/replicator/source"
)

// Clock is the replicator's source of time (lease expiry, checkpoint age).
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Option configures a Replicator.
type Option func(*options)

type options struct {
	log         *slog.Logger
	kin         source.KinesisAPI
	ddb         lease.DynamoDBAPI
	kafkaOpts   []kgo.Opt
	transformer process.Transformer
	clock       Clock
	reg         *prometheus.Registry
	sinkWrap    func(Sink) Sink
	seed        int64
	backoffBase time.Duration
	backoffMax  time.Duration
	leaseOpts   []lease.Option
	minInterval time.Duration
	reconcile   time.Duration
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithKinesisClient sets the Kinesis client (default: built from the SDK's
// default chain). *kinesis.Client satisfies source.KinesisAPI.
func WithKinesisClient(c source.KinesisAPI) Option { return func(o *options) { o.kin = c } }

// WithDynamoDBClient sets the DynamoDB client of the lease table (default:
// built from the SDK's default chain). *dynamodb.Client satisfies it.
func WithDynamoDBClient(c lease.DynamoDBAPI) Option { return func(o *options) { o.ddb = c } }

// WithKafkaOpts appends franz-go options after the ones built from Config.
func WithKafkaOpts(opts ...kgo.Opt) Option {
	return func(o *options) { o.kafkaOpts = append(o.kafkaOpts, opts...) }
}

// WithTransformer replaces the transformer Config.Transform names.
func WithTransformer(t process.Transformer) Option { return func(o *options) { o.transformer = t } }

// WithClock sets the clock of lease expiry and checkpoint age (default:
// wall clock). Sleeps and timers always use real time.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithMetricsRegistry registers the metrics on reg (default: a new registry).
func WithMetricsRegistry(reg *prometheus.Registry) Option { return func(o *options) { o.reg = reg } }

// WithSinkWrapper wraps the Kafka sink, e.g. to stall delivery in tests.
func WithSinkWrapper(f func(Sink) Sink) Option { return func(o *options) { o.sinkWrap = f } }

// WithSeed seeds every random choice (back-off jitter, lease shuffling).
func WithSeed(seed int64) Option { return func(o *options) { o.seed = seed } }

// WithBackoff bounds the reader's back-off after throttling and errors
// (defaults 250ms and 10s).
func WithBackoff(base, max time.Duration) Option {
	return func(o *options) { o.backoffBase, o.backoffMax = base, max }
}

// WithLeaseOptions appends options of the lease manager.
func WithLeaseOptions(opts ...lease.Option) Option {
	return func(o *options) { o.leaseOpts = append(o.leaseOpts, opts...) }
}

// WithMinGetRecordsInterval lowers the least time between two GetRecords of
// one shard (default 200ms, Kinesis' 5 calls/s). For emulators only.
func WithMinGetRecordsInterval(d time.Duration) Option { return func(o *options) { o.minInterval = d } }

// Replicator replicates one stream into one topic.
type Replicator struct {
	cfg       config.Config
	o         options
	log       *slog.Logger
	kin       source.KinesisAPI
	roles     []assumedRole // checked first at start-up
	mgr       *lease.Manager
	syncStore *syncGrace // shard sync's view of the lease table (see syncGrace)
	cp        checkpoint.Checkpointer
	transform process.Transformer
	decomp    *process.Decompressor
	kafka     *kgo.Client
	kopts     []kgo.Opt
	sink      Sink
	obs       *observer // metrics and Stats

	// Known after start-up.
	topic topicInfo
	dlq   topicInfo
	// memory bounds the records fetched and not acknowledged, all shards
	// together.
	memory *membudget.Budget
	// partitions is set for shard partitioning: the data topic's partition
	// count, re-read while a shard waits for its partition.
	partitions *shardPartitions
	ready      atomic.Bool
	readyErr   atomic.Pointer[string]
	syncReq    chan struct{}
	pipeline   *process.Pipeline // with the topic's size limit
	shardsMu   sync.Mutex
	shards     []types.Shard // last listing
	leaseMu    sync.Mutex
	leaseList  []lease.Lease
	leaseAt    time.Time

	mu      sync.Mutex
	workers map[string]*shardWorker

	// Abort (see abort.go).
	abortOnce  sync.Once
	abortCtx   context.Context // cancelled by Abort: Run crashes
	abortNow   context.CancelFunc
	aborting   atomic.Bool // set first by Abort: Produce refused
	ddbGate    *ddbGate
	runStarted atomic.Bool
	runDone    chan struct{} // closed when Run returns
}

// New builds a replicator; it does not touch the network (Run does).
func New(ctx context.Context, cfg config.Config, opts ...Option) (*Replicator, error) {
	o := options{clock: wallClock{}, reconcile: 250 * time.Millisecond}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.reg == nil {
		o.reg = prometheus.NewRegistry()
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Replicator{
		cfg:     cfg,
		o:       o,
		log:     o.log,
		syncReq: make(chan struct{}, 1),
		workers: map[string]*shardWorker{},
		runDone: make(chan struct{}),
	}
	r.abortCtx, r.abortNow = context.WithCancel(context.Background())
	r.readyErr.Store(ptr("starting"))
	m := metrics.New(o.reg, o.clock.Now)
	r.obs = newObserver(m, o.clock.Now)
	r.memory = membudget.New(cfg.MemoryBudgetBytes())
	m.WatchMemory(func() metrics.MemoryStats {
		return metrics.MemoryStats{Budget: r.memory.Total(), InUse: r.memory.Used(), Waits: r.memory.Waits()}
	})

	if o.kin == nil || o.ddb == nil {
		kin, ddb, roles, err := awsClients(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if o.kin == nil {
			r.kin = kin
			r.roles = append(r.roles, rolesFor(roles, "Kinesis")...)
		}
		if o.ddb == nil {
			o.ddb = ddb
			r.roles = append(r.roles, rolesFor(roles, "DynamoDB")...)
		}
	}
	if r.kin == nil {
		r.kin = o.kin
	}

	leaseOpts := append([]lease.Option{
		lease.WithFailoverTime(cfg.FailoverTime),
		lease.WithClock(o.clock),
		lease.WithLogger(o.log), // it names itself (component, worker, table)
		lease.WithSeed(o.seed),
	}, o.leaseOpts...)
	r.ddbGate = newDDBGate(o.ddb)
	r.mgr = lease.NewManager(r.ddbGate, cfg.ApplicationName, cfg.WorkerID, leaseOpts...)
	r.cp = checkpoint.Leases(r.mgr)
	r.syncStore = newSyncGrace(r.mgr, o.clock.Now, cfg.FailoverTime, o.log)
	m.WatchLeaseTable(func() metrics.LeaseTableStats {
		s := r.mgr.Stats()
		return metrics.LeaseTableStats{Throttles: s.Throttles, Renewals: s.Renewals, RenewalFailures: s.RenewalFailures, CorruptRows: s.CorruptRows}
	})

	// Validated: these fail only on a bug, still naming the setting.
	var err error
	if r.transform = o.transformer; r.transform == nil {
		if r.transform, err = process.ParseTransform(cfg.Transform); err != nil {
			return nil, fmt.Errorf("REPLICATOR_TRANSFORM: %w", err)
		}
	}
	if r.decomp, err = process.NewDecompressor(cfg.Decompress); err != nil {
		return nil, fmt.Errorf("REPLICATOR_DECOMPRESS: %w", err)
	}

	kopts, err := r.kafkaOptions()
	if err != nil {
		return nil, err
	}
	r.kopts = kopts
	if r.kafka, err = kgo.NewClient(kopts...); err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	r.sink = r.kafka
	if o.sinkWrap != nil {
		r.sink = o.sinkWrap(r.sink)
	}
	r.sink = abortSink{aborting: &r.aborting, inner: r.sink}
	return r, nil
}

func ptr[T any](v T) *T { return &v }

// Ready returns nil once the leases are synced and Kafka was reached, or
// why the replicator is not ready.
func (r *Replicator) Ready() error {
	if r.ready.Load() {
		return nil
	}
	return errors.New(*r.readyErr.Load())
}

// Handler serves /metrics, /healthz and /readyz.
func (r *Replicator) Handler() http.Handler { return r.obs.m.Handler(r.Ready) }

// Run replicates until ctx ends (then stops gracefully and returns nil) or a
// fatal error happens (start-up failure after StartupTimeout of retries).
// A graceful stop that could not finish within ShutdownTimeout — records
// Kafka never acknowledged (e.g. the broker is down), or a final checkpoint
// that could not be written — returns an error wrapping
// ErrShutdownIncomplete; nothing is lost then, since no checkpoint covers
// an unacknowledged record, but the next owner replays from the last
// checkpoint.
//
// After Abort, Run returns ErrAborted promptly instead (see Abort). Run may
// be called once.
func (r *Replicator) Run(ctx context.Context) (err error) {
	if !r.runStarted.CompareAndSwap(false, true) {
		return errors.New("replicator: Run called twice")
	}
	defer close(r.runDone) // deferred first: Abort waits for every other deferred step
	ctx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	stopAbort := context.AfterFunc(r.abortCtx, cancelRun)
	defer stopAbort()
	defer r.decomp.Close()
	// On the way out before the workers ran (nothing produced yet) the
	// client is closed here; the graceful stop closes it itself.
	kafkaClosing := false
	defer func() {
		if !kafkaClosing {
			r.kafka.Close()
		}
	}()

	if r.cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", r.cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("REPLICATOR_METRICS_ADDR: %w", err)
		}
		srv := &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		r.log.Info("metrics listening", "addr", ln.Addr().String())
	}

	if err := r.start(ctx); err != nil {
		if r.abortCtx.Err() != nil {
			return ErrAborted // nothing held yet; the client is closed below
		}
		if ctx.Err() != nil {
			return nil // stopped while starting: nothing held yet
		}
		return err
	}
	r.ready.Store(true)
	r.log.Info("replicator ready", "stream", r.streamRef(), "topic", r.cfg.KafkaTopic, "worker", r.cfg.WorkerID)

	// Not ctx: the manager outlives it until the leases are released; Abort
	// ends it at once.
	mgrCtx, stopMgr := context.WithCancel(r.abortCtx)
	mgrDone := make(chan struct{})
	go func() {
		defer close(mgrDone)
		_ = r.mgr.Run(mgrCtx)
	}()

	r.loop(ctx, r.workerDeps())
	if r.abortCtx.Err() != nil {
		// Crash: no flush, no checkpoint, no release; the deferred Close
		// fails what the client still buffers.
		return r.crash(stopMgr, mgrDone)
	}

	// Graceful stop. Most of the budget goes to waiting for Kafka's
	// acknowledgements; the rest is kept for the final checkpoints of what
	// was acknowledged and for releasing the leases, so that a broker that is
	// down at shutdown neither makes the stop overrun ShutdownTimeout nor
	// costs the progress already made, nor leaves leases to expire.
	r.ready.Store(false)
	r.readyErr.Store(ptr("stopping"))
	r.log.Info("stopping: finishing in-flight records, checkpointing, releasing leases", "timeout", r.cfg.ShutdownTimeout)
	total := r.cfg.ShutdownTimeout
	// Abort during the graceful stop cuts it short.
	finalCtx, cancelFinal := context.WithTimeout(r.abortCtx, total)
	defer cancelFinal()
	drainCtx, cancelDrain := context.WithTimeout(finalCtx, total-shutdownReserve(total))
	defer cancelDrain()
	incomplete := r.stopWorkers(drainCtx, finalCtx)
	if err := r.sink.Flush(drainCtx); err != nil {
		r.log.Warn("kafka flush incomplete at shutdown", "error", err)
	}
	// Closing the client fails whatever it still buffers (nothing was
	// checkpointed past those records). It runs alongside the lease release
	// and is waited for only within the budget: franz-go's Close can take a
	// while against a broker that is down.
	closed := make(chan struct{})
	kafkaClosing = true
	go func() {
		defer close(closed)
		r.kafka.Close()
	}()
	stopMgr()
	<-mgrDone
	if err := r.mgr.ReleaseAll(finalCtx); err != nil {
		r.log.Warn("releasing leases", "error", err)
	}
	r.obs.leasesHeld(0)
	select {
	case <-closed:
	case <-finalCtx.Done():
		r.log.Warn("kafka client still closing at the end of the shutdown timeout; abandoning it")
	}
	st := r.Stats()
	r.log.Info("stopped", "records_out", st.RecordsOut, "records_dlq", st.RecordsDLQ)
	if len(incomplete) > 0 {
		err := fmt.Errorf("%w within %s (REPLICATOR_SHUTDOWN_TIMEOUT): %s; the checkpoints stop before every record Kafka did not acknowledge, so the next owner re-reads from there: nothing is lost, duplicates are possible",
			ErrShutdownIncomplete, total, strings.Join(incomplete, "; "))
		r.log.Error("graceful stop incomplete", "error", err.Error())
		return err
	}
	return nil
}

// shutdownReserve is the part of the shutdown budget kept for the final
// checkpoints and the lease release: a quarter, at most 5 seconds.
func shutdownReserve(total time.Duration) time.Duration {
	return min(total/4, 5*time.Second)
}

// start checks every dependency with a bounded retry, then syncs leases.
func (r *Replicator) start(ctx context.Context) error {
	timeout := r.cfg.StartupTimeout
	r.readyErr.Store(ptr("assuming roles"))
	if err := r.checkRoles(ctx); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	adm := kadm.NewClient(r.kafka)
	r.readyErr.Store(ptr("connecting to kafka"))
	if err := kafkaopts.CheckReachable(ctx, r.kopts, timeout); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if err := backoff.Retry(ctx, r.log, timeout, "kafka", func(ctx context.Context) error {
		var err error
		r.topic, err = describeTopic(ctx, adm, r.cfg.KafkaTopic, "KAFKA_TOPIC")
		if err != nil {
			return err
		}
		if r.cfg.DLQTopic != "" {
			r.dlq, err = describeTopic(ctx, adm, r.cfg.DLQTopic, "REPLICATOR_DLQ_TOPIC")
		}
		return err
	}); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	r.pipeline = r.pipelineWithLimit()
	if r.cfg.DeliveryMode == config.ExactlyOnce {
		topic := r.cfg.CheckpointTopicName()
		r.readyErr.Store(ptr("creating the checkpoint topic"))
		if err := backoff.Retry(ctx, r.log, timeout, "kafka checkpoint topic "+topic, func(ctx context.Context) error {
			if err := checkpointtopic.Ensure(ctx, adm, topic); err != nil {
				return fmt.Errorf("REPLICATOR_CHECKPOINT_TOPIC: %w", err)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("start: %w", err)
		}
	}

	r.readyErr.Store(ptr("creating the lease table"))
	if err := backoff.Retry(ctx, r.log, timeout, "dynamodb lease table "+r.cfg.ApplicationName, r.mgr.EnsureTable); err != nil {
		return fmt.Errorf("start: %w", err)
	}

	r.readyErr.Store(ptr("listing shards"))
	if err := backoff.Retry(ctx, r.log, timeout, "kinesis stream "+r.streamRef(), func(ctx context.Context) error {
		return r.syncShards(ctx)
	}); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if r.cfg.Partitioning == config.PartitionByShard {
		r.partitions = &shardPartitions{topic: r.cfg.KafkaTopic, adm: kadm.NewClient(r.kafka), client: r.kafka,
			recheck: max(r.cfg.ShardSyncInterval, time.Second), n: r.topic.partitions}
		if err := r.checkShardPartitions(ctx); err != nil {
			// Not fatal: the shards that have their partition run, and the
			// others wait for the topic to grow (see shardPartitions).
			r.log.Warn("REPLICATOR_PARTITIONING=shard: some shards have no partition yet and wait until the topic grows", "error", err)
		}
	}
	return nil
}

// pipelineWithLimit is the pipeline, with the size limit of the data topic
// once that is known.
func (r *Replicator) pipelineWithLimit() *process.Pipeline {
	return process.NewPipeline(process.WithTransformer(r.transform), process.WithDecompressor(r.decomp),
		process.WithMaxRecordBytes(r.dataLimit()-recordOverhead))
}

// workerDeps is what the shard workers get of the replicator; built after
// start, which learns the topics.
func (r *Replicator) workerDeps() *workerDeps {
	c := r.cfg
	return &workerDeps{
		cfg: workerConfig{
			stream:             r.streamName(),
			streamRef:          r.streamRef(),
			topic:              c.KafkaTopic,
			dlqTopic:           c.DLQTopic,
			dlqPartitions:      r.dlq.partitions,
			dlqLimit:           r.dlqLimit(),
			initialPosition:    c.InitialPosition,
			initialTimestamp:   c.InitialTimestamp,
			maxInFlight:        c.MaxInFlightPerShard,
			maxInFlightBytes:   c.MaxInFlightBytesPerShard,
			checkpointInterval: c.CheckpointInterval,
			seed:               r.o.seed,
			maxRecordsPerGet:   c.MaxRecordsPerGet,
			pollInterval:       c.PollInterval,
			minGetInterval:     r.o.minInterval,
			backoffBase:        r.o.backoffBase,
			backoffMax:         r.o.backoffMax,
		},
		log:          r.log,
		leases:       r.mgr,
		cp:           r.cp,
		kin:          r.kin,
		pipeline:     r.pipeline,
		sink:         r.sink,
		obs:          r.obs,
		leaseTable:   r.leases,
		listedShards: r.listedShards,
		shardEnded: func() {
			r.invalidateLeases()
			r.requestSync()
		},
		txn:        r.txnDeps(),
		partitions: r.partitions,
		memory:     r.memory,
	}
}

// txnDeps is what exactly-once shard workers need (nil at-least-once).
func (r *Replicator) txnDeps() *txnDeps {
	c := r.cfg
	if c.DeliveryMode != config.ExactlyOnce {
		return nil
	}
	topic := c.CheckpointTopicName()
	return &txnDeps{
		open: func(shardID string) (*kgo.Client, error) {
			opts := append(slices.Clone(r.kopts),
				kgo.TransactionalID(c.TransactionalID(shardID)),
				kgo.TransactionTimeout(c.TransactionTimeoutOrDefault()))
			return kgo.NewClient(opts...)
		},
		reader:     checkpointtopic.NewReader(topic, kadm.NewClient(r.kafka), r.kopts...),
		topic:      topic,
		interval:   c.TransactionInterval,
		maxRecords: c.TransactionMaxRecords,
		timeout:    c.TransactionTimeoutOrDefault(),
		aborting:   &r.aborting,
		now:        r.o.clock.Now,
		wrap:       r.o.sinkWrap,
	}
}

// dataLimit is the largest batch the data topic takes.
func (r *Replicator) dataLimit() int {
	n := r.topic.maxMessageBytes
	if n <= 0 {
		n = defaultMaxMessageBytes
	}
	if r.cfg.BatchMaxBytes > 0 && r.cfg.BatchMaxBytes < n {
		n = r.cfg.BatchMaxBytes
	}
	return n
}

// dlqLimit is the largest batch the dead-letter topic takes.
func (r *Replicator) dlqLimit() int {
	if r.dlq.maxMessageBytes > 0 {
		return r.dlq.maxMessageBytes
	}
	return defaultMaxMessageBytes
}

// kafkaOptions builds the franz-go options from the configuration.
func (r *Replicator) kafkaOptions() ([]kgo.Opt, error) {
	base, err := kafkaopts.Build(r.cfg)
	if err != nil {
		return nil, err
	}
	part := partition.KeyPartitioner()
	if r.cfg.Partitioning == config.PartitionByShard {
		part = partition.ShardPartitioner()
	}
	opts := append(base,
		kgo.RecordPartitioner(part),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// Per-topic batch caps: the data topic's and the dead-letter topic's
		// max.message.bytes may differ (known after start-up; the function
		// is consulted when a partition is first used, which is later).
		kgo.ProducerBatchMaxBytesFn(func(topic string) int32 {
			if topic == r.cfg.DLQTopic && topic != "" {
				return int32(min(r.dlqLimit(), 1<<30))
			}
			if topic == "" {
				return int32(max(min(r.cfg.BatchMaxBytes, 1<<30), 512))
			}
			return int32(min(r.dataLimit(), 1<<30))
		}),
		// The per-shard bounds limit memory; franz-go's own buffer limit
		// must never be what blocks a shard (its Produce would then wait
		// without regard for that shard's lease).
		kgo.MaxBufferedRecords(1<<30),
	)
	return append(opts, r.o.kafkaOpts...), nil
}

// loop runs the shards until ctx ends.
func (r *Replicator) loop(ctx context.Context, deps *workerDeps) {
	reconcile := time.NewTicker(r.o.reconcile)
	defer reconcile.Stop()
	sync := time.NewTicker(r.cfg.ShardSyncInterval)
	defer sync.Stop()
	r.reconcile(ctx, deps)
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-r.mgr.Events():
			r.onLeaseEvent(ev)
			r.reconcile(ctx, deps)
		case <-reconcile.C:
			r.reconcile(ctx, deps)
		case <-sync.C:
			r.trySync(ctx)
		case <-r.syncReq:
			r.trySync(ctx)
		}
	}
}

func (r *Replicator) onLeaseEvent(ev lease.Event) {
	r.obs.leaseEvent(ev.Kind)
	if ev.Kind == lease.Lost {
		r.mu.Lock()
		w := r.workers[ev.Lease.ShardID]
		r.mu.Unlock()
		if w != nil {
			w.lose("lease lost: " + ev.Reason)
		}
	}
}

// reconcile starts a worker for every held lease without one and stops the
// workers of leases no longer held. Events only wake it up: the lease
// manager's Held is the truth (events can be dropped when nobody listens).
func (r *Replicator) reconcile(ctx context.Context, deps *workerDeps) {
	held := r.mgr.Held()
	r.obs.leasesHeld(len(held))
	want := make(map[string]lease.Lease, len(held))
	for _, l := range held {
		want[l.ShardID] = l
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, w := range r.workers {
		select {
		case <-w.done:
			delete(r.workers, id)
			continue
		default:
		}
		if _, ok := want[id]; !ok && !w.ending.Load() {
			w.lose("lease no longer held")
		}
	}
	if ctx.Err() != nil {
		return
	}
	for id, l := range want {
		if _, running := r.workers[id]; running {
			continue
		}
		w := newShardWorker(deps, l)
		r.workers[id] = w
		go w.run() // a graceful stop is driven by stopWorkers, not ctx
	}
}

// stopWorkers asks every worker to stop reading, wait for its records in
// flight until drain ends, and checkpoint what Kafka acknowledged until final
// ends (then the worker is abandoned). It returns a description of each
// shard whose stop was incomplete (records unacknowledged, or the final
// checkpoint not written).
func (r *Replicator) stopWorkers(drain, final context.Context) []string {
	r.mu.Lock()
	ws := make([]*shardWorker, 0, len(r.workers))
	for _, w := range r.workers {
		ws = append(ws, w)
	}
	r.mu.Unlock()
	for _, w := range ws {
		w.stop(drain, final)
	}
	var incomplete []string
	for _, w := range ws {
		select {
		case <-w.done:
		case <-final.Done():
			w.lose(reasonShutdownTimeout)
			<-w.done
		}
		if why := w.stopIncomplete(); why != "" {
			incomplete = append(incomplete, w.id+": "+why)
		}
	}
	slices.Sort(incomplete)
	return incomplete
}

// requestSync asks the loop for a shard sync soon.
func (r *Replicator) requestSync() {
	select {
	case r.syncReq <- struct{}{}:
	default:
	}
}

func (r *Replicator) trySync(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.syncShards(sctx); err != nil && ctx.Err() == nil {
		r.log.Warn("shard sync failed; retrying at the next interval", "error", err)
	}
}

// syncShards lists the shards and creates missing leases.
func (r *Replicator) syncShards(ctx context.Context) error {
	shards, created, err := source.SyncLeases(ctx, r.kin, r.syncStore, r.streamRef(), leasePosition(r.cfg.InitialPosition))
	if shards != nil {
		r.shardsMu.Lock()
		r.shards = shards
		r.shardsMu.Unlock()
	}
	if err != nil {
		return err
	}
	if created > 0 {
		r.log.Info("leases created", "count", created, "shards", len(shards))
		r.invalidateLeases()
	}
	return nil
}

// checkShardPartitions refuses shard partitioning when some shard still to
// be read has no partition of its own.
func (r *Replicator) checkShardPartitions(ctx context.Context) error {
	all, err := r.mgr.List(ctx)
	if err != nil {
		return fmt.Errorf("list leases: %w", err)
	}
	finished := map[string]bool{}
	for _, l := range all {
		if l.Finished() {
			finished[l.ShardID] = true
		}
	}
	var ids []string
	for _, s := range r.listedShards() {
		if id := aws.ToString(s.ShardId); !finished[id] {
			ids = append(ids, id)
		}
	}
	return partition.CheckShardPartitions(ids, r.topic.partitions)
}

func (r *Replicator) listedShards() []types.Shard {
	r.shardsMu.Lock()
	defer r.shardsMu.Unlock()
	return r.shards
}

// leases returns the lease table, cached for a short while: shards waiting
// for their parents poll it.
func (r *Replicator) leases(ctx context.Context) ([]lease.Lease, error) {
	r.leaseMu.Lock()
	defer r.leaseMu.Unlock()
	if r.leaseList != nil && time.Since(r.leaseAt) < 500*time.Millisecond {
		return r.leaseList, nil
	}
	all, err := r.mgr.List(ctx)
	if err != nil {
		return nil, err
	}
	r.leaseList, r.leaseAt = all, time.Now()
	return all, nil
}

func (r *Replicator) invalidateLeases() {
	r.leaseMu.Lock()
	r.leaseList = nil
	r.leaseMu.Unlock()
}

func leasePosition(p string) string {
	switch p {
	case config.Latest:
		return lease.Latest
	case config.AtTimestamp:
		return lease.AtTimestamp
	}
	return lease.TrimHorizon
}

// ErrShutdownIncomplete is returned (wrapped) by Run when a graceful stop
// could not finish within ShutdownTimeout: records Kafka did not acknowledge
// (e.g. the broker is down) or a final checkpoint that could not be written.
// Nothing is lost — no checkpoint covers an unacknowledged record — but the
// next owner replays from the last checkpoint; the binary exits 1.
var ErrShutdownIncomplete = errors.New("graceful stop incomplete")
