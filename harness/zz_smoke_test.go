package harness

import (
	"context"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/workload"
	"github.com/shardbridge/shardbridge/replicator"
	"github.com/shardbridge/shardbridge/replicator/config"
)

func TestZZSmoke(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now()
	env, err := Start(ctx, WithSeed(1))
	if err != nil { t.Fatal(err) }
	defer env.Close(ctx)
	if err := env.CreateStream(ctx, "s1", 2); err != nil { t.Fatal(err) }
	if err := env.CreateTopic(ctx, "t1", 4); err != nil { t.Fatal(err) }
	t.Log("env", time.Since(t0))
	m := map[string]string{"KCL_STREAM_NAME": "s1", "KCL_APPLICATION_NAME": "app1", "KAFKA_TOPIC": "t1", "KAFKA_BOOTSTRAP_SERVERS": env.Brokers()[0],
		"REPLICATOR_WORKER_ID": "w1", "REPLICATOR_FAILOVER_TIME": "2s", "CHECKPOINT_FREQ_SECONDS": "0.5", "REPLICATOR_SHARD_SYNC_INTERVAL": "1s", "REPLICATOR_METRICS_ADDR": "off", "KCL_REGION": "us-east-1"}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
	if err != nil { t.Fatal(err) }
	cfg.SASLMechanism = ""
	r, err := replicator.New(ctx, cfg, replicator.WithKinesisClient(env.Kinesis()), replicator.WithDynamoDBClient(env.DynamoDB()), replicator.WithMinGetRecordsInterval(50*time.Millisecond))
	if err != nil { t.Fatal(err) }
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	w, _ := workload.New(env.Kinesis(), "s1", workload.WithTotal(3000), workload.WithProducers(2), workload.WithSeed(1))
	if err := w.Run(ctx); err != nil { t.Fatal(err) }
	t.Log("produced", time.Since(t0))
	for r.Stats().RecordsOut < 3000 { time.Sleep(20 * time.Millisecond) }
	t.Log("replicated", time.Since(t0), r.Stats())
	cancel(); t.Log(<-done, time.Since(t0))
	out, err := checker.ReadTopic(ctx, env.Brokers(), "t1")
	if err != nil { t.Fatal(err) }
	res := checker.Check(w.Acked(), out, nil, checker.Options{})
	t.Log(res.Problems(checker.AtLeastOnce), res.Replicated, time.Since(t0))
}
