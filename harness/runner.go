package harness

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shardbridge/shardbridge/replicator"
	"github.com/shardbridge/shardbridge/replicator/process"
)

// RunMode says how replicator instances run.
type RunMode string

const (
	// InProcess runs replicator.New/Run in this process: fast to start, and
	// a kill severs the instance from AWS and Kafka at once (no flush, no
	// checkpoint, no lease release), but it is not a real SIGKILL.
	InProcess RunMode = "in-process"
	// ChildProcess runs the real replicator binary, configured through its
	// environment contract: a kill is SIGKILL, a pause SIGSTOP.
	ChildProcess RunMode = "process"
)

// ErrUnsupported is matched (errors.Is) when a control is not available for
// an instance's mode or the environment's backend; scenarios that need it
// are skipped with the reason.
var ErrUnsupported = errors.New("not supported here")

// Fast defaults for test runs: short failover and checkpoint intervals so a
// crash is recovered in seconds. Every one can be overridden with WithSetting.
var runnerDefaults = map[string]string{
	"CHECKPOINT_FREQ_SECONDS":        "1",
	"REPLICATOR_FAILOVER_TIME":       "3s",
	"REPLICATOR_SHARD_SYNC_INTERVAL": "1s",
	"REPLICATOR_POLL_INTERVAL":       "200ms",
	"REPLICATOR_SHUTDOWN_TIMEOUT":    "10s",
	"REPLICATOR_STARTUP_TIMEOUT":     "15s",
	"REPLICATOR_KAFKA_LINGER":        "5ms",
	"REPLICATOR_LOG_LEVEL":           "info",
}

type runnerConfig struct {
	mode        RunMode
	settings    map[string]string
	transformer process.Transformer
	sinkWrap    SinkWrapper
	sinkFor     func(topic string) SinkWrapper
	extra       []replicator.Option
	logger      *slog.Logger
	logDir      string
	handoffs    bool
}

// RunnerOption configures a Runner.
type RunnerOption func(*runnerConfig)

// WithRunMode picks in-process instances or child processes (default InProcess).
func WithRunMode(m RunMode) RunnerOption { return func(c *runnerConfig) { c.mode = m } }

// WithStream sets KCL_STREAM_NAME.
func WithStream(name string) RunnerOption { return WithSetting("KCL_STREAM_NAME", name) }

// WithApplication sets KCL_APPLICATION_NAME (also the lease table).
func WithApplication(name string) RunnerOption { return WithSetting("KCL_APPLICATION_NAME", name) }

// WithTopic sets KAFKA_TOPIC.
func WithTopic(name string) RunnerOption { return WithSetting("KAFKA_TOPIC", name) }

// WithDLQTopic sets REPLICATOR_DLQ_TOPIC.
func WithDLQTopic(name string) RunnerOption { return WithSetting("REPLICATOR_DLQ_TOPIC", name) }

// WithSetting sets any replicator setting by its environment variable name
// (replicator/config.Settings lists them), for every instance started later.
func WithSetting(env, value string) RunnerOption {
	return func(c *runnerConfig) { c.settings[env] = value }
}

// WithSettings sets several settings (see WithSetting).
func WithSettings(m map[string]string) RunnerOption {
	return func(c *runnerConfig) { maps.Copy(c.settings, m) }
}

// WithInstanceTransformer replaces the transform of in-process instances
// (e.g. a deliberately broken one, to prove the checker notices).
func WithInstanceTransformer(t process.Transformer) RunnerOption {
	return func(c *runnerConfig) { c.transformer = t }
}

// SinkWrapper wraps a replicator's Kafka sink.
type SinkWrapper = func(replicator.Sink) replicator.Sink

// WithInstanceSink wraps the Kafka sink of in-process instances (e.g. a
// deliberately broken one; see DroppingSink and friends).
func WithInstanceSink(f SinkWrapper) RunnerOption {
	return func(c *runnerConfig) { c.sinkWrap = f }
}

// WithInstanceSinkFor is WithInstanceSink for wrappers that need the data
// topic's name, which is known only once the runner is configured.
func WithInstanceSinkFor(f func(topic string) SinkWrapper) RunnerOption {
	return func(c *runnerConfig) { c.sinkFor = f }
}

