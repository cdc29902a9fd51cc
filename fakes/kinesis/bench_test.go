package kinesis_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/fakes/kinesis"
)

// benchEnv runs on the real clock with limits off: the benchmarks measure
// the emulator plus the SDK, not the production limits.
func benchEnv(b *testing.B, shards int) *sdk.Client {
	emu := kinesis.New(kinesis.WithLimits(false))
	srv := httptest.NewServer(emu)
	b.Cleanup(srv.Close)
	if err := emu.CreateStream("bench", shards); err != nil {
		b.Fatal(err)
	}
	return newClient(srv.URL)
}

func batch100(n, salt int) []types.PutRecordsRequestEntry {
	data := make([]byte, 100)
	out := make([]types.PutRecordsRequestEntry, n)
	for i := range out {
		out[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("key-%d-%d", salt, i)), Data: data}
	}
	return out
}

// BenchmarkPutRecords: one op is a PutRecords call of 500 records of 100
// bytes over 4 shards, issued from parallel clients.
func BenchmarkPutRecords(b *testing.B) {
	c := benchEnv(b, 4)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		recs := batch100(500, 0)
		for pb.Next() {
			out, err := c.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: aws.String("bench"), Records: recs})
			if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
				b.Errorf("PutRecords: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)*500/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkGetRecords: one op is a GetRecords call returning up to 10,000
// records of 100 bytes from one shard.
func BenchmarkGetRecords(b *testing.B) {
	c := benchEnv(b, 1)
	for i := 0; i < 100; i++ { // 50,000 records
		if _, err := c.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: aws.String("bench"), Records: batch100(500, i)}); err != nil {
			b.Fatal(err)
		}
	}
	trim := func() *string {
		out, err := c.GetShardIterator(ctx, &sdk.GetShardIteratorInput{StreamName: aws.String("bench"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			b.Fatal(err)
		}
		return out.ShardIterator
	}
	iter := trim()
	records := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			b.Fatal(err)
		}
		records += len(out.Records)
		iter = out.NextShardIterator
		if len(out.Records) == 0 {
			iter = trim()
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPutThenGet: the end-to-end figure of issue 2. One op puts 500
// records of 100 bytes and reads them back from the stream's shard.
func BenchmarkPutThenGet(b *testing.B) {
	c := benchEnv(b, 1)
	it, err := c.GetShardIterator(ctx, &sdk.GetShardIteratorInput{StreamName: aws.String("bench"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeLatest})
	if err != nil {
		b.Fatal(err)
	}
	iter := it.ShardIterator
	recs := batch100(500, 0)
	read := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: aws.String("bench"), Records: recs}); err != nil {
			b.Fatal(err)
		}
		out, err := c.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			b.Fatal(err)
		}
		read += len(out.Records)
		iter = out.NextShardIterator
	}
	if read != 500*b.N {
		b.Fatalf("read %d of %d records", read, 500*b.N)
	}
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkHandlerPutThenGet is BenchmarkPutThenGet without the SDK and the
// network: the emulator's own cost of storing and serving a record, i.e.
// what it adds to a replicator that reads it. One op puts 500 records of
// 100 bytes through ServeHTTP and reads them back.
func BenchmarkHandlerPutThenGet(b *testing.B) {
	emu := kinesis.New(kinesis.WithLimits(false))
	if err := emu.CreateStream("bench", 1); err != nil {
		b.Fatal(err)
	}
	var body strings.Builder
	body.WriteString(`{"StreamName":"bench","Records":[`)
	data := base64.StdEncoding.EncodeToString(make([]byte, 100))
	for i := 0; i < 500; i++ {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"Data":%q,"PartitionKey":"key-%d"}`, data, i)
	}
	body.WriteString("]}")
	putBody := []byte(body.String())
	call := func(op string, body []byte) []byte {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
		rec := httptest.NewRecorder()
		emu.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", op, rec.Code, rec.Body)
		}
		return rec.Body.Bytes()
	}
	var it struct {
		ShardIterator, NextShardIterator string
		Records                          []json.RawMessage
	}
	if err := json.Unmarshal(call("GetShardIterator", []byte(`{"StreamName":"bench","ShardId":"shardId-000000000000","ShardIteratorType":"LATEST"}`)), &it); err != nil {
		b.Fatal(err)
	}
	iter := it.ShardIterator
	read := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		call("PutRecords", putBody)
		out := call("GetRecords", []byte(`{"ShardIterator":"`+iter+`"}`))
		// Only the iterator is decoded; counting records by their key is
		// enough to check that all 500 came back.
		read += bytes.Count(out, []byte(`"SequenceNumber"`))
		end := bytes.LastIndex(out, []byte(`"NextShardIterator":"`))
		rest := out[end+len(`"NextShardIterator":"`):]
		iter = string(rest[:bytes.IndexByte(rest, '"')])
	}
	if read != 500*b.N {
		b.Fatalf("read %d of %d records", read, 500*b.N)
	}
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "records/s")
}
