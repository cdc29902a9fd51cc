package lease

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDBAPI is the subset of *dynamodb.Client the Manager uses.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

var _ DynamoDBAPI = (*dynamodb.Client)(nil)

// Clock is the source of time used to judge expiry.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// EventKind says what happened to a lease held by this Manager.
type EventKind int

const (
	// Acquired: this worker took an unowned or expired lease.
	Acquired EventKind = iota + 1
	// Lost: this worker no longer holds the lease (taken by another worker,
	// row deleted, or renewal failing for FailoverTime). Stop processing it.
	Lost
	// Stolen: this worker took the lease from a live worker to rebalance.
	// Like Acquired, the lease is now held by this worker.
	Stolen
	// Released: this worker gave the lease up (Release, shard end, delete).
	Released
)

func (k EventKind) String() string {
	switch k {
	case Acquired:
		return "acquired"
	case Lost:
		return "lost"
	case Stolen:
		return "stolen"
	case Released:
		return "released"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Gained reports whether the event means the lease is now held (Acquired or Stolen).
func (k EventKind) Gained() bool { return k == Acquired || k == Stolen }

// Event reports a change of the set of leases this Manager holds.
type Event struct {
	Kind   EventKind
	Lease  Lease  // the lease as this Manager last knew it
	Reason string // human-readable cause
	Peer   string // the previous owner (Acquired, Stolen) or the new owner (Lost), when known
	Time   time.Time
}

// Stats are cumulative counters for metrics.
type Stats struct {
	Held            int   // leases held now
	Renewals        int64 // successful renewals
	RenewalFailures int64 // renewals that failed with a transient error after retries
	Throttles       int64 // throttling errors seen from the lease table
	Taken           int64 // leases acquired (expired or unowned)
	Stolen          int64 // leases stolen from live workers
	Lost            int64 // leases lost
	Released        int64 // leases released
	Checkpoints     int64 // successful checkpoints
	CorruptRows     int   // malformed rows seen in the last scan
	DroppedEvents   int64 // events not delivered because the channel was full
}

type config struct {
	failover      time.Duration
	clock         Clock
	log           *slog.Logger
	maxLeases     int
	maxSteal      int
	eligible      func(Lease) bool
	eventBuf      int
	attempts      int
	backoffBase   time.Duration
	backoffMax    time.Duration
	callTimeout   time.Duration
	sleep         func(context.Context, time.Duration) error
	seed          uint64
	seedSet       bool
	parallelism   int
	tablePollWait time.Duration
}

// Option configures a Manager.
type Option func(*config)

// WithFailoverTime sets how long a lease counter must stand still before the
// lease counts as expired (default 10s). Renewals run every third of it.
func WithFailoverTime(d time.Duration) Option { return func(c *config) { c.failover = d } }

// WithClock sets the clock used to judge expiry (default: wall clock).
func WithClock(clk Clock) Option { return func(c *config) { c.clock = clk } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithMaxLeasesForWorker caps how many leases this worker holds (0 = no cap).
func WithMaxLeasesForWorker(n int) Option { return func(c *config) { c.maxLeases = n } }

// WithMaxLeasesToStealAtOnce caps steals per Tick (default 1).
func WithMaxLeasesToStealAtOnce(n int) Option { return func(c *config) { c.maxSteal = n } }

// WithEligible adds a filter: a lease is taken only if f returns true (in
// addition to the built-in ParentsDone rule).
func WithEligible(f func(Lease) bool) Option { return func(c *config) { c.eligible = f } }

// WithEventBuffer sets the capacity of the Events channel (default 1024).
func WithEventBuffer(n int) Option { return func(c *config) { c.eventBuf = n } }

// WithRetry sets how transient lease-table errors (throttling, 5xx, network)
// are retried within one operation: attempts in total and exponential backoff
// with jitter between base and max. Defaults: 6 attempts, failover/100 to failover/10.
// The SDK's own retries are off for lease-table calls (see noSDKRetry).
func WithRetry(attempts int, base, max time.Duration) Option {
	return func(c *config) { c.attempts, c.backoffBase, c.backoffMax = attempts, base, max }
}

// WithCallTimeout bounds each DynamoDB call (default failover/5, at least 200ms).
func WithCallTimeout(d time.Duration) Option { return func(c *config) { c.callTimeout = d } }

// WithSleep replaces the backoff sleep (tests advance a manual clock instead
// of sleeping).
func WithSleep(f func(context.Context, time.Duration) error) Option {
	return func(c *config) { c.sleep = f }
}

// WithSeed seeds the random choices (which expired lease to take first, which
// lease to steal, backoff jitter). Default: derived from the worker id.
func WithSeed(seed int64) Option {
	return func(c *config) { c.seed, c.seedSet = uint64(seed), true }
}

// Manager holds and balances leases for one worker.
type Manager struct {
	ddb    DynamoDBAPI
	table  string
	worker string
	cfg    config
	log    *slog.Logger
	events chan Event

	tickMu sync.Mutex // one Tick at a time

	mu          sync.Mutex // guards everything below, never held across I/O
	held        map[string]*heldLease
	obs         map[string]observation
	corrupt     map[string]string // shard → last reported reason, to log each corruption once
	lastSteal   time.Time         // when this worker last stole (lease clock)
	stats       Stats
	rng         *rand.Rand
	initialized bool // first take round done (own leases reclaimed)
}

// heldLease is a lease this worker holds. mu serialises the DynamoDB writes
// to the row, so that a renewal and a checkpoint never race on the counter.
// lease, lastRenewed and gone change only with both h.mu and Manager.mu held.
type heldLease struct {
	mu          sync.Mutex
	lease       Lease
	lastRenewed time.Time // local time at which the last successful write was sent
	gone        bool      // dropped; the holder of the pointer must give up
	// uncertain: a write ended without a clear answer (its last attempts
	// timed out or failed server-side), so it may have landed and moved the
	// row's counter past lease.Counter. See Manager.lose.
	uncertain bool
}

// observation is when this Manager first saw a lease's current counter.
type observation struct {
	counter int64
	since   time.Time
}

// NewManager returns a Manager for the lease table of one application, acting
// as workerID. Call EnsureTable once, then Run (or Tick).
func NewManager(ddb DynamoDBAPI, table, workerID string, opts ...Option) *Manager {
	cfg := config{
		failover:      10 * time.Second,
		maxSteal:      1,
		eventBuf:      1024,
		attempts:      6,
		parallelism:   16,
		tablePollWait: 500 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.failover <= 0 {
		cfg.failover = 10 * time.Second
	}
	if cfg.clock == nil {
		cfg.clock = wallClock{}
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	if cfg.maxSteal <= 0 {
		cfg.maxSteal = 1
	}
	if cfg.eventBuf <= 0 {
		cfg.eventBuf = 1024
	}
	if cfg.attempts <= 0 {
		cfg.attempts = 1
	}
	if cfg.backoffBase <= 0 {
		cfg.backoffBase = cfg.failover / 100
	}
	if cfg.backoffMax < cfg.backoffBase {
		cfg.backoffMax = max(cfg.failover/10, cfg.backoffBase)
	}
	if cfg.callTimeout <= 0 {
		cfg.callTimeout = max(cfg.failover/5, 200*time.Millisecond)
	}
	if cfg.sleep == nil {
		cfg.sleep = sleepCtx
	}
	if !cfg.seedSet {
		h := fnv.New64a()
		h.Write([]byte(workerID))
		cfg.seed = h.Sum64()
	}
	return &Manager{
		ddb:     ddb,
		table:   table,
		worker:  workerID,
		cfg:     cfg,
		log:     cfg.log.With("component", "lease", "worker", workerID, "table", table),
		events:  make(chan Event, cfg.eventBuf),
		held:    map[string]*heldLease{},
		obs:     map[string]observation{},
		corrupt: map[string]string{},
		rng:     rand.New(rand.NewPCG(cfg.seed, 0x5eed)),
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// WorkerID returns the id this Manager writes as leaseOwner.
func (m *Manager) WorkerID() string { return m.worker }

// FailoverTime returns the configured failover time.
func (m *Manager) FailoverTime() time.Duration { return m.cfg.failover }

// Events delivers lease changes. The channel is buffered (WithEventBuffer) and
// the Manager never blocks on it: when it is full the event is dropped,
// counted in Stats.DroppedEvents and logged. Held and Holds always tell the
// truth, so a consumer that may fall behind should reconcile with Held; and a
// worker that missed a Lost event still cannot checkpoint (ErrLeaseLost).
func (m *Manager) Events() <-chan Event { return m.events }

// emit must be called with m.mu held.
func (m *Manager) emit(kind EventKind, l Lease, reason, peer string) {
	ev := Event{Kind: kind, Lease: l.clone(), Reason: reason, Peer: peer, Time: m.cfg.clock.Now()}
	switch kind {
	case Acquired:
		m.stats.Taken++
	case Stolen:
		m.stats.Stolen++
	case Lost:
		m.stats.Lost++
	case Released:
		m.stats.Released++
	}
	lvl := slog.LevelInfo
	if kind == Lost {
		lvl = slog.LevelWarn
	}
	m.log.Log(context.Background(), lvl, "lease "+kind.String(), "shard", l.ShardID, "reason", reason, "peer", peer, "counter", l.Counter)
	select {
	case m.events <- ev:
	default:
		m.stats.DroppedEvents++
		m.log.Warn("lease event dropped: events channel full", "shard", l.ShardID, "kind", kind.String())
	}
}

// Held returns the leases this worker holds, sorted by shard id. A lease whose
// renewal has not succeeded for FailoverTime is not reported, even before the
// next Tick drops it, because another worker may already have taken it.
func (m *Manager) Held() []Lease {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.clock.Now()
	out := make([]Lease, 0, len(m.held))
	for _, h := range m.held {
		if m.fresh(h, now) {
			out = append(out, h.lease.clone())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ShardID < out[j].ShardID })
	return out
}

// Holds reports whether this worker holds the shard's lease (see Held).
func (m *Manager) Holds(shardID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.held[shardID]
	return ok && m.fresh(h, m.cfg.clock.Now())
}

// Verify renews a held lease at once and reports whether it is still held
// afterwards. A worker whose Kafka transactional producer was fenced by
// another instance asks before the shard is started again: the renewal's
// compare-and-set fails when that instance took the lease (the lease is then
// dropped and Lost emitted), and succeeds when the fencing came from a
// zombie whose lease had expired.
func (m *Manager) Verify(ctx context.Context, shardID string) bool {
	m.mu.Lock()
	h, ok := m.held[shardID]
	m.mu.Unlock()
	if !ok {
		return false
	}
	m.renew(ctx, h)
	return m.Holds(shardID)
}

func (m *Manager) fresh(h *heldLease, now time.Time) bool {
	return !h.gone && now.Sub(h.lastRenewed) < m.cfg.failover
}

// Stats returns a snapshot of the counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.Held = len(m.held)
	return s
}

// EnsureTable creates the lease table if it is missing (on-demand billing,
// hash key leaseKey) and waits until it is ACTIVE.
func (m *Manager) EnsureTable(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		out, err := m.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(m.table)}, noSDKRetry)
		switch {
		case err == nil:
			if err := checkSchema(out.Table); err != nil {
				return fmt.Errorf("lease table %s: %w", m.table, err)
			}
			if out.Table.TableStatus == types.TableStatusActive {
				return nil
			}
		case errCode(err) == "ResourceNotFoundException":
			_, cerr := m.ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
				TableName:            aws.String(m.table),
				BillingMode:          types.BillingModePayPerRequest,
				AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(attrKey), AttributeType: types.ScalarAttributeTypeS}},
				KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(attrKey), KeyType: types.KeyTypeHash}},
			}, noSDKRetry)
			// ResourceInUse: another worker is creating it at the same time.
			if cerr != nil && errCode(cerr) != "ResourceInUseException" {
				if !retryable(cerr) {
					return fmt.Errorf("create lease table %s: %w", m.table, cerr)
				}
				m.countThrottle(cerr)
			} else if cerr == nil {
				m.log.Info("lease table created", "billing", "PAY_PER_REQUEST")
			}
		default:
			if !retryable(err) {
				return fmt.Errorf("describe lease table %s: %w", m.table, err)
			}
			m.countThrottle(err)
		}
		wait := min(m.cfg.tablePollWait, m.cfg.backoffBase<<min(attempt, 10))
		if err := m.cfg.sleep(ctx, wait); err != nil {
			return fmt.Errorf("waiting for lease table %s: %w", m.table, err)
		}
	}
}

