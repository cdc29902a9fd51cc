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

// Read limits the emulator enforces per shard with limits on.
const (
	readBytesPerShard = 2 << 20 // bytes/s
	readCallsPerShard = 5       // GetRecords/s

	maxGetRecords      = 10_000   // records per GetRecords (also the replicator's default)
	maxGetRecordsBytes = 10 << 20 // bytes per GetRecords, as the emulator caps it
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

func measure(ctx context.Context, cfg Config, c Case, bin, logPath string, log *slog.Logger, res *Result) (err error) {
	env, err := backend.Start(ctx, backend.WithKind(backend.Embedded), backend.WithKinesisLimits(c.Limits), backend.WithSeed(cfg.Seed))
	if err != nil {
		return fmt.Errorf("start emulators: %w", err)
	}
	defer func() { err = errors.Join(err, env.Close(context.WithoutCancel(ctx))) }()

	// The backlog goes in with limits off: it is the reads being measured,
	// and at 1 MiB/s per shard the writes alone would take minutes.
	if c.Limits {
		env.KinesisEmulator().SetLimits(streamName, false)
	}
	if err := env.CreateStream(ctx, streamName, c.Shards); err != nil {
		return err
	}
	if err := env.CreateTopicWithConfig(ctx, topicName, int32(c.Shards), map[string]string{"max.message.bytes": strconv.Itoa(topicMaxMessageBytes)}); err != nil {
		return err
	}
	w, err := newWriter(ctx, env.Kinesis(), streamName, newPayloads(c.RecordBytes, cfg.Seed))
	if err != nil {
		return err
	}
	fillStart := time.Now()
	if err := w.fill(ctx, c.Records, fillParallel); err != nil {
		return err
	}
	res.FillSeconds = round(time.Since(fillStart).Seconds(), 3)
	log.Info("backlog written", "records", c.Records, "seconds", res.FillSeconds)
	if c.Limits {
		env.KinesisEmulator().SetLimits(streamName, true)
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
	case <-time.After(time.Second):
	}
	secs := done.at.Sub(rep.started).Seconds()
	res.CatchupSeconds = round(secs, 3)
	res.RecordsPerSecond = round(float64(c.Records)/secs, 1)
	res.MBPerSecond = round(float64(res.BacklogBytes)/1e6/secs, 3)
	if done.cpu > 0 {
		res.CPUSeconds = round(done.cpu.Seconds(), 3)
		res.CPUUsPerRecord = round(float64(done.cpu.Microseconds())/float64(c.Records), 3)
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
	log.Info("caught up", "seconds", res.CatchupSeconds, "records_per_s", res.RecordsPerSecond, "mb_per_s", res.MBPerSecond)

	if rate := tailRate(cfg, c); rate > 0 && cfg.TailDuration > 0 {
		// Tailing is the steady state: let the catch-up's debt to the read
		// limits (an admitted GetRecords is charged after it returns) be
		// repaid first, and the producer's last batches settle.
		settle := tailSettle
		if c.Limits {
			perShard := float64((c.Records+c.Shards-1)/c.Shards) * float64(c.RecordBytes)
			settle += time.Duration(max(0, perShard/readBytesPerShard-secs) * float64(time.Second))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(settle):
		}
		drain := 30 * time.Second
		tctx, cancel := context.WithTimeout(ctx, cfg.TailDuration+drain+30*time.Second)
		t, err := tailRun{w: w, kafkaOpts: kopts, topic: topicName, start: done.offsets, exactly: c.Delivery == ExactlyOnce,
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
	}

	if rss, err := peakRSS(rep.pid()); err == nil {
		res.PeakRSSBytes = rss
	}
	stopped = true
	cpu, maxRSS, err := rep.stop(60 * time.Second)
	res.CPUTotalSeconds, res.MaxRSSBytes = round(cpu.Seconds(), 3), maxRSS
	return err
}

// readLimit fills the limits-on fields: the read rates the emulator
// allows, the catch-up rate as a fraction of them, and the fewest seconds
// the limits allow this backlog.
func readLimit(c Case, res *Result) {
	bytesLimit := float64(c.Shards) * readBytesPerShard / 1e6
	res.ReadLimitMBPerSecond = round(bytesLimit, 3)
	limit := bytesLimit
	if res.RecordsPerCall > 0 {
		callsLimit := float64(c.Shards) * readCallsPerShard * res.RecordsPerCall * float64(c.RecordBytes) / 1e6
		res.CallsLimitMBPerSecond = round(callsLimit, 3)
		limit = min(limit, callsLimit)
	}
	res.ReadLimitRatio = round(res.MBPerSecond/limit, 3)
	floor := readFloor(c)
	secs, ratio := round(floor, 3), round(floor/res.CatchupSeconds, 3)
	res.ReadLimitFloorSeconds, res.ReadLimitFloorRatio = &secs, &ratio
}

// readFloor is the fewest seconds the emulator's read limits allow the
// fullest shard's backlog. Its buckets start full (one second's worth) and
// an admitted GetRecords is charged after it returns, up to 10,000 records
// or 10 MB, so a backlog of a few seconds' reads goes faster than 2 MiB/s
// (read_limit_ratio above 1); this floor counts both.
func readFloor(c Case) float64 {
	const keyBytes = 6 // partition keys are "k" and the record id
	recs := (c.Records + c.Shards - 1) / c.Shards
	size := c.RecordBytes + keyBytes
	perCall := min(maxGetRecords, max(maxGetRecordsBytes/size, 1))
	calls := (recs + perCall - 1) / perCall
	last := min(recs, perCall) * size // the last call's bytes, charged after
	byBytes := float64(recs*size-last-readBytesPerShard) / readBytesPerShard
	byCalls := float64(calls-readCallsPerShard) / readCallsPerShard
	return max(byBytes, byCalls, 0)
}

// tailRate is the steady write rate after the catch-up: the asked rate,
// within the MB/s cap and, with limits on, within 80% of the shards' write
// limits (1,000 records/s and 1 MiB/s each) so the writes are not
// throttled.
func tailRate(cfg Config, c Case) float64 {
	r := float64(cfg.TailRate)
	if cfg.TailMBps > 0 {
		r = min(r, cfg.TailMBps*1e6/float64(c.RecordBytes))
	}
	if c.Limits {
		perShard := min(1000, float64(1<<20)/float64(c.RecordBytes+24))
		r = min(r, 0.8*float64(c.Shards)*perShard)
	}
	return r
}

func ms(d time.Duration) float64 { return round(float64(d.Microseconds())/1000, 2) }

func round(v float64, places int) float64 {
	p := 1.0
	for range places {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}
