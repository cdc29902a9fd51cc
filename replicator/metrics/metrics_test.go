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
	m.MillisBehindLatest.WithLabelValues("shardId-000000000001").Set(1500)
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
		`replicator_millis_behind_latest{shard="shardId-000000000001"} 1500`,
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
