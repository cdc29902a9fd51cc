package bridge

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"os"
	"sync"

	"github.com/shardbridge/shardbridge/harness/backend"
)

// Pool runs the instances of one bridge against an Env. Its methods are safe
// for concurrent use.
type Pool struct {
	env      *backend.Env
	launcher Launcher
	names    Names
	logger   *slog.Logger

	mu        sync.Mutex
	settings  map[string]string
	position  string // initial position for lives started from now on
	timestamp string
	instances []*Instance
	failures  []string
	logDir    string
	ownsDir   bool
}

// NewPool prepares a pool; instances start with Start or Add. settings are
// the bridge settings of the scenario (Shardbridge's names; a bridge file
// may pass them on as environment).
func NewPool(env *backend.Env, l Launcher, names Names, settings map[string]string, logger *slog.Logger) (*Pool, error) {
	if l == nil {
		return nil, errors.New("bridge: pool: no bridge to launch")
	}
	if names.Stream == "" || names.Application == "" || names.Topic == "" {
		return nil, fmt.Errorf("bridge: pool: stream, application and topic are required (got %+v)", names)
	}
	if logger == nil {
		logger = env.Logger()
	}
	return &Pool{env: env, launcher: l, names: names, logger: logger, settings: maps.Clone(settings), position: "TRIM_HORIZON"}, nil
}

// Launcher is the bridge the pool runs.
func (r *Pool) Launcher() Launcher { return r.launcher }

// Reset has the bridge reset its application's checkpoints to position
// (timestamp for AT_TIMESTAMP) when it can (a Resetter that CanReset): ran
// is false when it cannot, and the caller resets by other means.
func (r *Pool) Reset(ctx context.Context, position, timestamp string) (output string, ran bool, err error) {
	rs, ok := r.launcher.(Resetter)
	if !ok || !rs.CanReset() {
		return "", false, nil
	}
	dir, err := r.ensureLogDir()
	if err != nil {
		return "", true, err
	}
	creds, err := r.env.Credentials(ctx)
	if err != nil {
		return "", true, fmt.Errorf("bridge: reset: %w", err)
	}
	r.mu.Lock()
	l := Launch{
		Env: r.env, Names: r.names, Instance: "reset", WorkerID: r.names.Application + "-reset",
		InitialPosition: r.position, InitialTimestamp: r.timestamp, Settings: maps.Clone(r.settings),
		LogDir: dir, Logger: r.logger, Credentials: creds,
	}
	r.mu.Unlock()
	out, err := rs.Reset(ctx, l, position, timestamp)
	return out, true, err
}

// Setting returns the current value of a scenario setting.
func (r *Pool) Setting(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.settings[name]
}

// SetInitialPosition changes where lives started from now on begin when no
// checkpoint exists (a replay): TRIM_HORIZON, LATEST, or AT_TIMESTAMP with
// an RFC 3339 timestamp.
func (r *Pool) SetInitialPosition(position, timestamp string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.position, r.timestamp = position, timestamp
}

// Start starts n new instances.
func (r *Pool) Start(ctx context.Context, n int) error {
	for range n {
		if _, err := r.Add(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Add starts one new instance (a worker joining).
func (r *Pool) Add(ctx context.Context) (*Instance, error) {
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
func (r *Pool) Instances() []*Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Instance(nil), r.instances...)
}

// Instance returns the instance with index i, or nil.
func (r *Pool) Instance(i int) *Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i < 0 || i >= len(r.instances) {
		return nil
	}
	return r.instances[i]
}

// Running returns the instances running now (paused ones included).
func (r *Pool) Running() []*Instance {
	var out []*Instance
	for _, in := range r.Instances() {
		if in.Running() {
			out = append(out, in)
		}
	}
	return out
}

// StallSink holds back every record the instances hand to Kafka until
// ReleaseSink, when the bridge can (StallSink capability).
func (r *Pool) StallSink() error {
	st, ok := r.launcher.(SinkStaller)
	if !ok || !r.launcher.Capabilities().StallSink {
		return fmt.Errorf("stall the Kafka sink of bridge %s: %w (stall the broker instead)", r.launcher.BridgeName(), ErrUnsupported)
	}
	st.StallSink()
	return nil
}

// ReleaseSink ends StallSink.
func (r *Pool) ReleaseSink() {
	if st, ok := r.launcher.(SinkStaller); ok {
		st.ReleaseSink()
	}
}

// Stats returns each instance's counters over all its lives, by name.
func (r *Pool) Stats(ctx context.Context) map[string]Stats {
	out := map[string]Stats{}
	for _, in := range r.Instances() {
		out[in.Name()] = in.TotalStats(ctx)
	}
	return out
}

// Total sums every instance's counters over all lives (gauges: running
// instances only).
func (r *Pool) Total(ctx context.Context) Stats {
	var t Stats
	for _, in := range r.Instances() {
		s := in.TotalStats(ctx)
		t = t.Add(s)
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
func (r *Pool) Failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.failures...)
}

func (r *Pool) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// LogDir is where child processes' logs are written ("" before the first).
func (r *Pool) LogDir() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logDir
}