// WithReplicatorOptions adds options to every in-process replicator.New.
func WithReplicatorOptions(opts ...replicator.Option) RunnerOption {
	return func(c *runnerConfig) { c.extra = append(c.extra, opts...) }
}

// WithRunnerLogger sets where in-process instances log (default: the
// environment's logger).
func WithRunnerLogger(l *slog.Logger) RunnerOption { return func(c *runnerConfig) { c.logger = l } }

// WithHandOffLog makes in-process instances record when they hand each
// shard's records to Kafka (Runner.HandedOff). Off by default: it keeps a
// timestamp per record.
func WithHandOffLog() RunnerOption { return func(c *runnerConfig) { c.handoffs = true } }

// WithLogDir sets where child processes' logs are written (default: a
// temporary directory removed by Close unless an instance failed).
func WithLogDir(dir string) RunnerOption { return func(c *runnerConfig) { c.logDir = dir } }

// Runner runs replicator instances against an Env. Its methods are safe for
// concurrent use.
type Runner struct {
	env      *Env
	cfg      runnerConfig
	stall    *stallGate
	handoffs *handoffLog
	logDir   string
	ownsDir  bool

	mu        sync.Mutex
	settings  map[string]string
	instances []*Instance
	failures  []string
	abandons  []Abandon
}

// noteAbandon records a shard an instance logged as abandoned.
func (r *Runner) noteAbandon(a Abandon) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.abandons = append(r.abandons, a)
}

// Abandons returns every shard the instances logged as stopped without a
// checkpoint (lost leases included).
func (r *Runner) Abandons() []Abandon {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Abandon(nil), r.abandons...)
}

// NewRunner prepares a runner; instances start with Start or Add. The stream,
// application and topic settings are required (WithStream, WithApplication,
// WithTopic).
func NewRunner(env *Env, opts ...RunnerOption) (*Runner, error) {
	cfg := runnerConfig{mode: InProcess, settings: maps.Clone(runnerDefaults)}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = env.Logger()
	}
	for _, req := range []string{"KCL_STREAM_NAME", "KCL_APPLICATION_NAME", "KAFKA_TOPIC"} {
		if cfg.settings[req] == "" {
			return nil, fmt.Errorf("harness: runner: %s is required", req)
		}
	}
	if cfg.mode != InProcess && cfg.mode != ChildProcess {
		return nil, fmt.Errorf("harness: runner: unknown run mode %q", cfg.mode)
	}
	if cfg.sinkFor != nil {
		cfg.sinkWrap = cfg.sinkFor(cfg.settings["KAFKA_TOPIC"])
	}
	if cfg.mode == ChildProcess && (cfg.transformer != nil || cfg.sinkWrap != nil || len(cfg.extra) > 0) {
		return nil, fmt.Errorf("harness: runner: transformers, sink wrappers and replicator options need in-process instances: %w", ErrUnsupported)
	}
	if cfg.mode == ChildProcess && !processesSupported {
		return nil, fmt.Errorf("harness: runner: child processes need a Unix system: %w", ErrUnsupported)
	}
	cfg.settings["KAFKA_BOOTSTRAP_SERVERS"] = strings.Join(env.Brokers(), ",")
	cfg.settings["KCL_REGION"] = env.Region()
	r := &Runner{env: env, cfg: cfg, stall: &stallGate{}, settings: cfg.settings, logDir: cfg.logDir}
	if cfg.handoffs {
		r.handoffs = &handoffLog{}
	}
	return r, nil
}

// Mode reports how the runner's instances run.
func (r *Runner) Mode() RunMode { return r.cfg.mode }

// Setting returns the current value of a setting.
func (r *Runner) Setting(env string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.settings[env]
}

// SetSetting changes a setting for instances (or lives) started from now on,
// e.g. KCL_INITIAL_POSITION before a replay.
func (r *Runner) SetSetting(env, value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.settings[env] = value
}

func (r *Runner) snapshotSettings() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.settings)
}

