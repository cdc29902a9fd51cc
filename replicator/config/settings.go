package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// specs is the single table of settings: parsing, checking, flags, usage and
// Settings() all come from it, so documentation cannot drift from the code.
// Each entry's rule parses the text of its variable (syntax only) and checks
// the value (for Validate, whatever built the Config).
var specs = []spec{
	// Kinesis and the lease table (names of the Python KCL bridge).
	{Setting{"KCL_STREAM_NAME", "stream-name", "", "Kinesis stream to replicate, by name or ARN (required unless KCL_STREAM_ARN is set)."},
		rule{
			set: func(c *Config, v string) error { c.StreamName = v; return nil },
			check: func(c *Config) error {
				if c.StreamName == "" && c.StreamARN == "" {
					return errRequired
				}
				return nil // the rest with KCL_STREAM_ARN and KCL_REGION (checkStream)
			},
		}},
	{Setting{"KCL_STREAM_ARN", "stream-arn", "", "Stream ARN, arn:aws:kinesis:REGION:ACCOUNT:stream/NAME; every Kinesis call then names the stream by ARN, and the stream's region is the ARN's."},
		text(func(c *Config) *string { return &c.StreamARN })}, // checked with KCL_STREAM_NAME
	{Setting{"KCL_APPLICATION_NAME", "application-name", "", "Application name; also the DynamoDB lease table name, shared by every instance (required)."},
		required(func(c *Config) *string { return &c.ApplicationName })},
	{Setting{"KCL_REGION", "region", "", "AWS region of the stream and, by default, of the lease table; empty: the stream ARN's region, else the SDK's default chain (AWS_REGION, profile)."},
		text(func(c *Config) *string { return &c.Region })}, // checked with KCL_STREAM_NAME
	{Setting{"REPLICATOR_LEASE_TABLE_REGION", "lease-table-region", "", "AWS region of the DynamoDB lease table, when not the stream's."},
		text(func(c *Config) *string { return &c.LeaseTableRegionOverride })},
	{Setting{"REPLICATOR_STREAM_ROLE_ARN", "stream-role-arn", "", "IAM role assumed (STS AssumeRole) for every Kinesis call; empty: the default credentials."},
		roleARN(func(c *Config) *string { return &c.StreamRoleARN })},
	{Setting{"REPLICATOR_STREAM_ROLE_EXTERNAL_ID", "stream-role-external-id", "", "External ID passed when assuming REPLICATOR_STREAM_ROLE_ARN."},
		externalID(func(c *Config) *string { return &c.StreamRoleExternalID }, "REPLICATOR_STREAM_ROLE_ARN", func(c *Config) string { return c.StreamRoleARN })},
	{Setting{"REPLICATOR_LEASE_TABLE_ROLE_ARN", "lease-table-role-arn", "", "IAM role assumed (STS AssumeRole) for every lease-table (DynamoDB) call; empty: the default credentials."},
		roleARN(func(c *Config) *string { return &c.LeaseTableRoleARN })},
	{Setting{"REPLICATOR_LEASE_TABLE_ROLE_EXTERNAL_ID", "lease-table-role-external-id", "", "External ID passed when assuming REPLICATOR_LEASE_TABLE_ROLE_ARN."},
		externalID(func(c *Config) *string { return &c.LeaseTableRoleExternalID }, "REPLICATOR_LEASE_TABLE_ROLE_ARN", func(c *Config) string { return c.LeaseTableRoleARN })},
	{Setting{"REPLICATOR_ROLE_SESSION_NAME", "role-session-name", "", "STS session name of the assumed roles (shows in CloudTrail); 2..64 of letters, digits and +=,.@_-; empty: shardbridge."},
		rule{
			set: func(c *Config, v string) error { c.RoleSessionName = v; return nil },
			check: func(c *Config) error {
				if c.RoleSessionName != "" && !sessionNameRE.MatchString(c.RoleSessionName) {
					return fmt.Errorf("%q is not 2..64 letters, digits or +=,.@_-", c.RoleSessionName)
				}
				return nil
			},
		}},
	{Setting{"KCL_INITIAL_POSITION", "initial-position", TrimHorizon, "Where shards without a checkpoint start: TRIM_HORIZON, LATEST or AT_TIMESTAMP."},
		oneOf(func(c *Config) *string { return &c.InitialPosition }, false, TrimHorizon, Latest, AtTimestamp)},
	{Setting{"REPLICATOR_INITIAL_TIMESTAMP", "initial-timestamp", "", "Start time for AT_TIMESTAMP, RFC 3339 (e.g. 2026-01-02T15:04:05Z)."},
		rule{set: func(c *Config, v string) error {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return fmt.Errorf("%q is not an RFC 3339 time (e.g. 2026-01-02T15:04:05Z)", v)
			}
			c.InitialTimestamp = t
			return nil
		}}}, // checked with KCL_INITIAL_POSITION (validateTogether)
	{Setting{"CHECKPOINT_FREQ_SECONDS", "checkpoint-freq-seconds", "10", "Seconds between checkpoints of acknowledged progress; bounds the duplicates replayed after a crash."},
		rule{
			set: func(c *Config, v string) error {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
					return fmt.Errorf("%q is not a number", v)
				}
				c.CheckpointInterval = time.Duration(f * float64(time.Second))
				return nil
			},
			check: func(c *Config) error {
				if c.CheckpointInterval <= 0 {
					return fmt.Errorf("%q must be greater than 0", strconv.FormatFloat(c.CheckpointInterval.Seconds(), 'g', -1, 64))
				}
				return nil
			},
		}},

	// Kafka (names of the Python bridge).
	{Setting{"KAFKA_TOPIC", "kafka-topic", "", "Kafka topic records are written to (required)."},
		required(func(c *Config) *string { return &c.KafkaTopic })},
	{Setting{"KAFKA_BOOTSTRAP_SERVERS", "kafka-bootstrap-servers", "", "Comma-separated Kafka brokers, host:port (required)."},
		rule{
			set: func(c *Config, v string) error {
				c.KafkaBrokers = nil
				for _, b := range strings.Split(v, ",") {
					if b = strings.TrimSpace(b); b != "" {
						c.KafkaBrokers = append(c.KafkaBrokers, b)
					}
				}
				return nil
			},
			check: func(c *Config) error {
				if len(c.KafkaBrokers) == 0 {
					return errRequired
				}
				for _, b := range c.KafkaBrokers {
					if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
						return fmt.Errorf("%q is not host:port", b)
					} else if p, err := strconv.Atoi(b[i+1:]); err != nil || p <= 0 || p > 65535 {
						return fmt.Errorf("%q has an invalid port", b)
					}
				}
				return nil
			},
		}},
	{Setting{"KAFKA_CLIENT_ID", "kafka-client-id", "shardbridge-replicator", "Kafka client.id."},
		text(func(c *Config) *string { return &c.KafkaClientID })}, // "": franz-go's own
	{Setting{"KAFKA_SECURITY_PROTOCOL", "kafka-security-protocol", "PLAINTEXT", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."},
		oneOf(func(c *Config) *string { return &c.SecurityProtocol }, false, "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")},
	{Setting{"KAFKA_SASL_MECHANISM", "kafka-sasl-mechanism", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; only with a SASL_* protocol, where it defaults to PLAIN."},
		oneOf(func(c *Config) *string { return &c.SASLMechanism }, true, "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")},
	{Setting{"KAFKA_SASL_USERNAME", "kafka-sasl-username", "", "SASL user name."},
		text(func(c *Config) *string { return &c.SASLUsername })}, // checked with the protocol
	{Setting{"KAFKA_SASL_PASSWORD", "kafka-sasl-password", "", "SASL password (never logged)."},
		text(func(c *Config) *string { return &c.SASLPassword })}, // checked with the protocol
	{Setting{"REPLICATOR_KAFKA_TLS_CA_FILE", "kafka-tls-ca-file", "", "PEM file of CAs that sign the brokers' certificates (SSL/SASL_SSL); empty uses the system pool."},
		text(func(c *Config) *string { return &c.TLSCAFile })}, // checked with the protocol; read by kafkaopts.Build
	{Setting{"REPLICATOR_KAFKA_TLS_CERT_FILE", "kafka-tls-cert-file", "", "PEM client certificate for mutual TLS (with REPLICATOR_KAFKA_TLS_KEY_FILE)."},
		text(func(c *Config) *string { return &c.TLSCertFile })},
	{Setting{"REPLICATOR_KAFKA_TLS_KEY_FILE", "kafka-tls-key-file", "", "PEM private key of the client certificate."},
		text(func(c *Config) *string { return &c.TLSKeyFile })},
	{Setting{"REPLICATOR_KAFKA_TLS_INSECURE_SKIP_VERIFY", "kafka-tls-insecure-skip-verify", "false", "Skip verification of the brokers' certificates (test clusters with throwaway certificates only)."},
		rule{set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			c.TLSInsecureSkipVerify = b
			return nil
		}}},
	{Setting{"REPLICATOR_KAFKA_COMPRESSION", "kafka-compression", "snappy", "Produce compression: none, gzip, snappy, lz4 or zstd."},
		oneOf(func(c *Config) *string { return &c.Compression }, true, "none", "gzip", "snappy", "lz4", "zstd")}, // "": franz-go's own
	{Setting{"REPLICATOR_KAFKA_LINGER", "kafka-linger", "5ms", "How long the producer waits to fill a batch (Go duration)."},
		duration(func(c *Config) *time.Duration { return &c.Linger }, 0)},
	{Setting{"REPLICATOR_KAFKA_BATCH_MAX_BYTES", "kafka-batch-max-bytes", "1000000", "Largest produce batch per partition, in bytes (keep it at or below the topic's max.message.bytes)."},
		integer(func(c *Config) *int { return &c.BatchMaxBytes }, 1024, 1<<30)},

	// Replicator behaviour.
	{Setting{"REPLICATOR_WORKER_ID", "worker-id", "hostname-pid-random", "This instance's lease owner name; must be unique among instances."},
		rule{
			set: func(c *Config, v string) error {
				if v != "hostname-pid-random" { // else: the one defaultCfg generated
					c.WorkerID = v
				}
				return nil
			},
			check: func(c *Config) error {
				if c.WorkerID == "" {
					return errRequired
				}
				return nil
			},
		}},
	{Setting{"REPLICATOR_DELIVERY", "delivery", AtLeastOnce, "Delivery guarantee: at-least-once, or exactly-once (Kafka transactions; consumers read with isolation.level=read_committed)."},
		oneOf(func(c *Config) *string { return &c.DeliveryMode }, false, AtLeastOnce, ExactlyOnce)},
	{Setting{"REPLICATOR_CHECKPOINT_TOPIC", "checkpoint-topic", "", "exactly-once: compacted topic of the checkpoints written in each transaction (created if missing); default KCL_APPLICATION_NAME + \"" + CheckpointTopicSuffix + "\"."},
		rule{
			set: func(c *Config, v string) error { c.CheckpointTopic = v; return nil },
			check: func(c *Config) error {
				if c.DeliveryMode != ExactlyOnce {
					return nil
				}
				return checkTopicName(c.CheckpointTopicName())
			},
		}},
	{Setting{"REPLICATOR_TRANSACTIONAL_ID_PREFIX", "transactional-id-prefix", "", "exactly-once: prefix of each shard's transactional.id (PREFIX + KCL_APPLICATION_NAME + \"-\" + shard id), e.g. to match a Kafka ACL."},
		text(func(c *Config) *string { return &c.TransactionalIDPrefix })},
	{Setting{"REPLICATOR_TRANSACTION_INTERVAL", "transaction-interval", "100ms", "exactly-once: a shard's open transaction commits this often (and at REPLICATOR_TRANSACTION_MAX_RECORDS); read_committed consumers see records only then. At most half the transaction timeout."},
		transactionInterval()},
	{Setting{"REPLICATOR_TRANSACTION_MAX_RECORDS", "transaction-max-records", "10000", "exactly-once: a transaction commits once it holds this many records (checked between GetRecords batches)."},
		integer(func(c *Config) *int { return &c.TransactionMaxRecords }, 1, 1<<24)},
	{Setting{"REPLICATOR_TRANSACTION_TIMEOUT", "transaction-timeout", "", "exactly-once: Kafka's transaction.timeout.ms for the shards' producers; must be shorter than REPLICATOR_FAILOVER_TIME; default three quarters of it."},
		rule{
			set: func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil {
					return fmt.Errorf("%q is not a duration (e.g. 200ms, 10s, 1m)", v)
				}
				c.TransactionTimeout = d
				return nil
			},
			check: func(c *Config) error {
				if c.TransactionTimeout < 0 {
					return fmt.Errorf("%q must be greater than 0", c.TransactionTimeout)
				}
				if c.TransactionTimeout > 0 && c.FailoverTime > 0 && c.TransactionTimeout >= c.FailoverTime {
					return fmt.Errorf("%s must be shorter than REPLICATOR_FAILOVER_TIME (%s): a paused instance's open transaction would outlive its lease", c.TransactionTimeout, c.FailoverTime)
				}
				return nil
			},
		}},
	{Setting{"REPLICATOR_PARTITIONING", "partitioning", PartitionByKey, "key: Kafka's murmur2 of the partition key (Java default partitioner); shard: shard number → partition (shardId-000000000007 → 7); numbers grow with every reshard, so a shard past the topic's partitions waits, keeping its lease, until the topic grows (logged, replicator_shards_waiting_for_partition)."},
		oneOf(func(c *Config) *string { return &c.Partitioning }, false, PartitionByKey, PartitionByShard)},
	{Setting{"REPLICATOR_DLQ_TOPIC", "dlq-topic", "", "Dead-letter topic for records that fail processing or exceed the topic's max.message.bytes; empty: such a record halts its shard."},
		text(func(c *Config) *string { return &c.DLQTopic })}, // checked with KAFKA_TOPIC
	{Setting{"REPLICATOR_DECOMPRESS", "decompress", "none", "Payload decompression before the transform: none, gzip, zstd or auto."},
		oneOf(func(c *Config) *string { return &c.Decompress }, false, "none", "gzip", "zstd", "auto")},
	{Setting{"REPLICATOR_TRANSFORM", "transform", "passthrough", "Built-in transform: passthrough, json-validate or json-filter:FIELD=VALUE."},
		rule{
			set: func(c *Config, v string) error { c.Transform = v; return nil },
			check: func(c *Config) error {
				switch v := c.Transform; {
				case v == "passthrough" || v == "json-validate":
				case strings.HasPrefix(v, "json-filter:"):
					f, _, ok := strings.Cut(strings.TrimPrefix(v, "json-filter:"), "=")
					if !ok || f == "" {
						return fmt.Errorf("%q: want json-filter:FIELD=VALUE", v)
					}
				default:
					return fmt.Errorf("%q is not one of passthrough, json-validate, json-filter:FIELD=VALUE", v)
				}
				return nil
			},
		}},
	{Setting{"REPLICATOR_POLL_INTERVAL", "poll-interval", "200ms", "Wait between GetRecords calls on a caught-up shard (minimum 200ms: Kinesis allows 5 calls/s per shard)."},
		duration(func(c *Config) *time.Duration { return &c.PollInterval }, MinPollInterval)},
	{Setting{"REPLICATOR_FAILOVER_TIME", "failover-time", "10s", "A lease whose counter does not move for this long is taken over; renewals run every third of it."},
		failoverTime()},
	{Setting{"REPLICATOR_SHARD_SYNC_INTERVAL", "shard-sync-interval", "60s", "How often shards are listed and missing leases created (also done at every shard end)."},
		duration(func(c *Config) *time.Duration { return &c.ShardSyncInterval }, time.Second)},
	{Setting{"REPLICATOR_MEMORY_BUDGET", "memory-budget", "auto", "Bytes of records fetched from Kinesis and not yet acknowledged by Kafka, across all shards (GetRecords responses being decoded included); shards share it fairly and size their GetRecords to it. auto: a quarter of the Go memory limit (GOMEMLIMIT, or 90% of the container's cgroup limit) if there is one, else 64 MiB. Accepts KiB, MiB, GiB."},
		memoryBudget()},
	{Setting{"REPLICATOR_MAX_INFLIGHT_PER_SHARD", "max-inflight-per-shard", "10000", "Records of one shard handed to Kafka and not yet acknowledged, at most."},
		integer(func(c *Config) *int { return &c.MaxInFlightPerShard }, 1, 1<<24)},
	{Setting{"REPLICATOR_MAX_INFLIGHT_BYTES_PER_SHARD", "max-inflight-bytes-per-shard", "16777216", "Bytes of one shard handed to Kafka and not yet acknowledged, at most."},
		integer(func(c *Config) *int { return &c.MaxInFlightBytesPerShard }, 1<<20, math.MaxInt32)},
	{Setting{"REPLICATOR_MAX_RECORDS_PER_GET", "max-records-per-get", "10000", "GetRecords limit, 1..10000."},
		integer(func(c *Config) *int { return &c.MaxRecordsPerGet }, 1, 10000)},
	{Setting{"REPLICATOR_METRICS_ADDR", "metrics-addr", ":9464", "Listen address of /metrics, /healthz and /readyz; set it empty (or \"off\") to disable."},
		rule{
			set: func(c *Config, v string) error {
				if v == "off" || v == "none" {
					v = ""
				}
				c.MetricsAddr = v
				return nil
			},
			check: func(c *Config) error {
				if c.MetricsAddr != "" && !strings.Contains(c.MetricsAddr, ":") {
					return fmt.Errorf("%q is not host:port or :port", c.MetricsAddr)
				}
				return nil
			},
		}},
	{Setting{"REPLICATOR_SHUTDOWN_TIMEOUT", "shutdown-timeout", "30s", "Longest graceful stop: flush, checkpoint, release leases."},
		duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout }, time.Second)},
	{Setting{"REPLICATOR_STARTUP_TIMEOUT", "startup-timeout", "10s", "How long start-up retries unreachable Kinesis, DynamoDB or Kafka before failing."},
		duration(func(c *Config) *time.Duration { return &c.StartupTimeout }, 100*time.Millisecond)},
	{Setting{"REPLICATOR_LOG_LEVEL", "log-level", "info", "debug, info, warn or error."},
		rule{set: func(c *Config, v string) error {
			if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
				return fmt.Errorf("%q is not one of debug, info, warn, error", v)
			}
			return nil
		}}}, // every slog.Level is valid
	{Setting{"REPLICATOR_KINESIS_ENDPOINT", "kinesis-endpoint", "", "Kinesis endpoint URL override (normally AWS_ENDPOINT_URL_KINESIS)."},
		url(func(c *Config) *string { return &c.KinesisEndpoint })},
	{Setting{"REPLICATOR_DYNAMODB_ENDPOINT", "dynamodb-endpoint", "", "DynamoDB endpoint URL override (normally AWS_ENDPOINT_URL_DYNAMODB)."},
		url(func(c *Config) *string { return &c.DynamoDBEndpoint })},
}

