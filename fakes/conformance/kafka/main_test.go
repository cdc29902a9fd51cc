package kafkaconf

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/fakes/conformance/refemu"
)

// envRequireReference turns a missing Apache Kafka into a failure (CI sets it).
const envRequireReference = "SHARDBRIDGE_REQUIRE_REFERENCE"

// kfakeDivergences lists the checks, by subtest name below the backend
// ("Case/check"), on which kfake was seen to differ from Apache Kafka, with
// what each does. On kfake such a check runs its pin (what kfake does
// instead, so a kfake that starts to conform is noticed) and is skipped with
// the entry as the reason; on Apache Kafka it always runs.
// docs/conformance.md lists every entry.
var kfakeDivergences = map[string]string{
	"TopicConfigs/create-unknown-config": "kfake creates a topic with a config key Kafka does not know (no.such.config); " +
		"Apache Kafka refuses the topic with INVALID_CONFIG",
	"TopicConfigs/create-malformed-value": "kfake creates a topic with a config value that does not parse (max.message.bytes=lots); " +
		"Apache Kafka refuses the topic with INVALID_CONFIG",
	"TopicConfigs/log-append-time": "kfake ignores the topic config message.timestamp.type=LogAppendTime: records keep the producer's timestamp (CreateTime); " +
		"Apache Kafka stamps each batch with its append time and marks it LogAppendTime",
	"TopicConfigs/broker-compression": "kfake ignores the topic config compression.type: batches are stored as the producer sent them; " +
		"Apache Kafka recompresses them with the topic's codec (gzip here)",
}

// shared holds one broker per backend for the whole test binary: started
// on first use (Apache Kafka in the background from TestMain, so its JVM
// boots while kfake's cases run) and closed by TestMain.
var shared struct {
	kfakeOnce, apacheOnce sync.Once
	kfake, apache         *Backend
	kfakeErr, apacheErr   error
	kfakeUp, apacheUp     time.Duration
	notInstalledReported  atomic.Bool
}

func TestMain(m *testing.M) {
	flag.Parse()
	if list := flag.Lookup("test.list"); (list == nil || list.Value.String() == "") && prestartApache(flag.Lookup("test.run")) {
		go startApache()
	}
	code := m.Run()
	// Wait for a background start still under way (or mark the once
	// done if it never ran), then stop whatever was started.
	shared.apacheOnce.Do(func() {})
	shared.kfakeOnce.Do(func() {})
	for _, b := range []*Backend{shared.kfake, shared.apache} {
		if b != nil {
			_ = b.Close()
		}
	}
	os.Exit(code)
}

// prestartApache is false when -run names kfake and not Apache Kafka: a
// kfake-only run should not boot a JVM.
func prestartApache(run *flag.Flag) bool {
	if run == nil {
		return true
	}
	p := run.Value.String()
	return !strings.Contains(p, Kfake) || strings.Contains(p, "apache")
}

func startKfake() {
	shared.kfakeOnce.Do(func() {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shared.kfake, shared.kfakeErr = StartKfake(ctx)
		shared.kfakeUp = time.Since(start)
	})
}

func startApache() {
	shared.apacheOnce.Do(func() {
		start := time.Now()
		// refemu allows a JVM on a loaded 2-core machine a minute to answer.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		shared.apache, shared.apacheErr = StartApacheKafka(ctx)
		shared.apacheUp = time.Since(start)
	})
}

// kfakeBackend returns the shared kfake broker.
func kfakeBackend(t *testing.T) *Backend {
	t.Helper()
	startKfake()
	if shared.kfakeErr != nil {
		t.Fatalf("start kfake: %v", shared.kfakeErr)
	}
	return shared.kfake
}

