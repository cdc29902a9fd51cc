package kinesis

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
)

func TestSeqRoundTrip(t *testing.T) {
	for _, c := range []struct {
		counter, stream uint64
		shard           int
	}{{1, 1, 0}, {1_000_001, 7, 12}, {^uint64(0), 9_999_999_999, 999_999}} {
		s := formatSeq(c.counter, c.stream, c.shard)
		if len(s) != seqLen {
			t.Fatalf("len(%s) = %d", s, len(s))
		}
		counter, stream, shard, ok := parseSeq(s)
		if !ok || counter != c.counter || stream != c.stream || shard != c.shard {
			t.Fatalf("parse(%s) = %d %d %d %v", s, counter, stream, shard, ok)
		}
		// Flipping any digit breaks the check digits or the fields.
		b := []byte(s)
		b[30] = '0' + (b[30]-'0'+1)%10
		if _, _, _, ok := parseSeq(string(b)); ok {
			t.Fatalf("tampered %s accepted", b)
		}
	}
	// Numeric order follows the counter.
	a, b := new(big.Int), new(big.Int)
	a.SetString(formatSeq(99, 5, 3), 10)
	b.SetString(formatSeq(100, 1, 0), 10)
	if a.Cmp(b) >= 0 {
		t.Fatal("sequence numbers do not order by counter")
	}
}

func TestHashKeys(t *testing.T) {
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	if h, ok := parseHashKey(max.String()); !ok || h != maxHashKey {
		t.Fatal("max hash key")
	}
	for _, bad := range []string{"", "01", "-1", "1e5", new(big.Int).Add(max, big.NewInt(1)).String()} {
		if _, ok := parseHashKey(bad); ok {
			t.Fatalf("accepted %q", bad)
		}
	}
	starts := evenStarts(3)
	if starts[0] != (u128{}) || starts[1].String() != "113427455640312821154458202477256070485" || starts[2].String() != "226854911280625642308916404954512140970" {
		t.Fatalf("evenStarts(3) = %v", starts)
	}
	if (u128{1, 0}).sub1() != (u128{0, ^uint64(0)}) || (u128{0, ^uint64(0)}).add1() != (u128{1, 0}) {
		t.Fatal("carry")
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\s", "ctl\x00\x1f\n\r\t", "utf8 é 日本 🙂", "bad \xff utf8", "<html>&"} {
		var back string
		if err := json.Unmarshal(appendJSONString(nil, s), &back); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if back != want {
			t.Fatalf("round trip %q → %q", s, back)
		}
	}
}

func TestBucket(t *testing.T) {
	var b bucket
	const sec = int64(1e9)
	for i := 0; i < 5; i++ {
		if !b.take(0, 5, 1) {
			t.Fatalf("call %d refused", i)
		}
	}
	if b.take(0, 5, 1) || !b.take(sec/5, 5, 1) {
		t.Fatal("refill of one token per 200 ms")
	}
	b.charge(sec/5, 5, 10)
	if !b.inDebt(sec, 5) || b.inDebt(3*sec, 5) {
		t.Fatal("debt repaid at the refill rate")
	}
}

type writerToBody struct{ io.Reader }

func (writerToBody) Close() error                     { return nil }
func (writerToBody) WriteTo(io.Writer) (int64, error) { return 0, io.EOF }

type captureRT struct{ body io.ReadCloser }

func (c *captureRT) RoundTrip(r *http.Request) (*http.Response, error) {
	c.body = r.Body
	return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
}

func TestSDKTransportHidesWriteTo(t *testing.T) {
	rt := &captureRT{}
	body := writerToBody{bytes.NewReader([]byte("x"))}
	req, _ := http.NewRequest(http.MethodPost, "http://x/", nil)
	req.Body = body
	if _, err := SDKTransport(rt).RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if _, ok := rt.body.(io.WriterTo); ok {
		t.Fatal("body still implements io.WriterTo")
	}
	if req.Body != io.ReadCloser(body) {
		t.Fatal("caller's request was modified")
	}
}

func TestParsePutRecordsMatchesEncodingJSON(t *testing.T) {
	type body struct {
		streamRef
		Records []putEntry `json:"Records"`
	}
	cases := []string{
		`{"StreamName":"s","Records":[{"Data":"AAEC","PartitionKey":"k"}]}`,
		` { "Records" : [ { "PartitionKey" : "k\u00e9\"", "Data" : "aGVs\/A==", "ExplicitHashKey":"12" } , {"Data":null,"PartitionKey":"x","Extra":[1,{"a":true},null,-1.5e3]} ] , "StreamARN":"arn", "DryRun": false, "StreamId": null } `,
		`{"Records":[]}`,
		`{"StreamName":null,"Records":null}`,
		"{\"StreamName\":\"bad \xff utf8\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"\\ud83d\\ude00\"}]}",
	}
	for _, c := range cases {
		ref, recs, ok := parsePutRecords([]byte(c))
		if !ok {
			t.Fatalf("fast path refused %s", c)
		}
		var want body
		if err := json.Unmarshal([]byte(c), &want); err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(body{ref, recs})
		exp, _ := json.Marshal(want)
		if string(got) != string(exp) {
			t.Fatalf("%s:\n got %s\nwant %s", c, got, exp)
		}
	}
	for _, bad := range []string{``, `{`, `{"Records":[{"Data":"!!"}]}`, `{"Records":[{"Data":"AA=="}]`, `{"Records":[1]}`, `{"StreamName":"a" "b"}`, `{"x":tru}`, `{"StreamName":"a"} x`, "{\"StreamName\":\"a\x01\"}"} {
		if _, _, ok := parsePutRecords([]byte(bad)); ok {
			t.Fatalf("fast path accepted %q", bad)
		}
	}
}

func FuzzParsePutRecords(f *testing.F) {
	f.Add([]byte(`{"StreamName":"s","Records":[{"Data":"AAEC","PartitionKey":"k","ExplicitHashKey":"5"}]}`))
	f.Add([]byte(`{"Records":[{"Data":null,"PartitionKey":"\u00e9","X":[{},[]]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ref, recs, ok := parsePutRecords(b)
		if !ok {
			return
		}
		var want struct {
			streamRef
			Records []putEntry `json:"Records"`
		}
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("fast path accepted invalid JSON %q: %v", b, err)
		}
		got, _ := json.Marshal(struct {
			streamRef
			Records []putEntry `json:"Records"`
		}{ref, recs})
		exp, _ := json.Marshal(want)
		if string(got) != string(exp) {
			t.Fatalf("%q:\n got %s\nwant %s", b, got, exp)
		}
	})
}

func TestForgedIteratorIsRefused(t *testing.T) {
	e := New(WithLimits(false))
	if err := e.CreateStream("s", 1); err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now().UnixMilli()
	for _, it := range []iterState{
		{Stream: "s", StreamID: 1, Shard: -1, Issued: now},
		{Stream: "s", StreamID: 1, Shard: 5, Issued: now},
		{Stream: "s", StreamID: 2, Shard: 0, Issued: now},
	} {
		body, _ := json.Marshal(map[string]string{"ShardIterator": it.encode()})
		_, err := e.opGetRecords(body)
		var ae *apiError
		if !errors.As(err, &ae) || ae.code != errResourceNotFound {
			t.Fatalf("%+v: %v", it, err)
		}
	}
}
