package report

import (
	"slices"
	"sort"
	"time"

	"github.com/shardbridge/shardbridge/harness/checker"
)

// Timeline is a run's history over time, for the HTML report's charts: what
// Kinesis acknowledged, what reached Kafka and when, and who held which
// lease. The harness fills it; the checker's Result gives the samples.
type Timeline struct {
	// AckedMs are the Kinesis acknowledgement times (ms since the epoch) of
	// every acknowledged record the run expects in Kafka.
	AckedMs []int64
	// Samples are the replicated records (checker.Result.Samples).
	Samples []checker.Sample
	// Leases are the lease table's owner changes, as the lease watcher saw
	// them (Owner "" = released).
	Leases []LeaseChange
}

// LeaseChange is a shard's lease passing to Owner at Time.
type LeaseChange struct {
	Time  time.Time
	Shard string
	Owner string
}

// second is one second of the run.
type second struct {
	acked, replicated int
	latencies         []time.Duration          // end to end, of records that reached Kafka in it
	lag               map[string]time.Duration // per shard: the largest acknowledgement → Kafka time
}

// series buckets the timeline into seconds from start; the run lasted
// until end (the last sample or fault, if later).
type series struct {
	start   time.Time
	seconds []second
	shards  []string
}

func (t *Timeline) series(start, end time.Time) series {
	s := series{start: start}
	at := func(tm time.Time) *second {
		i := int(tm.Sub(start) / time.Second)
		if i < 0 {
			i = 0
		}
		for len(s.seconds) <= i {
			s.seconds = append(s.seconds, second{lag: map[string]time.Duration{}})
		}
		return &s.seconds[i]
	}
	at(end)
	for _, ms := range t.AckedMs {
		at(time.UnixMilli(ms)).acked++
	}
	shards := map[string]bool{}
	for _, x := range t.Samples {
		sec := at(x.InKafka)
		sec.replicated++
		if x.SentMs > 0 {
			sec.latencies = append(sec.latencies, max(x.InKafka.Sub(time.UnixMilli(x.SentMs)), 0))
		}
		if x.AckedMs > 0 && x.Shard != "" {
			shards[x.Shard] = true
			sec.lag[x.Shard] = max(sec.lag[x.Shard], x.InKafka.Sub(time.UnixMilli(x.AckedMs)))
		}
	}
	for sh := range shards {
		s.shards = append(s.shards, sh)
	}
	sort.Strings(s.shards)
	return s
}

// percentile is the p-th percentile (0..1) of d, which it sorts.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(int(p*float64(len(d))), len(d)-1)]
}

// leaseSpan is one owner holding one shard's lease from..to.
type leaseSpan struct {
	shard, owner string
	from, to     time.Time
}

// spans turns the lease changes into holding spans, the last ones ending
// at end.
func (t *Timeline) spans(end time.Time) (spans []leaseSpan, shards, owners []string) {
	changes := slices.Clone(t.Leases)
	slices.SortStableFunc(changes, func(a, b LeaseChange) int { return a.Time.Compare(b.Time) })
	open := map[string]*leaseSpan{}
	seenShard, seenOwner := map[string]bool{}, map[string]bool{}
	closeSpan := func(shard string, at time.Time) {
		if sp := open[shard]; sp != nil {
			sp.to = at
			spans = append(spans, *sp)
			delete(open, shard)
		}
	}
	for _, c := range changes {
		if !seenShard[c.Shard] {
			seenShard[c.Shard] = true
			shards = append(shards, c.Shard)
		}
		closeSpan(c.Shard, c.Time)
		if c.Owner != "" {
			if !seenOwner[c.Owner] {
				seenOwner[c.Owner] = true
				owners = append(owners, c.Owner)
			}
			open[c.Shard] = &leaseSpan{shard: c.Shard, owner: c.Owner, from: c.Time}
		}
	}
	for _, sh := range shards {
		closeSpan(sh, end)
	}
	sort.Strings(shards)
	sort.Strings(owners)
	return spans, shards, owners
}
