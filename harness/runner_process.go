package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// childProcess is one life of the real replicator binary.
type childProcess struct {
	name    string
	runner  *Runner
	id      string
	cmd     *exec.Cmd
	doneCh  chan struct{}
	err     error // the wait error, set before doneCh closes
	http    *http.Client
	wait    time.Duration
	logPath string

	mu       sync.Mutex
	addr     string
	addrCh   chan struct{} // closed once addr is known (or the process ended)
	tail     []string
	stopping bool // stop or kill asked: the exit is expected
}

const tailLines = 40

// passEnv are the variables of this process a child inherits; everything
// else it gets is explicit, so a developer's AWS profile or KCL_* settings
// never leak into a test.
var passEnv = []string{"PATH", "HOME", "TMPDIR", "GOCOVERDIR", "TZ"}

func startProcess(ctx context.Context, r *Runner, name string, settings map[string]string) (*childProcess, error) {
	bin, err := ReplicatorBinary(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := r.ensureLogDir()
	if err != nil {
		return nil, err
	}
	settings["REPLICATOR_METRICS_ADDR"] = "127.0.0.1:0"
	p := &childProcess{
		name:   name,
		runner: r,
		id:     settings["REPLICATOR_WORKER_ID"],
		doneCh: make(chan struct{}),
		addrCh: make(chan struct{}),
		http:   &http.Client{Timeout: 2 * time.Second},
		wait:   settleTimeout(settings),
	}
	p.logPath = filepath.Join(dir, p.id+".log")
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	cmd := exec.Command(bin)
	for _, k := range passEnv {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Env = append(cmd.Env, r.env.AWSEnv()...)
	for _, k := range sortedKeys(settings) {
		cmd.Env = append(cmd.Env, k+"="+settings[k])
	}
	cmd.SysProcAttr = childProcAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	cmd.Stdout = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p.cmd = cmd
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		p.scan(stderr, logFile)
	}()
	go func() {
		<-scanned // the pipe is read to EOF before Wait closes it
		p.err = cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		select {
		case <-p.addrCh:
		default:
			close(p.addrCh)
		}
		p.mu.Unlock()
		close(p.doneCh)
	}()
	// The metrics address is known within moments of the start; without it
	// the instance cannot be observed, which a scenario must not ignore.
	select {
	case <-p.addrCh:
	case <-time.After(30 * time.Second):
		_ = p.kill()
		return nil, errors.New("the replicator did not report its metrics address within 30s")
	case <-ctx.Done():
		_ = p.kill()
		return nil, ctx.Err()
	}
	p.mu.Lock()
	addr := p.addr
	p.mu.Unlock()
	if addr == "" {
		<-p.doneCh
		return nil, fmt.Errorf("the replicator exited at start: %v%s", p.err, tailSuffix(p.logTail()))
	}
	return p, nil
}

// scan copies the child's JSON log lines to its log file, keeps the last
// ones for error messages and learns the metrics address from the
// "metrics listening" line.
func (p *childProcess) scan(r io.Reader, w io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		_, _ = io.WriteString(w, line+"\n")
		p.mu.Lock()
		p.tail = append(p.tail, line)
		if len(p.tail) > tailLines {
			p.tail = p.tail[len(p.tail)-tailLines:]
		}
		known := p.addr != ""
		p.mu.Unlock()
		if strings.Contains(line, leaseLossMessage) || strings.Contains(line, shardStopMessage) {
			if msg, shard, reason, t, ok := parseAbandon(line); ok {
				p.runner.noteAbandon(Abandon{Time: t, Instance: p.name, Worker: p.id, Shard: shard, Event: msg, Reason: reason})
			}
		}
		if known || !strings.Contains(line, "metrics listening") {
			continue
		}
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "metrics listening" && rec.Addr != "" {
			p.mu.Lock()
			p.addr = rec.Addr
			close(p.addrCh)
			p.mu.Unlock()
		}
	}
	_, _ = io.Copy(w, r)
}

func (p *childProcess) workerID() string      { return p.id }
func (p *childProcess) done() <-chan struct{} { return p.doneCh }

func (p *childProcess) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tail) == 0 {
		return ""
	}
	return strings.Join(p.tail, "\n") + "\n(full log: " + p.logPath + ")"
}

func (p *childProcess) exitErr() error {
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

func (p *childProcess) metricsAddr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

func (p *childProcess) stats(ctx context.Context) (InstanceStats, error) {
	return scrapeMetrics(ctx, p.http, p.metricsAddr())
}

func (p *childProcess) ready(ctx context.Context) error {
	url := "http://" + p.metricsAddr() + "/readyz"
	return pollUntil(ctx, 50*time.Millisecond, func() (bool, error) {
		select {
		case <-p.doneCh:
			return false, fmt.Errorf("process exited: %v", p.err)
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
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

// stop sends SIGTERM and waits for a clean exit (status 0), per the
// replicator's contract; after the shutdown timeout it kills.
func (p *childProcess) stop(ctx context.Context) error {
	p.markStopping()
	_ = signalCont(p.cmd.Process)
	if err := signalTerm(p.cmd.Process); err != nil {
		select {
		case <-p.doneCh:
		default:
			return fmt.Errorf("SIGTERM: %w", err)
		}
	}
	select {
	case <-p.doneCh:
	case <-time.After(p.wait):
		_ = p.cmd.Process.Kill()
		<-p.doneCh
		return fmt.Errorf("did not exit within %s of SIGTERM (killed)", p.wait)
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.doneCh
		return ctx.Err()
	}
	if p.err != nil {
		return fmt.Errorf("exit after SIGTERM: %w (want status 0)", p.err)
	}
	return nil
}

func (p *childProcess) kill() error {
	p.markStopping()
	err := p.cmd.Process.Kill()
	<-p.doneCh
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGKILL: %w", err)
	}
	return nil
}

func (p *childProcess) pause() error  { return signalStop(p.cmd.Process) }
func (p *childProcess) resume() error { return signalCont(p.cmd.Process) }

// cutLeaseTable is not available for a child process: its lease-table calls
// go straight to the endpoint it was given, through the environment's
// shared fault layer, which cannot tell one worker's requests from another's.
func (p *childProcess) cutLeaseTable(bool) error {
	return fmt.Errorf("cut a child process off from the lease table: %w (run the scenario with in-process instances)", ErrUnsupported)
}