// Start starts n new instances.
func (r *Runner) Start(ctx context.Context, n int) error {
	for range n {
		if _, err := r.Add(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Add starts one new instance (a worker joining).
func (r *Runner) Add(ctx context.Context) (*Instance, error) {
	r.mu.Lock()
	in := &Instance{r: r, index: len(r.instances)}
	in.name = fmt.Sprintf("r%d", in.index)
	r.instances = append(r.instances, in)
	r.mu.Unlock()
	if err := in.Start(ctx); err != nil {
		return in, err
	}
	return in, nil
}

// Instances returns every instance ever added, running or not, by index.
func (r *Runner) Instances() []*Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Instance(nil), r.instances...)
}

// Instance returns the instance with index i, or nil.
func (r *Runner) Instance(i int) *Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i < 0 || i >= len(r.instances) {
		return nil
	}
	return r.instances[i]
}

// Running returns the instances running now (paused ones included).
func (r *Runner) Running() []*Instance {
	var out []*Instance
	for _, in := range r.Instances() {
		if in.Running() {
			out = append(out, in)
		}
	}
	return out
}

// StallSink holds every record in-process instances hand to Kafka until
// ReleaseSink: the Kafka sink stalls while reading goes on as far as the
// replicator's in-flight bounds allow.
func (r *Runner) StallSink() error {
	if r.cfg.mode != InProcess {
		return fmt.Errorf("stall the sink of child processes: %w (stall the broker instead)", ErrUnsupported)
	}
	r.stall.stall()
	return nil
}

// ReleaseSink ends StallSink.
func (r *Runner) ReleaseSink() { r.stall.release() }

// Stats returns each instance's counters over all its lives, by name.
func (r *Runner) Stats(ctx context.Context) map[string]InstanceStats {
	out := map[string]InstanceStats{}
	for _, in := range r.Instances() {
		out[in.Name()] = in.TotalStats(ctx)
	}
	return out
}

// Total sums every instance's counters over all lives (gauges: running
// instances only).
func (r *Runner) Total(ctx context.Context) InstanceStats {
	var t InstanceStats
	for _, in := range r.Instances() {
		s := in.TotalStats(ctx)
		t = t.add(s)
		if in.Running() {
			t.LeasesHeld += s.LeasesHeld
			t.ShardsHalted += s.ShardsHalted
			if t.MillisBehindLatest == nil {
				t.MillisBehindLatest = map[string]int64{}
			}
			for k, v := range s.MillisBehindLatest {
				t.MillisBehindLatest[k] = max(t.MillisBehindLatest[k], v)
			}
		}
	}
	return t
}

// Failures lists instances that ended badly without being killed: a
// non-zero exit, a Run error, a graceful stop that did not finish in time.
func (r *Runner) Failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.failures...)
}

func (r *Runner) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// LogDir is where child processes' logs are written ("" before the first).
func (r *Runner) LogDir() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logDir
}

func (r *Runner) ensureLogDir() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.logDir != "" {
		return r.logDir, nil
	}
	dir, err := os.MkdirTemp("", "shardbridge-logs-")
	if err != nil {
		return "", fmt.Errorf("log directory: %w", err)
	}
	r.logDir, r.ownsDir = dir, true
	return dir, nil
}

// Close stops every running instance gracefully (resuming paused ones
// first) and joins the errors. Child-process logs are kept when something
// failed, so they can be read; otherwise a temporary log directory goes.
func (r *Runner) Close(ctx context.Context) error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, in := range r.Running() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := in.Stop(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.mu.Lock()
	failed := len(r.failures) > 0
	dir, owns := r.logDir, r.ownsDir
	r.mu.Unlock()
	if owns && !failed && len(errs) == 0 {
		_ = os.RemoveAll(dir)
	}
	return errors.Join(errs...)
}

// life is one run of an instance, from start to exit.
type life interface {
	workerID() string
	stop(ctx context.Context) error // graceful; error when it did not end cleanly
	kill() error
	pause() error
	resume() error
	cutLeaseTable(cut bool) error
	stats(ctx context.Context) (InstanceStats, error)
	ready(ctx context.Context) error
	done() <-chan struct{}
	exitErr() error // why it ended on its own (nil: asked to, or still running)
	logTail() string
}

// Instance is one replicator worker. Each Start begins a new life with a new
// worker id, as a restarted process would get.
type Instance struct {
	r     *Runner
	index int
	name  string

	mu      sync.Mutex
	cur     life
	lives   int
	paused  bool
	killed  bool // the current life was killed
	base    InstanceStats
	last    InstanceStats
	history []string // worker ids of every life
}