// apacheBackend returns the shared Apache Kafka broker, or nil after
// skipping (or failing, under SHARDBRIDGE_REQUIRE_REFERENCE=1) t when it is
// not installed.
func apacheBackend(t *testing.T) *Backend {
	t.Helper()
	startApache()
	err := shared.apacheErr
	switch {
	case err == nil:
		return shared.apache
	case !errors.Is(err, refemu.ErrNotInstalled):
		t.Fatalf("%s is installed but failed to start: %v", refemu.ApacheKafka, err)
	case os.Getenv(envRequireReference) == "1":
		t.Fatalf("%s required (%s=1) but unavailable: %v", refemu.ApacheKafka, envRequireReference, err)
	}
	msg := fmt.Sprintf("%s not installed (run make kafka): skipping reference backend (%v)", refemu.ApacheKafka, err)
	if !shared.notInstalledReported.Swap(true) {
		fmt.Fprintln(os.Stderr, "kafkaconf: "+msg)
	}
	t.Skip(msg)
	return nil
}

// kafkaCase is one case of the suite. A serial case runs alone on its
// backend's broker, before the parallel ones (it restarts the broker, which
// the other cases share).
type kafkaCase struct {
	name   string
	serial bool
	fn     func(t *testing.T, b *Backend)
}

// forEachBackend runs every case against kfake and Apache Kafka, the two
// backends in parallel.
func forEachBackend(t *testing.T, cases []kafkaCase) {
	for _, be := range []struct {
		name string
		get  func(*testing.T) *Backend
	}{{Kfake, kfakeBackend}, {ApacheKafka, apacheBackend}} {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			b := be.get(t)
			up := shared.kfakeUp
			if b.Name == ApacheKafka {
				up = shared.apacheUp
			}
			t.Logf("%s %s on %v (started in %s)", b.Name, b.Version, b.Brokers, up.Round(10*time.Millisecond))
			start := time.Now()
			// Cleanups run after the parallel cases have finished.
			t.Cleanup(func() { t.Logf("%s: cases took %s", b.Name, time.Since(start).Round(10*time.Millisecond)) })
			for _, c := range cases {
				if c.serial {
					t.Run(c.name, func(t *testing.T) { c.fn(t, b) })
				}
			}
			for _, c := range cases {
				if !c.serial {
					t.Run(c.name, func(t *testing.T) {
						t.Parallel()
						c.fn(t, b)
					})
				}
			}
		})
	}
}

// check runs one named check of a case as a subtest. On kfake, a check
// listed in kfakeDivergences does not run: the divergence is logged, pin
// (when not nil) asserts what kfake does instead, and the check is skipped
// with the reason.
func check(t *testing.T, b *Backend, name string, fn, pin func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		id := caseName(t)
		why, divergent := kfakeDivergences[id]
		if b.Name != Kfake || !divergent {
			fn(t)
			return
		}
		if pin != nil {
			pin(t)
			if t.Failed() {
				t.Fatalf("kfake no longer behaves as kfakeDivergences[%q] says: if it now does what Apache Kafka does, remove the entry (and its row in docs/conformance.md)", id)
			}
		}
		t.Skipf("known kfake divergence from Apache Kafka (%s): %s", id, why)
	})
}

// caseName is t's name below the backend level: "TestKafka/kfake/A/b" → "A/b".
func caseName(t *testing.T) string {
	parts := strings.SplitN(t.Name(), "/", 3)
	if len(parts) < 3 {
		return t.Name()
	}
	return parts[2]
}

// ctxT returns a context that ends after d or with the test.
func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

var nameSeq atomic.Int64

// uniqueName returns a topic or transactional id no other case of this run
// uses (the brokers are shared by all cases).
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), nameSeq.Add(1))
}

// newClient returns a kgo client of b, closed when the test ends.
func newClient(t *testing.T, b *Backend, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Brokers...)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func newAdmin(t *testing.T, b *Backend) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newClient(t, b))
}

