// Command chaos runs Shardbridge's chaos scenarios from the command line.
//
//	chaos demo [--seed N] [--delivery exactly-once] [--in-process] [--json FILE] [-v]
//	chaos list [--labels]
//	chaos run NAME [--seed N] [--backend B] [--bridge FILE] [--json FILE] [-v]
//	chaos bench [--limits off,on] [--shards 4,16,64] [--sizes 200,20000,1000000]
//	            [--delivery at-least-once,exactly-once] [--only PATTERN,...]
//	            [--env KEY=VALUE]... [--seed N]
//	chaos soak [--runs N] [--seed S] [--run K] [--duration D] [--backend B]
//	           [--bridge FILE] [--delivery MODE] [--keep DIR] [--json FILE] [--dry-run] [-v]
//
// demo (what `make demo` runs) starts the embedded environment, two
// replicator instances and a hot-key workload, splits the hot shard, kills an
// instance, expires iterators and throttles reads while printing progress
// and each fault as it fires, then prints the checker's report. run does the
// same for any scenario of the catalogue (package scenarios), the very
// definitions and verdicts the Ginkgo specs assert on; --bridge runs it
// against any bridge described by a bridge file (docs/bridges.md). bench
// (what `make bench` runs) measures the replicator binary's catch-up rate,
// CPU, memory and tailing latency on the embedded emulators, one JSON line
// per case (package harness/bench). soak (what `make soak` runs) runs N
// generated scenarios — random workloads, instances, shards and fault
// schedules, run K derived from the seed and K (package harness/soak) — and
// prints a summary table; failed runs keep their reports.
//
// Exit status: 0 when the run met what its scenario declares (for a
// self-test: the sabotaged bridge was caught), 1 when it did not or could
// not take place (bench: a case failed), 2 on a usage error.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/containers"
	"github.com/shardbridge/shardbridge/harness/report"
	catalog "github.com/shardbridge/shardbridge/scenarios"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  chaos demo [--seed N] [--delivery MODE] [--in-process] [--json FILE] [-v]   the guided tour (make demo)
  chaos list [--labels]                                      the scenarios
  chaos run NAME [--seed N] [--backend B] [--bridge FILE] [--json FILE] [-v]
                                                             run one scenario
  chaos bench [--limits off,on] [--shards 4,16,64] [--sizes 200,20000,1000000]
              [--delivery at-least-once,exactly-once] [--only PATTERN,...]
              [--env KEY=VALUE]... [--seed N]                benchmarks, one JSON line per case (make bench)
  chaos soak [--runs N] [--seed S] [--run K] [--duration D] [--backend B] [--bridge FILE]
             [--delivery MODE] [--keep DIR] [--json FILE] [--dry-run] [-v]
                                                             N generated chaos runs, a summary table (make soak)
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		args = []string{"demo"}
	}
	switch args[0] {
	case "demo":
		return runScenario(ctx, "demo", catalog.Demo(), args[1:], stdout, stderr)
	case "list":
		return list(args[1:], stdout, stderr)
	case "run":
		if len(args) < 2 || strings.HasPrefix(args[1], "-") {
			fmt.Fprintf(stderr, "chaos run: which scenario? (chaos list shows them)\n%s", usage)
			return 2
		}
		sc, ok := catalog.Get(args[1])
		if !ok {
			fmt.Fprintf(stderr, "chaos run: no scenario %q; known: %s\n", args[1], strings.Join(catalog.Names(), ", "))
			return 2
		}
		return runScenario(ctx, "run", sc, args[2:], stdout, stderr)
	case "bench":
		return benchCmd(ctx, args[1:], stdout, stderr)
	case "soak":
		return soakCmd(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "chaos: unknown command %q\n%s", args[0], usage)
	return 2
}

