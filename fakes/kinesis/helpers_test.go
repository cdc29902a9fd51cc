package kinesis_test

import (
	"context"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/fakes/clock"
	"github.com/shardbridge/shardbridge/fakes/kinesis"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	emu *kinesis.Emulator
	clk *clock.Clock
	c   *sdk.Client
	url string
}

// newEnv starts an emulator on a manual clock behind httptest and returns an
// SDK client without retries, so every error reaches the test.
func newEnv(tb testing.TB, limits bool, opts ...kinesis.Option) *env {
	tb.Helper()
	clk := clock.NewManual(t0)
	emu := kinesis.New(append([]kinesis.Option{kinesis.WithClock(clk), kinesis.WithLimits(limits)}, opts...)...)
	srv := httptest.NewServer(emu)
	tb.Cleanup(srv.Close)
	return &env{emu: emu, clk: clk, c: newClient(srv.URL), url: srv.URL}
}

func newClient(url string) *sdk.Client {
	return sdk.New(sdk.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(url),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Transport: kinesis.SDKTransport(nil)},
	})
}

var ctx = context.Background()

// wantErr fails unless err is (or wraps) the SDK's typed error T.
func wantErr[T error](tb testing.TB, err error) T {
	tb.Helper()
	var target T
	if err == nil {
		tb.Fatalf("want %T, got success", target)
	}
	if !errors.As(err, &target) {
		tb.Fatalf("want %T, got %T: %v", target, err, err)
	}
	return target
}

func must[T any](tb testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		tb.Helper()
		if err != nil {
			tb.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

func (e *env) create(tb testing.TB, name string, shards int) {
	tb.Helper()
	if err := e.emu.CreateStream(name, shards); err != nil {
		tb.Fatal(err)
	}
}

func (e *env) shards(tb testing.TB, name string) []types.Shard {
	tb.Helper()
	out := must[*sdk.ListShardsOutput](tb)(e.c.ListShards(ctx, &sdk.ListShardsInput{StreamName: aws.String(name)}))
	return out.Shards
}

func (e *env) iterator(tb testing.TB, in *sdk.GetShardIteratorInput) string {
	tb.Helper()
	out := must[*sdk.GetShardIteratorOutput](tb)(e.c.GetShardIterator(ctx, in))
	return aws.ToString(out.ShardIterator)
}

// readAll reads a shard from iter until it is caught up (empty page) or the
// shard ends; it returns the records and the last response.
func (e *env) readAll(tb testing.TB, iter string, limit int32) ([]types.Record, *sdk.GetRecordsOutput) {
	tb.Helper()
	var recs []types.Record
	for i := 0; ; i++ {
		if i > 100000 {
			tb.Fatal("readAll did not terminate")
		}
		in := &sdk.GetRecordsInput{ShardIterator: aws.String(iter)}
		if limit > 0 {
			in.Limit = aws.Int32(limit)
		}
		out := must[*sdk.GetRecordsOutput](tb)(e.c.GetRecords(ctx, in))
		recs = append(recs, out.Records...)
		if out.NextShardIterator == nil || len(out.Records) == 0 {
			return recs, out
		}
		iter = *out.NextShardIterator
	}
}

func bigOf(tb testing.TB, s string) *big.Int {
	tb.Helper()
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		tb.Fatalf("not a decimal integer: %q", s)
	}
	return b
}

func byID(shards []types.Shard) map[string]types.Shard {
	m := make(map[string]types.Shard, len(shards))
	for _, s := range shards {
		m[aws.ToString(s.ShardId)] = s
	}
	return m
}

func ids(shards []types.Shard) []string {
	out := make([]string, 0, len(shards))
	for _, s := range shards {
		out = append(out, aws.ToString(s.ShardId))
	}
	return out
}

func sid(n int) string {
	const digits = "000000000000"
	s := big.NewInt(int64(n)).String()
	return "shardId-" + digits[:12-len(s)] + s
}

var two128 = new(big.Int).Lsh(big.NewInt(1), 128)
