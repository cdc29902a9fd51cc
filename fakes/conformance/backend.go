// Package conformance describes the AWS backends Shardbridge runs against —
// the in-process emulators (fakes/kinesis, fakes/dynamodb) and the reference
// emulators kinesis-mock and dynalite (started by the refemu sub-package) —
// and holds the conformance suite (in its tests) that checks all of them with
// the same API-level tests through aws-sdk-go-v2.
//
// Contract:
//   - A Backend names one Kinesis endpoint and/or one DynamoDB endpoint (either
//     may be empty when that service is absent) and declares, in Capabilities,
//     which AWS behaviours it reproduces faithfully. Tests and the harness
//     consult Caps instead of the backend's name.
//   - StartInProcess serves the in-process emulators on two httptest servers
//     (free loopback ports) sharing one controllable clock.
//   - StartReference starts kinesis-mock and dynalite as child processes;
//     NewReferenceBackend wraps processes started elsewhere.
//   - Close releases every server or process the Backend started.
//   - KinesisClient / DynamoDBClient return SDK clients with static
//     credentials, region us-east-1 and BaseEndpoint set; options may override.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardbridge/shardbridge/fakes/clock"
	"github.com/shardbridge/shardbridge/fakes/conformance/refemu"
	fakedynamodb "github.com/shardbridge/shardbridge/fakes/dynamodb"
	fakekinesis "github.com/shardbridge/shardbridge/fakes/kinesis"
)

// Implementation names used in Backend.KinesisImpl / DynamoDBImpl.
const (
	InProcess   = "in-process"
	KinesisMock = refemu.KinesisMock
	Dynalite    = refemu.Dynalite
)

// Region and credentials the clients use. Emulators accept any signature;
// kinesis-mock namespaces streams by region and (12-digit) access key, so all
// clients of one backend must agree on these.
const (
	Region          = "us-east-1"
	AccessKeyID     = "shardbridge"
	SecretAccessKey = "shardbridge"
)

// Capabilities says which AWS behaviours a backend reproduces faithfully.
// A false field means tests of that behaviour must not run against it (they
// log why and are checked against the AWS documentation on the in-process
// emulators instead).
type Capabilities struct {
	// Throttles: Kinesis per-shard limits (1 MB/s or 1,000 records/s writes,
	// 2 MB/s and 5 GetRecords/s reads, 5 GetShardIterator/s) answer
	// ProvisionedThroughputExceededException.
	Throttles bool
	// ClockControl: Backend.Clock moves the backend's notion of time, so
	// timestamps, rate windows and retention follow Advance.
	ClockControl bool
	// ExpiresIteratorsOnClock: a shard iterator fails with
	// ExpiredIteratorException 5 minutes after issue on the backend's clock, so
	// advancing the clock expires it without real waiting.
	ExpiresIteratorsOnClock bool
	// Transactions: DynamoDB TransactWriteItems / TransactGetItems.
	Transactions bool
	// AsyncResharding: SplitShard, MergeShards and UpdateShardCount leave the
	// stream UPDATING for a while, as AWS does (callers must wait for ACTIVE).
	AsyncResharding bool
	// PerStreamLimits: Backend.Kinesis.SetLimits can switch limits per stream.
	PerStreamLimits bool
}

// Backend is one set of AWS endpoints the suite (or the harness) can use.
type Backend struct {
	Name             string // e.g. "in-process", "kinesis-mock+dynalite"
	KinesisEndpoint  string // "" when the backend has no Kinesis
	DynamoDBEndpoint string // "" when the backend has no DynamoDB
	KinesisImpl      string // InProcess, KinesisMock, or another name; "" when absent
	DynamoDBImpl     string // InProcess, Dynalite, or another name; "" when absent
	Caps             Capabilities

	// Clock drives the in-process emulators; nil for external backends.
	Clock *clock.Clock
	// Kinesis and DynamoDB are the in-process emulators (nil otherwise), for
	// switching limits per stream.
	Kinesis  *fakekinesis.Emulator
	DynamoDB *fakedynamodb.Emulator
	// Processes are the reference emulators this backend owns (nil otherwise).
	Processes []*refemu.Process

	closers []func()
}

// Close stops everything the backend started. Safe to call more than once.
func (b *Backend) Close() error {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
	b.closers = nil
	return nil
}

// KinesisClient returns a Kinesis client for this backend. It uses the SDK's
// standard retryer unless an option replaces it.
func (b *Backend) KinesisClient(optFns ...func(*kinesis.Options)) *kinesis.Client {
	o := kinesis.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(b.KinesisEndpoint),
		// Large PutRecords against a local endpoint race smithy-go's
		// body close (see fakekinesis.SDKTransport): a 200 read as
		// "use of closed network connection" under load.
		HTTPClient: &http.Client{Transport: fakekinesis.SDKTransport(nil)},
	}
	return kinesis.New(o, optFns...)
}

