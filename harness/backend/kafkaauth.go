package backend

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Environment variables of an external Kafka's security (the external
// backend only; the other backends' brokers are plaintext).
const (
	EnvKafkaSecurityProtocol = "SHARDBRIDGE_KAFKA_SECURITY_PROTOCOL" // PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
	EnvKafkaSASLMechanism    = "SHARDBRIDGE_KAFKA_SASL_MECHANISM"    // PLAIN (default), SCRAM-SHA-256, SCRAM-SHA-512
	EnvKafkaSASLUsername     = "SHARDBRIDGE_KAFKA_SASL_USERNAME"
	EnvKafkaSASLPassword     = "SHARDBRIDGE_KAFKA_SASL_PASSWORD"
	EnvKafkaTLSCAFile        = "SHARDBRIDGE_KAFKA_TLS_CA_FILE" // PEM; empty: the system pool
)

// KafkaAuth is how clients reach the environment's Kafka: the harness's own
// (KafkaOpts) and a bridge's, through its file's placeholders.
type KafkaAuth struct {
	SecurityProtocol, SASLMechanism, SASLUsername, SASLPassword, TLSCAFile string
}

// kafkaAuthFrom reads the external backend's Kafka security settings.
func kafkaAuthFrom(getenv func(string) string) (KafkaAuth, error) {
	a := KafkaAuth{
		SecurityProtocol: strings.ToUpper(strings.TrimSpace(getenv(EnvKafkaSecurityProtocol))),
		SASLMechanism:    strings.ToUpper(strings.TrimSpace(getenv(EnvKafkaSASLMechanism))),
		SASLUsername:     getenv(EnvKafkaSASLUsername), SASLPassword: getenv(EnvKafkaSASLPassword),
		TLSCAFile: getenv(EnvKafkaTLSCAFile),
	}
	switch a.SecurityProtocol {
	case "", "PLAINTEXT", "SSL":
		if a.SASLMechanism != "" || a.SASLUsername != "" {
			return a, fmt.Errorf("%s: SASL settings need SASL_PLAINTEXT or SASL_SSL (it is %q)", EnvKafkaSecurityProtocol, a.SecurityProtocol)
		}
	case "SASL_PLAINTEXT", "SASL_SSL":
		if a.SASLMechanism == "" {
			a.SASLMechanism = "PLAIN"
		}
		switch a.SASLMechanism {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		default:
			return a, fmt.Errorf("%s: %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", EnvKafkaSASLMechanism, a.SASLMechanism)
		}
		if a.SASLUsername == "" {
			return a, fmt.Errorf("%s: required with %s", EnvKafkaSASLUsername, a.SecurityProtocol)
		}
	default:
		return a, fmt.Errorf("%s: %q is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", EnvKafkaSecurityProtocol, a.SecurityProtocol)
	}
	if a.TLSCAFile != "" && !strings.HasSuffix(a.SecurityProtocol, "SSL") {
		return a, fmt.Errorf("%s: only with SSL or SASL_SSL", EnvKafkaTLSCAFile)
	}
	return a, nil
}

// kgoOpts are the client options for a.
func (a KafkaAuth) kgoOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if strings.HasSuffix(a.SecurityProtocol, "SSL") {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if a.TLSCAFile != "" {
			pemBytes, err := os.ReadFile(a.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", EnvKafkaTLSCAFile, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pemBytes) {
				return nil, fmt.Errorf("%s: %s holds no PEM certificate", EnvKafkaTLSCAFile, a.TLSCAFile)
			}
			cfg.RootCAs = pool
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if strings.HasPrefix(a.SecurityProtocol, "SASL_") {
		var m sasl.Mechanism
		switch a.SASLMechanism {
		case "PLAIN":
			m = plain.Auth{User: a.SASLUsername, Pass: a.SASLPassword}.AsMechanism()
		case "SCRAM-SHA-256":
			m = scram.Auth{User: a.SASLUsername, Pass: a.SASLPassword}.AsSha256Mechanism()
		case "SCRAM-SHA-512":
			m = scram.Auth{User: a.SASLUsername, Pass: a.SASLPassword}.AsSha512Mechanism()
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// KafkaAuth is how the environment's Kafka is reached (zero: plaintext).
func (e *Env) KafkaAuth() KafkaAuth { return e.kafkaAuth }

// KafkaOpts are the client options every Kafka client of the harness needs
// for the environment's brokers (security), to add to its own.
func (e *Env) KafkaOpts() []kgo.Opt { return append([]kgo.Opt(nil), e.kafkaOpts...) }
