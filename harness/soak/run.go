package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/junit"
)

// Config is one soak.
type Config struct {
	Seed     int64
	Runs     int           // runs 1..Runs
	Only     int           // when > 0, run only this run (a repeat)
	Duration time.Duration // each run's workload: rate × Duration records
	Bridge   bridge.Launcher
	Backend  []backend.Option
	Delivery checker.Mode // "" : at-least-once
	// KeepDir receives the reports of failed runs ("": keep none).
	KeepDir string
	Formats []Format // default DefaultFormats()
	// Quiet overrides how long a run waits for output that stopped growing
	// (0: the harness's default); self-tests shorten it.
	Quiet time.Duration
	// Repeat renders the command that repeats a run.
	Repeat func(run int) string
	// Progress receives the live progress line (nil: none).
	Progress io.Writer
	Logger   *slog.Logger
	// Profile fixes the environment's profile instead of probing it.
	Profile *Profile
}

// Run runs the soak. The error is for a soak that could not start (the
// backend is unavailable); failed runs are in the Summary.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if cfg.Bridge == nil {
		return nil, errors.New("soak: no bridge")
	}
	if cfg.Formats == nil {
		cfg.Formats = DefaultFormats()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var prof Profile
	if cfg.Profile != nil {
		prof = *cfg.Profile
	} else {
		p, err := Probe(ctx, cfg.Bridge, append([]backend.Option{backend.WithLogger(cfg.Logger)}, cfg.Backend...)...)
		if err != nil {
			return nil, err
		}
		prof = p
	}
	sum := &Summary{Seed: cfg.Seed, Backend: prof.Backend, Bridge: cfg.Bridge.BridgeName(), Delivery: cmpMode(cfg.Delivery), Duration: cfg.Duration}
	runs := make([]int, 0, cfg.Runs)
	if cfg.Only > 0 {
		runs = append(runs, cfg.Only)
	} else {
		for k := 1; k <= cfg.Runs; k++ {
			runs = append(runs, k)
		}
	}
	line := &progressLine{w: cfg.Progress, total: len(runs)}
	for i, k := range runs {
		if ctx.Err() != nil {
			break
		}
		pl := Generate(cfg.Seed, k, cfg.Duration, prof)
		line.start(i+1, k, pl.Records)
		res := runOne(ctx, cfg, pl, prof, line)
		sum.Runs = append(sum.Runs, res)
		line.done(res.Passed)
		cfg.Logger.Info("soak run done", "run", k, "seed", cfg.Seed, "passed", res.Passed, "problems", res.Problems)
	}
	line.finish()
	return sum, ctx.Err()
}

func cmpMode(m checker.Mode) checker.Mode {
	if m == "" {
		return checker.AtLeastOnce
	}
	return m
}

// runOne runs one plan and keeps its reports if it failed.
func runOne(ctx context.Context, cfg Config, pl Plan, prof Profile, line *progressLine) (res RunResult) {
	res = RunResult{Run: pl.Run, Seed: pl.Seed, RunSeed: pl.RunSeed, Description: pl.Describe(), Schedule: pl.StepLines()}
	if cfg.Repeat != nil {
		res.Repeat = cfg.Repeat(pl.Run)
	}
	var out *harness.Outcome
	defer func() {
		if res.Passed || cfg.KeepDir == "" {
			return
		}
		files, err := keep(cfg.KeepDir, cfg.Formats, res, out)
		if err != nil {
			cfg.Logger.Error("soak: keep the failed run's report", "run", pl.Run, "err", err)
		}
		res.Kept = files
	}()
	if err := Validate(pl, prof); err != nil {
		res.Err = err.Error()
		res.Problems = []string{res.Err}
		res.Case = junit.NotRun(fmt.Sprintf("soak run %d", pl.Run), pl.RunSeed, res.Repeat, err)
		return res
	}
	sc := pl.Scenario()
	if cfg.Quiet > 0 {
		sc.Quiet = cfg.Quiet
	}
	var catchUp time.Time
	var mu sync.Mutex
	obs := harness.Observer{
		OnPhase: func(phase string) {
			mu.Lock()
			if phase == "catching up" {
				catchUp = time.Now()
			}
			if phase == "stopping" && !catchUp.IsZero() {
				res.CatchUp = time.Since(catchUp)
			}
			mu.Unlock()
			line.phase(phase)
		},
		OnProgress: func(p harness.Progress) { line.produced(p.Produced) },
	}
	o, err := sc.Run(ctx, harness.RunSeed(pl.RunSeed), harness.RunBridge(cfg.Bridge), harness.RunBackend(cfg.Backend...),
		harness.RunDelivery(cfg.Delivery), harness.RunObserver(obs), harness.RunLogger(cfg.Logger))
	name := fmt.Sprintf("soak run %d", pl.Run)
	if err != nil {
		res.Err = fmt.Sprintf("run %d: %v", pl.Run, err)
		res.Problems = []string{res.Err}
		res.Case = junit.NotRun(name, pl.RunSeed, res.Repeat, err)
		return res
	}
	out = o
	res.Case = junit.FromOutcome(out, res.Repeat)
	res.Case.Name = name
	res.Case.SystemOut = res.Description + "\n" + res.Case.SystemOut
	r := out.Result
	res.Problems = out.Unmet()
	res.Passed = len(res.Problems) == 0
	res.Acked, res.Lost = r.Acked, r.Lost.Count
	res.ReorderedPerKey, res.ReorderedPerShard = r.ReorderedPerKey.Count, r.ReorderedPerShard.Count
	res.Duplicated, res.ExtraCopies, res.Causes = r.Duplicated.Count, r.Duplicated.ExtraCopies, r.Duplicated.Causes
	res.Duration = out.Duration
	return res
}

// progressLine keeps one status line on a terminal: run k/N, passed and
// failed so far, the current run's phase and progress.
type progressLine struct {
	w              io.Writer
	total          int
	mu             sync.Mutex
	i, run         int
	records, sent  int64
	passed, failed int
	ph             string
}

func (p *progressLine) start(i, run int, records int64) {
	p.mu.Lock()
	p.i, p.run, p.records, p.sent, p.ph = i, run, records, 0, "setup"
	p.mu.Unlock()
	p.draw()
}

func (p *progressLine) phase(ph string) {
	p.mu.Lock()
	p.ph = ph
	p.mu.Unlock()
	p.draw()
}

func (p *progressLine) produced(n int64) {
	p.mu.Lock()
	p.sent = n
	p.mu.Unlock()
	p.draw()
}

func (p *progressLine) done(passed bool) {
	p.mu.Lock()
	if passed {
		p.passed++
	} else {
		p.failed++
	}
	p.mu.Unlock()
	p.draw()
}

func (p *progressLine) draw() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	phase := p.ph
	if phase == "running" && p.records > 0 {
		phase += fmt.Sprintf(", %d%% of the records in", 100*p.sent/p.records)
	}
	// \r and erase-line: the line is redrawn in place on a terminal.
	fmt.Fprintf(p.w, "\r\x1b[Ksoak run %d/%d (run %d) · passed %d failed %d · %s", p.i, p.total, p.run, p.passed, p.failed, phase)
}

func (p *progressLine) finish() {
	if p.w != nil {
		fmt.Fprintln(p.w)
	}
}
