package scenariofile

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/workload"
)

const full = `name: everything
title: a title
story: a story
guards: [a/b#1]
items: [1, 2]
labels: [resharding]
shards: 3
on_demand: true
partitions: 6
instances: 2
processes: true
settings: {REPLICATOR_FAILOVER_TIME: 8s, CHECKPOINT_FREQ_SECONDS: 30}
dlq: true
topic_config: {max.message.bytes: 32768}
bridge: ../bridges/b.yaml
requires: [metrics, lease-table]
records: 4000
workload:
  rate: 700
  producers: 3
  keys: {pinned: {keys: 64, hash_key: "85070591730234615865843651857942052864"}}
  record_size: {min: 100, max: 400}
  aggregation: 4
  sub_record_hash_keys: ["1", "2"]
  malformed_every: 50
  malformed_style: json
  oversized_every: 70
  oversized_size: 40960
  batch_size: 100
  max_pending: 500
  backoff: {min: 20ms, max: 2s}
  call_timeout: 10s
  drain_grace: 1s
replay: AT_TIMESTAMP
schedule:
  - when: balanced
    action: {note: leases balanced}
  - when: {wait: 500ms}
    action: {throttle_lease_table: {probability: 0.5, for: 3s}}
verdicts:
  delivery: exactly-once
  max_duplicates: 0
  checks: [always]
  broken: [lost]
timeout: 2m
quiet: 15s
`

var testChecks = Checks{"always": {Make: func(Args) (harness.Check, error) { return harness.Check{Name: "always"}, nil }}}

func TestDecodeEveryField(t *testing.T) {
	f, err := Decode("full.yaml", []byte(full), testChecks)
	if err != nil {
		t.Fatal(err)
	}
	sc := f.Scenario
	want := harness.Scenario{
		Name: "everything", Title: "a title", Story: "a story", Guards: []string{"a/b#1"}, Items: []int{1, 2},
		Labels: []string{"resharding"}, Shards: 3, OnDemand: true, Partitions: 6, Instances: 2, Processes: true,
		Settings: map[string]string{"REPLICATOR_FAILOVER_TIME": "8s", "CHECKPOINT_FREQ_SECONDS": "30"}, DLQ: true,
		TopicConfig: map[string]string{"max.message.bytes": "32768"}, Requires: []bridge.Capability{bridge.Metrics, bridge.LeaseTable},
		Records: 4000, Replay: harness.ReplayAtTimestamp, Timeout: 2 * time.Minute, Quiet: 15 * time.Second,
		Verdicts: harness.Verdicts{Delivery: checker.ExactlyOnce, Broken: []string{"lost"}},
	}
	got := sc
	got.Workload, got.Schedule, got.Verdicts.Checks = nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n%#v\nwant\n%#v", got, want)
	}
	if f.Bridge != "../bridges/b.yaml" {
		t.Errorf("bridge %q", f.Bridge)
	}
	wantWorkload := workload.Describe(workload.WithRate(700), workload.WithProducers(3),
		workload.WithKeys(workload.PinnedKeys(64, "85070591730234615865843651857942052864")), workload.WithRecordSize(100, 400),
		workload.WithAggregation(4), workload.WithSubRecordHashKeys("1", "2"), workload.WithMalformedEvery(50),
		workload.WithMalformedStyle(workload.MalformedJSON), workload.WithOversizedEvery(70), workload.WithOversizedSize(40960),
		workload.WithBatchSize(100), workload.WithMaxPending(500), workload.WithBackoff(20*time.Millisecond, 2*time.Second),
		workload.WithCallTimeout(10*time.Second), workload.WithDrainGrace(time.Second))
	if g := workload.Describe(sc.Workload...); g != wantWorkload {
		t.Errorf("workload\n%s\nwant\n%s", g, wantWorkload)
	}
	if len(sc.Schedule) != 2 || sc.Schedule[0].When.Desc != harness.Balanced().Desc || sc.Schedule[1].Do.Kind != "throttle" {
		t.Errorf("schedule %+v", sc.Schedule)
	}
	if len(sc.Verdicts.Checks) != 1 || sc.Verdicts.Checks[0].Name != "always" {
		t.Errorf("checks %+v", sc.Verdicts.Checks)
	}
}

func TestLoadResolvesTheBridgeFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(path, []byte("name: s\nbridge: bridges/b.yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "bridges", "b.yaml"); f.Bridge != want {
		t.Errorf("bridge %q, want %q", f.Bridge, want)
	}
}

