// Package refemu starts the reference AWS emulators — kinesis-mock (npm
// "kinesis-local", LocalStack's Kinesis engine) and dynalite — as child
// processes on free ports, for the conformance suite and for the harness's
// reference backend.
//
// Contract:
//   - The binaries come from SHARDBRIDGE_KINESIS_MOCK_BIN / SHARDBRIDGE_DYNALITE_BIN
//     when set, else from <emulators dir>/node_modules/.bin, where the emulators
//     dir is WithEmulatorsDir, else SHARDBRIDGE_EMULATORS_DIR, else the
//     ".emulators" folder next to the nearest go.mod above the working directory
//     (what `make emulators` / scripts/install-emulators.sh fill).
//     A missing binary yields an error matching ErrNotInstalled.
//   - Ports are never fixed: each start picks free ports (at random, below the
//     kernel's ephemeral range) and retries with new ones if the child loses the
//     race for them or the port turns out to be answered by another program.
//   - Start returns only once the emulator answers an unsigned request of its
//     own service with MissingAuthenticationToken; Close kills the whole
//     process group (Node may fork) and waits for it. On Linux the child also
//     dies with the parent thread (Pdeathsig), so a killed test leaves nothing.
//   - kinesis-mock's artificial state-transition delays (CREATING, UPDATING,
//     DELETING: 500 ms by default) and dynalite's table delays are shortened to
//     WithTransitionDelay (10 ms by default) so suites stay fast, and
//     kinesis-mock's account shard limit is raised from 50 to 1,000 because
//     many tests share one instance. WithEnv overrides any of its settings.
package refemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Environment variables that locate the emulators.
const (
	EnvKinesisMockBin = "SHARDBRIDGE_KINESIS_MOCK_BIN"
	EnvDynaliteBin    = "SHARDBRIDGE_DYNALITE_BIN"
	EnvEmulatorsDir   = "SHARDBRIDGE_EMULATORS_DIR"
)

// Names of the reference emulators, as used in logs and Process.Name.
const (
	KinesisMock = "kinesis-mock"
	Dynalite    = "dynalite"
)

// ErrNotInstalled is matched (errors.Is) by the error returned when an
// emulator's binary cannot be found.
var ErrNotInstalled = errors.New("not installed (run make emulators)")

// Process is a running reference emulator.
type Process struct {
	Name     string // KinesisMock or Dynalite
	Endpoint string // http://127.0.0.1:PORT, for the SDK's BaseEndpoint
	Binary   string // the executable that was started

	cmd    *exec.Cmd
	out    *tailBuffer
	done   chan struct{} // closed when the child has exited
	waitMu sync.Mutex
	err    error // the child's exit status, valid after done
	once   sync.Once
}

// Option configures a start.
type Option func(*options)

type options struct {
	binary        string
	emulatorsDir  string
	logger        *slog.Logger
	startTimeout  time.Duration
	delay         time.Duration
	env           []string
	attempts      int
	kafkaSecurity *KafkaSecurity
}

// WithBinary uses this executable instead of looking one up.
func WithBinary(path string) Option { return func(o *options) { o.binary = path } }

// WithEmulatorsDir looks for node_modules/.bin under dir.
func WithEmulatorsDir(dir string) Option { return func(o *options) { o.emulatorsDir = dir } }

// WithLogger logs starts and stops (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithStartTimeout bounds the wait for the emulator to answer (default 30 s:
// generous because a loaded CI machine can take seconds to boot Node).
func WithStartTimeout(d time.Duration) Option { return func(o *options) { o.startTimeout = d } }

// WithTransitionDelay sets how long streams/tables stay CREATING, UPDATING or
// DELETING (default 10 ms). AWS takes seconds; zero is not allowed by
// kinesis-mock, so values below 1 ms are raised to 1 ms.
func WithTransitionDelay(d time.Duration) Option { return func(o *options) { o.delay = d } }

// WithEnv adds KEY=VALUE settings to the child's environment (for example
// kinesis-mock's INITIALIZE_STREAMS or SHARD_LIMIT).
func WithEnv(kv ...string) Option { return func(o *options) { o.env = append(o.env, kv...) } }

func buildOptions(opts []Option) options {
	o := options{startTimeout: 30 * time.Second, delay: 10 * time.Millisecond, attempts: 3}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.delay < time.Millisecond {
		o.delay = time.Millisecond
	}
	return o
}

// FindKinesisMock returns the kinesis-mock executable (see the package contract).
func FindKinesisMock(opts ...Option) (string, error) {
	return find(KinesisMock, EnvKinesisMockBin, "kinesis-local", buildOptions(opts))
}

// FindDynalite returns the dynalite executable (see the package contract).
func FindDynalite(opts ...Option) (string, error) {
	return find(Dynalite, EnvDynaliteBin, "dynalite", buildOptions(opts))
}

