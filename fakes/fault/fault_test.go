package fault_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/shardbridge/shardbridge/fakes/clock"
	"github.com/shardbridge/shardbridge/fakes/fault"
)

const (
	shard0 = "shardId-000000000000"
	shard1 = "shardId-000000000001"
)

func kinesisClient(url string, attempts int) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		RetryMaxAttempts: attempts,
	})
}

func dynamoClient(url string, attempts int) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		RetryMaxAttempts: attempts,
	})
}

// post sends one raw AWS JSON call and returns status and body.
func post(t *testing.T, url, target, body string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", target)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func newServer(t *testing.T, inj *fault.Injector) (*httptest.Server, *stubAWS) {
	stub := &stubAWS{}
	srv := httptest.NewServer(inj.Middleware(stub))
	t.Cleanup(srv.Close)
	return srv, stub
}

func TestSDKSeesTypedErrors(t *testing.T) {
	inj := fault.New()
	srv, _ := newServer(t, inj)
	ctx := context.Background()
	kc := kinesisClient(srv.URL, 1)
	dc := dynamoClient(srv.URL, 1)
	getRecords := func() error {
		_, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String("AAAA|" + shard0 + "|0")})
		return err
	}

	id := inj.Add(fault.Rule{Service: "kinesis", Operations: []string{"GetRecords"}, Action: fault.Throttle})
	var pte *types.ProvisionedThroughputExceededException
	if err := getRecords(); !errors.As(err, &pte) {
		t.Fatalf("throttle: want ProvisionedThroughputExceededException, got %v", err)
	}
	inj.Remove(id)

	id = inj.Add(fault.Rule{Operations: []string{"GetRecords"}, Action: fault.ExpiredIterator})
	var eie *types.ExpiredIteratorException
	if err := getRecords(); !errors.As(err, &eie) {
		t.Fatalf("expired: want ExpiredIteratorException, got %v", err)
	}
	inj.Remove(id)

	id = inj.Add(fault.Rule{Service: "kinesis", Action: fault.InternalFailure})
	assertAPIError(t, getRecords(), "InternalFailure", http.StatusInternalServerError)
	inj.Remove(id)

	id = inj.Add(fault.Rule{Service: "kinesis", Action: fault.ServiceUnavailable})
	assertAPIError(t, getRecords(), "ServiceUnavailable", http.StatusServiceUnavailable)
	inj.Remove(id)
	if err := getRecords(); err != nil {
		t.Fatalf("no rules left, want success: %v", err)
	}

	getItem := func() error {
		_, err := dc.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String("leases"),
			Key:       map[string]ddbtypes.AttributeValue{"leaseKey": &ddbtypes.AttributeValueMemberS{Value: shard0}},
		})
		return err
	}
	id = inj.Add(fault.Rule{Service: "dynamodb", Table: "leases", Action: fault.Throttle})
	var dpte *ddbtypes.ProvisionedThroughputExceededException
	if err := getItem(); !errors.As(err, &dpte) {
		t.Fatalf("dynamodb throttle: want ProvisionedThroughputExceededException, got %v", err)
	}
	inj.Remove(id)
	id = inj.Add(fault.Rule{Service: "dynamodb", Action: fault.InternalFailure})
	var ise *ddbtypes.InternalServerError
	if err := getItem(); !errors.As(err, &ise) {
		t.Fatalf("dynamodb internal failure: want InternalServerError, got %v", err)
	}
	inj.Remove(id)
	id = inj.Add(fault.Rule{Service: "dynamodb", Action: fault.ServiceUnavailable})
	assertAPIError(t, getItem(), "ServiceUnavailable", http.StatusServiceUnavailable)
	inj.Remove(id)
	if err := getItem(); err != nil {
		t.Fatalf("no rules left, want success: %v", err)
	}
	// A rule for another table leaves this one alone.
	inj.Add(fault.Rule{Service: "dynamodb", Table: "other", Action: fault.Throttle})
	if err := getItem(); err != nil {
		t.Fatalf("rule for another table fired: %v", err)
	}

	if got := inj.Count(fault.Throttle); got != 2 {
		t.Errorf("throttle count = %d, want 2", got)
	}
	if got := inj.Count(""); got != 7 {
		t.Errorf("total count = %d, want 7", got)
	}
	evs := inj.Events()
	if len(evs) != 7 {
		t.Fatalf("events = %d, want 7", len(evs))
	}
	first := evs[0]
	if first.Service != "kinesis" || first.Operation != "GetRecords" || first.Action != fault.Throttle || first.RuleID == "" {
		t.Errorf("first event = %+v", first)
	}
	if ev := evs[4]; ev.Service != "dynamodb" || ev.Operation != "GetItem" || ev.Table != "leases" {
		t.Errorf("dynamodb event = %+v", ev)
	}
}

