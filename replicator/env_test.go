package replicator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/fakes/clock"
	dynamodbfake "github.com/shardbridge/shardbridge/fakes/dynamodb"
	"github.com/shardbridge/shardbridge/fakes/fault"
	kafkafake "github.com/shardbridge/shardbridge/fakes/kafka"
	kinesisfake "github.com/shardbridge/shardbridge/fakes/kinesis"
	"github.com/shardbridge/shardbridge/replicator"
	"github.com/shardbridge/shardbridge/replicator/config"
	"github.com/shardbridge/shardbridge/replicator/lease"
)

// testEnv is Kinesis + DynamoDB emulators (behind the fault layer, on one
// controllable clock) and an embedded Kafka, plus the workload's record of
// what it wrote.
type testEnv struct {
	t      testing.TB
	clock  *clock.Clock
	kin    *kinesisfake.Emulator
	inj    *fault.Injector
	kinURL string
	ddbURL string
	// pad, when set, makes every record written that many bytes longer.
	pad    int
	kinAPI *kinesis.Client // the test's own client (writes, observation)
	ddbAPI *dynamodb.Client
	// repKin and repDDB are the replicators' clients; probe sees their
	// requests.
	repKin *kinesis.Client
	repDDB *dynamodb.Client
	probe  *requestProbe
	kafka  *kafkafake.Cluster
	// brokers are the Kafka the replicators write to: kafka's, or Apache
	// Kafka's after useApacheKafka.
	brokers []string
	stream  string
	topic   string
	app     string
	logs    *syncBuffer

	mu      sync.Mutex
	written []putRecord
	next    map[string]int // per-key counter
}

// syncBuffer collects logs; they are printed when a test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTestEnv(t testing.TB, shards int, partitions int32) *testEnv {
	t.Helper()
	c := clock.New()
	e := &testEnv{
		t: t, clock: c, stream: "orders", topic: "orders-out", app: "orders-bridge-" + fmt.Sprint(time.Now().UnixNano()),
		kin:  kinesisfake.New(kinesisfake.WithClock(c)),
		inj:  fault.New(fault.WithClock(c), fault.WithSeed(42)),
		next: map[string]int{},
		logs: &syncBuffer{},
	}
	ddb := dynamodbfake.New(dynamodbfake.WithClock(c))
	kinSrv := httptest.NewServer(e.inj.Middleware(e.kin))
	ddbSrv := httptest.NewServer(e.inj.Middleware(ddb))
	t.Cleanup(kinSrv.Close)
	t.Cleanup(ddbSrv.Close)
	e.kinURL, e.ddbURL = kinSrv.URL, ddbSrv.URL
	creds := credentials.NewStaticCredentialsProvider("test", "test", "")
	// The test's own large PutRecords need the transport workaround (see
	// maxRequestBody): a 200 read as an error would make write retry
	// records that were written.
	e.kinAPI = kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(kinSrv.URL), Credentials: creds,
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: kinesisfake.SDKTransport(nil)}})
	e.ddbAPI = dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(ddbSrv.URL), Credentials: creds,
		HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	e.probe = &requestProbe{base: http.DefaultTransport}
	e.repKin = kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(kinSrv.URL), Credentials: creds,
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: e.probe}})
	e.repDDB = dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(ddbSrv.URL), Credentials: creds,
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: e.probe}})
	t.Cleanup(func() { e.checkRequestSizes(t) })
	if err := e.kin.CreateStream(e.stream, shards); err != nil {
		t.Fatal(err)
	}
	e.kin.SetLimits(e.stream, false) // no production limits: a test that wants throttling injects it
	k, err := kafkafake.New(context.Background(), kafkafake.WithTopic(e.topic, partitions))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	e.kafka = k
	e.brokers = k.Brokers()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replicator logs:\n%s", e.logs.String())
		}
	})
	return e
}

