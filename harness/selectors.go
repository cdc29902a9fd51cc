package harness

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/harness/bridge"
)

// ShardSelector picks a shard when an action runs.
type ShardSelector struct {
	Desc string
	Pick func(ctx context.Context, r *Run) (ktypes.Shard, error)
}

// HotShard picks the open shard that received the most acknowledged records.
func HotShard() ShardSelector {
	return ShardSelector{Desc: "the hot shard", Pick: func(ctx context.Context, r *Run) (ktypes.Shard, error) {
		open, err := r.OpenShards(ctx)
		if err != nil {
			return ktypes.Shard{}, err
		}
		counts := r.AckedPerShard()
		sort.SliceStable(open, func(i, j int) bool {
			return counts[aws.ToString(open[i].ShardId)] > counts[aws.ToString(open[j].ShardId)]
		})
		return open[0], nil
	}}
}

// OpenShard picks the i-th open shard in hash key order.
func OpenShard(i int) ShardSelector {
	return ShardSelector{Desc: fmt.Sprintf("open shard #%d", i), Pick: func(ctx context.Context, r *Run) (ktypes.Shard, error) {
		open, err := r.OpenShards(ctx)
		if err != nil {
			return ktypes.Shard{}, err
		}
		if i >= len(open) {
			return ktypes.Shard{}, fmt.Errorf("no open shard #%d (%d open)", i, len(open))
		}
		return open[i], nil
	}}
}

// ShardOfKey picks the open shard a partition key hashes to.
func ShardOfKey(key string) ShardSelector {
	return ShardSelector{Desc: "the shard of key " + key, Pick: func(ctx context.Context, r *Run) (ktypes.Shard, error) {
		open, err := r.OpenShards(ctx)
		if err != nil {
			return ktypes.Shard{}, err
		}
		sum := md5.Sum([]byte(key))
		h := new(big.Int).SetBytes(sum[:])
		for _, s := range open {
			lo, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
			hi, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
			if lo != nil && hi != nil && h.Cmp(lo) >= 0 && h.Cmp(hi) <= 0 {
				return s, nil
			}
		}
		return ktypes.Shard{}, fmt.Errorf("no open shard holds key %q", key)
	}}
}

// ShardByID picks a shard by id.
func ShardByID(id string) ShardSelector {
	return ShardSelector{Desc: id, Pick: func(ctx context.Context, r *Run) (ktypes.Shard, error) {
		all, err := r.Shards(ctx)
		if err != nil {
			return ktypes.Shard{}, err
		}
		for _, s := range all {
			if aws.ToString(s.ShardId) == id {
				return s, nil
			}
		}
		return ktypes.Shard{}, fmt.Errorf("no shard %s", id)
	}}
}

// InstanceSelector picks an instance when an action runs.
type InstanceSelector struct {
	Desc string
	Pick func(ctx context.Context, r *Run) (*bridge.Instance, error)
}

// InstanceAt picks the instance with index i.
func InstanceAt(i int) InstanceSelector {
	return InstanceSelector{Desc: fmt.Sprintf("r%d", i), Pick: func(_ context.Context, r *Run) (*bridge.Instance, error) {
		in := r.Instances.Instance(i)
		if in == nil {
			return nil, fmt.Errorf("no instance r%d", i)
		}
		return in, nil
	}}
}

// OwnerOf picks the running instance owning the lease of one of the shards
// named (the first owned one, by the lease table as last scanned).
func OwnerOf(desc string, shards func(r *Run) []string) InstanceSelector {
	return InstanceSelector{Desc: "the owner of " + desc, Pick: func(ctx context.Context, r *Run) (*bridge.Instance, error) {
		r.Leases.Poll(ctx)
		for _, id := range shards(r) {
			l, ok := r.Leases.Row(id)
			if !ok || l.Owner == "" {
				continue
			}
			for _, in := range r.Instances.Instances() {
				if in.Running() && in.WorkerID() == l.Owner {
					return in, nil
				}
			}
		}
		return nil, fmt.Errorf("no running instance owns %s %v", desc, shards(r))
	}}
}

// MostLoaded picks the running instance holding the most leases.
func MostLoaded() InstanceSelector {
	return InstanceSelector{Desc: "the busiest instance", Pick: func(ctx context.Context, r *Run) (*bridge.Instance, error) {
		r.Leases.Poll(ctx)
		held := map[string]int{}
		for _, l := range r.Leases.Rows() {
			if l.Owner != "" && !l.Finished() {
				held[l.Owner]++
			}
		}
		var best *bridge.Instance
		for _, in := range r.Instances.Running() {
			if best == nil || held[in.WorkerID()] > held[best.WorkerID()] {
				best = in
			}
		}
		if best == nil {
			return nil, errors.New("no running instance")
		}
		return best, nil
	}}
}
