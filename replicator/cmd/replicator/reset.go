package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/shardbridge/shardbridge/replicator/admin"
)

// runReset is `replicator reset --position P [--at T] [--shard ID]
// [--force]`: rewrite checkpoints so the application replays from P.
func runReset(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reset", flag.ContinueOnError)
	pos := fs.String("position", "", "TRIM_HORIZON, LATEST or AT_TIMESTAMP")
	at := fs.String("at", "", "the AT_TIMESTAMP start, RFC 3339")
	shard := fs.String("shard", "", "reset this shard only (default: every shard)")
	force := fs.Bool("force", false, "reset over leases whose holders stay still for REPLICATOR_FAILOVER_TIME")
	cfg, err := parseSub(fs, args, lookup)
	if err != nil {
		return err
	}
	o := admin.ResetOptions{Position: *pos, Shard: *shard, Force: *force}
	if *at != "" {
		if o.At, err = time.Parse(time.RFC3339Nano, *at); err != nil {
			return usage("--at: %q is not an RFC 3339 time", *at)
		}
	}
	if err := o.Validate(); err != nil {
		return usageError{err}
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t, err := tools(ctx, cfg, log)
	if err != nil {
		return err
	}
	done, err := t.Reset(ctx, o)
	for _, d := range done {
		owner := ""
		if d.Owner != "" {
			owner = " (owner " + d.Owner + " cleared)"
		}
		fmt.Fprintf(stdout, "%s: %s -> %s%s\n", d.Shard, d.From, target(o), owner)
	}
	if err != nil {
		return err
	}
	if t.CheckpointTopic != "" {
		fmt.Fprintf(stdout, "checkpoint topic %s: Kafka checkpoints of %d shards cleared (tombstones)\n", t.CheckpointTopic, len(done))
	}
	return nil
}

func target(o admin.ResetOptions) string {
	if o.At.IsZero() {
		return o.Position
	}
	return o.Position + "@" + o.At.UTC().Format(time.RFC3339Nano)
}