// Each mistake is named with its line and its field.
func TestMistakes(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"unknown field", "name: x\nworkload:\n  rte: 5\n", "f.yaml:3: workload.rte: unknown field (known: rate, producers"},
		{"unknown top field", "name: x\nshard: 3\n", "f.yaml:2: shard: unknown field"},
		{"twice", "name: x\nname: y\n", "f.yaml:2: name: given twice"},
		{"no name", "records: 5\n", "f.yaml:1: name: required"},
		{"bad selector", "name: x\nschedule:\n  - when: now\n    action: {split_shard: hottest}\n",
			`f.yaml:4: schedule[0].action.split_shard: unknown shard selector "hottest" (want hot_shard, open_shard, shard_of_key, shard_by_id)`},
		{"bad instance", "name: x\nschedule:\n  - when: now\n    action: {kill: busiest}\n", `f.yaml:4: schedule[0].action.kill: unknown instance selector "busiest"`},
		{"bad shard set", "name: x\nschedule:\n  - when: now\n    action: {delete_lease: first}\n", `f.yaml:4: schedule[0].action.delete_lease: unknown shard set "first"`},
		{"wrong type", "name: x\nrecords: lots\n", `f.yaml:2: records: want an integer, got "lots"`},
		{"wrong type list", "name: x\nlabels: crash\n", `f.yaml:2: labels: want a list, got "crash"`},
		{"bad duration", "name: x\nschedule:\n  - when: {wait: 3 secs}\n    action: merge_shards\n", `f.yaml:3: schedule[0].when.wait: bad duration "3 secs"`},
		{"unknown trigger", "name: x\nschedule:\n  - when: {after_percent: 30}\n    action: merge_shards\n", `f.yaml:3: schedule[0].when: unknown trigger "after_percent" (want now, at, wait`},
		{"unknown action", "name: x\nschedule:\n  - when: now\n    action: {split: hot_shard}\n", `f.yaml:4: schedule[0].action: unknown action "split"`},
		{"missing argument", "name: x\nschedule:\n  - when: now\n    action: split_shard\n", "f.yaml:4: schedule[0].action.split_shard: needs an argument: split_shard: SHARD"},
		{"extra argument", "name: x\nschedule:\n  - when: now\n    action: {merge_shards: 2}\n", `f.yaml:4: schedule[0].action.merge_shards: takes no argument, got "2"`},
		{"two actions", "name: x\nschedule:\n  - when: now\n    action: {merge_shards: null, add_instance: null}\n", "f.yaml:4: schedule[0].action: want exactly one action"},
		{"no action", "name: x\nschedule:\n  - when: now\n", "f.yaml:3: schedule[0].action: required"},
		{"fraction", "name: x\nschedule:\n  - when: {after_fraction: 30}\n    action: merge_shards\n", "schedule[0].when.after_fraction: want a fraction in (0, 1], got 30"},
		{"fault action", "name: x\nschedule:\n  - when: now\n    action: {fault: {name: f, action: explode}}\n", `f.yaml:4: schedule[0].action.fault.action: unknown fault action "explode"`},
		{"capability", "name: x\nrequires: [telepathy]\n", `f.yaml:2: requires[0]: unknown capability "telepathy"`},
		{"why", "name: x\nverdicts: {max_duplicates: 10}\n", "f.yaml:2: verdicts.why: required when duplicates are allowed"},
		{"delivery", "name: x\nverdicts: {delivery: at-most-once}\n", `verdicts.delivery: unknown delivery mode "at-most-once"`},
		{"check", "name: x\nverdicts: {checks: [sometimes]}\n", `f.yaml:2: verdicts.checks[0]: unknown check "sometimes" (want always)`},
		{"keys", "name: x\nworkload: {keys: {zipf: {keys: 4, skew: 0.5}}}\n", "workload.keys.zipf.skew: want a skew > 1, got 0.5"},
		{"workload limits", "name: x\nworkload:\n  record_size: 2000000\n", "f.yaml:3: workload: records of up to 2000000 bytes"},
		{"syntax", "name: x\nschedule: [\n", "f.yaml:2: YAML syntax: did not find expected node content"},
		{"empty", "", "f.yaml: empty file"},
		{"two documents", "name: x\n---\nname: y\n", "f.yaml:2: more than one YAML document"},
		{"not a mapping", "- name: x\n", "f.yaml:1: want a mapping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode("f.yaml", []byte(c.text), testChecks)
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error\n%v\nwant it to contain\n%s", err, c.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("%T is not an *Error", err)
			}
		})
	}
}

// Every mistake in a file is reported at once, in the file's order.
func TestAllMistakesInOrder(t *testing.T) {
	_, err := Decode("f.yaml", []byte("name: x\nrecords: lots\nshards: -1\ntimeout: soon\n"), nil)
	var l List
	if !errors.As(err, &l) || len(l) != 3 {
		t.Fatalf("want 3 mistakes, got %v", err)
	}
	for i, want := range []int{2, 3, 4} {
		if l[i].Line != want {
			t.Errorf("mistake %d at line %d, want %d (%v)", i, l[i].Line, want, l[i])
		}
	}
}

func TestCheckArguments(t *testing.T) {
	reg := Checks{
		"pair": {Usage: "{a: N, b: N}", Make: func(a Args) (harness.Check, error) {
			v, err := a.Ints("a", "b")
			if err != nil {
				return harness.Check{}, err
			}
			if v["a"] > v["b"] {
				return harness.Check{}, a.Errorf("a > b")
			}
			return harness.Check{Name: "pair"}, nil
		}},
		"kinds": {Usage: "[KIND…]", Make: func(a Args) (harness.Check, error) {
			k, err := a.Strings()
			return harness.Check{Name: strings.Join(k, "+")}, err
		}},
	}
	for text, want := range map[string]string{
		"[{pair: {a: 1, b: 2}}, {kinds: [x, y]}]": "",
		"[{pair: {a: 3, b: 2}}]":                  "f.yaml:2: verdicts.checks[0].pair: a > b",
		"[{pair: {a: 3}}]":                        "f.yaml:2: verdicts.checks[0].pair.b: required",
		"[{pair: {a: 1, b: x}}]":                  `verdicts.checks[0].pair.b: want an integer, got "x"`,
		"[{kinds: []}]":                           "verdicts.checks[0].kinds: want at least one",
		"[pair]":                                  "verdicts.checks[0].pair: needs an argument: pair: {a: N, b: N}",
	} {
		f, err := Decode("f.yaml", []byte("name: x\nverdicts: {checks: "+text+"}\n"), reg)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", text, err)
		case want == "" && (len(f.Scenario.Verdicts.Checks) != 2 || f.Scenario.Verdicts.Checks[1].Name != "x+y"):
			t.Errorf("%s: checks %+v", text, f.Scenario.Verdicts.Checks)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: error %v, want %q", text, err, want)
		}
	}
}
