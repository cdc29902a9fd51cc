package soak

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/junit"
)

// RunResult is what one run of a soak showed.
type RunResult struct {
	Run     int   `json:"run"`
	Seed    int64 `json:"seed"`     // the soak's
	RunSeed int64 `json:"run_seed"` // the harness's, derived from seed and run
	Passed  bool  `json:"passed"`
	// Problems are the verdicts the run failed; Err says why it could not
	// take place at all.
	Problems          []string       `json:"problems,omitempty"`
	Err               string         `json:"error,omitempty"`
	Acked             int            `json:"acked"`
	Lost              int            `json:"lost"`
	ReorderedPerKey   int            `json:"reordered_per_key"`
	ReorderedPerShard int            `json:"reordered_per_shard"`
	Duplicated        int            `json:"duplicated"` // IDs with more than one copy
	ExtraCopies       int            `json:"extra_copies"`
	Causes            map[string]int `json:"duplicate_causes,omitempty"` // duplicated IDs by attributed cause
	// CatchUp is how long the bridge took, after the workload and the
	// schedule ended, to deliver every acknowledged record.
	CatchUp     time.Duration `json:"catch_up_ns"`
	Duration    time.Duration `json:"duration_ns"`
	Description string        `json:"description"`
	// Case is the run as a JUnit testcase (chaos soak --junit).
	Case     junit.Case `json:"-"`
	Schedule []string   `json:"schedule"`
	Repeat   string     `json:"repeat,omitempty"`
	Kept     []string   `json:"kept,omitempty"` // report files of a failed run
}

// Summary is a whole soak.
type Summary struct {
	Seed     int64         `json:"seed"`
	Backend  string        `json:"backend"`
	Bridge   string        `json:"bridge"`
	Delivery checker.Mode  `json:"delivery"`
	Duration time.Duration `json:"run_duration_ns"`
	Runs     []RunResult   `json:"runs"`
}

// Totals are the sums over every run.
type Totals struct {
	Runs, Passed, Failed                         int
	Acked, Lost, ReorderedPerKey, ReorderedShard int
	Duplicated, ExtraCopies                      int
	Causes                                       map[string]int
	Slowest                                      *RunResult // slowest catch-up
}

// Totals sums the runs.
func (s *Summary) Totals() Totals {
	t := Totals{Causes: map[string]int{}}
	for i := range s.Runs {
		r := &s.Runs[i]
		t.Runs++
		if r.Passed {
			t.Passed++
		} else {
			t.Failed++
		}
		t.Acked += r.Acked
		t.Lost += r.Lost
		t.ReorderedPerKey += r.ReorderedPerKey
		t.ReorderedShard += r.ReorderedPerShard
		t.Duplicated += r.Duplicated
		t.ExtraCopies += r.ExtraCopies
		for c, n := range r.Causes {
			t.Causes[c] += n
		}
		if t.Slowest == nil || r.CatchUp > t.Slowest.CatchUp {
			t.Slowest = r
		}
	}
	return t
}

// Failed counts the failed runs.
func (s *Summary) Failed() int { return s.Totals().Failed }

// WriteTable renders the summary table, then every failed run: its seed,
// run, repeat command and schedule.
func (s *Summary) WriteTable(w io.Writer) error {
	t := s.Totals()
	var b strings.Builder
	fmt.Fprintf(&b, "soak seed %d: %s, %s, %s, %s per run\n", s.Seed, s.Backend, s.Bridge, s.Delivery, s.Duration)
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "runs\tpassed\tfailed\tacked\tlost\treordered/key\treordered/shard\tduplicated\textra copies")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d (%s)\t%d\n", t.Runs, t.Passed, t.Failed, t.Acked, t.Lost,
		t.ReorderedPerKey, t.ReorderedShard, t.Duplicated, ratio(t.Duplicated, t.Acked), t.ExtraCopies)
	_ = tw.Flush()
	if len(t.Causes) > 0 {
		b.WriteString("duplicates by cause (duplicated records, share of the acknowledged):\n")
		tw = tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
		for _, c := range slices.Sorted(maps.Keys(t.Causes)) {
			fmt.Fprintf(tw, "  %s\t%d\t%s\n", c, t.Causes[c], ratio(t.Causes[c], t.Acked))
		}
		_ = tw.Flush()
	}
	if t.Slowest != nil {
		fmt.Fprintf(&b, "slowest catch-up: %s (run %d)\n", t.Slowest.CatchUp.Round(10*time.Millisecond), t.Slowest.Run)
	}
	for _, r := range s.Runs {
		if r.Passed {
			continue
		}
		fmt.Fprintf(&b, "\nFAILED run %d of seed %d: %s\n", r.Run, r.Seed, strings.Join(r.Problems, "; "))
		if r.Repeat != "" {
			fmt.Fprintf(&b, "  repeat: %s\n", r.Repeat)
		}
		b.WriteString(r.Description)
		if len(r.Kept) > 0 {
			fmt.Fprintf(&b, "  reports: %s\n", strings.Join(r.Kept, ", "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ratio(n, of int) string {
	if of == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(of))
}

// WriteJSON writes the summary as JSON.
func (s *Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}
