// Package kafkaopts turns the replicator's Kafka settings into franz-go
// client options, and checks at start that the brokers answer.
//
// Contract:
//   - Build takes a config.Config and calls its Validate first, so a bad
//     setting is the same one-line error, naming the setting's environment
//     variable, as everywhere else; Build checks no setting of its own. Its
//     only errors of its own come from reading the TLS files, and they name
//     the setting too, e.g.
//     `REPLICATOR_KAFKA_TLS_CA_FILE: no PEM certificate in /etc/ca.pem`.
//   - The producer is always idempotent with acks=all. Both are franz-go's
//     defaults; Build states them explicitly so a changed default upstream
//     cannot weaken delivery, and the tests read them back from a client.
//   - KAFKA_SECURITY_PROTOCOL: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL. SSL
//     and SASL_SSL dial TLS with the system roots plus
//     REPLICATOR_KAFKA_TLS_CA_FILE when set, an optional client certificate
//     (REPLICATOR_KAFKA_TLS_CERT_FILE/KEY_FILE) and optionally no
//     verification (REPLICATOR_KAFKA_TLS_INSECURE_SKIP_VERIFY, for tests).
//     SASL_* authenticate with PLAIN (default), SCRAM-SHA-256 or
//     SCRAM-SHA-512 using franz-go's sasl/plain and sasl/scram.
//   - Build sets the connection and producer settings only (brokers, client
//     id, security, compression, linger); the batch size, partitioner and
//     buffer limits are the replicator's, which knows the topics.
//   - CheckReachable bounds the start-up connect check: an unreachable or
//     refusing cluster gives "kafka brokers [...] unreachable after 10s: ..."
//     instead of a hang.
package kafkaopts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/shardbridge/shardbridge/replicator/config"
)

// Environment variables of the TLS files, named in the errors of reading
// them (docs/configuration.md lists every setting).
const (
	EnvTLSCAFile   = "REPLICATOR_KAFKA_TLS_CA_FILE"
	EnvTLSCertFile = "REPLICATOR_KAFKA_TLS_CERT_FILE"
	EnvTLSKeyFile  = "REPLICATOR_KAFKA_TLS_KEY_FILE"
)

// codecs are the values of REPLICATOR_KAFKA_COMPRESSION; "" keeps franz-go's
// default (snappy, else none).
var codecs = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

// Build returns the franz-go connection and producer options of c, after
// c.Validate; its error names the setting at fault.
func Build(c config.Config) ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.KafkaBrokers...),
		// franz-go defaults, stated so an upstream change cannot weaken
		// delivery: every in-sync replica acknowledges, and retried
		// batches are deduplicated by the broker.
		kgo.RequiredAcks(kgo.AllISRAcks()),
	}
	if c.KafkaClientID != "" {
		opts = append(opts, kgo.ClientID(c.KafkaClientID))
	}
	if c.SASL() {
		opts = append(opts, kgo.SASL(saslMechanism(c)))
	}
	if c.TLS() {
		cfg, err := tlsConfig(c)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if codec, ok := codecs[c.Compression]; ok {
		opts = append(opts, kgo.ProducerBatchCompression(codec))
	}
	return append(opts, kgo.ProducerLinger(c.Linger)), nil
}

// saslMechanism is c's SASL mechanism (validated: "" only before
// config.WithDefaults, and then PLAIN as well).
func saslMechanism(c config.Config) sasl.Mechanism {
	switch c.SASLMechanism {
	case "SCRAM-SHA-256":
		return scram.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsSha512Mechanism()
	}
	return plain.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsMechanism()
}

// tlsConfig reads the TLS files of c (validated: the certificate and its
// key come together).
func tlsConfig(c config.Config) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.TLSInsecureSkipVerify} //nolint:gosec // opt-in, for test clusters
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvTLSCAFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool() // no system pool (e.g. scratch image): the file alone
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate in %s", EnvTLSCAFile, c.TLSCAFile)
		}
		cfg.RootCAs = pool
	}
	if c.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", EnvTLSCertFile, EnvTLSKeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// DefaultReachTimeout bounds CheckReachable when the caller passes 0.
const DefaultReachTimeout = 10 * time.Second

// CheckReachable builds a client from opts and asks the cluster for its
// broker metadata until a broker answers (authentication included) or
// timeout (DefaultReachTimeout when 0) passes. Failures that may heal (a
// refused or silent connection: the broker may still be starting) are
// retried with backoff; the error then reads
// "kafka brokers [...] unreachable after 10s: <last failure>". Failures that
// cannot heal (a non-retriable Kafka error such as a rejected SASL
// authentication, an untrusted certificate) return at once.
func CheckReachable(ctx context.Context, opts []kgo.Opt, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultReachTimeout
	}
	// The check's own client never waits longer than the check on a dial
	// or on a broker that accepted the connection but does not answer
	// (franz-go's defaults are 10s each and ignore the context), and tries
	// once per attempt so that the loop below sees, and reports, each
	// failure.
	bound := min(timeout, DefaultReachTimeout)
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, opts...),
		kgo.DialTimeout(bound), kgo.RequestTimeoutOverhead(bound), kgo.RequestRetries(1))...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	// Close waits for connections to wind down; it must not extend the
	// bound, so it runs on its own.
	defer func() { go cl.Close() }()
	seeds, _ := cl.OptValue(kgo.SeedBrokers).([]string)
	adm := kadm.NewClient(cl)

	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		err := metadata(ctx, adm)
		switch {
		case err == nil:
			return nil
		case parent.Err() != nil:
			return fmt.Errorf("kafka brokers %v: check interrupted: %w", seeds, context.Cause(parent))
		case permanent(err):
			return fmt.Errorf("kafka brokers %v: %w", seeds, err)
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if parent.Err() != nil {
				return fmt.Errorf("kafka brokers %v: check interrupted: %w", seeds, context.Cause(parent))
			}
			return fmt.Errorf("kafka brokers %v unreachable after %s: %w", seeds, timeout, last)
		case <-time.After(backoff):
		}
	}
}

// metadata is one BrokerMetadata request that returns when ctx ends even if
// the client is still waiting on a connection.
func metadata(ctx context.Context, adm *kadm.Client) error {
	done := make(chan error, 1)
	go func() {
		_, err := adm.BrokerMetadata(ctx)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer: %w", ctx.Err())
	}
}

// permanent reports failures that retrying cannot fix.
func permanent(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return !ke.Retriable
	}
	var (
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid)
}