// rule is how one setting is parsed and checked.
type rule struct {
	// set parses v (never empty) into c. Its errors are about the text
	// only (not a number, not a duration); values are judged by check.
	set func(c *Config, v string) error
	// check judges the setting's value, whatever built the Config; nil when
	// every value is valid on its own. Its error does not repeat the
	// setting's name: Validate puts it in front.
	check func(c *Config) error
}

var errRequired = errors.New("required")

// text is a free-form setting.
func text(field func(*Config) *string) rule {
	return rule{set: func(c *Config, v string) error { *field(c) = v; return nil }}
}

// required is a free-form setting that must be set.
func required(field func(*Config) *string) rule {
	r := text(field)
	r.check = func(c *Config) error {
		if *field(c) == "" {
			return errRequired
		}
		return nil
	}
	return r
}

// oneOf is a setting with a fixed set of values, matched case-insensitively
// when parsed and stored in the spelling of allowed; "" is valid only when
// emptyOK (it then means "the library's own default").
func oneOf(field func(*Config) *string, emptyOK bool, allowed ...string) rule {
	return rule{
		set: func(c *Config, v string) error {
			*field(c) = v
			for _, a := range allowed {
				if strings.EqualFold(v, a) {
					*field(c) = a
				}
			}
			return nil
		},
		check: func(c *Config) error {
			v := *field(c)
			if (v == "" && emptyOK) || slices.Contains(allowed, v) {
				return nil
			}
			return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
		},
	}
}

