package outputcheck

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func rec(w Written, value string) *kgo.Record {
	h := []kgo.RecordHeader{{Key: "kinesis.stream", Value: []byte("s")}, {Key: "kinesis.shard", Value: []byte(w.Shard)},
		{Key: "kinesis.seq", Value: []byte(w.Seq)}, {Key: "kinesis.arrival_ms", Value: []byte("1")}}
	if w.SubSeq >= 0 {
		h = append(h, kgo.RecordHeader{Key: "kinesis.subseq", Value: []byte{byte('0' + w.SubSeq)}})
	}
	if value == "" {
		value = string(Payload(w.Key, w.N))
	}
	return &kgo.Record{Key: []byte(w.Key), Value: []byte(value), Headers: h}
}

func TestCheck(t *testing.T) {
	a0 := Written{Shard: "s0", Seq: "1", SubSeq: -1, Key: "a", N: 0}
	a1 := Written{Shard: "s0", Seq: "2", SubSeq: -1, Key: "a", N: 1}
	b0 := Written{Shard: "s1", Seq: "1", SubSeq: 2, Key: "b", N: 0}
	written := []Written{a0, a1, b0}

	if r := Check(written, []*kgo.Record{rec(a0, ""), rec(b0, ""), rec(a0, ""), rec(a1, "")}); !r.OK() || r.Duplicates != 1 {
		t.Errorf("good run with a duplicate: %s", r)
	}
	if r := Check(written, []*kgo.Record{rec(a0, ""), rec(b0, "")}); r.OK() || len(r.Lost) != 1 || r.Lost[0] != a1.ID() {
		t.Errorf("loss not caught: %s", r)
	}
	if r := Check(written, []*kgo.Record{rec(a1, ""), rec(a0, ""), rec(b0, "")}); r.OK() || len(r.OrderViolations) != 1 {
		t.Errorf("reordering not caught: %s", r)
	}
	if r := Check(written, []*kgo.Record{rec(a0, "x"), rec(a1, ""), rec(b0, "")}); r.OK() || r.PayloadMismatch != 1 {
		t.Errorf("wrong payload not caught: %s", r)
	}
	stray := rec(Written{Shard: "s9", Seq: "9", SubSeq: -1, Key: "z"}, "")
	noHeaders := &kgo.Record{Key: []byte("a")}
	if r := Check(written, []*kgo.Record{rec(a0, ""), rec(a1, ""), rec(b0, ""), stray, noHeaders}); r.OK() || r.Unknown != 1 || r.BadHeaders != 1 {
		t.Errorf("foreign records not caught: %s", r)
	}
}
