package checker

import (
	"fmt"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/shardbridge/shardbridge/harness/workload"
)

func (st *checkState) duplicates(copies map[ID][]copyRef, order []ID, topic string) {
	res := st.res
	for _, id := range order {
		cs := copies[id]
		if len(cs) < 2 {
			continue
		}
		cause, ev := st.cause(id, cs)
		if res.Duplicated.Causes == nil {
			res.Duplicated.Causes = map[string]int{}
		}
		res.Duplicated.Causes[cause]++
		res.Duplicated.ExtraCopies += len(cs) - 1
		offsets := make([]string, len(cs))
		for i, c := range cs {
			offsets[i] = fmt.Sprintf("[%d]@%d", c.partition, c.offset)
		}
		detail := fmt.Sprintf("%d copies at %s; cause: %s", len(cs), strings.Join(offsets, " "), cause)
		if ev != nil {
			detail += fmt.Sprintf(" at %s", ev.Time.UTC().Format("15:04:05.000"))
			if ev.Detail != "" {
				detail += " (" + ev.Detail + ")"
			}
		}
		o := Observed{Topic: topic, Partition: cs[0].partition, Offset: cs[0].offset}
		res.Duplicated.add(st.opts.MaxExamples, st.example(id, &o, detail))
	}
}

// cause attributes a duplicate to the latest event of its shard (or of no
// shard) between its first two copies' timestamps, widened by CauseSlack.
func (st *checkState) cause(id ID, cs []copyRef) (string, *Event) {
	t1, t2 := cs[0].ts, cs[1].ts
	if t2.Before(t1) {
		t1, t2 = t2, t1
	}
	from, until := t1.Add(-st.opts.CauseSlack), t2.Add(st.opts.CauseSlack)
	var best *Event
	for i := range st.opts.Events {
		ev := &st.opts.Events[i]
		if ev.Shard != "" && ev.Shard != id.Shard {
			continue
		}
		if ev.Time.Before(from) || ev.Time.After(until) {
			continue
		}
		if best == nil || ev.Time.After(best.Time) {
			best = ev
		}
	}
	if best == nil {
		return "unattributed", nil
	}
	return best.Kind, best
}

// accountAcks decides Lost and DLQ placement per acknowledged record, and
// measures latency and throughput.
func (st *checkState) accountAcks(mainCopies, dlqCopies map[ID][]copyRef, out []Observed) {
	opts, res := st.opts, st.res
	hist := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
	lag := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
	var firstSent, lastTS int64
	for _, o := range out {
		lastTS = max(lastTS, o.Timestamp.UnixMilli())
	}
	paired := st.pairAnonymous(dlqCopies)
	for i, a := range st.acks {
		id := IDOf(a)
		if st.ackByID[id] != i || st.filtered[i] {
			continue
		}
		if firstSent == 0 || (a.SentMs > 0 && a.SentMs < firstSent) {
			firstSent = a.SentMs
		}
		inMain := firstCounting(mainCopies[id])
		anyMain := len(mainCopies[id]) > 0
		inDLQ := firstCounting(dlqCopies[id])
		if a.Kind == workload.KindNormal {
			switch {
			case inMain != nil:
				res.Replicated++
				res.Samples = append(res.Samples, Sample{Shard: a.ShardID, SentMs: a.SentMs, AckedMs: a.AckedMs, InKafka: inMain.ts})
				if a.AckedMs > 0 {
					us := max(inMain.ts.UnixMicro()-a.AckedMs*1000, 0)
					_ = lag.RecordValue(min(us, lag.HighestTrackableValue()))
				}
				start := a.SentMs
				if opts.Latency == LatencyFromArrival {
					start = inMain.arrival
					if !inMain.hasArr {
						continue
					}
				}
				us := max(inMain.ts.UnixMicro()-start*1000, 0)
				_ = hist.RecordValue(min(us, hist.HighestTrackableValue()))
			case inDLQ != nil:
				// Reported as a DLQ finding by scanDLQ.
			default:
				detail := "not in the main topic"
				if anyMain {
					detail = "in the main topic only with the wrong content"
				}
				res.Lost.add(opts.MaxExamples, st.example(id, nil, detail))
			}
			continue
		}
		if anyMain {
			ref := mainCopies[id][0]
			res.DLQ.add(opts.MaxExamples, st.example(id, &Observed{Topic: topicOf(out), Partition: ref.partition, Offset: ref.offset},
				fmt.Sprintf("%s record in the main topic", a.Kind)))
		}
		switch {
		case inDLQ != nil || paired[i]:
			res.DeadLettered++
		case !anyMain:
			res.LostDeadLetters++
			res.Lost.add(opts.MaxExamples, st.example(id, nil, fmt.Sprintf("%s record in neither the dead-letter topic nor the main topic", a.Kind)))
		}
	}
	res.Histogram = hist
	res.Latency = summarize(hist)
	res.Lag = summarize(lag)
	elapsed := opts.Elapsed
	if elapsed <= 0 && firstSent > 0 && lastTS > firstSent {
		elapsed = time.Duration(lastTS-firstSent) * time.Millisecond
	}
	if elapsed > 0 {
		res.Throughput = float64(res.Replicated) / elapsed.Seconds()
	}
}

