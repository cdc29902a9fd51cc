package bench

import (
	"bufio"
	"os"
	"runtime"
	"strings"
)

// Result is one case's JSON line. docs/operations.md ("Benchmarks")
// describes every field; MB are 10^6 bytes of record data.
type Result struct {
	Case        string `json:"case"`
	Shards      int    `json:"shards"`
	RecordBytes int    `json:"record_bytes"`
	Limits      string `json:"limits"` // "on" or "off"
	Delivery    string `json:"delivery"`
	Seed        int64  `json:"seed"`

	Records      int     `json:"records"`
	BacklogBytes int64   `json:"backlog_bytes"`
	FillSeconds  float64 `json:"fill_seconds"`

	ReadySeconds     float64 `json:"ready_seconds,omitempty"` // exec to /readyz 200, part of the catch-up
	CatchupSeconds   float64 `json:"catchup_seconds,omitempty"`
	RecordsPerSecond float64 `json:"records_per_second,omitempty"`
	MBPerSecond      float64 `json:"mb_per_second,omitempty"`
	CPUSeconds       float64 `json:"cpu_seconds,omitempty"`       // replicator, over the catch-up
	CPUUsPerRecord   float64 `json:"cpu_us_per_record,omitempty"` // replicator, over the catch-up
	CPUTotalSeconds  float64 `json:"cpu_total_seconds,omitempty"` // replicator, whole life (rusage)
	PeakRSSBytes     int64   `json:"peak_rss_bytes,omitempty"`    // VmHWM before the stop
	// MaxRSSBytes is ru_maxrss of the exited process. Linux carries a
	// process's high-water mark across exec, and the child's life began as
	// a copy of this (large) process, so it is an upper bound at best.
	MaxRSSBytes int64 `json:"max_rss_bytes,omitempty"`

	GetRecordsCalls     int64   `json:"get_records_calls,omitempty"`     // by the end of the catch-up
	GetRecordsThrottled int64   `json:"get_records_throttled,omitempty"` // of those, refused
	RecordsPerCall      float64 `json:"records_per_call,omitempty"`      // per call that was not refused

	// Limits on only: the rate the emulator's read limits allow, and the
	// measured catch-up rate as a fraction of it.
	ReadLimitMBPerSecond  float64  `json:"read_limit_mb_per_second,omitempty"`  // shards × 2 MiB/s
	CallsLimitMBPerSecond float64  `json:"calls_limit_mb_per_second,omitempty"` // shards × 5 calls/s × records_per_call × record_bytes
	ReadLimitRatio        float64  `json:"read_limit_ratio,omitempty"`          // mb_per_second / the lower of the two
	ReadLimitFloorSeconds *float64 `json:"read_limit_floor_seconds,omitempty"`  // fewest seconds the limits allow this backlog (bursts counted; may be 0)
	ReadLimitFloorRatio   *float64 `json:"read_limit_floor_ratio,omitempty"`    // read_limit_floor_seconds / catchup_seconds

	TailRate     float64 `json:"tail_rate,omitempty"` // records/s written after the catch-up
	TailRecords  int     `json:"tail_records,omitempty"`
	TailReceived int     `json:"tail_received,omitempty"`
	TailP50Ms    float64 `json:"tail_p50_ms,omitempty"`
	TailP99Ms    float64 `json:"tail_p99_ms,omitempty"`
	TailMaxMs    float64 `json:"tail_max_ms,omitempty"`

	Log   string `json:"log,omitempty"` // the replicator's output, kept when the case failed
	Error string `json:"error,omitempty"`
}

// Host is the first line Run prints: what the numbers were measured on.
type Host struct {
	Go         string `json:"go"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model,omitempty"`
	Seed       int64  `json:"seed"`
	Replicator string `json:"replicator"`
}

func hostInfo(seed int64, replicator string) Host {
	return Host{Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
		CPUModel: cpuModel(), Seed: seed, Replicator: replicator}
}

// cpuModel is the first "model name" of /proc/cpuinfo ("" elsewhere).
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
