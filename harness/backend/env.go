// Package backend starts the services a chaos run needs — Kinesis, DynamoDB
// and Kafka — and hands them over as an Env.
//
// Contract:
//   - Start gives an Env: endpoints for Kinesis and DynamoDB (behind the AWS
//     fault layer), Kafka brokers, the shared clock and the fault controls.
//   - Kinds: embedded (default; the in-process emulators of fakes/ and kfake,
//     in milliseconds, nothing installed), reference (kinesis-mock, dynalite
//     and Apache Kafka as child processes: `make emulators kafka`), external
//     (SHARDBRIDGE_KINESIS_ENDPOINT and SHARDBRIDGE_DYNAMODB_ENDPOINT, or
//     neither for real AWS; SHARDBRIDGE_KAFKA_BROKERS, else kfake), and
//     containers (LocalStack and Redpanda through Testcontainers).
//   - The external kind takes credentials and region from the AWS SDK's
//     default chain and deletes what the run created (streams, lease
//     tables) when it closes; on real AWS no fault layer stands in between
//     (HasFaultLayer), since requests are signed for AWS's own hosts.
//   - The kind is chosen by WithKind or SHARDBRIDGE_BACKEND. A kind that
//     cannot start here fails with an error matching ErrBackendUnavailable.
//   - Parts names what each service is, for reports. Close tears everything
//     down. An Env holds no global state, so parallel specs each start
//     their own.
package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/fakes/awsmux"
	"github.com/shardbridge/shardbridge/fakes/clock"
	"github.com/shardbridge/shardbridge/fakes/conformance/refemu"
	fakedynamodb "github.com/shardbridge/shardbridge/fakes/dynamodb"
	"github.com/shardbridge/shardbridge/fakes/fault"
	fakekafka "github.com/shardbridge/shardbridge/fakes/kafka"
	fakekinesis "github.com/shardbridge/shardbridge/fakes/kinesis"
)

// Kind names where the services come from.
type Kind string

// The backends an Env can run on.
const (
	Embedded   Kind = "embedded"
	Reference  Kind = "reference"
	External   Kind = "external"
	Containers Kind = "containers"
)

// Environment variables the harness reads.
const (
	EnvBackend          = "SHARDBRIDGE_BACKEND"
	EnvSeed             = "SHARDBRIDGE_SEED"
	EnvKinesisEndpoint  = "SHARDBRIDGE_KINESIS_ENDPOINT"
	EnvDynamoDBEndpoint = "SHARDBRIDGE_DYNAMODB_ENDPOINT"
	EnvKafkaBrokers     = "SHARDBRIDGE_KAFKA_BROKERS"
	EnvRegion           = "SHARDBRIDGE_REGION"
)

// Region is the AWS region the harness's clients and child processes use
// unless SHARDBRIDGE_REGION says otherwise.
const Region = "us-east-1"

// ErrBackendUnavailable is matched (errors.Is) when a backend cannot start on
// this machine (no Docker engine, reference emulators not installed); specs
// turn it into a skip that names the reason.
var ErrBackendUnavailable = errors.New("backend unavailable")

// Services are what a backend provides before the harness puts its fault
// proxy in front: raw endpoints and, where the backend can, broker control.
type Services struct {
	KinesisEndpoint  string
	DynamoDBEndpoint string
	Brokers          []string
	Broker           BrokerControl // nil when the broker cannot be controlled
	Parts            string        // what each service is, for reports (optional)
	Close            func(context.Context) error
}

// BrokerControl takes the Kafka broker down and back with its data kept.
type BrokerControl interface {
	Stop(ctx context.Context) error
	Start(ctx context.Context) error
	Restart(ctx context.Context) error
}

// BrokerKiller is a BrokerControl that can also crash the broker (SIGKILL,
// data kept for Start).
type BrokerKiller interface {
	Kill() error
}

// ServicesStarter starts a backend's services; WithContainers plugs in the
// Testcontainers backend this way.
type ServicesStarter func(ctx context.Context, logger *slog.Logger) (*Services, error)

type envConfig struct {
	backend       Kind
	seed          int64
	seedSet       bool
	logger        *slog.Logger
	kinesisLimits bool
	kafkaBrokers  int
	containers    ServicesStarter
	getenv        func(string) string
}

// Option configures Start.
type Option func(*envConfig)

