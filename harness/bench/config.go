package bench

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
)

// Delivery modes, spelled as REPLICATOR_DELIVERY spells them.
const (
	AtLeastOnce = "at-least-once"
	ExactlyOnce = "exactly-once"
)

// MaxRecordBytes is the largest record data a case may use: Kinesis allows
// 1 MiB per record including the partition key.
const MaxRecordBytes = 1_000_000

// Config is what Run measures and how.
type Config struct {
	Limits     []bool   // Kinesis limits off, on
	Shards     []int    // shards per stream
	Sizes      []int    // record data bytes
	Deliveries []string // AtLeastOnce, ExactlyOnce
	// Only keeps the cases of the matrix whose name matches one of these
	// path.Match patterns, e.g. "at-least-once/4x200B/*"; empty keeps all.
	Only []string

	// The backlog of a case is BacklogBytes of records or BacklogRecords,
	// whichever is fewer records.
	BacklogBytes   int64
	BacklogRecords int

	TailRate     int           // records/s written after the catch-up
	TailMBps     float64       // …but at most this many MB/s (1 MB = 10^6 bytes)
	TailDuration time.Duration // how long the steady writes last
	Timeout      time.Duration // per case: catch-up, then the tail drain

	Seed       int64
	Replicator string   // the binary; "" builds ./replicator/cmd/replicator
	Env        []string // KEY=VALUE settings for the replicator, over the bench's
}

// Defaults is the full matrix and the sizes the docs describe.
func Defaults() Config {
	return Config{
		Limits:         []bool{false, true},
		Shards:         []int{4, 16, 64},
		Sizes:          []int{200, 20_000, 1_000_000},
		Deliveries:     []string{AtLeastOnce, ExactlyOnce},
		BacklogBytes:   40_000_000,
		BacklogRecords: 200_000,
		TailRate:       1000,
		TailMBps:       8,
		TailDuration:   5 * time.Second,
		Timeout:        5 * time.Minute,
	}
}

// Case is one measurement.
type Case struct {
	Shards      int
	RecordBytes int
	Limits      bool
	Delivery    string
	Records     int // backlog records
}

// Name identifies a case in output, e.g. "at-least-once/4x200B/limits-off".
func (c Case) Name() string {
	return fmt.Sprintf("%s/%dx%dB/limits-%s", c.Delivery, c.Shards, c.RecordBytes, onOff(c.Limits))
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// Cases expands the matrix in a stable order: cheap cases first.
func (c Config) Cases() []Case {
	var out []Case
	for _, d := range c.Deliveries {
		for _, size := range c.Sizes {
			for _, shards := range c.Shards {
				for _, lim := range c.Limits {
					n := c.BacklogRecords
					if byBytes := c.BacklogBytes / int64(size); byBytes < int64(n) {
						n = int(byBytes)
					}
					cs := Case{Shards: shards, RecordBytes: size, Limits: lim, Delivery: d, Records: max(n, 1)}
					if c.selected(cs.Name()) {
						out = append(out, cs)
					}
				}
			}
		}
	}
	return out
}

// selected reports whether Only keeps the case named name.
func (c Config) selected(name string) bool {
	if len(c.Only) == 0 {
		return true
	}
	for _, p := range c.Only {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// Validate reports the first thing wrong with the configuration.
func (c Config) Validate() error {
	if len(c.Limits) == 0 || len(c.Shards) == 0 || len(c.Sizes) == 0 || len(c.Deliveries) == 0 {
		return errors.New("every dimension needs at least one value (limits, shards, sizes, delivery)")
	}
	for _, s := range c.Shards {
		if s < 1 || s > 500 {
			return fmt.Errorf("shards %d: want 1..500", s)
		}
	}
	for _, s := range c.Sizes {
		if s < headerBytes || s > MaxRecordBytes {
			return fmt.Errorf("record size %d: want %d..%d bytes (Kinesis allows 1 MiB with the partition key)", s, headerBytes, MaxRecordBytes)
		}
	}
	for _, d := range c.Deliveries {
		if d != AtLeastOnce && d != ExactlyOnce {
			return fmt.Errorf("delivery %q: want %s or %s", d, AtLeastOnce, ExactlyOnce)
		}
	}
	if c.BacklogBytes < 1 || c.BacklogRecords < 1 {
		return errors.New("backlog: bytes and records must be positive")
	}
	if c.TailRate < 0 || c.TailMBps < 0 || c.TailDuration < 0 {
		return errors.New("tail: rate, MB/s and duration must not be negative")
	}
	if c.Timeout <= 0 {
		return errors.New("timeout must be positive")
	}
	for _, p := range c.Only {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("only %q: %w", p, err)
		}
	}
	if len(c.Cases()) == 0 {
		return fmt.Errorf("no case of the matrix matches %s", strings.Join(c.Only, ","))
	}
	for _, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("env %q: want KEY=VALUE", kv)
		}
	}
	return nil
}
