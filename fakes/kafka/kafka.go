// Package kafka is Shardbridge's embedded Kafka: a thin wrapper over
// franz-go's kfake that speaks the real protocol (idempotent producers,
// transactions, read_committed are kfake's own) and adds the lifecycle and
// faults the chaos harness needs.
//
// Contract:
//   - New starts a cluster (default one broker) with the seeded topics. Its
//     data lives in a data directory (WithDataDir, or a fresh temporary one
//     that Close removes), so Stop/Start and Restart keep every record,
//     committed offset and producer state, and come back on the same
//     ports: Brokers never changes for the life of a Cluster. Brokers listen
//     on 127.0.0.1 unless WithListenHost/WithAdvertisedHost say otherwise.
//   - FailProduce and TimeoutAfterAppend install kfake faults on the running
//     broker: the first rejects the next n produce requests for a topic before
//     anything is appended; the second appends and then answers
//     REQUEST_TIMED_OUT, the "unknown outcome" a producer must survive
//     without duplicating (an idempotent producer's retry is deduplicated by
//     its sequence numbers). A restart, like a real broker restart, forgets
//     faults that have not fired yet.
//   - MoveLeader moves a partition's leadership (and bumps its leader epoch);
//     SetLatency delays every request by d before the broker handles it,
//     and survives restarts.
//
// All methods are safe for concurrent use.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Option configures a Cluster.
type Option func(*config)

type config struct {
	brokers int
	topics  []topic
	dataDir string
	ports   []int
	log     *slog.Logger
	extra   []kfake.Opt

	listenHost, advertisedHost string
}

type topic struct {
	name       string
	partitions int32
}

// WithBrokers sets the number of brokers (default 1).
func WithBrokers(n int) Option { return func(c *config) { c.brokers = n } }

// WithTopic creates topic name with the given partitions at start (and
// recreates it after a restart if it is missing).
func WithTopic(name string, partitions int32) Option {
	return func(c *config) { c.topics = append(c.topics, topic{name, partitions}) }
}

// WithDataDir keeps the cluster's data in dir, which outlives the Cluster
// (default: a temporary directory that Close removes). A cluster started on
// a directory that already holds data reloads it.
func WithDataDir(dir string) Option { return func(c *config) { c.dataDir = dir } }

// WithPorts listens on fixed ports, one per broker (default: ports the OS
// chooses at first start, then kept).
func WithPorts(ports ...int) Option { return func(c *config) { c.ports = ports } }

// WithListenHost listens on host instead of 127.0.0.1, for example
// "0.0.0.0" inside a container.
func WithListenHost(host string) Option { return func(c *config) { c.listenHost = host } }

// WithAdvertisedHost makes the brokers tell clients to reach them at
// host:port (default: the listen host, or 127.0.0.1 when that is a wildcard),
// for example the container's name in a compose network.
func WithAdvertisedHost(host string) Option { return func(c *config) { c.advertisedHost = host } }

// WithLogger routes kfake's log lines (warnings and errors) to l (default:
// discard).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithKfakeOptions passes extra options to kfake.NewCluster on every start,
// for example kfake.BrokerConfigs.
func WithKfakeOptions(opts ...kfake.Opt) Option {
	return func(c *config) { c.extra = append(c.extra, opts...) }
}

// Cluster is an embedded Kafka cluster that can go down and come back.
type Cluster struct {
	cfg     config
	ownDir  bool
	brokers []string

	mu        sync.Mutex
	kc        *kfake.Cluster // nil while stopped
	ports     []int
	handles   []*kfake.FaultHandle
	faultHits int // hits of handles from before a restart
	closed    bool

	// latMu guards the latency state. The latency control function takes
	// only latMu, never mu, because mu is held while waiting on kfake's
	// loop (Stop), which may be waiting on that control function.
	latMu      sync.Mutex
	latency    time.Duration
	latencyFor *kfake.Cluster // the cluster the latency control is installed on
}

// New starts a cluster.
func New(ctx context.Context, opts ...Option) (*Cluster, error) {
	cfg := config{brokers: 1}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.ports) > 0 {
		cfg.brokers = len(cfg.ports)
	}
	if cfg.brokers < 1 {
		return nil, fmt.Errorf("kafka: %d brokers: need at least one", cfg.brokers)
	}
	c := &Cluster{cfg: cfg, ports: append([]int(nil), cfg.ports...)}
	if c.cfg.dataDir == "" {
		dir, err := os.MkdirTemp("", "shardbridge-kafka-")
		if err != nil {
			return nil, fmt.Errorf("kafka: data dir: %w", err)
		}
		c.cfg.dataDir, c.ownDir = dir, true
	}
	if err := c.Start(ctx); err != nil {
		if c.ownDir {
			_ = os.RemoveAll(c.cfg.dataDir)
		}
		return nil, err
	}
	return c, nil
}

// Brokers returns the brokers' addresses ("127.0.0.1:port"); they stay the
// same across restarts.
func (c *Cluster) Brokers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.brokers...)
}

