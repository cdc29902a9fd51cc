// Package config loads the replicator's settings from the environment and
// command-line flags, and holds the one place where settings get their
// defaults (Defaults) and are checked (Validate).
//
// Contract:
//   - Every setting has an environment variable and a mirroring flag; a flag
//     that is given wins over the environment, the environment wins over the
//     default. Settings lists them all (docs/configuration.md is tested
//     against it).
//   - The names of the Python KCL bridge the replicator replaces keep working
//     (KCL_*, KAFKA_*, CHECKPOINT_FREQ_SECONDS); new settings use the prefix
//     REPLICATOR_.
//   - Defaults are defined once, in the settings table, and Defaults returns
//     them; Load starts from it, and WithDefaults fills a Config built in code
//     from it.
//   - Validate checks every setting, alone and in combination, whatever built
//     the Config: Load calls it, and so do replicator.New and kafkaopts.Build,
//     which check nothing of their own beyond what needs the file system or
//     the network.
//   - Every error names the setting it is about, in the form
//     `NAME: what is wrong`, on one line, so the binary can print it and exit 2.
//   - Load and Validate never touch the network or the file system.
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
	StreamName       string    // KCL_STREAM_NAME: a name or an ARN
	StreamARN        string    // KCL_STREAM_ARN; see Stream
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
	DeliveryMode       string // at-least-once | exactly-once
	Partitioning       string // key | shard
	DLQTopic           string
	MetricsAddr        string // empty disables the HTTP server

	// Exactly-once only (see the methods for the derived defaults).
	CheckpointTopic       string // "": ApplicationName + CheckpointTopicSuffix
	TransactionalIDPrefix string
	TransactionInterval   time.Duration
	TransactionMaxRecords int
	TransactionTimeout    time.Duration // 0: three quarters of FailoverTime

	PollInterval             time.Duration
	FailoverTime             time.Duration
	ShardSyncInterval        time.Duration
	MaxInFlightPerShard      int // records
	MaxInFlightBytesPerShard int
	MaxRecordsPerGet         int
	// MemoryBudget bounds the bytes fetched and not acknowledged across
	// all shards; 0 is "auto" (see MemoryBudgetBytes).
	MemoryBudget int64

	Compression   string // none | gzip | snappy | lz4 | zstd
	Linger        time.Duration
	BatchMaxBytes int

	Decompress string // none | gzip | zstd | auto
	Transform  string // passthrough | json-validate | json-filter:FIELD=VALUE

	ShutdownTimeout time.Duration
	StartupTimeout  time.Duration
	LogLevel        slog.Level

	// Separate credentials and region per service (see LeaseTableRegion).
	LeaseTableRegionOverride string // REPLICATOR_LEASE_TABLE_REGION
	StreamRoleARN            string // assumed for Kinesis calls
	StreamRoleExternalID     string
	LeaseTableRoleARN        string // assumed for DynamoDB calls
	LeaseTableRoleExternalID string
	RoleSessionName          string // "": "shardbridge"

	KinesisEndpoint  string // optional override; normally AWS_ENDPOINT_URL_KINESIS
	DynamoDBEndpoint string // optional override; normally AWS_ENDPOINT_URL_DYNAMODB
}

// CheckpointTopicSuffix makes the default checkpoint topic's name from the
// application name.
const CheckpointTopicSuffix = "-shardbridge-checkpoints"

// CheckpointTopicName is the exactly-once checkpoint topic.
func (c Config) CheckpointTopicName() string {
	if c.CheckpointTopic != "" {
		return c.CheckpointTopic
	}
	return c.ApplicationName + CheckpointTopicSuffix
}

// TransactionalID is the transactional.id of a shard's producer: stable per
// application and shard, so whoever takes the shard over fences the
// previous holder.
func (c Config) TransactionalID(shardID string) string {
	return c.TransactionalIDPrefix + c.ApplicationName + "-" + shardID
}

// TransactionTimeoutOrDefault is TransactionTimeout, or three quarters of
// FailoverTime when unset.
func (c Config) TransactionTimeoutOrDefault() time.Duration {
	if c.TransactionTimeout > 0 {
		return c.TransactionTimeout
	}
	return c.FailoverTime * 3 / 4
}

// Setting documents one configuration setting.
type Setting struct {
	Env         string // environment variable
	Flag        string // command-line flag, without dashes
	Default     string // "" when there is none
	Description string
}

