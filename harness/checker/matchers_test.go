package checker

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
)

func TestMatchersPassOnCleanHistory(t *testing.T) {
	g := gomega.NewWithT(t)
	r := clean().check(Options{})
	g.Expect(r).To(LoseNothing())
	g.Expect(&r).To(HaveNoDuplicates())
	g.Expect(r).To(KeepPerKeyOrder())
	g.Expect(r).To(KeepPerShardOrder())
	g.Expect(r).To(HaveNoUnexpected())
	g.Expect(r).To(AccountForEveryDLQRecord())
	g.Expect(r).To(BeExactlyOnceByIdempotence())
	g.Expect(r).To(Pass(ExactlyOnce))
	g.Expect(CompareReplay(r, r)).To(BeUnchangedByReplay())
}

// failure runs m against actual, expects it to fail and returns its message.
func failure(t *testing.T, m types.GomegaMatcher, actual any) string {
	t.Helper()
	ok, err := m.Match(actual)
	if err != nil {
		t.Fatalf("Match: %v", err)
	}
	if ok {
		t.Fatalf("%T matched a failing result", m)
	}
	return m.FailureMessage(actual)
}

func wantAll(t *testing.T, msg string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Fatalf("failure message lacks %q:\n%s", p, msg)
		}
	}
}

func TestMatcherFailureMessages(t *testing.T) {
	// Lost.
	h := clean()
	gone, _ := h.out[4].ID()
	h.out = slices.Delete(h.out, 4, 5)
	r := h.check(Options{})
	wantAll(t, failure(t, LoseNothing(), r),
		"Expected the replication to lose no acknowledged record, but 1 record was acknowledged by Kinesis but absent from Kafka",
		"  - "+gone.String()+" producer 1 key b seq 0: not in the main topic")
	wantAll(t, failure(t, BeExactlyOnceByIdempotence(), r), "1 lost", "lost (1):", gone.String())
	wantAll(t, failure(t, Pass(AtLeastOnce), r), "keep the at-least-once promise", "1 lost")

	// Duplicates with causes, and the example cap.
	h = clean()
	n := len(h.out)
	for _, o := range h.out[:n] {
		c := o
		c.Offset = h.next[o.Partition]
		c.Timestamp = o.Timestamp.Add(time.Minute)
		h.next[o.Partition]++
		h.out = append(h.out, c)
	}
	r = h.check(Options{MaxExamples: 2, Events: []Event{{Time: h.out[0].Timestamp.Add(30 * time.Second), Kind: "crash", Detail: "worker-1 SIGKILL"}}})
	msg := failure(t, HaveNoDuplicates(), r)
	wantAll(t, msg, "27 IDs were duplicated (27 extra copies); causes: crash 27", "cause: crash at 12:00:30.", "(worker-1 SIGKILL)", "… and 25 more")
	if got := failure(t, Pass(ExactlyOnce), r); !strings.Contains(got, "27 duplicated") {
		t.Fatalf("exactly-once failure: %s", got)
	}
	if ok, _ := Pass(AtLeastOnce).Match(r); !ok {
		t.Fatal("at-least-once rejected duplicates")
	}

	// Per-key and per-shard reorders.
	h = newHistory()
	a := h.ack(0, "k", "parent", -1, "normal")
	b := h.ack(0, "k", "child", -1, "normal")
	c := h.ack(1, "x", "child", -1, "normal")
	h.deliver(b, 0)
	h.deliver(a, 0)
	h.deliver(c, 1)
	h.deliver(h.ack(1, "y", "child", -1, "normal"), 1)
	h.out[2], h.out[3] = h.out[3], h.out[2]
	h.out[2].Offset, h.out[3].Offset = 0, 1
	r = h.check(Options{})
	wantAll(t, failure(t, KeepPerKeyOrder(), r), "to keep per-key order", "1 record was out of per-key order", "seq 0 after seq 1 of the same key")
	wantAll(t, failure(t, KeepPerShardOrder(), r), "to keep per-shard order", c.ShardID+"/"+c.SequenceNumber, "follows child/")

	// Unexpected.
	h = clean()
	h.out = append(h.out, Observed{Topic: "out", Partition: 7, Offset: 3, Headers: map[string]string{}})
	wantAll(t, failure(t, HaveNoUnexpected(), h.check(Options{})),
		"to hold nothing unexpected, but 1 record was in Kafka but never acknowledged", "(no id) at out[7]@3: missing kinesis.shard")

	// DLQ accounting: a reason header missing and a dead letter gone.
	h = clean()
	delete(h.dlq[0].Headers, HeaderDLQError)
	h.dlq = h.dlq[:1]
	wantAll(t, failure(t, AccountForEveryDLQRecord(), h.check(Options{})),
		"1 DLQ accounting errors (2 malformed/oversized acknowledged, 1 dead-lettered)",
		"without a dlq.error or dlq.stage header", "should be dead letters are missing", "(oversized): oversized record in neither")

	// Replay.
	before := clean().check(Options{})
	h = clean()
	h.out = h.out[1:]
	rr := CompareReplay(before, h.check(Options{}))
	wantAll(t, failure(t, BeUnchangedByReplay(), rr), "1 IDs gone after the replay (27 distinct IDs before, 26 after)", "  - gone: shard-0/")
	wantAll(t, failure(t, BeUnchangedByReplay(), &rr), "gone")
}

func TestMatchersRejectOtherTypes(t *testing.T) {
	for _, m := range []types.GomegaMatcher{LoseNothing(), Pass(ExactlyOnce), BeUnchangedByReplay()} {
		if _, err := m.Match("not a result"); err == nil {
			t.Fatalf("%T accepted a string", m)
		}
		var nilResult *Result
		if _, err := m.Match(nilResult); err == nil {
			t.Fatalf("%T accepted a nil *Result", m)
		}
	}
	if got := LoseNothing().NegatedFailureMessage(Result{}); !strings.Contains(got, "not to lose no acknowledged record") {
		t.Fatal(got)
	}
}
