package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/workload"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var start = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func passing() Report {
	return Report{
		Scenario: "hot-shard-split", Seed: 42, Mode: checker.ExactlyOnce, Backend: "embedded",
		Started: start, Duration: 12500 * time.Millisecond, Produced: 10000,
		Result: checker.Result{
			Acked: 10000, AckedNormal: 9988, AckedMalformed: 7, AckedOversized: 5,
			OutputRecords: 9988, DLQRecords: 12, Replicated: 9988, DeadLettered: 12,
			Latency: checker.LatencySummary{
				Count: 9988, P50: 3200 * time.Microsecond, P90: 8 * time.Millisecond, P99: 21 * time.Millisecond,
				P999: 41 * time.Millisecond, Max: 1200 * time.Millisecond,
			},
			Throughput: 799.04,
		},
		MaxLag: 1500 * time.Millisecond,
		Faults: []Fault{
			{Time: start.Add(4 * time.Second), Kind: "kill", Detail: "instance 1 (SIGKILL)"},
			{Time: start.Add(2100 * time.Millisecond), Kind: "split-shard", Shard: "shardId-000000000000", Detail: "2 children"},
			{Time: start.Add(6 * time.Second), Kind: "expired-iterator", Shard: "shardId-000000000001"},
		},
	}
}

func failing() Report {
	r := passing()
	r.Scenario = "lease-steal"
	r.Mode = checker.AtLeastOnce
	id := func(seq string) checker.ID { return checker.ID{Shard: "shardId-000000000001", Seq: seq, SubSeq: -1} }
	r.Result.Replicated = 9986
	r.Result.Lost = checker.Anomaly{Count: 2, Examples: []checker.Example{
		{ID: id("49660000000000000000000000001"), Producer: 0, Key: "key-0003", KeySeq: 17, Kind: workload.KindNormal, Offset: -1, Detail: "not in the main topic"},
		{ID: id("49660000000000000000000000009"), Producer: 1, Key: "key-0001", KeySeq: 4, Kind: workload.KindMalformed, Offset: -1, Detail: "malformed record in neither the dead-letter topic nor the main topic"},
	}}
	r.Result.LostDeadLetters = 1
	r.Result.Duplicated = checker.Duplicates{
		Anomaly: checker.Anomaly{Count: 3, Examples: []checker.Example{
			{ID: checker.ID{Shard: "shardId-000000000000", Seq: "49660000000000000000000000100", SubSeq: 2}, Producer: 0, Key: "hot", KeySeq: 99,
				Topic: "out", Partition: 1, Offset: 500, Detail: "2 copies at [1]@500 [1]@733; cause: lease-move at 12:00:04.200"},
		}},
		ExtraCopies: 4, Causes: map[string]int{"lease-move": 2, "unattributed": 1},
	}
	r.Result.ReorderedPerKey = checker.Anomaly{Count: 1, Examples: []checker.Example{
		{ID: id("49660000000000000000000000050"), Producer: 0, Key: "hot", KeySeq: 120, Topic: "out", Partition: 1, Offset: 811, Detail: "seq 120 after seq 121 of the same key"},
	}}
	r.Replay = &checker.ReplayResult{Before: 9986, After: 9987, ExtraCount: 1, Extra: []checker.ID{id("49660000000000000000000000077")}}
	r.Failures = []string{"instance 0 exited: context deadline exceeded"}
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", name, got, want)
	}
}

func TestTextGolden(t *testing.T) {
	for name, r := range map[string]Report{"pass.txt": passing(), "fail.txt": failing()} {
		var b bytes.Buffer
		if err := Write(&b, r); err != nil {
			t.Fatal(err)
		}
		golden(t, name, b.Bytes())
	}
}

func TestJSONGolden(t *testing.T) {
	for name, r := range map[string]Report{"pass.json": passing(), "fail.json": failing()} {
		var b bytes.Buffer
		if err := WriteJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		golden(t, name, b.Bytes())
	}
}

func TestVerdict(t *testing.T) {
	if r := passing(); r.Verdict() != "PASS" || !r.Passed() {
		t.Fatalf("passing report: %v", r.Problems())
	}
	// Duplicates alone fail exactly-once, not at-least-once.
	r := passing()
	r.Result.Duplicated.Count = 1
	if r.Verdict() != "FAIL" {
		t.Fatal("exactly-once with duplicates passed")
	}
	r.Mode = checker.AtLeastOnce
	if r.Verdict() != "PASS" {
		t.Fatalf("at-least-once with duplicates failed: %v", r.Problems())
	}
	// The harness's own failures and replay differences fail the run.
	r.Failures = []string{"replicator crashed"}
	if r.Verdict() != "FAIL" {
		t.Fatal("harness failure ignored")
	}
	r = passing()
	r.Replay = &checker.ReplayResult{ReorderedCount: 1}
	if r.Verdict() != "FAIL" || !strings.Contains(strings.Join(r.Problems(), ";"), "replay:") {
		t.Fatalf("replay difference ignored: %v", r.Problems())
	}
	// A run with nothing acknowledged proves nothing.
	r = passing()
	r.Result = checker.Result{}
	if r.Verdict() != "FAIL" {
		t.Fatal("empty run passed")
	}
}

func TestJSONIsMachineReadable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, failing()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Verdict   string   `json:"verdict"`
		Seed      int64    `json:"seed"`
		Problems  []string `json:"problems"`
		Anomalies map[string]struct {
			Count    int               `json:"count"`
			Examples []checker.Example `json:"examples"`
		} `json:"anomalies"`
		LatencyMs struct{ P99 float64 } `json:"latency_ms"`
		Faults    []struct {
			OffsetMs float64 `json:"offset_ms"`
			Kind     string  `json:"kind"`
		} `json:"faults"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Verdict != "FAIL" || doc.Seed != 42 || len(doc.Problems) != 4 || doc.Anomalies["lost"].Count != 2 ||
		doc.Anomalies["lost"].Examples[0].KeySeq != 17 || doc.LatencyMs.P99 != 21 ||
		len(doc.Faults) != 3 || doc.Faults[0].Kind != "split-shard" || doc.Faults[0].OffsetMs != 2100 {
		t.Fatalf("decoded %+v", doc)
	}
}

func TestEventsAndDurations(t *testing.T) {
	ev := Events(passing().Faults)
	if len(ev) != 3 || ev[1].Kind != "split-shard" || ev[1].Shard != "shardId-000000000000" || ev[1].Detail != "2 children" {
		t.Fatalf("events %+v", ev)
	}
	for d, want := range map[time.Duration]string{
		0: "0", 250 * time.Microsecond: "250µs", 3200 * time.Microsecond: "3.2ms", 41 * time.Millisecond: "41ms",
		1500 * time.Millisecond: "1.5s", 125 * time.Second: "2m5s",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", d, got, want)
		}
	}
	// Without a start time, faults show wall-clock times.
	r := passing()
	r.Started = time.Time{}
	var b bytes.Buffer
	if err := Write(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "12:00:02.100 split-shard") {
		t.Fatalf("absolute fault time missing:\n%s", b.String())
	}
}
