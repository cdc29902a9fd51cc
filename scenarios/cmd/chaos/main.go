// Command chaos runs Shardbridge's chaos scenarios from the command line.
//
//	chaos demo [--seed N] [--delivery exactly-once] [--in-process] [--json FILE] [--junit FILE] [--html FILE] [-v]
//	chaos list [--labels]
//	chaos run NAME [--seed N] [--backend B] [--bridge FILE] [--json FILE] [--junit FILE] [--html FILE] [-v]
//	chaos run --file SCENARIO.yaml [same flags]
//	chaos bench [--limits off,on] [--shards 4,16,64] [--sizes 200,20000,1000000]
//	            [--delivery at-least-once,exactly-once] [--only PATTERN,...]
//	            [--env KEY=VALUE]... [--seed N]
//	chaos soak [--runs N] [--seed S] [--run K] [--duration D] [--backend B]
//	           [--bridge FILE] [--delivery MODE] [--keep DIR] [--json FILE] [--junit FILE] [--dry-run] [-v]
//
// demo (what `make demo` runs) starts the embedded environment, two
// replicator instances and a hot-key workload, splits the hot shard, kills an
// instance, expires iterators and throttles reads while printing progress
// and each fault as it fires, then prints the checker's report. run does the
// same for any scenario of the catalogue (package scenarios), the very
// definitions and verdicts the Ginkgo specs assert on; --file runs a
// scenario written as YAML instead (package harness/scenariofile), with
// the bridge file it names unless --bridge names another; --bridge runs it
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
// not take place (bench: a case failed), 2 on a usage error (a scenario
// file with a mistake included).
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
	"github.com/shardbridge/shardbridge/harness/junit"
	"github.com/shardbridge/shardbridge/harness/report"
	"github.com/shardbridge/shardbridge/harness/scenariofile"
	catalog "github.com/shardbridge/shardbridge/scenarios"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  chaos demo [--seed N] [--delivery MODE] [--in-process] [--json FILE] [--junit FILE] [--html FILE] [-v]
                                                             the guided tour (make demo)
  chaos list [--labels]                                      the scenarios
  chaos run NAME [--seed N] [--backend B] [--bridge FILE] [--json FILE] [--junit FILE] [--html FILE] [-v]
                                                             run one scenario
  chaos run --file SCENARIO.yaml [same flags]                run a scenario written as YAML
  chaos bench [--limits off,on] [--shards 4,16,64] [--sizes 200,20000,1000000]
              [--delivery at-least-once,exactly-once] [--only PATTERN,...]
              [--env KEY=VALUE]... [--seed N]                benchmarks, one JSON line per case (make bench)
  chaos soak [--runs N] [--seed S] [--run K] [--duration D] [--backend B] [--bridge FILE]
             [--delivery MODE] [--keep DIR] [--json FILE] [--junit FILE] [--dry-run] [-v]
                                                             N generated chaos runs, a summary table (make soak)
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		args = []string{"demo"}
	}
	switch args[0] {
	case "demo":
		return runScenario(ctx, "demo", "demo", args[1:], stdout, stderr)
	case "list":
		return list(args[1:], stdout, stderr)
	case "run":
		// chaos run NAME [flags], or chaos run --file FILE [flags].
		name, rest := "", args[1:]
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			name, rest = rest[0], rest[1:]
		}
		return runScenario(ctx, "run", name, rest, stdout, stderr)
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

