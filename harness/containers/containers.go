// Package containers is the harness's "containers" backend: LocalStack
// (Kinesis and DynamoDB) and Redpanda (Kafka) started through
// testcontainers-go, for machines with a Docker engine.
//
// Contract:
//   - Start brings up both containers and returns backend.Services: raw
//     endpoints (the harness puts its AWS fault proxy in front of them), the
//     Kafka seed broker, a BrokerControl that stops and starts the Redpanda
//     container with its data and its advertised address kept, and Close,
//     which removes both containers. Starter adapts Start to
//     backend.WithContainers.
//   - Without a usable Docker engine Start fails fast, before touching any
//     container, with an error that matches backend.ErrBackendUnavailable
//     (errors.Is) and whose message starts with "Docker not available: "
//     followed by the reason. It never panics (testcontainers' panics on a
//     missing engine are turned into that error). SkipReason extracts the
//     message for a test's skip line.
//   - Images are pinned to tags that need no licence or auth token:
//     DefaultLocalStackImage and DefaultRedpandaImage. SHARDBRIDGE_LOCALSTACK_IMAGE
//     and SHARDBRIDGE_REDPANDA_IMAGE override them, and WithLocalStackImage /
//     WithRedpandaImage override both. LOCALSTACK_AUTH_TOKEN is passed to
//     LocalStack when it is set (newer LocalStack tags refuse to start
//     without it).
//   - LocalStack runs only SERVICES=kinesis,dynamodb, loaded eagerly, without
//     its artificial Kinesis latency. Redpanda runs with idempotence and
//     transactions on (checked with InitProducerID at start) and write
//     caching off, so an acknowledged record survives a broker stop.
//   - Ryuk (testcontainers' reaper) stays at its default; only the user's
//     TESTCONTAINERS_RYUK_DISABLED=true turns it off. Nothing here reads or
//     writes global state besides what testcontainers itself caches.
package containers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/shardbridge/shardbridge/harness/backend"
)

// Pinned images. LocalStack's `latest` needs an auth token since 2026-03; 4.4
// is the last line that starts without one. v25.2.4 is the Redpanda release
// the testcontainers redpanda module v0.44.0 is tested with.
const (
	DefaultLocalStackImage = "localstack/localstack:4.4"
	DefaultRedpandaImage   = "docker.redpanda.com/redpandadata/redpanda:v25.2.4"
)

// Environment variables the backend reads.
const (
	EnvLocalStackImage     = "SHARDBRIDGE_LOCALSTACK_IMAGE"
	EnvRedpandaImage       = "SHARDBRIDGE_REDPANDA_IMAGE"
	EnvLocalStackAuthToken = "LOCALSTACK_AUTH_TOKEN"
	// EnvRequireDocker, set to true on a machine that is supposed to have
	// Docker (CI), turns this package's "Docker not available" skips into
	// failures, so a broken engine cannot pass as a skipped suite.
	EnvRequireDocker = "SHARDBRIDGE_REQUIRE_DOCKER"
)

// Defaults for timeouts.
const (
	DefaultStartupTimeout    = 3 * time.Minute // image pulls on a cold machine
	DefaultBrokerStopTimeout = 10 * time.Second
	dockerCheckTimeout       = 15 * time.Second
)

type config struct {
	localstackImage   string
	redpandaImage     string
	localstackEnv     map[string]string
	kafkaHostPort     int
	logger            *slog.Logger
	lookup            func(string) (string, bool)
	checkDocker       func(context.Context) error
	startupTimeout    time.Duration
	brokerStopTimeout time.Duration
}

// Option configures Start.
type Option func(*config)

// WithLocalStackImage sets the LocalStack image, overriding
// SHARDBRIDGE_LOCALSTACK_IMAGE and the default.
func WithLocalStackImage(image string) Option {
	return func(c *config) { c.localstackImage = image }
}