func find(name, env, bin string, o options) (string, error) {
	if o.binary != "" {
		return checkExecutable(name, o.binary)
	}
	if p := os.Getenv(env); p != "" {
		return checkExecutable(name, p)
	}
	dir := o.emulatorsDir
	if dir == "" {
		dir = os.Getenv(EnvEmulatorsDir)
	}
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", fmt.Errorf("%s: %w (%v)", name, ErrNotInstalled, err)
		}
		dir = filepath.Join(root, ".emulators")
	}
	return checkExecutable(name, filepath.Join(dir, "node_modules", ".bin", bin))
}

func checkExecutable(name, path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w: %s missing", name, ErrNotInstalled, path)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s: %w: %s is not executable", name, ErrNotInstalled, path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return abs, nil
}

// moduleRoot walks up from the working directory to the nearest go.mod; go
// test runs in the package directory, so this finds the repository root.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// StartKinesisMock starts kinesis-mock with plain HTTP on a free port.
func StartKinesisMock(ctx context.Context, opts ...Option) (*Process, error) {
	o := buildOptions(opts)
	bin, err := find(KinesisMock, EnvKinesisMockBin, "kinesis-local", o)
	if err != nil {
		return nil, err
	}
	// The cert file sits beside main.js; .bin/kinesis-local is a symlink to it.
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return nil, fmt.Errorf("kinesis-mock: resolve %s: %w", bin, err)
	}
	cert := filepath.Join(filepath.Dir(real), "server.json")
	if c := os.Getenv("KINESIS_MOCK_CERT_PATH"); c != "" {
		cert = c // a binary installed elsewhere may keep its certificate apart
	}
	if _, err := os.Stat(cert); err != nil {
		return nil, fmt.Errorf("kinesis-mock: certificate %s (KINESIS_MOCK_CERT_PATH) missing: %w", cert, err)
	}
	delay := strconv.FormatInt(o.delay.Milliseconds(), 10) + "ms"
	return start(ctx, KinesisMock, bin, probe{"Kinesis_20131202.ListStreams", "application/x-amz-json-1.1"}, o, 2, func(ports []int) ([]string, []string) {
		env := []string{
			"KINESIS_MOCK_PLAIN_PORT=" + strconv.Itoa(ports[0]),
			// The TLS listener cannot be turned off; give it its own free
			// port so parallel instances never fight over 4567.
			"KINESIS_MOCK_TLS_PORT=" + strconv.Itoa(ports[1]),
			"KINESIS_MOCK_CERT_PATH=" + cert,
			"LOG_LEVEL=WARN",
			"ROOT_LOG_LEVEL=ERROR",
			"SHOULD_PERSIST_DATA=false",
			"LOAD_DATA_IF_EXISTS=false",
			// The default of 50 shards per account is soon reached by a suite
			// whose tests share one emulator; WithEnv can set it back.
			"SHARD_LIMIT=1000",
		}
		for _, k := range []string{"CREATE_STREAM_DURATION", "DELETE_STREAM_DURATION",
			"MERGE_SHARDS_DURATION", "SPLIT_SHARD_DURATION", "UPDATE_SHARD_COUNT_DURATION",
			"UPDATE_STREAM_MODE_DURATION", "REGISTER_STREAM_CONSUMER_DURATION",
			"DEREGISTER_STREAM_CONSUMER_DURATION", "START_STREAM_ENCRYPTION_DURATION",
			"STOP_STREAM_ENCRYPTION_DURATION"} {
			env = append(env, k+"="+delay)
		}
		return nil, env
	})
}

// StartDynalite starts an in-memory dynalite on a free loopback port (never its
// default 4567, which is kinesis-mock's TLS port).
func StartDynalite(ctx context.Context, opts ...Option) (*Process, error) {
	o := buildOptions(opts)
	bin, err := find(Dynalite, EnvDynaliteBin, "dynalite", o)
	if err != nil {
		return nil, err
	}
	ms := strconv.FormatInt(o.delay.Milliseconds(), 10)
	return start(ctx, Dynalite, bin, probe{"DynamoDB_20120810.ListTables", "application/x-amz-json-1.0"}, o, 1, func(ports []int) ([]string, []string) {
		return []string{"--host", "127.0.0.1", "--port", strconv.Itoa(ports[0]),
			"--createTableMs", ms, "--deleteTableMs", ms, "--updateTableMs", ms}, nil
	})
}

// probe is the readiness request: an unsigned call of the emulator's own
// service. Both emulators answer it with MissingAuthenticationToken, and each
// answers the other's with UnknownOperation, so a port taken by the wrong
// program is noticed.
type probe struct{ target, contentType string }

