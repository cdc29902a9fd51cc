package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/fakes/fault"
	"github.com/shardbridge/shardbridge/harness/backend"
)

// Names of what a case creates; each case has an environment of its own.
const (
	streamName  = "bench"
	application = "bench"
	topicName   = "bench-out"
)

// Kafka sizes. The topic takes any record a Kinesis record can become;
// REPLICATOR_KAFKA_BATCH_MAX_BYTES is raised only when a record would not
// fit the default (1,000,000 bytes with key and headers), so other cases
// run on the replicator's defaults.
const (
	topicMaxMessageBytes = 4 << 20
	defaultBatchMaxBytes = 1_000_000
	kafkaRecordOverhead  = 1024 // key, headers, batch framing, generously
)

// tailSettle is the pause between the catch-up and the tail writes.
const tailSettle = 2 * time.Second

// fillParallel PutRecords calls fill a backlog.
const fillParallel = 4

// Run measures every case of cfg, prints the host line and one JSON line per
// case to stdout, and returns how many cases failed. log gets progress.
func Run(ctx context.Context, cfg Config, stdout io.Writer, log *slog.Logger) (failed int, err error) {
	if err := cfg.Validate(); err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	work, err := os.MkdirTemp("", "shardbridge-bench-")
	if err != nil {
		return 0, fmt.Errorf("bench: work directory: %w", err)
	}
	bin := cfg.Replicator
	if bin == "" {
		log.Info("building the replicator", "dir", work)
		if bin, err = Build(ctx, work); err != nil {
			_ = os.RemoveAll(work)
			return 0, fmt.Errorf("bench: %w", err)
		}
	} else if bin, err = filepath.Abs(bin); err != nil {
		return 0, fmt.Errorf("bench: --replicator: %w", err)
	}
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(map[string]Host{"host": hostInfo(cfg.Seed, bin)}); err != nil {
		return 0, fmt.Errorf("bench: write: %w", err)
	}
	cases := cfg.Cases()
	for i, c := range cases {
		if ctx.Err() != nil {
			break
		}
		log.Info("case", "n", fmt.Sprintf("%d/%d", i+1, len(cases)), "name", c.Name(), "records", c.Records, "seed", cfg.Seed)
		logPath := filepath.Join(work, fmt.Sprintf("%02d-%s.log", i+1, strings.ReplaceAll(c.Name(), "/", "_")))
		res := runCase(ctx, cfg, c, bin, logPath, log)
		if res.Error != "" {
			failed++
			res.Log = logPath
			log.Error("case failed", "name", c.Name(), "err", res.Error, "log", logPath)
		} else {
			log.Info("case done", "name", c.Name(), "catchup_s", round(res.CatchupSeconds, 2),
				"mb_per_s", round(res.MBPerSecond, 1), "tail_p99_ms", round(res.TailP99Ms, 1))
		}
		if err := enc.Encode(res); err != nil {
			return failed, fmt.Errorf("bench: write: %w", err)
		}
	}
	if failed == 0 {
		_ = os.RemoveAll(work)
	} else {
		log.Info("kept the failed cases' replicator logs", "dir", work)
	}
	return failed, ctx.Err()
}

// runCase measures one case; a failure is reported in Result.Error.
func runCase(ctx context.Context, cfg Config, c Case, bin, logPath string, log *slog.Logger) Result {
	res := Result{Case: c.Name(), Shards: c.Shards, RecordBytes: c.RecordBytes, Limits: onOff(c.Limits),
		Delivery: c.Delivery, Seed: cfg.Seed, Records: c.Records, BacklogBytes: int64(c.Records) * int64(c.RecordBytes)}
	if err := measure(ctx, cfg, c, bin, logPath, log, &res); err != nil {
		res.Error = err.Error()
	}
	return res
}

