// Package config loads the replicator's settings from the environment and
// command-line flags.
//
// Contract:
//   - Every setting has an environment variable and a mirroring flag; a flag
//     that is given wins over the environment, the environment wins over the
//     default. Settings lists them all (docs/configuration.md is tested
//     against it).
//   - The names of the Python KCL bridge the replicator replaces keep working
//     (KCL_*, KAFKA_*, CHECKPOINT_FREQ_SECONDS); new settings use the prefix
//     REPLICATOR_.
//   - Every error names the setting it is about, in the form
//     `NAME: what is wrong`, on one line, so the binary can print it and exit 2.
//   - Load never touches the network or the file system.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Delivery modes.
const (
	AtLeastOnce = "at-least-once"
	ExactlyOnce = "exactly-once"
)

// Partitioning modes.
const (
	PartitionByKey   = "key"
	PartitionByShard = "shard"
)

// Initial positions for shards without a checkpoint.
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
	AtTimestamp = "AT_TIMESTAMP"
)

// MinPollInterval keeps a caught-up reader at or below Kinesis' limit of five
// GetRecords calls per second per shard.
const MinPollInterval = 200 * time.Millisecond

// Config is the replicator's complete configuration.
type Config struct {
	StreamName       string    // KCL_STREAM_NAME
	ApplicationName  string    // KCL_APPLICATION_NAME; also the lease table name
	Region           string    // KCL_REGION; empty = the SDK's default chain
	InitialPosition  string    // TRIM_HORIZON | LATEST | AT_TIMESTAMP
	InitialTimestamp time.Time // for AT_TIMESTAMP

	KafkaTopic       string
	KafkaBrokers     []string
	KafkaClientID    string
	SASLUsername     string
	SASLPassword     string
	SASLMechanism    string // PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
	SecurityProtocol string // PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
	TLSCAFile        string
	TLSCertFile      string
	TLSKeyFile       string
	// TLSInsecureSkipVerify turns off broker certificate checks (test clusters only).
	TLSInsecureSkipVerify bool

	CheckpointInterval time.Duration
	WorkerID           string
	DeliveryMode       string // at-least-once (exactly-once: not implemented yet)
	Partitioning       string // key | shard
	DLQTopic           string
	MetricsAddr        string // empty disables the HTTP server

	PollInterval             time.Duration
	FailoverTime             time.Duration
	ShardSyncInterval        time.Duration
	MaxInFlightPerShard      int // records
	MaxInFlightBytesPerShard int
	MaxRecordsPerGet         int

	Compression   string // none | gzip | snappy | lz4 | zstd
	Linger        time.Duration
	BatchMaxBytes int

	Decompress string // none | gzip | zstd | auto
	Transform  string // passthrough | json-validate | json-filter:FIELD=VALUE

	ShutdownTimeout time.Duration
	StartupTimeout  time.Duration
	LogLevel        slog.Level

	KinesisEndpoint  string // optional override; normally AWS_ENDPOINT_URL_KINESIS
	DynamoDBEndpoint string // optional override; normally AWS_ENDPOINT_URL_DYNAMODB
}

// Setting documents one configuration setting.
type Setting struct {
	Env         string // environment variable
	Flag        string // command-line flag, without dashes
	Default     string // "" when there is none
	Description string
}

// spec is a setting plus how it is parsed into a Config.
type spec struct {
	Setting
	set func(c *Config, v string) error // v is never empty
}

// emptyDisables lists the settings for which a variable set to "" means
// "off" rather than "use the default".
var emptyDisables = map[string]bool{"REPLICATOR_METRICS_ADDR": true}

// Settings lists every setting Load understands, in documentation order.
func Settings() []Setting {
	out := make([]Setting, len(specs))
	for i, s := range specs {
		out[i] = s.Setting
	}
	return out
}

// Load reads the configuration from lookup (os.LookupEnv in production).
// An unset or empty variable takes the default.
func Load(lookup func(string) (string, bool)) (Config, error) {
	return load(lookup, nil)
}

