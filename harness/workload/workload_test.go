package workload

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// scripted is a PutRecords stand-in that misbehaves on purpose: it rejects
// entries one by one (throttling) and fails whole calls, sometimes after
// writing them (an unknown outcome, as a timeout after the write would be).
type scripted struct {
	mu          sync.Mutex
	rng         *rand.Rand
	throttle    float64 // per entry
	failCall    float64 // per call
	writeOnFail float64 // of failed calls, how many wrote anyway
	fatal       error
	shards      int
	seq         int64
	log         map[string][]stored // per shard, in sequence order
}

type stored struct {
	seq  string
	pk   string
	data []byte
}

func newScripted(seed uint64) *scripted {
	return &scripted{rng: rand.New(rand.NewPCG(seed, 7)), shards: 3, log: map[string][]stored{}}
}

func (s *scripted) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fatal != nil {
		return nil, s.fatal
	}
	failCall := s.rng.Float64() < s.failCall
	if failCall && s.rng.Float64() >= s.writeOnFail {
		return nil, errors.New("connection reset")
	}
	out := &kinesis.PutRecordsOutput{}
	for _, e := range in.Records {
		if !failCall && s.rng.Float64() < s.throttle {
			out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String("ProvisionedThroughputExceededException")})
			out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
			continue
		}
		h := md5.Sum([]byte(*e.PartitionKey))
		if e.ExplicitHashKey != nil {
			h[0] = byte(len(*e.ExplicitHashKey))
		}
		shard := fmt.Sprintf("shardId-%012d", int(h[0])%s.shards)
		s.seq++
		seq := fmt.Sprintf("4960%020d", s.seq)
		s.log[shard] = append(s.log[shard], stored{seq: seq, pk: *e.PartitionKey, data: e.Data})
		out.Records = append(out.Records, types.PutRecordsResultEntry{ShardId: aws.String(shard), SequenceNumber: aws.String(seq)})
	}
	if failCall {
		return nil, errors.New("request timed out after the write")
	}
	return out, nil
}

type streamKey struct {
	producer int
	key      string
}

type logged struct {
	shard, seq string
	sub        int64
	p          Payload
	raw        []byte
}

// unpack lists every logical record in the scripted log, deaggregating.
func (s *scripted) unpack(t *testing.T) []logged {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []logged
	for shard, recs := range s.log {
		for _, r := range recs {
			subs, err := DecodeKPL(r.data)
			if errors.Is(err, ErrNotKPL) {
				subs, err = []KPLSub{{Data: r.data, SubSequence: -1}}, nil
			}
			if err != nil { // a deliberately corrupted aggregate
				out = append(out, logged{shard: shard, seq: r.seq, sub: -1, raw: r.data})
				continue
			}
			for _, sr := range subs {
				p, err := ParsePayload(sr.Data)
				if err != nil {
					t.Fatalf("shard %s seq %s: unreadable payload: %v", shard, r.seq, err)
				}
				out = append(out, logged{shard: shard, seq: r.seq, sub: sr.SubSequence, p: p, raw: sr.Data})
			}
		}
	}
	return out
}

