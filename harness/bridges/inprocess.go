// Package bridges holds the bridges the repository ships: Shardbridge's
// replicator described as a bridge file (shardbridge.yaml, run as a child
// process) and the same replicator run in this process.
//
// Contract:
//   - This is the only package of harness/ that imports the replicator: the
//     in-process adapter. Everything else judges a bridge from the outside.
//   - Shardbridge returns shardbridge.yaml as a bridge.Spec; InProcess runs
//     replicator.New/Run with the environment that file gives, so both take
//     the same settings and defaults.
//   - An in-process instance is a real replicator behind a gate: a kill cuts
//     every AWS and Kafka call at once and aborts it (no flush, checkpoint or
//     lease release), a pause blocks every call, a lease-table cut fails
//     every DynamoDB call. Sabotage (harness/sabotage) plugs into its sink
//     and transform.
package bridges

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/sabotage"
	"github.com/shardbridge/shardbridge/replicator"
	"github.com/shardbridge/shardbridge/replicator/config"
	"github.com/shardbridge/shardbridge/replicator/process"
)

//go:embed shardbridge.yaml
var shardbridgeFile []byte

// Shardbridge returns shardbridge.yaml: the replicator binary, built from
// this module's source, as a child process. Close it to remove the build.
func Shardbridge() *bridge.Spec {
	s, err := bridge.ParseSpec(shardbridgeFile)
	if err != nil {
		panic(fmt.Sprintf("bridges: shardbridge.yaml: %v", err)) // a broken embedded file is a build defect
	}
	return s
}

// Option configures the in-process Launcher.
type Option func(*Launcher)

// WithSink wraps every instance's Kafka sink (sabotage.DroppingSink …);
// the wrapper is made for the run's data topic.
func WithSink(w func(topic string) sabotage.SinkWrapper) Option {
	return func(l *Launcher) { l.sink = func(topic string, _ []kgo.Opt) sabotage.SinkWrapper { return w(topic) } }
}

// WithSinkTo is WithSink for a wrapper that writes to Kafka by itself
// (sabotage.SeparateCommitSink): it also gets the environment's Kafka client
// options (seed brokers, security).
func WithSinkTo(w func(topic string, kafka []kgo.Opt) sabotage.SinkWrapper) Option {
	return func(l *Launcher) { l.sink = w }
}

// WithTransform replaces the instances' transform (sabotage.DroppingTransform …).
func WithTransform(t sabotage.Transform) Option { return func(l *Launcher) { l.transform = t } }

// WithReplicatorOptions adds options to every replicator.New.
func WithReplicatorOptions(opts ...replicator.Option) Option {
	return func(l *Launcher) { l.extra = append(l.extra, opts...) }
}

// WithHandOffLog records when each life hands each shard's records to Kafka
// (Launcher.HandedOff). Off by default: it keeps a timestamp per record.
func WithHandOffLog() Option { return func(l *Launcher) { l.handoffs = &handoffLog{} } }

// Launcher runs Shardbridge's replicator in this process.
type Launcher struct {
	spec      *bridge.Spec
	sink      func(topic string, kafka []kgo.Opt) sabotage.SinkWrapper
	transform sabotage.Transform
	extra     []replicator.Option
	handoffs  *handoffLog
	stall     stallGate
}

// InProcess returns the in-process Shardbridge.
func InProcess(opts ...Option) *Launcher {
	l := &Launcher{spec: Shardbridge()}
	for _, o := range opts {
		o(l)
	}
	return l
}

// BridgeName names the bridge in reports and skips.
func (l *Launcher) BridgeName() string {
	if l.sink != nil || l.transform != nil {
		return "shardbridge (in-process, sabotaged)"
	}
	return "shardbridge (in-process)"
}

// Capabilities of in-process instances: everything but a real process.
func (l *Launcher) Capabilities() bridge.Capabilities {
	c := l.spec.Capabilities()
	c.Process = false
	c.CutLeaseTable, c.StallSink, c.HandOffLog = true, true, l.handoffs != nil
	return c
}

// StallSink holds back every record the instances hand to Kafka.
func (l *Launcher) StallSink() { l.stall.stall() }

// ReleaseSink ends StallSink.
func (l *Launcher) ReleaseSink() { l.stall.release() }

