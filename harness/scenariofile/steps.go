package scenariofile

import (
	"strings"

	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"go.yaml.in/yaml/v3"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/inject"
)

// Word is one entry of the step vocabulary: a trigger or an action as
// written in YAML, and the Go constructor it stands for.
type Word struct {
	Kind  string // "trigger" or "action"
	Name  string // as written: split_shard
	Usage string // its argument: "SHARD"; "" when it takes none
	Go    string // the Go form: inject.SplitShard(sel)
}

// arg is a word's argument as written (nil for a bare name) and its path.
type arg struct {
	n    *yaml.Node
	path string
}

type triggerWord struct {
	Word
	make func(d *decoder, a arg) harness.Trigger
}

type actionWord struct {
	Word
	make func(d *decoder, a arg) harness.Action
}

func trig(name, usage, goName string, f func(d *decoder, a arg) harness.Trigger) triggerWord {
	return triggerWord{Word{"trigger", name, usage, goName}, f}
}

func act(name, usage, goName string, f func(d *decoder, a arg) harness.Action) actionWord {
	return actionWord{Word{"action", name, usage, goName}, f}
}

// Usages of arguments, shown in the reference and in mistakes.
const (
	uDuration = "DURATION"
	uShard    = "SHARD"
	uInstance = "INSTANCE"
	uShards   = "SHARDS"
)

// triggers is the trigger vocabulary, in the order of harness/steps.go.
// When (a Go condition) has no YAML form.
var triggers = []triggerWord{
	trig("now", "", "harness.Now()", func(*decoder, arg) harness.Trigger { return harness.Now() }),
	trig("at", uDuration, "harness.At(d)", func(d *decoder, a arg) harness.Trigger { return harness.At(d.duration(a.n, a.path)) }),
	trig("wait", uDuration, "harness.Wait(d)", func(d *decoder, a arg) harness.Trigger { return harness.Wait(d.duration(a.n, a.path)) }),
	trig("after_records", "N", "harness.AfterRecords(n)", func(d *decoder, a arg) harness.Trigger {
		return harness.AfterRecords(int64(d.positive(a)))
	}),
	trig("after_fraction", "F (0 < F ≤ 1)", "harness.AfterFraction(f)", func(d *decoder, a arg) harness.Trigger {
		f := d.number(a.n, a.path)
		if f <= 0 || f > 1 {
			d.fail(a.n, a.path, "want a fraction in (0, 1], got %v", f)
		}
		return harness.AfterFraction(f)
	}),
	trig("after_replicated", "N", "harness.AfterReplicated(n)", func(d *decoder, a arg) harness.Trigger {
		return harness.AfterReplicated(int64(d.positive(a)))
	}),
	trig("parents_finished", "", "harness.ParentsFinished()", func(*decoder, arg) harness.Trigger { return harness.ParentsFinished() }),
	trig("child_taken", "", "harness.ChildTaken()", func(*decoder, arg) harness.Trigger { return harness.ChildTaken() }),
	trig("owns_all_leases", "I (an instance index)", "harness.OwnsAllLeases(i)", func(d *decoder, a arg) harness.Trigger {
		return harness.OwnsAllLeases(d.index(a.n, a.path))
	}),
	trig("balanced", "", "harness.Balanced()", func(*decoder, arg) harness.Trigger { return harness.Balanced() }),
}