// checkOrder asserts the workload's guarantees against what was written.
func checkOrder(t *testing.T, w *Workload, s *scripted, total int) {
	t.Helper()
	acks := w.Acked()
	if len(acks) != total || w.Produced() != int64(total) {
		t.Fatalf("acked %d (Produced %d), want %d", len(acks), w.Produced(), total)
	}
	type id struct {
		shard, seq string
		sub        int64
	}
	ids := map[id]Ack{}
	next := map[streamKey]int64{}
	for _, a := range acks {
		k := id{a.ShardID, a.SequenceNumber, a.SubSequence}
		if _, dup := ids[k]; dup {
			t.Fatalf("idempotency key %v acknowledged twice", k)
		}
		ids[k] = a
		sk := streamKey{a.Producer, a.Key}
		if a.KeySeq < next[sk] {
			t.Fatalf("%v: ack of keySeq %d after %d", sk, a.KeySeq, next[sk]-1)
		}
		next[sk] = a.KeySeq + 1
	}
	// Per shard, in Kinesis order, each (producer, key)'s first copies have
	// increasing seq; every ack's record is there with its content.
	logs := s.unpack(t)
	found := map[id]bool{}
	for _, l := range logs {
		k := id{l.shard, l.seq, l.sub}
		a, ok := ids[k]
		if !ok {
			continue
		}
		if l.raw != nil && l.p.Key != "" && (l.p.Producer != a.Producer || l.p.Key != a.Key || l.p.Seq != a.KeySeq) {
			t.Fatalf("ack %+v points at payload %+v", a, l.p)
		}
		found[k] = true
	}
	for k := range ids {
		if !found[k] {
			t.Fatalf("acknowledged %v is not in the stream", k)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for shard, recs := range s.log {
		maxSeen := map[streamKey]int64{}
		for _, r := range recs {
			var payloads [][]byte
			if subs, err := DecodeKPL(r.data); err == nil {
				for _, sr := range subs {
					payloads = append(payloads, sr.Data)
				}
			} else {
				payloads = [][]byte{r.data}
			}
			for _, d := range payloads {
				p, err := ParsePayload(d)
				if err != nil {
					continue
				}
				sk := streamKey{p.Producer, p.Key}
				if m, ok := maxSeen[sk]; ok && p.Seq < m {
					t.Fatalf("shard %s: %v seq %d written after seq %d", shard, sk, p.Seq, m)
				}
				maxSeen[sk] = max(maxSeen[sk], p.Seq)
			}
		}
	}
}

func TestWorkloadKeepsPerKeyOrderUnderEntryFailures(t *testing.T) {
	s := newScripted(1)
	s.throttle = 0.3
	w, err := New(s, "stream", WithProducers(3), WithKeys(ZipfKeys(20, 1.3)), WithTotal(3000),
		WithSeed(42), WithBackoff(time.Microsecond, 10*time.Microsecond), WithBatchSize(50))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkOrder(t, w, s, 3000)
	st := w.Stats()
	if st.Throttled == 0 || st.EntryFailures != st.Throttled {
		t.Fatalf("expected per-entry throttles to be counted, got %+v", st)
	}
	if len(w.Unconfirmed()) != 0 {
		t.Fatalf("no call failed, yet %d unconfirmed", len(w.Unconfirmed()))
	}
	for _, a := range w.Acked() {
		if a.Ambiguous {
			t.Fatalf("ack %+v marked ambiguous without a failed call", a)
		}
	}
}

func TestWorkloadRetriesAmbiguousCallsAndMarksThem(t *testing.T) {
	s := newScripted(2)
	s.throttle = 0.1
	s.failCall = 0.2
	s.writeOnFail = 0.5
	w, err := New(s, "stream", WithProducers(2), WithKeys(UniformKeys(8)), WithTotal(1000),
		WithSeed(7), WithBackoff(time.Microsecond, 10*time.Microsecond), WithBatchSize(20))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkOrder(t, w, s, 1000)
	// Every extra copy in the stream belongs to an ack marked Ambiguous.
	ambiguous := map[[3]string]bool{}
	for _, a := range w.Acked() {
		if a.Ambiguous {
			ambiguous[[3]string{fmt.Sprint(a.Producer), a.Key, fmt.Sprint(a.KeySeq)}] = true
		}
	}
	copies := map[[3]string]int{}
	for _, l := range s.unpack(t) {
		copies[[3]string{fmt.Sprint(l.p.Producer), l.p.Key, fmt.Sprint(l.p.Seq)}]++
	}
	extra := 0
	for k, n := range copies {
		if n > 1 {
			extra++
			if !ambiguous[k] {
				t.Fatalf("record %v written %d times but its ack is not marked ambiguous", k, n)
			}
		}
	}
	if extra == 0 || w.Stats().FailedCalls == 0 {
		t.Fatalf("the script should have produced ambiguous duplicates (failed calls %d)", w.Stats().FailedCalls)
	}
}

func TestWorkloadUnconfirmedWhenNothingIsAcknowledged(t *testing.T) {
	s := newScripted(3)
	s.failCall = 1
	s.writeOnFail = 1
	// One key, aggregates of 5: only the first aggregate is ever attempted
	// (the second waits for it), so exactly its 5 records are unconfirmed.
	w, err := New(s, "stream", WithTotal(10), WithKeys(SingleKey("k")), WithAggregation(5),
		WithBackoff(time.Millisecond, 2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for w.Stats().FailedCalls < 3 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	err = w.Run(ctx)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want a missed-total error wrapping context.Canceled", err)
	}
	un := w.Unconfirmed()
	if len(w.Acked()) != 0 || len(un) != 5 {
		t.Fatalf("acked %d, unconfirmed %d; want 0 and 5", len(w.Acked()), len(un))
	}
	for i, a := range un {
		if a.KeySeq != int64(i) || a.ShardID != "" || !a.Ambiguous {
			t.Fatalf("unconfirmed[%d] = %+v", i, a)
		}
	}
}

func TestWorkloadStopsOnFatalError(t *testing.T) {
	s := newScripted(4)
	s.fatal = &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "no such stream"}
	w, err := New(s, "missing", WithProducers(2))
	if err != nil {
		t.Fatal(err)
	}
	err = w.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("Run = %v, want a ResourceNotFoundException error", err)
	}
}

func TestWorkloadRecordKinds(t *testing.T) {
	s := newScripted(5)
	w, err := New(s, "stream", WithKeys(PinnedKeys(4, "12345")), WithTotal(200), WithAggregation(5),
		WithMalformedEvery(7), WithOversizedEvery(11), WithOversizedSize(300<<10), WithRecordSize(150, 250))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkOrder(t, w, s, 200)
	kinds := map[Kind]int{}
	for _, a := range w.Acked() {
		kinds[a.Kind]++
		if a.ExplicitHashKey != "12345" || !strings.HasPrefix(a.Key, "pin-") {
			t.Fatalf("pinned key not applied: %+v", a)
		}
		switch a.Kind {
		case KindNormal:
			if a.SubSequence < 0 || a.Bytes < 150 || a.Bytes > 250 {
				t.Fatalf("normal aggregated record %+v: want a subsequence and 150..250 bytes", a)
			}
		case KindOversized:
			if a.SubSequence != -1 || a.Bytes != 300<<10 {
				t.Fatalf("oversized record %+v: want plain, 300 KiB", a)
			}
		case KindMalformed:
			if a.SubSequence != -1 {
				t.Fatalf("malformed record %+v: want plain", a)
			}
		}
	}
	if kinds[KindMalformed] == 0 || kinds[KindOversized] == 0 || kinds[KindNormal] == 0 {
		t.Fatalf("kinds = %v, want all three", kinds)
	}
	// Malformed records here are corrupt aggregates: magic and MD5 right,
	// protobuf broken, so Deaggregate must fail with a decode error.
	corrupt := 0
	s.mu.Lock()
	for _, recs := range s.log {
		for _, r := range recs {
			if _, err := DecodeKPL(r.data); err != nil && !errors.Is(err, ErrNotKPL) {
				corrupt++
				if !IsKPL(r.data) {
					t.Fatal("corrupt aggregate lost its magic or MD5")
				}
			}
		}
	}
	s.mu.Unlock()
	if corrupt != kinds[KindMalformed] {
		t.Fatalf("%d corrupt aggregates in the stream, %d malformed acks", corrupt, kinds[KindMalformed])
	}
}

func TestWorkloadMalformedJSON(t *testing.T) {
	s := newScripted(6)
	w, err := New(s, "stream", WithTotal(30), WithMalformedEvery(3), WithKeys(SingleKey("hot")))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkOrder(t, w, s, 30)
	n := 0
	for _, l := range s.unpack(t) {
		if l.p.Kind == KindMalformed {
			n++
			if json.Valid(l.raw) || !strings.HasPrefix(string(l.raw), MalformedPrefix) {
				t.Fatalf("malformed payload %q is valid JSON", l.raw)
			}
		} else if !json.Valid(l.raw) {
			t.Fatalf("normal payload %q is not JSON", l.raw)
		}
	}
	if n != 10 {
		t.Fatalf("%d malformed records, want 10", n)
	}
}

func TestWorkloadIsSeeded(t *testing.T) {
	shape := func(seed int64) string {
		s := newScripted(9)
		w, err := New(s, "stream", WithProducers(2), WithKeys(ZipfKeys(10, 2)), WithTotal(100),
			WithRecordSize(100, 400), WithSeed(seed))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		// The multiset per producer, in key-seq order, must follow from the seed.
		var b strings.Builder
		per := map[int][]string{}
		for _, a := range w.Acked() {
			per[a.Producer] = append(per[a.Producer], fmt.Sprintf("%s/%d/%d", a.Key, a.KeySeq, a.Bytes))
		}
		for p := range 2 {
			fmt.Fprintln(&b, p, len(per[p]))
		}
		for _, l := range s.unpack(t) {
			fmt.Fprintln(&b, l.p.Producer, l.p.Key, l.p.Seq, len(l.raw), l.p.Pad[:min(8, len(l.p.Pad))])
		}
		return b.String()
	}
	a, b, c := shape(5), shape(5), shape(6)
	sortLines := func(s string) string {
		ls := strings.Split(s, "\n")
		slices.Sort(ls)
		return strings.Join(ls, "\n")
	}
	if sortLines(a) != sortLines(b) {
		t.Fatal("same seed, different records")
	}
	if sortLines(a) == sortLines(c) {
		t.Fatal("different seeds, same records")
	}
}

func TestWorkloadRate(t *testing.T) {
	s := newScripted(10)
	w, err := New(s, "stream", WithRate(5000), WithProducers(2), WithTotal(100))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	checkOrder(t, w, s, 100)
}

func TestOptionsValidation(t *testing.T) {
	s := newScripted(11)
	bad := [][]Option{
		{WithProducers(0)},
		{WithRecordSize(10, 5)},
		{WithKeys(ZipfKeys(10, 1))},
		{WithKeys(PinnedKeys(3, "not-a-number"))},
		{WithAggregation(100), WithRecordSize(20000, 20000)},
		{WithOversizedEvery(2), WithOversizedSize(2 << 20)},
		{WithBatchSize(501)},
	}
	for i, opts := range bad {
		if _, err := New(s, "stream", opts...); err == nil {
			t.Errorf("case %d: New accepted invalid options", i)
		}
	}
	if _, err := New(nil, "stream"); err == nil {
		t.Error("New accepted a nil client")
	}
}

func TestHashKeyIn(t *testing.T) {
	got, err := HashKeyIn("0", "340282366920938463463374607431768211455")
	if err != nil || got != "170141183460469231731687303715884105727" {
		t.Fatalf("HashKeyIn = %q, %v", got, err)
	}
	if _, err := HashKeyIn("10", "5"); err == nil {
		t.Fatal("inverted range accepted")
	}
}

func TestParsePayload(t *testing.T) {
	p := Payload{Producer: 2, Key: "k", Seq: 9, Kind: KindMalformed, SentMs: 5}
	raw := p.encode(300, func(n int) string { return strings.Repeat("x", n) })
	if len(raw) != 300+len(MalformedPrefix) {
		t.Fatalf("encoded %d bytes, want %d", len(raw), 300+len(MalformedPrefix))
	}
	got, err := ParsePayload(raw)
	if err != nil || got.Producer != 2 || got.Key != "k" || got.Seq != 9 {
		t.Fatalf("ParsePayload = %+v, %v", got, err)
	}
	if _, err := ParsePayload([]byte("garbage")); !errors.Is(err, ErrNotPayload) {
		t.Fatalf("garbage parsed: %v", err)
	}
}

// blocking holds its first call until released, ignoring the context, as a
// slow Kinesis would.
type blocking struct {
	*scripted
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blocking) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, o ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	first := false
	b.once.Do(func() { first = true })
	if first {
		close(b.entered)
		<-b.release
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return b.scripted.PutRecords(ctx, in, o...)
}

// When Run's context ends mid-call, the call may still finish within the
// drain grace and its acknowledgements count.
func TestCallInFlightAtCancelIsDrained(t *testing.T) {
	b := &blocking{scripted: newScripted(12), entered: make(chan struct{}), release: make(chan struct{})}
	w, err := New(b, "stream", WithKeys(UniformKeys(1000)), WithTotal(5000), WithBatchSize(10), WithDrainGrace(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	<-b.entered
	cancel()
	close(b.release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want a missed total", err)
	}
	if len(w.Acked()) != 10 || len(w.Unconfirmed()) != 0 {
		t.Fatalf("acked %d, unconfirmed %d; want the drained call's 10 and none", len(w.Acked()), len(w.Unconfirmed()))
	}
	checkOrder(t, w, b.scripted, 10)
}

// Aggregates whose sub-records carry their own explicit hash keys, cycling
// through the given ones, while the aggregate is routed by its key.
func TestWorkloadSubRecordHashKeys(t *testing.T) {
	const lo, hi = "85070591730234615865843651857942052864", "255211775190703847597530955573826158592"
	s := newScripted(12)
	w, err := New(s, "stream", WithProducers(2), WithKeys(UniformKeys(8)), WithTotal(90), WithAggregation(4),
		WithSubRecordHashKeys(lo, hi), WithSeed(3))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkOrder(t, w, s, 90)
	for _, a := range w.Acked() {
		want := []string{lo, hi}[a.SubSequence%2]
		if a.SubSequence < 0 || a.SubExplicitHashKey != want || a.ExplicitHashKey != "" || a.PartitionKey != a.Key {
			t.Fatalf("ack %+v: want sub-record hash key %s, the aggregate routed by its key", a, want)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, recs := range s.log {
		for _, r := range recs {
			subs, err := DecodeKPL(r.data)
			if err != nil {
				t.Fatalf("record %s is not an aggregate: %v", r.seq, err)
			}
			for _, sr := range subs {
				if want := []string{lo, hi}[sr.SubSequence%2]; sr.ExplicitHashKey != want || sr.PartitionKey != r.pk {
					t.Fatalf("sub-record %s/%d: key %q hash key %q, want %q, %q", r.seq, sr.SubSequence, sr.PartitionKey, sr.ExplicitHashKey, r.pk, want)
				}
				n++
			}
		}
	}
	if n != 90 {
		t.Fatalf("%d sub-records in the stream, want 90", n)
	}
	for i, opts := range [][]Option{
		{WithSubRecordHashKeys(lo)},                           // no aggregation
		{WithAggregation(4), WithSubRecordHashKeys(lo, "-1")}, // not a hash key
		{WithAggregation(4), WithSubRecordHashKeys("1" + hi)}, // above 2^128-1
	} {
		if _, err := New(s, "stream", opts...); err == nil {
			t.Errorf("case %d: New accepted invalid sub-record hash keys", i)
		}
	}
}