// measure runs one case in an environment of its own: backlog, replicator,
// catch-up, tail, stop.
func measure(ctx context.Context, cfg Config, c Case, bin, logPath string, log *slog.Logger, res *Result) (err error) {
	env, err := backend.Start(ctx, backend.WithKind(backend.Embedded), backend.WithKinesisLimits(c.Limits), backend.WithSeed(cfg.Seed))
	if err != nil {
		return fmt.Errorf("start emulators: %w", err)
	}
	defer func() { err = errors.Join(err, env.Close(context.WithoutCancel(ctx))) }()

	w, err := prepare(ctx, env, cfg, c, res, log)
	if err != nil {
		return err
	}
	// A rule that adds 1 ns to every GetRecords counts the calls.
	ruleID := env.Faults().Add(fault.Rule{Name: "bench: count GetRecords", Service: fault.ServiceKinesis,
		Operations: []string{"GetRecords"}, Action: fault.Latency, Latency: time.Nanosecond})
	calls := func() int64 {
		for _, r := range env.Faults().Rules() {
			if r.ID == ruleID {
				return int64(r.Fired)
			}
		}
		return 0
	}

	creds, err := env.Credentials(ctx)
	if err != nil {
		return err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return err
	}
	p := envParams{stream: streamName, application: application, topic: topicName, region: env.Region(),
		brokers: env.Brokers(), kinesis: env.KinesisEndpoint(), dynamodb: env.DynamoDBEndpoint(),
		accessKey: creds.AccessKeyID, secretKey: creds.SecretAccessKey, metricsAddr: metricsAddr, delivery: c.Delivery}
	if c.RecordBytes+kafkaRecordOverhead > defaultBatchMaxBytes {
		p.batchMaxBytes = topicMaxMessageBytes
	}
	rep, err := startReplicator(bin, replicatorEnv(p, cfg.Env), logPath, metricsAddr)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			_, _, _ = rep.stop(30 * time.Second)
		}
	}()
	log.Info("replicator started", "pid", rep.pid(), "log", logPath)
	ready := make(chan time.Duration, 1)
	rctx, stopReady := context.WithCancel(ctx)
	defer stopReady()
	go func() {
		d, _ := rep.waitReady(rctx) // 0 if it never was: the catch-up reports why
		ready <- d
	}()

	kopts := append(env.KafkaOpts(), kgo.SeedBrokers(env.Brokers()...))
	admCl, err := kgo.NewClient(kopts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer admCl.Close()
	cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	done, err := waitCatchUp(cctx, kadm.NewClient(admCl), kopts, topicName, c.Records, c.Delivery == ExactlyOnce, rep)
	cancel()
	if err != nil {
		return fmt.Errorf("catch-up of %d records: %w", c.Records, err)
	}
	select {
	case d := <-ready:
		res.ReadySeconds = round(d.Seconds(), 3)
	case <-time.After(5 * time.Second): // readiness normally comes first
	}
	secs := done.at.Sub(rep.started).Seconds()
	catchUpFields(ctx, c, secs, done.cpu, rep, calls, res)
	log.Info("caught up", "seconds", res.CatchupSeconds, "records_per_s", res.RecordsPerSecond, "mb_per_s", res.MBPerSecond)

	if err := tail(ctx, cfg, c, w, kopts, done.offsets, secs, rep, res); err != nil {
		return err
	}

	if rss, err := peakRSS(rep.pid()); err == nil {
		res.PeakRSSBytes = rss
	}
	stopped = true
	cpu, maxRSS, err := rep.stop(60 * time.Second)
	res.CPUTotalSeconds, res.MaxRSSBytes = round(cpu.Seconds(), 3), maxRSS
	return err
}

