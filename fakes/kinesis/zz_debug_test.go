package kinesis_test

import (
	"fmt"
	"net/http"
	"testing"
	"net/http/httptest"
	"net/http/httptrace"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/shardbridge/shardbridge/fakes/kinesis"
)

func TestZZDebug(t *testing.T) {
	for _, mode := range []string{"sdk-default", "plain-http"} {
		fails := 0
		for round := 0; round < 300; round++ {
			emu := kinesis.New(kinesis.WithLimits(false))
			srv := httptest.NewServer(emu)
			o := sdk.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{}}
			if mode == "plain-http" {
				o.HTTPClient = &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
					tr := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
						if i.Err != nil {
							t.Logf("wrote request error: %v", i.Err)
						}
					}}
					r = r.WithContext(httptrace.WithClientTrace(r.Context(), tr))
					if r.Body != nil {
						r.Body = struct{ io.ReadCloser }{r.Body}
					}
					return http.DefaultTransport.RoundTrip(r)
				})}
			}
			c := sdk.New(o)
			emu.CreateStream("s", 4)
			c.ListShards(ctx, &sdk.ListShardsInput{StreamName: aws.String("s")})
			var entries []types.PutRecordsRequestEntry
			for i := 0; i < 400; i++ {
				key := fmt.Sprintf("user-%d", i)
				entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(key), Data: []byte(key)})
			}
			_, err := c.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: aws.String("s"), Records: entries})
			if err != nil {
				fails++
				if fails < 2 {
					t.Logf("%s round %d: %v", mode, round, err)
				}
			}
			srv.Close()
		}
		t.Logf("%s fails %d/300", mode, fails)
	}
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
