package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/shardbridge/shardbridge/replicator"
	"github.com/shardbridge/shardbridge/replicator/admin"
	"github.com/shardbridge/shardbridge/replicator/config"
	"github.com/shardbridge/shardbridge/replicator/kafkaopts"
)

// usageError is a command-line or configuration error: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usage(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// subcommands are the operator commands; anything else runs the service.
var subcommands = map[string]func(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error{
	"leases": runLeases,
	"reset":  runReset,
}

// subUsage is what -h prints for each subcommand.
var subUsage = map[string]string{
	"leases": "Usage: replicator leases [--json] [-flag=value ...]\n" +
		"Prints the lease table (shard, owner, counter, checkpoint, parents, lag); --json prints a JSON array.\n" +
		"Takes the service's settings (environment and flags; replicator -h lists them). docs/operations.md, \"Operator commands\".",
	"reset": "Usage: replicator reset --position TRIM_HORIZON|LATEST|AT_TIMESTAMP [--at RFC3339] [--shard ID] [--force] [-flag=value ...]\n" +
		"Rewrites the checkpoints of every shard (or one) so the application replays from the position; refuses while leases are held.\n" +
		"--force: proceed when the holders' counters stay still for REPLICATOR_FAILOVER_TIME (dead workers).\n" +
		"Takes the service's settings (environment and flags; replicator -h lists them). docs/operations.md, \"Operator commands\".",
}

// parseSub parses a subcommand's own flags (declared on fs) together with
// every service flag, and loads the service configuration from the service
// flags given and the environment: the operator commands take the same
// settings as the service.
func parseSub(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) (config.Config, error) {
	fs.SetOutput(io.Discard)
	service := map[string]*string{}
	for _, s := range config.Settings() {
		service[s.Flag] = fs.String(s.Flag, "", s.Env)
	}
	if err := fs.Parse(args); err != nil {
		return config.Config{}, usage("%w", err)
	}
	if fs.NArg() > 0 {
		return config.Config{}, usage("unexpected argument %q (flags only)", fs.Arg(0))
	}
	var cfgArgs []string
	fs.Visit(func(f *flag.Flag) {
		if v, ok := service[f.Name]; ok {
			cfgArgs = append(cfgArgs, "-"+f.Name+"="+*v)
		}
	})
	cfg, err := config.LoadArgs(cfgArgs, lookup)
	if err != nil {
		return config.Config{}, usage("configuration: %w", err)
	}
	return cfg, nil
}

// tools connects the operator commands to the application cfg describes.
func tools(ctx context.Context, cfg config.Config, log *slog.Logger) (admin.Tools, error) {
	kin, ddb, err := replicator.AWSClients(ctx, cfg)
	if err != nil {
		return admin.Tools{}, usage("configuration: %w", err)
	}
	t := admin.Tools{
		DynamoDB: ddb, Kinesis: kin, Table: cfg.ApplicationName, Stream: cfg.StreamRef(),
		InitialTimestamp: cfg.InitialTimestamp, FailoverTime: cfg.FailoverTime, Log: log,
	}
	if cfg.DeliveryMode == config.ExactlyOnce {
		if t.Kafka, err = kafkaopts.Build(cfg); err != nil {
			return admin.Tools{}, usage("configuration: %w", err)
		}
		t.CheckpointTopic = cfg.CheckpointTopicName()
	}
	return t, nil
}

// runSub runs a subcommand: exit 0 on success, 2 on a usage or
// configuration error, 1 otherwise; errors are one line on stderr.
func runSub(name string, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	ctx, stop := signalContext()
	defer stop()
	err := subcommands[name](ctx, args, lookup, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(stdout, subUsage[name])
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "replicator %s: %s\n", name, oneLine(err))
		return 2
	default:
		fmt.Fprintf(stderr, "replicator %s: %s\n", name, oneLine(err))
		return 1
	}
}
