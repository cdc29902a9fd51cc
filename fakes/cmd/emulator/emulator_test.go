package main

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
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/fakes/fault"
	kinesisemu "github.com/shardbridge/shardbridge/fakes/kinesis"
)

// syncBuffer collects the emulator's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

// start runs the emulator in-process on free ports until the test ends.
func start(t *testing.T, args ...string) (addrs, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	readyc := make(chan addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-aws-addr", "127.0.0.1:0", "-kafka-port", "0"}, args...), logs,
			func(a addrs) { readyc <- a })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case a := <-readyc:
		return a, logs
	case err := <-done:
		t.Fatalf("emulator exited before ready: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("emulator not ready\n%s", logs)
	}
	return addrs{}, nil
}

// sdkHTTPClient avoids a client-side race of smithy-go against fast local
// endpoints (see kinesis.SDKTransport).
func sdkHTTPClient() *http.Client {
	return &http.Client{Transport: kinesisemu.SDKTransport(nil)}
}

func kinesisClient(a addrs) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + a.AWS), HTTPClient: sdkHTTPClient(),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), RetryMaxAttempts: 1,
	})
}

// ctl sends a control API request; it returns the status and body.
func ctl(t *testing.T, a addrs, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, a.Control+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEmulatorServesAWSKafkaAndControl(t *testing.T) {
	a, logs := start(t, "-streams", "orders:2,audit:1", "-tables", "leases", "-topics", "out:3", "-seed", "9")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	kc := kinesisClient(a)

	// Streams and tables from the flags exist, on one port.
	ls, err := kc.ListStreams(ctx, &kinesis.ListStreamsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if names := ls.StreamNames; !slices.Contains(names, "orders") || !slices.Contains(names, "audit") {
		t.Fatalf("streams = %v", names)
	}
	dc := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + a.AWS), HTTPClient: sdkHTTPClient(),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
	dt, err := dc.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("leases")})
	if err != nil {
		t.Fatal(err)
	}
	if ks := dt.Table.KeySchema; len(ks) != 1 || aws.ToString(ks[0].AttributeName) != "leaseKey" {
		t.Fatalf("key schema = %+v", ks)
	}

	// A fault rule added through the control API reaches the SDK as a typed error.
	if _, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("audit"), PartitionKey: aws.String("k"), Data: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String("audit"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		t.Fatal(err)
	}
	if s, body := ctl(t, a, "POST", "/faults/rules", `{"name":"t1","operations":["GetRecords"],"shard":"shardId-000000000000","action":"throttle","count":1}`); s != http.StatusCreated {
		t.Fatalf("add rule: %d %s", s, body)
	}
	var pte *types.ProvisionedThroughputExceededException
	if _, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator}); !errors.As(err, &pte) {
		t.Fatalf("want injected throttle, got %v", err)
	}
	out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(out.Records) != 1 {
		t.Fatalf("after the count ran out: %v, %d records", err, len(out.Records))
	}
	_, body := ctl(t, a, "GET", "/faults/events", "")
	var evs struct {
		Events []fault.Event
		Total  int
	}
	if err := json.Unmarshal([]byte(body), &evs); err != nil || evs.Total != 1 || evs.Events[0].Stream != "audit" || evs.Events[0].RuleName != "t1" {
		t.Fatalf("events = %s (%v)", body, err)
	}

	// Advancing the shared clock expires the emulator's iterators.
	if s, body := ctl(t, a, "POST", "/clock/advance", `{"duration":"6m"}`); s != http.StatusOK {
		t.Fatalf("advance: %d %s", s, body)
	}
	var eie *types.ExpiredIteratorException
	if _, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator}); !errors.As(err, &eie) {
		t.Fatalf("want ExpiredIteratorException after advancing the clock, got %v", err)
	}

	// With limits off for a stream, a burst far past 5 GetShardIterator
	// calls per second per shard is never throttled.
	if s, body := ctl(t, a, "POST", "/kinesis/limits", `{"stream":"orders","enabled":false}`); s != http.StatusNoContent {
		t.Fatalf("limits: %d %s", s, body)
	}
	for i := range 30 {
		if _, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String("orders"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeLatest,
		}); err != nil {
			t.Fatalf("call %d with limits off: %v", i, err)
		}
	}

	// Kafka: produce, restart through the control API, consume everything.
	producer, err := kgo.NewClient(kgo.SeedBrokers(a.Kafka...), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	produce := func(v string) {
		if err := producer.ProduceSync(ctx, &kgo.Record{Topic: "out", Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", v, err)
		}
	}
	produce("before")
	s, body := ctl(t, a, "POST", "/kafka/restart", "")
	if s != http.StatusOK || !strings.Contains(body, a.Kafka[0]) {
		t.Fatalf("restart: %d %s", s, body)
	}
	produce("after")
	consumer, err := kgo.NewClient(kgo.SeedBrokers(a.Kafka...), kgo.ConsumeTopics("out"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	var got []string
	for len(got) < 2 && ctx.Err() == nil {
		consumer.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"after", "before"}) {
		t.Fatalf("consumed %v", got)
	}
	if !strings.Contains(logs.String(), `"msg":"emulator ready"`) {
		t.Errorf("no ready log line:\n%s", logs)
	}
}

func TestSeparateControlAddr(t *testing.T) {
	a, _ := start(t, "-control-addr", "127.0.0.1:0")
	if strings.Contains(a.Control, a.AWS) {
		t.Fatalf("control %s shares the AWS address %s", a.Control, a.AWS)
	}
	if s, body := ctl(t, a, "GET", "/health", ""); s != http.StatusOK {
		t.Fatalf("health: %d %s", s, body)
	}
	// The AWS port keeps its own /_shardbridge/ routes.
	resp, err := http.Get("http://" + a.AWS + "/_shardbridge/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("AWS-port health: %d", resp.StatusCode)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-streams", "orders"},
		{"-streams", "orders:0"},
		{"-topics", ":3"},
		{"-kafka-port", "70000"},
		{"-log-level", "loud"},
		{"-nope"},
		{"extra"},
	} {
		err := run(context.Background(), args, io.Discard, nil)
		if !errors.Is(err, errUsage) {
			t.Errorf("%v: want a usage error, got %v", args, err)
		}
	}
}

// TestBinaryShutsDownOnSIGTERM builds the real binary, waits for its ready
// line and checks that SIGTERM ends it cleanly with exit code 0.
func TestBinaryShutsDownOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "emulator")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-aws-addr", "127.0.0.1:0", "-kafka-port", "0", "-streams", "s:1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var ready struct {
		Msg string `json:"msg"`
		AWS string `json:"aws"`
	}
	deadline := time.After(60 * time.Second)
	for ready.Msg != "emulator ready" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("emulator exited before it was ready")
			}
			_ = json.Unmarshal([]byte(line), &ready)
		case <-deadline:
			t.Fatal("no ready line")
		}
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/_shardbridge/health", ready.AWS))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var sawStopped bool
	for line := range lines {
		sawStopped = sawStopped || strings.Contains(line, `"msg":"emulator stopped"`)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if !sawStopped {
		t.Error(`no "emulator stopped" log line`)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatal(err)
	}
}