func assertAPIError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("want API error %s, got %v", code, err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Fatalf("want HTTP %d, got %v", status, err)
	}
}

func TestDynamoDBFaultCarriesCRC32(t *testing.T) {
	inj := fault.New()
	srv, _ := newServer(t, inj)
	inj.Add(fault.Rule{Service: "dynamodb", Action: fault.Throttle})
	status, body, h := post(t, srv.URL, "DynamoDB_20120810.PutItem", `{"TableName":"t"}`)
	if status != http.StatusBadRequest {
		t.Fatalf("status = %d", status)
	}
	if got, want := h.Get("X-Amz-Crc32"), strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10); got != want {
		t.Errorf("X-Amz-Crc32 = %q, want %q", got, want)
	}
	var e struct {
		Type string `json:"__type"`
	}
	_ = json.Unmarshal(body, &e)
	if e.Type != "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException" {
		t.Errorf("__type = %q", e.Type)
	}
	if ct := h.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
		t.Errorf("Content-Type = %q", ct)
	}
}

// pattern sends n PutRecord calls and returns which were faulted.
func pattern(t *testing.T, seed int64, n int) []bool {
	inj := fault.New(fault.WithSeed(seed))
	srv, _ := newServer(t, inj)
	inj.Add(fault.Rule{Operations: []string{"PutRecord"}, Probability: 0.5, Action: fault.Throttle})
	// An unrelated rule that matches nothing must not disturb the sequence.
	inj.Add(fault.Rule{Operations: []string{"DeleteStream"}, Probability: 0.5, Action: fault.Throttle})
	out := make([]bool, n)
	for i := range out {
		status, _, _ := post(t, srv.URL, "Kinesis_20131202.PutRecord", `{"StreamName":"s","PartitionKey":"k","Data":"AA=="}`)
		out[i] = status != http.StatusOK
	}
	if got, want := inj.Count(fault.Throttle), countTrue(out); got != want {
		t.Fatalf("count %d != faulted responses %d", got, want)
	}
	return out
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func TestProbabilityIsReproducibleWithSeed(t *testing.T) {
	a, b, c := pattern(t, 42, 200), pattern(t, 42, 200), pattern(t, 7, 200)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed diverged at request %d", i)
		}
	}
	same := true
	for i := range a {
		same = same && a[i] == c[i]
	}
	if same {
		t.Error("different seeds gave the same 200-request pattern")
	}
	if n := countTrue(a); n < 60 || n > 140 {
		t.Errorf("p=0.5 fired %d of 200 times", n)
	}
}

func TestCountLimit(t *testing.T) {
	inj := fault.New()
	srv, stub := newServer(t, inj)
	id := inj.Add(fault.Rule{Name: "three", Service: "kinesis", Count: 3, Action: fault.ServiceUnavailable})
	failed := 0
	for range 10 {
		if status, _, _ := post(t, srv.URL, "Kinesis_20131202.ListStreams", `{}`); status == http.StatusServiceUnavailable {
			failed++
		}
	}
	if failed != 3 {
		t.Errorf("faulted %d requests, want 3", failed)
	}
	if got := stub.calls.Load(); got != 7 {
		t.Errorf("handler saw %d requests, want 7", got)
	}
	rules := inj.Rules()
	if len(rules) != 1 || rules[0].ID != id || rules[0].Fired != 3 || rules[0].Rule.Name != "three" {
		t.Errorf("rules = %+v", rules)
	}
	if evs := inj.Events(); len(evs) != 3 || evs[0].RuleName != "three" {
		t.Errorf("events = %+v", evs)
	}
}