// LoadArgs reads flags from args (without the program name) and the
// environment from lookup; a flag that is given wins. It returns
// flag.ErrHelp when -h or -help is asked for (print Usage then).
func LoadArgs(args []string, lookup func(string) (string, bool)) (Config, error) {
	fs := flag.NewFlagSet("replicator", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	given := map[string]*string{}
	for _, s := range specs {
		given[s.Env] = fs.String(s.Flag, "", "")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, err
		}
		// flag's messages ("flag provided but not defined: -x") already name the flag.
		return Config{}, fmt.Errorf("command line: %w", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("command line: unexpected argument %q (settings are -flag=value or environment variables)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	flags := map[string]string{}
	for _, s := range specs {
		if set[s.Flag] {
			flags[s.Env] = *given[s.Env]
		}
	}
	return load(lookup, flags)
}

// Usage writes one line per setting: flag, environment variable, default and
// description.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: replicator [-flag=value ...]  (every flag has an environment variable; a flag wins)")
	for _, s := range specs {
		def := ""
		if s.Default != "" {
			def = fmt.Sprintf(" (default %s)", s.Default)
		}
		fmt.Fprintf(w, "  -%s / %s%s\n      %s\n", s.Flag, s.Env, def, s.Description)
	}
}

// Defaults returns a Config holding every default and nothing else (the
// required settings are empty); programs that build a Config in code, such as
// tests, start from it.
func Defaults() Config {
	var c Config
	for _, s := range specs {
		if s.Default != "" {
			if err := s.set(&c, s.Default); err != nil {
				panic(fmt.Sprintf("config: default of %s: %v", s.Env, err)) // a bug in the table
			}
		}
	}
	if c.WorkerID == "" {
		c.WorkerID = defaultWorkerID()
	}
	return c
}

func load(lookup func(string) (string, bool), flags map[string]string) (Config, error) {
	var c Config
	for _, s := range specs {
		v, ok := flags[s.Env]
		if !ok {
			v, ok = lookup(s.Env)
		}
		v = strings.TrimSpace(v)
		if v == "" && ok && emptyDisables[s.Env] {
			continue
		}
		if v == "" {
			v = s.Default
		}
		if v == "" {
			continue
		}
		if err := s.set(&c, v); err != nil {
			return Config{}, fmt.Errorf("%s: %w", name(s), err)
		}
	}
	if c.WorkerID == "" {
		c.WorkerID = defaultWorkerID()
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// name is how an error refers to a setting: by its environment variable,
// which is what operators of the old bridge know.
func name(s spec) string { return s.Env }

// validate checks required settings and combinations.
func (c *Config) validate() error {
	required := []struct {
		env string
		ok  bool
	}{
		{"KCL_STREAM_NAME", c.StreamName != ""},
		{"KCL_APPLICATION_NAME", c.ApplicationName != ""},
		{"KAFKA_TOPIC", c.KafkaTopic != ""},
		{"KAFKA_BOOTSTRAP_SERVERS", len(c.KafkaBrokers) > 0},
	}
	for _, r := range required {
		if !r.ok {
			return fmt.Errorf("%s: required", r.env)
		}
	}
	if c.InitialPosition == AtTimestamp && c.InitialTimestamp.IsZero() {
		return errors.New("REPLICATOR_INITIAL_TIMESTAMP: required when KCL_INITIAL_POSITION is AT_TIMESTAMP")
	}
	if c.InitialPosition != AtTimestamp && !c.InitialTimestamp.IsZero() {
		return fmt.Errorf("REPLICATOR_INITIAL_TIMESTAMP: only used with KCL_INITIAL_POSITION=AT_TIMESTAMP (it is %s)", c.InitialPosition)
	}
	sasl := c.SecurityProtocol == "SASL_PLAINTEXT" || c.SecurityProtocol == "SASL_SSL"
	switch {
	case sasl && c.SASLUsername == "":
		return fmt.Errorf("KAFKA_SASL_USERNAME: required when KAFKA_SECURITY_PROTOCOL is %s", c.SecurityProtocol)
	case sasl && c.SASLPassword == "":
		return fmt.Errorf("KAFKA_SASL_PASSWORD: required when KAFKA_SECURITY_PROTOCOL is %s", c.SecurityProtocol)
	case !sasl && c.SASLUsername != "":
		return fmt.Errorf("KAFKA_SASL_USERNAME: set, but KAFKA_SECURITY_PROTOCOL is %s (use SASL_SSL or SASL_PLAINTEXT)", c.SecurityProtocol)
	case !sasl && c.SASLPassword != "":
		return fmt.Errorf("KAFKA_SASL_PASSWORD: set, but KAFKA_SECURITY_PROTOCOL is %s (use SASL_SSL or SASL_PLAINTEXT)", c.SecurityProtocol)
	case !sasl && c.SASLMechanism != "":
		return fmt.Errorf("KAFKA_SASL_MECHANISM: set, but KAFKA_SECURITY_PROTOCOL is %s (use SASL_SSL or SASL_PLAINTEXT)", c.SecurityProtocol)
	case sasl && c.SASLMechanism == "":
		c.SASLMechanism = "PLAIN"
	}
	tls := c.SecurityProtocol == "SSL" || c.SecurityProtocol == "SASL_SSL"
	if !tls {
		for _, f := range []struct{ env, v string }{
			{"REPLICATOR_KAFKA_TLS_CA_FILE", c.TLSCAFile},
			{"REPLICATOR_KAFKA_TLS_CERT_FILE", c.TLSCertFile},
			{"REPLICATOR_KAFKA_TLS_KEY_FILE", c.TLSKeyFile},
			{"REPLICATOR_KAFKA_TLS_INSECURE_SKIP_VERIFY", map[bool]string{true: "true"}[c.TLSInsecureSkipVerify]},
		} {
			if f.v != "" {
				return fmt.Errorf("%s: set, but KAFKA_SECURITY_PROTOCOL is %s (use SSL or SASL_SSL)", f.env, c.SecurityProtocol)
			}
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		if c.TLSCertFile == "" {
			return errors.New("REPLICATOR_KAFKA_TLS_CERT_FILE: required with REPLICATOR_KAFKA_TLS_KEY_FILE")
		}
		return errors.New("REPLICATOR_KAFKA_TLS_KEY_FILE: required with REPLICATOR_KAFKA_TLS_CERT_FILE")
	}
	if c.DLQTopic != "" && c.DLQTopic == c.KafkaTopic {
		return errors.New("REPLICATOR_DLQ_TOPIC: must differ from KAFKA_TOPIC")
	}
	if c.FailoverTime < 3*MinPollInterval {
		return fmt.Errorf("REPLICATOR_FAILOVER_TIME: %s is too short (minimum %s)", c.FailoverTime, 3*MinPollInterval)
	}
	return nil
}

// Redacted returns a copy safe to log: secrets are masked.
func (c Config) Redacted() Config {
	if c.SASLPassword != "" {
		c.SASLPassword = "REDACTED"
	}
	return c
}

// LogValue makes slog print the redacted configuration, so logging a Config
// by mistake never leaks the password.
func (c Config) LogValue() slog.Value {
	r := c.Redacted()
	ts := ""
	if !r.InitialTimestamp.IsZero() {
		ts = r.InitialTimestamp.Format(time.RFC3339Nano)
	}
	return slog.GroupValue(
		slog.String("stream", r.StreamName),
		slog.String("application", r.ApplicationName),
		slog.String("region", r.Region),
		slog.String("initial_position", r.InitialPosition),
		slog.String("initial_timestamp", ts),
		slog.String("kafka_topic", r.KafkaTopic),
		slog.Any("kafka_brokers", r.KafkaBrokers),
		slog.String("kafka_client_id", r.KafkaClientID),
		slog.String("sasl_username", r.SASLUsername),
		slog.String("sasl_password", r.SASLPassword),
		slog.String("sasl_mechanism", r.SASLMechanism),
		slog.String("security_protocol", r.SecurityProtocol),
		slog.String("tls_ca_file", r.TLSCAFile),
		slog.String("tls_cert_file", r.TLSCertFile),
		slog.String("tls_key_file", r.TLSKeyFile),
		slog.Bool("tls_insecure_skip_verify", r.TLSInsecureSkipVerify),
		slog.Duration("checkpoint_interval", r.CheckpointInterval),
		slog.String("worker_id", r.WorkerID),
		slog.String("delivery", r.DeliveryMode),
		slog.String("partitioning", r.Partitioning),
		slog.String("dlq_topic", r.DLQTopic),
		slog.String("metrics_addr", r.MetricsAddr),
		slog.Duration("poll_interval", r.PollInterval),
		slog.Duration("failover_time", r.FailoverTime),
		slog.Duration("shard_sync_interval", r.ShardSyncInterval),
		slog.Int("max_inflight_per_shard", r.MaxInFlightPerShard),
		slog.Int("max_inflight_bytes_per_shard", r.MaxInFlightBytesPerShard),
		slog.Int("max_records_per_get", r.MaxRecordsPerGet),
		slog.String("kafka_compression", r.Compression),
		slog.Duration("kafka_linger", r.Linger),
		slog.Int("kafka_batch_max_bytes", r.BatchMaxBytes),
		slog.String("decompress", r.Decompress),
		slog.String("transform", r.Transform),
		slog.Duration("shutdown_timeout", r.ShutdownTimeout),
		slog.Duration("startup_timeout", r.StartupTimeout),
		slog.String("log_level", r.LogLevel.String()),
		slog.String("kinesis_endpoint", r.KinesisEndpoint),
		slog.String("dynamodb_endpoint", r.DynamoDBEndpoint),
	)
}

// defaultWorkerID is hostname-pid-random: unique per process even when
// containers share a hostname, and recognisable in the lease table.
func defaultWorkerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "replicator"
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
