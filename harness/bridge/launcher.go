package bridge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/shardbridge/shardbridge/harness/backend"
)

// ErrUnsupported is matched (errors.Is) when a bridge or a backend cannot do
// what a scenario needs; specs skip with the reason.
var ErrUnsupported = errors.New("not supported here")

// Capability is something a bridge's instances offer beyond Kafka output;
// scenarios and actions name the ones they need.
type Capability string

// The capabilities a scenario can need.
const (
	// Processes: instances are OS processes, so a kill is a real SIGKILL.
	Processes Capability = "processes"
	// Pause: an instance can be frozen and thawed (SIGSTOP/SIGCONT).
	Pause Capability = "pause"
	// Headers: records carry the kinesis.* idempotency headers.
	Headers Capability = "headers"
	// LeaseTable: the bridge keeps a KCL-format lease table named after the
	// application.
	LeaseTable Capability = "lease-table"
	// Metrics: instances expose Shardbridge's metrics (replicator_*).
	Metrics Capability = "metrics"
	// CutLeaseTable: one instance can be cut off from DynamoDB alone.
	CutLeaseTable Capability = "cut-lease-table"
	// StallSink: the instances' Kafka writes can be held back.
	StallSink Capability = "stall-sink"
	// HandOffLog: instances record when each record was handed to Kafka.
	HandOffLog Capability = "hand-off-log"
	// ExactlyOnce: the bridge writes every record exactly once for a
	// read_committed consumer when asked to (REPLICATOR_DELIVERY).
	ExactlyOnce Capability = "exactly-once"
)

// Capabilities is the set a Launcher offers.
type Capabilities struct {
	Process, Pause, Headers, LeaseTable, Metrics, CutLeaseTable, StallSink, HandOffLog, ExactlyOnce bool
	// LeaseFailover is the lease failover time of a bridge with a lease
	// table (0: unknown).
	LeaseFailover time.Duration
	// CheckpointTopic is the bridge's Kafka checkpoint topic, with
	// {{application}} for the application name ("": none).
	CheckpointTopic string
}

// CheckpointTopicOf is c's checkpoint topic for the application ("": none).
func (c Capabilities) CheckpointTopicOf(application string) string {
	return placeholderRE.ReplaceAllStringFunc(c.CheckpointTopic, func(m string) string {
		if placeholderRE.FindStringSubmatch(m)[1] == "application" {
			return application
		}
		return m
	})
}

// Has reports whether c offers capability x.
func (c Capabilities) Has(x Capability) bool {
	switch x {
	case Processes:
		return c.Process
	case Pause:
		return c.Pause
	case Headers:
		return c.Headers
	case LeaseTable:
		return c.LeaseTable
	case Metrics:
		return c.Metrics
	case CutLeaseTable:
		return c.CutLeaseTable
	case StallSink:
		return c.StallSink
	case HandOffLog:
		return c.HandOffLog
	case ExactlyOnce:
		return c.ExactlyOnce
	}
	return false
}

// Missing returns an error wrapping ErrUnsupported naming every capability
// of need that l lacks, or nil.
func Missing(l Launcher, need ...Capability) error {
	var miss []string
	for _, n := range need {
		if !l.Capabilities().Has(n) && !slices.Contains(miss, string(n)) {
			miss = append(miss, string(n))
		}
	}
	if len(miss) == 0 {
		return nil
	}
	return fmt.Errorf("bridge %s lacks %s: %w", l.BridgeName(), strings.Join(miss, ", "), ErrUnsupported)
}

// Launcher starts the lives of one bridge's instances: a Spec (any bridge,
// as a process) or the in-process Shardbridge adapter (harness/bridges).
type Launcher interface {
	BridgeName() string
	Capabilities() Capabilities
	Launch(ctx context.Context, l Launch) (Process, error)
}

// Names are a run's resource names.
type Names struct {
	Stream, Application, Topic, DLQTopic string
}

// Launch is what one life of an instance is started with.
type Launch struct {
	Env      *backend.Env
	Names    Names
	Instance string // stable name: r0, r1, …
	WorkerID string // new for every life
	Seed     int64  // the life's own seed
	// InitialPosition is TRIM_HORIZON, LATEST or AT_TIMESTAMP (then
	// InitialTimestamp, RFC 3339).
	InitialPosition, InitialTimestamp string
	// Settings are the scenario's bridge settings (Shardbridge's names).
	Settings map[string]string
	// Credentials are the AWS credentials the environment's clients use.
	Credentials aws.Credentials
	LogDir      string
	Logger      *slog.Logger
}

// Vars are the placeholder values of a bridge file for l.
func (l Launch) Vars() map[string]string {
	kafka := l.Env.KafkaAuth()
	return map[string]string{
		"stream": l.Names.Stream, "application": l.Names.Application, "topic": l.Names.Topic,
		"dlq_topic": l.Names.DLQTopic, "region": l.Env.Region(), "kinesis_endpoint": l.Env.KinesisEndpoint(),
		"dynamodb_endpoint": l.Env.DynamoDBEndpoint(), "kafka_brokers": strings.Join(l.Env.Brokers(), ","),
		"access_key_id": l.Credentials.AccessKeyID, "secret_access_key": l.Credentials.SecretAccessKey,
		"session_token":           l.Credentials.SessionToken,
		"kafka_security_protocol": kafka.SecurityProtocol, "kafka_sasl_mechanism": kafka.SASLMechanism,
		"kafka_sasl_username": kafka.SASLUsername, "kafka_sasl_password": kafka.SASLPassword,
		"kafka_tls_ca_file": kafka.TLSCAFile,
		"instance":          l.Instance, "worker_id": l.WorkerID,
		"initial_position": l.InitialPosition, "initial_timestamp": l.InitialTimestamp,
		"delivery": cmp.Or(l.Settings["REPLICATOR_DELIVERY"], "at-least-once"),
	}
}

// Process is one life of an instance, from start to exit.
type Process interface {
	// Ready waits until the life reports ready.
	Ready(ctx context.Context) error
	// Stop asks for a graceful stop and waits; the error reports an unclean
	// end (non-zero exit, timeout).
	Stop(ctx context.Context) error
	// Kill ends the life abruptly: nothing flushed, checkpointed or released.
	Kill() error
	Pause() error
	Resume() error
	// CutLeaseTable cuts this life off from DynamoDB (or reconnects it).
	CutLeaseTable(cut bool) error
	Stats(ctx context.Context) (Stats, error)
	Done() <-chan struct{}
	// ExitErr says why the life ended on its own (nil: asked to, or running).
	ExitErr() error
	// LogTail returns the last lines of its output ("" when none is kept).
	LogTail() string
}

// SinkStaller is a Launcher whose instances' Kafka writes can be held back.
type SinkStaller interface {
	StallSink()
	ReleaseSink()
}

// HandOffLogger is a Launcher that records when each worker handed each
// shard's records to Kafka.
type HandOffLogger interface {
	HandedOff(worker, shard string) []time.Time
}