func runScenario(ctx context.Context, cmd, name string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	file := fs.String("file", "", "run the scenario this YAML file describes (docs/scenario-authoring.md) instead of a catalogue one")
	fs.SetOutput(stderr)
	seedFlag := fs.String("seed", "", "seed for every random choice (default: SHARDBRIDGE_SEED, else fresh)")
	kind := fs.String("backend", "", "embedded, reference, external or containers (default: SHARDBRIDGE_BACKEND, else embedded)")
	jsonFile := fs.String("json", "", "also write the report as JSON to this file")
	junitFile := fs.String("junit", "", "also write the run as a JUnit XML file (one testcase) for CI")
	htmlFile := fs.String("html", "", "also write the report as one self-contained HTML page with charts to this file")
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
	sc, fileBridge, code := pickScenario(cmd, name, *file, stderr)
	if code != 0 {
		return code
	}
	if *bridgeFile == "" {
		*bridgeFile = fileBridge
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
	rerun := rerunLine(cmd, sc.Name, *file, seed, fs)
	fmt.Fprintf(stdout, "seed %d (re-run: %s)\n\n", seed, rerun)

	start := time.Now()
	out, err := sc.Run(ctx, opts...)
	if err != nil {
		if *junitFile != "" {
			if jerr := writeJUnit(*junitFile, junit.NotRun(sc.Name, seed, rerun, err)); jerr != nil {
				fmt.Fprintf(stderr, "chaos: --junit: %v\n", jerr)
			}
		}
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
		if err := writeReport(*jsonFile, out.Report, report.WriteJSON); err != nil {
			fmt.Fprintf(stderr, "chaos: --json: %v\n", err)
			return 1
		}
	}
	if *junitFile != "" {
		if err := writeJUnit(*junitFile, junit.FromOutcome(out, rerun)); err != nil {
			fmt.Fprintf(stderr, "chaos: --junit: %v\n", err)
			return 1
		}
	}
	if *htmlFile != "" {
		if err := writeReport(*htmlFile, out.Report, report.WriteHTML); err != nil {
			fmt.Fprintf(stderr, "chaos: --html: %v\n", err)
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

// rerunLine is the command that repeats this run: the scenario (by name or
// file), the seed and every flag that changes what runs (the backend, the
// bridge, the delivery mode).
func rerunLine(cmd, name, file string, seed int64, fs *flag.FlagSet) string {
	line := "chaos demo"
	switch {
	case cmd == "demo":
	case file != "":
		line = "chaos run --file " + shellWord(file)
	default:
		line = "chaos run " + name
	}
	line += fmt.Sprintf(" --seed %d", seed)
	for _, f := range []string{"backend", "bridge", "delivery", "in-process"} {
		switch v := fs.Lookup(f).Value.String(); {
		case v == "" || v == "false":
		case v == "true":
			line += " --" + f
		default:
			line += fmt.Sprintf(" --%s %s", f, shellWord(v))
		}
	}
	return line
}

// pickScenario finds what to run: the demo, a catalogue scenario by name,
// or a scenario file (with the bridge file it names, if any). A non-zero
// code is the exit status of a usage error, already reported.
func pickScenario(cmd, name, file string, stderr io.Writer) (harness.Scenario, string, int) {
	switch {
	case cmd == "demo" && file != "":
		fmt.Fprintf(stderr, "chaos demo: --file is for chaos run\n")
		return harness.Scenario{}, "", 2
	case cmd == "demo":
		return catalog.Demo(), "", 0
	case name != "" && file != "":
		fmt.Fprintf(stderr, "chaos run: give a scenario NAME or --file FILE, not both\n")
		return harness.Scenario{}, "", 2
	case file != "":
		f, err := scenariofile.Load(file, catalog.Checks())
		if err != nil {
			fmt.Fprintf(stderr, "chaos run: %v\n", err)
			return harness.Scenario{}, "", 2
		}
		return f.Scenario, f.Bridge, 0
	case name == "":
		fmt.Fprintf(stderr, "chaos run: which scenario? (chaos list shows them, or give --file FILE)\n%s", usage)
		return harness.Scenario{}, "", 2
	}
	sc, ok := catalog.Get(name)
	if !ok {
		fmt.Fprintf(stderr, "chaos run: no scenario %q; known: %s\n", name, strings.Join(catalog.Names(), ", "))
		return harness.Scenario{}, "", 2
	}
	return sc, "", 0
}

// shellWord quotes v for a shell when it would be split or expanded:
// single-quoted, so a path with spaces stays one argument.
func shellWord(v string) string {
	if strings.ContainsAny(v, " \t'\"\\$*?;&|<>()`") {
		return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
	}
	return v
}

// writeReport writes r to path with write (report.WriteJSON, WriteHTML).
func writeReport(path string, r report.Report, write func(io.Writer, report.Report) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// suiteName names the testsuite of the chaos command's JUnit files.
const suiteName = "shardbridge chaos"

func writeJUnit(path string, c junit.Case) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := junit.Write(f, suiteName, []junit.Case{c}); err != nil {
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