// actions is the action vocabulary, in the order of harness/inject's
// files; Func (a Go function) has no YAML form.
var actions = []actionWord{
	// reshard.go, scale.go
	act("split_shard", uShard, "inject.SplitShard(sel)", func(d *decoder, a arg) harness.Action { return inject.SplitShard(d.shard(a.n, a.path)) }),
	act("merge_shards", "", "inject.MergeShards()", func(*decoder, arg) harness.Action { return inject.MergeShards() }),
	act("update_shard_count", "N", "inject.UpdateShardCount(n)", func(d *decoder, a arg) harness.Action { return inject.UpdateShardCount(d.positive(a)) }),
	act("scale_shards", "N", "inject.ScaleShards(n)", func(d *decoder, a arg) harness.Action { return inject.ScaleShards(d.positive(a)) }),
	act("switch_stream_mode", "provisioned or on_demand", "inject.SwitchStreamMode(mode)", func(d *decoder, a arg) harness.Action {
		m := d.oneOf(a.n, a.path, "stream mode", "provisioned", "on_demand", string(ktypes.StreamModeProvisioned), string(ktypes.StreamModeOnDemand))
		return inject.SwitchStreamMode(ktypes.StreamMode(strings.ToUpper(m)))
	}),
	act("trim_stream", "", "inject.TrimStream()", func(*decoder, arg) harness.Action { return inject.TrimStream() }),
	// aws.go
	act("throttle_reads", uDuration, "inject.ThrottleReads(d)", func(d *decoder, a arg) harness.Action {
		return inject.ThrottleReads(d.duration(a.n, a.path))
	}),
	act("throttle_lease_table", "{probability: P, for: DURATION}", "inject.ThrottleLeaseTable(p, d)", func(d *decoder, a arg) harness.Action {
		f := d.need(a, "probability", "for")
		return inject.ThrottleLeaseTable(d.probability(f["probability"], join(a.path, "probability")), d.duration(f["for"], join(a.path, "for")))
	}),
	act("fault", "{name: N, service: kinesis or dynamodb, operations: [OP…], shard: ID, table: T, probability: P, count: N, action: A, latency: DURATION, for: DURATION}",
		"inject.Fault(name, rule, d)", (*decoder).fault),
	act("fault_off", "NAME", "inject.FaultOff(name)", func(d *decoder, a arg) harness.Action { return inject.FaultOff(d.str(a.n, a.path)) }),
	act("expire_iterators", "", "inject.ExpireIterators()", func(*decoder, arg) harness.Action { return inject.ExpireIterators() }),
	act("competing_readers", "{readers: N, per_second: R, for: DURATION}", "inject.CompetingReaders(n, perSecond, d)", func(d *decoder, a arg) harness.Action {
		f := d.need(a, "readers", "per_second", "for")
		n := d.positive(arg{f["readers"], join(a.path, "readers")})
		rate := d.number(f["per_second"], join(a.path, "per_second"))
		if f["per_second"] != absent && rate <= 0 {
			d.fail(f["per_second"], join(a.path, "per_second"), "want a rate > 0, got %v", rate)
			rate = 1
		}
		return inject.CompetingReaders(n, rate, d.duration(f["for"], join(a.path, "for")))
	}),
	// instances.go
	act("kill", uInstance, "inject.Kill(sel)", instanceAct(inject.Kill)),
	act("stop", uInstance, "inject.Stop(sel)", instanceAct(inject.Stop)),
	act("restart", uInstance, "inject.Restart(sel)", instanceAct(inject.Restart)),
	act("start_again", uInstance, "inject.StartAgain(sel)", instanceAct(inject.StartAgain)),
	act("pause", uInstance, "inject.Pause(sel)", instanceAct(inject.Pause)),
	act("resume", uInstance, "inject.Resume(sel)", instanceAct(inject.Resume)),
	act("cut_off_lease_table", uInstance, "inject.CutOffLeaseTable(sel)", instanceAct(inject.CutOffLeaseTable)),
	act("reconnect_lease_table", uInstance, "inject.ReconnectLeaseTable(sel)", instanceAct(inject.ReconnectLeaseTable)),
	act("add_instance", "", "inject.AddInstance()", func(*decoder, arg) harness.Action { return inject.AddInstance() }),
	act("stall_sink", "", "inject.StallSink()", func(*decoder, arg) harness.Action { return inject.StallSink() }),
	act("release_sink", "", "inject.ReleaseSink()", func(*decoder, arg) harness.Action { return inject.ReleaseSink() }),
	// kafka.go
	act("grow_topic", "N (partitions)", "inject.GrowTopic(n)", func(d *decoder, a arg) harness.Action { return inject.GrowTopic(d.positive(a)) }),
	act("restart_broker", "", "inject.RestartBroker()", func(*decoder, arg) harness.Action { return inject.RestartBroker() }),
	act("stop_broker", uDuration, "inject.StopBroker(d)", func(d *decoder, a arg) harness.Action { return inject.StopBroker(d.duration(a.n, a.path)) }),
	act("crash_broker", uDuration, "inject.CrashBroker(d)", func(d *decoder, a arg) harness.Action { return inject.CrashBroker(d.duration(a.n, a.path)) }),
	act("fail_produce", "{code: KAFKA_ERROR_CODE, count: N}", "inject.FailProduce(code, n)", func(d *decoder, a arg) harness.Action {
		f := d.need(a, "code", "count")
		code := d.integer(f["code"], join(a.path, "code"))
		if code < -1 || code > 1<<15-1 {
			d.fail(f["code"], join(a.path, "code"), "not a Kafka error code: %d", code)
		}
		return inject.FailProduce(int16(code), d.positive(arg{f["count"], join(a.path, "count")}))
	}),
	act("timeout_after_append", "N", "inject.TimeoutAfterAppend(n)", func(d *decoder, a arg) harness.Action {
		return inject.TimeoutAfterAppend(d.positive(a))
	}),
	act("move_leaders", "", "inject.MoveLeaders()", func(*decoder, arg) harness.Action { return inject.MoveLeaders() }),
	act("broker_latency", "{latency: DURATION, for: DURATION}", "inject.BrokerLatency(l, d)", func(d *decoder, a arg) harness.Action {
		f := d.need(a, "latency", "for")
		return inject.BrokerLatency(d.duration(f["latency"], join(a.path, "latency")), d.duration(f["for"], join(a.path, "for")))
	}),
	// leases.go
	act("delete_lease", uShards, "inject.DeleteLease(desc, shards)", func(d *decoder, a arg) harness.Action {
		return inject.DeleteLease(d.shardSet(a.n, a.path))
	}),
	act("corrupt_lease", uShards, "inject.CorruptLease(desc, shards)", func(d *decoder, a arg) harness.Action {
		return inject.CorruptLease(d.shardSet(a.n, a.path))
	}),
	act("repair_lease", "", "inject.RepairLease()", func(*decoder, arg) harness.Action { return inject.RepairLease() }),
	// harness/steps.go
	act("note", "TEXT, or {kind: K, detail: TEXT}", "harness.Note(kind, detail)", func(d *decoder, a arg) harness.Action {
		if r := resolve(a.n); r != nil && r.Kind == yaml.MappingNode {
			f := d.need(a, "kind", "detail")
			return harness.Note(d.str(f["kind"], join(a.path, "kind")), d.str(f["detail"], join(a.path, "detail")))
		}
		return harness.Note("milestone", d.str(a.n, a.path)) // the catalogue's kind for a waypoint
	}),
}

func instanceAct(f func(harness.InstanceSelector) harness.Action) func(d *decoder, a arg) harness.Action {
	return func(d *decoder, a arg) harness.Action { return f(d.instance(a.n, a.path)) }
}

// Vocabulary lists every trigger and action a schedule may name.
func Vocabulary() []Word {
	var w []Word
	for _, t := range triggers {
		w = append(w, t.Word)
	}
	for _, a := range actions {
		w = append(w, a.Word)
	}
	return w
}
