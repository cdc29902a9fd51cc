package containers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/redpanda"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaPort is Redpanda's Kafka listener inside the container (the module's
// "external" listener, the one it advertises to the host).
const kafkaPort = "9092/tcp"

// kafkaReadyTimeout bounds the wait for the Kafka API after a (re)start.
const kafkaReadyTimeout = 90 * time.Second

// portAttempts is how often a start is retried when the host port chosen
// for Kafka was taken between choosing and binding it.
const portAttempts = 3

// redpandaBootstrap are cluster properties set at the first start.
// Development mode (which the module runs) turns write caching on: Redpanda
// would acknowledge a record before it is on disk, and a broker stop in the
// middle of a scenario could then lose acknowledged records — a loss the
// checker would blame on the replicator. Idempotence and transactions are on
// by default in every supported release; Start checks them with
// InitProducerID rather than restating defaults here.
var redpandaBootstrap = map[string]any{
	"write_caching_default": false,
}

// disableWriteCaching is run in the container after the first start: rpk's
// dev-container mode bundles write_caching_default=true and may apply it over
// the bootstrap file, so the cluster property is set again through the admin
// API, which wins.
var disableWriteCaching = []string{"rpk", "cluster", "config", "set", "write_caching_default", "false"}

// redpandaCustomizers are what the backend adds to the redpanda module's
// request.
//
// The Kafka port is bound to a fixed host port, and that port is the one
// advertised. Why: the module renders the advertised Kafka address from the
// mapped host port into /etc/redpanda/redpanda.yaml once, after the first
// start. With the default ephemeral mapping Docker picks a new host port on
// every `docker start`, so after a broker restart Redpanda would keep
// advertising the old port and every client — the replicator included — would
// follow the metadata to a dead address. A binding fixed up front survives
// stop/start (Docker keeps HostConfig), so the container's data and its
// advertised address are both kept, as a real broker restart keeps them.
func (c config) redpandaCustomizers(hostPort int) []testcontainers.ContainerCustomizer {
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithLogger(slogPrintf{c.logger}),
		testcontainers.WithHostConfigModifier(bindHostPort(kafkaPort, hostPort)),
	}
	for k, v := range redpandaBootstrap {
		opts = append(opts, redpanda.WithBootstrapConfig(k, v))
	}
	return opts
}

// bindHostPort publishes containerPort on hostPort on every host interface.
func bindHostPort(containerPort string, hostPort int) func(*container.HostConfig) {
	p := network.MustParsePort(containerPort)
	return func(hc *container.HostConfig) {
		if hc.PortBindings == nil {
			hc.PortBindings = network.PortMap{}
		}
		hc.PortBindings[p] = []network.PortBinding{{HostPort: strconv.Itoa(hostPort)}}
	}
}

// freePort asks the kernel for a free TCP port and releases it for Docker to
// bind. Another process could take it in between; startRedpanda retries with
// a new port when Docker says so. With a remote engine (DOCKER_HOST=tcp://…)
// "free here" says nothing about the engine's host: use WithKafkaHostPort.
func freePort() (int, error) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, fmt.Errorf("choose a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func isPortConflict(err error) bool {
	s := err.Error()
	return strings.Contains(s, "port is already allocated") || strings.Contains(s, "address already in use")
}

// redpandaBroker is the running Redpanda container; it is the backend's
// backend.BrokerControl.
type redpandaBroker struct {
	mu          sync.Mutex
	ctr         testcontainers.Container
	broker      string // host:port, advertised and published
	stopTimeout time.Duration
	logger      *slog.Logger
}

func startRedpanda(ctx context.Context, cfg config) (*redpandaBroker, error) {
	img := cfg.RedpandaImage()
	attempts := 1
	if cfg.kafkaHostPort == 0 {
		attempts = portAttempts
	}
	var (
		ctr  *redpanda.Container
		port int
		err  error
	)
	for i := 0; ; i++ {
		port = cfg.kafkaHostPort
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		ctr, err = redpanda.Run(ctx, img, cfg.redpandaCustomizers(port)...)
		if err == nil {
			break
		}
		if ctr != nil {
			_ = ctr.Terminate(context.WithoutCancel(ctx))
		}
		if i+1 < attempts && isPortConflict(err) {
			cfg.logger.Info("kafka host port taken, retrying with another", "port", port, "error", err)
			continue
		}
		return nil, fmt.Errorf("start Redpanda %s: %w", img, err)
	}
	b := &redpandaBroker{ctr: ctr, stopTimeout: cfg.brokerStopTimeout, logger: cfg.logger}
	fail := func(err error) (*redpandaBroker, error) {
		_ = ctr.Terminate(context.WithoutCancel(ctx))
		return nil, err
	}
	seed, err := ctr.KafkaSeedBroker(ctx)
	if err != nil {
		return fail(fmt.Errorf("redpanda seed broker: %w", err))
	}
	if _, p, _ := net.SplitHostPort(seed); p != strconv.Itoa(port) {
		return fail(fmt.Errorf("redpanda published Kafka on %s, not on the bound host port %d", seed, port))
	}
	b.broker = seed
	if code, out, err := ctr.Exec(ctx, disableWriteCaching); err != nil || code != 0 {
		// Not fatal: a broker stop is a clean SIGTERM, which flushes cached
		// writes; only a hard kill of the container could lose them.
		var msg []byte
		if out != nil {
			msg, _ = io.ReadAll(out)
		}
		cfg.logger.Warn("could not turn Redpanda write caching off", "exit_code", code, "error", err, "output", strings.TrimSpace(string(msg)))
	}
	if err := waitKafka(ctx, b.broker); err != nil {
		return fail(err)
	}
	if err := checkProducerFeatures(ctx, b.broker); err != nil {
		return fail(err)
	}
	return b, nil
}