// config is a replicator configuration with short intervals for tests.
func (e *testEnv) config(worker string) config.Config {
	c := config.Defaults()
	c.StreamName, c.ApplicationName, c.KafkaTopic = e.stream, e.app, e.topic
	c.KafkaBrokers = e.brokers
	c.WorkerID = worker
	c.CheckpointInterval = 200 * time.Millisecond
	// Long enough that a starved CI machine does not lose leases (tests that
	// want no duplicates depend on it), short enough that the lease manager
	// ticks every second.
	c.FailoverTime = 3 * time.Second
	c.ShardSyncInterval = time.Second
	c.PollInterval = config.MinPollInterval // Validate's floor (Kinesis' 5 calls/s)
	c.Linger = time.Millisecond
	c.MetricsAddr = ""
	c.ShutdownTimeout = 10 * time.Second
	c.StartupTimeout = 5 * time.Second
	return c
}

// instance is one replicator running in this process.
type instance struct {
	r      *replicator.Replicator
	cancel context.CancelFunc
	done   chan error
}

func (e *testEnv) start(cfg config.Config, opts ...replicator.Option) *instance {
	e.t.Helper()
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo})).With("worker", cfg.WorkerID)
	base := []replicator.Option{
		replicator.WithKinesisClient(e.repKin),
		replicator.WithDynamoDBClient(e.repDDB),
		replicator.WithLogger(log),
		replicator.WithSeed(7),
		replicator.WithMinGetRecordsInterval(20 * time.Millisecond),
		replicator.WithBackoff(10*time.Millisecond, 200*time.Millisecond),
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, err := replicator.New(ctx, cfg, append(base, opts...)...)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	in := &instance{r: r, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- r.Run(ctx) }()
	e.t.Cleanup(func() { in.stop(e.t) })
	return in
}

// stop stops the instance gracefully and returns Run's result.
func (in *instance) stop(t testing.TB) error {
	in.cancel()
	select {
	case err := <-in.done:
		in.done <- err // idempotent
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("replicator did not stop within 30s")
		return nil
	}
}

// write puts rounds × keys records, one record per key per PutRecords, and
// retries throttled entries before the key's next record, so per-key order
// holds whatever the limits do.
func (e *testEnv) write(rounds, keys int) {
	e.t.Helper()
	for range rounds {
		pending := make([]string, keys)
		for k := range keys {
			pending[k] = fmt.Sprintf("key-%03d", k)
		}
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 200 {
				e.t.Fatal("PutRecords kept failing")
			}
			entries := make([]types.PutRecordsRequestEntry, len(pending))
			ns := make([]int, len(pending))
			e.mu.Lock()
			for i, key := range pending {
				ns[i] = e.next[key]
				entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(key), Data: e.data(key, ns[i])}
			}
			e.mu.Unlock()
			res, err := e.kinAPI.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(e.stream), Records: entries})
			if err != nil {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			var retry []string
			e.mu.Lock()
			for i, r := range res.Records {
				key := pending[i]
				if r.ErrorCode != nil {
					retry = append(retry, key)
					continue
				}
				w := putRecord{Shard: aws.ToString(r.ShardId), Seq: aws.ToString(r.SequenceNumber), SubSeq: -1, Key: key, N: ns[i]}
				if e.pad > 0 {
					w.Data = entries[i].Data
				}
				e.written = append(e.written, w)
				e.next[key]++
			}
			e.mu.Unlock()
			pending = retry
			if len(retry) > 0 {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
}

// data is the n-th record of key as written: its payload, padded to e.pad
// more bytes when set.
func (e *testEnv) data(key string, n int) []byte {
	p := payload(key, n)
	if e.pad > 0 {
		p = append(p, bytes.Repeat([]byte{'.'}, e.pad)...)
	}
	return p
}

// writeAsync writes in the background with a pause between rounds; the
// returned function waits for it.
func (e *testEnv) writeAsync(rounds, keys int, pause time.Duration) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range rounds {
			e.write(1, keys)
			time.Sleep(pause)
		}
	}()
	return func() { <-done }
}