func TestTimeWindowFollowsClock(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewManual(start)
	inj := fault.New(fault.WithClock(clk))
	srv, _ := newServer(t, inj)
	inj.Add(fault.Rule{Action: fault.InternalFailure, From: start.Add(time.Minute), Until: start.Add(2 * time.Minute)})
	call := func() int {
		status, _, _ := post(t, srv.URL, "Kinesis_20131202.ListStreams", `{}`)
		return status
	}
	if s := call(); s != http.StatusOK {
		t.Fatalf("before window: %d", s)
	}
	clk.Advance(time.Minute)
	if s := call(); s != http.StatusInternalServerError {
		t.Fatalf("inside window: %d", s)
	}
	clk.Advance(time.Minute)
	if s := call(); s != http.StatusOK {
		t.Fatalf("after window: %d", s)
	}
	if evs := inj.Events(); len(evs) != 1 || !evs[0].Time.Equal(start.Add(time.Minute)) {
		t.Errorf("events = %+v", evs)
	}
}

func TestProxyLearnsIteratorsForShardRules(t *testing.T) {
	stub := &stubAWS{}
	upstream := httptest.NewServer(stub)
	t.Cleanup(upstream.Close)
	inj := fault.New()
	proxy, err := fault.NewProxy(upstream.URL, inj)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)
	ctx := context.Background()
	kc := kinesisClient(front.URL, 1)

	iter := func(shard string) *string {
		out, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String("orders"), ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatalf("GetShardIterator %s: %v", shard, err)
		}
		return out.ShardIterator
	}
	get := func(it *string) (*kinesis.GetRecordsOutput, error) {
		return kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it})
	}
	it0, it1 := iter(shard0), iter(shard1)

	rule := fault.Rule{Service: "kinesis", Operations: []string{"GetRecords"}, Stream: "orders", Shard: shard1, Action: fault.Throttle}
	id := inj.Add(rule)
	var pte *types.ProvisionedThroughputExceededException
	if _, err := get(it1); !errors.As(err, &pte) {
		t.Fatalf("shard 1 GetRecords: want throttle, got %v", err)
	}
	out0, err := get(it0)
	if err != nil {
		t.Fatalf("shard 0 GetRecords: %v", err)
	}
	// Shard 0's chained iterator was learned as shard 0, not shard 1.
	if _, err := get(out0.NextShardIterator); err != nil {
		t.Fatalf("shard 0 chained GetRecords: %v", err)
	}

	inj.Remove(id)
	out1, err := get(it1)
	if err != nil {
		t.Fatalf("shard 1 without rule: %v", err)
	}
	if len(out1.Records) != 2 {
		t.Fatalf("records relayed = %d", len(out1.Records))
	}
	// The NextShardIterator relayed through the proxy is known to be shard 1.
	inj.Add(rule)
	if _, err := get(out1.NextShardIterator); !errors.As(err, &pte) {
		t.Fatalf("shard 1 chained GetRecords: want throttle, got %v", err)
	}

	evs := inj.Events()
	if len(evs) != 2 {
		t.Fatalf("events = %+v", evs)
	}
	for _, ev := range evs {
		if ev.Stream != "orders" || ev.Shard != shard1 || ev.Operation != "GetRecords" {
			t.Errorf("event = %+v", ev)
		}
	}
	if n := inj.LearnedIterators(); n != 5 {
		t.Errorf("learned %d iterators, want 5 (2 issued + 3 chained)", n)
	}
}

func TestNewProxyRejectsBadTarget(t *testing.T) {
	for _, target := range []string{"", "localhost:4566", "ftp://x", "http://"} {
		if _, err := fault.NewProxy(target, fault.New()); err == nil {
			t.Errorf("NewProxy(%q) accepted", target)
		}
	}
}