// WithKind picks the backend (default: SHARDBRIDGE_BACKEND, else embedded).
func WithKind(b Kind) Option { return func(c *envConfig) { c.backend = b } }

// WithSeed fixes the seed for every random choice (default: SHARDBRIDGE_SEED,
// else derived from the time and printed by whoever reports).
func WithSeed(seed int64) Option {
	return func(c *envConfig) { c.seed, c.seedSet = seed, true }
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(c *envConfig) { c.logger = l } }

// WithKinesisLimits turns the embedded Kinesis emulator's production limits
// on or off (default on).
func WithKinesisLimits(on bool) Option { return func(c *envConfig) { c.kinesisLimits = on } }

// WithKafkaBrokers sets how many in-process brokers to start (default 1).
func WithKafkaBrokers(n int) Option { return func(c *envConfig) { c.kafkaBrokers = n } }

// WithContainers sets how the containers backend starts its services.
func WithContainers(start ServicesStarter) Option {
	return func(c *envConfig) { c.containers = start }
}

// Env is a running environment. Its methods are safe for concurrent use.
type Env struct {
	backend Kind
	seed    int64
	logger  *slog.Logger
	region  string

	clock     *clock.Clock
	clockReal bool // true when advancing the clock reaches the services (embedded)
	faults    *fault.Injector

	kinesisURL  string
	dynamoURL   string
	brokers     []string
	kafka       *fakekafka.Cluster
	broker      BrokerControl
	parts       string // what each service is, for reports
	creds       aws.CredentialsProvider
	direct      bool // external without endpoints: real AWS, no fault layer in between
	cleanup     bool // delete what the run creates when it ends (external)
	kafkaAuth   KafkaAuth
	kafkaOpts   []kgo.Opt
	kinesisEmu  *fakekinesis.Emulator
	kinesisAPI  *kinesis.Client
	dynamoAPI   *dynamodb.Client
	closeMu     sync.Mutex
	closers     []func(context.Context) error
	closed      bool
	startedWall time.Time
}

// Start brings up an environment. Close it when done.
func Start(ctx context.Context, opts ...Option) (*Env, error) {
	cfg := envConfig{kinesisLimits: true, kafkaBrokers: 1, getenv: os.Getenv}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.backend == "" {
		cfg.backend = Kind(strings.TrimSpace(cfg.getenv(EnvBackend)))
		if cfg.backend == "" {
			cfg.backend = Embedded
		}
	}
	if !cfg.seedSet {
		seed, err := SeedFromEnv(cfg.getenv)
		if err != nil {
			return nil, err
		}
		cfg.seed = seed
	}
	e := &Env{
		backend:     cfg.backend,
		seed:        cfg.seed,
		logger:      cfg.logger,
		region:      Region,
		clock:       clock.New(),
		startedWall: time.Now(),
	}
	if r := cfg.getenv(EnvRegion); r != "" {
		e.region = r
	}
	e.faults = fault.New(fault.WithClock(e.clock), fault.WithSeed(cfg.seed), fault.WithLogger(cfg.logger))
	e.creds = credentials.NewStaticCredentialsProvider(staticKey, staticKey, "")

	var err error
	switch cfg.backend {
	case Embedded:
		err = e.startEmbedded(ctx, cfg)
	case Reference:
		err = e.startReference(ctx, cfg)
	case External:
		err = e.startExternal(ctx, cfg)
	case Containers:
		if cfg.containers == nil {
			err = fmt.Errorf("%w: containers backend: no starter configured (backend.WithContainers)", ErrBackendUnavailable)
			break
		}
		var svc *Services
		svc, err = cfg.containers(ctx, cfg.logger)
		if err == nil {
			err = e.adopt(ctx, cfg, svc)
		}
	default:
		err = fmt.Errorf("%s: unknown backend %q (want embedded, reference, external or containers)", EnvBackend, cfg.backend)
	}
	if err != nil {
		_ = e.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("harness: start %s backend: %w", cfg.backend, err)
	}
	e.kinesisAPI = e.NewKinesisClient()
	e.dynamoAPI = e.NewDynamoDBClient()
	e.logger.Info("harness environment up", "backend", e.backend, "seed", e.seed,
		"kinesis", e.kinesisURL, "dynamodb", e.dynamoURL, "brokers", e.brokers)
	return e, nil
}

