package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// replicator is one running replicator child process.
type replicator struct {
	cmd     *exec.Cmd
	started time.Time
	logPath string
	metrics string // base URL of /metrics and /readyz
	done    chan struct{}
	err     error // the wait error, set before done closes
}

// inherited are this process's variables the child gets; everything else
// is explicit, so a developer's AWS profile or KCL_* settings cannot leak
// into a measurement.
var inherited = []string{"PATH", "HOME", "TMPDIR", "TZ", "GOCOVERDIR"}

// replicatorEnv is a case's configuration of the replicator: production
// defaults but for what a local run must say (endpoints, names,
// credentials) and what large records need; extra (KEY=VALUE) comes last
// and wins.
func replicatorEnv(p envParams, extra []string) []string {
	env := map[string]string{
		"KCL_STREAM_NAME":           p.stream,
		"KCL_APPLICATION_NAME":      p.application,
		"KCL_REGION":                p.region,
		"KCL_INITIAL_POSITION":      "TRIM_HORIZON",
		"KAFKA_TOPIC":               p.topic,
		"KAFKA_BOOTSTRAP_SERVERS":   strings.Join(p.brokers, ","),
		"AWS_ENDPOINT_URL_KINESIS":  p.kinesis,
		"AWS_ENDPOINT_URL_DYNAMODB": p.dynamodb,
		"AWS_ACCESS_KEY_ID":         p.accessKey,
		"AWS_SECRET_ACCESS_KEY":     p.secretKey,
		"AWS_REGION":                p.region,
		"AWS_EC2_METADATA_DISABLED": "true",
		"REPLICATOR_METRICS_ADDR":   p.metricsAddr,
		"REPLICATOR_DELIVERY":       p.delivery,
		"REPLICATOR_WORKER_ID":      "bench",
	}
	if p.batchMaxBytes > 0 {
		env["REPLICATOR_KAFKA_BATCH_MAX_BYTES"] = strconv.Itoa(p.batchMaxBytes)
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	out := make([]string, 0, len(env)+len(inherited))
	for _, k := range inherited {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

type envParams struct {
	stream, application, topic, region string
	brokers                            []string
	kinesis, dynamodb                  string
	accessKey, secretKey               string
	metricsAddr                        string
	delivery                           string
	batchMaxBytes                      int // 0: the replicator's default
}

// startReplicator starts bin with env, its output in logPath.
func startReplicator(bin string, env []string, logPath, metricsAddr string) (*replicator, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("replicator log: %w", err)
	}
	cmd := exec.Command(bin)
	cmd.Env = env
	cmd.Dir = filepath.Dir(logPath)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = childAttr()
	r := &replicator{cmd: cmd, logPath: logPath, metrics: "http://" + metricsAddr, done: make(chan struct{})}
	r.started = time.Now()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start replicator %s: %w", bin, err)
	}
	go func() {
		r.err = cmd.Wait()
		log.Close()
		close(r.done)
	}()
	return r, nil
}

func (r *replicator) pid() int { return r.cmd.Process.Pid }

// exited reports, without waiting, why the process ended, or nil if it runs.
func (r *replicator) exited() error {
	select {
	case <-r.done:
		return fmt.Errorf("replicator exited (%v); last log line: %s", r.err, lastLine(r.logPath))
	default:
		return nil
	}
}

// stop sends SIGTERM and waits for the exit (SIGKILL after grace), then
// returns the child's CPU time and max RSS from its rusage.
func (r *replicator) stop(grace time.Duration) (cpu time.Duration, maxRSSBytes int64, err error) {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(grace):
		_ = r.cmd.Process.Kill()
		<-r.done
		err = fmt.Errorf("replicator did not stop within %s of SIGTERM: killed", grace)
	}
	st := r.cmd.ProcessState
	if st == nil {
		return 0, 0, errors.Join(err, errors.New("replicator: no exit state"))
	}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		maxRSSBytes = maxRSS(ru)
	}
	return st.UserTime() + st.SystemTime(), maxRSSBytes, err
}

// waitReady polls /readyz until it answers 200 and returns how long after
// exec that was: the part of the catch-up spent starting.
func (r *replicator) waitReady(ctx context.Context) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second}
	for {
		if err := r.exited(); err != nil {
			return 0, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.metrics+"/readyz", nil)
		if err != nil {
			return 0, err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(r.started), nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func lastLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log)"
	}
	defer f.Close()
	last := "(empty log)"
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			last = t
		}
	}
	if len(last) > 400 {
		last = last[:400] + "…"
	}
	return last
}

// freeAddr is a loopback address nothing listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