// writeUntilStopped writes a round every pause in the background until the
// returned stop is called (stop waits for the last round). Tests whose
// instances must each see new records use it: a fixed number of rounds can
// all be replicated by the first instance before the others hold a shard.
func (e *testEnv) writeUntilStopped(keys int, pause time.Duration) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			e.write(1, keys)
			select {
			case <-quit:
				return
			case <-time.After(pause):
			}
		}
	}()
	return func() { close(quit); <-done }
}

func (e *testEnv) writtenRecords() []putRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]putRecord(nil), e.written...)
}

// waitDelivered polls the topic until every written record is there, then
// returns the check's report; it fails the test on a timeout or a violation.
func (e *testEnv) waitDelivered(timeout time.Duration) outputReport {
	e.t.Helper()
	return e.waitTopic(e.topic, e.writtenRecords(), timeout)
}

func (e *testEnv) waitTopic(topic string, written []putRecord, timeout time.Duration) outputReport {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var rep outputReport
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		got, err := readAll(ctx, e.brokers, topic)
		cancel()
		if err != nil {
			e.t.Fatalf("reading %s: %v", topic, err)
		}
		rep = checkOutput(written, got)
		if len(rep.Lost) == 0 {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("not every record arrived within %v: %s", timeout, rep)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !rep.ok() {
		e.t.Fatalf("output check failed: %s", rep)
	}
	return rep
}

// leases reads the lease table.
func (e *testEnv) leases() []lease.Lease {
	e.t.Helper()
	ls, err := lease.NewManager(e.ddbAPI, e.app, "observer").List(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return ls
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// maxRequestBody bounds the body of every AWS request the replicator sends.
// Why it matters: smithy-go closes a request body once the response headers
// arrive, and net/http's check for extra body bytes after a body larger than
// its 4 KiB write buffer can then fail on a 200 ("use of closed network
// connection"; fakes/kinesis.SDKTransport works around it for the
// emulators' own large PutRecords). A request that fits the buffer together
// with its headers (about 1 KiB with SigV4) is written out only after that
// check, so the race cannot happen; the replicator therefore needs no
// transport wrapper as long as its requests stay this small. This bound
// fails the tests if a change makes them grow.
const maxRequestBody = 2048

// requestProbe is an http.RoundTripper that notes the largest request body.
type requestProbe struct {
	base http.RoundTripper

	mu     sync.Mutex
	max    int64
	target string // X-Amz-Target of the largest
}

func (p *requestProbe) RoundTrip(r *http.Request) (*http.Response, error) {
	p.mu.Lock()
	if r.ContentLength > p.max {
		p.max, p.target = r.ContentLength, r.Header.Get("X-Amz-Target")
	}
	p.mu.Unlock()
	return p.base.RoundTrip(r)
}

func (e *testEnv) checkRequestSizes(t testing.TB) {
	e.probe.mu.Lock()
	defer e.probe.mu.Unlock()
	if e.probe.max > maxRequestBody {
		t.Errorf("the replicator sent a %d-byte %s request body (bound %d): see maxRequestBody", e.probe.max, e.probe.target, maxRequestBody)
	}
}

// logLines parses the replicator logs, failing on any line that is not JSON.
func (e *testEnv) logLines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// logged reports whether some log line has message msg and, for each pair
// of kv, that attribute with that value (compared as text).
func (e *testEnv) logged(t testing.TB, msg string, kv ...string) bool {
	t.Helper()
next:
	for _, m := range e.logLines(t) {
		if m["msg"] != msg {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if fmt.Sprint(m[kv[i]]) != kv[i+1] {
				continue next
			}
		}
		return true
	}
	return false
}

// metricsText is the instance's /metrics page.
func (in *instance) metricsText(t testing.TB) string {
	t.Helper()
	rec := httptest.NewRecorder()
	in.r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// metric is the value of one series of the /metrics page (series is the name
// with its labels as printed, e.g. `replicator_throttles_total{operation="GetRecords"}`),
// or -1 when absent.
func (in *instance) metric(t testing.TB, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(in.metricsText(t), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %q", series, v)
			}
			return f
		}
	}
	return -1
}