func checkSchema(t *types.TableDescription) error {
	if t == nil {
		return errors.New("no table description")
	}
	for _, k := range t.KeySchema {
		if k.KeyType == types.KeyTypeHash {
			if aws.ToString(k.AttributeName) != attrKey {
				return fmt.Errorf("hash key is %q, want %q", aws.ToString(k.AttributeName), attrKey)
			}
			return nil
		}
	}
	if len(t.KeySchema) == 0 {
		return nil // some emulators omit it while creating
	}
	return errors.New("no hash key")
}

// CreateLease writes a new lease unless one exists for the shard: false, nil
// when it already existed. The lease must name a checkpoint (normally the
// initial position); owner and counter are written as given.
func (m *Manager) CreateLease(ctx context.Context, l Lease) (bool, error) {
	if l.ShardID == "" {
		return false, errors.New("create lease: empty shard id")
	}
	if l.Checkpoint == "" {
		return false, fmt.Errorf("create lease %s: empty checkpoint", l.ShardID)
	}
	slices.Sort(l.ParentShardIDs)
	l.ParentShardIDs = slices.Compact(l.ParentShardIDs)
	_, err := m.retry(ctx, func(ctx context.Context) error {
		_, err := m.ddb.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                aws.String(m.table),
			Item:                     toItem(l),
			ConditionExpression:      aws.String("attribute_not_exists(#k)"),
			ExpressionAttributeNames: map[string]string{"#k": attrKey},
		}, noSDKRetry)
		return err
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create lease %s: %w", l.ShardID, err)
	}
	m.log.Debug("lease created", "shard", l.ShardID, "checkpoint", l.Checkpoint, "parents", l.ParentShardIDs)
	return true, nil
}