// DynamoDBClient returns a DynamoDB client for this backend.
func (b *Backend) DynamoDBClient(optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	o := dynamodb.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(b.DynamoDBEndpoint),
	}
	return dynamodb.New(o, optFns...)
}

// InProcessOption configures StartInProcess.
type InProcessOption func(*inProcessOptions)

type inProcessOptions struct {
	clock       *clock.Clock
	logger      *slog.Logger
	kinesisOpts []fakekinesis.Option
	dynamoOpts  []fakedynamodb.Option
}

// WithClock shares c between both emulators (default clock.New(): real time).
func WithClock(c *clock.Clock) InProcessOption { return func(o *inProcessOptions) { o.clock = c } }

// WithLogger gives both emulators a logger (default: discard).
func WithLogger(l *slog.Logger) InProcessOption { return func(o *inProcessOptions) { o.logger = l } }

// WithKinesisOptions passes extra options to fakes/kinesis.New (after the clock and logger).
func WithKinesisOptions(opts ...fakekinesis.Option) InProcessOption {
	return func(o *inProcessOptions) { o.kinesisOpts = append(o.kinesisOpts, opts...) }
}

// WithDynamoDBOptions passes extra options to fakes/dynamodb.New (after the clock and logger).
func WithDynamoDBOptions(opts ...fakedynamodb.Option) InProcessOption {
	return func(o *inProcessOptions) { o.dynamoOpts = append(o.dynamoOpts, opts...) }
}

// InProcessCaps returns the capabilities of the in-process emulators. They
// have no transactions: Shardbridge's lease protocol needs only conditional
// writes.
func InProcessCaps() Capabilities {
	return Capabilities{
		Throttles:               true,
		ClockControl:            true,
		ExpiresIteratorsOnClock: true,
		PerStreamLimits:         true,
	}
}

// ReferenceCaps returns the capabilities of kinesis-mock + dynalite: neither
// throttles, kinesis-mock expires iterators only after a real 5 minutes, has
// no controllable clock and reshards asynchronously; dynalite has no
// transactions.
func ReferenceCaps() Capabilities { return Capabilities{AsyncResharding: true} }

// StartInProcess serves fresh in-process Kinesis and DynamoDB emulators on
// free loopback ports. It never fails today; the error is for future options.
func StartInProcess(opts ...InProcessOption) (*Backend, error) {
	o := inProcessOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.clock == nil {
		o.clock = clock.New()
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	k := fakekinesis.New(append([]fakekinesis.Option{fakekinesis.WithClock(o.clock), fakekinesis.WithLogger(o.logger)}, o.kinesisOpts...)...)
	d := fakedynamodb.New(append([]fakedynamodb.Option{fakedynamodb.WithClock(o.clock), fakedynamodb.WithLogger(o.logger)}, o.dynamoOpts...)...)
	ks := httptest.NewServer(k)
	ds := httptest.NewServer(d)
	return &Backend{
		Name:             InProcess,
		KinesisEndpoint:  ks.URL,
		DynamoDBEndpoint: ds.URL,
		KinesisImpl:      InProcess,
		DynamoDBImpl:     InProcess,
		Caps:             InProcessCaps(),
		Clock:            o.clock,
		Kinesis:          k,
		DynamoDB:         d,
		closers:          []func(){ks.Close, ds.Close},
	}, nil
}

// NewReferenceBackend wraps already started reference emulators; either may
// be nil, leaving that service absent. The backend closes the processes it
// is given.
func NewReferenceBackend(kinesisMock, dynalite *refemu.Process) *Backend {
	b := &Backend{Caps: ReferenceCaps()}
	switch {
	case kinesisMock != nil && dynalite != nil:
		b.Name = KinesisMock + "+" + Dynalite
	case kinesisMock != nil:
		b.Name = KinesisMock
	case dynalite != nil:
		b.Name = Dynalite
	}
	for _, p := range []*refemu.Process{kinesisMock, dynalite} {
		if p == nil {
			continue
		}
		switch p.Name {
		case refemu.KinesisMock:
			b.KinesisEndpoint, b.KinesisImpl = p.Endpoint, KinesisMock
		case refemu.Dynalite:
			b.DynamoDBEndpoint, b.DynamoDBImpl = p.Endpoint, Dynalite
		}
		b.Processes = append(b.Processes, p)
		b.closers = append(b.closers, func() { _ = p.Close() })
	}
	return b
}

// StartReference starts kinesis-mock and dynalite (see refemu for how they are
// found and configured). Both must start; the error matches
// refemu.ErrNotInstalled when either is missing.
func StartReference(ctx context.Context, opts ...refemu.Option) (*Backend, error) {
	km, kerr := refemu.StartKinesisMock(ctx, opts...)
	dl, derr := refemu.StartDynalite(ctx, opts...)
	if err := errors.Join(kerr, derr); err != nil {
		for _, p := range []*refemu.Process{km, dl} {
			if p != nil {
				_ = p.Close()
			}
		}
		return nil, fmt.Errorf("start reference emulators: %w", err)
	}
	return NewReferenceBackend(km, dl), nil
}
