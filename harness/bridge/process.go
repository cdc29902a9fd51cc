package bridge

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// BridgeName is the bridge file's name.
func (s *Spec) BridgeName() string { return s.Name }

// Launch starts one life of an instance as a child process.
func (s *Spec) Launch(ctx context.Context, l Launch) (Process, error) {
	if !processesSupported {
		return nil, fmt.Errorf("child processes need a Unix system: %w", ErrUnsupported)
	}
	buildDir, err := s.build(ctx)
	if err != nil {
		return nil, err
	}
	vars := l.Vars()
	vars["build_dir"], vars["bridge_dir"], vars["repo"] = buildDir, s.baseDir(), s.repoRoot()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	vars["metrics_port"] = strconv.Itoa(port)
	argv := make([]string, len(s.Command))
	for i, a := range s.Command {
		argv[i] = expand(a, vars)
	}
	p := &childProcess{
		spec:   s,
		id:     l.WorkerID,
		doneCh: make(chan struct{}),
		http:   &http.Client{Timeout: 2 * time.Second},
		wait:   s.stopTimeout(),
		ready:  make(chan struct{}),
	}
	if s.Ready.HTTP != "" {
		p.readyURL = expand(s.Ready.HTTP, vars)
	} else {
		p.readyRE = regexp.MustCompile(s.Ready.Log)
	}
	if s.Metrics != "" {
		p.metricsURL = expand(s.Metrics, vars)
	}
	p.logPath = filepath.Join(l.LogDir, l.WorkerID+".log")
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.baseDir()
	if s.Dir != "" {
		cmd.Dir = expand(s.Dir, vars)
	}
	for _, k := range passEnv {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	for k, v := range s.EnvFor(vars, l.Settings) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = childProcAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	p.cmd = cmd
	var scans sync.WaitGroup
	var logMu sync.Mutex
	for _, r := range []io.Reader{stdout, stderr} {
		scans.Add(1)
		go func() {
			defer scans.Done()
			p.scan(r, logFile, &logMu)
		}()
	}
	go func() {
		scans.Wait() // the pipes are read to EOF before Wait closes them
		p.err = cmd.Wait()
		logFile.Close()
		close(p.doneCh)
	}()
	return p, nil
}

// passEnv are the variables of this process a child inherits; everything
// else it gets is explicit, so a developer's AWS profile or KCL_* settings
// never leak into a test.
var passEnv = []string{"PATH", "HOME", "TMPDIR", "GOCOVERDIR", "TZ", "GOCACHE", "GOPATH", "GOMODCACHE", "GOFLAGS"}

func (s *Spec) stopTimeout() time.Duration {
	if s.Stop.Timeout > 0 {
		return s.Stop.Timeout
	}
	return 30 * time.Second
}

func (s *Spec) readyTimeout() time.Duration {
	if s.Ready.Timeout > 0 {
		return s.Ready.Timeout
	}
	return 60 * time.Second
}

// build runs the Spec's build command once; later calls return its result.
func (s *Spec) build(ctx context.Context) (string, error) {
	s.buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shardbridge-bridge-")
		if err != nil {
			s.buildErr = fmt.Errorf("bridge %s: build directory: %w", s.Name, err)
			return
		}
		s.buildDir = dir
		if len(s.Build) == 0 {
			return
		}
		vars := map[string]string{"build_dir": dir, "bridge_dir": s.baseDir(), "repo": s.repoRoot()}
		argv := make([]string, len(s.Build))
		for i, a := range s.Build {
			argv[i] = expand(a, vars)
		}
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(bctx, argv[0], argv[1:]...)
		cmd.Dir = s.baseDir()
		if s.Dir != "" {
			cmd.Dir = expand(s.Dir, vars)
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			s.buildErr = fmt.Errorf("bridge %s: build %q: %w: %s", s.Name, strings.Join(argv, " "), err, strings.TrimSpace(out.String()))
		}
	})
	return s.buildDir, s.buildErr
}

