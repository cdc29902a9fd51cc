package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/containers"
	"github.com/shardbridge/shardbridge/harness/junit"
	"github.com/shardbridge/shardbridge/harness/soak"
	catalog "github.com/shardbridge/shardbridge/scenarios"
)

// soakCmd runs N generated scenarios (package harness/soak) and prints the
// summary table; exit 1 when any run failed.
func soakCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runs := fs.Int("runs", 10, "how many runs")
	seedFlag := fs.String("seed", "", "the soak's seed: run K's scenario derives from it and K (default: SHARDBRIDGE_SEED, else fresh)")
	only := fs.Int("run", 0, "run only run K of the seed (a repeat)")
	duration := fs.Duration("duration", 5*time.Second, "each run's workload length (records = rate × duration)")
	kind := fs.String("backend", "", "embedded, reference, external or containers (default: SHARDBRIDGE_BACKEND, else embedded)")
	bridgeFile := fs.String("bridge", "", "soak the bridge this file describes (default: the built-in Shardbridge, in-process)")
	delivery := fs.String("delivery", "", "run the bridge in this delivery mode and judge it on its promise: at-least-once or exactly-once")
	keepDir := fs.String("keep", "", "write the text, JSON and HTML report of every failed run here (default reports/soak-<seed>/)")
	jsonFile := fs.String("json", "", "also write the summary as JSON to this file")
	junitFile := fs.String("junit", "", "also write the soak as a JUnit XML file (one testcase per run) for CI")
	dryRun := fs.Bool("dry-run", false, "print each run's plan without running it")
	verbose := fs.Bool("v", false, "log the harness and the in-process replicators to stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "chaos soak: unexpected arguments %v\n", fs.Args())
		return 2
	case *runs < 1 || *only < 0 || *duration <= 0:
		fmt.Fprintf(stderr, "chaos soak: --runs must be ≥ 1, --run ≥ 0 and --duration > 0\n")
		return 2
	}
	switch checker.Mode(*delivery) {
	case "", checker.AtLeastOnce, checker.ExactlyOnce:
	default:
		fmt.Fprintf(stderr, "chaos soak: --delivery: %q is not at-least-once or exactly-once\n", *delivery)
		return 2
	}
	seed, err := backend.SeedFromEnv(os.Getenv)
	if *seedFlag != "" {
		seed, err = backend.SeedFromEnv(func(string) string { return *seedFlag })
	}
	if err != nil {
		fmt.Fprintf(stderr, "chaos soak: --seed: %v\n", err)
		return 2
	}
	bridges, err := catalog.NewBridges(*bridgeFile)
	if err != nil {
		fmt.Fprintf(stderr, "chaos soak: --bridge: %v\n", err)
		return 2
	}
	defer bridges.Close()

	// The flags a repeat needs besides the seed and the run.
	var same []string
	if *duration != 5*time.Second {
		same = append(same, "--duration", duration.String())
	}
	for _, f := range [][2]string{{"backend", *kind}, {"bridge", *bridgeFile}, {"delivery", *delivery}} {
		if f[1] != "" {
			same = append(same, "--"+f[0], f[1])
		}
	}
	repeat := func(run int) string {
		return strings.Join(append([]string{"go run ./scenarios/cmd/chaos soak --seed", strconv.FormatInt(seed, 10), "--run", strconv.Itoa(run)}, same...), " ")
	}
	opts := []backend.Option{backend.WithContainers(containers.Starter())}
	if *kind != "" {
		opts = append(opts, backend.WithKind(backend.Kind(*kind)))
	}
	cfg := soak.Config{
		Seed: seed, Runs: *runs, Only: *only, Duration: *duration,
		Bridge:   bridges.For(harness.Scenario{}),
		Backend:  opts,
		Delivery: checker.Mode(*delivery),
		KeepDir:  *keepDir,
		Repeat:   repeat,
		Progress: stderr,
	}
	if cfg.KeepDir == "" {
		cfg.KeepDir = filepath.Join("reports", fmt.Sprintf("soak-%d", seed))
	}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if *dryRun {
		return soakPlans(ctx, cfg, stdout, stderr)
	}
	fmt.Fprintf(stdout, "Shardbridge chaos soak: seed %d, %s, %s per run (repeat a run: %s)\n",
		seed, runsText(*runs, *only), *duration, repeat(max(*only, 1)))
	sum, err := soak.Run(ctx, cfg)
	if sum == nil {
		if errors.Is(err, backend.ErrBackendUnavailable) {
			fmt.Fprintf(stderr, "chaos soak cannot run here: %v\n", err)
		} else {
			fmt.Fprintf(stderr, "chaos soak: %v\n", err)
		}
		return 1
	}
	if err := sum.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "chaos soak: %v\n", err)
	}
	if *jsonFile != "" {
		if err := writeFile(*jsonFile, sum.WriteJSON); err != nil {
			fmt.Fprintf(stderr, "chaos soak: --json: %v\n", err)
			return 1
		}
	}
	if *junitFile != "" {
		cases := make([]junit.Case, len(sum.Runs))
		for i, r := range sum.Runs {
			cases[i] = r.Case
		}
		if err := writeFile(*junitFile, func(w io.Writer) error { return junit.Write(w, "shardbridge soak", cases) }); err != nil {
			fmt.Fprintf(stderr, "chaos soak: --junit: %v\n", err)
			return 1
		}
	}
	if err != nil || sum.Failed() > 0 {
		return 1
	}
	return 0
}

func runsText(runs, only int) string {
	if only > 0 {
		return fmt.Sprintf("run %d only", only)
	}
	return fmt.Sprintf("%d runs", runs)
}

// soakPlans prints every run's plan (--dry-run).
func soakPlans(ctx context.Context, cfg soak.Config, stdout, stderr io.Writer) int {
	prof, err := soak.Probe(ctx, cfg.Bridge, cfg.Backend...)
	if err != nil {
		fmt.Fprintf(stderr, "chaos soak: %v\n", err)
		return 1
	}
	first, last := 1, cfg.Runs
	if cfg.Only > 0 {
		first, last = cfg.Only, cfg.Only
	}
	for k := first; k <= last; k++ {
		pl := soak.Generate(cfg.Seed, k, cfg.Duration, prof)
		if err := soak.Validate(pl, prof); err != nil {
			fmt.Fprintf(stderr, "chaos soak: %v\n", err)
			return 1
		}
		fmt.Fprint(stdout, pl.Describe())
	}
	return 0
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
