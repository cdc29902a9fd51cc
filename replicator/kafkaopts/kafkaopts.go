// Package kafkaopts turns the replicator's Kafka settings into franz-go
// client options, and checks at start that the brokers answer.
//
// Contract:
//   - Build validates every setting and returns an error that starts with
//     the setting's environment variable, e.g.
//     `KAFKA_SASL_MECHANISM: unsupported "GSSAPI" (want PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)`.
//   - The producer is always idempotent with acks=all. Both are franz-go's
//     defaults; Build states them explicitly so a changed default upstream
//     cannot weaken delivery, and the tests read them back from a client.
//     With TransactionalID set the producer is transactional as well.
//   - KAFKA_SECURITY_PROTOCOL: PLAINTEXT (default), SSL, SASL_PLAINTEXT,
//     SASL_SSL (case-insensitive). SSL and SASL_SSL dial TLS with the system
//     roots plus REPLICATOR_KAFKA_TLS_CA_FILE when set, an optional client
//     certificate (REPLICATOR_KAFKA_TLS_CERT_FILE/KEY_FILE) and optionally no
//     verification (REPLICATOR_KAFKA_TLS_INSECURE_SKIP_VERIFY, for tests).
//     SASL_* authenticate with PLAIN (default), SCRAM-SHA-256 or
//     SCRAM-SHA-512 using franz-go's sasl/plain and sasl/scram. Credentials
//     or TLS files given with a protocol that would ignore them are an
//     error, never silently dropped.
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
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Environment variables named in errors (design.md, "The replicator's
// contract", and replicator/config).
const (
	EnvBrokers            = "KAFKA_BOOTSTRAP_SERVERS"
	EnvClientID           = "KAFKA_CLIENT_ID"
	EnvSecurityProtocol   = "KAFKA_SECURITY_PROTOCOL"
	EnvSASLMechanism      = "KAFKA_SASL_MECHANISM"
	EnvSASLUsername       = "KAFKA_SASL_USERNAME"
	EnvSASLPassword       = "KAFKA_SASL_PASSWORD"
	EnvTLSCAFile          = "REPLICATOR_KAFKA_TLS_CA_FILE"
	EnvTLSCertFile        = "REPLICATOR_KAFKA_TLS_CERT_FILE"
	EnvTLSKeyFile         = "REPLICATOR_KAFKA_TLS_KEY_FILE"
	EnvTLSInsecure        = "REPLICATOR_KAFKA_TLS_INSECURE_SKIP_VERIFY"
	EnvCompression        = "REPLICATOR_KAFKA_COMPRESSION"
	EnvLinger             = "REPLICATOR_KAFKA_LINGER"
	EnvBatchMaxBytes      = "REPLICATOR_KAFKA_BATCH_MAX_BYTES"
	EnvMaxBufferedRecords = "REPLICATOR_KAFKA_MAX_BUFFERED_RECORDS"
)

// Options are the Kafka settings of the replicator.
type Options struct {
	Brokers          []string // host:port; required
	ClientID         string   // "" keeps franz-go's default
	SecurityProtocol string   // PLAINTEXT (default) | SSL | SASL_PLAINTEXT | SASL_SSL
	SASLMechanism    string   // PLAIN (default with SASL_*) | SCRAM-SHA-256 | SCRAM-SHA-512
	SASLUsername     string
	SASLPassword     string
	TLSCAFile        string // PEM CAs added to the system roots
	TLSCertFile      string // PEM client certificate (mutual TLS), with TLSKeyFile
	TLSKeyFile       string
	// TLSInsecureSkipVerify turns off broker certificate verification; for
	// test clusters with throwaway certificates only.
	TLSInsecureSkipVerify bool
	Compression           string        // none | gzip | snappy | lz4 | zstd; "" keeps franz-go's default (snappy, else none)
	Linger                time.Duration // passed as is: 0 sends batches as soon as possible
	BatchMaxBytes         int32         // 0 keeps franz-go's default (1,000,012, Kafka's max.message.bytes default)
	MaxBufferedRecords    int           // 0 keeps franz-go's default (50,000)
	TransactionalID       string        // optional: a transactional producer (exactly-once delivery)
}

// Build returns the franz-go options for o, or an error naming the first bad
// setting.
func Build(o Options) ([]kgo.Opt, error) {
	var brokers []string
	for _, b := range o.Brokers {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	if len(brokers) == 0 {
		return nil, fmt.Errorf("%s: required", EnvBrokers)
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		// franz-go defaults, stated so an upstream change cannot weaken
		// delivery: every in-sync replica acknowledges, and retried
		// batches are deduplicated by the broker.
		kgo.RequiredAcks(kgo.AllISRAcks()),
	}
	if o.ClientID != "" {
		opts = append(opts, kgo.ClientID(o.ClientID))
	}

	protocol := strings.ToUpper(strings.TrimSpace(o.SecurityProtocol))
	if protocol == "" {
		protocol = "PLAINTEXT"
	}
	var useTLS, useSASL bool
	switch protocol {
	case "PLAINTEXT":
	case "SSL":
		useTLS = true
	case "SASL_PLAINTEXT":
		useSASL = true
	case "SASL_SSL":
		useTLS, useSASL = true, true
	default:
		return nil, fmt.Errorf("%s: unsupported %q (want PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)", EnvSecurityProtocol, o.SecurityProtocol)
	}

	if useSASL {
		mech, err := saslMechanism(o)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(mech))
	} else {
		for _, f := range []struct{ env, v string }{{EnvSASLMechanism, o.SASLMechanism}, {EnvSASLUsername, o.SASLUsername}, {EnvSASLPassword, o.SASLPassword}} {
			if f.v != "" {
				return nil, fmt.Errorf("%s: set, but %s is %s (use SASL_PLAINTEXT or SASL_SSL)", f.env, EnvSecurityProtocol, protocol)
			}
		}
	}

	if useTLS {
		cfg, err := tlsConfig(o)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	} else {
		for _, f := range []struct {
			env string
			set bool
		}{{EnvTLSCAFile, o.TLSCAFile != ""}, {EnvTLSCertFile, o.TLSCertFile != ""}, {EnvTLSKeyFile, o.TLSKeyFile != ""}, {EnvTLSInsecure, o.TLSInsecureSkipVerify}} {
			if f.set {
				return nil, fmt.Errorf("%s: set, but %s is %s (use SSL or SASL_SSL)", f.env, EnvSecurityProtocol, protocol)
			}
		}
	}

	switch c := strings.ToLower(strings.TrimSpace(o.Compression)); c {
	case "":
	case "none":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	case "gzip":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case "snappy":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		return nil, fmt.Errorf("%s: unsupported %q (want none, gzip, snappy, lz4, zstd)", EnvCompression, o.Compression)
	}

	if o.Linger < 0 {
		return nil, fmt.Errorf("%s: %s is negative", EnvLinger, o.Linger)
	}
	opts = append(opts, kgo.ProducerLinger(o.Linger))
	switch {
	case o.BatchMaxBytes < 0:
		return nil, fmt.Errorf("%s: %d is negative", EnvBatchMaxBytes, o.BatchMaxBytes)
	case o.BatchMaxBytes > 0:
		opts = append(opts, kgo.ProducerBatchMaxBytes(o.BatchMaxBytes))
	}
	switch {
	case o.MaxBufferedRecords < 0:
		return nil, fmt.Errorf("%s: %d is negative", EnvMaxBufferedRecords, o.MaxBufferedRecords)
	case o.MaxBufferedRecords > 0:
		opts = append(opts, kgo.MaxBufferedRecords(o.MaxBufferedRecords))
	}
	if o.TransactionalID != "" {
		opts = append(opts, kgo.TransactionalID(o.TransactionalID))
	}
	return opts, nil
}

func saslMechanism(o Options) (sasl.Mechanism, error) {
	if o.SASLUsername == "" {
		return nil, fmt.Errorf("%s: required when %s is a SASL protocol", EnvSASLUsername, EnvSecurityProtocol)
	}
	if o.SASLPassword == "" {
		return nil, fmt.Errorf("%s: required when %s is a SASL protocol", EnvSASLPassword, EnvSecurityProtocol)
	}
	switch strings.ToUpper(strings.TrimSpace(o.SASLMechanism)) {
	case "", "PLAIN":
		return plain.Auth{User: o.SASLUsername, Pass: o.SASLPassword}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: o.SASLUsername, Pass: o.SASLPassword}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: o.SASLUsername, Pass: o.SASLPassword}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("%s: unsupported %q (want PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", EnvSASLMechanism, o.SASLMechanism)
}

func tlsConfig(o Options) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.TLSInsecureSkipVerify} //nolint:gosec // opt-in, for test clusters
	if o.TLSCAFile != "" {
		pem, err := os.ReadFile(o.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvTLSCAFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool() // no system pool (e.g. scratch image): the file alone
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate in %s", EnvTLSCAFile, o.TLSCAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case o.TLSCertFile != "" && o.TLSKeyFile != "":
		cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", EnvTLSCertFile, EnvTLSKeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case o.TLSCertFile != "":
		return nil, fmt.Errorf("%s: required with %s", EnvTLSKeyFile, EnvTLSCertFile)
	case o.TLSKeyFile != "":
		return nil, fmt.Errorf("%s: required with %s", EnvTLSCertFile, EnvTLSKeyFile)
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
