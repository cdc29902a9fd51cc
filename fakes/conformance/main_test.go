package conformance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"

	"github.com/shardbridge/shardbridge/fakes/clock"
	"github.com/shardbridge/shardbridge/fakes/conformance/refemu"
	fakekinesis "github.com/shardbridge/shardbridge/fakes/kinesis"
)

// envRequireReference turns a missing reference emulator into a failure (CI sets it).
const envRequireReference = "SHARDBRIDGE_REQUIRE_REFERENCE"

// epoch is where the in-process backends' frozen clocks start: a fixed instant
// makes runs reproducible, and a frozen clock makes rate windows exact.
func epoch() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// reference holds the shared reference emulators, started on first use and
// stopped by TestMain.
var reference struct {
	once     sync.Once
	km, dl   *refemu.Process
	kmErr    error
	dlErr    error
	reported sync.Map // emulator name → struct{}: "not installed" printed once
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range []*refemu.Process{reference.km, reference.dl} {
		if p != nil {
			_ = p.Close()
		}
	}
	os.Exit(code)
}

func startReference() {
	reference.once.Do(func() {
		ctx := context.Background()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); reference.km, reference.kmErr = refemu.StartKinesisMock(ctx) }()
		go func() { defer wg.Done(); reference.dl, reference.dlErr = refemu.StartDynalite(ctx) }()
		wg.Wait()
	})
}

// target is one backend a test runs against. In-process targets build a fresh
// backend per test (own state, own frozen clock, so a test advancing time
// cannot disturb another); reference targets share one process per emulator.
type target struct {
	impl    string
	caps    Capabilities
	backend func(t *testing.T) *Backend
}

func inProcessTarget() target {
	return target{impl: InProcess, caps: InProcessCaps(), backend: func(t *testing.T) *Backend {
		t.Helper()
		// Functional cases run with the production limits off: on a frozen
		// clock rate windows never refill. The throttling case turns them on
		// for its own stream.
		b, err := StartInProcess(WithClock(clock.NewManual(epoch())), WithKinesisOptions(fakekinesis.WithLimits(false)))
		if err != nil {
			t.Fatalf("start in-process backend: %v", err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}}
}

// referenceTarget returns the target for a reference emulator, or ok=false
// after logging (or failing, under SHARDBRIDGE_REQUIRE_REFERENCE=1) why it is
// unavailable.
func referenceTarget(t *testing.T, name string) (target, bool) {
	t.Helper()
	startReference()
	p, err := reference.km, reference.kmErr
	if name == Dynalite {
		p, err = reference.dl, reference.dlErr
	}
	if err != nil {
		msg := fmt.Sprintf("%s not installed (run make emulators): skipping reference backend", name)
		switch {
		case !errors.Is(err, refemu.ErrNotInstalled):
			t.Errorf("%s is installed but failed to start: %v", name, err)
		case os.Getenv(envRequireReference) == "1":
			t.Errorf("%s not installed (run make emulators), and %s=1 requires the reference backend: %v", name, envRequireReference, err)
		default:
			if _, seen := reference.reported.LoadOrStore(name, struct{}{}); !seen {
				fmt.Fprintln(os.Stderr, "conformance: "+msg)
			}
			t.Run(name, func(t *testing.T) { t.Skip(msg) })
		}
		return target{}, false
	}
	// Never closed: the processes are shared and TestMain stops them.
	b := NewReferenceBackend(p, nil)
	return target{impl: name, caps: b.Caps, backend: func(t *testing.T) *Backend {
		t.Helper()
		if p.Exited() {
			t.Fatalf("%s has exited; its output:\n%s", name, p.Output())
		}
		return b
	}}, true
}

// forEachTarget runs each case against every available backend providing
// the service ref names, cases in parallel (reference emulators spend most
// of a case waiting for state transitions).
func forEachTarget(t *testing.T, ref string, cases map[string]func(t *testing.T, tg target)) {
	targets := []target{inProcessTarget()}
	if tg, ok := referenceTarget(t, ref); ok {
		targets = append(targets, tg)
	}
	for _, tg := range targets {
		t.Run(tg.impl, func(t *testing.T) {
			t.Parallel()
			for name, fn := range cases {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					fn(t, tg)
				})
			}
		})
	}
}

