package checker_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/onsi/gomega"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/fakes/clock"
	"github.com/shardbridge/shardbridge/fakes/kinesis"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/workload"
)

// bridge is a deliberately simple Kinesis→Kafka bridge written for this
// test (it shares no code with the replicator): it copies every shard to
// Kafka in order, de-aggregating KPL aggregates, dead-letters what it cannot
// deliver, and can be told to misbehave.
type bridge struct {
	maxBytes  int
	skip      int // drop the n-th delivered record (1-based; 0 = never)
	duplicate int // deliver the n-th record twice
	// headerless writes no kinesis.* headers (only the dlq.* reasons), so
	// the checker must identify records by payload.
	headerless bool
	n          int
}

func (b *bridge) run(ctx context.Context, t *testing.T, kc *sdk.Client, kafka *kgo.Client, stream string) {
	t.Helper()
	shards, err := kc.ListShards(ctx, &sdk.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &sdk.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for iter := it.ShardIterator; iter != nil; {
			got, err := kc.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range got.Records {
				b.deliver(ctx, t, kafka, stream, *sh.ShardId, r)
			}
			if len(got.Records) == 0 && aws.ToInt64(got.MillisBehindLatest) == 0 {
				break
			}
			iter = got.NextShardIterator
		}
	}
}

func (b *bridge) deliver(ctx context.Context, t *testing.T, kafka *kgo.Client, stream, shard string, r types.Record) {
	headers := func(sub int64) []kgo.RecordHeader {
		if b.headerless {
			return nil
		}
		h := []kgo.RecordHeader{
			{Key: checker.HeaderStream, Value: []byte(stream)},
			{Key: checker.HeaderShard, Value: []byte(shard)},
			{Key: checker.HeaderSeq, Value: []byte(*r.SequenceNumber)},
			{Key: checker.HeaderArrivalMs, Value: []byte(strconv.FormatInt(r.ApproximateArrivalTimestamp.UnixMilli(), 10))},
		}
		if sub >= 0 {
			h = append(h, kgo.RecordHeader{Key: checker.HeaderSubSeq, Value: []byte(strconv.FormatInt(sub, 10))})
		}
		return h
	}
	dead := func(sub int64, data []byte, stage, reason string) {
		h := append(headers(sub), kgo.RecordHeader{Key: checker.HeaderDLQStage, Value: []byte(stage)}, kgo.RecordHeader{Key: checker.HeaderDLQError, Value: []byte(reason)})
		if err := kafka.ProduceSync(ctx, &kgo.Record{Topic: "dlq", Key: []byte(*r.PartitionKey), Value: data[:min(len(data), 1024)], Headers: h}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	subs, err := deaggregate(r.Data)
	switch {
	case errors.Is(err, errNotAggregated):
		subs = []subRecord{{PartitionKey: *r.PartitionKey, Data: r.Data, SubSequence: -1}}
	case err != nil:
		dead(-1, r.Data, "deaggregate", err.Error())
		return
	}
	for _, s := range subs {
		switch {
		case !json.Valid(s.Data):
			dead(s.SubSequence, s.Data, "transform", "invalid JSON")
			continue
		case len(s.Data) > b.maxBytes:
			dead(s.SubSequence, s.Data, "sink", "MESSAGE_TOO_LARGE")
			continue
		}
		b.n++
		copies := 1
		if b.n == b.skip {
			copies = 0
		}
		if b.n == b.duplicate {
			copies = 2
		}
		for range copies {
			rec := &kgo.Record{Topic: "out", Key: []byte(s.PartitionKey), Value: s.Data, Headers: headers(s.SubSequence)}
			if err := kafka.ProduceSync(ctx, rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestEndToEndThroughEmulators(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
	defer cancel()
	emu := kinesis.New(kinesis.WithClock(clock.New()))
	srv := httptest.NewServer(emu)
	defer srv.Close()
	kc := sdk.New(sdk.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:  &http.Client{Transport: kinesis.SDKTransport(nil)},
	})

	// run replicates a fresh workload through b and checks the outcome;
	// recheck judges the same history with other options.
	var recheck func(checker.Options) checker.Result
	run := func(t *testing.T, b *bridge) (checker.Result, *workload.Workload) {
		stream := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
		if err := emu.CreateStream(stream, 2); err != nil {
			t.Fatal(err)
		}
		emu.SetLimits(stream, false)
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "out", "dlq"))
		if err != nil {
			t.Fatal(err)
		}
		defer cluster.Close()
		brokers := cluster.ListenAddrs()
		w, err := workload.New(kc, stream, workload.WithProducers(2), workload.WithKeys(workload.ZipfKeys(20, 1.3)),
			workload.WithAggregation(3), workload.WithMalformedEvery(10), workload.WithOversizedEvery(17),
			workload.WithOversizedSize(64<<10), workload.WithTotal(400), workload.WithSeed(5))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Run(ctx); err != nil {
			t.Fatal(err)
		}
		kafka, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer kafka.Close()
		b.run(ctx, t, kc, kafka, stream)
		out, err := checker.ReadTopic(ctx, brokers, "out")
		if err != nil {
			t.Fatal(err)
		}
		dlq, err := checker.ReadTopic(ctx, brokers, "dlq")
		if err != nil {
			t.Fatal(err)
		}
		recheck = func(o checker.Options) checker.Result {
			o.Unconfirmed = w.Unconfirmed()
			return checker.Check(w.Acked(), out, dlq, o)
		}
		return recheck(checker.Options{}), w
	}

	t.Run("faithful", func(t *testing.T) {
		g := gomega.NewWithT(t)
		res, w := run(t, &bridge{maxBytes: 32 << 10})
		g.Expect(res).To(checker.Pass(checker.ExactlyOnce))
		g.Expect(res).To(checker.BeExactlyOnceByIdempotence())
		g.Expect(res).To(checker.AccountForEveryDLQRecord())
		g.Expect(res.Acked).To(gomega.Equal(int(w.Produced())))
		g.Expect(res.DeadLettered).To(gomega.Equal(res.AckedMalformed + res.AckedOversized))
		g.Expect(res.AckedMalformed).To(gomega.BeNumerically(">", 0))
		g.Expect(res.AckedOversized).To(gomega.BeNumerically(">", 0))
		g.Expect(res.Latency.Count).To(gomega.BeEquivalentTo(res.Replicated))
	})
	t.Run("sabotaged", func(t *testing.T) {
		g := gomega.NewWithT(t)
		res, _ := run(t, &bridge{maxBytes: 32 << 10, skip: 50, duplicate: 120})
		g.Expect(res.Lost.Count).To(gomega.Equal(1))
		g.Expect(res.Duplicated.Count).To(gomega.Equal(1))
		g.Expect(res).NotTo(checker.LoseNothing())
		g.Expect(res).NotTo(checker.Pass(checker.AtLeastOnce))
	})
	t.Run("headerless faithful", func(t *testing.T) {
		g := gomega.NewWithT(t)
		res, w := run(t, &bridge{maxBytes: 32 << 10, headerless: true})
		g.Expect(res).To(checker.Pass(checker.ExactlyOnce))
		g.Expect(res).To(checker.BeExactlyOnceByIdempotence())
		g.Expect(res).To(checker.AccountForEveryDLQRecord())
		g.Expect(res.Acked).To(gomega.Equal(int(w.Produced())))
		g.Expect(res.IdentifiedByPayload).To(gomega.Equal(res.OutputRecords))
		g.Expect(res.Replicated).To(gomega.Equal(res.AckedNormal))
		// Corrupt aggregates and truncated oversized payloads are not
		// payloads: matched to the dead-letter acks by count.
		g.Expect(res.AnonymousDeadLetters).To(gomega.Equal(res.AckedMalformed + res.AckedOversized))
		g.Expect(res.DeadLettered).To(gomega.Equal(res.AckedMalformed + res.AckedOversized))
		g.Expect(res.Latency.Count).To(gomega.BeEquivalentTo(res.Replicated))
		g.Expect(res.AckedMalformed).To(gomega.BeNumerically(">", 0))
		// Requiring the headers reports every record.
		strict := recheck(checker.Options{Identity: checker.IdentityHeaders})
		g.Expect(strict.Unexpected.Count).To(gomega.Equal(strict.OutputRecords))
		g.Expect(strict.DLQ.Count).To(gomega.Equal(strict.DLQRecords))
		g.Expect(strict.Lost.Count).To(gomega.Equal(strict.Acked))
	})
	t.Run("headerless sabotaged", func(t *testing.T) {
		g := gomega.NewWithT(t)
		res, _ := run(t, &bridge{maxBytes: 32 << 10, skip: 50, duplicate: 120, headerless: true})
		g.Expect(res.Lost.Count).To(gomega.Equal(1))
		g.Expect(res.Duplicated.Count).To(gomega.Equal(1))
		g.Expect(res.ReorderedPerKey.Count + res.ReorderedPerShard.Count + res.Unexpected.Count + res.DLQ.Count).To(gomega.BeZero())
		g.Expect(res).NotTo(checker.Pass(checker.AtLeastOnce))
	})
	t.Run("oversized delivered", func(t *testing.T) {
		g := gomega.NewWithT(t)
		res, _ := run(t, &bridge{maxBytes: 1 << 20}) // a sink that never rejects
		g.Expect(res).NotTo(checker.AccountForEveryDLQRecord())
		g.Expect(res.DLQ.Count).To(gomega.Equal(res.AckedOversized))
	})
}