// duration is a Go duration of at least min (min 1: greater than 0).
func duration(field func(*Config) *time.Duration, min time.Duration) rule {
	return rule{
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%q is not a duration (e.g. 200ms, 10s, 1m)", v)
			}
			*field(c) = d
			return nil
		},
		check: func(c *Config) error {
			d := *field(c)
			if d >= min {
				return nil
			}
			if min == 1 {
				return fmt.Errorf("%q must be greater than 0", d.String())
			}
			return fmt.Errorf("%q is below the minimum %s", d.String(), min)
		},
	}
}

// integer is a whole number within min..max.
func integer(field func(*Config) *int, min, max int) rule {
	return rule{
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%q is not an integer", v)
			}
			*field(c) = n
			return nil
		},
		check: func(c *Config) error {
			if n := *field(c); n < min || n > max {
				return fmt.Errorf("%d is outside %d..%d", n, min, max)
			}
			return nil
		},
	}
}

// transactionInterval is REPLICATOR_TRANSACTION_INTERVAL: at least 10ms and,
// in exactly-once mode, at most half the transaction timeout, or the broker
// would abort transactions before they commit.
func transactionInterval() rule {
	r := duration(func(c *Config) *time.Duration { return &c.TransactionInterval }, 10*time.Millisecond)
	least := r.check
	r.check = func(c *Config) error {
		if err := least(c); err != nil {
			return err
		}
		if t := c.TransactionTimeoutOrDefault(); c.DeliveryMode == ExactlyOnce && t > 0 && c.TransactionInterval > t/2 {
			return fmt.Errorf("%s is more than half the transaction timeout (%s, REPLICATOR_TRANSACTION_TIMEOUT or 3/4 of REPLICATOR_FAILOVER_TIME): the broker would abort transactions before they commit", c.TransactionInterval, t)
		}
		return nil
	}
	return r
}