// Close removes what the build left.
func (s *Spec) Close() {
	if s.buildDir != "" {
		_ = os.RemoveAll(s.buildDir)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// childProcess is one life of a bridge run as a process.
type childProcess struct {
	spec       *Spec
	id         string
	cmd        *exec.Cmd
	doneCh     chan struct{}
	err        error // the wait error, set before doneCh closes
	http       *http.Client
	wait       time.Duration
	logPath    string
	readyURL   string
	readyRE    *regexp.Regexp
	metricsURL string

	mu        sync.Mutex
	ready     chan struct{} // closed when readyRE matched a line
	readySeen bool
	tail      []string
	stopping  bool // stop or kill asked: the exit is expected
}

const tailLines = 40

// scan copies the child's output to its log file, keeps the last lines for
// error messages and watches for the ready line.
func (p *childProcess) scan(r io.Reader, w io.Writer, wmu *sync.Mutex) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		wmu.Lock()
		_, _ = io.WriteString(w, line+"\n")
		wmu.Unlock()
		p.mu.Lock()
		p.tail = append(p.tail, line)
		if len(p.tail) > tailLines {
			p.tail = p.tail[len(p.tail)-tailLines:]
		}
		if p.readyRE != nil && !p.readySeen && p.readyRE.MatchString(line) {
			p.readySeen = true
			close(p.ready)
		}
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r)
}

func (p *childProcess) Done() <-chan struct{} { return p.doneCh }

func (p *childProcess) LogTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tail) == 0 {
		return ""
	}
	return strings.Join(p.tail, "\n") + "\n(full log: " + p.logPath + ")"
}

func (p *childProcess) ExitErr() error {
	select {
	case <-p.doneCh:
	default:
		return nil
	}
	p.mu.Lock()
	expected := p.stopping
	p.mu.Unlock()
	if expected {
		return nil
	}
	if p.err == nil {
		return errors.New("exited with status 0 without being asked to stop")
	}
	return p.err
}

func (p *childProcess) Stats(ctx context.Context) (Stats, error) {
	if p.metricsURL == "" {
		return Stats{}, nil
	}
	return scrapeMetrics(ctx, p.http, p.metricsURL)
}

func (p *childProcess) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.spec.readyTimeout())
	defer cancel()
	if p.readyRE != nil {
		select {
		case <-p.ready:
			return nil
		case <-p.doneCh:
			return fmt.Errorf("process exited before it was ready: %v%s", p.err, tailSuffix(p.LogTail()))
		case <-ctx.Done():
			return fmt.Errorf("no line matched %q: %w", p.readyRE, ctx.Err())
		}
	}
	return PollUntil(ctx, 50*time.Millisecond, func() (bool, error) {
		select {
		case <-p.doneCh:
			return false, fmt.Errorf("process exited before it was ready: %v%s", p.err, tailSuffix(p.LogTail()))
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.readyURL, nil)
		if err != nil {
			return false, err
		}
		resp, err := p.http.Do(req)
		if err != nil {
			return false, nil
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

func (p *childProcess) markStopping() {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
}

// Stop sends the stop signal and waits for a clean exit (status 0); after
// the stop timeout it kills.
func (p *childProcess) Stop(ctx context.Context) error {
	p.markStopping()
	_ = signalCont(p.cmd.Process)
	if err := signalStopRequest(p.cmd.Process, p.spec.Stop.Signal); err != nil {
		select {
		case <-p.doneCh:
		default:
			return fmt.Errorf("stop signal: %w", err)
		}
	}
	select {
	case <-p.doneCh:
	case <-time.After(p.wait):
		_ = p.cmd.Process.Kill()
		<-p.doneCh
		return fmt.Errorf("did not exit within %s of the stop signal (killed)", p.wait)
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.doneCh
		return ctx.Err()
	}
	if p.err != nil {
		return fmt.Errorf("exit after the stop signal: %w (want status 0)", p.err)
	}
	return nil
}

func (p *childProcess) Kill() error {
	p.markStopping()
	err := p.cmd.Process.Kill()
	<-p.doneCh
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGKILL: %w", err)
	}
	return nil
}

func (p *childProcess) Pause() error {
	if !p.spec.Offers.Pause {
		return fmt.Errorf("pause: bridge %s does not offer it: %w", p.spec.Name, ErrUnsupported)
	}
	return signalStop(p.cmd.Process)
}

func (p *childProcess) Resume() error { return signalCont(p.cmd.Process) }

// CutLeaseTable is not available for a child process: its lease-table calls
// go straight to the endpoint it was given, through the environment's
// shared fault layer, which cannot tell one worker's requests from another's.
func (p *childProcess) CutLeaseTable(bool) error {
	return fmt.Errorf("cut a child process off from the lease table: %w (run the scenario with in-process instances)", ErrUnsupported)
}

func tailSuffix(tail string) string {
	if tail == "" {
		return ""
	}
	return "\n--- last log lines ---\n" + tail
}

// PollUntil calls f every interval until it reports true, fails, or ctx
// ends (the harness waits for conditions of the systems it watches so).
func PollUntil(ctx context.Context, interval time.Duration, f func() (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := f()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