func (e *Env) onClose(f func(context.Context) error) {
	e.closeMu.Lock()
	defer e.closeMu.Unlock()
	e.closers = append(e.closers, f)
}

// serve puts h on a loopback listener and returns its URL.
func (e *Env) serve(h http.Handler) string {
	srv := httptest.NewServer(h)
	e.onClose(func(context.Context) error { srv.CloseClientConnections(); srv.Close(); return nil })
	return srv.URL
}

func (e *Env) startKafka(ctx context.Context, cfg envConfig) error {
	cluster, err := fakekafka.New(ctx, fakekafka.WithBrokers(cfg.kafkaBrokers), fakekafka.WithLogger(cfg.logger))
	if err != nil {
		return fmt.Errorf("start in-process kafka: %w", err)
	}
	e.onClose(func(context.Context) error { cluster.Close(); return nil })
	e.kafka = cluster
	e.brokers = cluster.Brokers()
	e.broker = clusterControl{cluster}
	return nil
}

// kfakeName names the in-process broker in reports.
const kfakeName = "kfake (franz-go, in-process)"

func (e *Env) startEmbedded(ctx context.Context, cfg envConfig) error {
	e.clockReal = true
	e.kinesisEmu = fakekinesis.New(fakekinesis.WithClock(e.clock), fakekinesis.WithLimits(cfg.kinesisLimits), fakekinesis.WithRegion(e.region))
	ddb := fakedynamodb.New(fakedynamodb.WithClock(e.clock), fakedynamodb.WithRegion(e.region))
	// One port for both services, as LocalStack does; the fault layer in front.
	url := e.serve(e.faults.Middleware(awsmux.New(e.kinesisEmu, ddb)))
	e.kinesisURL, e.dynamoURL = url, url
	e.parts = "Shardbridge's Kinesis and DynamoDB emulators, " + kfakeName
	return e.startKafka(ctx, cfg)
}

func (e *Env) startReference(ctx context.Context, cfg envConfig) error {
	km, err := refemu.StartKinesisMock(ctx, refemu.WithLogger(cfg.logger))
	if err != nil {
		return wrapUnavailable(err)
	}
	e.onClose(func(context.Context) error { return km.Close() })
	dl, err := refemu.StartDynalite(ctx, refemu.WithLogger(cfg.logger))
	if err != nil {
		return wrapUnavailable(err)
	}
	e.onClose(func(context.Context) error { return dl.Close() })
	if err := e.proxy(km.Endpoint, dl.Endpoint); err != nil {
		return err
	}
	kb, err := refemu.StartKafka(ctx, refemu.WithLogger(cfg.logger))
	if err != nil {
		return wrapUnavailable(err)
	}
	e.onClose(func(context.Context) error { return kb.Close() })
	e.brokers, e.broker = kb.Brokers, kb
	e.parts = fmt.Sprintf("%s %s, %s %s, %s %s", refemu.KinesisMock, km.Version(), refemu.Dynalite, dl.Version(), refemu.ApacheKafka, kb.Version)
	return nil
}

func wrapUnavailable(err error) error {
	if errors.Is(err, refemu.ErrNotInstalled) {
		return fmt.Errorf("%w: %w (run `make emulators kafka`)", ErrBackendUnavailable, err)
	}
	return err
}

func (e *Env) startExternal(ctx context.Context, cfg envConfig) error {
	// Credentials and region come from the SDK's default chain (environment,
	// profiles, SSO, web identity, instance roles), as for any AWS program.
	var loadOpts []func(*awsconfig.LoadOptions) error
	if r := cfg.getenv(EnvRegion); r != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(r))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return fmt.Errorf("external backend: AWS configuration: %w", err)
	}
	if awsCfg.Region != "" {
		e.region = awsCfg.Region
	}
	if awsCfg.Credentials == nil {
		return fmt.Errorf("%w: external backend: no AWS credentials in the SDK's default chain", ErrBackendUnavailable)
	}
	e.creds = aws.NewCredentialsCache(awsCfg.Credentials)
	if e.kafkaAuth, err = kafkaAuthFrom(cfg.getenv); err != nil {
		return err
	}
	if e.kafkaOpts, err = e.kafkaAuth.kgoOpts(); err != nil {
		return err
	}
	kin, ddb := cfg.getenv(EnvKinesisEndpoint), cfg.getenv(EnvDynamoDBEndpoint)
	svc := &Services{KinesisEndpoint: kin, DynamoDBEndpoint: ddb}
	if b := cfg.getenv(EnvKafkaBrokers); b != "" {
		svc.Brokers = strings.Split(b, ",")
	}
	if kin == "" && ddb == "" {
		// Real AWS: requests are signed for AWS's own hosts, so the fault
		// layer cannot stand in between; scenarios that need it skip.
		e.direct = true
		svc.Parts = "AWS Kinesis and DynamoDB in " + e.region
	} else if kin == "" || ddb == "" {
		return fmt.Errorf("%w: external backend needs both %s and %s, or neither (real AWS)", ErrBackendUnavailable, EnvKinesisEndpoint, EnvDynamoDBEndpoint)
	}
	// What the run creates goes when it ends: a stream costs money.
	e.cleanup = true
	return e.adopt(ctx, cfg, svc)
}

