package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Lag is computed at scrape time, like checkpoint age: a gauge set only after
// a successful GetRecords froze at its last value while reads were throttled
// or Kafka stalled, so the "falling behind" alarm stayed silent exactly when
// records waited.

// shardLag is what the scrape-time lag of one shard is computed from.
type shardLag struct {
	ms        int64         // MillisBehindLatest of the last successful GetRecords
	at        time.Time     // when it was answered (or when the shard started)
	allowance time.Duration // the normal wait between two reads (the poll interval)
	oldest    func() (time.Time, bool)
}

// EstimateBehind is the shard's lag behind the tip: the MillisBehindLatest
// Kinesis last reported, plus the time the shard has gone without a
// successful read beyond its normal spacing (allowance). While a shard can
// neither read nor hand records on, the tip moves away at least that fast.
func EstimateBehind(ms int64, at, now time.Time, allowance time.Duration) time.Duration {
	d := time.Duration(ms) * time.Millisecond
	if stalled := now.Sub(at) - allowance; stalled > 0 {
		d += stalled
	}
	return d
}

// ShardReading starts (or restarts) a shard's lag clock: a shard that never
// reads successfully shows a growing lag from now on. allowance is the
// shard's normal wait between two reads.
func (m *Metrics) ShardReading(shard string, at time.Time, allowance time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.lags[shard]
	m.lags[shard] = shardLag{at: at, allowance: allowance, ms: l.ms, oldest: l.oldest}
}

// ReadAnswered records a successful GetRecords of shard answered at with
// MillisBehindLatest ms.
func (m *Metrics) ReadAnswered(shard string, ms int64, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.lags[shard]
	l.ms, l.at = ms, at
	m.lags[shard] = l
}

// TrackUnacknowledged gives the function that reports the arrival time of
// the shard's oldest record handed to Kafka and not acknowledged yet (false
// when there is none).
func (m *Metrics) TrackUnacknowledged(shard string, oldest func() (time.Time, bool)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.lags[shard]
	l.oldest = oldest
	m.lags[shard] = l
}

// ShardLag is the shard's estimated lag behind the tip (EstimateBehind, or
// the oldest unacknowledged record's age when larger) and
// the age of its oldest unacknowledged record (0 when none); ok is false for
// a shard not running here.
func (m *Metrics) ShardLag(shard string) (behind, oldestAge time.Duration, ok bool) {
	now := m.now()
	m.mu.Lock()
	l, ok := m.lags[shard]
	m.mu.Unlock()
	if !ok {
		return 0, 0, false
	}
	return l.behind(now), l.oldestAge(now), true
}

// behind is the larger of the read lag and the oldest waiting record's age:
// a reader at the tip whose records cannot reach Kafka is behind too (its
// GetRecords answer 0 while those records wait).
func (l shardLag) behind(now time.Time) time.Duration {
	return max(EstimateBehind(l.ms, l.at, now, l.allowance), l.oldestAge(now))
}

func (l shardLag) oldestAge(now time.Time) time.Duration {
	if l.oldest == nil {
		return 0
	}
	t, ok := l.oldest()
	if !ok || t.IsZero() {
		return 0
	}
	return max(now.Sub(t), 0)
}

type lagCollector struct {
	m               *Metrics
	behind, unacked *prometheus.Desc
}

func newLagCollector(m *Metrics) lagCollector {
	return lagCollector{m: m,
		behind: prometheus.NewDesc(ns+"_millis_behind_latest",
			"How far the shard's delivery is behind the tip of the stream, in milliseconds: MillisBehindLatest of its last successful GetRecords plus the time since then beyond the poll interval, or the age of its oldest record waiting for Kafka if larger; it keeps growing while reads are throttled or Kafka stalls.",
			[]string{"shard"}, nil),
		unacked: prometheus.NewDesc(ns+"_oldest_unacknowledged_record_age_seconds",
			"Age (from its Kinesis arrival time) of the shard's oldest record handed to Kafka and not acknowledged yet; 0 when none is waiting.",
			[]string{"shard"}, nil),
	}
}

func (c lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.behind; ch <- c.unacked }

func (c lagCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.m.now()
	c.m.mu.Lock()
	lags := make(map[string]shardLag, len(c.m.lags))
	for s, l := range c.m.lags {
		lags[s] = l
	}
	c.m.mu.Unlock()
	for shard, l := range lags { // oldest() takes the tracker's lock: not under m.mu
		ch <- prometheus.MustNewConstMetric(c.behind, prometheus.GaugeValue, float64(l.behind(now).Milliseconds()), shard)
		ch <- prometheus.MustNewConstMetric(c.unacked, prometheus.GaugeValue, l.oldestAge(now).Seconds(), shard)
	}
}