// catchUpFields fills the catch-up's fields: secs and cpu from its sample,
// the read counts from now.
func catchUpFields(ctx context.Context, c Case, secs float64, cpu time.Duration, rep *replicator, calls func() int64, res *Result) {
	res.CatchupSeconds = round(secs, 3)
	res.RecordsPerSecond = round(float64(c.Records)/secs, 1)
	res.MBPerSecond = round(float64(res.BacklogBytes)/1e6/secs, 3)
	if cpu > 0 {
		res.CPUSeconds = round(cpu.Seconds(), 3)
		res.CPUUsPerRecord = round(float64(cpu.Microseconds())/float64(c.Records), 3)
	}
	// Calls, refusals and records read are taken together, now: the
	// catch-up sample may lie in the past (exactly-once).
	if rc, err := scrapeReads(ctx, rep.metrics); err == nil {
		res.GetRecordsCalls, res.GetRecordsThrottled = calls(), rc.throttledGets
		if ok := res.GetRecordsCalls - res.GetRecordsThrottled; ok > 0 {
			res.RecordsPerCall = round(float64(rc.recordsIn)/float64(ok), 1)
		}
	}
	if c.Limits {
		readLimit(c, res)
	}
}

// prepare creates the stream and the topic and writes the backlog.
func prepare(ctx context.Context, env *backend.Env, cfg Config, c Case, res *Result, log *slog.Logger) (*writer, error) {
	// The backlog goes in with limits off: it is the reads being measured,
	// and at 1 MiB/s per shard the writes alone would take minutes.
	if c.Limits {
		env.KinesisEmulator().SetLimits(streamName, false)
	}
	if err := env.CreateStream(ctx, streamName, c.Shards); err != nil {
		return nil, err
	}
	if err := env.CreateTopicWithConfig(ctx, topicName, int32(c.Shards), map[string]string{"max.message.bytes": strconv.Itoa(topicMaxMessageBytes)}); err != nil {
		return nil, err
	}
	w, err := newWriter(ctx, env.Kinesis(), streamName, newPayloads(c.RecordBytes, cfg.Seed))
	if err != nil {
		return nil, err
	}
	fillStart := time.Now()
	if err := w.fill(ctx, c.Records, fillParallel); err != nil {
		return nil, err
	}
	res.FillSeconds = round(time.Since(fillStart).Seconds(), 3)
	log.Info("backlog written", "records", c.Records, "seconds", res.FillSeconds)
	if c.Limits {
		env.KinesisEmulator().SetLimits(streamName, true)
	}
	return w, nil
}

// tail measures the tailing latency after the catch-up (catchup seconds
// after the replicator started), from the offsets the catch-up ended at.
func tail(ctx context.Context, cfg Config, c Case, w *writer, kopts []kgo.Opt, start map[int32]int64, catchup float64, rep *replicator, res *Result) error {
	rate := tailRate(cfg, c)
	if rate <= 0 || cfg.TailDuration <= 0 {
		return nil
	}
	// Tailing is the steady state: let the catch-up's debt to the read
	// limits (an admitted GetRecords is charged after it returns) be
	// repaid first, and the producer's last batches settle.
	settle := tailSettle
	if c.Limits {
		perShard := float64((c.Records+c.Shards-1)/c.Shards) * float64(c.RecordBytes)
		settle += time.Duration(max(0, perShard/readBytesPerShard-catchup) * float64(time.Second))
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(settle):
	}
	drain := 30 * time.Second
	tctx, cancel := context.WithTimeout(ctx, cfg.TailDuration+drain+30*time.Second)
	t, err := tailRun{w: w, kafkaOpts: kopts, topic: topicName, start: start, exactly: c.Delivery == ExactlyOnce,
		firstID: uint64(c.Records), rate: rate, duration: cfg.TailDuration, drain: drain, rep: rep}.measure(tctx)
	cancel()
	if err != nil {
		return err
	}
	res.TailRate, res.TailRecords, res.TailReceived = round(rate, 1), t.sent, t.received
	res.TailP50Ms, res.TailP99Ms, res.TailMaxMs = ms(t.p50), ms(t.p99), ms(t.max)
	if t.received < t.sent {
		return fmt.Errorf("tail: %d of %d records written did not reach Kafka", t.sent-t.received, t.sent)
	}
	return nil
}

func ms(d time.Duration) float64 { return round(float64(d.Microseconds())/1000, 2) }

func round(v float64, places int) float64 {
	p := 1.0
	for range places {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}