// WithRedpandaImage sets the Redpanda image, overriding
// SHARDBRIDGE_REDPANDA_IMAGE and the default.
func WithRedpandaImage(image string) Option {
	return func(c *config) { c.redpandaImage = image }
}

// WithLocalStackEnv adds environment variables to the LocalStack container
// (e.g. KINESIS_ERROR_PROBABILITY); they win over the backend's own.
func WithLocalStackEnv(env map[string]string) Option {
	return func(c *config) {
		if c.localstackEnv == nil {
			c.localstackEnv = map[string]string{}
		}
		for k, v := range env {
			c.localstackEnv[k] = v
		}
	}
}

// WithKafkaHostPort fixes the host port Redpanda's Kafka API is published
// and advertised on (default: a free port chosen at start).
func WithKafkaHostPort(port int) Option { return func(c *config) { c.kafkaHostPort = port } }

// WithLogger sets the logger (default: discard). Testcontainers' own lines go
// to it at debug level.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithLookupEnv replaces os.LookupEnv for the variables this package reads.
func WithLookupEnv(lookup func(string) (string, bool)) Option {
	return func(c *config) { c.lookup = lookup }
}

// WithDockerCheck replaces the Docker probe (CheckDocker). The function
// returns nil when an engine is usable, or the reason it is not.
func WithDockerCheck(check func(context.Context) error) Option {
	return func(c *config) { c.checkDocker = check }
}

// WithStartupTimeout bounds the start of both containers, image pulls
// included (default DefaultStartupTimeout).
func WithStartupTimeout(d time.Duration) Option { return func(c *config) { c.startupTimeout = d } }

// WithBrokerStopTimeout is how long a broker stop waits for Redpanda to shut
// down cleanly before Docker kills it (default DefaultBrokerStopTimeout).
func WithBrokerStopTimeout(d time.Duration) Option {
	return func(c *config) { c.brokerStopTimeout = d }
}

func newConfig(opts []Option) config {
	c := config{
		logger:            slog.New(slog.DiscardHandler),
		lookup:            os.LookupEnv,
		startupTimeout:    DefaultStartupTimeout,
		brokerStopTimeout: DefaultBrokerStopTimeout,
	}
	for _, o := range opts {
		o(&c)
	}
	if c.checkDocker == nil {
		c.checkDocker = probeDocker
	}
	return c
}

// env reads a variable, treating "set but blank" as unset.
func (c config) env(name string) string {
	v, _ := c.lookup(name)
	return strings.TrimSpace(v)
}

// LocalStackImage is the image Start will run: option, else
// SHARDBRIDGE_LOCALSTACK_IMAGE, else DefaultLocalStackImage.
func (c config) LocalStackImage() string {
	return firstNonEmpty(c.localstackImage, c.env(EnvLocalStackImage), DefaultLocalStackImage)
}

// RedpandaImage is the image Start will run: option, else
// SHARDBRIDGE_REDPANDA_IMAGE, else DefaultRedpandaImage.
func (c config) RedpandaImage() string {
	return firstNonEmpty(c.redpandaImage, c.env(EnvRedpandaImage), DefaultRedpandaImage)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// Start runs LocalStack and Redpanda and returns their services. Close them
// (Services.Close) when done; on error nothing is left running.
func Start(ctx context.Context, opts ...Option) (svc *backend.Services, err error) {
	cfg := newConfig(opts)
	if err := cfg.checkDocker(ctx); err != nil {
		return nil, Unavailable(err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.startupTimeout)
	defer cancel()

	var closers []func(context.Context) error
	defer func() {
		// testcontainers panics in a few places when the engine vanishes
		// between the probe and the start; never let that escape into a test
		// binary, and never leave a container behind on failure.
		if r := recover(); r != nil {
			svc, err = nil, Unavailable(fmt.Errorf("testcontainers panicked: %v", r))
		}
		if err != nil {
			c := context.WithoutCancel(ctx)
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i](c)
			}
		}
	}()

	ls, err := startLocalStack(ctx, cfg)
	if err != nil {
		return nil, err
	}
	closers = append(closers, ls.close)

	rp, err := startRedpanda(ctx, cfg)
	if err != nil {
		return nil, err
	}
	closers = append(closers, rp.close)

	cfg.logger.Info("containers backend up", "localstack", ls.endpoint, "localstack_image", cfg.LocalStackImage(),
		"kafka", rp.broker, "redpanda_image", cfg.RedpandaImage())
	return &backend.Services{
		KinesisEndpoint:  ls.endpoint,
		DynamoDBEndpoint: ls.endpoint, // LocalStack serves every service on one port
		Brokers:          []string{rp.broker},
		Broker:           rp,
		Parts:            "LocalStack " + cfg.localstackImage + ", Redpanda " + cfg.redpandaImage,
		Close: func(ctx context.Context) error {
			return errors.Join(rp.close(ctx), ls.close(ctx))
		},
	}, nil
}

