package kpl

import (
	"bytes"
	"errors"
	"math/big"
	"strconv"
	"testing"
)

// FuzzDeaggregate checks that Deaggregate never panics, that its verdict
// agrees with IsAggregated, that whatever it decodes survives a round trip
// through Aggregate, and that records built from the input round-trip too.
// Its seeds run in the normal test suite; run it longer with
// go test -run '^$' -fuzz FuzzDeaggregate -fuzztime 60s ./replicator/kpl/
func FuzzDeaggregate(f *testing.F) {
	seeds := [][]SubRecord{
		{{PartitionKey: "a", Data: []byte("1")}},
		{{PartitionKey: "a", Data: []byte("1")}, {PartitionKey: "b", Data: nil}, {PartitionKey: "a", Data: []byte{0xF3, 0x89, 0x9A, 0xC2}}},
		{{PartitionKey: "p", ExplicitHashKey: "0", Data: []byte("x")}, {PartitionKey: "q", ExplicitHashKey: maxHashKey.String(), Data: []byte("y")}},
	}
	for _, s := range seeds {
		agg, err := Aggregate(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(agg)
		broken := append([]byte{}, agg...)
		broken[len(broken)-1] ^= 1
		f.Add(broken)
		f.Add(agg[magicLen : len(agg)-digestLen]) // bare protobuf body (sealed by the target)
	}
	f.Add([]byte(nil))
	f.Add([]byte(`{"plain":"json"}`))
	f.Add([]byte{0x1a, 0x02, 0x08, 0x05}) // record with an out-of-range key index
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})

	f.Fuzz(func(t *testing.T, data []byte) {
		checkDeaggregate(t, data)
		// Mutations almost never keep the MD5 valid, so also feed the input
		// as the protobuf body of a correctly sealed aggregate: that is what
		// drives the decoder's error paths.
		checkDeaggregate(t, seal(data))

		// Records built from the input itself: keys and payloads cut from it.
		roundTrip(t, recordsFrom(data))
	})
}

func checkDeaggregate(t *testing.T, data []byte) {
	t.Helper()
	subs, err := Deaggregate(data)
	switch {
	case errors.Is(err, ErrNotAggregated):
		if IsAggregated(data) {
			t.Fatal("ErrNotAggregated for data IsAggregated accepts")
		}
	case err != nil:
		if !IsAggregated(data) {
			t.Fatalf("decode error %v for data IsAggregated rejects", err)
		}
	default:
		if len(subs) == 0 {
			t.Fatal("success with no sub-records")
		}
		for i, s := range subs {
			if s.SubSequence != int64(i) {
				t.Fatalf("sub-record %d has subsequence %d", i, s.SubSequence)
			}
			if s.ExplicitHashKey != "" && EffectiveHashKey(s) == nil {
				t.Fatalf("decoded an invalid explicit hash key %q", s.ExplicitHashKey)
			}
		}
		roundTrip(t, subs)
	}
}

func roundTrip(t *testing.T, subs []SubRecord) {
	t.Helper()
	agg, err := Aggregate(subs)
	if err != nil {
		t.Fatalf("Aggregate: %v", err)
	}
	got, err := Deaggregate(agg)
	if err != nil {
		t.Fatalf("Deaggregate(Aggregate(x)): %v", err)
	}
	if len(got) != len(subs) {
		t.Fatalf("round trip: %d sub-records, want %d", len(got), len(subs))
	}
	for i := range subs {
		if got[i].PartitionKey != subs[i].PartitionKey || got[i].ExplicitHashKey != subs[i].ExplicitHashKey ||
			!bytes.Equal(got[i].Data, subs[i].Data) || got[i].SubSequence != int64(i) {
			t.Fatalf("round trip sub-record %d: got %+v, want %+v", i, got[i], subs[i])
		}
	}
}

// recordsFrom splits data at zero bytes into (key, payload) pairs; a key of
// digits doubles as an explicit hash key when it is in range.
func recordsFrom(data []byte) []SubRecord {
	parts := bytes.Split(data, []byte{0})
	var recs []SubRecord
	for i := 0; i < len(parts); i += 2 {
		r := SubRecord{PartitionKey: string(parts[i])}
		if i+1 < len(parts) {
			r.Data = parts[i+1]
		}
		if n, err := strconv.ParseUint(r.PartitionKey, 10, 64); err == nil {
			r.ExplicitHashKey = new(big.Int).SetUint64(n).String()
		}
		recs = append(recs, r)
	}
	return recs
}
