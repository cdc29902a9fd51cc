package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSmallestCase runs the smallest case end to end in both delivery
// modes — build, backlog, replicator process, catch-up, tail — and checks
// that each JSON line is complete and sane. Speed is not asserted: the
// machine may be busy.
func TestSmallestCase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the replicator binary")
	}
	cfg := Defaults()
	cfg.Limits, cfg.Shards, cfg.Sizes, cfg.Deliveries = []bool{false}, []int{2}, []int{200}, []string{AtLeastOnce, ExactlyOnce}
	cfg.BacklogRecords = 2000
	cfg.TailRate, cfg.TailDuration = 100, time.Second
	cfg.Timeout = 2 * time.Minute
	cfg.Seed = 7
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	failed, err := Run(ctx, cfg, &out, log)
	if err != nil || failed != 0 {
		t.Fatalf("Run: %d failed, err %v\n%s", failed, err, out.String())
	}

	sc := bufio.NewScanner(&out)
	var lines [][]byte
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	if len(lines) != 3 {
		t.Fatalf("want a host line and two case lines, got %d lines:\n%s", len(lines), out.String())
	}
	var host struct{ Host Host }
	if err := json.Unmarshal(lines[0], &host); err != nil || host.Host.Go == "" || host.Host.CPUs < 1 || host.Host.Seed != 7 {
		t.Errorf("host line %s (err %v)", lines[0], err)
	}
	for i, delivery := range cfg.Deliveries {
		checkLine(t, lines[i+1], delivery)
	}
}

// TestMemoryWithinBudget replicates a backlog of large records on 8 shards
// — many times the memory budget — and fails if the replicator's peak RSS
// passes the margin docs/operations.md (Memory) documents over its budget:
// twice the budget (the held bytes and the Go heap's growth between
// collections) plus 128 MiB for the process's fixed part (with the default
// 64 MiB budget, the 256 MiB target). A 32 MiB budget peaks near 125 MiB
// here, its margin is 192 MiB; with the budget out of the way (4 GiB) the
// replicator peaks near 380 MiB and this test fails.
func TestMemoryWithinBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the replicator binary")
	}
	const budget = 32 << 20
	cfg := Defaults()
	cfg.Limits, cfg.Shards, cfg.Sizes, cfg.Deliveries = []bool{false}, []int{8}, []int{200_000}, []string{AtLeastOnce}
	cfg.BacklogBytes = 200_000_000 // 1,000 records, six times the budget
	cfg.TailRate = 0
	cfg.Timeout = 3 * time.Minute
	cfg.Seed = 11
	cfg.Env = []string{"REPLICATOR_MEMORY_BUDGET=32MiB"}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	failed, err := Run(ctx, cfg, &out, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil || failed != 0 {
		t.Fatalf("Run: %d failed, err %v\n%s", failed, err, out.String())
	}
	lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
	var r Result
	if err := json.Unmarshal(lines[len(lines)-1], &r); err != nil || r.Records != 1000 {
		t.Fatalf("case line %s (err %v)", lines[len(lines)-1], err)
	}
	const margin = 2*budget + 128<<20
	t.Logf("peak RSS %d MiB (margin %d MiB): %s", r.PeakRSSBytes>>20, margin>>20, lines[len(lines)-1])
	if r.PeakRSSBytes <= 0 || r.PeakRSSBytes > margin {
		t.Errorf("peak RSS %d bytes, more than 2 × the %d-byte budget + 128 MiB", r.PeakRSSBytes, budget)
	}
}

func checkLine(t *testing.T, line []byte, delivery string) {
	t.Helper()
	var r Result
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("case line %s: %v", line, err)
	}
	if r.Error != "" {
		t.Fatalf("case failed: %s", r.Error)
	}
	if r.Case != delivery+"/2x200B/limits-off" || r.Shards != 2 || r.RecordBytes != 200 || r.Limits != "off" || r.Delivery != delivery || r.Seed != 7 {
		t.Errorf("case identity wrong: %s", line)
	}
	if r.Records != 2000 || r.BacklogBytes != 400_000 {
		t.Errorf("records %d, backlog bytes %d; want 2000, 400000", r.Records, r.BacklogBytes)
	}
	positive := map[string]float64{
		"catchup_seconds": r.CatchupSeconds, "ready_seconds": r.ReadySeconds, "records_per_second": r.RecordsPerSecond, "mb_per_second": r.MBPerSecond,
		"peak_rss_bytes": float64(r.PeakRSSBytes), "max_rss_bytes": float64(r.MaxRSSBytes), "cpu_total_seconds": r.CPUTotalSeconds,
		"tail_p50_ms": r.TailP50Ms, "tail_p99_ms": r.TailP99Ms, "get_records_calls": float64(r.GetRecordsCalls),
	}
	for name, v := range positive {
		if v <= 0 {
			t.Errorf("%s = %v, want > 0: %s", name, v, line)
		}
	}
	// CPU over a sub-second catch-up can round to 0 ticks; it must not be
	// negative nor absurd (a second of CPU per record).
	if r.CPUUsPerRecord < 0 || r.CPUUsPerRecord > 1e6 {
		t.Errorf("cpu_us_per_record = %v", r.CPUUsPerRecord)
	}
	if r.ReadySeconds > r.CatchupSeconds+1 {
		t.Errorf("ready after %vs, caught up after %vs", r.ReadySeconds, r.CatchupSeconds)
	}
	if r.TailP99Ms < r.TailP50Ms || r.TailMaxMs < r.TailP99Ms {
		t.Errorf("tail percentiles out of order: p50 %v p99 %v max %v", r.TailP50Ms, r.TailP99Ms, r.TailMaxMs)
	}
	if r.TailRecords != 100 || r.TailReceived != r.TailRecords {
		t.Errorf("tail: %d written, %d received; want 100 of 100", r.TailRecords, r.TailReceived)
	}
	if r.PeakRSSBytes > 4<<30 {
		t.Errorf("peak_rss_bytes = %d: not a byte count", r.PeakRSSBytes)
	}
	if r.ReadLimitRatio != 0 || r.ReadLimitFloorSeconds != nil {
		t.Errorf("limits off, yet read-limit fields are set: %s", line)
	}
}

