package scenariofile

import (
	"github.com/shardbridge/shardbridge/fakes/fault"
	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/inject"
)

// fault reads inject.Fault's rule; stream and table default to the run's.
func (d *decoder) fault(a arg) harness.Action {
	f, ok := d.fields(a.n, a.path, "name", "service", "operations", "shard", "table", "probability", "count", "action", "latency", "for")
	if !ok {
		return harness.Action{}
	}
	for _, k := range []string{"name", "action"} {
		if f[k] == nil {
			d.fail(a.n, join(a.path, k), "required")
		}
	}
	var r fault.Rule
	actions := make([]string, len(fault.Actions()))
	for i, x := range fault.Actions() {
		actions[i] = string(x)
	}
	if f["service"] != nil {
		r.Service = d.oneOf(f["service"], join(a.path, "service"), "service", fault.ServiceKinesis, fault.ServiceDynamoDB)
	}
	if f["operations"] != nil {
		r.Operations = d.strs(f["operations"], join(a.path, "operations"))
	}
	if f["shard"] != nil {
		r.Shard = d.str(f["shard"], join(a.path, "shard"))
	}
	if f["table"] != nil {
		r.Table = d.str(f["table"], join(a.path, "table"))
	}
	r.Probability = d.probability(f["probability"], join(a.path, "probability"))
	if f["count"] != nil {
		r.Count = d.positive(arg{f["count"], join(a.path, "count")})
	}
	if f["action"] != nil {
		r.Action = fault.Action(d.oneOf(f["action"], join(a.path, "action"), "fault action", actions...))
	}
	if f["latency"] != nil {
		r.Latency = d.duration(f["latency"], join(a.path, "latency"))
	}
	if r.Action == fault.Latency && r.Latency <= 0 {
		d.fail(a.n, join(a.path, "latency"), "required with action %s", fault.Latency)
	}
	dur := d.optDuration(f["for"], join(a.path, "for"))
	name := ""
	if f["name"] != nil {
		name = d.str(f["name"], join(a.path, "name"))
	}
	return inject.Fault(name, r, dur)
}