// newTopic creates a uniquely named topic with one replica and the given
// configs, and waits until metadata shows a leader for every partition.
func newTopic(t *testing.T, b *Backend, prefix string, partitions int32, configs map[string]string) string {
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	adm := newAdmin(t, b)
	name := uniqueName(prefix)
	var cfg map[string]*string
	for k, v := range configs {
		if cfg == nil {
			cfg = map[string]*string{}
		}
		cfg[k] = kadm.StringPtr(v)
	}
	if _, err := adm.CreateTopic(ctx, partitions, 1, cfg, name); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	for {
		m, err := adm.Metadata(ctx, name)
		if err == nil {
			if td, ok := m.Topics[name]; ok && td.Err == nil && len(td.Partitions) == int(partitions) {
				ready := true
				for _, p := range td.Partitions {
					ready = ready && p.Err == nil && p.Leader >= 0
				}
				if ready {
					return name
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s has no leaders after creation (last error %v)", name, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// markerHeader marks the records seal writes after a case's data.
const markerHeader = "kafkaconf-marker"

// seal appends a marker record (non-transactional) to every partition of
// topic, so a reader knows it has seen everything written before.
func seal(t *testing.T, b *Backend, topic string, partitions int32) {
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	cl := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var rs []*kgo.Record
	for p := range partitions {
		rs = append(rs, &kgo.Record{Partition: p, Value: []byte("marker"), Headers: []kgo.RecordHeader{{Key: markerHeader}}})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("seal %s: %v", topic, err)
	}
}

func isMarker(r *kgo.Record) bool {
	return len(r.Headers) == 1 && r.Headers[0].Key == markerHeader
}

// consumer returns a group-less consumer of topics from their start.
func consumer(t *testing.T, b *Backend, iso kgo.IsolationLevel, topics ...string) *kgo.Client {
	t.Helper()
	return newClient(t, b, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(iso), kgo.FetchMaxWait(200*time.Millisecond))
}

// readSealed reads topic with isolation iso until it has seen seal's
// marker on each of its partitions, and returns the values read before the
// markers, per partition, in offset order.
func readSealed(t *testing.T, b *Backend, iso kgo.IsolationLevel, topic string, partitions int32) map[int32][]string {
	t.Helper()
	got := map[int32][]string{}
	for p, rs := range readSealedRecords(t, b, iso, topic, partitions) {
		for _, r := range rs {
			got[p] = append(got[p], string(r.Value))
		}
	}
	return got
}

// readSealedRecords is readSealed returning the records.
func readSealedRecords(t *testing.T, b *Backend, iso kgo.IsolationLevel, topic string, partitions int32) map[int32][]*kgo.Record {
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	cl := consumer(t, b, iso, topic)
	got := map[int32][]*kgo.Record{}
	sealed := map[int32]bool{}
	for int32(len(sealed)) < partitions {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %d of %d partitions sealed before the deadline; read so far %d partitions", topic, len(sealed), partitions, len(got))
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			switch {
			case sealed[r.Partition]:
			case isMarker(r):
				sealed[r.Partition] = true
			default:
				got[r.Partition] = append(got[r.Partition], r)
			}
		})
	}
	return got
}

// pollFor reads topics with isolation iso for d and returns every value
// seen (markers included), or stops early once want values were read.
func pollFor(t *testing.T, b *Backend, iso kgo.IsolationLevel, d time.Duration, want int, topics ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cl := consumer(t, b, iso, topics...)
	var got []string
	for len(got) < want || want < 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r.Topic+":"+string(r.Value)) })
	}
	return got
}

// offsets returns the high watermark (read_uncommitted end) and the last
// stable offset (read_committed end) of topic's partition 0.
func offsets(t *testing.T, b *Backend, topic string) (hwm, lso int64) {
	t.Helper()
	ctx := ctxT(t, 15*time.Second)
	adm := newAdmin(t, b)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets %s: %v", topic, err)
	}
	stable, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list committed offsets %s: %v", topic, err)
	}
	e, ok1 := ends.Lookup(topic, 0)
	s, ok2 := stable.Lookup(topic, 0)
	if !ok1 || !ok2 || e.Err != nil || s.Err != nil {
		t.Fatalf("offsets of %s/0: end %+v, stable %+v", topic, e, s)
	}
	return e.Offset, s.Offset
}