// adopt wires services started elsewhere: fault proxies in front of the AWS
// endpoints, and the in-process broker when none is given.
func (e *Env) adopt(ctx context.Context, cfg envConfig, svc *Services) error {
	if svc.Close != nil {
		e.onClose(svc.Close)
	}
	if !e.direct {
		if err := e.proxy(svc.KinesisEndpoint, svc.DynamoDBEndpoint); err != nil {
			return err
		}
	}
	e.parts = svc.Parts
	if e.parts == "" {
		e.parts = "Kinesis " + svc.KinesisEndpoint + ", DynamoDB " + svc.DynamoDBEndpoint
	}
	if len(svc.Brokers) == 0 {
		e.parts += ", " + kfakeName
		return e.startKafka(ctx, cfg)
	}
	if svc.Parts == "" {
		e.parts += ", Kafka " + strings.Join(svc.Brokers, ",")
	}
	e.brokers = svc.Brokers
	e.broker = svc.Broker
	return nil
}

func (e *Env) proxy(kinesisEndpoint, dynamoEndpoint string) error {
	kp, err := fault.NewProxy(kinesisEndpoint, e.faults)
	if err != nil {
		return fmt.Errorf("fault proxy for kinesis %s: %w", kinesisEndpoint, err)
	}
	dp, err := fault.NewProxy(dynamoEndpoint, e.faults)
	if err != nil {
		return fmt.Errorf("fault proxy for dynamodb %s: %w", dynamoEndpoint, err)
	}
	e.kinesisURL, e.dynamoURL = e.serve(kp), e.serve(dp)
	return nil
}

// Close tears the environment down; it is safe to call more than once.
func (e *Env) Close(ctx context.Context) error {
	e.closeMu.Lock()
	if e.closed {
		e.closeMu.Unlock()
		return nil
	}
	e.closed = true
	closers := e.closers
	e.closeMu.Unlock()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Parts says what each service of the environment is, e.g. "kinesis-mock
// 0.6.2, dynalite 4.0.0, Apache Kafka 4.4.0".
func (e *Env) Parts() string { return e.parts }

// Backend reports which backend the environment runs on.
func (e *Env) Backend() Kind { return e.backend }

// Seed is the seed every random choice of this environment derives from.
func (e *Env) Seed() int64 { return e.seed }

// Region is the AWS region clients must use.
func (e *Env) Region() string { return e.region }

// Logger is the environment's logger.
func (e *Env) Logger() *slog.Logger { return e.logger }

// KinesisEndpoint is the Kinesis endpoint, behind the fault layer.
func (e *Env) KinesisEndpoint() string { return e.kinesisURL }

// DynamoDBEndpoint is the DynamoDB endpoint, behind the fault layer.
func (e *Env) DynamoDBEndpoint() string { return e.dynamoURL }

// Brokers are the Kafka bootstrap addresses.
func (e *Env) Brokers() []string { return append([]string(nil), e.brokers...) }

// retryer is the SDK's standard retryer without its client-side retry quota,
// as the replicator configures it: a long throttling episode must slow a
// client down, not make its calls fail outright once the quota is spent.
func retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) { o.RateLimiter = ratelimit.None })
}

