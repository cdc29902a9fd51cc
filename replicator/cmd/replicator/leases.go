package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/shardbridge/shardbridge/replicator/admin"
	"github.com/shardbridge/shardbridge/replicator/lease"
)

// runLeases is `replicator leases [--json]`: the lease table with each
// shard's lag.
func runLeases(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("leases", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	cfg, err := parseSub(fs, args, lookup)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	t, err := tools(ctx, cfg, log)
	if err != nil {
		return err
	}
	rows, err := t.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	return printLeases(stdout, rows)
}

func printLeases(w io.Writer, rows []admin.ShardStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tOWNER\tCOUNTER\tCHECKPOINT\tPARENTS\tLAG")
	for _, r := range rows {
		owner, parents, lag := r.Owner, strings.Join(r.Parents, ","), "-"
		if owner == "" {
			owner = "-"
		}
		if parents == "" {
			parents = "-"
		}
		if r.LagMillis != nil {
			lag = strconv.FormatInt(*r.LagMillis, 10) + "ms"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", r.Shard, owner, r.Counter, checkpointText(r), parents, lag)
	}
	return tw.Flush()
}

// checkpointText is seq/subsequence, a sentinel, or AT_TIMESTAMP@time.
func checkpointText(r admin.ShardStatus) string {
	switch r.Checkpoint {
	case lease.TrimHorizon, lease.Latest, lease.ShardEnd:
		return r.Checkpoint
	case lease.AtTimestamp:
		if r.AtTimestamp != "" {
			return r.Checkpoint + "@" + r.AtTimestamp
		}
		return r.Checkpoint
	}
	return r.Checkpoint + "/" + strconv.FormatInt(r.SubSequence, 10)
}
