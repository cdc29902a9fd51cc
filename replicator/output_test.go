package replicator_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The tests' check of a replicated topic against what they put into the
// stream: every record arrived at least once, nothing foreign, headers,
// key and value as written, and per-key order on the first occurrence of
// each record (at-least-once may repeat records after a crash or a lease
// move, but the first time each appears follows the order it was written
// in). Identity is the idempotency key: headers kinesis.shard, kinesis.seq
// and kinesis.subseq (KPL sub-records only). Payloads are "KEY:N", N
// counting up from 0 per key.

// putRecord is one record as a test put it into the stream.
type putRecord struct {
	Shard, Seq string
	SubSeq     int64 // -1 for a plain record
	Key        string
	N          int // per-key counter; negative: not part of the key's order
	// Data, when set, is the expected value instead of payload(Key, N).
	Data []byte
}

func recordID(shard, seq string, sub int64) string {
	return shard + "/" + seq + "/" + strconv.FormatInt(sub, 10)
}

func (w putRecord) id() string { return recordID(w.Shard, w.Seq, w.SubSeq) }

// payload is the data of the n-th record of key.
func payload(key string, n int) []byte { return []byte(key + ":" + strconv.Itoa(n)) }

// outputReport is what checkOutput found.
type outputReport struct {
	Written, Read   int
	Lost            []string // ids of records missing from the topic, sorted
	Duplicates      int      // copies beyond the first
	OrderViolations []string
	Unknown         int // records on the topic no test wrote
	BadHeaders      int
	WrongKeys       int // Kafka key differs from the partition key
	WrongValues     int // value differs from the payload written
}

// ok: nothing lost, reordered, foreign or altered.
func (r outputReport) ok() bool {
	return len(r.Lost) == 0 && len(r.OrderViolations) == 0 && r.Unknown == 0 && r.BadHeaders == 0 &&
		r.WrongKeys == 0 && r.WrongValues == 0
}

func (r outputReport) String() string {
	return fmt.Sprintf("written %d, read %d, lost %d %v, duplicates %d, order violations %d %v, unknown %d, bad headers %d, wrong keys %d, wrong values %d",
		r.Written, r.Read, len(r.Lost), r.Lost[:min(len(r.Lost), 5)], r.Duplicates, len(r.OrderViolations),
		r.OrderViolations[:min(len(r.OrderViolations), 5)], r.Unknown, r.BadHeaders, r.WrongKeys, r.WrongValues)
}

// checkOutput compares the records read from a topic (partition after
// partition, each in offset order) with what was written. Order is judged
// per key, so a key's records must share a partition.
func checkOutput(written []putRecord, got []*kgo.Record) outputReport {
	rep := outputReport{Written: len(written), Read: len(got)}
	want := make(map[string]putRecord, len(written))
	for _, w := range written {
		want[w.id()] = w
	}
	seen := make(map[string]bool, len(written))
	lastN := map[string]int{} // per key, the counter of the last first occurrence
	for _, r := range got {
		shard, seq, sub, ok := idempotencyKey(r)
		if !ok {
			rep.BadHeaders++
			continue
		}
		id := recordID(shard, seq, sub)
		w, ok := want[id]
		if !ok {
			rep.Unknown++
			continue
		}
		if string(r.Key) != w.Key {
			rep.WrongKeys++
		}
		value := w.Data
		if value == nil {
			value = payload(w.Key, w.N)
		}
		if string(r.Value) != string(value) {
			rep.WrongValues++
		}
		if seen[id] {
			rep.Duplicates++
			continue
		}
		seen[id] = true
		if w.N < 0 {
			continue
		}
		if last, ok := lastN[w.Key]; ok && last >= w.N {
			rep.OrderViolations = append(rep.OrderViolations, fmt.Sprintf("key %s: %d first seen after %d", w.Key, w.N, last))
		}
		lastN[w.Key] = w.N
	}
	for _, w := range written {
		if !seen[w.id()] {
			rep.Lost = append(rep.Lost, w.id())
		}
	}
	slices.Sort(rep.Lost)
	return rep
}

// idempotencyKey reads a record's identity from its headers; ok is false
// when a header every record carries is missing or malformed.
func idempotencyKey(r *kgo.Record) (shard, seq string, sub int64, ok bool) {
	sub = -1
	var stream, arrival string
	for _, h := range r.Headers {
		switch v := string(h.Value); h.Key {
		case "kinesis.stream":
			stream = v
		case "kinesis.shard":
			shard = v
		case "kinesis.seq":
			seq = v
		case "kinesis.arrival_ms":
			arrival = v
		case "kinesis.subseq":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return "", "", 0, false
			}
			sub = n
		}
	}
	return shard, seq, sub, stream != "" && shard != "" && seq != "" && arrival != ""
}