func list(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	labels := fs.Bool("labels", false, "show labels and the bug reports each scenario guards against")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCATALOGUE\tWHAT IT SHOWS")
	for _, s := range append([]harness.Scenario{catalog.Demo()}, catalog.All()...) {
		items := make([]string, len(s.Items))
		for i, it := range s.Items {
			items[i] = fmt.Sprint(it)
		}
		title := s.Title
		if len(s.Verdicts.Broken) > 0 {
			title += "  [self-test: must be caught]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, orDash(strings.Join(items, ",")), title)
		if *labels {
			fmt.Fprintf(tw, "\t\tlabels: %s\n", strings.Join(s.Labels, ", "))
			if len(s.Guards) > 0 {
				fmt.Fprintf(tw, "\t\tguards against: %s\n", strings.Join(s.Guards, ", "))
			}
			fmt.Fprintf(tw, "\t\tverdicts: %s\n", strings.Join(verdictNames(s), "; "))
		}
	}
	_ = tw.Flush()
	return 0
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runScenario(ctx context.Context, cmd string, sc harness.Scenario, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	seedFlag := fs.String("seed", "", "seed for every random choice (default: SHARDBRIDGE_SEED, else fresh)")
	kind := fs.String("backend", "", "embedded, reference, external or containers (default: SHARDBRIDGE_BACKEND, else embedded)")
	jsonFile := fs.String("json", "", "also write the report as JSON to this file")
	inProcess := fs.Bool("in-process", false, "run the built-in Shardbridge in-process instead of as child processes")
	bridgeFile := fs.String("bridge", "", "run the bridge this file describes (default: the built-in Shardbridge)")
	verbose := fs.Bool("v", false, "log the harness and the in-process replicators to stderr")
	delivery := fs.String("delivery", "", "run the bridge in this delivery mode and judge it on its promise: at-least-once or exactly-once (default: the scenario's)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch checker.Mode(*delivery) {
	case "", checker.AtLeastOnce, checker.ExactlyOnce:
	default:
		fmt.Fprintf(stderr, "chaos %s: --delivery: %q is not at-least-once or exactly-once\n", cmd, *delivery)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "chaos %s: unexpected arguments %v\n", cmd, fs.Args())
		return 2
	}
	var opts []harness.RunOption
	seed, err := backend.SeedFromEnv(os.Getenv)
	if *seedFlag != "" {
		seed, err = backend.SeedFromEnv(func(string) string { return *seedFlag })
	}
	if err != nil {
		fmt.Fprintf(stderr, "chaos %s: --seed: %v\n", cmd, err)
		return 2
	}
	// The containers backend needs Testcontainers; the other backends ignore this.
	opts = append(opts, harness.RunSeed(seed), harness.RunBackend(backend.WithContainers(containers.Starter())))
	if *kind != "" {
		opts = append(opts, harness.RunBackend(backend.WithKind(backend.Kind(*kind))))
	}
	if *inProcess {
		sc.Processes = false
	}
	bridges, err := catalog.NewBridges(*bridgeFile)
	if err != nil {
		fmt.Fprintf(stderr, "chaos %s: --bridge: %v\n", cmd, err)
		return 2
	}
	defer bridges.Close()
	launcher := bridges.For(sc)
	opts = append(opts, harness.RunBridge(launcher))
	if *verbose {
		opts = append(opts, harness.RunLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	}
	opts = append(opts, harness.RunObserver(liveOutput(stdout)), harness.RunDelivery(checker.Mode(*delivery)))

	fmt.Fprintf(stdout, "Shardbridge chaos: %s — %s\n", sc.Name, sc.Title)
	if sc.Story != "" {
		fmt.Fprintf(stdout, "%s\n", wrap(sc.Story, 100))
	}
	if len(sc.Guards) > 0 {
		fmt.Fprintf(stdout, "guards against: %s\n", strings.Join(sc.Guards, ", "))
	}
	fmt.Fprintf(stdout, "bridge %s\n", launcher.BridgeName())
	fmt.Fprintf(stdout, "seed %d (re-run: chaos %s --seed %d)\n\n", seed, cmdLine(cmd, sc.Name), seed)

	start := time.Now()
	out, err := sc.Run(ctx, opts...)
	if err != nil {
		if errors.Is(err, backend.ErrBackendUnavailable) || errors.Is(err, bridge.ErrUnsupported) {
			fmt.Fprintf(stderr, "chaos: %s cannot run here: %v\n", sc.Name, err)
		} else {
			fmt.Fprintf(stderr, "chaos: %s: %v\n", sc.Name, err)
		}
		return 1
	}
	fmt.Fprintln(stdout)
	if err := report.Write(stdout, out.Report); err != nil {
		fmt.Fprintf(stderr, "chaos: report: %v\n", err)
	}
	printInstances(stdout, out)
	if *jsonFile != "" {
		if err := writeJSON(*jsonFile, out.Report); err != nil {
			fmt.Fprintf(stderr, "chaos: --json: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "\nfinished in %s\n", time.Since(start).Round(100*time.Millisecond))
	if len(sc.Verdicts.Broken) > 0 {
		fmt.Fprintf(stdout, "(%s runs a deliberately broken bridge: its FAIL shows the verdicts at work)\n", sc.Name)
	}
	if unmet := out.Unmet(); len(unmet) > 0 {
		if len(sc.Verdicts.Broken) > 0 {
			for _, u := range unmet {
				fmt.Fprintf(stdout, "not caught: %s\n", u)
			}
		}
		return 1
	}
	return 0
}

// verdictNames lists what a scenario is judged on.
func verdictNames(s harness.Scenario) []string {
	names := []string{"delivery (" + cmp.Or(string(s.Verdicts.Delivery), "at-least-once") + ")", "caught up", "leases"}
	switch {
	case s.Verdicts.MaxDuplicates < 0:
		names = append(names, "duplicates: no bound")
	default:
		names = append(names, fmt.Sprintf("duplicates ≤ %d", s.Verdicts.MaxDuplicates))
	}
	for _, c := range s.Verdicts.Checks {
		names = append(names, c.Name)
	}
	for _, b := range s.Verdicts.Broken {
		names = append(names, "must be caught: "+b)
	}
	return names
}

func cmdLine(cmd, name string) string {
	if cmd == "demo" {
		return "demo"
	}
	return "run " + name
}

func writeJSON(path string, r report.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := report.WriteJSON(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// liveOutput prints progress once a second and every fault as it fires.
func liveOutput(w io.Writer) harness.Observer {
	return harness.Observer{
		OnFault: func(f report.Fault, at time.Duration) {
			fmt.Fprintf(w, "%7.1fs  ⚡ %-18s %s\n", at.Seconds(), f.Kind, f.Detail)
		},
		OnProgress: func(p harness.Progress) {
			fmt.Fprintf(w, "%7.1fs  produced %6d  replicated %6d  dlq %4d  lag %-7s  instances %d  throttled %d  expired iterators %d\n",
				p.Elapsed.Seconds(), p.Produced, p.Replicated, p.DLQ, p.MaxLag.Round(time.Millisecond), p.Running, p.Throttles, p.Expired)
		},
		OnPhase: func(phase string) {
			switch phase {
			case "catching up", "stopping", "replay":
				fmt.Fprintf(w, "          — %s\n", phase)
			}
		},
	}
}

// printInstances shows what each replicator instance counted.
func printInstances(w io.Writer, out *harness.Outcome) {
	names := make([]string, 0, len(out.Stats))
	for n := range out.Stats {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "instances")
	for _, n := range names {
		s := out.Stats[n]
		fmt.Fprintf(w, "  %-4s in %d  out %d  dlq %d  throttled %d  expired iterators %d  shards ended %d  leases %v  checkpoints %v\n",
			n, s.RecordsIn, s.RecordsOut, s.RecordsDLQ, s.Throttles, s.ExpiredIterators, s.ShardsEnded, s.LeaseEvents, s.Checkpoints)
	}
	if out.LeaseMoves > 0 {
		fmt.Fprintf(w, "  leases moved between workers %d times\n", out.LeaseMoves)
	}
}

func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for _, word := range strings.Fields(s) {
		if n > 0 && n+1+len(word) > width {
			b.WriteByte('\n')
			n = 0
		} else if n > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}