func TestCasesAndValidate(t *testing.T) {
	cfg := Defaults()
	cases := cfg.Cases()
	if len(cases) != 2*3*3*2 {
		t.Fatalf("%d cases, want 36", len(cases))
	}
	want := map[int]int{200: 200_000, 20_000: 2_000, 1_000_000: 40}
	for _, c := range cases {
		if c.Records != want[c.RecordBytes] {
			t.Errorf("%s: %d records, want %d", c.Name(), c.Records, want[c.RecordBytes])
		}
	}
	bad := []func(*Config){
		func(c *Config) { c.Sizes = []int{1_048_577} },
		func(c *Config) { c.Shards = []int{0} },
		func(c *Config) { c.Deliveries = []string{"at-most-once"} },
		func(c *Config) { c.Env = []string{"NOEQUALS"} },
		func(c *Config) { c.Limits = nil },
	}
	for i, f := range bad {
		c := Defaults()
		f(&c)
		if c.Validate() == nil {
			t.Errorf("bad config %d passed Validate", i)
		}
	}
}

func TestReadFloor(t *testing.T) {
	// 4 shards × 50,000 records of 206 bytes: 10.3 MB a shard, 2.06 MB a
	// call (10,000 records), so (10.3 − 2.06 − 2.10)/2.10 ≈ 2.93 s.
	got := readFloor(Case{Shards: 4, RecordBytes: 200, Records: 200_000})
	if got < 2.8 || got > 3.0 {
		t.Errorf("readFloor = %v, want about 2.93", got)
	}
	// One call takes a small shard's whole backlog: no wait at all.
	if got := readFloor(Case{Shards: 16, RecordBytes: 20_000, Records: 2_000}); got != 0 {
		t.Errorf("readFloor = %v, want 0", got)
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	p := newPayloads(64, 1)
	for _, id := range []uint64{0, 1, 1 << 40} {
		d := p.data(id)
		if len(d) != 64 {
			t.Fatalf("len %d", len(d))
		}
		if got, ok := recordID(d); !ok || got != id {
			t.Errorf("recordID = %d, %v; want %d", got, ok, id)
		}
	}
	if _, ok := recordID([]byte("not a bench record")); ok {
		t.Error("a foreign record read as a bench record")
	}
}

// A replicator that exits makes its case a JSON line with an error, and
// Run counts it failed.
func TestFailingCase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the replicator binary")
	}
	cfg := Defaults()
	cfg.Limits, cfg.Shards, cfg.Sizes, cfg.Deliveries = []bool{false}, []int{1}, []int{200}, []string{AtLeastOnce}
	cfg.BacklogRecords, cfg.Timeout = 10, time.Minute
	cfg.Env = []string{"REPLICATOR_POLL_INTERVAL=1ms"} // below the minimum: exit 2
	var out bytes.Buffer
	failed, err := Run(context.Background(), cfg, &out, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil || failed != 1 {
		t.Fatalf("Run: %d failed, err %v; want 1 failed", failed, err)
	}
	lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
	var r Result
	if err := json.Unmarshal(lines[len(lines)-1], &r); err != nil {
		t.Fatal(err)
	}
	if r.Error == "" || !bytes.Contains([]byte(r.Error), []byte("REPLICATOR_POLL_INTERVAL")) || r.Log == "" {
		t.Errorf("error %q, log %q: want the replicator's complaint and its log", r.Error, r.Log)
	}
	t.Cleanup(func() { _ = os.RemoveAll(filepath.Dir(r.Log)) })
}