func (r *Pool) ensureLogDir() (string, error) {
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
func (r *Pool) Close(ctx context.Context) error {
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
		// Instances started later (a replay) get a directory of their own.
		r.mu.Lock()
		if r.logDir == dir {
			r.logDir, r.ownsDir = "", false
		}
		r.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Instance is one worker of the bridge. Each Start begins a new life with a new
// worker id, as a restarted process would get.
type Instance struct {
	r     *Pool
	index int
	name  string

	mu      sync.Mutex
	cur     Process
	lives   int
	paused  bool
	killed  bool // the current life was killed
	base    Stats
	last    Stats
	history []string // worker ids of every life
}

// Name is the instance's stable name ("r0", "r1", …).
func (in *Instance) Name() string { return in.name }

// Index is the instance's position in the runner.
func (in *Instance) Index() int { return in.index }

// WorkerID is the current (or last) life's worker id.
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
	case <-l.Done():
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
		case <-in.cur.Done():
		default:
			in.mu.Unlock()
			return fmt.Errorf("bridge: instance %s is already running", in.name)
		}
		in.retireLocked()
	}
	in.lives++
	id := fmt.Sprintf("%s-%s-l%d", in.r.names.Application, in.name, in.lives)
	in.history = append(in.history, id)
	in.killed, in.paused = false, false
	in.mu.Unlock()

	dir, err := in.r.ensureLogDir()
	if err != nil {
		return err
	}
	creds, err := in.r.env.Credentials(ctx)
	if err != nil {
		return fmt.Errorf("bridge: start instance %s: %w", in.name, err)
	}
	in.r.mu.Lock()
	launch := Launch{
		Env: in.r.env, Names: in.r.names, Instance: in.name, WorkerID: id, Seed: lifeSeed(in.r.env.Seed(), id),
		InitialPosition: in.r.position, InitialTimestamp: in.r.timestamp, Settings: maps.Clone(in.r.settings),
		LogDir: dir, Logger: in.r.logger, Credentials: creds,
	}
	in.r.mu.Unlock()
	l, err := in.r.launcher.Launch(ctx, launch)
	if err != nil {
		return fmt.Errorf("bridge: start instance %s: %w", in.name, err)
	}
	in.mu.Lock()
	in.cur = l
	in.mu.Unlock()
	go in.watch(l)
	return nil
}

// watch records a life that ended without being asked to.
func (in *Instance) watch(l Process) {
	<-l.Done()
	if err := l.ExitErr(); err != nil {
		in.r.fail("instance %s (%s) ended on its own: %v%s", in.name, in.WorkerID(), err, tailSuffix(l.LogTail()))
	}
}

// retireLocked folds the ended life's last known counters into base.
func (in *Instance) retireLocked() {
	in.base = in.base.Add(in.last)
	in.last = Stats{}
	in.cur = nil
}

func lifeSeed(seed int64, id string) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", seed, id)
	return int64(h.Sum64() >> 1)
}

func (in *Instance) current() (Process, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cur == nil {
		return nil, fmt.Errorf("bridge: instance %s is not running", in.name)
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
	err = l.Stop(ctx)
	in.mu.Lock()
	in.retireLocked()
	in.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("bridge: stop instance %s: %w%s", in.name, err, tailSuffix(l.LogTail()))
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
	err = l.Kill()
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
	if err := l.Pause(); err != nil {
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
	if err := l.Resume(); err != nil {
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
	return l.CutLeaseTable(true)
}

// RestoreLeaseTable ends CutLeaseTable.
func (in *Instance) RestoreLeaseTable() error {
	l, err := in.current()
	if err != nil {
		return err
	}
	return l.CutLeaseTable(false)
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
	return l.Ready(ctx)
}

// Stats returns the current life's counters (a paused instance: the last
// ones read before the pause).
func (in *Instance) Stats(ctx context.Context) (Stats, error) {
	l, err := in.current()
	if err != nil {
		return Stats{}, err
	}
	if in.Paused() {
		in.mu.Lock()
		defer in.mu.Unlock()
		return in.last, nil
	}
	s, err := l.Stats(ctx)
	if err != nil {
		return Stats{}, err
	}
	in.mu.Lock()
	if in.cur == l {
		in.last = s
	}
	in.mu.Unlock()
	return s, nil
}

func (in *Instance) refreshStats(ctx context.Context, l Process) {
	if in.Paused() {
		return
	}
	s, err := l.Stats(ctx)
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
func (in *Instance) TotalStats(ctx context.Context) Stats {
	if l, err := in.current(); err == nil {
		in.refreshStats(ctx, l)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	t := in.base.Add(in.last)
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
	return l.LogTail()
}
