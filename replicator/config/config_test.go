package config

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func minimal() map[string]string {
	return map[string]string{
		"KCL_STREAM_NAME":         "orders",
		"KCL_APPLICATION_NAME":    "orders-bridge",
		"KAFKA_TOPIC":             "orders",
		"KAFKA_BOOTSTRAP_SERVERS": "b1:9092, b2:9092",
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(minimal()))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		StreamName: "orders", ApplicationName: "orders-bridge", InitialPosition: TrimHorizon,
		KafkaTopic: "orders", KafkaBrokers: []string{"b1:9092", "b2:9092"}, KafkaClientID: "shardbridge-replicator",
		SecurityProtocol: "PLAINTEXT", CheckpointInterval: 10 * time.Second,
		DeliveryMode: AtLeastOnce, Partitioning: PartitionByKey, MetricsAddr: ":9464",
		TransactionInterval: 100 * time.Millisecond, TransactionMaxRecords: 10000,
		PollInterval: 200 * time.Millisecond, FailoverTime: 10 * time.Second, ShardSyncInterval: time.Minute,
		MaxInFlightPerShard: 10000, MaxInFlightBytesPerShard: 16 << 20, MaxRecordsPerGet: 10000,
		Compression: "snappy", Linger: 5 * time.Millisecond, BatchMaxBytes: 1000000,
		Decompress: "none", Transform: "passthrough", ShutdownTimeout: 30 * time.Second,
		StartupTimeout: 10 * time.Second, LogLevel: slog.LevelInfo,
	}
	if c.WorkerID == "" {
		t.Error("WorkerID: empty, want a generated default")
	}
	c.WorkerID = ""
	if got, w := slog.AnyValue(c).String(), slog.AnyValue(want).String(); got != w {
		t.Errorf("Load:\n got %s\nwant %s", got, w)
	}
	d := Defaults()
	d.StreamName, d.ApplicationName, d.KafkaTopic, d.KafkaBrokers, d.WorkerID = c.StreamName, c.ApplicationName, c.KafkaTopic, c.KafkaBrokers, ""
	if got, w := slog.AnyValue(d).String(), slog.AnyValue(want).String(); got != w {
		t.Errorf("Defaults:\n got %s\nwant %s", got, w)
	}
}