const probeMarker = "MissingAuthenticationToken"

// start runs bin with the arguments and environment argv builds for nports
// free ports, retrying with fresh ports when the child dies before answering
// or the port answers the probe wrongly (another process may have taken a
// port between our check and the child's bind).
func start(ctx context.Context, name, bin string, pr probe, o options, nports int,
	argv func(ports []int) (args, env []string)) (*Process, error) {
	var lastErr error
	for attempt := 1; attempt <= o.attempts; attempt++ {
		ports, err := freePorts(nports)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		args, env := argv(ports)
		p, err := launch(ctx, name, bin, pr, args, append(env, o.env...), ports[0], o)
		if err == nil {
			o.logger.Info("reference emulator started", "name", name, "endpoint", p.Endpoint, "pid", p.cmd.Process.Pid)
			return p, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
		o.logger.Warn("reference emulator failed to start; retrying on new ports", "name", name, "attempt", attempt, "err", err)
	}
	return nil, lastErr
}

func launch(ctx context.Context, name, bin string, pr probe, args, env []string, port int, o options) (*Process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = os.TempDir() // kinesis-mock resolves PERSIST_PATH against it; never write into the repo
	out := &tailBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, bin, err)
	}
	p := &Process{Name: name, Binary: bin, Endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.waitMu.Lock()
		p.err = err
		p.waitMu.Unlock()
		close(p.done)
	}()
	if err := p.waitReady(ctx, pr, o.startTimeout); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// waitReady polls until the emulator answers the probe as expected, which
// proves the listener is up and is the emulator.
func (p *Process) waitReady(ctx context.Context, pr probe, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Endpoint+"/", strings.NewReader("{}"))
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		req.Header.Set("X-Amz-Target", pr.target)
		req.Header.Set("Content-Type", pr.contentType)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if p.Exited() || !strings.Contains(string(body), probeMarker) {
				return fmt.Errorf("%s: %s is answered by something else (HTTP %d: %.200q)", p.Name, p.Endpoint, resp.StatusCode, body)
			}
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before answering (%v); output:\n%s", p.Name, p.exitErr(), p.Output())
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer on %s within %s: %w; output:\n%s", p.Name, p.Endpoint, timeout, ctx.Err(), p.Output())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func (p *Process) exitErr() error {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	return p.err
}

// Output returns the last 64 KiB the emulator wrote to stdout and stderr.
func (p *Process) Output() string {
	if p.out == nil {
		return ""
	}
	return p.out.String()
}

// Pid is the child's process id (also its process group id).
func (p *Process) Pid() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Exited reports whether the emulator has stopped.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Close kills the emulator's process group and waits for it to exit. It is
// safe to call more than once.
func (p *Process) Close() error {
	p.once.Do(func() {
		if p.cmd == nil { // not started by this package
			return
		}
		killProcessGroup(p.cmd)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	})
	return nil
}

// freePorts picks n distinct ports that are free right now. They are drawn at
// random from below the kernel's ephemeral range: the kernel never hands those
// out for bind(0) or outgoing connections, so nothing else grabs the port
// between this check and the child's bind, and a random draw makes two
// concurrent starts (in this process or another test binary) pick the same
// port only rarely; the readiness probe and the retry cover the rest. The draw
// is seeded per call from the clock and pid on purpose: concurrent starts must
// not agree.
func freePorts(n int) ([]int, error) {
	lo, hi := portRange()
	if lo == 0 {
		return kernelPorts(n)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 200 {
			return nil, fmt.Errorf("no free port found in [%d, %d)", lo, hi)
		}
		port := lo + rng.IntN(hi-lo)
		// Bind every interface, as kinesis-mock does: the strictest test.
		l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		ports = append(ports, port)
	}
	return ports, nil
}

// portRange returns the range below the kernel's ephemeral ports to draw
// from, or zeros when that cannot be read or leaves too little room.
func portRange() (lo, hi int) {
	const low = 20000
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0
	}
	start, err := strconv.Atoi(f[0])
	if err != nil || start-low < 1000 {
		return 0, 0
	}
	return low, start
}

// kernelPorts lets the kernel choose (bind to port 0); the fallback where the
// ephemeral range is unknown.
func kernelPorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Version is the emulator's npm package version, read from the package.json
// beside its executable ("" when unknown).
func (p *Process) Version() string {
	real, err := filepath.EvalSymlinks(p.Binary)
	if err != nil {
		return ""
	}
	for dir := filepath.Dir(real); dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		b, err := os.ReadFile(filepath.Join(dir, "package.json"))
		if err != nil {
			continue
		}
		var pkg struct{ Version string }
		if json.Unmarshal(b, &pkg) == nil && pkg.Version != "" {
			return pkg.Version
		}
		return ""
	}
	return ""
}