// DataDir is where the cluster keeps its data.
func (c *Cluster) DataDir() string { return c.cfg.dataDir }

// Running reports whether the brokers are up.
func (c *Cluster) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kc != nil
}

// Kfake returns the running kfake cluster for anything this wrapper does not
// cover, or nil while stopped. Controls and faults installed on it are lost
// on restart.
func (c *Cluster) Kfake() *kfake.Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kc
}

// Start brings the brokers up on their ports with the data kept. Starting a
// running cluster does nothing.
func (c *Cluster) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kafka start: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("kafka start: cluster closed")
	}
	if c.kc != nil {
		return nil
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(c.cfg.brokers),
		kfake.DataDir(c.cfg.dataDir),
		kfake.WithLogger(slogLogger{c.cfg.log}),
	}
	if len(c.ports) > 0 {
		opts = append(opts, kfake.Ports(c.ports...))
	}
	if c.cfg.listenHost != "" || c.cfg.advertisedHost != "" {
		opts = append(opts, kfake.ListenFn(listenFn(c.cfg.listenHost, c.cfg.advertisedHost)))
	}
	for _, t := range c.cfg.topics {
		opts = append(opts, kfake.SeedTopics(t.partitions, t.name))
	}
	opts = append(opts, c.cfg.extra...)
	kc, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("kafka start (data %s, ports %v): %w", c.cfg.dataDir, c.ports, err)
	}
	addrs := kc.ListenAddrs()
	if len(c.ports) == 0 {
		// First start on OS-chosen ports: remember them for every restart.
		for _, a := range addrs {
			_, p, err := net.SplitHostPort(a)
			if err != nil {
				kc.Close()
				return fmt.Errorf("kafka start: listen address %q: %w", a, err)
			}
			port, _ := strconv.Atoi(p)
			c.ports = append(c.ports, port)
		}
	}
	c.brokers = addrs
	// Seed topics apply only to an empty data dir; a reloaded one may
	// predate a WithTopic.
	for _, t := range c.cfg.topics {
		if kc.TopicInfo(t.name) == nil {
			if err := kc.CreateTopic(t.name, t.partitions, nil); err != nil {
				kc.Close()
				return fmt.Errorf("kafka start: create topic %s: %w", t.name, err)
			}
		}
	}
	c.kc = kc
	c.syncLatencyLocked()
	c.cfg.log.Info("kafka started", "brokers", addrs, "data", c.cfg.dataDir)
	return nil
}

// Stop takes the brokers down: listeners and client connections close, data
// is flushed to the data directory. Stopping a stopped cluster does nothing.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked()
}

func (c *Cluster) stopLocked() {
	if c.kc == nil {
		return
	}
	for _, h := range c.handles {
		c.faultHits += h.Hits()
	}
	c.handles = nil
	c.kc.Close()
	c.kc = nil
	c.cfg.log.Info("kafka stopped", "brokers", c.brokers)
}

// Restart stops the brokers and starts them again on the same ports with the
// data kept.
func (c *Cluster) Restart(ctx context.Context) error {
	c.Stop()
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("kafka restart: %w", err)
	}
	return nil
}

// Close stops the cluster for good and removes a temporary data directory.
func (c *Cluster) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.stopLocked()
	c.closed = true
	if c.ownDir {
		_ = os.RemoveAll(c.cfg.dataDir)
	}
}

// running returns the live kfake cluster or an error naming what was asked.
func (c *Cluster) runningLocked(what string) (*kfake.Cluster, error) {
	if c.kc == nil {
		return nil, fmt.Errorf("kafka %s: cluster is stopped", what)
	}
	return c.kc, nil
}

// CreateTopic creates a topic; it is kept across restarts. Creating a topic
// that exists with the same name is not an error.
func (c *Cluster) CreateTopic(ctx context.Context, name string, partitions int32) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kafka create topic %s: %w", name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	kc, err := c.runningLocked("create topic " + name)
	if err != nil {
		return err
	}
	if kc.TopicInfo(name) != nil {
		return nil
	}
	if err := kc.CreateTopic(name, partitions, nil); err != nil {
		return fmt.Errorf("kafka create topic %s: %w", name, err)
	}
	return nil
}

// FailProduce makes the next n produce requests that carry topic fail with
// the Kafka error code (for example 6 NOT_LEADER_FOR_PARTITION, a retriable
// code), rejected before anything is appended. It does nothing while the
// cluster is stopped.
func (c *Cluster) FailProduce(topic string, code int16, n int) {
	c.produceFault(topic, errorFor(code), n)
}

// TimeoutAfterAppend makes the next n produce requests that carry topic
// append their records and then answer REQUEST_TIMED_OUT, so the producer
// cannot know the outcome.
func (c *Cluster) TimeoutAfterAppend(topic string, n int) {
	c.produceFault(topic, kerr.RequestTimedOut, n)
}

func (c *Cluster) produceFault(topic string, err *kerr.Error, n int) {
	if n <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	kc, rerr := c.runningLocked("fault")
	if rerr != nil {
		c.cfg.log.Warn("kafka fault not installed", "topic", topic, "err", rerr)
		return
	}
	h := kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: err, Count: n})
	c.handles = append(c.handles, h)
	c.cfg.log.Info("kafka produce fault installed", "topic", topic, "error", err.Message, "count", n)
}