// pairAnonymous matches the anonymous dead letters (identified neither by
// headers nor by payload) to acknowledged malformed/oversized records that
// have no identified copy in the DLQ: first a dead letter whose Kafka key is
// the record's partition key, then any, oldest acknowledgement first. It
// returns the matched acks. Dead letters left over are the producer's when
// the unknown outcomes allow (Ambiguous or Unconfirmed dead-letter records),
// DLQ findings otherwise. Counting cannot tell which record an anonymous
// dead letter is, so one lost and another duplicated cancel out.
func (st *checkState) pairAnonymous(dlqCopies map[ID][]copyRef) map[int]bool {
	res := st.res
	res.AnonymousDeadLetters = len(st.anonymous)
	if len(st.anonymous) == 0 {
		return nil
	}
	var cands []int
	byKey := map[string][]int{}
	spare := 0 // extra Kinesis copies of dead-letter records of unknown outcome
	for i, a := range st.acks {
		id := IDOf(a)
		if st.ackByID[id] != i || st.filtered[i] || a.Kind == workload.KindNormal {
			continue
		}
		if a.Ambiguous {
			spare += max(a.Attempts-1, 1)
		}
		if len(dlqCopies[id]) > 0 {
			continue
		}
		cands = append(cands, i)
		byKey[a.PartitionKey] = append(byKey[a.PartitionKey], i)
	}
	for _, a := range st.opts.Unconfirmed {
		if a.Kind != workload.KindNormal {
			spare++
		}
	}
	paired := map[int]bool{}
	used := make([]bool, len(st.anonymous))
	for j, o := range st.anonymous {
		q := byKey[string(o.Key)]
		for len(q) > 0 && paired[q[0]] {
			q = q[1:]
		}
		if len(q) > 0 {
			paired[q[0]], used[j] = true, true
			q = q[1:]
		}
		byKey[string(o.Key)] = q
	}
	next := 0
	for j := range st.anonymous {
		if used[j] {
			continue
		}
		for next < len(cands) && paired[cands[next]] {
			next++
		}
		if next < len(cands) {
			paired[cands[next]], used[j] = true, true
			continue
		}
		if spare > 0 {
			spare--
			res.UnconfirmedWrites++
			continue
		}
		o := &st.anonymous[j]
		res.DLQ.add(st.opts.MaxExamples, st.example(ID{SubSeq: -1}, o,
			"dead letter identified neither by idempotency headers nor by payload, and no acknowledged malformed/oversized record is left to account for it (a duplicate or a stray record)"))
	}
	return paired
}

func firstCounting(cs []copyRef) *copyRef {
	for i := range cs {
		if cs[i].counts {
			return &cs[i]
		}
	}
	return nil
}

func summarize(h *hdrhistogram.Histogram) LatencySummary {
	if h == nil || h.TotalCount() == 0 {
		return LatencySummary{}
	}
	d := func(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
	return LatencySummary{
		Count: h.TotalCount(),
		P50:   d(h.ValueAtQuantile(50)),
		P90:   d(h.ValueAtQuantile(90)),
		P99:   d(h.ValueAtQuantile(99)),
		P999:  d(h.ValueAtQuantile(99.9)),
		Max:   d(h.Max()),
	}
}
