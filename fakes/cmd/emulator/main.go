// Command emulator serves Shardbridge's in-process emulators as one process,
// for the compose stack and for test suites not written in Go.
//
// Kinesis and DynamoDB share one port (-aws-addr, default 127.0.0.1:4566),
// routed by X-Amz-Target as LocalStack does, behind the fault layer
// (fakes/fault). Point any AWS SDK at it with
// AWS_ENDPOINT_URL=http://127.0.0.1:4566 and any credentials.
//
// Kafka (franz-go kfake) listens on -kafka-host:-kafka-port (default
// 127.0.0.1:9092; port 0 picks a free port) with transactions, idempotence and
// read_committed; in a container use -kafka-host 0.0.0.0 and
// -kafka-advertised-host set to the name clients dial.
// Its data lives in -kafka-data-dir (default: a temporary directory removed
// at exit), so a broker restart through the control API keeps every record.
//
// The JSON control API (package fakes/control documents every route) is
// served under /_shardbridge/ on the AWS port, and also on -control-addr when
// that is set: fault rules and events, per-stream Kinesis limits, the shared
// clock, Kafka restart/stop/start, produce faults, leader moves and latency:
//
//	curl -XPOST localhost:4566/_shardbridge/faults/rules \
//	  -d '{"service":"kinesis","operations":["GetRecords"],"action":"throttle","count":5}'
//	curl localhost:4566/_shardbridge/faults/events
//	curl -XPOST localhost:4566/_shardbridge/kinesis/limits -d '{"stream":"orders","enabled":false}'
//	curl -XPOST localhost:4566/_shardbridge/clock/advance -d '{"duration":"5m"}'
//	curl -XPOST localhost:4566/_shardbridge/kafka/restart
//
// Flags -streams name:shards,..., -tables name,... (hash key "leaseKey" of
// type S) and -topics name:partitions,... create resources at start; -limits
// (default true) enforces Kinesis production limits on every stream; -seed
// seeds the fault RNG; -log-level sets the level. Logs are JSON (log/slog) on
// stderr; the "emulator ready" line carries the addresses. SIGTERM or SIGINT
// shuts down gracefully (exit 0); bad flags exit 2.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stderr, nil)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "emulator:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "emulator:", err)
		os.Exit(1)
	}
}