func TestIteratorMapIsBounded(t *testing.T) {
	inj := fault.New(fault.WithIteratorCapacity(3))
	srv, _ := newServer(t, inj)
	for range 5 {
		post(t, srv.URL, "Kinesis_20131202.GetShardIterator", `{"StreamName":"s","ShardId":"`+shard1+`"}`)
	}
	if n := inj.LearnedIterators(); n != 3 {
		t.Fatalf("learned = %d, want capacity 3", n)
	}
	// The newest iterator (seq 5) is still known; the oldest (seq 1) is not.
	inj.Add(fault.Rule{Shard: shard1, Action: fault.Throttle})
	if s, _, _ := post(t, srv.URL, "Kinesis_20131202.GetRecords", `{"ShardIterator":"AAAA|`+shard1+`|5"}`); s != http.StatusBadRequest {
		t.Errorf("newest iterator: status %d, want throttle", s)
	}
	if s, _, _ := post(t, srv.URL, "Kinesis_20131202.GetRecords", `{"ShardIterator":"AAAA|`+shard1+`|1"}`); s != http.StatusOK {
		t.Errorf("evicted iterator: status %d, want pass-through", s)
	}
}

func TestDropConnection(t *testing.T) {
	inj := fault.New()
	srv, stub := newServer(t, inj)
	inj.Add(fault.Rule{Operations: []string{"ListStreams"}, Count: 1, Action: fault.DropConnection})

	req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewBufferString(`{}`))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("want a connection error, got HTTP %d", resp.StatusCode)
	}
	if stub.calls.Load() != 0 {
		t.Error("dropped request reached the handler")
	}

	// The SDK treats a dropped connection as retryable and recovers.
	inj.Add(fault.Rule{Operations: []string{"ListStreams"}, Count: 1, Action: fault.DropConnection})
	if _, err := kinesisClient(srv.URL, 3).ListStreams(context.Background(), &kinesis.ListStreamsInput{}); err != nil {
		t.Fatalf("SDK did not recover from one dropped connection: %v", err)
	}
	// Without retries the SDK reports a transport error, not an API error.
	inj.Add(fault.Rule{Operations: []string{"ListStreams"}, Count: 1, Action: fault.DropConnection})
	_, err = kinesisClient(srv.URL, 1).ListStreams(context.Background(), &kinesis.ListStreamsInput{})
	var ae smithy.APIError
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("want a transport error, got %v", err)
	}
	if got := inj.Count(fault.DropConnection); got != 3 {
		t.Errorf("drop count = %d, want 3", got)
	}
}

func TestLoseResponseAppliesTheRequestThenFails(t *testing.T) {
	inj := fault.New()
	srv, stub := newServer(t, inj)
	inj.Add(fault.Rule{Operations: []string{"ListStreams"}, Count: 1, Action: fault.LoseResponse})
	_, err := kinesisClient(srv.URL, 1).ListStreams(context.Background(), &kinesis.ListStreamsInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InternalFailure" {
		t.Fatalf("want InternalFailure, got %v", err)
	}
	if stub.calls.Load() != 1 {
		t.Errorf("the request reached the handler %d times, want 1 (applied, answer lost)", stub.calls.Load())
	}
	if got := inj.Count(fault.LoseResponse); got != 1 {
		t.Errorf("lose-response count = %d, want 1", got)
	}
}

func TestLatency(t *testing.T) {
	inj := fault.New()
	srv, stub := newServer(t, inj)
	const d = 50 * time.Millisecond
	inj.Add(fault.Rule{Operations: []string{"ListStreams"}, Action: fault.Latency, Latency: d})
	inj.Add(fault.Rule{Operations: []string{"ListStreams"}, Action: fault.Latency, Latency: d})
	start := time.Now()
	if s, _, _ := post(t, srv.URL, "Kinesis_20131202.ListStreams", `{}`); s != http.StatusOK {
		t.Fatalf("status %d", s)
	}
	// Only a lower bound: the two delays add up before forwarding.
	if el := time.Since(start); el < 2*d {
		t.Errorf("elapsed %v, want at least %v", el, 2*d)
	}
	if stub.calls.Load() != 1 || inj.Count(fault.Latency) != 2 {
		t.Errorf("calls %d, latency events %d", stub.calls.Load(), inj.Count(fault.Latency))
	}
	evs := inj.Events()
	if len(evs) != 2 || evs[0].Latency != d {
		t.Errorf("events = %+v", evs)
	}
}