// Starter adapts Start to backend.WithContainers. The harness's logger is
// used unless opts set one.
func Starter(opts ...Option) backend.ServicesStarter {
	return func(ctx context.Context, logger *slog.Logger) (*backend.Services, error) {
		all := make([]Option, 0, len(opts)+1)
		if logger != nil {
			all = append(all, WithLogger(logger))
		}
		return Start(ctx, append(all, opts...)...)
	}
}

// dockerUnavailableError is the "no Docker" error: it matches
// backend.ErrBackendUnavailable and unwraps to the reason.
type dockerUnavailableError struct{ reason error }

func (e *dockerUnavailableError) Error() string {
	return "Docker not available: " + oneLine(e.reason.Error())
}

func (e *dockerUnavailableError) Unwrap() []error {
	return []error{backend.ErrBackendUnavailable, e.reason}
}

// Unavailable wraps reason as the backend's "Docker not available" error
// (it matches backend.ErrBackendUnavailable). A reason that already is one
// is returned unchanged.
func Unavailable(reason error) error {
	var d *dockerUnavailableError
	if errors.As(reason, &d) {
		return reason
	}
	if reason == nil {
		reason = errors.New("unknown reason")
	}
	return &dockerUnavailableError{reason: reason}
}

// SkipReason reports whether err (possibly wrapped by backend.Start) says
// Docker is missing, and if so the line a test should skip with:
// "Docker not available: <reason>".
func SkipReason(err error) (string, bool) {
	var d *dockerUnavailableError
	if errors.As(err, &d) {
		return d.Error(), true
	}
	return "", false
}

// CheckDocker reports whether a Docker engine is usable: nil, or an error
// matching backend.ErrBackendUnavailable whose message starts with
// "Docker not available: ". It asks the engine for its info (the same probe
// testcontainers' provider health check uses), bounded to a few seconds.
func CheckDocker(ctx context.Context) error {
	if err := probeDocker(ctx); err != nil {
		return Unavailable(err)
	}
	return nil
}

func probeDocker(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("testcontainers panicked: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, dockerCheckTimeout)
	defer cancel()
	p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(discardPrintf{}))
	if err != nil {
		// testcontainers reports only the last place it looked ("rootless
		// Docker not found"); say where a user would look first.
		if h := os.Getenv("DOCKER_HOST"); h != "" {
			return fmt.Errorf("DOCKER_HOST=%s: %w", h, err)
		}
		return fmt.Errorf("no Docker engine found (DOCKER_HOST unset, no socket at /var/run/docker.sock or the rootless paths; testcontainers: %w)", err)
	}
	return p.Health(ctx) // Health closes the provider
}

// oneLine keeps a skip or error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// slogPrintf adapts slog to testcontainers' Printf logger.
type slogPrintf struct{ l *slog.Logger }

func (p slogPrintf) Printf(format string, v ...any) {
	p.l.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "testcontainers")
}

type discardPrintf struct{}

func (discardPrintf) Printf(string, ...any) {}
