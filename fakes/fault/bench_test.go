package fault_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/shardbridge/shardbridge/fakes/fault"
)

// getRecordsBody is a GetRecords answer with n records of 100 bytes.
func getRecordsBody(n int) []byte {
	type rec struct {
		Data           string
		PartitionKey   string
		SequenceNumber string
	}
	out := struct {
		Records            []rec
		NextShardIterator  string
		MillisBehindLatest int
	}{NextShardIterator: "AAAA|shardId-000000000000|2"}
	data := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 100))
	for i := range n {
		out.Records = append(out.Records, rec{data, fmt.Sprint("key-", i), fmt.Sprintf("%056d", i)})
	}
	b, _ := json.Marshal(out)
	return b
}

// BenchmarkMiddlewareGetRecords measures the cost the fault layer adds to a
// 10,000-record GetRecords call it must learn the next iterator from.
func BenchmarkMiddlewareGetRecords(b *testing.B) {
	body := getRecordsBody(10_000)
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		// Written in two parts, as a streaming encoder would.
		_, _ = w.Write(body[:len(body)/2])
		_, _ = w.Write(body[len(body)/2:])
	})
	inj := fault.New()
	inj.Add(fault.Rule{Service: "dynamodb", Table: "other", Action: fault.Throttle}) // rules exist, none match
	h := inj.Middleware(next)
	req := []byte(`{"ShardIterator":"AAAA|shardId-000000000000|1","Limit":10000}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(req))
		r.Header.Set("X-Amz-Target", "Kinesis_20131202.GetRecords")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
	}
}

// BenchmarkMiddlewarePutRecords measures a 500-record PutRecords passing a
// rule set that does not select on streams.
func BenchmarkMiddlewarePutRecords(b *testing.B) {
	type entry struct{ Data, PartitionKey string }
	in := struct {
		StreamName string
		Records    []entry
	}{StreamName: "orders"}
	data := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 100))
	for i := range 500 {
		in.Records = append(in.Records, entry{data, fmt.Sprint("key-", i)})
	}
	reqBody, _ := json.Marshal(in)
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{}`)) })
	inj := fault.New()
	inj.Add(fault.Rule{Operations: []string{"GetRecords"}, Action: fault.Throttle})
	h := inj.Middleware(next)
	b.SetBytes(int64(len(reqBody)))
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(reqBody))
		r.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}