func TestLatencyThenError(t *testing.T) {
	inj := fault.New()
	srv, stub := newServer(t, inj)
	inj.Add(fault.Rule{Action: fault.Latency, Latency: time.Millisecond})
	inj.Add(fault.Rule{Action: fault.Throttle})
	if s, _, _ := post(t, srv.URL, "Kinesis_20131202.ListStreams", `{}`); s != http.StatusBadRequest {
		t.Fatalf("status %d, want throttle after latency", s)
	}
	if stub.calls.Load() != 0 {
		t.Error("throttled request reached the handler")
	}
}

func TestLatencyHonoursRequestContext(t *testing.T) {
	inj := fault.New()
	stub := &stubAWS{}
	returned := make(chan struct{}, 1)
	mw := inj.Middleware(stub)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mw.ServeHTTP(w, r)
		returned <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	inj.Add(fault.Rule{Action: fault.Latency, Latency: time.Hour})

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewBufferString(`{}`))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	// Cancel once the request is sleeping inside the injector.
	for inj.Count(fault.Latency) == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("cancelled request succeeded")
	}
	select {
	case <-returned:
	case <-time.After(30 * time.Second):
		t.Fatal("handler still sleeping after the client cancelled")
	}
	if stub.calls.Load() != 0 {
		t.Error("cancelled request reached the handler")
	}
}

