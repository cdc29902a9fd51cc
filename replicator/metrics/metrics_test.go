package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestEndpoints(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	m := New(prometheus.NewRegistry(), func() time.Time { return *clock.Load() })
	// Two instances on two registries must not collide (no global state).
	_ = New(prometheus.NewRegistry(), nil)

	var notReady atomic.Bool
	notReady.Store(true)
	h := m.Handler(func() error {
		if notReady.Load() {
			return errors.New("leases not synced")
		}
		return nil
	})

	m.RecordsIn.Add(3)
	m.ShardReading("shardId-000000000001", now, 200*time.Millisecond)
	m.ReadAnswered("shardId-000000000001", 1500, now)
	m.TrackUnacknowledged("shardId-000000000001", func() (time.Time, bool) { return now.Add(-10 * time.Second), true })
	m.Throttles.WithLabelValues("GetRecords").Inc()
	m.CheckpointDone("shardId-000000000001", now)
	later := now.Add(42 * time.Second)
	clock.Store(&later)

	code, body := get(t, h, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		"replicator_records_in_total 3",
		// 42s without a successful read: 1.5s + 42s - the 200ms poll interval,
		// but the oldest waiting record arrived 52s ago.
		`replicator_millis_behind_latest{shard="shardId-000000000001"} 52000`, // the oldest waiting record
		`replicator_oldest_unacknowledged_record_age_seconds{shard="shardId-000000000001"} 52`,
		`replicator_throttles_total{operation="GetRecords"} 1`,
		`replicator_checkpoint_age_seconds{shard="shardId-000000000001"} 42`,
		"replicator_produce_latency_seconds_bucket",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	m.ForgetShard("shardId-000000000001")
	if _, body := get(t, h, "/metrics"); strings.Contains(body, "shardId-000000000001") {
		t.Error("ForgetShard left per-shard series behind")
	}

	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if code, body := get(t, h, "/readyz"); code != 503 || !strings.Contains(body, "leases not synced") {
		t.Errorf("/readyz before ready: %d %q", code, body)
	}
	notReady.Store(false)
	if code, _ := get(t, h, "/readyz"); code != 200 {
		t.Errorf("/readyz when ready: %d", code)
	}
}

func TestLeaseTableCountersAreReadAtScrapeTime(t *testing.T) {
	m := New(prometheus.NewRegistry(), nil)
	var s LeaseTableStats
	m.WatchLeaseTable(func() LeaseTableStats { return s })
	h := m.Handler(func() error { return nil })
	s = LeaseTableStats{Throttles: 7, Renewals: 40, RenewalFailures: 2, CorruptRows: 1}
	_, body := get(t, h, "/metrics")
	for _, want := range []string{
		"replicator_lease_table_throttles_total 7",
		"replicator_lease_renewals_total 40",
		"replicator_lease_renewal_failures_total 2",
		"replicator_lease_rows_corrupt 1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	s.Throttles = 9
	if _, body := get(t, h, "/metrics"); !strings.Contains(body, "replicator_lease_table_throttles_total 9") {
		t.Error("the lease-table counters were not re-read at the second scrape")
	}
}

// The lag gauge follows Kinesis's answer while reads succeed, and grows
// with the time since the last one when they stop; a shard that never read
// successfully shows the time since it started.
func TestLagKeepsGrowingWithoutReads(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	m := New(prometheus.NewRegistry(), func() time.Time { return now })
	const shard = "shardId-000000000000"
	if _, _, ok := m.ShardLag(shard); ok {
		t.Fatal("a shard not started has a lag")
	}
	m.ShardReading(shard, t0, time.Second)
	now = t0.Add(5 * time.Second)
	if behind, oldest, _ := m.ShardLag(shard); behind != 4*time.Second || oldest != 0 {
		t.Errorf("never read for 5s (1s poll interval): behind %s, oldest unacknowledged %s; want 4s, 0", behind, oldest)
	}
	m.ReadAnswered(shard, 300, now)
	if behind, _, _ := m.ShardLag(shard); behind != 300*time.Millisecond {
		t.Errorf("just answered 300ms behind: got %s", behind)
	}
	now = now.Add(800 * time.Millisecond) // within the poll interval: Kinesis's figure stands
	if behind, _, _ := m.ShardLag(shard); behind != 300*time.Millisecond {
		t.Errorf("800ms after an answer, 1s poll interval: got %s, want 300ms", behind)
	}
	now = now.Add(10 * time.Second) // throttled, or Kafka stalled
	if behind, _, _ := m.ShardLag(shard); behind != 300*time.Millisecond+9800*time.Millisecond {
		t.Errorf("10.8s without an answer: got %s, want 10.1s", behind)
	}
	m.ForgetShard(shard)
	if _, _, ok := m.ShardLag(shard); ok {
		t.Error("ForgetShard left the lag behind")
	}
}
