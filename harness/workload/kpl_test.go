package workload

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// The tests decode aggregates with their own protowire reader, written from
// the format description, never with the replicator's codec.

// KPLSub is one sub-record decoded by DecodeKPL (exported for the external
// test package).
type KPLSub struct {
	PartitionKey    string
	ExplicitHashKey string
	Data            []byte
	SubSequence     int64
}

// ErrNotKPL is DecodeKPL's answer for data without the magic prefix or with
// a digest that does not match: a plain Kinesis record.
var ErrNotKPL = errors.New("not a KPL aggregate")

// IsKPL reports whether data has the magic prefix and a matching MD5.
func IsKPL(data []byte) bool {
	if len(data) < len(kplMagic)+md5.Size || !bytes.Equal(data[:len(kplMagic)], []byte{0xF3, 0x89, 0x9A, 0xC2}) {
		return false
	}
	sum := md5.Sum(data[len(kplMagic) : len(data)-md5.Size])
	return bytes.Equal(sum[:], data[len(data)-md5.Size:])
}

// DecodeKPL splits an aggregate into its sub-records, numbered 0..n-1. It
// fails with ErrNotKPL for a plain record and with another error for an
// aggregate whose protobuf does not decode.
func DecodeKPL(data []byte) ([]KPLSub, error) {
	if !IsKPL(data) {
		return nil, ErrNotKPL
	}
	body := data[4 : len(data)-md5.Size]
	var pks, ehks []string
	var recs [][]byte
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 || typ != protowire.BytesType || num < 1 || num > 3 {
			return nil, fmt.Errorf("aggregate: bad field %d/%d (%d)", num, typ, n)
		}
		body = body[n:]
		v, n := protowire.ConsumeBytes(body)
		if n < 0 {
			return nil, fmt.Errorf("aggregate: field %d: %w", num, protowire.ParseError(n))
		}
		body = body[n:]
		switch num {
		case 1:
			pks = append(pks, string(v))
		case 2:
			ehks = append(ehks, string(v))
		case 3:
			recs = append(recs, v)
		}
	}
	if len(recs) == 0 {
		return nil, errors.New("aggregate: no records")
	}
	out := make([]KPLSub, len(recs))
	for i, m := range recs {
		s := KPLSub{SubSequence: int64(i)}
		var hasPK, hasData bool
		for len(m) > 0 {
			num, typ, n := protowire.ConsumeTag(m)
			if n < 0 {
				return nil, fmt.Errorf("record %d: bad tag", i)
			}
			m = m[n:]
			switch {
			case (num == 1 || num == 2) && typ == protowire.VarintType:
				v, n := protowire.ConsumeVarint(m)
				if n < 0 {
					return nil, fmt.Errorf("record %d: field %d: %w", i, num, protowire.ParseError(n))
				}
				m = m[n:]
				if num == 1 {
					if v >= uint64(len(pks)) {
						return nil, fmt.Errorf("record %d: partition key index %d out of range", i, v)
					}
					s.PartitionKey, hasPK = pks[v], true
				} else {
					if v >= uint64(len(ehks)) {
						return nil, fmt.Errorf("record %d: hash key index %d out of range", i, v)
					}
					s.ExplicitHashKey = ehks[v]
				}
			case num == 3 && typ == protowire.BytesType:
				v, n := protowire.ConsumeBytes(m)
				if n < 0 {
					return nil, fmt.Errorf("record %d: data: %w", i, protowire.ParseError(n))
				}
				m = m[n:]
				s.Data, hasData = v, true
			default:
				return nil, fmt.Errorf("record %d: unexpected field %d/%d", i, num, typ)
			}
		}
		if !hasPK || !hasData {
			return nil, fmt.Errorf("record %d: missing a required field", i)
		}
		out[i] = s
	}
	return out, nil
}

// hexBytes parses "f3 89 ..." into bytes.
func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	var out []byte
	for f := range strings.FieldsSeq(s) {
		var b byte
		if _, err := fmt.Sscanf(f, "%02x", &b); err != nil {
			t.Fatalf("bad hex %q: %v", f, err)
		}
		out = append(out, b)
	}
	return out
}

// The encoding of a small aggregate, byte by byte from the format.
func TestAggregateBytes(t *testing.T) {
	got, err := aggregate([]subRecord{
		{partitionKey: "k", data: []byte("ab")},
		{partitionKey: "k", explicitHashKey: "1", data: []byte("c")},
		{partitionKey: "j", explicitHashKey: "1", data: nil},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Tables first (partition keys in order of first use, then explicit hash
	// keys), then one length-delimited Record per sub-record.
	body := hexBytes(t, `
		0a 01 6b   0a 01 6a   12 01 31
		1a 06  08 00  1a 02 61 62
		1a 07  08 00  10 00  1a 01 63
		1a 06  08 01  10 00  1a 00
	`)
	sum := md5.Sum(body)
	want := slices.Concat([]byte{0xF3, 0x89, 0x9A, 0xC2}, body, sum[:])
	if !bytes.Equal(got, want) {
		t.Fatalf("aggregate\n got % x\nwant % x", got, want)
	}
}

func TestAggregateRoundTrip(t *testing.T) {
	var subs []subRecord
	for i := range 40 {
		key := fmt.Sprintf("key-%d", i%3)
		ehk := ""
		if i%4 == 1 {
			ehk = fmt.Sprint(i * 1000)
		}
		if i == 5 {
			ehk = "340282366920938463463374607431768211455" // 2^128-1
		}
		subs = append(subs, subRecord{partitionKey: key, explicitHashKey: ehk, data: bytes.Repeat([]byte{byte(i)}, i*37)})
	}
	agg, err := aggregate(subs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeKPL(agg)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(subs) {
		t.Fatalf("%d sub-records, want %d", len(got), len(subs))
	}
	for i, g := range got {
		s := subs[i]
		if g.SubSequence != int64(i) || g.PartitionKey != s.partitionKey || g.ExplicitHashKey != s.explicitHashKey || !bytes.Equal(g.Data, s.data) {
			t.Fatalf("sub-record %d = %q %q %d bytes, want %q %q %d bytes", i, g.PartitionKey, g.ExplicitHashKey, len(g.Data), s.partitionKey, s.explicitHashKey, len(s.data))
		}
	}
}

func TestAggregateErrors(t *testing.T) {
	if _, err := aggregate(nil); err == nil {
		t.Fatal("empty aggregate accepted")
	}
	for _, k := range []string{"-1", "x", "340282366920938463463374607431768211456"} {
		if _, err := aggregate([]subRecord{{partitionKey: "k", explicitHashKey: k, data: []byte("d")}}); err == nil {
			t.Errorf("explicit hash key %q accepted", k)
		}
	}
}

// A corrupt aggregate keeps its magic and a valid digest, but its protobuf
// does not decode.
func TestCorruptAggregate(t *testing.T) {
	agg, err := aggregate([]subRecord{{partitionKey: "k", explicitHashKey: "7", data: []byte(`{"producer":0}`)}})
	if err != nil {
		t.Fatal(err)
	}
	bad := corruptAggregate(agg)
	if !IsKPL(bad) || len(bad) != len(agg)-1 {
		t.Fatalf("corrupt aggregate lost its framing: % x", bad)
	}
	if _, err := DecodeKPL(bad); err == nil || errors.Is(err, ErrNotKPL) {
		t.Fatalf("corrupt aggregate decoded: %v", err)
	}
	if _, err := DecodeKPL([]byte(`{"producer":0}`)); !errors.Is(err, ErrNotKPL) {
		t.Fatalf("plain record: %v", err)
	}
}
