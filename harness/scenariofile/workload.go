package scenariofile

import (
	"go.yaml.in/yaml/v3"

	"github.com/shardbridge/shardbridge/harness/workload"
)

var workloadFields = []string{
	"rate", "producers", "keys", "record_size", "aggregation", "sub_record_hash_keys",
	"malformed_every", "malformed_style", "oversized_every", "oversized_size",
	"batch_size", "max_pending", "backoff", "call_timeout", "drain_grace",
}

var keyKinds = []string{"uniform", "zipf", "single", "pinned"}

// workload reads the workload's options (harness/workload's With…); the
// harness sets seed, total and logger.
func (d *decoder) workload(n *yaml.Node, path string) []workload.Option {
	f, ok := d.fields(n, path, workloadFields...)
	if !ok {
		return nil
	}
	before := len(d.errs)
	var opts []workload.Option
	at := func(k string) string { return join(path, k) }
	if x := f["rate"]; x != nil {
		r := d.number(x, at("rate"))
		if r < 0 {
			d.fail(x, at("rate"), "want records/s ≥ 0 (0: as fast as Kinesis accepts), got %v", r)
		}
		opts = append(opts, workload.WithRate(r))
	}
	if x := f["producers"]; x != nil {
		opts = append(opts, workload.WithProducers(d.positive(arg{x, at("producers")})))
	}
	if x := f["keys"]; x != nil {
		opts = append(opts, workload.WithKeys(d.keys(x, at("keys"))))
	}
	if x := f["record_size"]; x != nil {
		// One size, or {min, max}.
		if r := resolve(x); r != nil && r.Kind == yaml.MappingNode {
			m := d.need(arg{x, at("record_size")}, "min", "max")
			opts = append(opts, workload.WithRecordSize(d.count(m["min"], at("record_size.min")), d.count(m["max"], at("record_size.max"))))
		} else {
			s := d.count(x, at("record_size"))
			opts = append(opts, workload.WithRecordSize(s, s))
		}
	}
	if x := f["aggregation"]; x != nil {
		opts = append(opts, workload.WithAggregation(d.count(x, at("aggregation"))))
	}
	if x := f["sub_record_hash_keys"]; x != nil {
		opts = append(opts, workload.WithSubRecordHashKeys(d.strs(x, at("sub_record_hash_keys"))...))
	}
	if x := f["malformed_every"]; x != nil {
		opts = append(opts, workload.WithMalformedEvery(d.count(x, at("malformed_every"))))
	}
	if x := f["malformed_style"]; x != nil {
		style := map[string]workload.MalformedStyle{"auto": workload.MalformedAuto, "json": workload.MalformedJSON, "aggregate": workload.MalformedAggregate}
		opts = append(opts, workload.WithMalformedStyle(style[d.oneOf(x, at("malformed_style"), "malformed style", "auto", "json", "aggregate")]))
	}
	if x := f["oversized_every"]; x != nil {
		opts = append(opts, workload.WithOversizedEvery(d.count(x, at("oversized_every"))))
	}
	if x := f["oversized_size"]; x != nil {
		opts = append(opts, workload.WithOversizedSize(d.count(x, at("oversized_size"))))
	}
	if x := f["batch_size"]; x != nil {
		opts = append(opts, workload.WithBatchSize(d.positive(arg{x, at("batch_size")})))
	}
	if x := f["max_pending"]; x != nil {
		opts = append(opts, workload.WithMaxPending(d.positive(arg{x, at("max_pending")})))
	}
	if x := f["backoff"]; x != nil {
		m := d.need(arg{x, at("backoff")}, "min", "max")
		opts = append(opts, workload.WithBackoff(d.optDuration(m["min"], at("backoff.min")), d.optDuration(m["max"], at("backoff.max"))))
	}
	if x := f["call_timeout"]; x != nil {
		opts = append(opts, workload.WithCallTimeout(d.duration(x, at("call_timeout"))))
	}
	if x := f["drain_grace"]; x != nil {
		opts = append(opts, workload.WithDrainGrace(d.duration(x, at("drain_grace"))))
	}
	// What the workload itself refuses (sizes over the record limit, hash
	// keys that are not 128-bit decimals), said now rather than at run time.
	if len(d.errs) == before {
		if err := workload.Validate(opts...); err != nil {
			d.fail(n, path, "%v", err)
		}
	}
	return opts
}

// keys reads a key distribution: {uniform: N}, {zipf: {keys: N, skew: S}},
// {single: KEY} or {pinned: {keys: N, hash_key: H}}.
func (d *decoder) keys(n *yaml.Node, path string) workload.Keys {
	name, a, ok := d.choice(n, path, "key distribution")
	if !ok {
		return workload.Keys{}
	}
	at := join(path, name)
	switch name {
	case "uniform":
		return workload.UniformKeys(d.positive(arg{a, at}))
	case "zipf":
		m := d.need(arg{a, at}, "keys", "skew")
		s := d.number(m["skew"], join(at, "skew"))
		if m["skew"] != absent && s <= 1 {
			d.fail(m["skew"], join(at, "skew"), "want a skew > 1, got %v", s)
		}
		return workload.ZipfKeys(d.positive(arg{m["keys"], join(at, "keys")}), s)
	case "single":
		return workload.SingleKey(d.str(a, at))
	case "pinned":
		m := d.need(arg{a, at}, "keys", "hash_key")
		return workload.PinnedKeys(d.positive(arg{m["keys"], join(at, "keys")}), d.str(m["hash_key"], join(at, "hash_key")))
	}
	d.fail(keyNode(n), path, "unknown key distribution %q (want %s)", name, listOf(keyKinds))
	return workload.Keys{}
}
