package scenariofile

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/fakes/fault"
	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/inject"
)

// Each word, written in YAML, gives what its Go constructor gives (by
// description and kind, what a report and a twin comparison see).
func TestEveryWordIsItsGoForm(t *testing.T) {
	triggerExamples := map[string]struct {
		yaml string
		want harness.Trigger
	}{
		"now":              {"now", harness.Now()},
		"at":               {"{at: 2s}", harness.At(2 * time.Second)},
		"wait":             {"{wait: 1500ms}", harness.Wait(1500 * time.Millisecond)},
		"after_records":    {"{after_records: 1000}", harness.AfterRecords(1000)},
		"after_fraction":   {"{after_fraction: 0.25}", harness.AfterFraction(0.25)},
		"after_replicated": {"{after_replicated: 500}", harness.AfterReplicated(500)},
		"parents_finished": {"parents_finished", harness.ParentsFinished()},
		"child_taken":      {"child_taken", harness.ChildTaken()},
		"owns_all_leases":  {"{owns_all_leases: 1}", harness.OwnsAllLeases(1)},
		"balanced":         {"balanced", harness.Balanced()},
	}
	rule := fault.Rule{Service: fault.ServiceDynamoDB, Operations: []string{"UpdateItem"}, Probability: 0.5, Action: fault.LoseResponse}
	actionExamples := map[string]struct {
		yaml string
		want harness.Action
	}{
		"split_shard":           {"{split_shard: {shard_of_key: key-0001}}", inject.SplitShard(harness.ShardOfKey("key-0001"))},
		"merge_shards":          {"merge_shards", inject.MergeShards()},
		"update_shard_count":    {"{update_shard_count: 4}", inject.UpdateShardCount(4)},
		"scale_shards":          {"{scale_shards: 3}", inject.ScaleShards(3)},
		"switch_stream_mode":    {"{switch_stream_mode: on_demand}", inject.SwitchStreamMode(ktypes.StreamModeOnDemand)},
		"trim_stream":           {"trim_stream", inject.TrimStream()},
		"throttle_reads":        {"{throttle_reads: 3s}", inject.ThrottleReads(3 * time.Second)},
		"throttle_lease_table":  {"{throttle_lease_table: {probability: 0.5, for: 3s}}", inject.ThrottleLeaseTable(0.5, 3*time.Second)},
		"fault":                 {"{fault: {name: lose, service: dynamodb, operations: [UpdateItem], probability: 0.5, action: lose-response, for: 3s}}", inject.Fault("lose", rule, 3*time.Second)},
		"fault_off":             {"{fault_off: lose}", inject.FaultOff("lose")},
		"expire_iterators":      {"expire_iterators", inject.ExpireIterators()},
		"competing_readers":     {"{competing_readers: {readers: 2, per_second: 25, for: 3s}}", inject.CompetingReaders(2, 25, 3*time.Second)},
		"kill":                  {"{kill: {owner_of: {shards: last_children, desc: a child}}}", inject.Kill(harness.OwnerOf("a child", inject.LastChildren))},
		"stop":                  {"{stop: 0}", inject.Stop(harness.InstanceAt(0))},
		"restart":               {"{restart: {instance: 1}}", inject.Restart(harness.InstanceAt(1))},
		"start_again":           {"{start_again: 0}", inject.StartAgain(harness.InstanceAt(0))},
		"pause":                 {"{pause: most_loaded}", inject.Pause(harness.MostLoaded())},
		"resume":                {"{resume: 1}", inject.Resume(harness.InstanceAt(1))},
		"cut_off_lease_table":   {"{cut_off_lease_table: 0}", inject.CutOffLeaseTable(harness.InstanceAt(0))},
		"reconnect_lease_table": {"{reconnect_lease_table: 0}", inject.ReconnectLeaseTable(harness.InstanceAt(0))},
		"add_instance":          {"add_instance", inject.AddInstance()},
		"stall_sink":            {"stall_sink", inject.StallSink()},
		"release_sink":          {"release_sink", inject.ReleaseSink()},
		"grow_topic":            {"{grow_topic: 5}", inject.GrowTopic(5)},
		"restart_broker":        {"restart_broker", inject.RestartBroker()},
		"stop_broker":           {"{stop_broker: 2s}", inject.StopBroker(2 * time.Second)},
		"crash_broker":          {"{crash_broker: 2s}", inject.CrashBroker(2 * time.Second)},
		"fail_produce":          {"{fail_produce: {code: 6, count: 3}}", inject.FailProduce(6, 3)},
		"timeout_after_append":  {"{timeout_after_append: 3}", inject.TimeoutAfterAppend(3)},
		"move_leaders":          {"move_leaders", inject.MoveLeaders()},
		"broker_latency":        {"{broker_latency: {latency: 200ms, for: 2s}}", inject.BrokerLatency(200*time.Millisecond, 2*time.Second)},
		"delete_lease":          {"{delete_lease: last_children}", inject.DeleteLease("the children", inject.LastChildren)},
		"corrupt_lease":         {"{corrupt_lease: {held_by: 1}}", inject.CorruptLease("a shard r1 holds", inject.HeldBy(1))},
		"repair_lease":          {"repair_lease", inject.RepairLease()},
		"note":                  {"{note: 30% of the records in}", harness.Note("milestone", "30% of the records in")},
	}
	for _, w := range Vocabulary() {
		var trigger, action string
		var want harness.Step
		if w.Kind == "trigger" {
			ex, ok := triggerExamples[w.Name]
			if !ok {
				t.Errorf("trigger %s has no example here", w.Name)
				continue
			}
			trigger, action, want = ex.yaml, "merge_shards", harness.Then(ex.want, inject.MergeShards())
		} else {
			ex, ok := actionExamples[w.Name]
			if !ok {
				t.Errorf("action %s has no example here", w.Name)
				continue
			}
			trigger, action, want = "now", ex.yaml, harness.Then(harness.Now(), ex.want)
		}
		text := "name: x\nschedule:\n  - when: " + trigger + "\n    action: " + action + "\n"
		f, err := Decode("f.yaml", []byte(text), nil)
		if err != nil {
			t.Errorf("%s %s: %v", w.Kind, w.Name, err)
			continue
		}
		got := f.Scenario.Schedule[0]
		if got.When.Desc != want.When.Desc || got.Do.Desc != want.Do.Desc || got.Do.Kind != want.Do.Kind {
			t.Errorf("%s %s: YAML gives %q / %q [%s], Go %q / %q [%s]", w.Kind, w.Name,
				got.When.Desc, got.Do.Desc, got.Do.Kind, want.When.Desc, want.Do.Desc, want.Do.Kind)
		}
	}
}

// Every exported Go constructor of a trigger or an action has a word,
// except those that take Go code.
func TestVocabularyCoversTheGoOne(t *testing.T) {
	code := map[string]bool{"harness.When": true, "harness.Func": true}
	var have []string
	for _, w := range Vocabulary() {
		have = append(have, w.Go[:strings.Index(w.Go, "(")])
	}
	files, _ := filepath.Glob("../inject/*.go")
	files = append(files, "../steps.go")
	found := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range af.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !fn.Name.IsExported() || fn.Type.Results == nil || len(fn.Type.Results.List) != 1 {
				continue
			}
			result := types(fn.Type.Results.List[0].Type)
			if result != "Action" && result != "Trigger" {
				continue
			}
			name := af.Name.Name + "." + fn.Name.Name
			found++
			if !code[name] && !slices.Contains(have, name) {
				t.Errorf("%s (%s) has no YAML word in steps.go", name, file)
			}
		}
	}
	if found < 40 {
		t.Errorf("found only %d constructors: is the parsing broken?", found)
	}
}

// types names a result type without its package: harness.Action → Action.
func types(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return x.Sel.Name
	}
	return ""
}
