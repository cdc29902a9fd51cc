package kinesis_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shardbridge/shardbridge/fakes/clock"
	"github.com/shardbridge/shardbridge/fakes/kinesis"
)

// fuzzOps are the operations FuzzHandler aims bodies at: every supported one
// plus targets the emulator must refuse.
var fuzzOps = []string{
	"CreateStream", "DeleteStream", "DescribeStream", "DescribeStreamSummary", "ListStreams",
	"ListShards", "PutRecord", "PutRecords", "GetShardIterator", "GetRecords", "SplitShard",
	"MergeShards", "UpdateShardCount", "IncreaseStreamRetentionPeriod", "DecreaseStreamRetentionPeriod",
	"SubscribeToShard", "getrecords", "",
}

// fuzzEmulator is a small, deterministic emulator: stream "s" with 2 shards
// and a few records on a manual clock, so iterators and tokens issued to the
// seeds below are the same on every run.
func fuzzEmulator(tb testing.TB, limits bool) *kinesis.Emulator {
	tb.Helper()
	e := kinesis.New(kinesis.WithClock(clock.NewManual(t0)), kinesis.WithLimits(limits))
	if err := e.CreateStream("s", 2); err != nil {
		tb.Fatal(err)
	}
	for _, body := range []string{
		`{"StreamName":"s","Records":[{"Data":"AAE=","PartitionKey":"a"},{"Data":"","PartitionKey":"b"},{"Data":"eHl6","PartitionKey":"c","ExplicitHashKey":"0"}]}`,
	} {
		if rec := fuzzCall(e, "PutRecords", []byte(body)); rec.Code != http.StatusOK {
			tb.Fatalf("seed put: %d %s", rec.Code, rec.Body)
		}
	}
	return e
}