// FaultHits reports how many requests FailProduce and TimeoutAfterAppend
// faults have answered so far (across restarts).
func (c *Cluster) FaultHits() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.faultHits
	for _, h := range c.handles {
		n += h.Hits()
	}
	return n
}

// errorFor returns the kerr error for code, or a synthetic one for codes
// franz-go does not know (kfake still sends the code on the wire).
func errorFor(code int16) *kerr.Error {
	if e := kerr.TypedErrorForCode(code); e != nil && e.Code == code {
		return e
	}
	return &kerr.Error{Message: "CODE_" + strconv.Itoa(int(code)), Code: code}
}

// MoveLeader moves leadership of topic/partition to the next broker (with
// one broker, it re-elects the same broker), bumping the leader epoch so
// clients must refresh metadata.
func (c *Cluster) MoveLeader(topic string, partition int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	kc, err := c.runningLocked("move leader")
	if err != nil {
		return err
	}
	leader := kc.LeaderFor(topic, partition)
	if leader < 0 {
		return fmt.Errorf("kafka move leader: %s/%d does not exist", topic, partition)
	}
	next := (leader + 1) % int32(c.cfg.brokers)
	if err := kc.MoveTopicPartition(topic, partition, next); err != nil {
		return fmt.Errorf("kafka move leader %s/%d to %d: %w", topic, partition, next, err)
	}
	c.cfg.log.Info("kafka leader moved", "topic", topic, "partition", partition, "from", leader, "to", next)
	return nil
}

// LeaderFor returns the broker id leading topic/partition, or -1.
func (c *Cluster) LeaderFor(topic string, partition int32) int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kc == nil {
		return -1
	}
	return c.kc.LeaderFor(topic, partition)
}

// SetLatency delays every request by d before the broker handles it (0
// turns it off). Requests on other connections are not held up by a
// sleeping one.
func (c *Cluster) SetLatency(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.latMu.Lock()
	c.latency = max(d, 0)
	c.latMu.Unlock()
	c.syncLatencyLocked()
}

// syncLatencyLocked (under mu) installs the latency control function on the
// running cluster when latency is on and it is not installed yet. The
// function removes itself once latency is back to zero, so a cluster without
// latency pays nothing for it.
func (c *Cluster) syncLatencyLocked() {
	kc := c.kc
	if kc == nil {
		return
	}
	c.latMu.Lock()
	defer c.latMu.Unlock()
	if c.latency == 0 || c.latencyFor == kc {
		return
	}
	c.latencyFor = kc
	kc.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		c.latMu.Lock()
		d := c.latency
		if d == 0 && c.latencyFor == kc {
			c.latencyFor = nil
		}
		c.latMu.Unlock()
		if d == 0 {
			kc.DropControl()
			return nil, nil, false
		}
		kc.SleepControl(func() { time.Sleep(d) })
		return nil, nil, false // not handled: the broker answers normally
	})
}

// listenFn listens on listenHost and reports advertisedHost as the
// listener's address: kfake advertises exactly its listener's address in
// metadata, so this is how a broker in a container can listen on 0.0.0.0
// while telling clients to dial it by name.
func listenFn(listenHost, advertisedHost string) func(network, address string) (net.Listener, error) {
	if listenHost == "" {
		listenHost = "127.0.0.1"
	}
	if advertisedHost == "" {
		advertisedHost = listenHost
		if ip := net.ParseIP(listenHost); ip != nil && ip.IsUnspecified() {
			advertisedHost = "127.0.0.1"
		}
	}
	return func(network, address string) (net.Listener, error) {
		_, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, fmt.Errorf("kafka listen %q: %w", address, err)
		}
		ln, err := net.Listen(network, net.JoinHostPort(listenHost, port))
		if err != nil {
			return nil, err
		}
		_, realPort, _ := net.SplitHostPort(ln.Addr().String())
		return advertisedListener{ln, hostPort(net.JoinHostPort(advertisedHost, realPort))}, nil
	}
}

type advertisedListener struct {
	net.Listener
	addr net.Addr
}

func (l advertisedListener) Addr() net.Addr { return l.addr }

// hostPort is a net.Addr that may hold a host name.
type hostPort string

func (hostPort) Network() string  { return "tcp" }
func (h hostPort) String() string { return string(h) }

// slogLogger adapts kfake's logger to slog.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	var lvl slog.Level
	switch level {
	case kfake.LogLevelError:
		lvl = slog.LevelError
	case kfake.LogLevelWarn:
		lvl = slog.LevelWarn
	case kfake.LogLevelInfo:
		lvl = slog.LevelInfo
	default:
		lvl = slog.LevelDebug
	}
	if !s.l.Enabled(context.Background(), lvl) {
		return
	}
	s.l.Log(context.Background(), lvl, fmt.Sprintf(msg, args...), "source", "kfake")
}
