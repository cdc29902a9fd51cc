package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// specs is the single table of settings: parsing, flags, usage and
// Settings() all come from it, so documentation cannot drift from the code.
var specs = []spec{
	// Kinesis and the lease table (names of the Python KCL bridge).
	{Setting{"KCL_STREAM_NAME", "stream-name", "", "Kinesis stream to replicate (required)."},
		func(c *Config, v string) error { c.StreamName = v; return nil }},
	{Setting{"KCL_APPLICATION_NAME", "application-name", "", "Application name; also the DynamoDB lease table name, shared by every instance (required)."},
		func(c *Config, v string) error { c.ApplicationName = v; return nil }},
	{Setting{"KCL_REGION", "region", "", "AWS region; empty uses the SDK's default chain (AWS_REGION, profile)."},
		func(c *Config, v string) error { c.Region = v; return nil }},
	{Setting{"KCL_INITIAL_POSITION", "initial-position", TrimHorizon, "Where shards without a checkpoint start: TRIM_HORIZON, LATEST or AT_TIMESTAMP."},
		oneOf(func(c *Config) *string { return &c.InitialPosition }, TrimHorizon, Latest, AtTimestamp)},
	{Setting{"REPLICATOR_INITIAL_TIMESTAMP", "initial-timestamp", "", "Start time for AT_TIMESTAMP, RFC 3339 (e.g. 2026-01-02T15:04:05Z)."},
		func(c *Config, v string) error {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return fmt.Errorf("%q is not an RFC 3339 time (e.g. 2026-01-02T15:04:05Z)", v)
			}
			c.InitialTimestamp = t
			return nil
		}},
	{Setting{"CHECKPOINT_FREQ_SECONDS", "checkpoint-freq-seconds", "10", "Seconds between checkpoints of acknowledged progress; bounds the duplicates replayed after a crash."},
		func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("%q is not a number", v)
			}
			if f <= 0 {
				return fmt.Errorf("%q must be greater than 0", v)
			}
			c.CheckpointInterval = time.Duration(f * float64(time.Second))
			return nil
		}},

	// Kafka (names of the Python bridge).
	{Setting{"KAFKA_TOPIC", "kafka-topic", "", "Kafka topic records are written to (required)."},
		func(c *Config, v string) error { c.KafkaTopic = v; return nil }},
	{Setting{"KAFKA_BOOTSTRAP_SERVERS", "kafka-bootstrap-servers", "", "Comma-separated Kafka brokers, host:port (required)."},
		func(c *Config, v string) error {
			for _, b := range strings.Split(v, ",") {
				b = strings.TrimSpace(b)
				if b == "" {
					continue
				}
				if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
					return fmt.Errorf("%q is not host:port", b)
				} else if p, err := strconv.Atoi(b[i+1:]); err != nil || p <= 0 || p > 65535 {
					return fmt.Errorf("%q has an invalid port", b)
				}
				c.KafkaBrokers = append(c.KafkaBrokers, b)
			}
			return nil
		}},
	{Setting{"KAFKA_CLIENT_ID", "kafka-client-id", "shardbridge-replicator", "Kafka client.id."},
		func(c *Config, v string) error { c.KafkaClientID = v; return nil }},
	{Setting{"KAFKA_SECURITY_PROTOCOL", "kafka-security-protocol", "PLAINTEXT", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."},
		oneOf(func(c *Config) *string { return &c.SecurityProtocol }, "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")},
	{Setting{"KAFKA_SASL_MECHANISM", "kafka-sasl-mechanism", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; only with a SASL_* protocol, where it defaults to PLAIN."},
		oneOf(func(c *Config) *string { return &c.SASLMechanism }, "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")},
	{Setting{"KAFKA_SASL_USERNAME", "kafka-sasl-username", "", "SASL user name."},
		func(c *Config, v string) error { c.SASLUsername = v; return nil }},
	{Setting{"KAFKA_SASL_PASSWORD", "kafka-sasl-password", "", "SASL password (never logged)."},
		func(c *Config, v string) error { c.SASLPassword = v; return nil }},
	{Setting{"REPLICATOR_KAFKA_TLS_CA_FILE", "kafka-tls-ca-file", "", "PEM file of CAs that sign the brokers' certificates (SSL/SASL_SSL); empty uses the system pool."},
		func(c *Config, v string) error { c.TLSCAFile = v; return nil }},
	{Setting{"REPLICATOR_KAFKA_TLS_CERT_FILE", "kafka-tls-cert-file", "", "PEM client certificate for mutual TLS (with REPLICATOR_KAFKA_TLS_KEY_FILE)."},
		func(c *Config, v string) error { c.TLSCertFile = v; return nil }},
	{Setting{"REPLICATOR_KAFKA_TLS_KEY_FILE", "kafka-tls-key-file", "", "PEM private key of the client certificate."},
		func(c *Config, v string) error { c.TLSKeyFile = v; return nil }},
	{Setting{"REPLICATOR_KAFKA_TLS_INSECURE_SKIP_VERIFY", "kafka-tls-insecure-skip-verify", "false", "Skip verification of the brokers' certificates (test clusters with throwaway certificates only)."},
		func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			c.TLSInsecureSkipVerify = b
			return nil
		}},
	{Setting{"REPLICATOR_KAFKA_COMPRESSION", "kafka-compression", "snappy", "Produce compression: none, gzip, snappy, lz4 or zstd."},
		oneOf(func(c *Config) *string { return &c.Compression }, "none", "gzip", "snappy", "lz4", "zstd")},
	{Setting{"REPLICATOR_KAFKA_LINGER", "kafka-linger", "5ms", "How long the producer waits to fill a batch (Go duration)."},
		duration(func(c *Config) *time.Duration { return &c.Linger }, 0)},
	{Setting{"REPLICATOR_KAFKA_BATCH_MAX_BYTES", "kafka-batch-max-bytes", "1000000", "Largest produce batch per partition, in bytes (keep it at or below the topic's max.message.bytes)."},
		integer(func(c *Config) *int { return &c.BatchMaxBytes }, 1024, 1<<30)},

	// Replicator behaviour.
	{Setting{"REPLICATOR_WORKER_ID", "worker-id", "hostname-pid-random", "This instance's lease owner name; must be unique among instances."},
		func(c *Config, v string) error {
			if v == "hostname-pid-random" {
				return nil // filled in by load
			}
			c.WorkerID = v
			return nil
		}},
	{Setting{"REPLICATOR_DELIVERY", "delivery", AtLeastOnce, "Delivery guarantee: at-least-once (exactly-once is not implemented yet)."},
		func(c *Config, v string) error {
			switch v {
			case AtLeastOnce:
				c.DeliveryMode = v
				return nil
			case ExactlyOnce:
				return fmt.Errorf("%q is not implemented yet (use %s)", v, AtLeastOnce)
			}
			return fmt.Errorf("%q is not one of %s", v, AtLeastOnce)
		}},
	{Setting{"REPLICATOR_PARTITIONING", "partitioning", PartitionByKey, "key: Kafka's murmur2 of the partition key (Java default partitioner); shard: shard index → partition (topic needs at least as many partitions as open shards)."},
		oneOf(func(c *Config) *string { return &c.Partitioning }, PartitionByKey, PartitionByShard)},
	{Setting{"REPLICATOR_DLQ_TOPIC", "dlq-topic", "", "Dead-letter topic for records that fail processing or exceed the topic's max.message.bytes; empty: such a record halts its shard."},
		func(c *Config, v string) error { c.DLQTopic = v; return nil }},
	{Setting{"REPLICATOR_DECOMPRESS", "decompress", "none", "Payload decompression before the transform: none, gzip, zstd or auto."},
		oneOf(func(c *Config) *string { return &c.Decompress }, "none", "gzip", "zstd", "auto")},
	{Setting{"REPLICATOR_TRANSFORM", "transform", "passthrough", "Built-in transform: passthrough, json-validate or json-filter:FIELD=VALUE."},
		func(c *Config, v string) error {
			switch {
			case v == "passthrough" || v == "json-validate":
			case strings.HasPrefix(v, "json-filter:"):
				f, _, ok := strings.Cut(strings.TrimPrefix(v, "json-filter:"), "=")
				if !ok || f == "" {
					return fmt.Errorf("%q: want json-filter:FIELD=VALUE", v)
				}
			default:
				return fmt.Errorf("%q is not one of passthrough, json-validate, json-filter:FIELD=VALUE", v)
			}
			c.Transform = v
			return nil
		}},
	{Setting{"REPLICATOR_POLL_INTERVAL", "poll-interval", "200ms", "Wait between GetRecords calls on a caught-up shard (minimum 200ms: Kinesis allows 5 calls/s per shard)."},
		duration(func(c *Config) *time.Duration { return &c.PollInterval }, MinPollInterval)},
	{Setting{"REPLICATOR_FAILOVER_TIME", "failover-time", "10s", "A lease whose counter does not move for this long is taken over; renewals run every third of it."},
		duration(func(c *Config) *time.Duration { return &c.FailoverTime }, 1)},
	{Setting{"REPLICATOR_SHARD_SYNC_INTERVAL", "shard-sync-interval", "60s", "How often shards are listed and missing leases created (also done at every shard end)."},
		duration(func(c *Config) *time.Duration { return &c.ShardSyncInterval }, time.Second)},
	{Setting{"REPLICATOR_MAX_INFLIGHT_PER_SHARD", "max-inflight-per-shard", "10000", "Records of one shard handed to Kafka and not yet acknowledged, at most."},
		integer(func(c *Config) *int { return &c.MaxInFlightPerShard }, 1, 1<<24)},
	{Setting{"REPLICATOR_MAX_INFLIGHT_BYTES_PER_SHARD", "max-inflight-bytes-per-shard", "16777216", "Bytes of one shard handed to Kafka and not yet acknowledged, at most."},
		integer(func(c *Config) *int { return &c.MaxInFlightBytesPerShard }, 1<<20, math.MaxInt32)},
	{Setting{"REPLICATOR_MAX_RECORDS_PER_GET", "max-records-per-get", "10000", "GetRecords limit, 1..10000."},
		integer(func(c *Config) *int { return &c.MaxRecordsPerGet }, 1, 10000)},
	{Setting{"REPLICATOR_METRICS_ADDR", "metrics-addr", ":9464", "Listen address of /metrics, /healthz and /readyz; set it empty (or \"off\") to disable."},
		func(c *Config, v string) error {
			if v == "off" || v == "none" {
				return nil
			}
			if !strings.Contains(v, ":") {
				return fmt.Errorf("%q is not host:port or :port", v)
			}
			c.MetricsAddr = v
			return nil
		}},
	{Setting{"REPLICATOR_SHUTDOWN_TIMEOUT", "shutdown-timeout", "30s", "Longest graceful stop: flush, checkpoint, release leases."},
		duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout }, time.Second)},
	{Setting{"REPLICATOR_STARTUP_TIMEOUT", "startup-timeout", "10s", "How long start-up retries unreachable Kinesis, DynamoDB or Kafka before failing."},
		duration(func(c *Config) *time.Duration { return &c.StartupTimeout }, 100*time.Millisecond)},
	{Setting{"REPLICATOR_LOG_LEVEL", "log-level", "info", "debug, info, warn or error."},
		func(c *Config, v string) error {
			if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
				return fmt.Errorf("%q is not one of debug, info, warn, error", v)
			}
			return nil
		}},
	{Setting{"REPLICATOR_KINESIS_ENDPOINT", "kinesis-endpoint", "", "Kinesis endpoint URL override (normally AWS_ENDPOINT_URL_KINESIS)."},
		url(func(c *Config) *string { return &c.KinesisEndpoint })},
	{Setting{"REPLICATOR_DYNAMODB_ENDPOINT", "dynamodb-endpoint", "", "DynamoDB endpoint URL override (normally AWS_ENDPOINT_URL_DYNAMODB)."},
		url(func(c *Config) *string { return &c.DynamoDBEndpoint })},
}

func oneOf(field func(*Config) *string, allowed ...string) func(*Config, string) error {
	return func(c *Config, v string) error {
		for _, a := range allowed {
			if strings.EqualFold(v, a) {
				*field(c) = a
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
	}
}

func duration(field func(*Config) *time.Duration, min time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. 200ms, 10s, 1m)", v)
		}
		if d < min {
			if min == 1 {
				return fmt.Errorf("%q must be greater than 0", v)
			}
			return fmt.Errorf("%q is below the minimum %s", v, min)
		}
		*field(c) = d
		return nil
	}
}

func integer(field func(*Config) *int, min, max int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		if n < min || n > max {
			return fmt.Errorf("%d is outside %d..%d", n, min, max)
		}
		*field(c) = n
		return nil
	}
}

func url(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
			return fmt.Errorf("%q is not an http(s) URL", v)
		}
		*field(c) = v
		return nil
	}
}
