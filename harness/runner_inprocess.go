package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/shardbridge/shardbridge/replicator"
	"github.com/shardbridge/shardbridge/replicator/config"
)

// inProcess is one life of an in-process instance: replicator.Run on its
// own goroutine, its clients behind a lifeGate.
type inProcess struct {
	id     string
	rep    *replicator.Replicator
	reg    *prometheus.Registry
	gate   *lifeGate
	cancel context.CancelFunc
	doneCh chan struct{}
	err    error // Run's error, set before doneCh closes
	wait   time.Duration
}

func startInProcess(ctx context.Context, r *Runner, name string, settings map[string]string, seed int64) (*inProcess, error) {
	settings["REPLICATOR_METRICS_ADDR"] = "off"
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := settings[k]; return v, ok })
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if cfg.SecurityProtocol == "" || cfg.SecurityProtocol == "PLAINTEXT" {
		// config.Load fills in KAFKA_SASL_MECHANISM's default even without
		// SASL, which the Kafka options then refuse; no SASL is meant here.
		cfg.SASLMechanism = ""
	}
	p := &inProcess{
		id:     settings["REPLICATOR_WORKER_ID"],
		reg:    prometheus.NewRegistry(),
		gate:   &lifeGate{},
		doneCh: make(chan struct{}),
		wait:   settleTimeout(settings),
	}
	stall := r.stall
	userWrap := r.cfg.sinkWrap
	id := p.id
	tap := &tapHandler{next: r.cfg.logger.Handler(), seen: func(msg, shard, reason string, t time.Time) {
		r.noteAbandon(Abandon{Time: t, Instance: name, Worker: id, Shard: shard, Event: msg, Reason: reason})
	}}
	opts := []replicator.Option{
		replicator.WithLogger(slog.New(tap).With("instance", name, "worker", p.id)),
		replicator.WithKinesisClient(gatedKinesis{g: p.gate, c: r.env.NewKinesisClient()}),
		replicator.WithDynamoDBClient(gatedDynamoDB{g: p.gate, c: r.env.NewDynamoDBClient()}),
		replicator.WithMetricsRegistry(p.reg),
		replicator.WithSeed(seed),
		replicator.WithSinkWrapper(func(s replicator.Sink) replicator.Sink {
			if userWrap != nil {
				s = userWrap(s)
			}
			return gatedSink{g: p.gate, stall: stall, worker: id, handed: r.handoffs, inner: s}
		}),
	}
	if r.cfg.transformer != nil {
		opts = append(opts, replicator.WithTransformer(r.cfg.transformer))
	}
	opts = append(opts, r.cfg.extra...)
	p.rep, err = replicator.New(ctx, cfg, opts...)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() {
		defer close(p.doneCh)
		p.err = p.rep.Run(runCtx)
	}()
	return p, nil
}

func (p *inProcess) workerID() string      { return p.id }
func (p *inProcess) done() <-chan struct{} { return p.doneCh }
func (p *inProcess) logTail() string       { return "" }
func (p *inProcess) pause() error          { p.gate.pause(); return nil }
func (p *inProcess) resume() error         { p.gate.resume(); return nil }
func (p *inProcess) cutLeaseTable(cut bool) error {
	p.gate.cutDynamoDB(cut)
	return nil
}
func (p *inProcess) stats(context.Context) (InstanceStats, error) {
	fams, err := p.reg.Gather()
	if err != nil {
		return InstanceStats{}, fmt.Errorf("gather metrics: %w", err)
	}
	m := make(map[string]*dto.MetricFamily, len(fams))
	for _, f := range fams {
		m[f.GetName()] = f
	}
	return statsFromFamilies(m), nil
}

func (p *inProcess) exitErr() error {
	select {
	case <-p.doneCh:
	default:
		return nil
	}
	if p.gate.isKilled() {
		return nil
	}
	return p.err
}

func (p *inProcess) ready(ctx context.Context) error {
	return pollUntil(ctx, 20*time.Millisecond, func() (bool, error) {
		select {
		case <-p.doneCh:
			return false, fmt.Errorf("instance ended: %v", p.err)
		default:
		}
		return p.rep.Ready() == nil, nil
	})
}

func (p *inProcess) stop(ctx context.Context) error {
	p.cancel()
	select {
	case <-p.doneCh:
	case <-time.After(p.wait):
		return fmt.Errorf("graceful stop did not finish within %s", p.wait)
	case <-ctx.Done():
		return ctx.Err()
	}
	if p.err != nil {
		return fmt.Errorf("run: %w", p.err)
	}
	return nil
}

// kill crashes the instance: replicator.Abort stops it as SIGKILL would (no
// flush, no checkpoint, no lease release, no lease-table or Kafka call once
// it returns). The gate's cut-off comes first and stays: from that moment
// every new Kinesis, DynamoDB and Kafka call fails at once, so nothing
// happens between the kill and Abort taking hold, and calls blocked by a
// pause give up instead of waiting for a resume.
func (p *inProcess) kill() error {
	p.gate.kill()
	// Abort waits for Run; Run may not have begun yet, so doneCh is what is
	// waited for (a Run that begins after Abort returns ErrAborted at once).
	go p.rep.Abort()
	defer p.cancel()
	select {
	case <-p.doneCh:
		return nil
	case <-time.After(p.wait):
		return errors.New("killed instance did not wind down in time")
	}
}

// pollUntil calls f every interval until it reports true, fails, or ctx ends.
func pollUntil(ctx context.Context, interval time.Duration, f func() (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := f()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