func TestLoadErrorsNameTheSetting(t *testing.T) {
	cases := []struct {
		set  map[string]string // applied over minimal(); "" value deletes
		want string            // error prefix
	}{
		{map[string]string{"KAFKA_TOPIC": ""}, "KAFKA_TOPIC: required"},
		{map[string]string{"KCL_STREAM_NAME": ""}, "KCL_STREAM_NAME: required"},
		{map[string]string{"KCL_APPLICATION_NAME": ""}, "KCL_APPLICATION_NAME: required"},
		{map[string]string{"KAFKA_BOOTSTRAP_SERVERS": ""}, "KAFKA_BOOTSTRAP_SERVERS: required"},
		{map[string]string{"KAFKA_BOOTSTRAP_SERVERS": "broker"}, `KAFKA_BOOTSTRAP_SERVERS: "broker" is not host:port`},
		{map[string]string{"KAFKA_BOOTSTRAP_SERVERS": "b:99999"}, `KAFKA_BOOTSTRAP_SERVERS: "b:99999" has an invalid port`},
		{map[string]string{"CHECKPOINT_FREQ_SECONDS": "abc"}, `CHECKPOINT_FREQ_SECONDS: "abc" is not a number`},
		{map[string]string{"CHECKPOINT_FREQ_SECONDS": "0"}, `CHECKPOINT_FREQ_SECONDS: "0" must be greater than 0`},
		{map[string]string{"KCL_INITIAL_POSITION": "EARLIEST"}, `KCL_INITIAL_POSITION: "EARLIEST" is not one of TRIM_HORIZON, LATEST, AT_TIMESTAMP`},
		{map[string]string{"KCL_INITIAL_POSITION": "AT_TIMESTAMP"}, "REPLICATOR_INITIAL_TIMESTAMP: required when KCL_INITIAL_POSITION is AT_TIMESTAMP"},
		{map[string]string{"REPLICATOR_INITIAL_TIMESTAMP": "yesterday"}, `REPLICATOR_INITIAL_TIMESTAMP: "yesterday" is not an RFC 3339 time`},
		{map[string]string{"REPLICATOR_INITIAL_TIMESTAMP": "2026-01-02T15:04:05Z"}, "REPLICATOR_INITIAL_TIMESTAMP: only used with KCL_INITIAL_POSITION=AT_TIMESTAMP"},
		{map[string]string{"REPLICATOR_DELIVERY": "at-most-once"}, `REPLICATOR_DELIVERY: "at-most-once" is not one of at-least-once, exactly-once`},
		{map[string]string{"REPLICATOR_DELIVERY": "exactly-once", "REPLICATOR_CHECKPOINT_TOPIC": "a/b"}, `REPLICATOR_CHECKPOINT_TOPIC: "a/b" is not a valid Kafka topic name`},
		{map[string]string{"REPLICATOR_TRANSACTION_TIMEOUT": "10s"}, `REPLICATOR_TRANSACTION_TIMEOUT: 10s must be shorter than REPLICATOR_FAILOVER_TIME (10s)`},
		{map[string]string{"REPLICATOR_TRANSACTION_INTERVAL": "1ms"}, `REPLICATOR_TRANSACTION_INTERVAL: "1ms" is below the minimum 10ms`},
		{map[string]string{"REPLICATOR_DELIVERY": "exactly-once", "REPLICATOR_TRANSACTION_INTERVAL": "5s"}, `REPLICATOR_TRANSACTION_INTERVAL: 5s is more than half the transaction timeout (7.5s`},
		{map[string]string{"REPLICATOR_PARTITIONING": "random"}, `REPLICATOR_PARTITIONING: "random" is not one of key, shard`},
		{map[string]string{"REPLICATOR_POLL_INTERVAL": "100ms"}, `REPLICATOR_POLL_INTERVAL: "100ms" is below the minimum 200ms`},
		{map[string]string{"REPLICATOR_POLL_INTERVAL": "200"}, `REPLICATOR_POLL_INTERVAL: "200" is not a duration`},
		{map[string]string{"REPLICATOR_FAILOVER_TIME": "0s"}, `REPLICATOR_FAILOVER_TIME: "0s" must be greater than 0`},
		{map[string]string{"REPLICATOR_FAILOVER_TIME": "100ms"}, `REPLICATOR_FAILOVER_TIME: 100ms is too short`},
		{map[string]string{"REPLICATOR_SHARD_SYNC_INTERVAL": "soon"}, `REPLICATOR_SHARD_SYNC_INTERVAL: "soon" is not a duration`},
		{map[string]string{"REPLICATOR_MAX_INFLIGHT_PER_SHARD": "many"}, `REPLICATOR_MAX_INFLIGHT_PER_SHARD: "many" is not an integer`},
		{map[string]string{"REPLICATOR_MAX_INFLIGHT_PER_SHARD": "0"}, `REPLICATOR_MAX_INFLIGHT_PER_SHARD: 0 is outside 1..`},
		{map[string]string{"REPLICATOR_MAX_INFLIGHT_BYTES_PER_SHARD": "10"}, `REPLICATOR_MAX_INFLIGHT_BYTES_PER_SHARD: 10 is outside`},
		{map[string]string{"REPLICATOR_MAX_RECORDS_PER_GET": "10001"}, `REPLICATOR_MAX_RECORDS_PER_GET: 10001 is outside 1..10000`},
		{map[string]string{"REPLICATOR_KAFKA_COMPRESSION": "brotli"}, `REPLICATOR_KAFKA_COMPRESSION: "brotli" is not one of`},
		{map[string]string{"REPLICATOR_KAFKA_LINGER": "-1s"}, `REPLICATOR_KAFKA_LINGER: "-1s" is below the minimum`},
		{map[string]string{"REPLICATOR_KAFKA_BATCH_MAX_BYTES": "1k"}, `REPLICATOR_KAFKA_BATCH_MAX_BYTES: "1k" is not an integer`},
		{map[string]string{"REPLICATOR_DECOMPRESS": "lzma"}, `REPLICATOR_DECOMPRESS: "lzma" is not one of none, gzip, zstd, auto`},
		{map[string]string{"REPLICATOR_TRANSFORM": "uppercase"}, `REPLICATOR_TRANSFORM: "uppercase" is not one of`},
		{map[string]string{"REPLICATOR_TRANSFORM": "json-filter:type"}, `REPLICATOR_TRANSFORM: "json-filter:type": want json-filter:FIELD=VALUE`},
		{map[string]string{"REPLICATOR_SHUTDOWN_TIMEOUT": "1ms"}, `REPLICATOR_SHUTDOWN_TIMEOUT: "1ms" is below the minimum 1s`},
		{map[string]string{"REPLICATOR_STARTUP_TIMEOUT": "x"}, `REPLICATOR_STARTUP_TIMEOUT: "x" is not a duration`},
		{map[string]string{"REPLICATOR_LOG_LEVEL": "verbose"}, `REPLICATOR_LOG_LEVEL: "verbose" is not one of debug, info, warn, error`},
		{map[string]string{"REPLICATOR_METRICS_ADDR": "9464"}, `REPLICATOR_METRICS_ADDR: "9464" is not host:port`},
		{map[string]string{"REPLICATOR_KINESIS_ENDPOINT": "localhost:4566"}, `REPLICATOR_KINESIS_ENDPOINT: "localhost:4566" is not an http(s) URL`},
		{map[string]string{"REPLICATOR_DYNAMODB_ENDPOINT": "ftp://x"}, `REPLICATOR_DYNAMODB_ENDPOINT: "ftp://x" is not an http(s) URL`},
		{map[string]string{"KAFKA_SECURITY_PROTOCOL": "TLS"}, `KAFKA_SECURITY_PROTOCOL: "TLS" is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL`},
		{map[string]string{"KAFKA_SASL_MECHANISM": "GSSAPI"}, `KAFKA_SASL_MECHANISM: "GSSAPI" is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`},
		{map[string]string{"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "KAFKA_SASL_USERNAME: required when KAFKA_SECURITY_PROTOCOL is SASL_SSL"},
		{map[string]string{"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u"}, "KAFKA_SASL_PASSWORD: required when KAFKA_SECURITY_PROTOCOL is SASL_SSL"},
		{map[string]string{"KAFKA_SASL_USERNAME": "u"}, "KAFKA_SASL_USERNAME: set, but KAFKA_SECURITY_PROTOCOL is PLAINTEXT"},
		{map[string]string{"KAFKA_SASL_PASSWORD": "p"}, "KAFKA_SASL_PASSWORD: set, but KAFKA_SECURITY_PROTOCOL is PLAINTEXT"},
		{map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN"}, "KAFKA_SASL_MECHANISM: set, but KAFKA_SECURITY_PROTOCOL is PLAINTEXT"},
		{map[string]string{"REPLICATOR_KAFKA_TLS_CA_FILE": "/ca.pem"}, "REPLICATOR_KAFKA_TLS_CA_FILE: set, but KAFKA_SECURITY_PROTOCOL is PLAINTEXT"},
		{map[string]string{"KAFKA_SECURITY_PROTOCOL": "SSL", "REPLICATOR_KAFKA_TLS_KEY_FILE": "/k.pem"}, "REPLICATOR_KAFKA_TLS_CERT_FILE: required with REPLICATOR_KAFKA_TLS_KEY_FILE"},
		{map[string]string{"KAFKA_SECURITY_PROTOCOL": "SSL", "REPLICATOR_KAFKA_TLS_CERT_FILE": "/c.pem"}, "REPLICATOR_KAFKA_TLS_KEY_FILE: required with REPLICATOR_KAFKA_TLS_CERT_FILE"},
		{map[string]string{"REPLICATOR_DLQ_TOPIC": "orders"}, "REPLICATOR_DLQ_TOPIC: must differ from KAFKA_TOPIC"},
	}
	for _, tc := range cases {
		m := minimal()
		for k, v := range tc.set {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		_, err := Load(env(m))
		if err == nil {
			t.Errorf("%v: no error, want %q", tc.set, tc.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v:\n got %q\nwant prefix %q", tc.set, err, tc.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error spans lines: %q", tc.set, err)
		}
	}
}

func TestLoadValues(t *testing.T) {
	m := minimal()
	for k, v := range map[string]string{
		"KCL_INITIAL_POSITION":                    "at_timestamp",
		"REPLICATOR_INITIAL_TIMESTAMP":            "2026-01-02T15:04:05.5Z",
		"CHECKPOINT_FREQ_SECONDS":                 "2.5",
		"KAFKA_SECURITY_PROTOCOL":                 "SASL_SSL",
		"KAFKA_SASL_MECHANISM":                    "SCRAM-SHA-512",
		"KAFKA_SASL_USERNAME":                     "bridge",
		"KAFKA_SASL_PASSWORD":                     "s3cret",
		"REPLICATOR_WORKER_ID":                    "w1",
		"REPLICATOR_PARTITIONING":                 "shard",
		"REPLICATOR_METRICS_ADDR":                 "",
		"REPLICATOR_POLL_INTERVAL":                "1s",
		"REPLICATOR_MAX_INFLIGHT_BYTES_PER_SHARD": "2097152",
		"REPLICATOR_TRANSFORM":                    "json-filter:type=order",
		"REPLICATOR_LOG_LEVEL":                    "debug",
	} {
		m[k] = v
	}
	c, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if c.InitialPosition != AtTimestamp || !c.InitialTimestamp.Equal(time.Date(2026, 1, 2, 15, 4, 5, 5e8, time.UTC)) {
		t.Errorf("initial position %s %v", c.InitialPosition, c.InitialTimestamp)
	}
	if c.CheckpointInterval != 2500*time.Millisecond {
		t.Errorf("CheckpointInterval = %v", c.CheckpointInterval)
	}
	if c.SASLMechanism != "SCRAM-SHA-512" || c.SASLPassword != "s3cret" || c.WorkerID != "w1" || c.Partitioning != "shard" {
		t.Errorf("got %+v", c)
	}
	if c.MetricsAddr != "" {
		t.Errorf("REPLICATOR_METRICS_ADDR set empty should disable, got %q", c.MetricsAddr)
	}
	if c.PollInterval != time.Second || c.MaxInFlightBytesPerShard != 2<<20 || c.Transform != "json-filter:type=order" || c.LogLevel != slog.LevelDebug {
		t.Errorf("got %+v", c.Redacted())
	}
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	m := minimal()
	m["KAFKA_TOPIC"] = "from-env"
	m["CHECKPOINT_FREQ_SECONDS"] = "abc" // overridden by the flag, so never parsed
	c, err := LoadArgs([]string{"-kafka-topic=from-flag", "--checkpoint-freq-seconds", "3"}, env(m))
	if err != nil {
		t.Fatal(err)
	}
	if c.KafkaTopic != "from-flag" || c.CheckpointInterval != 3*time.Second || c.StreamName != "orders" {
		t.Errorf("got topic %q interval %v stream %q", c.KafkaTopic, c.CheckpointInterval, c.StreamName)
	}
	if _, err := LoadArgs([]string{"-poll-interval=1ms"}, env(minimal())); err == nil || !strings.HasPrefix(err.Error(), "REPLICATOR_POLL_INTERVAL:") {
		t.Errorf("bad flag value: %v", err)
	}
	if _, err := LoadArgs([]string{"-no-such-flag=1"}, env(minimal())); err == nil || !strings.Contains(err.Error(), "no-such-flag") {
		t.Errorf("unknown flag: %v", err)
	}
	if _, err := LoadArgs([]string{"stray"}, env(minimal())); err == nil || !strings.Contains(err.Error(), "stray") {
		t.Errorf("stray argument: %v", err)
	}
	if _, err := LoadArgs([]string{"-h"}, env(minimal())); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestSettingsCoverEveryVariable(t *testing.T) {
	seenEnv, seenFlag := map[string]bool{}, map[string]bool{}
	for _, s := range Settings() {
		if s.Env == "" || s.Flag == "" || s.Description == "" {
			t.Errorf("incomplete setting %+v", s)
		}
		if seenEnv[s.Env] || seenFlag[s.Flag] {
			t.Errorf("duplicate %s / %s", s.Env, s.Flag)
		}
		seenEnv[s.Env], seenFlag[s.Flag] = true, true
		if !strings.HasPrefix(s.Env, "REPLICATOR_") && !strings.HasPrefix(s.Env, "KCL_") &&
			!strings.HasPrefix(s.Env, "KAFKA_") && s.Env != "CHECKPOINT_FREQ_SECONDS" {
			t.Errorf("%s: new settings must use the REPLICATOR_ prefix", s.Env)
		}
	}
	for _, must := range []string{"KCL_STREAM_NAME", "KCL_APPLICATION_NAME", "KCL_REGION", "KCL_INITIAL_POSITION",
		"KAFKA_TOPIC", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_CLIENT_ID", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD",
		"KAFKA_SASL_MECHANISM", "KAFKA_SECURITY_PROTOCOL", "CHECKPOINT_FREQ_SECONDS"} {
		if !seenEnv[must] {
			t.Errorf("bridge setting %s missing", must)
		}
	}
	var buf bytes.Buffer
	Usage(&buf)
	for _, s := range Settings() {
		if !strings.Contains(buf.String(), s.Env) {
			t.Errorf("usage lacks %s", s.Env)
		}
	}
}

func TestRedacted(t *testing.T) {
	m := minimal()
	m["KAFKA_SECURITY_PROTOCOL"] = "SASL_PLAINTEXT"
	m["KAFKA_SASL_USERNAME"] = "u"
	m["KAFKA_SASL_PASSWORD"] = "hunter2"
	c, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if c.Redacted().SASLPassword == "hunter2" || c.SASLPassword != "hunter2" {
		t.Error("Redacted must mask the password in the copy only")
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	if strings.Contains(buf.String(), "hunter2") || !strings.Contains(buf.String(), `"kafka_topic":"orders"`) {
		t.Errorf("logged config: %s", buf.String())
	}
}

// inCode is a Config built in code as replicator.New receives one: the
// required settings and nothing else.
func inCode() Config {
	return Config{StreamName: "orders", ApplicationName: "orders-bridge", KafkaTopic: "orders",
		KafkaBrokers: []string{"b1:9092"}, WorkerID: "w1"}
}

// WithDefaults fills what a Config built in code left at zero, and keeps
// the zero values that are settings of their own.
func TestWithDefaults(t *testing.T) {
	c := inCode().WithDefaults()
	d := Defaults()
	d.StreamName, d.ApplicationName, d.KafkaTopic, d.KafkaBrokers, d.WorkerID = c.StreamName, c.ApplicationName, c.KafkaTopic, c.KafkaBrokers, c.WorkerID
	// Zero on purpose: send at once, no HTTP server, franz-go's client id and compression.
	d.Linger, d.MetricsAddr, d.KafkaClientID, d.Compression = 0, "", "", ""
	if got, w := slog.AnyValue(c).String(), slog.AnyValue(d).String(); got != w {
		t.Errorf("WithDefaults:\n got %s\nwant %s", got, w)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	kept := inCode()
	kept.FailoverTime, kept.Partitioning, kept.SecurityProtocol = time.Minute, PartitionByShard, "SASL_SSL"
	kept = kept.WithDefaults()
	if kept.FailoverTime != time.Minute || kept.Partitioning != PartitionByShard || kept.SASLMechanism != "PLAIN" {
		t.Errorf("WithDefaults overwrote settings or left the SASL mechanism empty: %+v", kept.Redacted())
	}
	noWorker := inCode()
	noWorker.WorkerID = ""
	if err := noWorker.WithDefaults().Validate(); err == nil || err.Error() != "REPLICATOR_WORKER_ID: required" {
		t.Errorf("empty WorkerID: %v", err)
	}
}

// Validate judges a Config built in code as Load judges the environment:
// every setting, named by its environment variable. (These were checked by
// replicator.New and kafkaopts.Build before.)
func TestValidateErrorsNameTheSetting(t *testing.T) {
	cases := []struct {
		set  func(*Config)
		want string // error prefix
	}{
		{func(c *Config) { c.StreamName = "" }, "KCL_STREAM_NAME: required"},
		{func(c *Config) { c.ApplicationName = "" }, "KCL_APPLICATION_NAME: required"},
		{func(c *Config) { c.KafkaTopic = "" }, "KAFKA_TOPIC: required"},
		{func(c *Config) { c.KafkaBrokers = nil }, "KAFKA_BOOTSTRAP_SERVERS: required"},
		{func(c *Config) { c.KafkaBrokers = []string{"b1:9092", " "} }, `KAFKA_BOOTSTRAP_SERVERS: " " is not host:port`},
		{func(c *Config) { c.WorkerID = "" }, "REPLICATOR_WORKER_ID: required"},
		{func(c *Config) { c.DeliveryMode = "exactly-twice" }, `REPLICATOR_DELIVERY: "exactly-twice" is not one of at-least-once, exactly-once`},
		{func(c *Config) { c.DeliveryMode, c.ApplicationName = ExactlyOnce, strings.Repeat("a", 240) }, `REPLICATOR_CHECKPOINT_TOPIC: "aaaa`},
		{func(c *Config) { c.Partitioning = "random" }, `REPLICATOR_PARTITIONING: "random" is not one of key, shard`},
		{func(c *Config) { c.InitialPosition = "EARLIEST" }, `KCL_INITIAL_POSITION: "EARLIEST" is not one of TRIM_HORIZON, LATEST, AT_TIMESTAMP`},
		{func(c *Config) { c.InitialPosition = AtTimestamp }, "REPLICATOR_INITIAL_TIMESTAMP: required when KCL_INITIAL_POSITION is AT_TIMESTAMP"},
		{func(c *Config) { c.CheckpointInterval = -time.Second }, `CHECKPOINT_FREQ_SECONDS: "-1" must be greater than 0`},
		{func(c *Config) { c.PollInterval = 50 * time.Millisecond }, `REPLICATOR_POLL_INTERVAL: "50ms" is below the minimum 200ms`},
		{func(c *Config) { c.FailoverTime = 100 * time.Millisecond }, "REPLICATOR_FAILOVER_TIME: 100ms is too short (minimum 600ms)"},
		{func(c *Config) { c.MaxRecordsPerGet = 20000 }, "REPLICATOR_MAX_RECORDS_PER_GET: 20000 is outside 1..10000"},
		{func(c *Config) { c.Decompress = "lzma" }, `REPLICATOR_DECOMPRESS: "lzma" is not one of none, gzip, zstd, auto`},
		{func(c *Config) { c.Transform = "json-filter:" }, `REPLICATOR_TRANSFORM: "json-filter:": want json-filter:FIELD=VALUE`},
		{func(c *Config) { c.MetricsAddr = "9464" }, `REPLICATOR_METRICS_ADDR: "9464" is not host:port or :port`},
		{func(c *Config) { c.KinesisEndpoint = "localhost:4566" }, `REPLICATOR_KINESIS_ENDPOINT: "localhost:4566" is not an http(s) URL`},
		// Kafka (formerly kafkaopts.Build's own checks).
		{func(c *Config) { c.SecurityProtocol = "SASL_TLS" }, `KAFKA_SECURITY_PROTOCOL: "SASL_TLS" is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL`},
		{func(c *Config) {
			c.SecurityProtocol, c.SASLMechanism, c.SASLUsername, c.SASLPassword = "SASL_SSL", "GSSAPI", "u", "p"
		}, `KAFKA_SASL_MECHANISM: "GSSAPI" is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`},
		{func(c *Config) { c.SecurityProtocol, c.SASLPassword = "SASL_PLAINTEXT", "p" }, "KAFKA_SASL_USERNAME: required when KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT"},
		{func(c *Config) { c.SecurityProtocol, c.SASLUsername = "SASL_PLAINTEXT", "u" }, "KAFKA_SASL_PASSWORD: required when KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT"},
		{func(c *Config) { c.SASLUsername = "u" }, "KAFKA_SASL_USERNAME: set, but KAFKA_SECURITY_PROTOCOL is PLAINTEXT"},
		{func(c *Config) { c.SecurityProtocol, c.SASLMechanism = "SSL", "PLAIN" }, "KAFKA_SASL_MECHANISM: set, but KAFKA_SECURITY_PROTOCOL is SSL"},
		{func(c *Config) { c.TLSCAFile = "/x" }, "REPLICATOR_KAFKA_TLS_CA_FILE: set, but KAFKA_SECURITY_PROTOCOL is PLAINTEXT"},
		{func(c *Config) {
			c.SecurityProtocol, c.SASLUsername, c.SASLPassword, c.TLSInsecureSkipVerify = "SASL_PLAINTEXT", "u", "p", true
		}, "REPLICATOR_KAFKA_TLS_INSECURE_SKIP_VERIFY: set, but KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT"},
		{func(c *Config) { c.SecurityProtocol, c.TLSCertFile = "SSL", "/x.pem" }, "REPLICATOR_KAFKA_TLS_KEY_FILE: required with REPLICATOR_KAFKA_TLS_CERT_FILE"},
		{func(c *Config) { c.Compression = "brotli" }, `REPLICATOR_KAFKA_COMPRESSION: "brotli" is not one of none, gzip, snappy, lz4, zstd`},
		{func(c *Config) { c.Linger = -time.Millisecond }, `REPLICATOR_KAFKA_LINGER: "-1ms" is below the minimum 0s`},
		{func(c *Config) { c.BatchMaxBytes = 100 }, "REPLICATOR_KAFKA_BATCH_MAX_BYTES: 100 is outside 1024..1073741824"},
		{func(c *Config) { c.DLQTopic = c.KafkaTopic }, "REPLICATOR_DLQ_TOPIC: must differ from KAFKA_TOPIC"},
	}
	for _, tc := range cases {
		c := inCode().WithDefaults()
		tc.set(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("got %v, want prefix %q", err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error spans lines: %q", err)
		}
	}
}

// Every value Load produces passes Validate again unchanged (replicator.New
// validates what Load returned).
func TestLoadedConfigValidates(t *testing.T) {
	m := minimal()
	m["KAFKA_SECURITY_PROTOCOL"], m["KAFKA_SASL_USERNAME"], m["KAFKA_SASL_PASSWORD"] = "sasl_ssl", "u", "p"
	m["REPLICATOR_KAFKA_COMPRESSION"], m["REPLICATOR_METRICS_ADDR"] = "ZSTD", "off"
	c, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if c.SecurityProtocol != "SASL_SSL" || c.SASLMechanism != "PLAIN" || c.Compression != "zstd" || c.MetricsAddr != "" {
		t.Errorf("got %+v", c.Redacted())
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate of a loaded Config: %v", err)
	}
	if got, w := slog.AnyValue(c.WithDefaults()).String(), slog.AnyValue(c).String(); got != w {
		t.Errorf("WithDefaults changed a loaded Config:\n got %s\nwant %s", got, w)
	}
}
