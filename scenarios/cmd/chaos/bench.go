package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/bench"
)

// benchCmd parses flags into a bench.Config and runs it (harness/bench
// does the work; docs/operations.md describes the output).
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	def := bench.Defaults()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	limits := fs.String("limits", "off,on", "Kinesis limits per case: off, on or both")
	shards := fs.String("shards", "4,16,64", "shards per stream, comma-separated")
	sizes := fs.String("sizes", "200,20000,1000000", "record data bytes, comma-separated (at most 1000000)")
	delivery := fs.String("delivery", "at-least-once,exactly-once", "delivery modes, comma-separated")
	only := fs.String("only", "", "keep the cases whose name matches one of these patterns, comma-separated (e.g. 'at-least-once/4x200B/*')")
	backlogMB := fs.Float64("backlog-mb", float64(def.BacklogBytes)/1e6, "backlog per case in MB (10^6 bytes)…")
	backlogRecords := fs.Int("backlog-records", def.BacklogRecords, "…or this many records, whichever is fewer")
	tailRate := fs.Int("tail-rate", def.TailRate, "records/s written after the catch-up (0: no latency measurement)")
	tailMBps := fs.Float64("tail-mbps", def.TailMBps, "cap on the tail writes in MB/s")
	tailFor := fs.Duration("tail-duration", def.TailDuration, "how long the tail writes last")
	timeout := fs.Duration("timeout", def.Timeout, "per case catch-up limit")
	replicator := fs.String("replicator", "", "replicator binary (default: go build ./replicator/cmd/replicator)")
	seedFlag := fs.String("seed", "", "seed of the payloads (default: SHARDBRIDGE_SEED, else fresh)")
	var env multiFlag
	fs.Var(&env, "env", "KEY=VALUE passed to the replicator, over the bench's settings (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "chaos bench: unexpected arguments %v\n", fs.Args())
		return 2
	}
	cfg := def
	var err error
	usageErr := func(flagName string, err error) int {
		fmt.Fprintf(stderr, "chaos bench: --%s: %v\n", flagName, err)
		return 2
	}
	if cfg.Limits, err = parseLimits(*limits); err != nil {
		return usageErr("limits", err)
	}
	if cfg.Shards, err = parseInts(*shards); err != nil {
		return usageErr("shards", err)
	}
	if cfg.Sizes, err = parseInts(*sizes); err != nil {
		return usageErr("sizes", err)
	}
	cfg.Deliveries, cfg.Only = splitList(*delivery), splitList(*only)
	cfg.BacklogBytes, cfg.BacklogRecords = int64(*backlogMB*1e6), *backlogRecords
	cfg.TailRate, cfg.TailMBps, cfg.TailDuration, cfg.Timeout = *tailRate, *tailMBps, *tailFor, *timeout
	cfg.Replicator, cfg.Env = *replicator, env
	seed, err := backend.SeedFromEnv(os.Getenv)
	if *seedFlag != "" {
		seed, err = backend.SeedFromEnv(func(string) string { return *seedFlag })
	}
	if err != nil {
		return usageErr("seed", err)
	}
	cfg.Seed = seed
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "chaos bench: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "chaos bench: %d cases, seed %d (re-run: chaos bench --seed %d)\n", len(cfg.Cases()), seed, seed)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	failed, err := bench.Run(ctx, cfg, stdout, log)
	if err != nil {
		fmt.Fprintf(stderr, "chaos bench: %v\n", err)
		return 1
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "chaos bench: %d cases failed\n", failed)
		return 1
	}
	return 0
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseLimits(s string) ([]bool, error) {
	var out []bool
	for _, f := range splitList(s) {
		switch f {
		case "off":
			out = append(out, false)
		case "on":
			out = append(out, true)
		default:
			return nil, fmt.Errorf("%q is not on or off", f)
		}
	}
	return out, nil
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
