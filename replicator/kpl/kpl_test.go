package kpl

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"math/rand"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// seal wraps a hand-built protobuf body with the magic and a valid MD5, so
// tests can reach the decoder with malformed messages.
func seal(body []byte) []byte {
	out := append(append([]byte{}, magic[:]...), body...)
	sum := md5.Sum(body)
	return append(out, sum[:]...)
}

func keyTable(num protowire.Number, keys ...string) []byte {
	var b []byte
	for _, k := range keys {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendString(b, k)
	}
	return b
}

func recordField(msg []byte) []byte {
	b := protowire.AppendTag(nil, fieldRecords, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func varintField(num protowire.Number, v uint64) []byte {
	b := protowire.AppendTag(nil, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func bytesField(num protowire.Number, v []byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func equalSubs(t *testing.T, got, want []SubRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d sub-records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.PartitionKey != w.PartitionKey || g.ExplicitHashKey != w.ExplicitHashKey || !bytes.Equal(g.Data, w.Data) || g.SubSequence != int64(i) {
			t.Fatalf("sub-record %d: got %+v, want %+v (subseq %d)", i, g, w, i)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	recs := []SubRecord{
		{PartitionKey: "user-1", Data: []byte(`{"n":1}`)},
		{PartitionKey: "user-2", Data: []byte(`{"n":2}`), ExplicitHashKey: "170141183460469231731687303715884105728"},
		{PartitionKey: "user-1", Data: []byte(`{"n":3}`)},
		{PartitionKey: "user-3", Data: nil},
		{PartitionKey: "user-2", Data: bytes.Repeat([]byte{0xF3}, 300), ExplicitHashKey: "170141183460469231731687303715884105728"},
		{PartitionKey: "", Data: []byte("empty key")},
	}
	agg, err := Aggregate(recs)
	if err != nil {
		t.Fatal(err)
	}
	if !IsAggregated(agg) {
		t.Fatal("IsAggregated(Aggregate(...)) = false")
	}
	subs, err := Deaggregate(agg)
	if err != nil {
		t.Fatal(err)
	}
	equalSubs(t, subs, recs)
}

func TestAggregateDedupesKeyTables(t *testing.T) {
	const ehk = "42"
	var recs []SubRecord
	for i := range 100 {
		recs = append(recs, SubRecord{PartitionKey: fmt.Sprintf("k%d", i%3), ExplicitHashKey: ehk, Data: []byte{byte(i)}})
	}
	agg, err := Aggregate(recs)
	if err != nil {
		t.Fatal(err)
	}
	var pk, eh, rs int
	body := agg[magicLen : len(agg)-digestLen]
	for off := 0; off < len(body); {
		num, typ, n := protowire.ConsumeTag(body[off:])
		off += n
		switch num {
		case fieldPartitionKeyTable:
			pk++
		case fieldExplicitHashKeyTable:
			eh++
		case fieldRecords:
			rs++
		}
		off += protowire.ConsumeFieldValue(num, typ, body[off:])
	}
	if pk != 3 || eh != 1 || rs != 100 {
		t.Fatalf("tables: %d partition keys, %d explicit hash keys, %d records; want 3, 1, 100", pk, eh, rs)
	}
}

func TestAggregateRejects(t *testing.T) {
	if _, err := Aggregate(nil); err == nil {
		t.Error("Aggregate(nil) succeeded")
	}
	if _, err := Aggregate([]SubRecord{{PartitionKey: "k", ExplicitHashKey: "-1"}}); err == nil {
		t.Error("Aggregate with a negative explicit hash key succeeded")
	}
	if _, err := Aggregate([]SubRecord{{PartitionKey: "k", ExplicitHashKey: maxHashKey.String() + "0"}}); err == nil {
		t.Error("Aggregate with an explicit hash key above 2^128-1 succeeded")
	}
}

func TestPlainRecords(t *testing.T) {
	good, err := Aggregate([]SubRecord{{PartitionKey: "k", Data: []byte("v")}})
	if err != nil {
		t.Fatal(err)
	}
	badMD5 := append([]byte{}, good...)
	badMD5[len(badMD5)-1] ^= 0xFF
	badBody := append([]byte{}, good...)
	badBody[magicLen+1] ^= 0x01 // body changed, digest kept
	wrongMagic := append([]byte{}, good...)
	wrongMagic[0] = 0xF4
	cases := map[string][]byte{
		"md5 mismatch":   badMD5,
		"body mismatch":  badBody,
		"wrong magic":    wrongMagic,
		"json":           []byte(`{"a":1}`),
		"empty":          nil,
		"magic only":     magic[:],
		"magic+short":    append(append([]byte{}, magic[:]...), make([]byte, digestLen-1)...),
		"magic+zero md5": append(append([]byte{}, magic[:]...), make([]byte, digestLen)...),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if IsAggregated(data) {
				t.Fatal("IsAggregated = true")
			}
			subs, err := Deaggregate(data)
			if !errors.Is(err, ErrNotAggregated) || subs != nil {
				t.Fatalf("Deaggregate = %v, %v; want nil, ErrNotAggregated", subs, err)
			}
		})
	}
}

func TestEmptyBodyWithValidDigestIsAnError(t *testing.T) {
	// magic + MD5("") is a well-formed aggregate with no records; delivering
	// nothing would drop the Kinesis record silently, so it is an error.
	data := seal(nil)
	if !IsAggregated(data) {
		t.Fatal("IsAggregated(seal(nil)) = false")
	}
	if _, err := Deaggregate(data); err == nil || errors.Is(err, ErrNotAggregated) {
		t.Fatalf("Deaggregate(empty aggregate) error = %v, want a decode error", err)
	}
}

func TestCorruptedProtobuf(t *testing.T) {
	okRec := cat(varintField(fieldPartitionKeyIndex, 0), bytesField(fieldData, []byte("x")))
	cases := []struct {
		name, want string
		body       []byte
	}{
		{"pk index out of range", "partition_key_index 1 outside",
			cat(keyTable(fieldPartitionKeyTable, "a"), recordField(cat(varintField(fieldPartitionKeyIndex, 1), bytesField(fieldData, nil))))},
		{"ehk index out of range", "explicit_hash_key_index 0 outside",
			cat(keyTable(fieldPartitionKeyTable, "a"), recordField(cat(okRec, varintField(fieldExplicitHashKeyIndex, 0))))},
		{"missing pk index", "missing required partition_key_index",
			cat(keyTable(fieldPartitionKeyTable, "a"), recordField(bytesField(fieldData, []byte("x"))))},
		{"missing data", "missing required data",
			cat(keyTable(fieldPartitionKeyTable, "a"), recordField(varintField(fieldPartitionKeyIndex, 0)))},
		{"no records", "no sub-records", keyTable(fieldPartitionKeyTable, "a")},
		{"truncated", "unexpected EOF",
			cat(keyTable(fieldPartitionKeyTable, "a"), recordField(okRec)[:4])},
		{"wrong wire type", "wire type",
			cat(varintField(fieldPartitionKeyTable, 7), recordField(okRec))},
		{"bad explicit hash key", "not a decimal",
			cat(keyTable(fieldPartitionKeyTable, "a"), keyTable(fieldExplicitHashKeyTable, "0x10"),
				recordField(cat(okRec, varintField(fieldExplicitHashKeyIndex, 0))))},
		{"second record broken", "sub-record 1 of 2",
			cat(keyTable(fieldPartitionKeyTable, "a"), recordField(okRec), recordField(varintField(fieldPartitionKeyIndex, 0)))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := seal(c.body)
			if !IsAggregated(data) {
				t.Fatal("test input should carry a valid digest")
			}
			subs, err := Deaggregate(data)
			if err == nil || errors.Is(err, ErrNotAggregated) {
				t.Fatalf("Deaggregate = %v, %v; want a decode error", subs, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestUnknownFieldsAndTagsAreSkipped(t *testing.T) {
	tag := cat(bytesField(1, []byte("key")), bytesField(2, []byte("value")))
	rec := cat(varintField(fieldPartitionKeyIndex, 0), bytesField(4, tag), bytesField(fieldData, []byte("payload")), varintField(9, 1))
	body := cat(varintField(15, 3), keyTable(fieldPartitionKeyTable, "pk"), recordField(rec), protowire.AppendFixed64(protowire.AppendTag(nil, 20, protowire.Fixed64Type), 1))
	subs, err := Deaggregate(seal(body))
	if err != nil {
		t.Fatal(err)
	}
	equalSubs(t, subs, []SubRecord{{PartitionKey: "pk", Data: []byte("payload")}})
}

// hashKeyOf returns MD5(key) as a decimal, the way Kinesis routes keys.
func hashKeyOf(key string) *big.Int {
	sum := md5.Sum([]byte(key))
	return new(big.Int).SetBytes(sum[:])
}

func TestEffectiveHashKey(t *testing.T) {
	// MD5("") = d41d8cd98f00b204e9800998ecf8427e.
	want, _ := new(big.Int).SetString("d41d8cd98f00b204e9800998ecf8427e", 16)
	if got := EffectiveHashKey(SubRecord{}); got.Cmp(want) != 0 {
		t.Fatalf("EffectiveHashKey(\"\") = %s, want %s", got, want)
	}
	if got := EffectiveHashKey(SubRecord{PartitionKey: "x", ExplicitHashKey: "12345"}); got.Int64() != 12345 {
		t.Fatalf("explicit hash key ignored: %s", got)
	}
	if got := EffectiveHashKey(SubRecord{ExplicitHashKey: "+5"}); got != nil {
		t.Fatalf("invalid explicit hash key gave %s, want nil", got)
	}
}

func TestInRangeAfterSplit(t *testing.T) {
	// A shard split at the midpoint: parent [0, max], children [0, mid-1] and
	// [mid, max]. Every sub-record of an aggregate written before the split
	// must land in exactly one child.
	mid := new(big.Int).Lsh(big.NewInt(1), 127)
	lowEnd := new(big.Int).Sub(mid, big.NewInt(1)).String()
	max := maxHashKey.String()
	rng := rand.New(rand.NewSource(7))
	low, high := 0, 0
	for i := range 2000 {
		sub := SubRecord{PartitionKey: fmt.Sprintf("key-%d-%d", i, rng.Int63())}
		inLow := InRange(sub, "0", lowEnd)
		inHigh := InRange(sub, mid.String(), max)
		if inLow == inHigh {
			t.Fatalf("%q: in low child %v, in high child %v; want exactly one", sub.PartitionKey, inLow, inHigh)
		}
		if want := hashKeyOf(sub.PartitionKey).Cmp(mid) < 0; inLow != want {
			t.Fatalf("%q: InRange(low) = %v, want %v", sub.PartitionKey, inLow, want)
		}
		if inLow {
			low++
		} else {
			high++
		}
		if !InRange(sub, "0", max) {
			t.Fatalf("%q outside the full range", sub.PartitionKey)
		}
	}
	if low < 800 || high < 800 {
		t.Fatalf("MD5 split looks wrong: %d low, %d high", low, high)
	}
	// The explicit hash key wins over the partition key, bounds are inclusive.
	sub := SubRecord{PartitionKey: "anything", ExplicitHashKey: lowEnd}
	if !InRange(sub, "0", lowEnd) || InRange(sub, mid.String(), max) {
		t.Fatal("explicit hash key at the inclusive upper bound misplaced")
	}
	sub.ExplicitHashKey = mid.String()
	if InRange(sub, "0", lowEnd) || !InRange(sub, mid.String(), max) {
		t.Fatal("explicit hash key at the inclusive lower bound misplaced")
	}
	// Unparseable bounds keep the record rather than drop it.
	if !InRange(sub, "", "junk") {
		t.Fatal("unparseable range dropped a record")
	}
}

func TestSkip(t *testing.T) {
	const (
		a = "49590338271490256608559692538361571095921575989136588898"
		b = "49590338271490256608559692538361571095921575989136588899"
		c = "9" // shorter string, smaller number: string order would be wrong
	)
	cases := []struct {
		seq    string
		sub    int64
		cpSeq  string
		cpSub  int64
		skip   bool
		reason string
	}{
		{a, 0, b, 0, true, "earlier sequence"},
		{b, 0, a, 5, false, "later sequence"},
		{a, 3, a, 3, true, "same position"},
		{a, 2, a, 3, true, "earlier sub-record"},
		{a, 4, a, 3, false, "later sub-record"},
		{a, -1, a, 0, true, "plain record, KCL-style checkpoint"},
		{a, -1, a, -1, true, "plain record, -1 checkpoint"},
		{c, 0, a, 0, true, "numeric not lexical comparison"},
		{a, 0, c, 0, false, "numeric not lexical comparison (reverse)"},
		{a, 0, "TRIM_HORIZON", 0, false, "sentinel checkpoint"},
		{a, 0, "SHARD_END", 0, false, "sentinel checkpoint"},
		{a, 0, "", 0, false, "no checkpoint"},
		{"junk", 0, a, 0, false, "unparseable sequence"},
	}
	for _, tc := range cases {
		if got := Skip(tc.seq, tc.sub, tc.cpSeq, tc.cpSub); got != tc.skip {
			t.Errorf("%s: Skip(%s,%d, %s,%d) = %v", tc.reason, tc.seq, tc.sub, tc.cpSeq, tc.cpSub, got)
		}
	}
}

// ResumeMidAggregate checks the combination the replicator relies on: after
// a checkpoint at sub-record 2 of an aggregate, re-reading it yields only
// sub-records 3.. .
func TestResumeMidAggregate(t *testing.T) {
	const seq = "49590338271490256608559692538361571095921575989136588898"
	var recs []SubRecord
	for i := range 6 {
		recs = append(recs, SubRecord{PartitionKey: "k", Data: []byte{byte(i)}})
	}
	agg, _ := Aggregate(recs)
	subs, err := Deaggregate(agg)
	if err != nil {
		t.Fatal(err)
	}
	var kept []int64
	for _, s := range subs {
		if !Skip(seq, s.SubSequence, seq, 2) {
			kept = append(kept, s.SubSequence)
		}
	}
	if fmt.Sprint(kept) != "[3 4 5]" {
		t.Fatalf("kept %v, want [3 4 5]", kept)
	}
}

func TestCompareSequence(t *testing.T) {
	long := strings.Repeat("9", 129)
	cases := []struct {
		a, b string
		want int
	}{
		{"1", "2", -1}, {"10", "9", 1}, {"0009", "9", 0}, {"0", "000", 0},
		{long, "1" + strings.Repeat("0", 128), 1}, {long, long, 0},
	}
	for _, c := range cases {
		got, err := CompareSequence(c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("CompareSequence(%s, %s) = %d, %v; want %d", c.a, c.b, got, err, c.want)
		}
		if back, _ := CompareSequence(c.b, c.a); back != -c.want {
			t.Errorf("CompareSequence not antisymmetric on %s, %s", c.a, c.b)
		}
	}
	for _, bad := range []string{"", "-1", "+1", "1e5", "12 "} {
		if _, err := CompareSequence(bad, "1"); err == nil {
			t.Errorf("CompareSequence(%q) accepted", bad)
		}
	}
}

// HashRange compares 16-byte keys; check it against big.Int arithmetic on
// random ranges and keys, explicit and MD5-derived.
func TestHashRangeMatchesBigInt(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	randKey := func() *big.Int { return new(big.Int).Rand(rng, new(big.Int).Add(maxHashKey, big.NewInt(1))) }
	for i := range 3000 {
		lo, hi := randKey(), randKey()
		if lo.Cmp(hi) > 0 {
			lo, hi = hi, lo
		}
		if i%10 == 0 {
			hi = new(big.Int).Set(lo) // single-key ranges hit the bounds
		}
		hr, err := ParseHashRange(lo.String(), hi.String())
		if err != nil {
			t.Fatal(err)
		}
		sub := SubRecord{PartitionKey: fmt.Sprint(rng.Int63())}
		if i%2 == 0 {
			k := randKey()
			if i%10 == 0 {
				k = lo
			}
			sub.ExplicitHashKey = k.String()
		}
		h := EffectiveHashKey(sub)
		want := h.Cmp(lo) >= 0 && h.Cmp(hi) <= 0
		if got := hr.Contains(sub); got != want {
			t.Fatalf("range [%s, %s], key %s: Contains = %v, want %v", lo, hi, h, got, want)
		}
	}
	for _, bad := range [][2]string{{"", "1"}, {"1", "x"}, {"5", "4"}, {"0", maxHashKey.String() + "1"}} {
		if _, err := ParseHashRange(bad[0], bad[1]); err == nil {
			t.Errorf("ParseHashRange(%q, %q) accepted", bad[0], bad[1])
		}
	}
}
