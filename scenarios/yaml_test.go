package scenarios

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/scenariofile"
	"github.com/shardbridge/shardbridge/harness/workload"
)

// TestYAMLTwins proves each shipped YAML scenario is its Go twin: every
// field equal, the workloads configured alike, the schedules step for step
// by their descriptions, and the checks giving the same problems on the
// same outcomes.
func TestYAMLTwins(t *testing.T) {
	twins := map[string]harness.Scenario{
		"yaml/hot-shard-split.yaml":       HotShardSplit(),
		"yaml/kafka-broker-faults.yaml":   KafkaBrokerFaults(),
		"yaml/replay-trim-horizon.yaml":   ReplayTrimHorizon(),
		"yaml/lease-table-throttled.yaml": LeaseTableThrottled(),
	}
	for file, want := range twins {
		t.Run(file, func(t *testing.T) {
			f, err := scenariofile.Load(file, Checks())
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range scenarioDiff(f.Scenario, want) {
				t.Error(d)
			}
		})
	}
}

// TestScenarioDiffNotices keeps the comparison honest: a twin changed in
// any compared field, or with a check that judges differently, differs.
func TestScenarioDiffNotices(t *testing.T) {
	f, err := scenariofile.Load("yaml/hot-shard-split.yaml", Checks())
	if err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(s *harness.Scenario){
		"records":  func(s *harness.Scenario) { s.Records++ },
		"labels":   func(s *harness.Scenario) { s.Labels = s.Labels[1:] },
		"workload": func(s *harness.Scenario) { s.Workload = append(s.Workload, workload.WithRate(999)) },
		"schedule": func(s *harness.Scenario) {
			s.Schedule[1].When = harness.AfterFraction(0.7)
		},
		"check": func(s *harness.Scenario) { s.Verdicts.Checks[0] = resharded(3, 1) },
		"why":   func(s *harness.Scenario) { s.Verdicts.Why = "" },
	} {
		got := f.Scenario
		got.Schedule = slices.Clone(got.Schedule)
		got.Verdicts.Checks = slices.Clone(got.Verdicts.Checks)
		change(&got)
		if d := scenarioDiff(got, HotShardSplit()); len(d) == 0 {
			t.Errorf("changing %s went unnoticed", name)
		}
	}
}

// scenarioDiff lists how got differs from want. Functions cannot be
// compared: workloads are compared by what they configure, steps by their
// descriptions and kinds, checks by their names and by the problems they
// find in sample outcomes.
func scenarioDiff(got, want harness.Scenario) []string {
	var d []string
	cmp := func(field string, g, w any) {
		if !reflect.DeepEqual(g, w) {
			d = append(d, fmt.Sprintf("%s: YAML %#v, Go %#v", field, g, w))
		}
	}
	cmp("Name", got.Name, want.Name)
	cmp("Title", got.Title, want.Title)
	cmp("Story", got.Story, want.Story)
	cmp("Guards", got.Guards, want.Guards)
	cmp("Items", got.Items, want.Items)
	cmp("Labels", got.Labels, want.Labels)
	cmp("Shards", got.Shards, want.Shards)
	cmp("OnDemand", got.OnDemand, want.OnDemand)
	cmp("Partitions", got.Partitions, want.Partitions)
	cmp("Instances", got.Instances, want.Instances)
	cmp("Processes", got.Processes, want.Processes)
	cmp("Settings", got.Settings, want.Settings)
	cmp("DLQ", got.DLQ, want.DLQ)
	cmp("TopicConfig", got.TopicConfig, want.TopicConfig)
	cmp("Bridge", got.Bridge == nil, want.Bridge == nil)
	cmp("Requires", got.Requires, want.Requires)
	cmp("CanRun", got.CanRun == nil, want.CanRun == nil)
	cmp("Records", got.Records, want.Records)
	cmp("Workload", workload.Describe(got.Workload...), workload.Describe(want.Workload...))
	cmp("Schedule", steps(got.Schedule), steps(want.Schedule))
	cmp("Replay", got.Replay, want.Replay)
	cmp("Verdicts.Delivery", got.Verdicts.Delivery, want.Verdicts.Delivery)
	cmp("Verdicts.MaxDuplicates", got.Verdicts.MaxDuplicates, want.Verdicts.MaxDuplicates)
	cmp("Verdicts.Why", got.Verdicts.Why, want.Verdicts.Why)
	cmp("Verdicts.Broken", got.Verdicts.Broken, want.Verdicts.Broken)
	cmp("Verdicts.Checks", judge(got.Verdicts.Checks), judge(want.Verdicts.Checks))
	cmp("Timeout", got.Timeout, want.Timeout)
	cmp("Quiet", got.Quiet, want.Quiet)
	return d
}

func steps(s []harness.Step) []string {
	out := make([]string, len(s))
	for i, st := range s {
		out[i] = fmt.Sprintf("%s: %s [%s]", st.When.Desc, st.Do.Desc, st.Do.Kind)
	}
	return out
}

// judge runs each check on sample outcomes that need no run: none
// resharded or faulted, and one with two splits and a broker crash.
func judge(checks []harness.Check) []string {
	samples := []*harness.Outcome{
		{},
		{Reshards: []harness.Reshard{{Parents: []string{"p"}}, {Parents: []string{"a", "b"}}}},
	}
	var out []string
	for _, c := range checks {
		for i, o := range samples {
			if c.Name == "children delivered" && i > 0 {
				continue // reads the run's acknowledgements and lease table
			}
			out = append(out, fmt.Sprintf("%s/%d: %q", c.Name, i, c.Func(context.Background(), nil, o)))
		}
	}
	return out
}

// Every shipped scenario file decodes with the catalogue's checks, and
// names only bridge files that exist.
func TestYAMLFilesDecode(t *testing.T) {
	files, err := filepath.Glob("yaml/*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("scenario files: %v %v", files, err)
	}
	for _, file := range files {
		f, err := scenariofile.Load(file, Checks())
		if err != nil {
			t.Error(err)
			continue
		}
		if f.Bridge != "" {
			if _, err := bridge.LoadSpec(f.Bridge); err != nil {
				t.Errorf("%s: %v", file, err)
			}
		}
	}
}
