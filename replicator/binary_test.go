package replicator_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds the replicator into a temporary directory, once per
// test binary run.
var buildOnce struct {
	sync.Once
	path string
	err  error
	out  []byte
}

func replicatorBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "replicator-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "replicator")
		cmd := exec.Command("go", "build", "-o", buildOnce.path, "./cmd/replicator")
		buildOnce.out, buildOnce.err = cmd.CombinedOutput()
	})
	if buildOnce.err != nil {
		t.Fatalf("go build: %v\n%s", buildOnce.err, buildOnce.out)
	}
	return buildOnce.path
}

// child is the replicator binary running as a real process.
type child struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan error
}

func (e *testEnv) startBinary(t *testing.T, extra ...string) *child {
	t.Helper()
	cmd := exec.Command(replicatorBinary(t))
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(), // no stray ~/.aws
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_KINESIS=" + e.kinURL,
		"AWS_ENDPOINT_URL_DYNAMODB=" + e.ddbURL,
		"KCL_REGION=us-east-1",
		"KCL_STREAM_NAME=" + e.stream,
		"KCL_APPLICATION_NAME=" + e.app,
		"KAFKA_TOPIC=" + e.topic,
		"KAFKA_BOOTSTRAP_SERVERS=" + strings.Join(e.kafka.Brokers(), ","),
		"CHECKPOINT_FREQ_SECONDS=0.3",
		"REPLICATOR_FAILOVER_TIME=1500ms",
		"REPLICATOR_SHARD_SYNC_INTERVAL=1s",
		"REPLICATOR_KAFKA_LINGER=1ms",
		"REPLICATOR_METRICS_ADDR=127.0.0.1:0",
	}, extra...)
	c := &child{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.exited
		c.exited <- nil
		if t.Failed() {
			t.Logf("child %d stderr:\n%s", cmd.Process.Pid, c.stderr.String())
		}
	})
	return c
}

func (c *child) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.exited:
		c.exited <- err
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("child did not exit")
		return nil
	}
}

// The binary is SIGKILLed mid-stream and a new one takes over: nothing is
// lost, per-key order holds; SIGTERM then stops it with exit code 0.
func TestBinaryKilledAndRestarted(t *testing.T) {
	e := newTestEnv(t, 3, 3)
	first := e.startBinary(t)
	wait := e.writeAsync(40, 20, 30*time.Millisecond)
	eventually(t, 20*time.Second, "the first process to deliver records", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		got, err := readAll(ctx, e.kafka.Brokers(), e.topic)
		return err == nil && len(got) >= 200
	})
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := first.wait(t); err == nil {
		t.Fatal("SIGKILLed process exited cleanly?")
	}
	second := e.startBinary(t)
	wait()
	rep := e.waitDelivered(30 * time.Second)
	t.Logf("after SIGKILL and restart: %s", rep)

	// The real process serves /readyz and /metrics.
	m := regexp.MustCompile(`"msg":"metrics listening","addr":"([0-9.:]+)"`).FindStringSubmatch(second.stderr.String())
	if m == nil {
		t.Fatal("no metrics address in the logs")
	}
	for path, want := range map[string]string{"/readyz": "ready", "/metrics": "replicator_records_out_total"} {
		res, err := http.Get("http://" + m[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d %.200s", path, res.StatusCode, body)
		}
	}

	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.wait(t); err != nil {
		t.Fatalf("SIGTERM: exit %v, want 0\n%s", err, second.stderr.String())
	}
	logs := second.stderr.String()
	for _, want := range []string{`"msg":"replicator starting"`, `"msg":"lease acquired"`, `"msg":"stopped"`, `"kafka_topic":"orders-out"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("second process logs lack %s", want)
		}
	}
	for _, l := range e.leases() {
		if l.Owner != "" {
			t.Errorf("lease %s still owned by %s after SIGTERM", l.ShardID, l.Owner)
		}
	}
}

func TestBinaryBadConfigExits2(t *testing.T) {
	cmd := exec.Command(replicatorBinary(t))
	cmd.Env = []string{"KCL_STREAM_NAME=s", "KCL_APPLICATION_NAME=a", "KAFKA_BOOTSTRAP_SERVERS=b:9092"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2", err)
	}
	if out := stderr.String(); strings.Count(out, "\n") != 1 || !strings.Contains(out, "KAFKA_TOPIC: required") {
		t.Errorf("stderr %q", out)
	}
}
