// Command replicator copies a Kinesis data stream into a Kafka topic.
//
// Configuration comes from environment variables (the Python KCL bridge's
// names keep working) and mirroring flags; `replicator -h` lists them.
// Endpoints, credentials and region come from the AWS SDK's default chain
// (AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION, ...),
// with KCL_REGION taking precedence for the region.
//
// Exit codes: 0 after a graceful stop (SIGTERM or SIGINT: reading stopped,
// every record in flight acknowledged by Kafka and checkpointed, leases
// released); 1 on a runtime failure (e.g. an unreachable dependency at start)
// and when a graceful stop could not finish within REPLICATOR_SHUTDOWN_TIMEOUT
// (e.g. Kafka down: its unacknowledged records are not checkpointed, so the
// next owner re-reads them — nothing is lost, but the stop was not clean);
// 2 on bad configuration (one line on stderr naming the setting). Logs are
// JSON lines on stderr.
//
// Operator commands (docs/operations.md, "Operator commands") take the same
// settings: `replicator leases [--json]` prints the lease table with each
// shard's lag; `replicator reset --position TRIM_HORIZON|LATEST|AT_TIMESTAMP
// [--at RFC3339] [--shard ID] [--force]` rewrites checkpoints for a replay.
// They exit 0 on success, 2 on a usage or configuration error, 1 otherwise
// (a missing table, an unknown shard, a refusal), with one line on stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/KimMachineGun/automemlimit/memlimit"

	"github.com/shardbridge/shardbridge/replicator"
	"github.com/shardbridge/shardbridge/replicator/config"
)

func main() {
	// A container's memory limit becomes the Go runtime's soft limit (90% of
	// it) unless GOMEMLIMIT is set, and REPLICATOR_MEMORY_BUDGET's "auto"
	// takes a quarter of that. Here rather than in run: tests call run in
	// their own process.
	_, _ = memlimit.Set(memlimit.WithRatio(0.9), memlimit.WithProvider(memlimit.FromCgroup),
		memlimit.WithLogger(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	os.Exit(run(os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr, true))
}

// run is the command. limitMemory lets the service set the Go runtime's
// memory limit (see limitMemory); tests, which run it in their own process,
// pass false.
func run(args []string, lookup func(string) (string, bool), stdout, stderr io.Writer, limitMemory bool) int {
	if len(args) > 0 {
		if _, ok := subcommands[args[0]]; ok {
			return runSub(args[0], args[1:], lookup, stdout, stderr)
		}
	}
	cfg, err := config.LoadArgs(args, lookup)
	if errors.Is(err, flag.ErrHelp) {
		config.Usage(stdout)
		fmt.Fprintln(stdout, "\nOperator commands: replicator leases -h, replicator reset -h")
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "replicator: configuration: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if limitMemory {
		setMemoryLimit(cfg, lookup, log)
	}

	ctx, stop := signalContext()
	defer stop()

	r, err := replicator.New(ctx, cfg, replicator.WithLogger(log))
	if err != nil {
		// New only fails on configuration (settings, region, TLS files); it
		// logs nothing, so this stays the only line.
		fmt.Fprintf(stderr, "replicator: configuration: %v\n", oneLine(err))
		return 2
	}
	log.Info("replicator starting", "config", cfg, "pid", os.Getpid())
	if err := r.Run(ctx); err != nil {
		if errors.Is(err, replicator.ErrShutdownIncomplete) {
			log.Error("replicator stopped with work undone", "error", err.Error())
		} else {
			log.Error("replicator failed", "error", err.Error())
		}
		return 1
	}
	log.Info("replicator stopped")
	return 0
}

// signalContext ends at SIGTERM or SIGINT.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
}

// oneLine keeps the configuration error on one line, as the contract says.
func oneLine(err error) string {
	s := err.Error()
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '\n' {
			r = ' '
		}
		out = append(out, r)
	}
	return string(out)
}

// memoryLimitPerBudget is the Go runtime's soft memory limit the service
// sets, in memory budgets, when neither GOMEMLIMIT nor a container limit
// set one: the budget's bytes, the heap's growth between collections and
// the process's fixed part fit in it, and the collector works harder
// rather than let RSS grow past it (a 64 MiB budget: 192 MiB).
const memoryLimitPerBudget = 3.0

// setMemoryLimit gives the Go runtime a soft memory limit derived from the
// memory budget unless one is set already (GOMEMLIMIT, or the container's
// cgroup limit set in main).
func setMemoryLimit(cfg config.Config, lookup func(string) (string, bool), log *slog.Logger) {
	if v, ok := lookup("GOMEMLIMIT"); ok && v != "" {
		return
	}
	if debug.SetMemoryLimit(-1) != math.MaxInt64 {
		return
	}
	limit := int64(float64(cfg.MemoryBudgetBytes()) * memoryLimitPerBudget)
	debug.SetMemoryLimit(limit)
	log.Info("Go memory limit set from the memory budget", "gomemlimit", limit, "memory_budget", cfg.MemoryBudgetBytes())
}
