package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/shardbridge/shardbridge/fakes/awsmux"
	"github.com/shardbridge/shardbridge/fakes/clock"
	"github.com/shardbridge/shardbridge/fakes/control"
	"github.com/shardbridge/shardbridge/fakes/dynamodb"
	"github.com/shardbridge/shardbridge/fakes/fault"
	"github.com/shardbridge/shardbridge/fakes/kafka"
	"github.com/shardbridge/shardbridge/fakes/kinesis"
)

// errUsage marks errors caused by bad flags (exit code 2).
var errUsage = errors.New("usage")

// options are the parsed flags.
type options struct {
	awsAddr      string
	kafkaPort    int
	kafkaDataDir string
	kafkaHost    string
	kafkaAdHost  string
	controlAddr  string
	streams      []nameCount
	tables       []string
	topics       []nameCount
	limits       bool
	seed         int64
	logLevel     slog.Level
}

type nameCount struct {
	name string
	n    int
}

// addrs is where the servers ended up listening (ports may have been 0).
type addrs struct {
	AWS     string   // host:port of the AWS endpoint
	Kafka   []string // broker host:ports
	Control string   // base URL of the control API
}

func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	var streams, tables, topics, level string
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.awsAddr, "aws-addr", "127.0.0.1:4566", "listen address of the Kinesis + DynamoDB endpoint")
	fs.IntVar(&o.kafkaPort, "kafka-port", 9092, "Kafka broker port on 127.0.0.1 (0 picks a free port)")
	fs.StringVar(&o.kafkaHost, "kafka-host", "127.0.0.1", "Kafka listen host (0.0.0.0 inside a container)")
	fs.StringVar(&o.kafkaAdHost, "kafka-advertised-host", "", "host the broker tells clients to dial (default: -kafka-host, or 127.0.0.1 for a wildcard)")
	fs.StringVar(&o.kafkaDataDir, "kafka-data-dir", "", "keep Kafka data here across runs (default: a temporary directory)")
	fs.StringVar(&o.controlAddr, "control-addr", "", "also serve the control API on this address (it is always under /_shardbridge/ on -aws-addr)")
	fs.StringVar(&streams, "streams", "", "Kinesis streams to create, name:shards,...")
	fs.StringVar(&tables, "tables", "", "DynamoDB tables to create (hash key leaseKey, type S), name,...")
	fs.StringVar(&topics, "topics", "", "Kafka topics to create, name:partitions,...")
	fs.BoolVar(&o.limits, "limits", true, "enforce Kinesis production limits (per stream switchable through the control API)")
	fs.Int64Var(&o.seed, "seed", 1, "seed of the fault injector's RNG")
	fs.StringVar(&level, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	var err error
	if o.streams, err = parseNameCounts("-streams", streams); err != nil {
		return o, err
	}
	if o.topics, err = parseNameCounts("-topics", topics); err != nil {
		return o, err
	}
	o.tables = splitList(tables)
	if err := o.logLevel.UnmarshalText([]byte(level)); err != nil {
		return o, fmt.Errorf("%w: -log-level: %w", errUsage, err)
	}
	if o.kafkaPort < 0 || o.kafkaPort > 65535 {
		return o, fmt.Errorf("%w: -kafka-port %d out of range", errUsage, o.kafkaPort)
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parseNameCounts parses "a:2,b:1".
func parseNameCounts(flagName, s string) ([]nameCount, error) {
	var out []nameCount
	for _, part := range splitList(s) {
		name, count, ok := strings.Cut(part, ":")
		n, err := strconv.Atoi(count)
		if !ok || name == "" || err != nil || n < 1 {
			return nil, fmt.Errorf("%w: %s: want name:count with count >= 1, got %q", errUsage, flagName, part)
		}
		out = append(out, nameCount{name, n})
	}
	return out, nil
}

// run serves until ctx is done, then shuts down gracefully. ready, if not
// nil, is called once everything listens.
func run(ctx context.Context, args []string, logOut io.Writer, ready func(addrs)) error {
	o, err := parseFlags(args, logOut)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: o.logLevel}))

	clk := clock.New()
	kin := kinesis.New(kinesis.WithClock(clk), kinesis.WithLimits(o.limits), kinesis.WithLogger(log.With("component", "kinesis")))
	ddb := dynamodb.New(dynamodb.WithClock(clk), dynamodb.WithLogger(log.With("component", "dynamodb")))
	inj := fault.New(fault.WithClock(clk), fault.WithSeed(o.seed), fault.WithLogger(log.With("component", "fault")))
	for _, s := range o.streams {
		if err := kin.CreateStream(s.name, s.n); err != nil {
			return fmt.Errorf("create stream %s: %w", s.name, err)
		}
	}
	for _, t := range o.tables {
		if err := createLeaseTable(ddb, t); err != nil {
			return err
		}
	}

	kopts := []kafka.Option{
		kafka.WithLogger(log.With("component", "kafka")),
		kafka.WithListenHost(o.kafkaHost), kafka.WithAdvertisedHost(o.kafkaAdHost),
	}
	if o.kafkaPort != 0 {
		kopts = append(kopts, kafka.WithPorts(o.kafkaPort))
	}
	if o.kafkaDataDir != "" {
		kopts = append(kopts, kafka.WithDataDir(o.kafkaDataDir))
	}
	for _, t := range o.topics {
		kopts = append(kopts, kafka.WithTopic(t.name, int32(t.n)))
	}
	kc, err := kafka.New(ctx, kopts...)
	if err != nil {
		return fmt.Errorf("start kafka: %w", err)
	}
	defer kc.Close()

	ctl := control.New(control.WithFaults(inj), control.WithClock(clk), control.WithKinesis(kin),
		control.WithKafka(kc), control.WithLogger(log.With("component", "control")))
	mux := http.NewServeMux()
	mux.Handle(control.DefaultPrefix+"/", ctl)
	mux.Handle("/", inj.Middleware(awsmux.New(kin, ddb)))

	awsLn, err := net.Listen("tcp", o.awsAddr)
	if err != nil {
		return fmt.Errorf("listen -aws-addr %s: %w", o.awsAddr, err)
	}
	servers := []*http.Server{newServer(mux, log)}
	listeners := []net.Listener{awsLn}
	a := addrs{AWS: awsLn.Addr().String(), Kafka: kc.Brokers(), Control: "http://" + awsLn.Addr().String() + control.DefaultPrefix}
	if o.controlAddr != "" {
		ctlLn, err := net.Listen("tcp", o.controlAddr)
		if err != nil {
			_ = awsLn.Close()
			return fmt.Errorf("listen -control-addr %s: %w", o.controlAddr, err)
		}
		servers = append(servers, newServer(ctl, log))
		listeners = append(listeners, ctlLn)
		a.Control = "http://" + ctlLn.Addr().String() + control.DefaultPrefix
	}

	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() {
			if err := srv.Serve(listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	log.Info("emulator ready", "aws", a.AWS, "kafka", a.Kafka, "control", a.Control,
		"streams", len(o.streams), "tables", o.tables, "topics", len(o.topics), "limits", o.limits, "seed", o.seed)
	if ready != nil {
		ready(a)
	}

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("emulator shutting down", "cause", context.Cause(ctx).Error())
	case serveErr = <-errc:
		log.Error("emulator server failed", "err", serveErr)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			log.Warn("emulator: shutdown", "err", err)
		}
	}
	kc.Close()
	log.Info("emulator stopped")
	if serveErr != nil {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return nil
}

func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// createLeaseTable creates a KCL-style lease table through the emulator's
// own API, so it is exactly what a CreateTable call would make.
func createLeaseTable(ddb http.Handler, name string) error {
	body := fmt.Sprintf(`{"TableName":%q,"KeySchema":[{"AttributeName":"leaseKey","KeyType":"HASH"}],`+
		`"AttributeDefinitions":[{"AttributeName":"leaseKey","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}`, name)
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.CreateTable")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	rec := httptest.NewRecorder()
	ddb.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return fmt.Errorf("create table %s: HTTP %d: %s", name, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	return nil
}