// NewKinesisClient returns a new SDK client for the environment's Kinesis
// (each in-process replicator instance gets its own, as a process would).
func (e *Env) NewKinesisClient() *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       e.region,
		BaseEndpoint: endpoint(e.kinesisURL),
		Credentials:  e.creds,
		Retryer:      retryer(),
		// Workloads send large PutRecords bodies to loopback endpoints, where
		// the SDK's body-close race would otherwise fail ~1% of them (see
		// fakes/kinesis.SDKTransport); harmless against remote endpoints.
		HTTPClient: &http.Client{Transport: fakekinesis.SDKTransport(nil)},
	})
}

// NewDynamoDBClient returns a new SDK client for the environment's DynamoDB.
func (e *Env) NewDynamoDBClient() *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       e.region,
		BaseEndpoint: endpoint(e.dynamoURL),
		Credentials:  e.creds,
		Retryer:      retryer(),
	})
}

// Kinesis is an SDK client for the environment's Kinesis.
func (e *Env) Kinesis() *kinesis.Client { return e.kinesisAPI }

// DynamoDB is an SDK client for the environment's DynamoDB.
func (e *Env) DynamoDB() *dynamodb.Client { return e.dynamoAPI }

// Faults is the AWS fault layer every request of this environment passes.
func (e *Env) Faults() *fault.Injector { return e.faults }

// Clock is the shared clock. On the embedded backend advancing it moves the
// emulators' time (iterators and retention); elsewhere it only dates events.
func (e *Env) Clock() *clock.Clock { return e.clock }

// ControlsServiceClock reports whether advancing Clock reaches the services.
func (e *Env) ControlsServiceClock() bool { return e.clockReal }

// KinesisEmulator is the in-process Kinesis emulator (nil off the embedded backend).
func (e *Env) KinesisEmulator() *fakekinesis.Emulator { return e.kinesisEmu }

// Kafka is the in-process broker (nil when the brokers are external).
func (e *Env) Kafka() *fakekafka.Cluster { return e.kafka }

// Broker controls the Kafka broker, or nil when it cannot be controlled.
func (e *Env) Broker() BrokerControl { return e.broker }

// staticKey is the access key id and secret the local backends accept.
const staticKey = "shardbridge"

// endpoint is an SDK BaseEndpoint: nil (the service's own) for "".
func endpoint(url string) *string {
	if url == "" {
		return nil
	}
	return aws.String(url)
}

// Credentials are the AWS credentials the environment's clients use, for
// bridge processes: static keys on the local backends, what the SDK's
// default chain resolved on the external one (a session token included).
func (e *Env) Credentials(ctx context.Context) (aws.Credentials, error) {
	c, err := e.creds.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("AWS credentials: %w", err)
	}
	return c, nil
}

// HasFaultLayer reports whether the environment's AWS requests pass its
// fault layer (all but the external backend on real AWS).
func (e *Env) HasFaultLayer() bool { return !e.direct }

// CreateStream creates a stream with n shards and waits until it is ACTIVE.
func (e *Env) CreateStream(ctx context.Context, name string, shards int) error {
	return e.createStream(ctx, name, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards))})
}

// CreateOnDemandStream creates a stream in on-demand capacity mode (Kinesis
// chooses its shards: 4 at first) and waits until it is ACTIVE.
func (e *Env) CreateOnDemandStream(ctx context.Context, name string) error {
	return e.createStream(ctx, name, &kinesis.CreateStreamInput{StreamName: aws.String(name),
		StreamModeDetails: &ktypes.StreamModeDetails{StreamMode: ktypes.StreamModeOnDemand}})
}

func (e *Env) createStream(ctx context.Context, name string, in *kinesis.CreateStreamInput) error {
	_, err := e.kinesisAPI.CreateStream(ctx, in)
	if err != nil {
		return fmt.Errorf("create stream %s: %w", name, err)
	}
	if e.cleanup {
		e.onClose(func(ctx context.Context) error {
			_, err := e.kinesisAPI.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name), EnforceConsumerDeletion: aws.Bool(true)})
			return ignoreNotFound(err, "delete stream "+name)
		})
	}
	return e.WaitStreamActive(ctx, name)
}