// List returns every well-formed lease (consistent scan, all pages), sorted
// by shard id. Malformed rows are logged and skipped.
func (m *Manager) List(ctx context.Context) ([]Lease, error) {
	good, _, err := m.scan(ctx)
	return good, err
}

// scan returns the well-formed leases and the ids of malformed rows.
func (m *Manager) scan(ctx context.Context) ([]Lease, []string, error) {
	var (
		good    []Lease
		bad     []string
		badWhy  = map[string]string{}
		startAt map[string]types.AttributeValue
	)
	for {
		var out *dynamodb.ScanOutput
		_, err := m.retry(ctx, func(ctx context.Context) error {
			var err error
			out, err = m.ddb.Scan(ctx, &dynamodb.ScanInput{
				TableName:         aws.String(m.table),
				ConsistentRead:    aws.Bool(true),
				ExclusiveStartKey: startAt,
			}, noSDKRetry)
			return err
		})
		if err != nil {
			return nil, nil, fmt.Errorf("scan lease table %s: %w", m.table, err)
		}
		for _, it := range out.Items {
			l, err := fromItem(it)
			if errors.Is(err, ErrNotLease) {
				continue // another entity the KCL keeps in the table
			}
			if err != nil {
				id := l.ShardID
				if id == "" {
					id = "?"
				}
				bad = append(bad, id)
				badWhy[id] = err.Error()
				continue
			}
			good = append(good, l)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		startAt = out.LastEvaluatedKey
	}
	sort.Slice(good, func(i, j int) bool { return good[i].ShardID < good[j].ShardID })
	m.noteCorrupt(badWhy)
	return good, bad, nil
}

// noteCorrupt logs each malformed row once (again if its problem changes).
func (m *Manager) noteCorrupt(why map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, reason := range why {
		if m.corrupt[id] != reason {
			m.log.Error("skipping malformed lease row", "shard", id, "error", reason)
		}
	}
	for id := range m.corrupt {
		if _, still := why[id]; !still {
			m.log.Info("lease row no longer malformed", "shard", id)
		}
	}
	m.corrupt = why
	m.stats.CorruptRows = len(why)
}

// Get reads one lease (consistent read). ok is false when no row exists; a
// malformed row is an error wrapping ErrCorrupt.
func (m *Manager) Get(ctx context.Context, shardID string) (Lease, bool, error) {
	var out *dynamodb.GetItemOutput
	_, err := m.retry(ctx, func(ctx context.Context) error {
		var err error
		out, err = m.ddb.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      aws.String(m.table),
			Key:            map[string]types.AttributeValue{attrKey: str(shardID)},
			ConsistentRead: aws.Bool(true),
		}, noSDKRetry)
		return err
	})
	if err != nil {
		return Lease{}, false, fmt.Errorf("get lease %s: %w", shardID, err)
	}
	if len(out.Item) == 0 {
		return Lease{}, false, nil
	}
	l, err := fromItem(out.Item)
	if err != nil {
		return Lease{ShardID: shardID}, true, fmt.Errorf("get lease %s: %w", shardID, err)
	}
	return l, true, nil
}