// spec is a setting plus how it is parsed into a Config and checked.
type spec struct {
	Setting
	rule
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
// required settings are empty; WorkerID is generated, hostname-pid-random).
// It is the one place defaults come from: the settings table's Default
// column, which the documentation is tested against.
func Defaults() Config {
	c := defaultCfg()
	c.WorkerID = defaultWorkerID()
	return c
}

// defaultCfg is the settings table's Default column as a Config (without the
// generated WorkerID).
func defaultCfg() Config {
	var c Config
	for _, s := range specs {
		if s.Default != "" {
			if err := s.set(&c, s.Default); err != nil {
				panic(fmt.Sprintf("config: default of %s: %v", s.Env, err)) // a bug in the table
			}
		}
	}
	return c
}

// WithDefaults returns c with the defaults of Defaults in the settings a
// Config built in code left at their zero value: the durations and limits,
// and the initial position, delivery, partitioning, decompression,
// transform and security protocol. A zero value that is itself a valid
// setting is kept: Linger 0 (send at once), MetricsAddr "" (no HTTP server),
// KafkaClientID and Compression "" (franz-go's own), LogLevel info, and the
// optional settings. WorkerID is never made up here: instances must be told
// apart, so Validate requires it. With a SASL_* protocol, SASLMechanism ""
// becomes PLAIN, as in Load.
func (c Config) WithDefaults() Config {
	d := defaultCfg()
	setDur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	setInt := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setStr := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	setDur(&c.CheckpointInterval, d.CheckpointInterval)
	setDur(&c.PollInterval, d.PollInterval)
	setDur(&c.FailoverTime, d.FailoverTime)
	setDur(&c.ShardSyncInterval, d.ShardSyncInterval)
	setDur(&c.ShutdownTimeout, d.ShutdownTimeout)
	setDur(&c.StartupTimeout, d.StartupTimeout)
	setDur(&c.TransactionInterval, d.TransactionInterval)
	setInt(&c.TransactionMaxRecords, d.TransactionMaxRecords)
	setInt(&c.MaxInFlightPerShard, d.MaxInFlightPerShard)
	setInt(&c.MaxInFlightBytesPerShard, d.MaxInFlightBytesPerShard)
	setInt(&c.MaxRecordsPerGet, d.MaxRecordsPerGet)
	setInt(&c.BatchMaxBytes, d.BatchMaxBytes)
	setStr(&c.InitialPosition, d.InitialPosition)
	setStr(&c.DeliveryMode, d.DeliveryMode)
	setStr(&c.Partitioning, d.Partitioning)
	setStr(&c.Decompress, d.Decompress)
	setStr(&c.Transform, d.Transform)
	setStr(&c.SecurityProtocol, d.SecurityProtocol)
	c.saslDefault()
	return c
}

// saslDefault gives a SASL_* protocol its default mechanism, PLAIN. (It
// cannot live in the settings table: without SASL the mechanism must stay
// empty.)
func (c *Config) saslDefault() {
	if c.SASL() && c.SASLMechanism == "" {
		c.SASLMechanism = "PLAIN"
	}
}

// SASL reports whether the security protocol authenticates with SASL.
func (c Config) SASL() bool {
	return c.SecurityProtocol == "SASL_PLAINTEXT" || c.SecurityProtocol == "SASL_SSL"
}

// TLS reports whether the security protocol dials the brokers with TLS.
func (c Config) TLS() bool { return c.SecurityProtocol == "SSL" || c.SecurityProtocol == "SASL_SSL" }

func load(lookup func(string) (string, bool), flags map[string]string) (Config, error) {
	c := Defaults()
	for _, s := range specs {
		v, ok := flags[s.Env]
		if !ok {
			v, ok = lookup(s.Env)
		}
		v = strings.TrimSpace(v)
		if v == "" && ok && emptyDisables[s.Env] {
			v = "off"
		}
		if v == "" {
			continue // the default stays
		}
		if err := s.set(&c, v); err != nil {
			return Config{}, fmt.Errorf("%s: %w", name(s), err)
		}
	}
	c.saslDefault()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// name is how an error refers to a setting: by its environment variable,
// which is what operators of the old bridge know.
func name(s spec) string { return s.Env }

// Validate checks every setting: each one on its own, in the order of the
// settings table, then the combinations. The error names the first setting
// found wrong, by its environment variable (`NAME: what is wrong`, one line).
func (c Config) Validate() error {
	for _, s := range specs {
		if s.check == nil {
			continue
		}
		if err := s.check(&c); err != nil {
			return fmt.Errorf("%s: %w", name(s), err)
		}
	}
	return c.validateTogether()
}

// validateTogether checks the settings that depend on each other.
func (c Config) validateTogether() error {
	if err := c.checkStream(); err != nil {
		return err
	}
	if c.InitialPosition == AtTimestamp && c.InitialTimestamp.IsZero() {
		return errors.New("REPLICATOR_INITIAL_TIMESTAMP: required when KCL_INITIAL_POSITION is AT_TIMESTAMP")
	}
	if c.InitialPosition != AtTimestamp && !c.InitialTimestamp.IsZero() {
		return fmt.Errorf("REPLICATOR_INITIAL_TIMESTAMP: only used with KCL_INITIAL_POSITION=AT_TIMESTAMP (it is %s)", c.InitialPosition)
	}
	sasl := c.SASL()
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
	}
	if !c.TLS() {
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
		slog.String("stream_arn", r.StreamARN),
		slog.String("region", r.Region),
		slog.String("lease_table_region", r.LeaseTableRegionOverride),
		slog.String("stream_role_arn", r.StreamRoleARN),
		slog.Bool("stream_role_external_id_set", r.StreamRoleExternalID != ""),
		slog.String("lease_table_role_arn", r.LeaseTableRoleARN),
		slog.Bool("lease_table_role_external_id_set", r.LeaseTableRoleExternalID != ""),
		slog.String("role_session_name", r.RoleSessionName),
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
		slog.String("checkpoint_topic", r.CheckpointTopic),
		slog.String("transactional_id_prefix", r.TransactionalIDPrefix),
		slog.Duration("transaction_interval", r.TransactionInterval),
		slog.Int("transaction_max_records", r.TransactionMaxRecords),
		slog.Duration("transaction_timeout", r.TransactionTimeout),
		slog.String("partitioning", r.Partitioning),
		slog.String("dlq_topic", r.DLQTopic),
		slog.String("metrics_addr", r.MetricsAddr),
		slog.Duration("poll_interval", r.PollInterval),
		slog.Duration("failover_time", r.FailoverTime),
		slog.Duration("shard_sync_interval", r.ShardSyncInterval),
		slog.Int("max_inflight_per_shard", r.MaxInFlightPerShard),
		slog.Int("max_inflight_bytes_per_shard", r.MaxInFlightBytesPerShard),
		slog.Int("max_records_per_get", r.MaxRecordsPerGet),
		slog.Int64("memory_budget", r.MemoryBudgetBytes()),
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