// WaitStreamActive polls until the stream is ACTIVE (reference emulators
// reshard asynchronously).
func (e *Env) WaitStreamActive(ctx context.Context, name string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := e.kinesisAPI.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == ktypes.StreamStatusActive {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stream %s not ACTIVE after 60s (last error: %v)", name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// CreateTopic creates a Kafka topic (idempotent).
func (e *Env) CreateTopic(ctx context.Context, name string, partitions int32) error {
	return e.CreateTopicWithConfig(ctx, name, partitions, nil)
}

// CreateTopicWithConfig creates a Kafka topic with topic configs, e.g.
// {"max.message.bytes": "65536"} (idempotent: an existing topic is kept as is).
func (e *Env) CreateTopicWithConfig(ctx context.Context, name string, partitions int32, configs map[string]string) error {
	cl, err := kgo.NewClient(append(e.KafkaOpts(), kgo.SeedBrokers(e.brokers...))...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	replicas := int16(1)
	if e.cleanup {
		replicas = -1 // an external cluster's own default
	}
	var cfg map[string]*string
	for k, v := range configs {
		if cfg == nil {
			cfg = map[string]*string{}
		}
		cfg[k] = aws.String(v)
	}
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, replicas, cfg, name)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	if resp.Err != nil && !errors.Is(resp.Err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", name, resp.Err)
	}
	if e.cleanup {
		e.onClose(func(ctx context.Context) error {
			dcl, err := kgo.NewClient(append(e.KafkaOpts(), kgo.SeedBrokers(e.brokers...))...)
			if err != nil {
				return err
			}
			defer dcl.Close()
			_, err = kadm.NewClient(dcl).DeleteTopics(ctx, name)
			return err
		})
	}
	return nil
}

// GrowTopic raises a Kafka topic's partition count to total (an operator's
// kafka-topics.sh --alter --partitions). A topic that has total already is
// left alone.
func (e *Env) GrowTopic(ctx context.Context, name string, total int) error {
	cl, err := kgo.NewClient(append(e.KafkaOpts(), kgo.SeedBrokers(e.brokers...))...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).UpdatePartitions(ctx, total, name)
	if err == nil {
		err = resp.Error()
	}
	if err != nil && !errors.Is(err, kerr.InvalidPartitions) {
		return fmt.Errorf("grow topic %s to %d partitions: %w", name, total, err)
	}
	return nil
}

// DeleteTopic deletes a Kafka topic and waits until the cluster no longer
// lists it, so that whoever creates it again gets a new, empty one. A
// missing topic is no error.
func (e *Env) DeleteTopic(ctx context.Context, name string) error {
	cl, err := kgo.NewClient(append(e.KafkaOpts(), kgo.SeedBrokers(e.brokers...))...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resp, err := adm.DeleteTopics(ctx, name)
	if err == nil {
		err = resp.Error()
	}
	if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("delete topic %s: %w", name, err)
	}
	for {
		details, err := adm.ListTopics(ctx, name)
		if err == nil {
			if d, ok := details[name]; !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("delete topic %s: still listed: %w", name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// DeleteTopicAfter deletes a Kafka topic a bridge created (its checkpoint
// topic) when the environment closes, on the external backend, where it
// would otherwise outlive the run.
func (e *Env) DeleteTopicAfter(name string) {
	if !e.cleanup {
		return
	}
	e.onClose(func(ctx context.Context) error { return e.DeleteTopic(ctx, name) })
}

// clusterControl adapts the in-process cluster to BrokerControl.
type clusterControl struct{ c *fakekafka.Cluster }

func (b clusterControl) Stop(context.Context) error        { b.c.Stop(); return nil }
func (b clusterControl) Start(ctx context.Context) error   { return b.c.Start(ctx) }
func (b clusterControl) Restart(ctx context.Context) error { return b.c.Restart(ctx) }

// Kill is Stop: the in-process broker has no graceful shutdown to skip.
func (b clusterControl) Kill() error { b.c.Stop(); return nil }

// DeleteTableAfter deletes a DynamoDB table (a bridge's lease table) when
// the environment closes, on the external backend, where it would
// otherwise outlive the run.
func (e *Env) DeleteTableAfter(table string) {
	if !e.cleanup {
		return
	}
	e.onClose(func(ctx context.Context) error {
		_, err := e.dynamoAPI.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
		return ignoreNotFound(err, "delete table "+table)
	})
}

func ignoreNotFound(err error, what string) error {
	var knf *ktypes.ResourceNotFoundException
	var dnf *dtypes.ResourceNotFoundException
	if err == nil || errors.As(err, &knf) || errors.As(err, &dnf) {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
