// Package outputcheck verifies a replicated topic against what was written to
// the stream: every record arrived at least once, none lost, per-key order
// kept. It is the replicator tests' shared checker.
//
// Contract:
//   - Identity is the idempotency key: headers kinesis.shard + kinesis.seq
//     (+ kinesis.subseq for KPL sub-records).
//   - Order is checked per partition key on the first occurrence of each
//     record: at-least-once delivery may repeat records after a crash or a
//     lease move, but the first time each record appears must follow the
//     order the producer wrote them in (the payload's per-key counter).
//     ReadAll returns partitions one after another, so this assumes a key's
//     records share a partition (key partitioning, or shard partitioning
//     without resharding).
//   - Payloads written by Payload are "KEY:N" with N counting up from 0 per key.
package outputcheck

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Written is one record as the workload wrote it to Kinesis.
type Written struct {
	Shard, Seq string
	SubSeq     int64 // -1 for a plain record
	Key        string
	N          int // per-key counter; negative: not part of the key's order
	// Data, when set, is the expected value instead of Payload(Key, N).
	Data []byte
}

// ID is the idempotency key of a written record.
func (w Written) ID() string { return id(w.Shard, w.Seq, w.SubSeq) }

func id(shard, seq string, sub int64) string {
	return shard + "/" + seq + "/" + strconv.FormatInt(sub, 10)
}

// Payload is the data the workload writes for the n-th record of key.
func Payload(key string, n int) []byte { return []byte(key + ":" + strconv.Itoa(n)) }

// Report is the outcome of Check.
type Report struct {
	Written, Read    int
	Lost             []string // ids of written records missing from the topic
	Duplicates       int      // extra copies beyond the first
	OrderViolations  []string
	Unknown          int // records on the topic the workload did not write
	BadHeaders       int
	KeysOutOfPlace   int // records whose Kafka key differs from the partition key
	PayloadMismatch  int // value differs from the written payload
	PerKeyFirstOrder map[string][]int
}

// OK reports whether nothing was lost, nothing reordered and nothing foreign.
func (r Report) OK() bool {
	return len(r.Lost) == 0 && len(r.OrderViolations) == 0 && r.Unknown == 0 && r.BadHeaders == 0 &&
		r.KeysOutOfPlace == 0 && r.PayloadMismatch == 0
}

func (r Report) String() string {
	lost := r.Lost
	if len(lost) > 5 {
		lost = lost[:5]
	}
	viol := r.OrderViolations
	if len(viol) > 5 {
		viol = viol[:5]
	}
	return fmt.Sprintf("written %d, read %d, lost %d %v, duplicates %d, order violations %d %v, unknown %d, bad headers %d, wrong keys %d, payload mismatches %d",
		r.Written, r.Read, len(r.Lost), lost, r.Duplicates, len(r.OrderViolations), viol, r.Unknown, r.BadHeaders,
		r.KeysOutOfPlace, r.PayloadMismatch)
}

// Check compares the records read from the topic (in partition order) with
// what was written.
func Check(written []Written, got []*kgo.Record) Report {
	rep := Report{Written: len(written), Read: len(got), PerKeyFirstOrder: map[string][]int{}}
	want := make(map[string]Written, len(written))
	for _, w := range written {
		want[w.ID()] = w
	}
	seen := make(map[string]bool, len(written))
	for _, r := range got {
		h := headers(r)
		shard, seq := h["kinesis.shard"], h["kinesis.seq"]
		if shard == "" || seq == "" || h["kinesis.stream"] == "" || h["kinesis.arrival_ms"] == "" {
			rep.BadHeaders++
			continue
		}
		sub := int64(-1)
		if s, ok := h["kinesis.subseq"]; ok {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				rep.BadHeaders++
				continue
			}
			sub = v
		}
		k := id(shard, seq, sub)
		w, ok := want[k]
		if !ok {
			rep.Unknown++
			continue
		}
		if string(r.Key) != w.Key {
			rep.KeysOutOfPlace++
		}
		want := w.Data
		if want == nil {
			want = Payload(w.Key, w.N)
		}
		if string(r.Value) != string(want) {
			rep.PayloadMismatch++
		}
		if seen[k] {
			rep.Duplicates++
			continue
		}
		seen[k] = true
		if w.N < 0 {
			continue
		}
		order := rep.PerKeyFirstOrder[w.Key]
		if n := len(order); n > 0 && order[n-1] >= w.N {
			rep.OrderViolations = append(rep.OrderViolations,
				fmt.Sprintf("key %s: %d first seen after %d", w.Key, w.N, order[n-1]))
		}
		rep.PerKeyFirstOrder[w.Key] = append(order, w.N)
	}
	for _, w := range written {
		if !seen[w.ID()] {
			rep.Lost = append(rep.Lost, w.ID())
		}
	}
	sort.Strings(rep.Lost)
	return rep
}

func headers(r *kgo.Record) map[string]string {
	m := make(map[string]string, len(r.Headers))
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

// ReadAll reads every record of topic, from the start to the end offsets it
// finds when called, in partition order (partitions one after another).
func ReadAll(ctx context.Context, brokers []string, topic string) ([]*kgo.Record, error) {
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	adm.Close()
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	want := map[int32]int64{}
	offsets := map[int32]kgo.Offset{}
	total := int64(0)
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
			total += o.Offset
		}
		offsets[o.Partition] = kgo.NewOffset().AtStart()
	})
	if total == 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	byPart := map[int32][]*kgo.Record{}
	for {
		done := true
		for p, end := range want {
			if n := len(byPart[p]); n == 0 || byPart[p][n-1].Offset+1 < end {
				done = false
			}
		}
		if done {
			break
		}
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		fs := cl.PollFetches(fctx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for _, fe := range fs.Errors() {
			if fe.Err != context.DeadlineExceeded {
				return nil, fmt.Errorf("fetch %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < want[r.Partition] {
				byPart[r.Partition] = append(byPart[r.Partition], r)
			}
		})
	}
	parts := make([]int32, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	var out []*kgo.Record
	for _, p := range parts {
		out = append(out, byPart[p]...)
	}
	return out, nil
}