func fuzzCall(e http.Handler, op string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// checkAWSResponse fails unless rec is a well-formed Kinesis answer: a JSON
// object with the JSON 1.1 content type; errors carry __type and message and
// are client errors (a 500 from a request body is an emulator bug).
func checkAWSResponse(t *testing.T, op string, body []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Fatalf("%s %q: Content-Type %q", op, body, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m == nil {
		t.Fatalf("%s %q: response %q is not a JSON object: %v", op, body, rec.Body.Bytes(), err)
	}
	if rec.Code == http.StatusOK {
		return
	}
	typ, _ := m["__type"].(string)
	msg, _ := m["message"].(string)
	if rec.Code != http.StatusBadRequest || typ == "" || msg == "" {
		t.Fatalf("%s %q: error response %d %s", op, body, rec.Code, rec.Body.Bytes())
	}
}

func fuzzSeeds(tb testing.TB) map[string][]string {
	// Real iterators and tokens, valid for the deterministic emulator.
	e := fuzzEmulator(tb, false)
	var it, tok struct{ ShardIterator, NextToken string }
	_ = json.Unmarshal(fuzzCall(e, "GetShardIterator", []byte(`{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}`)).Body.Bytes(), &it)
	_ = json.Unmarshal(fuzzCall(e, "ListShards", []byte(`{"StreamName":"s","MaxResults":1}`)).Body.Bytes(), &tok)
	if it.ShardIterator == "" || tok.NextToken == "" {
		tb.Fatal("no seed iterator or token")
	}
	return map[string][]string{
		"CreateStream": {`{"StreamName":"n","ShardCount":3}`, `{"StreamName":"o","StreamModeDetails":{"StreamMode":"ON_DEMAND"},"MaxRecordSizeInKiB":2048}`,
			`{"StreamName":"s","ShardCount":1}`, `{"StreamName":"x","ShardCount":-1}`},
		"DeleteStream":          {`{"StreamName":"s"}`, `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s"}`, `{}`},
		"DescribeStream":        {`{"StreamName":"s","Limit":1,"ExclusiveStartShardId":"shardId-000000000000"}`},
		"DescribeStreamSummary": {`{"StreamName":"s"}`, `{"StreamARN":"arn:aws:kinesis:x"}`},
		"ListStreams":           {`{"Limit":1}`, `{"NextToken":"streams:cw"}`, `{"ExclusiveStartStreamName":"a"}`},
		"ListShards": {`{"StreamName":"s","ShardFilter":{"Type":"AT_TIMESTAMP","Timestamp":1.7e9}}`,
			`{"StreamName":"s","ShardFilter":{"Type":"FROM_TIMESTAMP","Timestamp":1e300},"MaxResults":1}`,
			`{"StreamName":"s","ShardFilter":{"Type":"AFTER_SHARD_ID","ShardId":"shardId-000000000000"}}`,
			`{"NextToken":"` + tok.NextToken + `"}`, `{"StreamName":"s","StreamCreationTimestamp":"1772366400"}`},
		"PutRecord": {`{"StreamName":"s","PartitionKey":"k","Data":"AAE=","SequenceNumberForOrdering":"1"}`,
			`{"StreamName":"s","PartitionKey":"k","Data":"!!"}`, `{"StreamName":"s","PartitionKey":"k","ExplicitHashKey":"340282366920938463463374607431768211455","Data":""}`},
		"PutRecords": {`{"StreamName":"s","Records":[{"Data":"AAE=","PartitionKey":"a"},{"Data":"AA==","PartitionKey":"é","ExplicitHashKey":"1"}]}`,
			`{"StreamName":"s","Records":[]}`, `{"StreamName":"s","Records":[{"Data":null,"PartitionKey":null}]}`},
		"GetShardIterator": {`{"StreamName":"s","ShardId":"shardId-000000000001","ShardIteratorType":"LATEST"}`,
			`{"StreamName":"s","ShardId":"0","ShardIteratorType":"AT_TIMESTAMP","Timestamp":1772366400.001}`,
			`{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"AT_SEQUENCE_NUMBER","StartingSequenceNumber":"49000000000001000001000000000100000000000000123456789012"}`},
		"GetRecords": {`{"ShardIterator":"` + it.ShardIterator + `","Limit":2}`, `{"ShardIterator":"` + it.ShardIterator + `"}`,
			`{"ShardIterator":"eyJzIjoicyIsImkiOjEsImgiOjAsInAiOjAsInQiOjB9"}`, `{"ShardIterator":"` + it.ShardIterator + `","Limit":100000}`},
		"SplitShard": {`{"StreamName":"s","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"1000"}`,
			`{"StreamName":"s","ShardToSplit":"shardId-000000000001","NewStartingHashKey":"170141183460469231731687303715884105728"}`},
		"MergeShards": {`{"StreamName":"s","ShardToMerge":"shardId-000000000001","AdjacentShardToMerge":"shardId-000000000000"}`,
			`{"StreamName":"s","ShardToMerge":"shardId-000000000000","AdjacentShardToMerge":"shardId-000000000000"}`},
		"UpdateShardCount":              {`{"StreamName":"s","TargetShardCount":3,"ScalingType":"UNIFORM_SCALING"}`, `{"StreamName":"s","TargetShardCount":1,"ScalingType":"UNIFORM_SCALING"}`},
		"IncreaseStreamRetentionPeriod": {`{"StreamName":"s","RetentionPeriodHours":48}`},
		"DecreaseStreamRetentionPeriod": {`{"StreamName":"s","RetentionPeriodHours":24}`},
		"":                              {`{}`},
	}
}

// FuzzHandler posts arbitrary bodies to every operation of a populated
// emulator. Whatever the body, the emulator must not panic and must answer
// a well-formed AWS JSON response (4xx for bad input, never 5xx).
func FuzzHandler(f *testing.F) {
	seeds := fuzzSeeds(f)
	for i, op := range fuzzOps {
		for _, s := range seeds[op] {
			f.Add(uint8(i), true, []byte(s))
			f.Add(uint8(i), false, []byte(s))
		}
		for _, generic := range []string{``, `null`, `[]`, `{"StreamName":`, `{"StreamName":123}`, `"x"`, strings.Repeat("[", 10000)} {
			f.Add(uint8(i), true, []byte(generic))
		}
	}
	f.Fuzz(func(t *testing.T, sel uint8, limits bool, body []byte) {
		op := fuzzOps[int(sel)%len(fuzzOps)]
		e := fuzzEmulator(t, limits)
		checkAWSResponse(t, op, body, fuzzCall(e, op, body))
		// A second call sees whatever state the first left behind.
		checkAWSResponse(t, op, body, fuzzCall(e, op, body))
		for _, probe := range []struct{ op, body string }{
			{"ListShards", `{"StreamName":"s"}`},
			{"DescribeStream", `{"StreamName":"s"}`},
		} {
			checkAWSResponse(t, probe.op, []byte(probe.body), fuzzCall(e, probe.op, []byte(probe.body)))
		}
	})
}

// TestHandlerRobustness covers what the fuzzer rarely builds: wrong methods,
// missing targets, CBOR, and bodies far above any AWS limit.
func TestHandlerRobustness(t *testing.T) {
	e := fuzzEmulator(t, true)
	for _, c := range []struct {
		name, method, target, ctype string
		body                        []byte
		wantType                    string
	}{
		{"GET", http.MethodGet, "Kinesis_20131202.ListStreams", "", nil, "MissingAction"},
		{"no target", http.MethodPost, "", "", []byte(`{}`), "MissingAction"},
		{"other service", http.MethodPost, "DynamoDB_20120810.GetItem", "", []byte(`{}`), "MissingAction"},
		{"unknown op", http.MethodPost, "Kinesis_20131202.Nope", "", []byte(`{}`), "UnknownOperationException"},
		{"cbor", http.MethodPost, "Kinesis_20131202.ListStreams", "application/x-amz-cbor-1.1", []byte{0xa0}, "SerializationException"},
		{"not json", http.MethodPost, "Kinesis_20131202.ListStreams", "", []byte(`{"Limit":`), "SerializationException"},
		{"wrong types", http.MethodPost, "Kinesis_20131202.PutRecord", "", []byte(`{"StreamName":["s"]}`), "SerializationException"},
	} {
		req := httptest.NewRequest(c.method, "/", bytes.NewReader(c.body))
		req.Header.Set("X-Amz-Target", c.target)
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		checkAWSResponse(t, c.name, c.body, rec)
		var m map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &m)
		if m["__type"] != c.wantType {
			t.Errorf("%s: got %s, want %s", c.name, rec.Body, c.wantType)
		}
	}

	// A declared length above the cap is refused before anything is read.
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
	req.ContentLength = 1 << 40
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	checkAWSResponse(t, "declared huge", nil, rec)
	if !strings.Contains(rec.Body.String(), "SerializationException") || !strings.Contains(rec.Body.String(), "too large") {
		t.Errorf("declared huge body: %s", rec.Body)
	}
	// A chunked body (no declared length) that never ends is cut at the cap.
	req = httptest.NewRequest(http.MethodPost, "/", &endless{})
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
	req.ContentLength = -1
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	checkAWSResponse(t, "endless", nil, rec)
	if !strings.Contains(rec.Body.String(), "too large") {
		t.Errorf("endless body: %s", rec.Body)
	}
}

// endless is a request body that never ends ({"Records":[[[[...).
type endless struct{ n int }

func (r *endless) Read(p []byte) (int, error) {
	for i := range p {
		if r.n < len(`{"Records":`) {
			p[i] = `{"Records":`[r.n]
		} else {
			p[i] = '['
		}
		r.n++
	}
	return len(p), nil
}