// Stop stops the container (SIGTERM, then SIGKILL after the stop timeout);
// its file system, hence the log segments, stays.
func (b *redpandaBroker) Stop(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stop(ctx)
}

// Start starts the stopped container and waits until the Kafka API answers
// on the same address as before.
func (b *redpandaBroker) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.start(ctx)
}

// Restart is Stop then Start.
func (b *redpandaBroker) Restart(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.stop(ctx); err != nil {
		return err
	}
	return b.start(ctx)
}

func (b *redpandaBroker) stop(ctx context.Context) error {
	d := b.stopTimeout
	if err := b.ctr.Stop(ctx, &d); err != nil {
		return fmt.Errorf("stop redpanda: %w", err)
	}
	b.logger.Info("redpanda stopped", "broker", b.broker)
	return nil
}

func (b *redpandaBroker) start(ctx context.Context) error {
	if err := b.ctr.Start(ctx); err != nil {
		return fmt.Errorf("start redpanda: %w", err)
	}
	seed, err := b.ctr.PortEndpoint(ctx, kafkaPort, "")
	if err != nil {
		return fmt.Errorf("redpanda seed broker after restart: %w", err)
	}
	if seed != b.broker {
		return fmt.Errorf("redpanda came back on %s, not on its advertised %s", seed, b.broker)
	}
	if err := waitKafka(ctx, b.broker); err != nil {
		return err
	}
	b.logger.Info("redpanda started", "broker", b.broker)
	return nil
}

func (b *redpandaBroker) close(ctx context.Context) error {
	if err := b.ctr.Terminate(ctx); err != nil {
		return fmt.Errorf("terminate redpanda: %w", err)
	}
	return nil
}

// waitKafka polls until the broker answers metadata and every partition it
// knows has a leader: after a restart the port opens before leadership is
// re-established, and a produce in that window fails with
// NOT_LEADER_FOR_PARTITION.
func waitKafka(ctx context.Context, broker string) error {
	ctx, cancel := context.WithTimeout(ctx, kafkaReadyTimeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.RetryTimeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("kafka client for %s: %w", broker, err)
	}
	defer cl.Close()
	var last error
	for {
		last = metadataReady(ctx, cl)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka at %s not ready: %w", broker, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func metadataReady(ctx context.Context, cl *kgo.Client) error {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(rctx, cl)
	if err != nil {
		return err
	}
	if len(resp.Brokers) == 0 {
		return errors.New("metadata lists no brokers")
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			name := ""
			if t.Topic != nil {
				name = *t.Topic
			}
			return fmt.Errorf("topic %s: %w", name, err)
		}
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("partition %d: %w", p.Partition, err)
			}
			if p.Leader < 0 {
				return fmt.Errorf("partition %d has no leader", p.Partition)
			}
		}
	}
	return nil
}

// checkProducerFeatures proves idempotence and transactions are on: an
// idempotent and a transactional InitProducerID must both succeed (a broker
// with either disabled refuses them), so a misconfigured image fails here
// with a clear message instead of inside a scenario.
func checkProducerFeatures(ctx context.Context, broker string) error {
	ctx, cancel := context.WithTimeout(ctx, kafkaReadyTimeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		return fmt.Errorf("kafka client for %s: %w", broker, err)
	}
	defer cl.Close()
	txnID := "shardbridge-containers-probe"
	for _, probe := range []struct {
		what string
		id   *string
	}{{"idempotent producer", nil}, {"transactional producer", &txnID}} {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = probe.id
		req.TransactionTimeoutMillis = 60000
		var last error
		for {
			resp, err := req.RequestWith(ctx, cl)
			if err == nil {
				err = kerr.ErrorForCode(resp.ErrorCode)
			}
			if err == nil {
				break
			}
			last = err
			var kafkaErr *kerr.Error
			if errors.As(err, &kafkaErr) && !kafkaErr.Retriable {
				return fmt.Errorf("redpanda at %s refuses an %s (idempotence/transactions off?): %w", broker, probe.what, err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("redpanda at %s: %s not initialised: %w", broker, probe.what, last)
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return nil
}