// Name is the instance's stable name ("r0", "r1", …).
func (in *Instance) Name() string { return in.name }

// Index is the instance's position in the runner.
func (in *Instance) Index() int { return in.index }

// WorkerID is the current (or last) life's REPLICATOR_WORKER_ID.
func (in *Instance) WorkerID() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.history) == 0 {
		return ""
	}
	return in.history[len(in.history)-1]
}

// WorkerIDs lists the worker ids of every life so far.
func (in *Instance) WorkerIDs() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.history...)
}

// Lives reports how many times the instance was started.
func (in *Instance) Lives() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.lives
}

// Running reports whether the current life has not ended.
func (in *Instance) Running() bool {
	in.mu.Lock()
	l := in.cur
	in.mu.Unlock()
	if l == nil {
		return false
	}
	select {
	case <-l.done():
		return false
	default:
		return true
	}
}

// Paused reports whether the instance is paused.
func (in *Instance) Paused() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.paused
}

// Start begins a new life; it is an error while one is running.
func (in *Instance) Start(ctx context.Context) error {
	in.mu.Lock()
	if in.cur != nil {
		select {
		case <-in.cur.done():
		default:
			in.mu.Unlock()
			return fmt.Errorf("harness: instance %s is already running", in.name)
		}
		in.retireLocked()
	}
	in.lives++
	id := fmt.Sprintf("%s-%s-l%d", in.r.Setting("KCL_APPLICATION_NAME"), in.name, in.lives)
	in.history = append(in.history, id)
	in.killed, in.paused = false, false
	in.mu.Unlock()

	settings := in.r.snapshotSettings()
	settings["REPLICATOR_WORKER_ID"] = id
	seed := lifeSeed(in.r.env.Seed(), id)
	var (
		l   life
		err error
	)
	if in.r.cfg.mode == ChildProcess {
		l, err = startProcess(ctx, in.r, in.name, settings)
	} else {
		l, err = startInProcess(ctx, in.r, in.name, settings, seed)
	}
	if err != nil {
		return fmt.Errorf("harness: start instance %s: %w", in.name, err)
	}
	in.mu.Lock()
	in.cur = l
	in.mu.Unlock()
	go in.watch(l)
	return nil
}

// watch records a life that ended without being asked to.
func (in *Instance) watch(l life) {
	<-l.done()
	if err := l.exitErr(); err != nil {
		in.r.fail("instance %s (%s) ended on its own: %v%s", in.name, l.workerID(), err, tailSuffix(l.logTail()))
	}
}

func tailSuffix(tail string) string {
	if tail == "" {
		return ""
	}
	return "\n--- last log lines ---\n" + tail
}

// retireLocked folds the ended life's last known counters into base.
func (in *Instance) retireLocked() {
	in.base = in.base.add(in.last)
	in.last = InstanceStats{}
	in.cur = nil
}

func lifeSeed(seed int64, id string) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", seed, id)
	return int64(h.Sum64() >> 1)
}

func (in *Instance) current() (life, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cur == nil {
		return nil, fmt.Errorf("harness: instance %s is not running", in.name)
	}
	return in.cur, nil
}

// Stop stops the instance gracefully (SIGTERM, or ending Run's context) and
// waits for it; a paused instance is resumed first. The error reports an
// unclean end (non-zero exit, timeout).
func (in *Instance) Stop(ctx context.Context) error {
	l, err := in.current()
	if err != nil {
		return nil
	}
	in.refreshStats(ctx, l)
	if in.Paused() {
		_ = in.Resume()
	}
	err = l.stop(ctx)
	in.mu.Lock()
	in.retireLocked()
	in.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("harness: stop instance %s: %w%s", in.name, err, tailSuffix(l.logTail()))
		in.r.fail("%v", err)
	}
	return err
}

// Kill ends the instance abruptly: SIGKILL for a process; for an in-process
// instance, every call to AWS and Kafka fails from now on (nothing flushed,
// checkpointed or released) and its Run is ended.
func (in *Instance) Kill() error {
	l, err := in.current()
	if err != nil {
		return err
	}
	in.refreshStats(context.Background(), l)
	in.mu.Lock()
	in.killed, in.paused = true, false
	in.mu.Unlock()
	err = l.kill()
	in.mu.Lock()
	in.retireLocked()
	in.mu.Unlock()
	return err
}