func TestNonAWSRequestsPassThrough(t *testing.T) {
	inj := fault.New()
	srv, stub := newServer(t, inj)
	inj.Add(fault.Rule{Action: fault.InternalFailure})
	resp, err := http.Get(srv.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || stub.calls.Load() != 1 {
		t.Errorf("status %d calls %d", resp.StatusCode, stub.calls.Load())
	}
}

func TestRuleMatchingSelectors(t *testing.T) {
	inj := fault.New()
	srv, _ := newServer(t, inj)
	inj.Add(fault.Rule{Service: "kinesis", Stream: "a", Shard: shard1, Action: fault.Throttle})
	inj.Add(fault.Rule{Service: "dynamodb", Table: "t2", Action: fault.InternalFailure})
	cases := []struct {
		target, body string
		want         int
	}{
		{"Kinesis_20131202.GetShardIterator", `{"StreamName":"a","ShardId":"` + shard1 + `"}`, 400},
		{"Kinesis_20131202.GetShardIterator", `{"StreamName":"a","ShardId":"` + shard0 + `"}`, 200},
		{"Kinesis_20131202.GetShardIterator", `{"StreamName":"b","ShardId":"` + shard1 + `"}`, 200},
		{"Kinesis_20131202.GetShardIterator", `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/a","ShardId":"` + shard1 + `"}`, 400},
		{"Kinesis_20131202.SplitShard", `{"StreamName":"a","ShardToSplit":"` + shard1 + `"}`, 400},
		{"Kinesis_20131202.MergeShards", `{"StreamName":"a","ShardToMerge":"` + shard0 + `","AdjacentShardToMerge":"` + shard1 + `"}`, 400},
		{"DynamoDB_20120810.PutItem", `{"TableName":"t1"}`, 200},
		{"DynamoDB_20120810.PutItem", `{"TableName":"arn:aws:dynamodb:us-east-1:0:table/t2"}`, 500},
		{"DynamoDB_20120810.BatchWriteItem", `{"RequestItems":{"t1":[],"t2":[]}}`, 500},
		{"DynamoDB_20120810.TransactWriteItems", `{"TransactItems":[{"Put":{"TableName":"t2"}}]}`, 500},
		{"DynamoDB_20120810.PutItem", `not json`, 200},
	}
	for _, c := range cases {
		if got, _, _ := post(t, srv.URL, c.target, c.body); got != c.want {
			t.Errorf("%s %s: status %d, want %d", c.target, c.body, got, c.want)
		}
	}
}

func TestRuleValidationAndJSON(t *testing.T) {
	bad := []fault.Rule{
		{Action: "explode"},
		{Action: fault.Throttle, Service: "s3"},
		{Action: fault.Throttle, Probability: 1.5},
		{Action: fault.Throttle, Count: -1},
		{Action: fault.Latency},
		{Action: fault.Throttle, From: time.Unix(10, 0), Until: time.Unix(5, 0)},
	}
	inj := fault.New()
	for _, r := range bad {
		if r.Validate() == nil {
			t.Errorf("Validate accepted %+v", r)
		}
		if id := inj.Add(r); id != "" {
			t.Errorf("Add accepted %+v as %s", r, id)
		}
	}
	var r fault.Rule
	if err := json.Unmarshal([]byte(`{"action":"latency","latency":"250ms","operations":["GetRecords"],"count":2}`), &r); err != nil {
		t.Fatal(err)
	}
	if r.Latency != 250*time.Millisecond || r.Count != 2 || r.Operations[0] != "GetRecords" {
		t.Errorf("decoded %+v", r)
	}
	b, _ := json.Marshal(r)
	var back fault.Rule
	if err := json.Unmarshal(b, &back); err != nil || back.Latency != r.Latency {
		t.Errorf("round trip %s -> %+v (%v)", b, back, err)
	}
	if err := json.Unmarshal([]byte(`{"action":"latency","latency":100}`), &r); err != nil || r.Latency != 100*time.Millisecond {
		t.Errorf("numeric latency: %v %v", r.Latency, err)
	}
	if err := json.Unmarshal([]byte(`{"action":"throttle","operation":"GetRecords"}`), &r); err == nil {
		t.Error("a misspelt selector was accepted")
	}
	if err := json.Unmarshal([]byte(`{"action":"latency","latency":"soon"}`), &r); err == nil {
		t.Error("a bad latency was accepted")
	}
}

func TestMaxEventsKeepsNewestButCountsAll(t *testing.T) {
	inj := fault.New(fault.WithMaxEvents(8))
	srv, _ := newServer(t, inj)
	inj.Add(fault.Rule{Action: fault.Throttle})
	for range 20 {
		post(t, srv.URL, "Kinesis_20131202.ListStreams", `{}`)
	}
	if n := len(inj.Events()); n > 8 || n < 6 {
		t.Errorf("retained %d events, want at most 8", n)
	}
	if inj.Count(fault.Throttle) != 20 || inj.Counts()[fault.Throttle] != 20 {
		t.Errorf("count %d, want 20", inj.Count(fault.Throttle))
	}
}

// TestOversizedBodyStreamsThrough: a body past WithMaxBody is not buffered;
// it reaches the handler byte for byte, operation rules still fire and
// content selectors do not match it.
func TestOversizedBodyStreamsThrough(t *testing.T) {
	const limit = 1 << 10
	var got atomic.Int64
	sink := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.Store(n)
		w.WriteHeader(http.StatusOK)
	})
	inj := fault.New(fault.WithMaxBody(limit))
	srv := httptest.NewServer(inj.Middleware(sink))
	t.Cleanup(srv.Close)
	big := `{"StreamName":"a","Records":[` + strings.Repeat(" ", 4*limit) + `]}`
	send := func(chunked bool) int {
		t.Helper()
		var body io.Reader = strings.NewReader(big)
		if chunked {
			body = io.MultiReader(body) // hides the length: sent chunked
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL, body)
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	id := inj.Add(fault.Rule{Stream: "a", Action: fault.Throttle})
	for _, chunked := range []bool{false, true} {
		got.Store(0)
		if s := send(chunked); s != http.StatusOK || got.Load() != int64(len(big)) {
			t.Errorf("chunked=%v: status %d, handler read %d of %d bytes", chunked, s, got.Load(), len(big))
		}
	}
	inj.Remove(id)
	inj.Add(fault.Rule{Operations: []string{"PutRecords"}, Action: fault.Throttle})
	if s := send(true); s != http.StatusBadRequest {
		t.Errorf("operation rule on an oversized body: status %d", s)
	}
}
