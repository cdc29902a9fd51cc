package inject

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/sabotage"
)

// LastChildren names the children of the latest split or merge.
func LastChildren(r *harness.Run) []string {
	rs, _ := r.LastReshard()
	return rs.Children
}

// LastParents names the parents of the latest split or merge.
func LastParents(r *harness.Run) []string {
	rs, _ := r.LastReshard()
	return rs.Parents
}

// DeleteLease deletes the lease row of the shard picked by shard.
func DeleteLease(desc string, shard func(r *harness.Run) []string) harness.Action {
	return harness.Action{Kind: "lease-delete", Desc: "delete the lease of " + desc, Needs: need(bridge.LeaseTable), Do: func(ctx context.Context, r *harness.Run) error {
		ids := shard(r)
		if len(ids) == 0 {
			return fmt.Errorf("no shard is %s", desc)
		}
		for _, id := range ids {
			if err := sabotage.DeleteLeaseRow(ctx, r.Env.DynamoDB(), r.Names.Application, id); err != nil {
				return err
			}
			r.Leases.Forget(id)
			r.Record("lease-delete", "deleted the lease row of "+id, id)
		}
		return nil
	}}
}

// CorruptLease damages the lease row of the shards picked (the rows as they
// were are kept for RepairLease).
func CorruptLease(desc string, shard func(r *harness.Run) []string) harness.Action {
	return harness.Action{Kind: "lease-corrupt", Desc: "corrupt the lease of " + desc, Needs: need(bridge.LeaseTable), Do: func(ctx context.Context, r *harness.Run) error {
		ids := shard(r)
		if len(ids) == 0 {
			return fmt.Errorf("no shard is %s", desc)
		}
		for _, id := range ids {
			row, err := sabotage.CorruptLeaseRow(ctx, r.Env.DynamoDB(), r.Names.Application, id)
			if err != nil {
				return err
			}
			r.KeepDamagedRow(id, row)
			r.Leases.Forget(id)
			r.Record("lease-corrupt", "corrupted the lease row of "+id, id)
		}
		return nil
	}}
}

// RepairLease writes back every lease row CorruptLease damaged, as they were
// before (with their counters moved on), as an operator undoing a bad edit.
func RepairLease() harness.Action {
	return harness.Action{Kind: "lease-repair", Desc: "repair the corrupted lease rows", Needs: need(bridge.LeaseTable), Do: func(ctx context.Context, r *harness.Run) error {
		rows := r.TakeDamagedRows()
		if len(rows) == 0 {
			return errors.New("no lease row was corrupted before")
		}
		for _, id := range slices.Sorted(maps.Keys(rows)) {
			if err := sabotage.RestoreLeaseRow(ctx, r.Env.DynamoDB(), r.Names.Application, rows[id]); err != nil {
				return err
			}
			r.Record("lease-repair", "restored the lease row of "+id, id)
		}
		return nil
	}}
}

// HeldBy names one unfinished shard whose lease instance i holds (by the
// lease table as last scanned; the smallest shard id), or none.
func HeldBy(i int) func(r *harness.Run) []string {
	return func(r *harness.Run) []string {
		in := r.Instances.Instance(i)
		if in == nil {
			return nil
		}
		var ids []string
		for _, l := range r.Leases.Rows() {
			if !l.Finished() && l.Owner == in.WorkerID() {
				ids = append(ids, l.Shard)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		return []string{slices.Min(ids)}
	}
}