// Pause freezes the instance (SIGSTOP; in-process: every call to AWS and
// Kafka blocks) so that its leases expire while it still believes it holds
// them: a zombie once resumed.
func (in *Instance) Pause() error {
	l, err := in.current()
	if err != nil {
		return err
	}
	in.refreshStats(context.Background(), l)
	if err := l.pause(); err != nil {
		return err
	}
	in.mu.Lock()
	in.paused = true
	in.mu.Unlock()
	return nil
}

// Resume ends Pause.
func (in *Instance) Resume() error {
	l, err := in.current()
	if err != nil {
		return err
	}
	if err := l.resume(); err != nil {
		return err
	}
	in.mu.Lock()
	in.paused = false
	in.mu.Unlock()
	return nil
}

// CutLeaseTable cuts the instance's current life off from the lease table:
// every DynamoDB call it makes fails at once with a network error, while its
// Kinesis reads and Kafka writes go on. Its leases expire for the other
// workers, who take them over; the instance must find out and stop those
// shards. In-process instances only (a new life starts connected).
func (in *Instance) CutLeaseTable() error {
	l, err := in.current()
	if err != nil {
		return err
	}
	return l.cutLeaseTable(true)
}

// RestoreLeaseTable ends CutLeaseTable.
func (in *Instance) RestoreLeaseTable() error {
	l, err := in.current()
	if err != nil {
		return err
	}
	return l.cutLeaseTable(false)
}

// Restart stops the instance gracefully and starts a new life.
func (in *Instance) Restart(ctx context.Context) error {
	if err := in.Stop(ctx); err != nil {
		return err
	}
	return in.Start(ctx)
}

// WaitReady waits until the current life reports ready (leases synced,
// Kafka reached).
func (in *Instance) WaitReady(ctx context.Context) error {
	l, err := in.current()
	if err != nil {
		return err
	}
	return l.ready(ctx)
}

// Stats returns the current life's counters (a paused instance: the last
// ones read before the pause).
func (in *Instance) Stats(ctx context.Context) (InstanceStats, error) {
	l, err := in.current()
	if err != nil {
		return InstanceStats{}, err
	}
	if in.Paused() {
		in.mu.Lock()
		defer in.mu.Unlock()
		return in.last, nil
	}
	s, err := l.stats(ctx)
	if err != nil {
		return InstanceStats{}, err
	}
	in.mu.Lock()
	if in.cur == l {
		in.last = s
	}
	in.mu.Unlock()
	return s, nil
}

func (in *Instance) refreshStats(ctx context.Context, l life) {
	if in.Paused() {
		return
	}
	s, err := l.stats(ctx)
	if err != nil {
		return
	}
	in.mu.Lock()
	if in.cur == l {
		in.last = s
	}
	in.mu.Unlock()
}

// TotalStats returns the counters summed over every life (a killed life
// contributes what was last read from it).
func (in *Instance) TotalStats(ctx context.Context) InstanceStats {
	if l, err := in.current(); err == nil {
		in.refreshStats(ctx, l)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	t := in.base.add(in.last)
	if in.cur != nil {
		t.LeasesHeld = in.last.LeasesHeld
		t.ShardsHalted = in.last.ShardsHalted
		t.MillisBehindLatest = maps.Clone(in.last.MillisBehindLatest)
	}
	return t
}

// LogTail returns the last log lines of a child process ("" in-process).
func (in *Instance) LogTail() string {
	in.mu.Lock()
	l := in.cur
	in.mu.Unlock()
	if l == nil {
		return ""
	}
	return l.logTail()
}

// sortedKeys returns m's keys in order (for stable output).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// settleTimeout bounds how long a graceful stop may take: the replicator's
// shutdown timeout plus slack.
func settleTimeout(settings map[string]string) time.Duration {
	d, err := time.ParseDuration(settings["REPLICATOR_SHUTDOWN_TIMEOUT"])
	if err != nil || d <= 0 {
		d = 30 * time.Second
	}
	return d + 10*time.Second
}