// readAll reads every record of topic up to the end offsets it finds when
// called: partition after partition, each in offset order.
func readAll(ctx context.Context, brokers []string, topic string) ([]*kgo.Record, error) {
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	adm.Close()
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	end := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			end[o.Partition] = o.Offset
		}
		from[o.Partition] = kgo.NewOffset().AtStart()
	})
	if len(end) == 0 {
		return nil, nil
	}
	// read_committed, as a consumer of exactly-once output reads; control
	// records are kept (and dropped below) so the read sees its way to the
	// end offsets past transaction markers.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	byPart := map[int32][]*kgo.Record{}
	next := map[int32]int64{} // per partition, past the last record or marker read
	complete := func() bool {
		for p, e := range end {
			if next[p] < e {
				return false
			}
		}
		return true
	}
	for !complete() {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		fs := cl.PollFetches(fctx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for _, fe := range fs.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("fetch %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if r.Offset < end[r.Partition] && !r.Attrs.IsControl() {
				byPart[r.Partition] = append(byPart[r.Partition], r)
			}
		})
	}
	parts := make([]int32, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	var out []*kgo.Record
	for _, p := range parts {
		out = append(out, byPart[p]...)
	}
	return out, nil
}

// The check itself catches what it is there to catch.
func TestCheckOutput(t *testing.T) {
	rec := func(w putRecord, value string) *kgo.Record {
		h := []kgo.RecordHeader{{Key: "kinesis.stream", Value: []byte("s")}, {Key: "kinesis.shard", Value: []byte(w.Shard)},
			{Key: "kinesis.seq", Value: []byte(w.Seq)}, {Key: "kinesis.arrival_ms", Value: []byte("1")}}
		if w.SubSeq >= 0 {
			h = append(h, kgo.RecordHeader{Key: "kinesis.subseq", Value: []byte(strconv.FormatInt(w.SubSeq, 10))})
		}
		if value == "" {
			value = string(payload(w.Key, w.N))
		}
		return &kgo.Record{Key: []byte(w.Key), Value: []byte(value), Headers: h}
	}
	a0 := putRecord{Shard: "s0", Seq: "1", SubSeq: -1, Key: "a", N: 0}
	a1 := putRecord{Shard: "s0", Seq: "2", SubSeq: -1, Key: "a", N: 1}
	b0 := putRecord{Shard: "s1", Seq: "1", SubSeq: 2, Key: "b", N: 0}
	written := []putRecord{a0, a1, b0}

	if r := checkOutput(written, []*kgo.Record{rec(a0, ""), rec(b0, ""), rec(a0, ""), rec(a1, "")}); !r.ok() || r.Duplicates != 1 {
		t.Errorf("good run with a duplicate: %s", r)
	}
	if r := checkOutput(written, []*kgo.Record{rec(a0, ""), rec(b0, "")}); r.ok() || len(r.Lost) != 1 || r.Lost[0] != a1.id() {
		t.Errorf("loss not caught: %s", r)
	}
	if r := checkOutput(written, []*kgo.Record{rec(a1, ""), rec(a0, ""), rec(b0, "")}); r.ok() || len(r.OrderViolations) != 1 {
		t.Errorf("reordering not caught: %s", r)
	}
	if r := checkOutput(written, []*kgo.Record{rec(a0, "x"), rec(a1, ""), rec(b0, "")}); r.ok() || r.WrongValues != 1 {
		t.Errorf("wrong value not caught: %s", r)
	}
	wrongKey := rec(a0, "")
	wrongKey.Key = []byte("b")
	if r := checkOutput(written, []*kgo.Record{wrongKey, rec(a1, ""), rec(b0, "")}); r.ok() || r.WrongKeys != 1 {
		t.Errorf("wrong key not caught: %s", r)
	}
	stray := rec(putRecord{Shard: "s9", Seq: "9", SubSeq: -1, Key: "z"}, "")
	noHeaders := &kgo.Record{Key: []byte("a")}
	if r := checkOutput(written, []*kgo.Record{rec(a0, ""), rec(a1, ""), rec(b0, ""), stray, noHeaders}); r.ok() || r.Unknown != 1 || r.BadHeaders != 1 {
		t.Errorf("foreign records not caught: %s", r)
	}
}