// checkTopicName applies Kafka's rules for topic names.
func checkTopicName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 249 {
		return fmt.Errorf("%q is not a valid Kafka topic name (1..249 characters, not . or ..)", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%q is not a valid Kafka topic name (letters, digits, '.', '_' and '-' only)", name)
		}
	}
	return nil
}

// failoverTime is REPLICATOR_FAILOVER_TIME: greater than 0 and at least
// 3×MinPollInterval (600ms).
func failoverTime() rule {
	r := duration(func(c *Config) *time.Duration { return &c.FailoverTime }, 1)
	positive := r.check
	r.check = func(c *Config) error {
		if err := positive(c); err != nil {
			return err
		}
		if c.FailoverTime < 3*MinPollInterval {
			return fmt.Errorf("%s is too short (minimum %s)", c.FailoverTime, 3*MinPollInterval)
		}
		return nil
	}
	return r
}

// roleARN is an optional IAM role ARN.
func roleARN(field func(*Config) *string) rule {
	r := text(field)
	r.check = func(c *Config) error {
		if v := *field(c); v != "" {
			return checkRoleARN(v)
		}
		return nil
	}
	return r
}

// externalID is an optional STS external ID, meaningful only with its role.
func externalID(field func(*Config) *string, roleEnv string, role func(*Config) string) rule {
	r := text(field)
	r.check = func(c *Config) error {
		v := *field(c)
		switch {
		case v == "":
			return nil
		case role(c) == "":
			return fmt.Errorf("set, but %s is not", roleEnv)
		case len(v) < 2 || len(v) > 1224 || !externalIDRE.MatchString(v):
			return fmt.Errorf("external id of %d characters is not 2..1224 of letters, digits or +=,.@:/_-", len(v)) // never echo a secret-like value
		}
		return nil
	}
	return r
}

// url is an optional http(s) URL.
func url(field func(*Config) *string) rule {
	r := text(field)
	r.check = func(c *Config) error {
		v := *field(c)
		if v != "" && !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
			return fmt.Errorf("%q is not an http(s) URL", v)
		}
		return nil
	}
	return r
}
