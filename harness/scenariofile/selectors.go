package scenariofile

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/inject"
)

// Selectors, written like actions: a bare name, or `name: argument`.
var (
	shardSelectors    = []string{"hot_shard", "open_shard", "shard_of_key", "shard_by_id"}
	instanceSelectors = []string{"instance", "most_loaded", "owner_of", "(an instance index)"}
	shardSets         = []string{"last_children", "last_parents", "held_by"}
)

// shard reads a shard selector: hot_shard, {open_shard: N},
// {shard_of_key: KEY} or {shard_by_id: ID}.
func (d *decoder) shard(n *yaml.Node, path string) harness.ShardSelector {
	name, arg, ok := d.choice(n, path, "shard selector")
	if !ok {
		return harness.ShardSelector{}
	}
	at := join(path, name)
	switch name {
	case "hot_shard":
		d.noArg(arg, at)
		return harness.HotShard()
	case "open_shard":
		i := d.integer(arg, at)
		if i < 0 {
			d.fail(arg, at, "want an index ≥ 0, got %d", i)
		}
		return harness.OpenShard(i)
	case "shard_of_key":
		return harness.ShardOfKey(d.str(arg, at))
	case "shard_by_id":
		return harness.ShardByID(d.str(arg, at))
	}
	d.fail(keyNode(n), path, "unknown shard selector %q (want %s)", name, listOf(shardSelectors))
	return harness.ShardSelector{}
}

// instance reads an instance selector: N (or {instance: N}), most_loaded
// or {owner_of: SHARDS}.
func (d *decoder) instance(n *yaml.Node, path string) harness.InstanceSelector {
	if r := resolve(n); r != nil && r.Kind == yaml.ScalarNode && r.Tag == "!!int" {
		return harness.InstanceAt(d.index(r, path))
	}
	name, arg, ok := d.choice(n, path, "instance selector")
	if !ok {
		return harness.InstanceSelector{}
	}
	at := join(path, name)
	switch name {
	case "instance":
		return harness.InstanceAt(d.index(arg, at))
	case "most_loaded":
		d.noArg(arg, at)
		return harness.MostLoaded()
	case "owner_of":
		desc, pick := d.shardSet(arg, at)
		return harness.OwnerOf(desc, pick)
	}
	d.fail(keyNode(n), path, "unknown instance selector %q (want %s)", name, listOf(instanceSelectors))
	return harness.InstanceSelector{}
}

// index reads an instance index (r0 is 0).
func (d *decoder) index(n *yaml.Node, path string) int {
	i := d.integer(n, path)
	if i < 0 {
		d.fail(n, path, "want an instance index ≥ 0, got %d", i)
	}
	return i
}

// shardSet reads the shards a lease action or owner_of picks, with the
// description the Go form passes beside them: last_children,
// last_parents, {held_by: N}, or {shards: SET, desc: TEXT} to describe
// them in other words.
func (d *decoder) shardSet(n *yaml.Node, path string) (string, func(*harness.Run) []string) {
	if r := resolve(n); hasKey(r, "shards") || hasKey(r, "desc") {
		f, ok := d.fields(r, path, "shards", "desc")
		if !ok {
			return "", nil
		}
		if f["shards"] == nil {
			d.fail(r, join(path, "shards"), "required")
			return "", nil
		}
		_, pick := d.shardSet(f["shards"], join(path, "shards"))
		if f["desc"] == nil {
			d.fail(r, join(path, "desc"), "required with shards")
		}
		return d.str(f["desc"], join(path, "desc")), pick
	}
	name, arg, ok := d.choice(n, path, "shard set")
	if !ok {
		return "", nil
	}
	at := join(path, name)
	switch name {
	case "last_children":
		d.noArg(arg, at)
		return "the children", inject.LastChildren
	case "last_parents":
		d.noArg(arg, at)
		return "the parents", inject.LastParents
	case "held_by":
		i := d.index(arg, at)
		return fmt.Sprintf("a shard r%d holds", i), inject.HeldBy(i)
	}
	d.fail(keyNode(n), path, "unknown shard set %q (want %s, or shards: … with desc: …)", name, listOf(shardSets))
	return "", nil
}

func hasKey(n *yaml.Node, key string) bool {
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// noArg refuses an argument given to a name that takes none.
func (d *decoder) noArg(arg *yaml.Node, path string) {
	if !isNull(arg) {
		d.fail(arg, path, "takes no argument, got %s", describe(arg))
	}
}