// Launch starts one life: replicator.Run on its own goroutine.
func (l *Launcher) Launch(ctx context.Context, in bridge.Launch) (bridge.Process, error) {
	cfg, env, err := l.config(in)
	if err != nil {
		return nil, err
	}
	wait := 30 * time.Second
	if d, err := time.ParseDuration(env["REPLICATOR_SHUTDOWN_TIMEOUT"]); err == nil && d > 0 {
		wait = d
	}
	p := &inProcess{
		id:     in.WorkerID,
		reg:    prometheus.NewRegistry(),
		gate:   &lifeGate{},
		doneCh: make(chan struct{}),
		wait:   wait + 10*time.Second,
	}
	var wrap sabotage.SinkWrapper
	if l.sink != nil {
		wrap = l.sink(in.Names.Topic, append(in.Env.KafkaOpts(), kgo.SeedBrokers(in.Env.Brokers()...)))
	}
	opts := []replicator.Option{
		replicator.WithLogger(in.Logger.With("instance", in.Instance, "worker", p.id)),
		replicator.WithKinesisClient(gatedKinesis{g: p.gate, c: in.Env.NewKinesisClient()}),
		replicator.WithDynamoDBClient(gatedDynamoDB{g: p.gate, c: in.Env.NewDynamoDBClient()}),
		replicator.WithMetricsRegistry(p.reg),
		replicator.WithSeed(in.Seed),
		replicator.WithSinkWrapper(func(s replicator.Sink) replicator.Sink {
			if wrap != nil {
				s = wrap(s)
			}
			return gatedSink{g: p.gate, stall: &l.stall, worker: p.id, handed: l.handoffs, inner: s}
		}),
	}
	if l.transform != nil {
		opts = append(opts, replicator.WithTransformer(transformer(l.transform)))
	}
	opts = append(opts, l.extra...)
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

// config is the replicator configuration shardbridge.yaml gives in, and
// the environment it was loaded from.
func (l *Launcher) config(in bridge.Launch) (config.Config, map[string]string, error) {
	vars := in.Vars()
	vars["metrics_port"] = "0"
	env := l.spec.EnvFor(vars, in.Settings)
	env["REPLICATOR_METRICS_ADDR"] = "off"
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return config.Config{}, nil, fmt.Errorf("configuration: %w", err)
	}
	if cfg.SecurityProtocol == "" || cfg.SecurityProtocol == "PLAINTEXT" {
		// config.Load fills in KAFKA_SASL_MECHANISM's default even without
		// SASL, which the Kafka options then refuse; no SASL is meant here.
		cfg.SASLMechanism = ""
	}
	return cfg, env, nil
}

// transformer adapts a sabotage.Transform to the replicator's Transformer.
func transformer(t sabotage.Transform) process.Transformer {
	return process.TransformerFunc(func(_ context.Context, r process.Record) ([]process.Record, error) {
		outs, err := t(r.Data)
		if err != nil {
			return nil, err
		}
		recs := make([]process.Record, len(outs))
		for i, d := range outs {
			recs[i] = r
			recs[i].Data = d
		}
		return recs, nil
	})
}

// inProcess is one life of an in-process instance.
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

func (p *inProcess) Done() <-chan struct{} { return p.doneCh }
func (p *inProcess) LogTail() string       { return "" }
func (p *inProcess) Pause() error          { p.gate.pause(); return nil }
func (p *inProcess) Resume() error         { p.gate.resume(); return nil }
func (p *inProcess) CutLeaseTable(cut bool) error {
	p.gate.cutDynamoDB(cut)
	return nil
}

func (p *inProcess) Stats(context.Context) (bridge.Stats, error) {
	fams, err := p.reg.Gather()
	if err != nil {
		return bridge.Stats{}, fmt.Errorf("gather metrics: %w", err)
	}
	m := make(map[string]*dto.MetricFamily, len(fams))
	for _, f := range fams {
		m[f.GetName()] = f
	}
	return bridge.StatsFromFamilies(m), nil
}

func (p *inProcess) ExitErr() error {
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

func (p *inProcess) Ready(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.doneCh:
			return fmt.Errorf("instance ended: %v", p.err)
		default:
		}
		if p.rep.Ready() == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (p *inProcess) Stop(ctx context.Context) error {
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

// Kill crashes the instance: replicator.Abort stops it as SIGKILL would (no
// flush, no checkpoint, no lease release, no lease-table or Kafka call once
// it returns). The gate's cut-off comes first and stays: from that moment
// every new Kinesis, DynamoDB and Kafka call fails at once, so nothing
// happens between the kill and Abort taking hold, and calls blocked by a
// pause give up instead of waiting for a resume.
func (p *inProcess) Kill() error {
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