// Clients used by the suite never retry: a conformance test must see each
// answer as the backend gave it.
func kinesisClient(b *Backend) *kinesis.Client {
	return b.KinesisClient(func(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} })
}

func dynamoClient(b *Backend) *dynamodb.Client {
	return b.DynamoDBClient(func(o *dynamodb.Options) { o.Retryer = aws.NopRetryer{} })
}

var nameSeq atomic.Int64

// uniqueName returns a resource name no other test of this run uses (the
// reference emulators are shared by all tests).
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), nameSeq.Add(1))
}

// passTime makes d elapse on the backend: the in-process clock is advanced;
// a reference emulator runs on real time, so the test has to wait.
func passTime(b *Backend, d time.Duration) {
	if b.Clock != nil {
		b.Clock.Advance(d)
		return
	}
	time.Sleep(d)
}

// now is the backend's current time.
func now(b *Backend) time.Time {
	if b.Clock != nil {
		return b.Clock.Now()
	}
	return time.Now()
}

// eventually polls cond until it returns true or a generous deadline passes
// (resharding and creation on reference emulators are asynchronous).
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (last error: %v)", what, lastErr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// errorCode is the AWS error code (__type) of err, or "" for non-API errors.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// wantCode fails unless err is an API error with one of the codes.
func wantCode(t *testing.T, what string, err error, codes ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: want %v, got success", what, codes)
		return
	}
	got := errorCode(err)
	for _, c := range codes {
		if got == c {
			return
		}
	}
	t.Errorf("%s: want %v, got %q (%v)", what, codes, got, err)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// deviations lists, per reference emulator, behaviours this suite observed to
// differ from the AWS documentation. A case consults conforms before checking
// such a behaviour; the in-process emulators have no entries, so there the
// AWS behaviour is always checked. docs/conformance.md describes each entry.
var deviations = map[string]map[string]string{
	KinesisMock: {
		"merge-order":                   "MergeShards refuses the adjacent pair given higher range first (\"Provided shards are not adjacent\"); AWS accepts either order",
		"explicit-hash-key-nan":         "a non-numeric ExplicitHashKey answers HTTP 500 UnknownError; AWS answers InvalidArgumentException",
		"malformed-iterator":            "a malformed ShardIterator answers HTTP 500 UnknownError; AWS answers InvalidArgumentException",
		"put-records-501":               "PutRecords accepts more than 500 entries; AWS refuses the request",
		"list-streams-summary":          "ListStreams returns no StreamSummaries",
		"list-streams-token":            "ListStreams sets HasMoreStreams without a NextToken, so only ExclusiveStartStreamName paging works",
		"filter-at-trim":                "ShardFilter AT_TRIM_HORIZON lists every shard, not just those open at the trim horizon",
		"list-shards-token-arn":         "ListShards refuses StreamARN beside a NextToken (\"Cannot define ... StreamName if NextToken is defined\"); the API reference forbids only StreamName and StreamCreationTimestamp there",
		"arn-name-mismatch":             "a StreamName that disagrees with the StreamARN is ignored; the emulator refuses it with InvalidArgumentException (the API reference documents neither answer)",
		"on-demand-update-shard-count":  "UpdateShardCount scales an ON_DEMAND stream; AWS supports it for PROVISIONED streams only",
		"update-shard-count-limit-code": "a target above double or below half the open shards is refused with InvalidArgumentException; the emulator answers LimitExceededException, as for the other default limits of UpdateShardCount",
	},
	Dynalite: {
		"arith-precision": "SET/ADD arithmetic may store a result of more than 38 significant digits (only request values are checked); AWS refuses it with ValidationException",
	},
}

// conforms reports whether tg is expected to behave as AWS documents for the
// behaviour id. When it is not, conforms logs the known deviation and the
// caller skips that one assertion (the in-process run still checks it).
func conforms(t *testing.T, tg target, id string) bool {
	t.Helper()
	if why, ok := deviations[tg.impl][id]; ok {
		t.Logf("known %s deviation from AWS (%s): %s — not checked here", tg.impl, id, why)
		return false
	}
	return true
}
